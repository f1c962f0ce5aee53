/*
 * members.h - reading member records from what users upload: a CSV file
 * (`sluice members import FILE.csv`) or JSON (POST /api/members).
 *
 *   CSV   a header line naming the columns, then one member per line:
 *
 *           member_id,age,gender,tier
 *           123456,34,MALE,gold
 *
 *         RFC 4180 quoting ("a, b" and "" inside quotes), LF or CRLF line
 *         ends, a UTF-8 BOM ignored, blank lines skipped. member_id (or
 *         memberId) is required; age is an integer or empty; gender is
 *         text or empty; any other column goes into `extra`, as a JSON
 *         number when it reads as one, else as a string (empty cells are
 *         left out).
 *
 *   JSON  an array of objects (or one object):
 *         [{"member_id": "123456", "age": 34, "gender": "MALE", "tier": "gold"}]
 *         member_id (or memberId) a string or an integer; age an integer,
 *         a string of one, or null; gender a string or null; other members
 *         kept as they are in `extra`.
 *
 * Either way a bad record fails the whole upload with a message naming it
 * ("line 7: age must be an integer, not 'abc'", "members[2].gender: must
 * be a string"), so an import is all or nothing.
 */
#ifndef SL_CATALOGUE_MEMBERS_H
#define SL_CATALOGUE_MEMBERS_H

#include "catalogue/catalogue.h"

/*
 * Parse body (CSV unless it starts with '[' or '{', or content_type names
 * JSON). On success returns 0 and sets *out to n members the caller frees
 * with sl_catalogue_members_free. On failure returns SL_ERR_PARSE, appends
 * the problem to err and sets *line to the CSV line (or 0).
 */
int sl_members_parse(sl_view body, const char *content_type, sl_catalogue_member **out,
                     size_t *n, sl_buf *err, long *line);

#endif
