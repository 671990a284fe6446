/*
 * index.faiss: reading it the way workers serve it, and FAISS's error
 * text.
 */

#ifndef _RECSYS_FAISS_H_INCLUDED_
#define _RECSYS_FAISS_H_INCLUDED_


#include "recsys_artifact.h"


/* the reason of FAISS's last error in this thread, without its prefix */
const char *recsys_faiss_error(void);


#endif /* _RECSYS_FAISS_H_INCLUDED_ */
