/*
 * PostgreSQL connection strings: parsed the way libpq parses them, to
 * check them and to hide their secrets; connecting with them.  Pure C:
 * no nginx header.
 */

#ifndef _RECSYS_PG_DSN_H_INCLUDED_
#define _RECSYS_PG_DSN_H_INCLUDED_


#include <stddef.h>


/*
 * Returns 0 when dsn is a connection string whose secrets can be told
 * apart: a postgresql:// or postgres:// URI, key=value pairs, or a bare
 * database name, that libpq parses too and reads the same secrets from.
 * Else -1 with err set to the reason and a byte offset; err quotes
 * nothing of the dsn.
 */
int recsys_pg_dsn_check(const char *dsn, char *err, size_t errlen);

/*
 * Copies dsn to out with every secret value replaced by "***": the
 * password of a URI's user info, and the value of every keyword that is
 * not known to be harmless (password, sslpassword, ...), in the URI's
 * query or in key=value pairs ("'***'" for a quoted value), so that the
 * copy parses as the dsn does.  A dsn that recsys_pg_dsn_check() refuses
 * is replaced as a whole: "postgresql://<unparseable>" (with its own
 * scheme) or "<unparseable dsn>".  Returns the length the copy needs,
 * like snprintf.
 */
size_t recsys_pg_redact(const char *dsn, char *out, size_t outlen);

/*
 * Replaces every secret of dsn found in msg, as written or decoded, by
 * "***"; what no longer fits in size is cut off.
 */
void recsys_pg_scrub(const char *dsn, char *msg, size_t size);


/*
 * Connects with dsn (checked first: a malformed one is never given to
 * libpq), a 10 s connect timeout and fallback_application_name app,
 * unless the dsn sets them.  NULL with err set, the dsn redacted in it.
 */
struct pg_conn *recsys_pg_connect(const char *dsn, const char *app,
    char *err, size_t errlen);

/*
 * The quoted [schema.]table name, with suffix (may be "") added to the
 * table's name: a malloc'ed string, or NULL when out of memory.
 */
char *recsys_pg_table(struct pg_conn *conn, const char *name,
    const char *suffix);

/* err = what (may be NULL: appended to err) + msg, on one line */
void recsys_pg_message(char *err, size_t errlen, const char *what,
    const char *msg);


#endif /* _RECSYS_PG_DSN_H_INCLUDED_ */
