/*
 * Opening a generation as a worker does, in O(lists + categories): the
 * manifest, then each file it lists checked for its size and mapped, the
 * structure of index.faiss checked and the index read with its inverted
 * lists mapped.  Verifying one as the builder does before it publishes,
 * in O(bytes): checksums, every record, id and row.  Pre-faulting an
 * opened one before a worker switches to it.  And neighbors.bin, written
 * by the builder.
 */

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <faiss/c_api/Index_c.h>
#include <faiss/c_api/IndexIVF_c.h>
#include <faiss/c_api/index_io_c.h>

#include "recsys_faiss.h"
#include "recsys_files.h"
#include "recsys_generation.h"
#include "recsys_layout.h"


static int recsys_generation_file(recsys_generation_t *g,
    const recsys_file_sum_t *fs, char *err, size_t errlen);
static int recsys_generation_neighbors(recsys_generation_t *g, char *err,
    size_t errlen);
static int recsys_generation_users(recsys_generation_t *g, char *err,
    size_t errlen);
static int recsys_generation_index(recsys_generation_t *g, uint32_t nprobe,
    char *err, size_t errlen);
static int recsys_generation_faiss(recsys_generation_t *g, char *err,
    size_t errlen);
static int recsys_generation_sum(const recsys_generation_t *g,
    const recsys_file_sum_t *fs, char *err, size_t errlen);
static int recsys_generation_neighbor_rows(const recsys_generation_t *g,
    char *err, size_t errlen);
static uint64_t recsys_generation_list_sum(FaissIndexIVF *ivf);
static uint64_t recsys_generation_file_pages(const char *path, int drop);
static uint64_t recsys_generation_pages(const void *base, size_t size,
    int drop);


/*
 * A file of the manifest: a regular file of the size the manifest says.
 * vectors.f32 and neighbors.bin stay mapped.
 */

static int
recsys_generation_file(recsys_generation_t *g, const recsys_file_sum_t *fs,
    char *err, size_t errlen)
{
    char          path[RECSYS_PATH_MAX];
    size_t        size;
    struct stat   st;
    const void   *base;

    if (recsys_path_join(path, sizeof(path), g->dir, fs->name) != 0) {
        snprintf(err, errlen, "%s: path too long", fs->name);
        return -1;
    }

    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: stat failed: %s", fs->name,
                 strerror(errno));
        return -1;
    }

    if (!S_ISREG(st.st_mode) || (uint64_t) st.st_size != fs->size) {
        snprintf(err, errlen, "%s: size %llu does not match manifest %llu",
                 fs->name, (unsigned long long) st.st_size,
                 (unsigned long long) fs->size);
        return -1;
    }

    if (strcmp(fs->name, RECSYS_VECTORS_FILE) != 0
        && strcmp(fs->name, RECSYS_NEIGHBORS_FILE) != 0
        && strcmp(fs->name, RECSYS_ITEMSIM_FILE) != 0)
    {
        return 0;
    }

    if (recsys_file_map(path, &base, &size, err, errlen) != 0) {
        return -1;
    }

    if (size != fs->size) {
        snprintf(err, errlen, "%s: size %llu does not match manifest %llu",
                 fs->name, (unsigned long long) size,
                 (unsigned long long) fs->size);

        if (base != NULL) {
            munmap((void *) base, size);
        }

        return -1;
    }

    if (strcmp(fs->name, RECSYS_VECTORS_FILE) == 0) {
        g->vectors = base;
        g->vectors_size = size;

    } else if (strcmp(fs->name, RECSYS_ITEMSIM_FILE) == 0) {
        g->itemsim_base = base;
        g->itemsim_size = size;

    } else {
        g->neighbors.base = base;
        g->neighbors.size = size;
    }

    return 0;
}


/*
 * index.faiss: its structure checked (recsys_faiss_check(), O(lists))
 * and matched with the manifest before FAISS reads it, so that FAISS
 * never maps lists that do not fit the file, then read with the lists
 * mapped and FAISS's view compared with ours.
 */

