/*
 * recsys-gen: deterministic catalog generator writing JSON Lines to stdout.
 *
 *   recsys-gen demo                      the demo catalog, dimension 32
 *   recsys-gen synthetic N D [seed]      N clustered items, dimension D
 *   recsys-gen tamper DIR list-size|index-type|list-type
 *                                        damages index.faiss of generation
 *                                        DIR behind its checksums, for tests
 *
 * Same arguments, same bytes: the generator has its own PRNG (splitmix64)
 * and prints floats with its own fixed-point formatter.
 */

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "recsys_faiss.h"
#include "recsys_files.h"
#include "recsys_manifest.h"
#include "recsys_string.h"


#define RECSYS_GEN_BUFSIZE       65536
#define RECSYS_GEN_RESERVE       512

#define RECSYS_GEN_DEMO_DIM      32
#define RECSYS_GEN_DEMO_PER_CAT  200
#define RECSYS_GEN_DEMO_SUBS     4
#define RECSYS_GEN_DEMO_SEED     20240601

/* synthetic: cluster centroids around topics, items around clusters */
#define RECSYS_GEN_CLUSTER_SPREAD  0.7
#define RECSYS_GEN_ITEM_SPREAD_MIN 0.8
#define RECSYS_GEN_ITEM_SPREAD_MAX 1.4

#define RECSYS_GEN_ATTR_NONE     0
#define RECSYS_GEN_ATTR_INT      1
#define RECSYS_GEN_ATTR_PRICE    2
#define RECSYS_GEN_ATTR_BOOL     3
#define RECSYS_GEN_ATTR_PLAYERS  4
#define RECSYS_GEN_ATTR_SUB      5
#define RECSYS_GEN_ATTR_GRAMS    6


typedef struct {
    uint64_t            state;
    int                 has_spare;
    double              spare;
} recsys_gen_rng_t;


typedef struct {
    char                buf[RECSYS_GEN_BUFSIZE];
    size_t              len;
    int                 failed;
} recsys_gen_out_t;


typedef struct {
    const char         *name;
    int                 kind;
    int                 lo;
    int                 hi;
} recsys_gen_attr_t;


/* title template: %0 %1 %2 stand for words of w0 (by sub-theme), w1, w2 */
typedef struct {
    const char         *name;
    const char         *tmpl;
    const char         *sub[RECSYS_GEN_DEMO_SUBS];
    const char         *w0[RECSYS_GEN_DEMO_SUBS * 4];
    const char         *w1[8];
    const char         *w2[8];
    recsys_gen_attr_t   attrs[4];
} recsys_gen_category_t;


static int recsys_gen_demo(void);
static int recsys_gen_synthetic(uint64_t n, uint32_t dim, uint64_t seed);
static void recsys_gen_demo_item(recsys_gen_out_t *o, recsys_gen_rng_t *r,
    const recsys_gen_category_t *cat, uint32_t no, uint32_t sub,
    uint32_t combo, double popularity, const float *vec);
static void recsys_gen_title(recsys_gen_out_t *o,
    const recsys_gen_category_t *cat, uint32_t sub, uint32_t combo);
static void recsys_gen_attrs(recsys_gen_out_t *o, recsys_gen_rng_t *r,
    const recsys_gen_category_t *cat, uint32_t sub);
static double recsys_gen_zipf(uint64_t rank);
static uint32_t *recsys_gen_permutation(recsys_gen_rng_t *r, uint64_t n);
static void recsys_gen_unit(recsys_gen_rng_t *r, float *v, uint32_t dim);
static uint64_t recsys_gen_next(recsys_gen_rng_t *r);
static uint64_t recsys_gen_below(recsys_gen_rng_t *r, uint64_t n);
static double recsys_gen_uniform(recsys_gen_rng_t *r);
static double recsys_gen_gauss(recsys_gen_rng_t *r);
static void recsys_gen_room(recsys_gen_out_t *o, size_t n);
static void recsys_gen_flush(recsys_gen_out_t *o);
static void recsys_gen_puts(recsys_gen_out_t *o, const char *s);
static void recsys_gen_string(recsys_gen_out_t *o, const char *s);
static void recsys_gen_uint(recsys_gen_out_t *o, uint64_t v);
static void recsys_gen_float(recsys_gen_out_t *o, double v);
static void recsys_gen_vector(recsys_gen_out_t *o, const float *v,
    uint32_t dim);
static int recsys_gen_tamper(const char *dir, const char *what);
static int recsys_gen_resum(const char *dir, char *err, size_t errlen);
static void recsys_gen_usage(void);


