/* utf8.h - checking, repairing and measuring UTF-8 text.
 *
 * Text arrives from chat platforms, model APIs and Redis; before it goes
 * into JSON or gets cut to a length limit it must be well-formed UTF-8 and
 * must be cut on a code point boundary. */
#ifndef CHORUS_UTF8_H
#define CHORUS_UTF8_H

#include <stddef.h>

/* 1 if buf[0..len) is well-formed UTF-8 (RFC 3629: no overlongs, no
 * surrogates U+D800..DFFF, nothing above U+10FFFF), else 0. NUL bytes are
 * allowed. */
int utf8_valid(const char *buf, size_t len);

/* A new malloc'd NUL-terminated copy where every maximal invalid subpart is
 * replaced by U+FFFD (EF BF BD), as the Unicode "substitution of maximal
 * subparts" practice says. *outlen gets the byte length (may be NULL).
 * Returns NULL only on out of memory. */
char *utf8_repair(const char *buf, size_t len, size_t *outlen);

/* Number of code points in valid UTF-8 (counts lead bytes). */
size_t utf8_codepoints(const char *buf, size_t len);

/* Byte length of the longest prefix of buf holding at most max_cp code
 * points, ending on a code point boundary. */
size_t utf8_prefix(const char *buf, size_t len, size_t max_cp);

#endif
