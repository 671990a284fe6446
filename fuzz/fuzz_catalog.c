/*
 * Fuzz target: catalog YAML through recsys_catalog_load(), which reads a
 * file: each input is written to one file in a private directory.
 */

#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "recsys_catalog.h"


static char  dir[] = "/tmp/recsys-fuzz-catalog-XXXXXX";
static char  file[sizeof(dir) + sizeof("/catalog.yaml")];


static void
cleanup(void)
{
    unlink(file);
    rmdir(dir);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char               err[RECSYS_CATALOG_ERRLEN];
    FILE              *f;
    recsys_catalog_t  *c;

    if (file[0] == '\0') {
        recsys_fuzz_check(mkdtemp(dir) != NULL);
        snprintf(file, sizeof(file), "%s/catalog.yaml", dir);
        atexit(cleanup);
    }

    f = fopen(file, "wb");
    recsys_fuzz_check(f != NULL);
    recsys_fuzz_check(fwrite(data, 1, size, f) == size);
    recsys_fuzz_check(fclose(f) == 0);

    err[0] = '\0';
    c = recsys_catalog_load(file, err, sizeof(err));

    recsys_fuzz_check(memchr(err, '\0', sizeof(err)) != NULL);

    if (c == NULL) {
        recsys_fuzz_check(err[0] != '\0');
        return 0;
    }

    recsys_fuzz_check(c->index.path != NULL && c->index.path[0] == '/');
    recsys_fuzz_check(c->index.dimension >= 1
                      && c->index.dimension <= 4096);
    recsys_fuzz_check(c->index.nprobe >= 1 && c->index.nprobe <= 65536);
    recsys_fuzz_check(c->source.type != RECSYS_SOURCE_FILE
                      || (c->source.path != NULL
                          && c->source.path[0] == '/'));
    recsys_fuzz_check(c->source.type != RECSYS_SOURCE_POSTGRESQL
                      || c->source.dsn != NULL);

    recsys_catalog_free(c);

    return 0;
}