static const recsys_gen_category_t  recsys_gen_categories[] = {

    { "jazz-albums", "%0 %1 - %2",
      { "bebop", "cool", "fusion", "vocal" },
      { "Midnight Blue", "Bird Street", "Minton's", "Fifty-Second Street",
        "West Coast", "Pale Moon", "Soft Shoe", "Grey Fog",
        "Electric Storm", "Neon Circuit", "Funk Engine", "Satellite",
        "Velvet Voice", "Moonlight", "Smoky Room", "Autumn Leaves" },
      { "Quartet", "Trio", "Quintet", "Sextet", "Big Band", "Ensemble",
        "Orchestra", "Duo" },
      { "Live at the Village", "Sessions", "Late Set", "Standards",
        "In Concert", "After Hours", "Ballads", "Reunion" },
      { { "year", RECSYS_GEN_ATTR_INT, 1950, 2020 },
        { "price", RECSYS_GEN_ATTR_PRICE, 9, 25 },
        { "style", RECSYS_GEN_ATTR_SUB, 0, 0 },
        { NULL, RECSYS_GEN_ATTR_NONE, 0, 0 } } },

    { "sci-fi-novels", "%0 %1: %2",
      { "space-opera", "cyberpunk", "first-contact", "time-travel" },
      { "The Iron", "The Last", "The Crimson", "The Silent",
        "The Chrome", "The Neon", "The Glass", "The Wired",
        "The Alien", "The Quiet", "The Distant", "The Strange",
        "The Broken", "The Forgotten", "The Recursive", "The Endless" },
      { "Nebula", "Armada", "Frontier", "Throne", "Horizon", "Gate",
        "Expanse", "Signal" },
      { "Book One", "Book Two", "Book Three", "Book Four", "A Novel",
        "Prequel", "Omnibus", "Collected Edition" },
      { { "year", RECSYS_GEN_ATTR_INT, 1965, 2024 },
        { "pages", RECSYS_GEN_ATTR_INT, 220, 720 },
        { "price", RECSYS_GEN_ATTR_PRICE, 7, 22 },
        { "subgenre", RECSYS_GEN_ATTR_SUB, 0, 0 } } },

    { "italian-recipes", "%0 with %1 and %2",
      { "pasta", "risotto", "pizza", "soup" },
      { "Tagliatelle", "Pappardelle", "Orecchiette", "Rigatoni",
        "Risotto", "Saffron Risotto", "Arancini", "Farro Risotto",
        "Pizza Bianca", "Neapolitan Pizza", "Focaccia", "Calzone",
        "Minestrone", "Ribollita", "Pasta e Fagioli", "Zuppa Toscana" },
      { "Porcini", "Pancetta", "Zucchini", "Spinach", "Sausage",
        "Artichokes", "Tomatoes", "Mozzarella" },
      { "Thyme", "Sage", "Lemon", "Garlic", "Chili", "Basil", "Pecorino",
        "Rosemary" },
      { { "minutes", RECSYS_GEN_ATTR_INT, 15, 120 },
        { "servings", RECSYS_GEN_ATTR_INT, 2, 8 },
        { "vegetarian", RECSYS_GEN_ATTR_BOOL, 0, 0 },
        { "course", RECSYS_GEN_ATTR_SUB, 0, 0 } } },

    { "hiking-gear", "%1 %2 %0",
      { "backpacks", "tents", "footwear", "apparel" },
      { "Daypack", "Trek Pack", "Ultralight Pack", "Summit Pack",
        "Dome Tent", "Tunnel Tent", "Bivy Shelter", "Tarp Shelter",
        "Hiking Boot", "Trail Shoe", "Approach Shoe", "Winter Boot",
        "Rain Shell", "Fleece Jacket", "Down Jacket", "Softshell" },
      { "Summit Ridge", "Alpine Crest", "Trailhead", "Northwind",
        "Granite Peak", "Cascade", "Timberline", "Bluebird" },
      { "Pro", "Lite", "Explorer", "Venture", "Apex", "Traverse", "Nomad",
        "Ranger" },
      { { "price", RECSYS_GEN_ATTR_PRICE, 19, 450 },
        { "weight_g", RECSYS_GEN_ATTR_INT, 200, 3000 },
        { "type", RECSYS_GEN_ATTR_SUB, 0, 0 },
        { NULL, RECSYS_GEN_ATTR_NONE, 0, 0 } } },

    { "board-games", "%0 of %1: %2",
      { "strategy", "party", "cooperative", "family" },
      { "Empires", "Castles", "Dynasties", "Railroads",
        "Whispers", "Secrets", "Charades", "Bluffs",
        "Guardians", "Survivors", "Keepers", "Defenders",
        "Gardens", "Treasures", "Meadows", "Lanterns" },
      { "Carcosa", "Avalon", "the North", "Valdora", "the Deep",
        "Samarkand", "the Isles", "Ember Vale" },
      { "Second Edition", "Deluxe", "Big Box", "Anniversary Edition",
        "Travel Edition", "Core Set", "Expansion", "Collector's Edition" },
      { { "players", RECSYS_GEN_ATTR_PLAYERS, 1, 8 },
        { "minutes", RECSYS_GEN_ATTR_INT, 15, 180 },
        { "year", RECSYS_GEN_ATTR_INT, 1995, 2024 },
        { "style", RECSYS_GEN_ATTR_SUB, 0, 0 } } },

    { "indie-games", "%0 %1 %2",
      { "roguelike", "platformer", "puzzle", "narrative" },
      { "Cursed", "Endless", "Dungeon", "Bone",
        "Hollow", "Tiny", "Leaping", "Pixel",
        "Clockwork", "Quiet", "Folded", "Prism",
        "Distant", "Lost", "Paper", "Faded" },
      { "Lantern", "Crown", "Garden", "Knight", "Signal", "River", "Moon",
        "Fox" },
      { "Saga", "Chronicles", "Odyssey", "Tales", "Legacy", "Rising",
        "Echoes", "Dreams" },
      { { "year", RECSYS_GEN_ATTR_INT, 2012, 2024 },
        { "price", RECSYS_GEN_ATTR_PRICE, 4, 30 },
        { "genre", RECSYS_GEN_ATTR_SUB, 0, 0 },
        { NULL, RECSYS_GEN_ATTR_NONE, 0, 0 } } },

    { "coffee", "%1 %2 - %0",
      { "light", "medium", "dark", "espresso" },
      { "Light Roast", "Nordic Roast", "Cinnamon Roast", "Filter Roast",
        "Medium Roast", "City Roast", "Breakfast Roast", "House Roast",
        "Dark Roast", "French Roast", "Italian Roast", "Vienna Roast",
        "Espresso Roast", "Ristretto Blend", "Crema Blend",
        "Espresso Blend" },
      { "Ethiopia Yirgacheffe", "Colombia Huila", "Kenya Nyeri",
        "Guatemala Antigua", "Sumatra Mandheling", "Brazil Cerrado",
        "Costa Rica Tarrazu", "Rwanda Huye" },
      { "Washed", "Natural", "Honey", "Anaerobic", "Wet-Hulled",
        "Single Estate", "Microlot", "Peaberry" },
      { { "price", RECSYS_GEN_ATTR_PRICE, 9, 24 },
        { "grams", RECSYS_GEN_ATTR_GRAMS, 0, 0 },
        { "roast", RECSYS_GEN_ATTR_SUB, 0, 0 },
        { NULL, RECSYS_GEN_ATTR_NONE, 0, 0 } } },

    { "houseplants", "%0 '%1 %2'",
      { "low-light", "succulent", "tropical", "trailing" },
      { "Snake Plant", "ZZ Plant", "Pothos", "Cast Iron Plant",
        "Echeveria", "Haworthia", "Aloe", "Jade Plant",
        "Monstera", "Calathea", "Bird of Paradise", "Philodendron",
        "String of Pearls", "Hoya", "Tradescantia", "Ivy" },
      { "Golden", "Silver", "Emerald", "Midnight", "Painted", "Variegated",
        "Dwarf", "Royal" },
      { "Queen", "Star", "Wave", "Cascade", "Flame", "Lace", "Sunset",
        "Jewel" },
      { { "price", RECSYS_GEN_ATTR_PRICE, 8, 65 },
        { "pot_cm", RECSYS_GEN_ATTR_INT, 9, 27 },
        { "pet_safe", RECSYS_GEN_ATTR_BOOL, 0, 0 },
        { "care", RECSYS_GEN_ATTR_SUB, 0, 0 } } },

    { "running-shoes", "%1 %0 %2",
      { "road", "trail", "racing", "stability" },
      { "Cruise", "Glide", "Daily", "Miles",
        "Ridge", "Mudrunner", "Summit", "Rocky",
        "Rocket", "Sprint", "Carbon", "Flash",
        "Guide", "Anchor", "Steady", "Support" },
      { "Stride", "Pacer", "Velo", "Kinetic", "Horizon", "Swift", "Arc",
        "Tempo" },
      { "2", "3", "4", "5", "6", "7", "8", "GTX" },
      { { "price", RECSYS_GEN_ATTR_PRICE, 90, 250 },
        { "drop_mm", RECSYS_GEN_ATTR_INT, 0, 12 },
        { "weight_g", RECSYS_GEN_ATTR_INT, 180, 340 },
        { "type", RECSYS_GEN_ATTR_SUB, 0, 0 } } },

    { "documentaries", "%0: %1 %2",
      { "nature", "history", "science", "true-crime" },
      { "Deep Oceans", "Wild Savanna", "Frozen Planet", "Rainforest",
        "Roman Empire", "Silk Road", "Cold War", "Ancient Egypt",
        "Quantum Worlds", "The Cosmos", "Inside the Cell", "Black Holes",
        "The Heist", "Cold Case", "The Vanishing", "Undercover" },
      { "The Hidden", "The Untold", "The Final", "A Secret", "The Lost",
        "The Wild", "The Great", "The Forgotten" },
      { "World", "Story", "Chapter", "Journey", "Frontier", "Years",
        "Truth", "Legacy" },
      { { "year", RECSYS_GEN_ATTR_INT, 1995, 2024 },
        { "minutes", RECSYS_GEN_ATTR_INT, 45, 180 },
        { "topic", RECSYS_GEN_ATTR_SUB, 0, 0 },
        { NULL, RECSYS_GEN_ATTR_NONE, 0, 0 } } }
};

