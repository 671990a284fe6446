/*
 * index.faiss and the FAISS C API.
 */

#include <string.h>

#include <faiss/c_api/error_c.h>

#include "recsys_faiss.h"


/*
 * FAISS messages start with "Error in <C++ signature> at <file>:<line>:
 * Error: '<condition>' failed: "; the reason is what follows.
 */

const char *
recsys_faiss_error(void)
{
    const char  *e, *p;

    e = faiss_get_last_error();
    if (e == NULL) {
        return "unknown FAISS error";
    }

    p = strstr(e, "' failed: ");
    if (p != NULL) {
        return p + sizeof("' failed: ") - 1;
    }

    p = strstr(e, "Error: ");
    if (p != NULL) {
        return p + sizeof("Error: ") - 1;
    }

    return e;
}
