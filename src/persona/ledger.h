/* ledger.h - each persona as a "digital employee": what it cost, what it
 * earned, and the revenue share, per day.
 *
 * Cost comes from the router's accounting (<prefix>usage:<day>:<persona>),
 * conversations and turns from engagement (<prefix>engagement:...), active
 * users from a HyperLogLog (<prefix>active:...), and value from outcomes
 * that skills record (chorus.ledger.record, into <prefix>ledger:... and the
 * <prefix>outcomes stream). `ledger { share = 0.15 }` sets the revenue
 * share applied to value. */
#ifndef CHORUS_LEDGER_H
#define CHORUS_LEDGER_H
#include <stddef.h>
#include <jansson.h>

/* REPORT: {"rows": [...], "total": {...}, "text": "a table for people"}, or NULL with ERR. */
typedef void ledger_done_fn(json_t *report, const char *err, void *data);

void ledger_config_register(void);
/* Days FROM..TO as YYYY-MM-DD (default: the last 7 days), for PERSONA or all.
 * Returns -1 with err for bad dates or ranges over 92 days. */
int ledger_report(const char *persona, const char *from, const char *to, ledger_done_fn *cb, void *data,
                  char *err, size_t errlen);
/* One outcome a skill reports (chorus.ledger.record). */
struct ledger_outcome {
    const char *persona;       /* the persona it credits */
    const char *plugin;
    const char *kind;
    double value;
    const char *currency;
    const char *ref;
    const char *channel;       /* or NULL */
    const char *user;          /* or NULL */
};
/* Count it in the persona's day and append it to the outcomes stream.
 * Returns 0, or -1 when Redis is not available. */
int ledger_record(const struct ledger_outcome *o);
#endif
