/* tool_calls.c - tool-call fragments merged into calls (see tool_calls.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/tool_calls.h"
#include "lib/xalloc.h"

void tool_calls_init(struct tool_calls *t, size_t max_bytes) {
    memset(t, 0, sizeof(*t));
    t->max_bytes = max_bytes ? max_bytes : (1u << 20);
}

void tool_calls_free(struct tool_calls *t) {
    for (int i = 0; i < t->n; i++) {
        free(t->slots[i].id);
        free(t->slots[i].name);
        free(t->slots[i].args);
    }
    free(t->slots);
    memset(t, 0, sizeof(*t));
}

/* Follow the JSON nesting of appended arguments, so whether they are
 * whole is known without reading them again (fragments can be tiny). */
static void track_json(struct tool_slot *s, const char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (s->in_string) {
            if (s->escaped) s->escaped = 0;
            else if (ch == '\\') s->escaped = 1;
            else if (ch == '"') s->in_string = 0;
        } else if (ch == '"') {
            s->in_string = 1;
        } else if (ch == '{' || ch == '[') {
            s->depth++;
            s->opened = 1;
        } else if ((ch == '}' || ch == ']') && s->depth > 0) {
            s->depth--;
        }
    }
}

/* Is the call done, so that a fragment naming NAME under a new id is the
 * next call? Its arguments form a whole JSON object or array, or it has
 * none and another function is named (a call without parameters). */
static int slot_done(const struct tool_slot *s, const char *name) {
    if (s->opened && s->depth == 0 && !s->in_string) return 1;
    return s->alen == 0 && s->name && strcmp(s->name, name) != 0;
}

/* The call a fragment belongs to: by id when it has one, else the latest
 * call at its index; a new one when neither matches. A new id at a known
 * index is a new call only if it names a function and the call there is
 * done (see tool_calls.h). */
static struct tool_slot *slot_for(struct tool_calls *t, long index, const char *id, const char *name) {
    struct tool_slot *last = NULL;
    for (int i = 0; i < t->n; i++) {
        struct tool_slot *s = &t->slots[i];
        if (id && s->id && !strcmp(s->id, id)) return s;
        if (s->index == index) last = s;
    }
    if (last && (!id || !last->id || !name || !slot_done(last, name))) return last;
    if (t->n == t->cap) {
        int cap = t->cap ? t->cap * 2 : 4;
        struct tool_slot *p = xrealloc(t->slots, (size_t)cap * sizeof(*p));
        if (!p) return NULL;
        t->slots = p;
        t->cap = cap;
    }
    struct tool_slot *s = &t->slots[t->n++];
    memset(s, 0, sizeof(*s));
    s->index = index;
    return s;
}

int tool_calls_add(struct tool_calls *t, long index, const char *id, const char *name, const char *args, size_t args_len) {
    size_t more = args_len + (name ? strlen(name) : 0) + (id ? strlen(id) : 0);
    if (t->bytes + more > t->max_bytes) return -1;
    t->bytes += more;
    struct tool_slot *s = slot_for(t, index, id && *id ? id : NULL, name && *name ? name : NULL);
    if (!s) return -1;
    if (id && *id && !s->id) s->id = xstrdup(id);
    if (name && *name) {
        /* The name normally comes once; a server repeating it whole is not appending. */
        if (!s->name) s->name = xstrdup(name);
        else if (strcmp(s->name, name)) {
            size_t a = strlen(s->name), b = strlen(name);
            char *n = xrealloc(s->name, a + b + 1);
            if (!n) return -1;
            memcpy(n + a, name, b + 1);
            s->name = n;
        }
    }
    if (args && args_len) {
        if (s->alen + args_len + 1 > s->acap) {
            size_t cap = s->acap ? s->acap : 64;
            while (cap < s->alen + args_len + 1) cap *= 2;
            char *p = xrealloc(s->args, cap);
            if (!p) return -1;
            s->args = p;
            s->acap = cap;
        }
        memcpy(s->args + s->alen, args, args_len);
        track_json(s, args, args_len);
        s->alen += args_len;
        s->args[s->alen] = '\0';
    }
    return 0;
}

json_t *tool_calls_json(const struct tool_calls *t) {
    if (t->n == 0) return NULL;
    json_t *out = json_array();
    for (int i = 0; i < t->n; i++) {
        const struct tool_slot *s = &t->slots[i];
        char id[32];
        snprintf(id, sizeof(id), "call_%d", i);
        json_array_append_new(out, json_pack("{s:s, s:s, s:s}", "id", s->id ? s->id : id, "name", s->name ? s->name : "",
                                             "arguments", s->alen ? s->args : "{}"));
    }
    return out;
}
