/*
 * index.faiss: the layout of the files the builder writes, checked before
 * FAISS reads one, and FAISS's error text.
 */

#ifndef _RECSYS_FAISS_H_INCLUDED_
#define _RECSYS_FAISS_H_INCLUDED_


#include "recsys_artifact.h"


/* the index types the builder writes: IVF<n> with Flat, SQ* or PQ* */
#define RECSYS_FAISS_IVF_FLAT      0x6c467749u     /* "IwFl" */
#define RECSYS_FAISS_IVF_SQ        0x71537749u     /* "IwSq" */
#define RECSYS_FAISS_IVF_PQ        0x51507749u     /* "IwPQ" */

/* FAISS's metric_type values */
#define RECSYS_FAISS_METRIC_IP     0
#define RECSYS_FAISS_METRIC_L2     1


/* what recsys_faiss_check() found in an index.faiss */
typedef struct {
    uint32_t            type;           /* RECSYS_FAISS_IVF_* */
    uint32_t            dimension;
    uint64_t            ntotal;
    uint64_t            nlist;
    uint64_t            code_size;      /* bytes per vector in a list */
    int                 metric;         /* RECSYS_FAISS_METRIC_* */
    int                 sparse;         /* sizes stored as (list, size) */
    uint64_t            sizes_offset;   /* the list sizes vector */
    uint64_t            nsizes;         /* its size_t count */
    uint64_t            data_offset;    /* codes and ids of the lists */
} recsys_faiss_layout_t;


/*
 * Checks the structure of an index.faiss held in base/size without
 * reading the lists' contents: an index type the builder writes, its
 * quantizer, codec and inverted-list headers consistent with each other,
 * list sizes that add up to ntotal and lists that end exactly at the end
 * of the file.  Reads O(nlist) bytes: what FAISS trusts when it maps the
 * lists (a list size it believes past the file is a crash in a search).
 */
int recsys_faiss_check(const void *base, size_t size,
    recsys_faiss_layout_t *l, char *err, size_t errlen);

/*
 * The deep part, O(ntotal): every id stored in the lists is a row
 * 0..ntotal-1 and appears once.
 */
int recsys_faiss_check_ids(const void *base, size_t size,
    const recsys_faiss_layout_t *l, char *err, size_t errlen);

/* the reason of FAISS's last error in this thread, without its prefix */
const char *recsys_faiss_error(void);


#endif /* _RECSYS_FAISS_H_INCLUDED_ */