#define RECSYS_GEN_NCATS                                                     \
    (sizeof(recsys_gen_categories) / sizeof(recsys_gen_categories[0]))

/* distinct (w0, w1, w2) combinations per sub-theme */
#define RECSYS_GEN_COMBOS        (4 * 8 * 8)


static recsys_gen_out_t  recsys_gen_out;


int
main(int argc, char **argv)
{
    uint64_t  n, dim, seed;

    if (argc == 2 && strcmp(argv[1], "demo") == 0) {
        return recsys_gen_demo();
    }

    if ((argc == 4 || argc == 5) && strcmp(argv[1], "synthetic") == 0) {
        seed = 42;

        if (recsys_parse_uint_arg(argv[2], 1, 100000000, &n) != 0
            || recsys_parse_uint_arg(argv[3], 1, 4096, &dim) != 0
            || (argc == 5
                && recsys_parse_uint_arg(argv[4], 0, UINT64_MAX, &seed) != 0))
        {
            fprintf(stderr, "recsys-gen: N must be 1..100000000, "
                    "D 1..4096, seed a non-negative integer\n");
            return 2;
        }

        return recsys_gen_synthetic(n, (uint32_t) dim, seed);
    }

    if (argc == 4 && strcmp(argv[1], "tamper") == 0) {
        return recsys_gen_tamper(argv[2], argv[3]);
    }

    recsys_gen_usage();

    return 2;
}


