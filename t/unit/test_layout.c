/*
 * Unit tests for recsys_layout.c and recsys_files.c: publishing, the
 * "current" link, pruning, leftovers, directory listings and removal.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "recsys_files.h"
#include "recsys_layout.h"
#include "test_tmp.h"


static void test_mkdir_file(const char *dir, const char *file);


static void
test_mkdir_file(const char *dir, const char *file)
{
    char  path[4200];

    assert_int_equal(mkdir(dir, 0755), 0);
    test_fmt(path, "%s/%s", dir, file);
    test_write_bytes(path, "data", 4);
}

static void
test_layout(void **state)
{
    char          idx[4200], tmp[4200], cur[4200], path[4200];
    char          err[RECSYS_ERRLEN];
    ssize_t       n;
    uint64_t      g;
    struct stat   st;
    test_tmp_t   *t;

    t = *state;
    test_path(t, "index", idx);

    assert_int_equal(recsys_current_dir(idx, cur, sizeof(cur), err,
                                        sizeof(err)), -1);
    assert_non_null(strstr(err, "no current generation"));
    assert_int_equal(recsys_last_generation(idx), 0);

    /* publish creates the index directory and generations/ */
    test_path(t, "stage1", tmp);
    test_mkdir_file(tmp, "manifest.json");
    assert_int_equal(recsys_publish(idx, tmp, 1, err, sizeof(err)), 0);
    assert_int_equal(stat(tmp, &st), -1);

    assert_int_equal(recsys_current_dir(idx, cur, sizeof(cur), err,
                                        sizeof(err)), 0);
    test_fmt(path, "%s/generations/1", idx);
    assert_string_equal(cur, path);

    test_fmt(path, "%s/current", idx);
    n = readlink(path, tmp, sizeof(tmp) - 1);
    assert_true(n > 0);
    tmp[n] = '\0';
    assert_string_equal(tmp, "generations/1");

    test_fmt(path, "%s/generations/1/manifest.json", idx);
    assert_int_equal(stat(path, &st), 0);

    /* published read-only: files 0444, the directory 0555 */
    assert_int_equal(st.st_mode & 07777, 0444);
    test_fmt(cur, "%s/generations/1", idx);
    assert_int_equal(stat(cur, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0555);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(recsys_fsync_path(path, err, sizeof(err)), 0);
    assert_int_equal(recsys_last_generation(idx), 1);

    for (g = 2; g <= 4; g++) {
        test_fmt(tmp, "%s/.tmp-%ld-%llu", idx, (long) getpid(),
                 (unsigned long long) g);
        test_mkdir_file(tmp, "items.bin");
        assert_int_equal(recsys_publish(idx, tmp, g, err, sizeof(err)),
                         0);
        assert_int_equal(recsys_prune(idx, g, 2, NULL, 0), 0);
    }

    /* keep 2: 3 and 4 stay */
    assert_int_equal(recsys_last_generation(idx), 4);
    test_fmt(path, "%s/generations/1", idx);
    assert_int_equal(stat(path, &st), -1);
    test_fmt(path, "%s/generations/2", idx);
    assert_int_equal(stat(path, &st), -1);
    test_fmt(path, "%s/generations/3/items.bin", idx);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(recsys_current_dir(idx, cur, sizeof(cur), err,
                                        sizeof(err)), 0);
    test_fmt(path, "%s/generations/4", idx);
    assert_string_equal(cur, path);

    /* an existing generation is never replaced */
    test_fmt(tmp, "%s/.tmp-%ld-4", idx, (long) getpid());
    test_mkdir_file(tmp, "items.bin");
    assert_int_equal(recsys_publish(idx, tmp, 4, err, sizeof(err)), -1);
    assert_string_equal(err, "generation 4 already exists");
    assert_int_equal(stat(tmp, &st), 0);

    /* non-numeric names are not generations and are not pruned */
    test_fmt(path, "%s/generations/12abc", idx);
    assert_int_equal(mkdir(path, 0755), 0);
    test_fmt(path, "%s/generations/99999999999999999999999",
             idx);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(recsys_last_generation(idx), 4);

    /* keep 0 means 1, but the rollback target (4) is never pruned */
    test_fmt(tmp, "%s/stage5", t->dir);
    test_mkdir_file(tmp, "x");
    assert_int_equal(recsys_publish(idx, tmp, 5, err, sizeof(err)), 0);
    assert_int_equal(recsys_prune(idx, 5, 0, NULL, 0), 0);
    test_fmt(path, "%s/generations/4", idx);
    assert_int_equal(stat(path, &st), 0);
    test_fmt(path, "%s/generations/3", idx);
    assert_int_equal(stat(path, &st), -1);
    test_fmt(path, "%s/generations/12abc", idx);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(recsys_last_generation(idx), 5);

    /* leftovers: dead builders' dirs and links go, a live one stays */
    test_fmt(path, "%s/.tmp-999999999-7", idx);
    test_mkdir_file(path, "index.faiss");
    test_fmt(path, "%s/.tmp-junk", idx);
    assert_int_equal(mkdir(path, 0755), 0);
    test_fmt(path, "%s/.tmp-%ld-8", idx, (long) getppid());
    assert_int_equal(mkdir(path, 0755), 0);
    test_fmt(path, "%s/.current.tmp.999999999", idx);
    assert_int_equal(symlink("generations/1", path), 0);
    test_fmt(path, "%s/.tmp-file", idx);
    test_write_bytes(path, "x", 1);

    recsys_cleanup_temp(idx);

    test_fmt(path, "%s/.tmp-999999999-7", idx);
    assert_int_equal(lstat(path, &st), -1);
    test_fmt(path, "%s/.tmp-junk", idx);
    assert_int_equal(lstat(path, &st), -1);
    test_fmt(path, "%s/.tmp-%ld-4", idx, (long) getpid());
    assert_int_equal(lstat(path, &st), -1);
    test_fmt(path, "%s/.current.tmp.999999999", idx);
    assert_int_equal(lstat(path, &st), -1);
    test_fmt(path, "%s/.tmp-%ld-8", idx, (long) getppid());
    assert_int_equal(lstat(path, &st), 0);
    test_fmt(path, "%s/.tmp-file", idx);
    assert_int_equal(lstat(path, &st), 0);
    test_fmt(path, "%s/current", idx);
    assert_int_equal(lstat(path, &st), 0);

    /* what a worker accepts "current" to name */
    assert_int_equal(recsys_current_target("generations/12", 14, &g), 0);
    assert_int_equal(g, 12);
    assert_int_equal(recsys_current_target("generations/12x", 14, &g), 0);
    assert_int_equal(recsys_current_target("generations/12x", 15, &g), -1);
    assert_int_equal(recsys_current_target("generations/", 12, &g), -1);
    assert_int_equal(recsys_current_target("generations/../1", 16, &g),
                     -1);
    assert_int_equal(recsys_current_target("/tmp/generations/1", 18, &g),
                     -1);
    assert_int_equal(recsys_current_target("./generations/1", 15, &g), -1);
    assert_int_equal(recsys_current_target("generations/1/", 14, &g), -1);
    assert_int_equal(recsys_current_target("other/1", 7, &g), -1);

    /* a link that does not name a generation is refused */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(symlink("/etc", path), 0);
    assert_int_equal(recsys_current_dir(idx, cur, sizeof(cur), err,
                                        sizeof(err)), -1);
    assert_non_null(strstr(err, "not to"));

    assert_int_equal(recsys_fsync_path("/nonexistent", err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "open failed"));

    test_fmt(tmp, "%s/missing", t->dir);
    assert_int_equal(recsys_publish(idx, tmp, 9, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "opendir failed"));
}