static int
recsys_generation_index(recsys_generation_t *g, uint32_t nprobe, char *err,
    size_t errlen)
{
    int                     metric;
    char                    path[RECSYS_PATH_MAX];
    FaissIndex             *idx;
    FaissIndexIVF          *ivf;
    recsys_manifest_t      *m;
    recsys_faiss_layout_t  *l;

    m = &g->manifest;
    l = &g->layout;

    if (recsys_path_join(path, sizeof(path), g->dir, RECSYS_INDEX_FILE) != 0) {
        snprintf(err, errlen, "%s: path too long", RECSYS_INDEX_FILE);
        return -1;
    }

    if (recsys_generation_faiss(g, err, errlen) != 0) {
        return -1;
    }

    /* cosine is an inner product over normalized vectors */
    metric = (m->metric == RECSYS_METRIC_L2)
             ? RECSYS_FAISS_METRIC_L2 : RECSYS_FAISS_METRIC_IP;

    if (l->ntotal != m->items || l->dimension != m->dimension
        || l->metric != metric || (m->nlist != 0 && l->nlist != m->nlist))
    {
        snprintf(err, errlen, "%s: %llu vectors of dimension %u in %llu "
                 "lists, FAISS metric type %d, do not match the manifest "
                 "(%llu items, dimension %u, %u lists, metric %s)",
                 RECSYS_INDEX_FILE, (unsigned long long) l->ntotal,
                 l->dimension, (unsigned long long) l->nlist, l->metric,
                 (unsigned long long) m->items, m->dimension, m->nlist,
                 recsys_metric_name(m->metric));
        return -1;
    }

    idx = NULL;

    if (faiss_read_index_fname(path, RECSYS_FAISS_IO_FLAG_MMAP, &idx) != 0
        || idx == NULL)
    {
        snprintf(err, errlen, "%s: %s", RECSYS_INDEX_FILE,
                 recsys_faiss_error());
        return -1;
    }

    g->index = idx;
    ivf = faiss_IndexIVF_cast(idx);

    if (ivf == NULL || (uint64_t) faiss_Index_ntotal(idx) != l->ntotal
        || faiss_Index_d(idx) != (int) l->dimension
        || (int) faiss_Index_metric_type(idx) != l->metric
        || faiss_IndexIVF_nlist(ivf) != l->nlist
        || recsys_generation_list_sum(ivf) != l->ntotal)
    {
        snprintf(err, errlen, "%s: FAISS read another index than the file "
                 "holds", RECSYS_INDEX_FILE);
        return -1;
    }

    if (nprobe > 0) {
        faiss_IndexIVF_set_nprobe(ivf, nprobe);
    }

    return 0;
}


/* index.faiss mapped for recsys_faiss_check(): reads its header pages */

static int
recsys_generation_faiss(recsys_generation_t *g, char *err, size_t errlen)
{
    int          rc;
    char         path[RECSYS_PATH_MAX];
    size_t       size;
    const void  *base;

    if (recsys_path_join(path, sizeof(path), g->dir, RECSYS_INDEX_FILE) != 0) {
        snprintf(err, errlen, "%s: path too long", RECSYS_INDEX_FILE);
        return -1;
    }

    if (recsys_file_map(path, &base, &size, err, errlen) != 0) {
        return -1;
    }

    rc = recsys_faiss_check(base, size, &g->layout, err, errlen);

    if (base != NULL) {
        munmap((void *) base, size);
    }

    return rc;
}


/* the list sizes as FAISS read them: O(lists), no list data touched */

static uint64_t
recsys_generation_list_sum(FaissIndexIVF *ivf)
{
    size_t    i, nlist;
    uint64_t  sum;

    nlist = faiss_IndexIVF_nlist(ivf);
    sum = 0;

    for (i = 0; i < nlist; i++) {
        sum += faiss_IndexIVF_get_list_size(ivf, i);
    }

    return sum;
}


/* one file read whole and its checksum compared with the manifest's */