/*
 * What an attacker with write access to a published generation does
 * (issue 9 item 11): patches index.faiss, then recomputes the manifest's
 * sizes and checksums.  "list-size" makes the first list 2^32 vectors
 * longer than the file holds (a search scanning it leaves the mapping),
 * "index-type" names another IVF type ("IwFd", which FAISS reads
 * differently), "list-type" an inverted-list type FAISS has no reader for
 * (it throws half-way through, leaking what it read so far).
 */

static int
recsys_gen_tamper(const char *dir, const char *what)
{
    char                   path[RECSYS_PATH_MAX], err[RECSYS_ERRLEN];
    size_t                 size;
    uint8_t               *data;
    uint64_t               off, n;
    const void            *base;
    recsys_faiss_layout_t  l;

    if (recsys_path_join(path, sizeof(path), dir, RECSYS_INDEX_FILE) != 0
        || recsys_file_map(path, &base, &size, err, sizeof(err)) != 0)
    {
        fprintf(stderr, "recsys-gen: %s\n", path);
        return 1;
    }

    data = malloc(size ? size : 1);
    if (data == NULL) {
        fprintf(stderr, "recsys-gen: out of memory\n");
        return 1;
    }

    memcpy(data, base, size);
    munmap((void *) base, size);

    if (recsys_faiss_check(data, size, &l, err, sizeof(err)) != 0) {
        fprintf(stderr, "recsys-gen: %s\n", err);
        free(data);
        return 1;
    }

    if (strcmp(what, "list-size") == 0) {
        off = l.sizes_offset + 8 + (l.sparse ? 8 : 0);
        memcpy(&n, data + off, 8);
        n += (uint64_t) 1 << 32;
        memcpy(data + off, &n, 8);

    } else if (strcmp(what, "index-type") == 0) {
        memcpy(data, "IwFd", 4);

    } else if (strcmp(what, "list-type") == 0) {
        /* "ilar", nlist, code size and the sizes' kind come before them */
        memcpy(data + l.sizes_offset - 24, "ilXX", 4);

    } else {
        recsys_gen_usage();
        free(data);
        return 2;
    }

    /* a published generation is read-only; the owner may write it again */
    (void) chmod(dir, 0755);
    (void) chmod(path, 0644);

    if (recsys_file_write(path, data, size, err, sizeof(err)) != 0
        || recsys_gen_resum(dir, err, sizeof(err)) != 0)
    {
        fprintf(stderr, "recsys-gen: %s\n", err);
        free(data);
        return 1;
    }

    free(data);
    (void) chmod(path, 0444);
    (void) chmod(dir, 0555);

    return 0;
}


/* the manifest's sizes and checksums made those of the files again */

