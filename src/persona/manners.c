/* manners.c - the cheap classifier that decides whether a persona joins
 * in, and the parsing of its manners keys. */
#include <stdio.h>
#include <string.h>
#include "persona/manners.h"
#include "lib/schedule.h"

#define MAX_SCAN 4096

void manners_defaults(struct manners *m) {
    memset(m, 0, sizeof(*m));
    m->probability = 1;
    m->cooldown_ms = 60000;
    m->followup_ms = 120000;
    m->quiet_from = m->quiet_to = -1;
    m->daily_cap = 3;
    m->min_gap_ms = 600000;
}

int manners_reply_of(const char *s) {
    if (!s) return MANNERS_UNSET;
    if (!strcmp(s, "addressed")) return MANNERS_ADDRESSED;
    if (!strcmp(s, "auto")) return MANNERS_AUTO;
    if (!strcmp(s, "always")) return MANNERS_ALWAYS;
    return MANNERS_UNSET;
}

const char *manners_reply_name(int reply) {
    static const char *const names[] = { "default", "addressed", "auto", "always" };
    return reply >= 0 && reply <= MANNERS_ALWAYS ? names[reply] : "default";
}

/* "HH:MM" at S into minutes; returns the end or NULL. */
static const char *clock_of(const char *s, int *minutes) {
    int h = 0, m = 0, n = 0;
    while (*s >= '0' && *s <= '9' && n < 2) h = h * 10 + (*s++ - '0'), n++;
    if (n == 0 || *s++ != ':') return NULL;
    n = 0;
    while (*s >= '0' && *s <= '9' && n < 2) m = m * 10 + (*s++ - '0'), n++;
    if (n != 2 || h > 24 || m > 59 || (h == 24 && m)) return NULL;
    *minutes = h * 60 + m;
    return s;
}

int manners_parse_quiet(const char *spec, int *from, int *to, char *err, size_t errlen) {
    const char *s = spec ? clock_of(spec, from) : NULL;
    if (s && *s == '-') s = clock_of(s + 1, to);
    else s = NULL;
    if (!s || *s) {
        snprintf(err, errlen, "quiet_hours must read like \"22:00-07:00\" (got \"%s\")", spec ? spec : "");
        return -1;
    }
    return 0;
}

int manners_quiet_now(const struct manners *m, double now) {
    if (m->quiet_from < 0 || m->quiet_to < 0 || m->quiet_from == m->quiet_to) return 0;
    long long t = (long long)now + m->utc_offset_min * 60;
    int minute = (int)(((t / 60) % 1440 + 1440) % 1440);
    if (m->quiet_from < m->quiet_to) return minute >= m->quiet_from && minute < m->quiet_to;
    return minute >= m->quiet_from || minute < m->quiet_to;   /* over midnight */
}

/* Overlay the keys of the proactive table. */
static void parse_proactive(const json_t *p, struct manners *m) {
    json_t *v;
    if (json_is_integer(v = json_object_get(p, "after_silence_ms"))) m->silence_ms = (long)json_integer_value(v);
    if (json_is_string(v = json_object_get(p, "schedule"))) m->schedule = json_string_value(v);
    if (json_is_integer(v = json_object_get(p, "daily_cap"))) m->daily_cap = (long)json_integer_value(v);
    if (json_is_integer(v = json_object_get(p, "min_gap_ms"))) m->min_gap_ms = (long)json_integer_value(v);
    if (json_is_string(v = json_object_get(p, "prompt"))) m->prompt = json_string_value(v);
    if (json_is_integer(v = json_object_get(p, "utc_offset_min"))) m->utc_offset_min = (long)json_integer_value(v);
    if (json_is_string(v = json_object_get(p, "quiet_hours"))) {
        char err[120];
        int from, to;
        if (manners_parse_quiet(json_string_value(v), &from, &to, err, sizeof(err)) == 0) {
            m->quiet_from = from;
            m->quiet_to = to;
        }
    }
    if (json_is_false(json_object_get(p, "enabled"))) m->silence_ms = 0, m->schedule = NULL;
}

void manners_parse(const json_t *obj, struct manners *m) {
    json_t *v;
    if (!json_is_object(obj)) return;
    if (json_is_string(v = json_object_get(obj, "reply"))) m->reply = manners_reply_of(json_string_value(v));
    if (json_is_number(v = json_object_get(obj, "reply_probability"))) m->probability = json_number_value(v);
    if (json_is_integer(v = json_object_get(obj, "reply_cooldown_ms"))) m->cooldown_ms = (long)json_integer_value(v);
    if (json_is_integer(v = json_object_get(obj, "followup_ms"))) m->followup_ms = (long)json_integer_value(v);
    if (json_is_array(v = json_object_get(obj, "interests"))) m->interests = v;
    if (json_is_object(v = json_object_get(obj, "proactive"))) parse_proactive(v, m);
}