static int
recsys_generation_sum(const recsys_generation_t *g,
    const recsys_file_sum_t *fs, char *err, size_t errlen)
{
    int          rc;
    char         path[RECSYS_PATH_MAX];
    size_t       size;
    uint64_t     sum;
    const void  *base;

    if (recsys_path_join(path, sizeof(path), g->dir, fs->name) != 0) {
        snprintf(err, errlen, "%s: path too long", fs->name);
        return -1;
    }

    if (recsys_file_map(path, &base, &size, err, errlen) != 0) {
        return -1;
    }

    rc = -1;

    if (size != fs->size) {
        snprintf(err, errlen, "%s: size %llu does not match manifest %llu",
                 fs->name, (unsigned long long) size,
                 (unsigned long long) fs->size);
        goto done;
    }

    sum = recsys_checksum(base, size);

    if (sum != fs->checksum) {
        snprintf(err, errlen, "%s: checksum %016llx does not match "
                 "manifest %016llx", fs->name, (unsigned long long) sum,
                 (unsigned long long) fs->checksum);
        goto done;
    }

    if (strcmp(fs->name, RECSYS_INDEX_FILE) == 0
        && recsys_faiss_check_ids(base, size, &g->layout, err, errlen) != 0)
    {
        goto done;
    }

    rc = 0;

done:

    if (base != NULL) {
        munmap((void *) base, size);
    }

    return rc;
}


/* every row of neighbors.bin is an item or a list end */

static int
recsys_generation_neighbor_rows(const recsys_generation_t *g, char *err,
    size_t errlen)
{
    int32_t                    r;
    uint64_t                   i, n;
    const recsys_neighbors_t  *nb;

    nb = &g->neighbors;
    n = nb->count * nb->m;

    for (i = 0; i < n; i++) {
        r = nb->rows[i];

        if (r != RECSYS_NEIGHBORS_END && r != RECSYS_NEIGHBORS_CUT
            && (r < 0 || (uint64_t) r >= g->items.count))
        {
            snprintf(err, errlen, "%s: row %llu, entry %llu: %d is no item",
                     RECSYS_NEIGHBORS_FILE, (unsigned long long) (i / nb->m),
                     (unsigned long long) (i % nb->m), r);
            return -1;
        }
    }

    return 0;
}


int
recsys_generation_verify(const recsys_generation_t *g, char *err,
    size_t errlen)
{
    uint32_t  i;

    for (i = 0; i < g->manifest.nfiles; i++) {
        if (recsys_generation_sum(g, &g->manifest.files[i], err, errlen)
            != 0)
        {
            return -1;
        }
    }

    if (recsys_items_verify(&g->items, err, errlen) != 0) {
        return -1;
    }

    if (g->neighbors.rows != NULL
        && recsys_generation_neighbor_rows(g, err, errlen) != 0)
    {
        return -1;
    }

    if (g->itemsim.nitems != 0
        && recsys_itemsim_check(&g->itemsim, err, errlen) != 0)
    {
        return -1;
    }

    return recsys_users_verify(&g->users, err, errlen);
}


int
recsys_generation_open_verified(recsys_generation_t *g, const char *dir,
    uint32_t expect_dim, int expect_metric, uint32_t nprobe, char *err,
    size_t errlen)
{
    if (recsys_generation_open(g, dir, expect_dim, expect_metric, nprobe,
                               err, errlen)
        != 0)
    {
        return -1;
    }

    if (recsys_generation_verify(g, err, errlen) != 0) {
        recsys_generation_close(g);
        return -1;
    }

    return 0;
}