static int
recsys_gen_resum(const char *dir, char *err, size_t errlen)
{
    char               path[RECSYS_PATH_MAX];
    uint32_t           i;
    recsys_manifest_t  m;

    if (recsys_path_join(path, sizeof(path), dir, RECSYS_MANIFEST_FILE) != 0
        || recsys_manifest_read(path, &m, err, errlen) != 0)
    {
        return -1;
    }

    for (i = 0; i < m.nfiles; i++) {
        if (recsys_file_sum(dir, m.files[i].name, &m.files[i], err, errlen)
            != 0)
        {
            return -1;
        }
    }

    (void) chmod(path, 0644);

    if (recsys_manifest_write(path, &m, err, errlen) != 0) {
        return -1;
    }

    (void) chmod(path, 0444);

    return 0;
}


static void
recsys_gen_usage(void)
{
    fprintf(stderr,
            "usage: recsys-gen demo\n"
            "       recsys-gen synthetic N D [seed]\n"
            "       recsys-gen tamper DIR list-size|index-type|list-type\n"
            "writes a deterministic JSON Lines catalog to stdout; tamper "
            "damages\nindex.faiss of generation directory DIR behind its "
            "checksums (tests)\n");
}


static int
recsys_gen_demo(void)
{
    int                           rc;
    float                        *centroids, *subs, *vec, *c, *s;
    uint32_t                     *order, *ranks, *combos, i, j, k, cat, no,
                                  sub, dim, total;
    recsys_gen_rng_t              rng;
    recsys_gen_out_t             *o;
    const recsys_gen_category_t  *gc;

    dim = RECSYS_GEN_DEMO_DIM;
    total = RECSYS_GEN_NCATS * RECSYS_GEN_DEMO_PER_CAT;

    memset(&rng, 0, sizeof(recsys_gen_rng_t));
    rng.state = RECSYS_GEN_DEMO_SEED;

    rc = 1;
    centroids = malloc(RECSYS_GEN_NCATS * dim * sizeof(float));
    subs = malloc(RECSYS_GEN_NCATS * RECSYS_GEN_DEMO_SUBS * dim
                  * sizeof(float));
    vec = malloc(dim * sizeof(float));
    combos = malloc(RECSYS_GEN_NCATS * RECSYS_GEN_DEMO_SUBS
                    * RECSYS_GEN_COMBOS * sizeof(uint32_t));
    order = recsys_gen_permutation(&rng, total);
    ranks = recsys_gen_permutation(&rng, total);

    if (centroids == NULL || subs == NULL || vec == NULL || combos == NULL
        || order == NULL || ranks == NULL)
    {
        fprintf(stderr, "recsys-gen: out of memory\n");
        goto done;
    }

    for (i = 0; i < RECSYS_GEN_NCATS; i++) {
        recsys_gen_unit(&rng, centroids + i * dim, dim);

        for (j = 0; j < RECSYS_GEN_DEMO_SUBS; j++) {
            recsys_gen_unit(&rng,
                            subs + (i * RECSYS_GEN_DEMO_SUBS + j) * dim, dim);
        }
    }

    /* a shuffled list of title combinations: no title repeats */
    for (i = 0; i < RECSYS_GEN_NCATS * RECSYS_GEN_DEMO_SUBS; i++) {
        for (j = 0; j < RECSYS_GEN_COMBOS; j++) {
            combos[i * RECSYS_GEN_COMBOS + j] = j;
        }

        for (j = RECSYS_GEN_COMBOS - 1; j > 0; j--) {
            k = (uint32_t) recsys_gen_below(&rng, j + 1);
            no = combos[i * RECSYS_GEN_COMBOS + j];
            combos[i * RECSYS_GEN_COMBOS + j] =
                combos[i * RECSYS_GEN_COMBOS + k];
            combos[i * RECSYS_GEN_COMBOS + k] = no;
        }
    }

    o = &recsys_gen_out;

    for (i = 0; i < total; i++) {
        cat = order[i] / RECSYS_GEN_DEMO_PER_CAT;
        no = order[i] % RECSYS_GEN_DEMO_PER_CAT;
        sub = no % RECSYS_GEN_DEMO_SUBS;
        gc = &recsys_gen_categories[cat];

        /* category centroid + sub-theme + noise */
        c = centroids + cat * dim;
        s = subs + (cat * RECSYS_GEN_DEMO_SUBS + sub) * dim;

        for (j = 0; j < dim; j++) {
            vec[j] = (float) (c[j] + 0.5 * s[j]
                              + 0.1 * recsys_gen_gauss(&rng));
        }

        recsys_gen_demo_item(o, &rng, gc, no + 1, sub,
                             combos[(cat * RECSYS_GEN_DEMO_SUBS + sub)
                                    * RECSYS_GEN_COMBOS
                                    + no / RECSYS_GEN_DEMO_SUBS],
                             recsys_gen_zipf(ranks[i] + 1), vec);
    }

    recsys_gen_flush(o);

    rc = o->failed ? 1 : 0;

done:

    free(centroids);
    free(subs);
    free(vec);
    free(combos);
    free(order);
    free(ranks);

    return rc;
}


