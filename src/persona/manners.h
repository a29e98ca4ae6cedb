/* manners.h - when a persona speaks in a group chat (docs/personas.md,
 * "Group-chat manners").
 *
 * reply = "addressed" answers mentions, replies, DMs and its name;
 * "auto" also answers what is plainly for it (a question right after it
 * spoke, a topic in its interests) with a probability and a cooldown;
 * "always" answers everything. A persona with no reply key answers only
 * what the platform marks as addressed, as before. The choice is made by
 * manners_decide(): a few string scans, no allocation, never a model call.
 *
 * Proactive speech: after a silence of proactive.after_silence_ms in a
 * channel where it answered someone, or on proactive.schedule, outside
 * proactive.quiet_hours, at most proactive.daily_cap times a day.
 *
 * Everything here borrows from the JSON it was parsed from (the persona's
 * definition, a `channel` block): nothing to free. */
#ifndef CHORUS_MANNERS_H
#define CHORUS_MANNERS_H
#include <stddef.h>
#include <jansson.h>

enum manners_reply {
    MANNERS_UNSET = 0,      /* what the platform marks as addressed, as before */
    MANNERS_ADDRESSED,
    MANNERS_AUTO,
    MANNERS_ALWAYS
};

struct manners {
    int reply;                /* enum manners_reply */
    double probability;       /* auto: chance to answer what it picked, 0..1 (default 1) */
    long cooldown_ms;         /* auto: least time between uninvited answers (default 60000) */
    long followup_ms;         /* auto: a question this soon after it spoke is for it (default 120000) */
    json_t *interests;        /* auto: topics, a list of strings (borrowed), or NULL */
    long silence_ms;          /* proactive after this much silence; 0 = off */
    const char *schedule;     /* proactive on this schedule ("every 1d", cron), or NULL */
    int quiet_from, quiet_to; /* minutes of the day (UTC + utc_offset_min); -1 = no quiet hours */
    long utc_offset_min;      /* the quiet hours' time zone */
    long daily_cap;           /* proactive messages per channel and day (default 3) */
    long min_gap_ms;          /* least time between two of them in a channel, across processes (default 600000) */
    const char *prompt;       /* what the persona is told when it speaks first */
};

/* What the decision looks at. Times are unix seconds; 0 = never. */
struct manners_seen {
    const char *text;
    int direct;               /* the platform says it is addressed (mention, reply, DM) */
    const char *names[4];     /* name, display name, nickname; NULL-terminated */
    double now, spoke_at, auto_at;
    double roll;              /* a random number in [0, 1) */
};

/* The defaults: reply unset, probability 1, cooldown 60 s, follow-up 120 s,
 * no proactive speech, cap 3. */
void manners_defaults(struct manners *m);
/* Overlay the manners keys present in OBJ (a persona block or a channel
 * block) on M. Unknown or mistyped values are left as they were (the
 * config schema has refused them before). */
void manners_parse(const json_t *obj, struct manners *m);
/* "addressed", "auto", "always" -> the enum; anything else -> MANNERS_UNSET. */
int manners_reply_of(const char *s);
const char *manners_reply_name(int reply);
/* "22:00-07:00" -> minutes of the day; -1 with err on a bad spec. */
int manners_parse_quiet(const char *spec, int *from, int *to, char *err, size_t errlen);
/* Is unix time NOW inside M's quiet hours? */
int manners_quiet_now(const struct manners *m, double now);
/* Check a persona or channel block's manners keys; -1 with err naming the key. */
int manners_validate(const json_t *obj, const char *what, char *err, size_t errlen);

/* Should the persona answer? 1 or 0, with WHY set to a short reason:
 * "addressed", "name", "always", "followup", "interest" (answer) or
 * "unaddressed", "unrelated", "cooldown", "probability" (stay quiet). */
int manners_decide(const struct manners *m, const struct manners_seen *s, const char **why);
/* Does TEXT name NAME as a word (ASCII case-insensitive; other scripts as a substring)? */
int manners_mentions(const char *text, const char *name);
/* Does TEXT read as a question ("?", "？", or a leading question word)? */
int manners_is_question(const char *text);
#endif