int
recsys_generation_open(recsys_generation_t *g, const char *dir,
    uint32_t expect_dim, int expect_metric, uint32_t nprobe, char *err,
    size_t errlen)
{
    char                path[RECSYS_PATH_MAX];
    uint64_t            number;
    const char         *base;
    recsys_manifest_t  *m;

    memset(g, 0, sizeof(recsys_generation_t));
    m = &g->manifest;

    if (strlen(dir) >= sizeof(g->dir)) {
        snprintf(err, errlen, "generation directory path too long");
        return -1;
    }

    strcpy(g->dir, dir);

    if (recsys_path_join(path, sizeof(path), dir, RECSYS_MANIFEST_FILE) != 0) {
        snprintf(err, errlen, "%s: path too long", RECSYS_MANIFEST_FILE);
        return -1;
    }

    if (recsys_manifest_read(path, m, err, errlen) != 0) {
        return -1;
    }

    /* generations/<n> holds generation n: a copied or renamed one is not */
    base = recsys_path_base(dir);

    if (recsys_parse_uint(base, strlen(base), &number) == 0
        && number != m->generation)
    {
        snprintf(err, errlen, "%s: generation %llu in directory \"%s\"",
                 RECSYS_MANIFEST_FILE, (unsigned long long) m->generation,
                 base);
        return -1;
    }

    if (expect_dim != 0 && m->dimension != expect_dim) {
        snprintf(err, errlen, "dimension %u does not match the configured %u",
                 m->dimension, expect_dim);
        return -1;
    }

    if (expect_metric != -1 && m->metric != expect_metric) {
        snprintf(err, errlen, "metric %s does not match the configured %s",
                 recsys_metric_name(m->metric),
                 recsys_metric_name(expect_metric)
                 ? recsys_metric_name(expect_metric) : "(unknown)");
        return -1;
    }

    return recsys_generation_map(g, nprobe, err, errlen);
}


int
recsys_generation_open_current(recsys_generation_t *g,
    const recsys_index_conf_t *ic, char *err, size_t errlen)
{
    char  dir[RECSYS_PATH_MAX];

    memset(g, 0, sizeof(recsys_generation_t));

    if (recsys_current_dir(ic->path, dir, sizeof(dir), err, errlen) != 0) {
        return -1;
    }

    return recsys_generation_open(g, dir, ic->dimension, ic->metric,
                                  ic->nprobe, err, errlen);
}


int
recsys_generation_map(recsys_generation_t *g, uint32_t nprobe, char *err,
    size_t errlen)
{
    int                       i;
    char                      path[RECSYS_PATH_MAX];
    uint64_t                  need;
    recsys_manifest_t        *m;
    const recsys_file_sum_t  *fs;
    static const char        *required[3] = {
        RECSYS_ITEMS_FILE, RECSYS_VECTORS_FILE, RECSYS_INDEX_FILE
    };

    m = &g->manifest;

    for (i = 0; i < 3; i++) {
        if (recsys_manifest_file(m, required[i]) == NULL) {
            snprintf(err, errlen, "%s: \"files\" has no \"%s\"",
                     RECSYS_MANIFEST_FILE, required[i]);
            return -1;
        }
    }

    for (i = 0; i < (int) m->nfiles; i++) {
        fs = &m->files[i];

        if (recsys_generation_file(g, fs, err, errlen) != 0) {
            goto failed;
        }
    }

    if (recsys_path_join(path, sizeof(path), g->dir, RECSYS_ITEMS_FILE) != 0) {
        snprintf(err, errlen, "%s: path too long", RECSYS_ITEMS_FILE);
        goto failed;
    }

    if (recsys_items_open(&g->items, path, err, errlen) != 0) {
        goto failed;
    }

    if (g->items.count != m->items) {
        snprintf(err, errlen, "%s: %llu items, manifest says %llu",
                 RECSYS_ITEMS_FILE, (unsigned long long) g->items.count,
                 (unsigned long long) m->items);
        goto failed;
    }

    if (g->items.dimension != m->dimension) {
        snprintf(err, errlen, "%s: dimension %u does not match manifest %u",
                 RECSYS_ITEMS_FILE, g->items.dimension, m->dimension);
        goto failed;
    }

    need = m->items * m->dimension * sizeof(float);

    if (g->vectors_size != need) {
        snprintf(err, errlen, "%s: size %llu, expected %llu "
                 "(%llu items x %u dimensions x 4)", RECSYS_VECTORS_FILE,
                 (unsigned long long) g->vectors_size,
                 (unsigned long long) need, (unsigned long long) m->items,
                 m->dimension);
        goto failed;
    }

    if (recsys_generation_users(g, err, errlen) != 0) {
        goto failed;
    }

    if (recsys_generation_index(g, nprobe, err, errlen) != 0) {
        goto failed;
    }

    if (g->neighbors.base != NULL
        && recsys_generation_neighbors(g, err, errlen) != 0)
    {
        goto failed;
    }

    if (g->itemsim_base != NULL
        && recsys_itemsim_view(&g->itemsim, g->itemsim_base,
                               g->itemsim_size, m->items,
                               &g->itemsim_algorithm, err, errlen)
           != 0)
    {
        goto failed;
    }

    return 0;

failed:

    recsys_generation_close(g);

    return -1;
}