static void
recsys_gen_demo_item(recsys_gen_out_t *o, recsys_gen_rng_t *r,
    const recsys_gen_category_t *cat, uint32_t no, uint32_t sub,
    uint32_t combo, double popularity, const float *vec)
{
    char  id[96];

    snprintf(id, sizeof(id), "%s-%04u", cat->name, no);

    recsys_gen_puts(o, "{\"id\":");
    recsys_gen_string(o, id);
    recsys_gen_puts(o, ",\"title\":\"");
    recsys_gen_title(o, cat, sub, combo);
    recsys_gen_puts(o, "\",\"category\":");
    recsys_gen_string(o, cat->name);
    recsys_gen_puts(o, ",\"popularity\":");
    recsys_gen_float(o, popularity);
    recsys_gen_puts(o, ",\"attributes\":");
    recsys_gen_attrs(o, r, cat, sub);
    recsys_gen_puts(o, ",\"vector\":");
    recsys_gen_vector(o, vec, RECSYS_GEN_DEMO_DIM);
    recsys_gen_puts(o, "}\n");
}


/* the words hold no character that needs escaping in JSON */

static void
recsys_gen_title(recsys_gen_out_t *o, const recsys_gen_category_t *cat,
    uint32_t sub, uint32_t combo)
{
    char         ch[2];
    const char  *p;

    ch[1] = '\0';

    for (p = cat->tmpl; *p; p++) {
        if (p[0] == '%' && p[1] >= '0' && p[1] <= '2') {
            p++;

            switch (*p) {
            case '0':
                recsys_gen_puts(o, cat->w0[sub * 4 + combo / 64]);
                break;
            case '1':
                recsys_gen_puts(o, cat->w1[(combo / 8) % 8]);
                break;
            default:
                recsys_gen_puts(o, cat->w2[combo % 8]);
                break;
            }

            continue;
        }

        ch[0] = *p;
        recsys_gen_puts(o, ch);
    }
}


static void
recsys_gen_attrs(recsys_gen_out_t *o, recsys_gen_rng_t *r,
    const recsys_gen_category_t *cat, uint32_t sub)
{
    int                       i, lo, hi, span;
    char                      buf[32];
    double                    price;
    const recsys_gen_attr_t  *a;
    static const int          grams[3] = { 250, 500, 1000 };

    recsys_gen_puts(o, "{");

    for (i = 0; i < 4 && cat->attrs[i].name != NULL; i++) {
        a = &cat->attrs[i];
        span = a->hi - a->lo + 1;

        recsys_gen_puts(o, i ? ",\"" : "\"");
        recsys_gen_puts(o, a->name);
        recsys_gen_puts(o, "\":");

        switch (a->kind) {

        case RECSYS_GEN_ATTR_INT:
            recsys_gen_uint(o, a->lo + recsys_gen_below(r, span));
            break;

        case RECSYS_GEN_ATTR_PRICE:
            /* shop prices: whole units ending in .99 or .50 */
            price = a->lo + (double) recsys_gen_below(r, span - 1)
                    + (recsys_gen_below(r, 4) ? 0.99 : 0.5);
            recsys_gen_float(o, price);
            break;

        case RECSYS_GEN_ATTR_BOOL:
            recsys_gen_puts(o, recsys_gen_below(r, 2) ? "true" : "false");
            break;

        case RECSYS_GEN_ATTR_PLAYERS:
            lo = a->lo + (int) recsys_gen_below(r, 2);
            hi = lo + 1 + (int) recsys_gen_below(r, a->hi - lo);
            snprintf(buf, sizeof(buf), "%d-%d", lo, hi);
            recsys_gen_string(o, buf);
            break;

        case RECSYS_GEN_ATTR_GRAMS:
            recsys_gen_uint(o, grams[recsys_gen_below(r, 3)]);
            break;

        default:
            recsys_gen_string(o, cat->sub[sub]);
            break;
        }
    }

    recsys_gen_puts(o, "}");
}


/*
 * A two-level Gaussian mixture, closer to real embeddings than equal,
 * well separated blobs: about sqrt(N/100) topics, N/100 clusters spread
 * around them, skewed cluster sizes, and a spread of its own per cluster
 * wide enough that clusters overlap.
 */

