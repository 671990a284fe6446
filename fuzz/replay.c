/*
 * Replays a corpus through a fuzz target without libFuzzer: every file
 * named, or found in a directory named, is fed once to
 * LLVMFuzzerTestOneInput.  Built with the normal compiler so that
 * "make test" runs the committed corpora without clang.
 */

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"


static int replay_file(const char *path);
static int replay_dir(const char *path, size_t *n);
static void replay_crashed(int signo);


/* the input being replayed, named if it crashes */
static const char  *current;


int
main(int argc, char **argv)
{
    int          i;
    size_t       n;
    struct stat  st;

    n = 0;

    signal(SIGSEGV, replay_crashed);
    signal(SIGBUS, replay_crashed);
    signal(SIGFPE, replay_crashed);
    signal(SIGABRT, replay_crashed);

    for (i = 1; i < argc; i++) {
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: not found\n", argv[i]);
            return 1;
        }

        if (S_ISDIR(st.st_mode)) {
            if (replay_dir(argv[i], &n) != 0) {
                return 1;
            }

        } else {
            if (replay_file(argv[i]) != 0) {
                return 1;
            }

            n++;
        }
    }

    printf("replay: %s: %zu inputs\n", argv[0], n);

    return n == 0;
}


static int
replay_dir(const char *path, size_t *n)
{
    int              i, count, rc;
    char             file[4096];
    struct dirent  **names;

    /* sorted, so that a failure names the same input on every run */
    count = scandir(path, &names, NULL, alphasort);

    if (count < 0) {
        fprintf(stderr, "replay: %s: cannot read the directory\n", path);
        return 1;
    }

    rc = 0;

    for (i = 0; i < count; i++) {
        if (rc == 0 && names[i]->d_name[0] != '.') {
            snprintf(file, sizeof(file), "%s/%s", path, names[i]->d_name);
            rc = replay_file(file);
            *n += (rc == 0);
        }

        free(names[i]);
    }

    free(names);

    return rc;
}


static int
replay_file(const char *path)
{
    long     len;
    FILE    *f;
    uint8_t *data;

    f = fopen(path, "rb");

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0) {
        fprintf(stderr, "replay: %s: cannot read\n", path);

        if (f != NULL) {
            fclose(f);
        }

        return 1;
    }

    rewind(f);

    /* an exact-size buffer: a read past the input is a sanitizer error */
    data = malloc(len ? (size_t) len : 1);

    if (data == NULL || fread(data, 1, len, f) != (size_t) len) {
        fprintf(stderr, "replay: %s: cannot read\n", path);
        free(data);
        fclose(f);
        return 1;
    }

    fclose(f);

    current = path;
    LLVMFuzzerTestOneInput(data, len);
    current = NULL;
    free(data);

    return 0;
}


static void
replay_crashed(int signo)
{
    ssize_t            n;
    static const char  msg[] = "replay: crashed on ";

    if (current != NULL) {
        n = write(STDERR_FILENO, msg, sizeof(msg) - 1);
        n = write(STDERR_FILENO, current, strlen(current));
        n = write(STDERR_FILENO, "\n", 1);
        (void) n;
    }

    signal(signo, SIG_DFL);
    raise(signo);
}
