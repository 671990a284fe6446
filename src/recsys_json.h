/*
 * The JSON writer every answer uses: strings and numbers that are always
 * valid JSON and valid UTF-8, whatever bytes they are given.  Pure C: no
 * nginx header.
 *
 * Measure, allocate, write:
 *
 *     len = recsys_json_str_len(s, n, RECSYS_JSON_NO_LIMIT);
 *     buf = alloc(len);
 *     end = recsys_json_str(buf, s, n, RECSYS_JSON_NO_LIMIT);
 *
 * end - buf is exactly len.  Nothing is NUL-terminated.
 */

#ifndef _RECSYS_JSON_H_INCLUDED_
#define _RECSYS_JSON_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


struct cJSON;


#define RECSYS_JSON_NO_LIMIT    ((size_t) -1)

/* the most bytes recsys_json_number() writes */
#define RECSYS_JSON_NUMBER_LEN  32


/*
 * The escaped form of s[0..len), without quotes: '"' and '\\' are escaped,
 * control characters below 0x20 become \b \f \n \r \t or \u00XX, valid
 * UTF-8 is copied, and each invalid sequence (stray or truncated bytes,
 * overlong forms, surrogates, code points past U+10FFFF) becomes one
 * U+FFFD (see recsys_utf8_char()).  At most "max" bytes are written: the
 * output stops before the first character or escape that would not fit,
 * so it never ends inside one.  recsys_json_escape_len() returns exactly
 * what recsys_json_escape() writes for the same arguments; the writer
 * returns the end of its output.
 */
size_t recsys_json_escape_len(const char *s, size_t len, size_t max);
char *recsys_json_escape(char *dst, const char *s, size_t len, size_t max);

/* the same within double quotes ("max" does not count the quotes) */
size_t recsys_json_str_len(const char *s, size_t len, size_t max);
char *recsys_json_str(char *dst, const char *s, size_t len, size_t max);

/*
 * Copies text that is JSON already (an item's stored attributes) with
 * each invalid UTF-8 sequence replaced by U+FFFD, nothing escaped: bytes
 * >= 0x80 can only be inside JSON strings, so the structure is kept.
 */
size_t recsys_json_raw_len(const char *s, size_t len);
char *recsys_json_raw(char *dst, const char *s, size_t len);

/*
 * v with "digits" significant digits (1..17; %.*g, whose output is always
 * JSON number syntax: "0.5", "-3", "1e+38").  JSON has no NaN or infinity:
 * those are written as null, so an answer stays valid JSON, but callers
 * should refuse them before they reach an answer.  dst must have room for
 * RECSYS_JSON_NUMBER_LEN bytes; returns the end of the output.
 */
char *recsys_json_number(char *dst, double v, int digits);


/*
 * One line of a JSON Lines file, line number lineno (1: the first, whose
 * UTF-8 byte order mark is skipped): 0 with *root a JSON object for the
 * caller to cJSON_Delete(), or NULL for a blank line; -1 with err saying
 * what is wrong and at which column.
 */
int recsys_jsonl_object(const char *buf, size_t len, uint64_t lineno,
    struct cJSON **root, char *err, size_t errlen);


#endif /* _RECSYS_JSON_H_INCLUDED_ */