static int
recsys_gen_synthetic(uint64_t n, uint32_t dim, uint64_t seed)
{
    int                rc;
    char               buf[64];
    float             *topics, *centroids, *spread, *vec, *c;
    double             u;
    uint32_t          *ranks, j;
    uint64_t           i, nc, nt, cl;
    recsys_gen_rng_t   rng;
    recsys_gen_out_t  *o;

    memset(&rng, 0, sizeof(recsys_gen_rng_t));
    rng.state = seed ^ 0x5eed5eed5eed5eedULL;

    nc = (n >= 100) ? n / 100 : 1;
    nt = (uint64_t) sqrt((double) nc);
    if (nt == 0) {
        nt = 1;
    }

    rc = 1;
    topics = malloc(nt * dim * sizeof(float));
    centroids = malloc(nc * dim * sizeof(float));
    spread = malloc(nc * sizeof(float));
    vec = malloc(dim * sizeof(float));
    ranks = recsys_gen_permutation(&rng, n);

    if (topics == NULL || centroids == NULL || spread == NULL || vec == NULL
        || ranks == NULL)
    {
        fprintf(stderr, "recsys-gen: out of memory\n");
        goto done;
    }

    for (i = 0; i < nt * dim; i++) {
        topics[i] = (float) recsys_gen_gauss(&rng);
    }

    for (cl = 0; cl < nc; cl++) {
        c = topics + (cl % nt) * dim;

        for (j = 0; j < dim; j++) {
            centroids[cl * dim + j] =
                (float) (c[j] + RECSYS_GEN_CLUSTER_SPREAD
                                * recsys_gen_gauss(&rng));
        }

        spread[cl] = (float) (RECSYS_GEN_ITEM_SPREAD_MIN
                              + (RECSYS_GEN_ITEM_SPREAD_MAX
                                 - RECSYS_GEN_ITEM_SPREAD_MIN)
                                * recsys_gen_uniform(&rng));
    }

    o = &recsys_gen_out;

    for (i = 0; i < n && !o->failed; i++) {
        /* u^1.5: low-numbered clusters get more items */
        u = recsys_gen_uniform(&rng);
        cl = (uint64_t) ((double) nc * pow(u, 1.5));
        if (cl >= nc) {
            cl = nc - 1;
        }

        c = centroids + cl * dim;

        for (j = 0; j < dim; j++) {
            vec[j] = (float) (c[j] + spread[cl] * recsys_gen_gauss(&rng));
        }

        snprintf(buf, sizeof(buf), "%llu", (unsigned long long) i);

        recsys_gen_puts(o, "{\"id\":\"item-");
        recsys_gen_puts(o, buf);
        recsys_gen_puts(o, "\",\"title\":\"Item ");
        recsys_gen_puts(o, buf);
        recsys_gen_puts(o, "\",\"category\":\"c");
        recsys_gen_uint(o, cl % 20);
        recsys_gen_puts(o, "\",\"popularity\":");
        recsys_gen_float(o, recsys_gen_zipf((uint64_t) ranks[i] + 1));
        recsys_gen_puts(o, ",\"vector\":");
        recsys_gen_vector(o, vec, dim);
        recsys_gen_puts(o, "}\n");
    }

    recsys_gen_flush(o);

    rc = o->failed ? 1 : 0;

done:

    free(topics);
    free(centroids);
    free(spread);
    free(vec);
    free(ranks);

    return rc;
}


/* Zipf-like popularity with exponent 0.9, three decimals */

static double
recsys_gen_zipf(uint64_t rank)
{
    return floor(1e6 / pow((double) rank, 0.9) + 0.5) / 1000.0;
}


static uint32_t *
recsys_gen_permutation(recsys_gen_rng_t *r, uint64_t n)
{
    uint32_t  *p, t;
    uint64_t   i, k;

    p = malloc(n * sizeof(uint32_t));
    if (p == NULL) {
        return NULL;
    }

    for (i = 0; i < n; i++) {
        p[i] = (uint32_t) i;
    }

    for (i = n - 1; i > 0; i--) {
        k = recsys_gen_below(r, i + 1);
        t = p[i];
        p[i] = p[k];
        p[k] = t;
    }

    return p;
}


static void
recsys_gen_unit(recsys_gen_rng_t *r, float *v, uint32_t dim)
{
    double    norm;
    uint32_t  i;

    do {
        norm = 0;

        for (i = 0; i < dim; i++) {
            v[i] = (float) recsys_gen_gauss(r);
            norm += (double) v[i] * v[i];
        }

    } while (norm == 0);

    norm = sqrt(norm);

    for (i = 0; i < dim; i++) {
        v[i] = (float) (v[i] / norm);
    }
}


/* splitmix64: tiny, fast, and good enough for test data */

