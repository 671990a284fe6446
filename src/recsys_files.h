/*
 * File and directory helpers of the generation code: paths, whole-file
 * writes that reach the disk, read-only shared mappings, numbered
 * directory listings and tree removal.  All return 0 on success, -1 with
 * err set (where they take one).
 */

#ifndef _RECSYS_FILES_H_INCLUDED_
#define _RECSYS_FILES_H_INCLUDED_


#include "recsys_artifact.h"
#include "recsys_string.h"


/* "dir/name" into out; -1 when it does not fit */
int recsys_path_join(char *out, size_t outlen, const char *dir,
    const char *name);

/* the last component of path */
const char *recsys_path_base(const char *path);

/* writes data to a new file (mode 0644), fsyncs it; removes it on error */
int recsys_file_write(const char *path, const void *data, size_t len,
    char *err, size_t errlen);

/*
 * rename(2) of tmp onto path, then an fsync of path's directory, so that
 * the new name survives a crash; tmp is removed when the rename fails
 */
int recsys_file_rename(const char *tmp, const char *path, char *err,
    size_t errlen);

/* one line of recsys_file_lines(), with its newline; 0, or -1 to stop */
typedef int (*recsys_line_pt)(void *data, char *line, size_t len);

/*
 * Gives each line of the text file at path to fn in order; -1 with err
 * set when the file cannot be opened or read, -1 (err left to fn) when
 * fn stops.
 */
int recsys_file_lines(const char *path, recsys_line_pt fn, void *data,
    char *err, size_t errlen);

/* a file being written by recsys_out_file(), buffered */
typedef struct recsys_out_s  recsys_out_t;

/* what writes the file's bytes; 0, or -1 with err set */
typedef int (*recsys_out_emit_pt)(void *data, recsys_out_t *o, char *err,
    size_t errlen);

/*
 * Creates path (mode 0644), lets emit write it through o, then fsyncs
 * it; removes it on any error.  A write error inside emit is reported
 * here, after emit returns.
 */
int recsys_out_file(const char *path, recsys_out_emit_pt emit, void *data,
    char *err, size_t errlen);
void recsys_out_write(recsys_out_t *o, const void *data, size_t len);

/* zero bytes up to the absolute file offset */
void recsys_out_pad(recsys_out_t *o, uint64_t offset);

/*
 * Maps a regular file read-only and shared; an empty file gives base
 * NULL and size 0.  Errors name the file's last component.
 */
int recsys_file_map(const char *path, const void **base, size_t *size,
    char *err, size_t errlen);

/* fsync a file or directory by path */
int recsys_fsync_path(const char *path, char *err, size_t errlen);

/*
 * fsyncs every regular file in dir, then dir itself; a file_mode >= 0
 * is given to each file first (chmod)
 */
int recsys_fsync_dir(const char *dir, int file_mode, char *err,
    size_t errlen);

/* creates path and its missing parents (mode 0755) */
int recsys_mkdirs(const char *path, char *err, size_t errlen);

/*
 * The entries of dir named by a decimal number, largest first, in a
 * malloc()ed array the caller frees (NULL when there are none).  Returns
 * how many, -1 when dir cannot be read or memory runs out.
 */
int recsys_dir_numbers(const char *dir, uint64_t **out);

/*
 * Removes path and everything under it, going on past failures; a
 * read-only directory of ours is made writable first.  Returns
 * 0 when all is gone, else -1 with the first failure in err ("<path>:
 * <call> failed: <reason>").
 */
int recsys_remove_tree(const char *path, char *err, size_t errlen);


#endif /* _RECSYS_FILES_H_INCLUDED_ */
