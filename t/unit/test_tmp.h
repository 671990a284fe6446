/*
 * Temporary directories, files and items for the generation unit tests
 * (test_items, test_manifest, test_generation, test_layout).  Included
 * after cmocka.h; each test uses some of these.
 */

#ifndef _TEST_TMP_H_INCLUDED_
#define _TEST_TMP_H_INCLUDED_


#include <sys/types.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recsys_files.h"
#include "recsys_items_writer.h"


#define TEST_UNUSED   __attribute__((unused))
#define TEST_PATHLEN  4200


typedef struct {
    char                dir[64];
    char                path[TEST_PATHLEN];
} test_tmp_t;


static TEST_UNUSED int
test_setup(void **state)
{
    test_tmp_t  *t;

    t = calloc(1, sizeof(test_tmp_t));
    if (t == NULL) {
        return -1;
    }

    strcpy(t->dir, "/tmp/recsys-unit-XXXXXX");

    if (mkdtemp(t->dir) == NULL) {
        free(t);
        return -1;
    }

    *state = t;

    return 0;
}


static TEST_UNUSED int
test_teardown(void **state)
{
    char         err[RECSYS_ERRLEN];
    test_tmp_t  *t;

    t = *state;

    if (recsys_remove_tree(t->dir, err, sizeof(err)) != 0) {
        fprintf(stderr, "teardown: %s\n", err);
        free(t);
        return -1;
    }

    free(t);

    return 0;
}


/* all test paths are TEST_PATHLEN-byte buffers */

static TEST_UNUSED __attribute__((format(printf, 2, 3))) void
test_fmt(char *out, const char *fmt, ...)
{
    int      n;
    va_list  args;

    va_start(args, fmt);
    n = vsnprintf(out, TEST_PATHLEN, fmt, args);
    va_end(args);

    assert_true(n >= 0 && n < TEST_PATHLEN);
}


static TEST_UNUSED void
test_path(test_tmp_t *t, const char *name, char *out)
{
    test_fmt(out, "%s/%s", t->dir, name);
}


static TEST_UNUSED void
test_write_bytes(const char *path, const void *data, size_t len)
{
    FILE  *f;

    f = fopen(path, "wb");
    assert_non_null(f);

    if (len) {
        assert_int_equal(fwrite(data, 1, len, f), len);
    }

    assert_int_equal(fclose(f), 0);
}


static TEST_UNUSED void *
test_read_bytes(const char *path, size_t *len)
{
    FILE         *f;
    char         *buf;
    struct stat   st;

    assert_int_equal(stat(path, &st), 0);

    buf = malloc(st.st_size + 1);
    assert_non_null(buf);

    f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(buf, 1, st.st_size, f), (size_t) st.st_size);
    fclose(f);

    *len = st.st_size;

    return buf;
}


static TEST_UNUSED void
test_add(recsys_items_writer_t *w, const char *id, const char *title,
    const char *category, const char *attrs, float pop)
{
    char           err[RECSYS_ERRLEN];
    recsys_item_t  it;

    memset(&it, 0, sizeof(it));
    it.id = id;
    it.id_len = strlen(id);
    it.title = title;
    it.title_len = title ? strlen(title) : 0;
    it.category = category;
    it.category_len = category ? strlen(category) : 0;
    it.attributes = attrs;
    it.attributes_len = attrs ? strlen(attrs) : 0;
    it.popularity = pop;

    err[0] = '\0';
    assert_int_equal(recsys_items_writer_add(w, &it, err, sizeof(err)), 0);
}


#endif /* _TEST_TMP_H_INCLUDED_ */
