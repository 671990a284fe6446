/*
 * recsys-build: builds and publishes the next generation of a catalog,
 * the same way the helper process does.
 *
 *   recsys-build [-t threads] [-q] [--full] <catalog.yaml>
 *   recsys-build --rollback <catalog.yaml>
 *
 * Exit status: 0 published, 1 failed (nothing published), 2 bad usage.
 */

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "recsys_builder.h"


static void recsys_build_usage(void);


int
main(int argc, char **argv)
{
    int                     ch, quiet, threads, rollback, rc;
    long                    n;
    size_t                  i;
    char                   *end;
    char                    err[RECSYS_CATALOG_ERRLEN];
    uint64_t                generation;
    recsys_catalog_t       *c;
    recsys_build_opts_t     opts;
    recsys_build_result_t   res;

    static const struct option  longopts[] = {
        { "full",     no_argument, NULL, 'f' },
        { "rollback", no_argument, NULL, 'r' },
        { NULL,       0,           NULL, 0 }
    };

    quiet = 0;
    threads = 0;
    rollback = 0;
    memset(&opts, 0, sizeof(recsys_build_opts_t));

    while ((ch = getopt_long(argc, argv, "t:qh", longopts, NULL)) != -1) {
        switch (ch) {

        case 'f':
            opts.force_full = 1;
            break;

        case 'r':
            rollback = 1;
            break;

        case 't':
            errno = 0;
            n = strtol(optarg, &end, 10);

            if (errno != 0 || end == optarg || *end != '\0' || n < 1
                || n > 1024)
            {
                fprintf(stderr, "recsys-build: -t wants a thread count "
                        "1..1024, not \"%s\"\n", optarg);
                return 2;
            }

            threads = (int) n;
            break;

        case 'q':
            quiet = 1;
            break;

        default:
            recsys_build_usage();
            return 2;
        }
    }

    if (optind != argc - 1) {
        recsys_build_usage();
        return 2;
    }

    c = recsys_catalog_load(argv[optind], err, sizeof(err));
    if (c == NULL) {
        fprintf(stderr, "recsys-build: %s\n", err);
        return 1;
    }

    if (rollback) {
        if (recsys_rollback(c, &generation, err, sizeof(err)) != 0) {
            fprintf(stderr, "recsys-build: rollback: %s\n", err);
            recsys_catalog_free(c);
            return 1;
        }

        if (!quiet) {
            printf("recsys-build: generation %llu is current\n",
                   (unsigned long long) generation);
        }

        recsys_catalog_free(c);
        return 0;
    }

    opts.threads = threads;

    rc = recsys_build_ex(c, &opts, &res);

    /* the builder writes nothing itself: its warnings are printed here */
    for (i = 0; i < res.nwarnings && i < RECSYS_BUILD_WARNINGS; i++) {
        fprintf(stderr, "recsys-build: warning: %s\n", res.warnings[i]);
    }

    if (res.nwarnings > RECSYS_BUILD_WARNINGS) {
        fprintf(stderr, "recsys-build: warning: %u more warnings\n",
                res.nwarnings - RECSYS_BUILD_WARNINGS);
    }

    for (i = 0; i < res.nunpruned && i < RECSYS_BUILD_UNPRUNED; i++) {
        fprintf(stderr, "recsys-build: warning: cannot remove old generation "
                "%llu: %s\n", (unsigned long long) res.unpruned[i].generation,
                res.unpruned[i].error);
    }

    if (res.nunpruned > RECSYS_BUILD_UNPRUNED) {
        fprintf(stderr, "recsys-build: warning: %zu more old generations "
                "cannot be removed\n", res.nunpruned - RECSYS_BUILD_UNPRUNED);
    }

    if (rc != 0) {
        fprintf(stderr, "recsys-build: %s\n", res.error);
        recsys_catalog_free(c);
        return 1;
    }

    if (!quiet) {
        printf("recsys-build: %s generation %llu (%s, %llu items, "
               "dimension %u, %s) in %.2f s, source %.2f s%s%s",
               res.published ? "published" : "no change, current is",
               (unsigned long long) res.generation,
               res.full ? "full" : "incremental",
               (unsigned long long) res.items, res.dimension, res.factory,
               res.seconds, res.source_seconds,
               res.watermark[0] ? ", watermark " : "", res.watermark);

        if (res.users > 0) {
            printf(", %llu users (%s%s%s)", (unsigned long long) res.users,
                   res.users_full ? "full" : "incremental",
                   res.users_watermark[0] ? ", watermark " : "",
                   res.users_watermark);
        }

        printf("\n");
    }

    recsys_catalog_free(c);

    return 0;
}


static void
recsys_build_usage(void)
{
    fprintf(stderr,
            "usage: recsys-build [-t threads] [-q] [--full] <catalog.yaml>\n"
            "       recsys-build [-q] --rollback <catalog.yaml>\n"
            "  -t threads  OpenMP threads (default: maintenance.threads,"
            " else all)\n"
            "  -q          print nothing on success\n"
            "  --full      a full build, even when an incremental one is"
            " possible\n"
            "  --rollback  make the previous kept generation current\n");
}
