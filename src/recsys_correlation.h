/*
 * What a correlation id taken from a request may be: a client's own id
 * or the trace id of a W3C traceparent.  Pure C: no nginx header.
 */

#ifndef _RECSYS_CORRELATION_H_INCLUDED_
#define _RECSYS_CORRELATION_H_INCLUDED_


#include <stddef.h>


#define RECSYS_CORRELATION_ID_MAX      128
#define RECSYS_TRACEPARENT_LEN         55    /* 00-<32>-<16>-<2> */
#define RECSYS_TRACEPARENT_TRACE_ID    3     /* its offset */
#define RECSYS_TRACEPARENT_TRACE_LEN   32


/*
 * 1 when s[0..len) can be kept as an id: 1 to RECSYS_CORRELATION_ID_MAX
 * bytes of letters, digits, '-', '.', '_' and ':', nothing that needs
 * quoting in a header, a log line or JSON; else 0.
 */
int recsys_correlation_id_valid(const unsigned char *s, size_t len);

/*
 * 1 when s[0..len) is a W3C Trace Context traceparent,
 * "version-traceid-parentid-flags" in lowercase hex, whose trace id
 * (RECSYS_TRACEPARENT_TRACE_LEN bytes at RECSYS_TRACEPARENT_TRACE_ID)
 * can be the correlation id: version ff and all-zero ids are invalid,
 * version 00 is exactly RECSYS_TRACEPARENT_LEN bytes, a later version may
 * append "-" and more fields.  Else 0.
 */
int recsys_traceparent_valid(const unsigned char *s, size_t len);


#endif /* _RECSYS_CORRELATION_H_INCLUDED_ */