/*
 * Directories nested below dir past RECSYS_PATH_MAX: made and removed
 * through chdir(2), since no full path of them fits.  The one thing even
 * root cannot remove by path, without chattr or a mount.
 */

static void
test_deep(const char *dir, int make)
{
    int   cwd, i;
    char  name[201];

    memset(name, 'd', 200);
    name[200] = '\0';

    cwd = open(".", O_RDONLY | O_DIRECTORY);
    assert_true(cwd >= 0);
    assert_int_equal(chdir(dir), 0);

    for (i = 0; i < 24; i++) {
        if (make) {
            assert_int_equal(mkdir(name, 0755), 0);
        }

        assert_int_equal(chdir(name), 0);
    }

    for (i = 0; i < 24; i++) {
        assert_int_equal(chdir(".."), 0);

        if (!make) {
            assert_int_equal(rmdir(name) == 0 || errno == ENOENT, 1);
        }
    }

    assert_int_equal(fchdir(cwd), 0);
    close(cwd);
}


/* what pruning cannot remove is reported, the rest goes (issue 9 #17) */

static void
test_prune_failure(void **state)
{
    char                     idx[TEST_PATHLEN], tmp[TEST_PATHLEN];
    char                     path[TEST_PATHLEN], err[RECSYS_ERRLEN];
    uint64_t                 g;
    struct stat              st;
    test_tmp_t              *t;
    recsys_prune_failure_t   failed[1];

    t = *state;
    test_path(t, "index", idx);

    for (g = 1; g <= 4; g++) {
        test_fmt(tmp, "%s/stage%llu", t->dir, (unsigned long long) g);
        test_mkdir_file(tmp, "items.bin");
        assert_int_equal(recsys_publish(idx, tmp, g, err, sizeof(err)), 0);
    }

    /* 1 cannot be removed, 2 can, 3 is the rollback target, 4 current */
    test_fmt(path, "%s/generations/1", idx);
    test_deep(path, 1);

    memset(failed, 0, sizeof(failed));
    assert_int_equal(recsys_prune(idx, 4, 1, failed, 1), 1);
    assert_true(failed[0].generation == 1);
    assert_non_null(strstr(failed[0].error, "path too long"));

    test_fmt(path, "%s/generations/1", idx);
    assert_int_equal(stat(path, &st), 0);
    test_fmt(path, "%s/generations/2", idx);
    assert_int_equal(stat(path, &st), -1);
    test_fmt(path, "%s/generations/3/items.bin", idx);
    assert_int_equal(stat(path, &st), 0);

    /* counted past max, stored up to it */
    assert_int_equal(recsys_prune(idx, 4, 1, NULL, 0), 1);

    test_fmt(path, "%s/generations/1", idx);
    test_deep(path, 0);
    assert_int_equal(recsys_prune(idx, 4, 1, failed, 1), 0);
    assert_int_equal(stat(path, &st), -1);
}


