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

/* A new malloc'd NUL-terminated copy (like utf8_repair) where each byte of
 * an invalid subpart becomes its own marker, the plane-16 private-use code
 * point U+10FF00 + byte, so the bytes survive a parser that wants UTF-8.
 * Returns NULL only on out of memory. */
char *utf8_mark_invalid(const char *buf, size_t len, size_t *outlen);

/* Replace each marker of utf8_mark_invalid() by its byte, in place; returns
 * the new length (the result may be invalid UTF-8 again). */
size_t utf8_unmark(char *buf, size_t len);

/* Bytes at the end of buf that begin a well-formed sequence not yet
 * complete (0..3): a character cut short, whose rest may still come. */
size_t utf8_cut_tail(const char *buf, size_t len);

/* Number of code points in valid UTF-8 (counts lead bytes). */
size_t utf8_codepoints(const char *buf, size_t len);

/* Byte length of the longest prefix of buf holding at most max_cp code
 * points, ending on a code point boundary. */
size_t utf8_prefix(const char *buf, size_t len, size_t max_cp);

#endif