int manners_validate(const json_t *obj, const char *what, char *err, size_t errlen) {
    json_t *v = json_object_get(obj, "reply");
    if (v && manners_reply_of(json_string_value(v)) == MANNERS_UNSET) {
        snprintf(err, errlen, "%s: reply must be \"addressed\", \"auto\" or \"always\"", what);
        return -1;
    }
    v = json_object_get(obj, "reply_probability");
    if (v && (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1)) {
        snprintf(err, errlen, "%s: reply_probability must be a number from 0 to 1", what);
        return -1;
    }
    static const char *const ints[] = { "reply_cooldown_ms", "followup_ms", NULL };
    for (int i = 0; ints[i]; i++)
        if ((v = json_object_get(obj, ints[i])) && (!json_is_integer(v) || json_integer_value(v) < 0)) {
            snprintf(err, errlen, "%s: %s must be a whole number of milliseconds, 0 or more", what, ints[i]);
            return -1;
        }
    json_t *p = json_object_get(obj, "proactive");
    if (!p) return 0;
    if (!json_is_object(p)) {
        snprintf(err, errlen, "%s: proactive must be a table, e.g. { after_silence_ms = 3600000 }", what);
        return -1;
    }
    static const char *const known[] = { "after_silence_ms", "schedule", "quiet_hours", "utc_offset_min", "daily_cap",
                                         "min_gap_ms", "prompt", "enabled", NULL };
    const char *key;
    json_object_foreach(p, key, v) {
        int ok = 0;
        for (int i = 0; known[i]; i++) ok |= !strcmp(key, known[i]);
        if (!ok) {
            snprintf(err, errlen, "%s: proactive has no key '%s' (known: after_silence_ms, schedule, quiet_hours, "
                     "utc_offset_min, daily_cap, min_gap_ms, prompt, enabled)", what, key);
            return -1;
        }
    }
    if ((v = json_object_get(p, "after_silence_ms")) && (!json_is_integer(v) || json_integer_value(v) < 0)) {
        snprintf(err, errlen, "%s: proactive.after_silence_ms must be a whole number of milliseconds", what);
        return -1;
    }
    static const char *const counts[] = { "daily_cap", "min_gap_ms", "utc_offset_min", NULL };
    for (int i = 0; counts[i]; i++)
        if ((v = json_object_get(p, counts[i])) && !json_is_integer(v)) {
            snprintf(err, errlen, "%s: proactive.%s must be a whole number", what, counts[i]);
            return -1;
        }
    if ((v = json_object_get(p, "schedule"))) {
        struct schedule sch;
        char why[200];
        if (!json_is_string(v)) {
            snprintf(err, errlen, "%s: proactive.schedule must be a string such as \"0 9 * * *\" or \"every 4h\"", what);
            return -1;
        }
        if (schedule_parse(json_string_value(v), &sch, why, sizeof(why)) < 0) {
            snprintf(err, errlen, "%s: proactive.schedule: %s", what, why);
            return -1;
        }
    }
    if ((v = json_object_get(p, "quiet_hours"))) {
        int from, to;
        char why[160];
        if (manners_parse_quiet(json_string_value(v), &from, &to, why, sizeof(why)) < 0) {
            snprintf(err, errlen, "%s: proactive.%s", what, why);
            return -1;
        }
    }
    return 0;
}

static int lower(int c) {
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* A byte that belongs to an ASCII word. */
static int wordy(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

int manners_mentions(const char *text, const char *name) {
    size_t n = name ? strlen(name) : 0, len = strnlen(text, MAX_SCAN);
    if (n == 0 || n > len) return 0;
    int ascii_edges = wordy((unsigned char)name[0]) && wordy((unsigned char)name[n - 1]);
    for (size_t i = 0; i + n <= len; i++) {
        size_t k = 0;
        while (k < n && lower((unsigned char)text[i + k]) == lower((unsigned char)name[k])) k++;
        if (k < n) continue;
        if (!ascii_edges) return 1;
        if ((i == 0 || !wordy((unsigned char)text[i - 1])) && (i + n == len || !wordy((unsigned char)text[i + n])))
            return 1;
    }
    return 0;
}

int manners_is_question(const char *text) {
    static const char *const starts[] = { "what", "why", "how", "who", "when", "where", "which", "can", "could",
                                          "do", "does", "did", "is", "are", "will", "would", "should", "any", NULL };
    if (strchr(text, '?') || strstr(text, "\xef\xbc\x9f")) return 1;   /* ? or the full-width ？ */
    while (*text == ' ' || *text == '\t' || *text == '\n') text++;
    for (int i = 0; starts[i]; i++) {
        size_t n = strlen(starts[i]), k = 0;
        while (k < n && lower((unsigned char)text[k]) == starts[i][k]) k++;
        if (k == n && !wordy((unsigned char)text[n])) return 1;
    }
    return 0;
}

/* Does TEXT touch one of M's interests? */
static int interested(const struct manners *m, const char *text) {
    size_t i;
    json_t *v;
    json_array_foreach(m->interests, i, v)
        if (json_is_string(v) && manners_mentions(text, json_string_value(v))) return 1;
    return 0;
}

int manners_decide(const struct manners *m, const struct manners_seen *s, const char **why) {
    const char *text = s->text ? s->text : "";
    if (s->direct) return *why = "addressed", 1;
    if (m->reply == MANNERS_UNSET) return *why = "unaddressed", 0;
    if (m->reply == MANNERS_ALWAYS) return *why = "always", 1;
    for (int i = 0; i < 4 && s->names[i]; i++)
        if (manners_mentions(text, s->names[i])) return *why = "name", 1;
    if (m->reply != MANNERS_AUTO) return *why = "unaddressed", 0;
    const char *reason = NULL;
    if (s->spoke_at > 0 && (s->now - s->spoke_at) * 1000 <= (double)m->followup_ms && manners_is_question(text))
        reason = "followup";
    else if (interested(m, text))
        reason = "interest";
    if (!reason) return *why = "unrelated", 0;
    if (s->auto_at > 0 && (s->now - s->auto_at) * 1000 < (double)m->cooldown_ms) return *why = "cooldown", 0;
    if (s->roll >= m->probability) return *why = "probability", 0;
    return *why = reason, 1;
}