/* the helpers the layout is built on */

static void
test_files(void **state)
{
    int          n;
    char        *data;
    size_t       len;
    char         path[TEST_PATHLEN], sub[TEST_PATHLEN];
    char         err[RECSYS_ERRLEN];
    uint64_t    *list, v;
    test_tmp_t  *t;

    t = *state;

    assert_int_equal(recsys_parse_uint("0", 1, &v), 0);
    assert_true(v == 0);
    assert_int_equal(recsys_parse_uint("18446744073709551615", 20, &v), 0);
    assert_true(v == UINT64_MAX);
    assert_int_equal(recsys_parse_uint("18446744073709551616", 20, &v), -1);
    assert_int_equal(recsys_parse_uint("", 0, &v), -1);
    assert_int_equal(recsys_parse_uint("-1", 2, &v), -1);
    assert_int_equal(recsys_parse_uint("1a", 2, &v), -1);

    assert_string_equal(recsys_path_base("/a/b/items.bin"), "items.bin");
    assert_string_equal(recsys_path_base("items.bin"), "items.bin");
    assert_int_equal(recsys_path_join(path, 8, "abc", "defg"), -1);
    assert_int_equal(recsys_path_join(path, 9, "abc", "defg"), 0);
    assert_string_equal(path, "abc/defg");

    /* a rename replaces the target; a missing source is an error */
    test_fmt(path, "%s/state.tmp", t->dir);
    test_fmt(sub, "%s/state", t->dir);
    assert_int_equal(recsys_file_write(path, "old", 3, err, sizeof(err)), 0);
    assert_int_equal(recsys_file_rename(path, sub, err, sizeof(err)), 0);
    assert_int_equal(recsys_file_write(path, "new", 3, err, sizeof(err)), 0);
    assert_int_equal(recsys_file_rename(path, sub, err, sizeof(err)), 0);
    assert_int_equal(access(path, F_OK), -1);
    data = test_read_bytes(sub, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(data, "new", 3);
    free(data);
    assert_int_equal(recsys_file_rename(path, sub, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "failed"));

    /* parents are created; an existing directory is fine, a file is not */
    test_fmt(path, "%s/a/b/c", t->dir);
    assert_int_equal(recsys_mkdirs(path, err, sizeof(err)), 0);
    assert_int_equal(recsys_mkdirs(path, err, sizeof(err)), 0);
    test_fmt(sub, "%s/file", path);
    test_write_bytes(sub, "x", 1);
    assert_int_equal(recsys_mkdirs(sub, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "mkdir failed"));

    /* numbered entries only, largest first */
    test_fmt(sub, "%s/7", path);
    test_mkdir_file(sub, "x");
    test_fmt(sub, "%s/12", path);
    assert_int_equal(mkdir(sub, 0755), 0);
    test_fmt(sub, "%s/3x", path);
    assert_int_equal(mkdir(sub, 0755), 0);
    n = recsys_dir_numbers(path, &list);
    assert_int_equal(n, 2);
    assert_true(list[0] == 12 && list[1] == 7);
    free(list);

    test_fmt(sub, "%s/missing", t->dir);
    assert_int_equal(recsys_dir_numbers(sub, &list), -1);
    assert_null(list);

    /* a read-only tree of ours goes, and so does a plain file */
    test_fmt(sub, "%s/12", path);
    assert_int_equal(chmod(sub, 0555), 0);
    test_fmt(sub, "%s/a", t->dir);
    assert_int_equal(recsys_remove_tree(sub, err, sizeof(err)), 0);
    assert_int_equal(access(sub, F_OK), -1);

    test_fmt(sub, "%s/plain", t->dir);
    test_write_bytes(sub, "x", 1);
    assert_int_equal(recsys_remove_tree(sub, err, sizeof(err)), 0);
    assert_int_equal(recsys_remove_tree(sub, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "lstat failed"));
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test_setup_teardown(test_files, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_layout, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(test_prune_failure, test_setup,
                                        test_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