uint32_t
recsys_generation_nprobe(const recsys_generation_t *g)
{
    size_t          nprobe, nlist;
    FaissIndexIVF  *ivf;

    ivf = faiss_IndexIVF_cast(g->index);
    if (ivf == NULL) {
        return 0;
    }

    /* as recsys_search.c clamps it */
    nprobe = faiss_IndexIVF_nprobe(ivf);
    nlist = faiss_IndexIVF_nlist(ivf);

    if (nprobe > nlist) {
        nprobe = nlist;
    }

    return nprobe ? (uint32_t) nprobe : 1;
}


int
recsys_neighbors_write(const char *path, uint32_t m, uint32_t nprobe,
    uint64_t count, int metric, const int32_t *rows, const float *scores,
    char *err, size_t errlen)
{
    int        rc;
    char      *buf;
    size_t     part;
    uint32_t   h[RECSYS_NEIGHBORS_HEADER / 4];

    part = (size_t) count * m * 4;

    buf = malloc(RECSYS_NEIGHBORS_HEADER + 2 * part);
    if (buf == NULL) {
        snprintf(err, errlen, "%s: out of memory", RECSYS_NEIGHBORS_FILE);
        return -1;
    }

    memset(h, 0, sizeof(h));
    h[0] = RECSYS_NEIGHBORS_MAGIC;
    h[1] = RECSYS_NEIGHBORS_VERSION;
    h[2] = m;
    h[3] = nprobe;
    memcpy(&h[4], &count, sizeof(uint64_t));
    h[6] = (uint32_t) metric;

    memcpy(buf, h, sizeof(h));
    memcpy(buf + RECSYS_NEIGHBORS_HEADER, rows, part);
    memcpy(buf + RECSYS_NEIGHBORS_HEADER + part, scores, part);

    rc = recsys_file_write(path, buf, RECSYS_NEIGHBORS_HEADER + 2 * part,
                           err, errlen);

    free(buf);

    return rc;
}


/*
 * users.bin, when the manifest lists it: its header and sections (O(1)),
 * and its counts against the manifest and the items.
 */

static int
recsys_generation_users(recsys_generation_t *g, char *err, size_t errlen)
{
    char                path[RECSYS_PATH_MAX];
    recsys_users_t     *u;
    recsys_manifest_t  *m;

    m = &g->manifest;
    u = &g->users;

    if (recsys_manifest_file(m, RECSYS_USERS_FILE) == NULL) {
        if (m->users != 0) {
            snprintf(err, errlen, "%s: %llu users but \"files\" has no "
                     "\"%s\"", RECSYS_MANIFEST_FILE,
                     (unsigned long long) m->users, RECSYS_USERS_FILE);
            return -1;
        }

        return 0;
    }

    if (recsys_path_join(path, sizeof(path), g->dir, RECSYS_USERS_FILE) != 0) {
        snprintf(err, errlen, "%s: path too long", RECSYS_USERS_FILE);
        return -1;
    }

    if (recsys_users_open(u, path, err, errlen) != 0) {
        return -1;
    }

    if (u->count != m->users || u->dimension != m->dimension
        || u->items != m->items)
    {
        snprintf(err, errlen, "%s: %llu users of dimension %u over %u "
                 "items do not match the manifest (%llu users, dimension "
                 "%u, %llu items)", RECSYS_USERS_FILE,
                 (unsigned long long) u->count, u->dimension, u->items,
                 (unsigned long long) m->users, m->dimension,
                 (unsigned long long) m->items);
        return -1;
    }

    return 0;
}


