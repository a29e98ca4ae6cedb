/* card.h - character cards (V2 and V3) in, V3 JSON out.
 *
 * A card comes as JSON (spec "chara_card_v2" or "chara_card_v3"), as a PNG
 * whose tEXt chunk "ccv3" (preferred) or "chara" holds the JSON in base64,
 * or as a CHARX zip holding card.json. card_parse() finds the format from
 * the bytes, checks every field a persona uses and returns the card as V3
 * JSON ({spec, spec_version, data}); a bad card is refused with an error
 * that names the field ("data.name: missing"). Nothing here does I/O but
 * card_load_file(), which the config loader and chorusctl call. */
#ifndef CHORUS_CARD_H
#define CHORUS_CARD_H
#include <stddef.h>
#include <jansson.h>

#define CARD_FILE_MAX (8u * 1024 * 1024)   /* a card file: a PNG with its picture, a CHARX */
#define CARD_JSON_MAX (2u * 1024 * 1024)   /* the card's JSON itself */

/* The card in BUF (JSON, PNG or CHARX), as V3 JSON, or NULL with ERR. */
json_t *card_parse(const unsigned char *buf, size_t len, char *err, size_t errlen);
/* The same from a file. */
json_t *card_load_file(const char *path, char *err, size_t errlen);
/* Check a parsed card object and make it V3 in place. Returns 0 or -1 with ERR. */
int card_check(json_t *card, char *err, size_t errlen);
/* A persona name from a card name: "Aiko Tanaka" -> "aiko-tanaka". */
void card_slug(const char *name, char *out, size_t outlen);
/* A short stable revision of the card (hex), to notice a changed card. */
void card_revision(const json_t *card, char out[17]);

/* PNG: the JSON text of the card's "ccv3" (else "chara") tEXt chunk, malloc'd. */
char *card_png_json(const unsigned char *buf, size_t len, size_t *outlen, char *err, size_t errlen);
/* Strict base64 (RFC 4648, padding optional, no other characters). */
unsigned char *card_base64_decode(const char *in, size_t len, size_t *outlen);
/* CHARX: the inflated bytes of NAME in the zip, capped at MAX, malloc'd. */
char *card_zip_file(const unsigned char *buf, size_t len, const char *name, size_t max, size_t *outlen,
                    char *err, size_t errlen);
#endif
