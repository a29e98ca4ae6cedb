/* discord_commands.c - the slash command list and the text of an invoked
 * slash command (discord_commands.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "platforms/discord/discord_commands.h"
#include "core/commands.h"
#include "lib/log.h"
#include "lib/utf8.h"
#include "lib/xalloc.h"

#define OPTION_STRING 3
#define MAX_DESCRIPTION_CP 100
#define MAX_OPTIONS 25

/* Discord's rule for names, kept to ASCII: 1-32 of [a-z0-9_-]. */
static int valid_name(const char *name) {
    size_t n = name ? strlen(name) : 0;
    if (n < 1 || n > 32) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return 0;
    }
    return 1;
}

/* A description Discord accepts: 1-100 code points, never empty. */
static json_t *description(const char *text, const char *fallback) {
    if (!text || !*text) text = fallback;
    size_t n = utf8_prefix(text, strlen(text), MAX_DESCRIPTION_CP);
    return json_stringn(text, n);
}

/* The options of a skill command from its args, or NULL when one is unusable. */
static json_t *options_of(const struct command_entry *hd) {
    json_t *args = json_object_get(hd->spec, "args");
    json_t *out = json_array();
    int optional_seen = 0;
    size_t i;
    json_t *a;
    json_array_foreach(args, i, a) {
        const char *name = json_string_value(json_object_get(a, "name"));
        const char *type = json_string_value(json_object_get(a, "type"));
        if (!valid_name(name) || i >= MAX_OPTIONS) {
            log_warn("discord: command %s: argument \"%s\" cannot be a slash command option "
                     "(1-32 of a-z, 0-9, _ and -); the command is not registered", hd->name, name ? name : "?");
            json_decref(out);
            return NULL;
        }
        /* Discord wants required options first: after an optional one, none is required. */
        int optional = json_is_true(json_object_get(a, "optional")) || (type && !strcmp(type, "rest"));
        optional_seen |= optional;
        char fallback[64];
        snprintf(fallback, sizeof(fallback), "%s%s%s", name, type ? " " : "", type ? type : "");
        json_t *o = json_pack("{s:i, s:s, s:o, s:b}", "type", OPTION_STRING, "name", name, "description",
                              description(json_string_value(json_object_get(a, "help")), fallback),
                              "required", !optional_seen);
        json_array_append_new(out, o);
    }
    return out;
}

/* The `chorus` command: the operators' table, one free-text option. */
static json_t *operators_command(void) {
    return json_pack("{s:s, s:i, s:s, s:[{s:i, s:s, s:s, s:b}]}", "name", "chorus", "type", 1,
                     "description", "operators' commands (try: help, status)",
                     "options", "type", OPTION_STRING, "name", "command",
                     "description", "the command and its arguments, e.g. status", "required", 1);
}

/* Order commands by name for qsort. */
static int by_name(const void *a, const void *b) {
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "name"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "name"));
    return strcmp(x ? x : "", y ? y : "");
}

/* Sort LIST by name in place, so the same commands always make the same
 * list whatever order plugins were (re)loaded in. */
static void sort_by_name(json_t *list) {
    size_t n = json_array_size(list);
    json_t **items = n ? xmalloc(n * sizeof(*items)) : NULL;
    if (!items) return;
    for (size_t i = 0; i < n; i++) items[i] = json_incref(json_array_get(list, i));
    qsort(items, n, sizeof(*items), by_name);
    json_array_clear(list);
    for (size_t i = 0; i < n; i++) json_array_append_new(list, items[i]);
    free(items);
}

