/* commands.c - the command catalogue snapshot (commands.h). */
#include <stdlib.h>
#include <string.h>
#include "core/commands.h"
#include "lib/xalloc.h"

struct command_list *command_list_new(const char *prefix, const char *operator_prefix) {
    struct command_list *l = xcalloc(1, sizeof(*l));
    l->prefix = xstrdup(prefix ? prefix : "!");
    l->operator_prefix = xstrdup(operator_prefix ? operator_prefix : "");
    return l;
}

int command_list_add(struct command_list *l, const char *name, json_t *spec) {
    if (!name) return -1;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->items = xrealloc(l->items, l->cap * sizeof(*l->items));
    }
    l->items[l->n].name = xstrdup(name);
    l->items[l->n].spec = spec ? json_incref(spec) : json_object();
    l->n++;
    return 0;
}

const struct command_entry *command_list_find(const struct command_list *l, const char *name) {
    for (size_t i = 0; l && name && i < l->n; i++)
        if (!strcmp(l->items[i].name, name)) return &l->items[i];
    return NULL;
}

void command_list_free(struct command_list *l) {
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].name);
        json_decref(l->items[i].spec);
    }
    free(l->items);
    free(l->prefix);
    free(l->operator_prefix);
    free(l);
}
