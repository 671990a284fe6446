/*
 * Byte-string helpers shared by the parsers, writers and tools: hex
 * digits, UTF-8 characters, quoted text, decimal numbers.  Pure C: no
 * nginx header.
 */

#ifndef _RECSYS_STRING_H_INCLUDED_
#define _RECSYS_STRING_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>


#define RECSYS_QUOTE_LEN  64


/* "0123456789abcdef" */
extern const char  recsys_hex_digits[16];


/* the value of hex digit c (either case), or -1 */
int recsys_hex_value(int c);

/*
 * The UTF-8 character at s, which has n > 0 bytes: its length 1..4 when it
 * is valid (RFC 3629: no overlong form, no surrogate, nothing past
 * U+10FFFF), else minus the length of the invalid sequence, the "maximal
 * subpart" of Unicode 3.9: the longest prefix of a valid sequence (a
 * truncated character), or 1 for a byte no valid sequence starts with.
 * A writer replaces each such sequence with one U+FFFD.
 */
ssize_t recsys_utf8_char(const unsigned char *s, size_t n);

/*
 * s as "text" for an error message: its first RECSYS_QUOTE_LEN bytes
 * (then "..."), control characters and '"' as '?'.  buf needs
 * RECSYS_QUOTE_LEN + 6 bytes (else, or for a NULL s, it gets "?").
 */
void recsys_quote(const char *s, size_t len, char *buf, size_t size);

/* a decimal number of at most 20 digits, no sign: 0, else -1 */
int recsys_parse_uint(const char *s, size_t len, uint64_t *out);

/* the same for a tool's argument (a C string), in lo..hi */
int recsys_parse_uint_arg(const char *arg, uint64_t lo, uint64_t hi,
    uint64_t *out);


#endif /* _RECSYS_STRING_H_INCLUDED_ */