json_t *discord_commands_build(const struct command_list *l) {
    json_t *list = json_array();
    json_array_append_new(list, operators_command());
    for (size_t i = 0; l && i < l->n; i++) {
        const struct command_entry *hd = &l->items[i];
        /* A subcommand ("trivia start") is typed as a prefix command; its
         * parent ("trivia") is the slash command that lists them. */
        if (strchr(hd->name, ' ')) continue;
        if (!valid_name(hd->name) || !strcmp(hd->name, "chorus")) {
            log_warn("discord: command \"%s\" is not a valid slash command name (1-32 of a-z, 0-9, _ and -, "
                     "not \"chorus\"); it stays a prefix command only", hd->name);
            continue;
        }
        if (json_array_size(list) >= DISCORD_MAX_COMMANDS) {
            log_warn("discord: more than %d commands; \"%s\" and later ones are not registered", DISCORD_MAX_COMMANDS, hd->name);
            break;
        }
        json_t *options = options_of(hd);
        if (!options) continue;
        char fallback[64];
        snprintf(fallback, sizeof(fallback), "the %s command", hd->name);
        json_t *help = json_object_get(hd->spec, "help");
        json_array_append_new(list, json_pack("{s:s, s:i, s:o, s:o}", "name", hd->name, "type", 1,
                                              "description", description(json_string_value(help), fallback),
                                              "options", options));
    }
    sort_by_name(list);
    return list;
}

/* The value of option NAME in OPTIONS, as text, or NULL. */
static const char *option_value(json_t *options, const char *name, char *buf, size_t len) {
    size_t i;
    json_t *o;
    json_array_foreach(options, i, o) {
        const char *n = json_string_value(json_object_get(o, "name"));
        if (!n || strcmp(n, name)) continue;
        json_t *v = json_object_get(o, "value");
        if (json_is_string(v)) return json_string_value(v);
        if (json_is_integer(v)) snprintf(buf, len, "%lld", (long long)json_integer_value(v));
        else if (json_is_number(v)) snprintf(buf, len, "%g", json_number_value(v));
        else if (json_is_boolean(v)) snprintf(buf, len, "%s", json_is_true(v) ? "true" : "false");
        else return NULL;
        return buf;
    }
    return NULL;
}

/* V as one word of a typed command: "New York" in quotes when it has
 * spaces (the command parser keeps a quoted phrase whole; a quote inside
 * becomes an apostrophe, as it cannot be escaped). Caller frees. */
static char *quote_word(const char *v) {
    if (!strpbrk(v, " \t\r\n")) return xstrdup(v);
    size_t n = strlen(v);
    char *w = xmalloc(n + 3);
    if (!w) return NULL;
    w[0] = '"';
    for (size_t i = 0; i < n; i++) w[i + 1] = v[i] == '"' ? '\'' : v[i];
    w[n + 1] = '"';
    w[n + 2] = '\0';
    return w;
}

/* Append " WORD" to the growing text. Returns 0 or -1. */
static int append(char **text, size_t *len, const char *word) {
    size_t n = strlen(word);
    char *p = xrealloc(*text, *len + n + 2);
    if (!p) return -1;
    *text = p;
    p[(*len)++] = ' ';
    memcpy(p + *len, word, n + 1);
    *len += n;
    return 0;
}

char *discord_commands_text(const struct command_list *l, json_t *data) {
    const char *name = json_string_value(json_object_get(data, "name"));
    json_t *options = json_object_get(data, "options");
    if (!name || !l) return NULL;
    char buf[64];
    int operators = !strcmp(name, "chorus");
    char *text = xmalloc(strlen(operators ? l->operator_prefix : l->prefix) + strlen(name) + 1);
    if (!text) return NULL;
    if (operators) strcpy(text, l->operator_prefix);
    else sprintf(text, "%s%s", l->prefix, name);
    size_t len = strlen(text);
    if (operators) {
        const char *v = option_value(options, "command", buf, sizeof(buf));
        if (v && *v && append(&text, &len, v) < 0) {
            free(text);
            return NULL;
        }
        return text;
    }
    /* Arguments in the order the command declares them, whatever order Discord sends. */
    const struct command_entry *hd = command_list_find(l, name);
    json_t *args = hd ? json_object_get(hd->spec, "args") : NULL;
    size_t i;
    json_t *a;
    json_array_foreach(args, i, a) {
        const char *v = option_value(options, json_string_value(json_object_get(a, "name")), buf, sizeof(buf));
        const char *type = json_string_value(json_object_get(a, "type"));
        if (!v || !*v) continue;
        int rest = type && !strcmp(type, "rest");
        char *word = rest ? xstrdup(v) : quote_word(v);
        int rc = word ? append(&text, &len, word) : -1;
        free(word);
        if (rc < 0) {
            free(text);
            return NULL;
        }
    }
    return text;
}
