/*
 * recsys-build: builds and publishes the next generation of a catalog,
 * the same way the helper process does.
 *
 *   recsys-build [-t threads] [-q] <catalog.yaml>
 *
 * Exit status: 0 published, 1 failed (nothing published), 2 bad usage.
 */

#include <errno.h>
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
    int                     ch, quiet, threads;
    long                    n;
    char                   *end;
    char                    err[RECSYS_CATALOG_ERRLEN];
    recsys_catalog_t       *c;
    recsys_build_result_t   res;

    quiet = 0;
    threads = 0;

    while ((ch = getopt(argc, argv, "t:qh")) != -1) {
        switch (ch) {

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

    if (recsys_build(c, threads, &res) != 0) {
        fprintf(stderr, "recsys-build: %s\n", res.error);
        recsys_catalog_free(c);
        return 1;
    }

    if (!quiet) {
        printf("recsys-build: published generation %llu (%llu items, "
               "dimension %u, %s) in %.2f s\n",
               (unsigned long long) res.generation,
               (unsigned long long) res.items, res.dimension, res.factory,
               res.seconds);
    }

    recsys_catalog_free(c);

    return 0;
}


static void
recsys_build_usage(void)
{
    fprintf(stderr,
            "usage: recsys-build [-t threads] [-q] <catalog.yaml>\n"
            "  -t threads  OpenMP threads for training (default: all)\n"
            "  -q          print nothing on success\n");
}