/*
 * Validates the mapped neighbors.bin.  Lists computed at another nprobe
 * than the one served would not match a live search: they are unmapped
 * and the generation serves without them.
 */

static int
recsys_generation_neighbors(recsys_generation_t *g, char *err,
    size_t errlen)
{
    uint32_t             h[RECSYS_NEIGHBORS_HEADER / 4];
    uint64_t             count, need;
    recsys_neighbors_t  *nb;

    nb = &g->neighbors;

    if (nb->size < RECSYS_NEIGHBORS_HEADER) {
        snprintf(err, errlen, "%s: truncated header", RECSYS_NEIGHBORS_FILE);
        return -1;
    }

    memcpy(h, nb->base, sizeof(h));
    memcpy(&count, &h[4], sizeof(uint64_t));

    if (h[0] != RECSYS_NEIGHBORS_MAGIC || h[1] != RECSYS_NEIGHBORS_VERSION) {
        snprintf(err, errlen, "%s: bad magic or version",
                 RECSYS_NEIGHBORS_FILE);
        return -1;
    }

    if (h[2] == 0 || h[2] > RECSYS_NEIGHBORS_MAX
        || count != g->items.count || h[6] != (uint32_t) g->manifest.metric)
    {
        snprintf(err, errlen, "%s: %u neighbors of %llu rows, metric %u, "
                 "do not match the generation", RECSYS_NEIGHBORS_FILE, h[2],
                 (unsigned long long) count, h[6]);
        return -1;
    }

    need = RECSYS_NEIGHBORS_HEADER + count * h[2] * 8;

    if (nb->size != need) {
        snprintf(err, errlen, "%s: size %llu, expected %llu",
                 RECSYS_NEIGHBORS_FILE, (unsigned long long) nb->size,
                 (unsigned long long) need);
        return -1;
    }

    if (h[3] != recsys_generation_nprobe(g)) {
        munmap((void *) nb->base, nb->size);
        memset(nb, 0, sizeof(recsys_neighbors_t));
        return 0;
    }

    nb->m = h[2];
    nb->nprobe = h[3];
    nb->count = count;
    nb->rows = (const int32_t *) (nb->base + RECSYS_NEIGHBORS_HEADER);
    nb->scores = (const float *) (nb->base + RECSYS_NEIGHBORS_HEADER
                                  + count * h[2] * 4);

    return 0;
}


void
recsys_generation_close(recsys_generation_t *g)
{
    if (g->index != NULL) {
        faiss_Index_free(g->index);
        g->index = NULL;
    }

    recsys_items_close(&g->items);
    recsys_users_close(&g->users);

    if (g->vectors != NULL) {
        munmap((void *) g->vectors, g->vectors_size);
    }

    g->vectors = NULL;
    g->vectors_size = 0;

    if (g->neighbors.base != NULL) {
        munmap((void *) g->neighbors.base, g->neighbors.size);
    }

    memset(&g->neighbors, 0, sizeof(recsys_neighbors_t));

    if (g->itemsim_base != NULL) {
        munmap((void *) g->itemsim_base, g->itemsim_size);
    }

    g->itemsim_base = NULL;
    g->itemsim_size = 0;
    memset(&g->itemsim, 0, sizeof(recsys_itemsim_t));
}


/* a step of populating or dropping pages, and the pause after it */
#define RECSYS_PAGES_STEP      (8 << 20)
#define RECSYS_PAGES_PAUSE_NS  1000000


