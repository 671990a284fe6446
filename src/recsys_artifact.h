/*
 * What every part of a generation shares: file names, metric numbers,
 * limits.  Pure C: no nginx header, so unit tests link the parts alone.
 */

#ifndef _RECSYS_ARTIFACT_H_INCLUDED_
#define _RECSYS_ARTIFACT_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "generation files are defined little-endian only"
#endif


#define RECSYS_ERRLEN              256
#define RECSYS_PATH_MAX            4096

/*
 * The longest index.path the catalog accepts: what the module appends
 * ("/generations/<G>/manifest.json", "/.tmp-<pid>-<G>/neighbors.bin",
 * "/.helper.lock") fits in the remaining 256 bytes, so no path built
 * under it is ever cut.
 */
#define RECSYS_INDEX_PATH_MAX      (RECSYS_PATH_MAX - 256)

#define RECSYS_METRIC_INNER_PRODUCT  0
#define RECSYS_METRIC_L2             1
#define RECSYS_METRIC_COSINE         2

/* FAISS's C++ IO_FLAG_MMAP; the C header's FAISS_IO_FLAG_MMAP (1) is wrong */
#define RECSYS_FAISS_IO_FLAG_MMAP  0x646f0008

#define RECSYS_NO_CATEGORY         0xffffffffu

/* the longest user id users.bin stores and a request may name */
#define RECSYS_USER_ID_MAX         4096

#define RECSYS_ITEMS_FILE          "items.bin"
#define RECSYS_VECTORS_FILE        "vectors.f32"
#define RECSYS_INDEX_FILE          "index.faiss"
#define RECSYS_MANIFEST_FILE       "manifest.json"
#define RECSYS_NEIGHBORS_FILE      "neighbors.bin"
#define RECSYS_ITEMSIM_FILE        "itemsim.bin"
#define RECSYS_USERS_FILE          "users.bin"
#define RECSYS_GENERATIONS_DIR     "generations"
#define RECSYS_CURRENT_LINK        "current"


#endif /* _RECSYS_ARTIFACT_H_INCLUDED_ */
