/* persona_import.h - personas imported from character cards, kept in Redis.
 *
 * An import stores the card's V3 JSON at <prefix>card:NAME and its revision
 * in the persona's hash (<prefix>persona:NAME, field "card"), which every
 * message's context script already reads. Here is the in-memory side: the
 * compiled personas by name and revision, built once per revision and
 * shared by the jobs that use them (reference counted, so a re-import never
 * frees a persona a job still speaks as). */
#ifndef CHORUS_PERSONA_IMPORT_H
#define CHORUS_PERSONA_IMPORT_H
#include <jansson.h>

struct persona;

/* The imported persona NAME at revision REV, with a reference, or NULL. */
struct persona *persona_import_get(const char *name, const char *rev);
/* Build NAME from the checked CARD at REV (or replace an older revision);
 * returns it with a reference for the caller. */
struct persona *persona_import_put(const char *name, const char *rev, json_t *card, const char *model);
/* Any cached revision of NAME (no reference taken), or NULL. */
const struct persona *persona_import_peek(const char *name);
void persona_import_release(struct persona *p);
/* Drop the cache (at shutdown). */
void persona_import_clear(void);
#endif