uint64_t
recsys_generation_prefault(const recsys_generation_t *g)
{
    char      path[RECSYS_PATH_MAX];
    uint64_t  n;

    /*
     * What every search scans: the probed lists, item records and
     * strings, neighbour rows.  vectors.f32 is read a few rows a request
     * (a fault maps the pages around it): populating it would be most of
     * the work for little.
     */
    n = recsys_generation_pages(g->items.base, g->items.size, 0)
        + recsys_generation_pages(g->neighbors.base, g->neighbors.size, 0);

    /* FAISS mapped the lists itself (OnDiskInvertedLists) */
    if (g->index != NULL
        && recsys_path_join(path, sizeof(path), g->dir, RECSYS_INDEX_FILE)
           == 0)
    {
        n += recsys_generation_file_pages(path, 0);
    }

    return n;
}


void
recsys_generation_drop_pages(const recsys_generation_t *g)
{
    char  path[RECSYS_PATH_MAX];

    (void) recsys_generation_pages(g->items.base, g->items.size, 1);
    (void) recsys_generation_pages(g->vectors, g->vectors_size, 1);
    (void) recsys_generation_pages(g->neighbors.base, g->neighbors.size, 1);

    if (g->index != NULL
        && recsys_path_join(path, sizeof(path), g->dir, RECSYS_INDEX_FILE)
           == 0)
    {
        (void) recsys_generation_file_pages(path, 1);
    }
}


/* every mapping of the file at "path" in this process, by device/inode */

static uint64_t
recsys_generation_file_pages(const char *path, int drop)
{
    char                line[RECSYS_PATH_MAX + 128];
    FILE               *f;
    uint64_t            n;
    struct stat         st;
    unsigned int        maj, mnr;
    unsigned long       start, end, ino;
    unsigned long long  off;

    if (stat(path, &st) != 0) {
        return 0;
    }

    f = fopen("/proc/self/maps", "re");
    if (f == NULL) {
        return 0;
    }

    n = 0;

    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "%lx-%lx %*s %llx %x:%x %lu", &start, &end, &off,
                   &maj, &mnr, &ino)
            == 6
            && ino == (unsigned long) st.st_ino
            && maj == major(st.st_dev) && mnr == minor(st.st_dev))
        {
            n += recsys_generation_pages((void *) start, end - start, drop);
        }

        /* a line longer than the buffer: skip the rest of it */
        while (strchr(line, '\n') == NULL
               && fgets(line, sizeof(line), f) != NULL)
        {
            /* void */
        }
    }

    fclose(f);

    return n;
}


/*
 * Populates (MADV_POPULATE_READ, Linux 5.14; before it, or where it is
 * refused, one read per page) or drops (MADV_DONTNEED: the page cache
 * stays) a mapping's page table entries, a step at a time with a pause
 * between, so that neither takes a core or the page table locks for long
 * while the event loop serves requests.
 */

static uint64_t
recsys_generation_pages(const void *base, size_t size, int drop)
{
    long                     page;
    size_t                   off, len, i;
    struct timespec          pause;
    const volatile uint8_t  *p;

    if (base == NULL || size == 0) {
        return 0;
    }

    page = sysconf(_SC_PAGESIZE);
    if (page <= 0) {
        page = 4096;
    }

    pause.tv_sec = 0;
    pause.tv_nsec = RECSYS_PAGES_PAUSE_NS;
    p = base;

    for (off = 0; off < size; off += len) {
        if (off != 0) {
            (void) nanosleep(&pause, NULL);
        }

        len = size - off < RECSYS_PAGES_STEP ? size - off : RECSYS_PAGES_STEP;

        if (drop) {
            (void) madvise((void *) (p + off), len, MADV_DONTNEED);
            continue;
        }

#ifdef MADV_POPULATE_READ
        if (madvise((void *) (p + off), len, MADV_POPULATE_READ) == 0) {
            continue;
        }
#endif

        for (i = 0; i < len; i += (size_t) page) {
            (void) p[off + i];
        }
    }

    return drop ? 0 : size;
}