static uint64_t
recsys_gen_next(recsys_gen_rng_t *r)
{
    uint64_t  z;

    z = (r->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;

    return z ^ (z >> 31);
}


static uint64_t
recsys_gen_below(recsys_gen_rng_t *r, uint64_t n)
{
    /* the modulo bias is far below anything test data can notice */
    return (n <= 1) ? 0 : recsys_gen_next(r) % n;
}


static double
recsys_gen_uniform(recsys_gen_rng_t *r)
{
    return (double) (recsys_gen_next(r) >> 11) * (1.0 / 9007199254740992.0);
}


/* Box-Muller; the second value of each pair is kept for the next call */

static double
recsys_gen_gauss(recsys_gen_rng_t *r)
{
    double  u, v, m;

    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }

    do {
        u = recsys_gen_uniform(r);
    } while (u <= 0);

    v = recsys_gen_uniform(r);
    m = sqrt(-2.0 * log(u));

    r->spare = m * sin(2.0 * M_PI * v);
    r->has_spare = 1;

    return m * cos(2.0 * M_PI * v);
}


static void
recsys_gen_room(recsys_gen_out_t *o, size_t n)
{
    if (o->len + n > sizeof(o->buf)) {
        recsys_gen_flush(o);
    }
}


static void
recsys_gen_flush(recsys_gen_out_t *o)
{
    if (o->len > 0 && !o->failed
        && fwrite(o->buf, 1, o->len, stdout) != o->len)
    {
        fprintf(stderr, "recsys-gen: write error: %s\n", strerror(errno));
        o->failed = 1;
    }

    o->len = 0;

    if (!o->failed && fflush(stdout) != 0) {
        fprintf(stderr, "recsys-gen: write error: %s\n", strerror(errno));
        o->failed = 1;
    }
}


static void
recsys_gen_puts(recsys_gen_out_t *o, const char *s)
{
    size_t  len;

    len = strlen(s);

    if (len > RECSYS_GEN_RESERVE) {
        recsys_gen_flush(o);

        if (!o->failed && fwrite(s, 1, len, stdout) != len) {
            fprintf(stderr, "recsys-gen: write error: %s\n",
                    strerror(errno));
            o->failed = 1;
        }

        return;
    }

    recsys_gen_room(o, len);
    memcpy(o->buf + o->len, s, len);
    o->len += len;
}


static void
recsys_gen_string(recsys_gen_out_t *o, const char *s)
{
    char  esc[8];

    recsys_gen_puts(o, "\"");

    for ( /* void */ ; *s; s++) {
        if (*s == '"' || *s == '\\') {
            esc[0] = '\\';
            esc[1] = *s;
            esc[2] = '\0';

        } else if ((unsigned char) *s < 0x20) {
            snprintf(esc, sizeof(esc), "\\u%04x", (unsigned char) *s);

        } else {
            esc[0] = *s;
            esc[1] = '\0';
        }

        recsys_gen_puts(o, esc);
    }

    recsys_gen_puts(o, "\"");
}


static void
recsys_gen_uint(recsys_gen_out_t *o, uint64_t v)
{
    char   tmp[24];
    char  *p;

    p = tmp + sizeof(tmp);

    do {
        *--p = (char) ('0' + v % 10);
        v /= 10;
    } while (v);

    recsys_gen_room(o, (size_t) (tmp + sizeof(tmp) - p));
    memcpy(o->buf + o->len, p, (size_t) (tmp + sizeof(tmp) - p));
    o->len += (size_t) (tmp + sizeof(tmp) - p);
}


/*
 * Six decimals, trailing zeros trimmed: exact enough for float32 data of
 * unit scale and many times faster than printf("%.6g").
 */

static void
recsys_gen_float(recsys_gen_out_t *o, double v)
{
    int       i, last;
    char      frac[6], buf[64];
    uint64_t  x, ip, fp;

    if (!(fabs(v) < 1e12)) {
        snprintf(buf, sizeof(buf), "%.6g", isfinite(v) ? v : 0.0);
        recsys_gen_puts(o, buf);
        return;
    }

    x = (uint64_t) (fabs(v) * 1e6 + 0.5);
    ip = x / 1000000;
    fp = x % 1000000;

    if (v < 0 && x != 0) {
        recsys_gen_puts(o, "-");
    }

    recsys_gen_uint(o, ip);

    if (fp == 0) {
        return;
    }

    last = 0;

    for (i = 5; i >= 0; i--) {
        frac[i] = (char) ('0' + fp % 10);
        fp /= 10;

        if (last == 0 && frac[i] != '0') {
            last = i + 1;
        }
    }

    recsys_gen_room(o, 7);
    o->buf[o->len++] = '.';
    memcpy(o->buf + o->len, frac, last);
    o->len += last;
}


static void
recsys_gen_vector(recsys_gen_out_t *o, const float *v, uint32_t dim)
{
    uint32_t  i;

    recsys_gen_puts(o, "[");

    for (i = 0; i < dim; i++) {
        if (i) {
            recsys_gen_puts(o, ",");
        }

        recsys_gen_float(o, v[i]);
    }

    recsys_gen_puts(o, "]");
}
