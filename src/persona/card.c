/* card.c - read a character card in any of its three wrappings and check it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "persona/card.h"
#include "persona/lorebook.h"
#include "lib/xalloc.h"

static const char *const string_fields[] = {
    "description", "personality", "scenario", "first_mes", "mes_example", "creator_notes", "system_prompt",
    "post_history_instructions", "creator", "character_version", "nickname", NULL
};
static const char *const list_fields[] = { "alternate_greetings", "tags", "group_only_greetings", NULL };

/* Every string field is a string ("" when absent), every list a list of strings. */
static int check_fields(json_t *data, char *err, size_t errlen) {
    for (int i = 0; string_fields[i]; i++) {
        json_t *v = json_object_get(data, string_fields[i]);
        if (!v || json_is_null(v)) {
            if (strcmp(string_fields[i], "nickname")) json_object_set_new(data, string_fields[i], json_string(""));
            else json_object_del(data, "nickname");
        } else if (!json_is_string(v)) {
            snprintf(err, errlen, "data.%s: expected a string", string_fields[i]);
            return -1;
        }
    }
    for (int i = 0; list_fields[i]; i++) {
        json_t *v = json_object_get(data, list_fields[i]);
        if (!v || json_is_null(v)) {
            json_object_set_new(data, list_fields[i], json_array());
            continue;
        }
        size_t k;
        json_t *e;
        if (!json_is_array(v)) {
            snprintf(err, errlen, "data.%s: expected a list of strings", list_fields[i]);
            return -1;
        }
        json_array_foreach(v, k, e) if (!json_is_string(e)) {
            snprintf(err, errlen, "data.%s[%zu]: expected a string", list_fields[i], k);
            return -1;
        }
    }
    json_t *ext = json_object_get(data, "extensions");
    if (!ext || json_is_null(ext)) json_object_set_new(data, "extensions", json_object());
    else if (!json_is_object(ext)) {
        snprintf(err, errlen, "data.extensions: expected an object");
        return -1;
    }
    return 0;
}

int card_check(json_t *card, char *err, size_t errlen) {
    if (!json_is_object(card)) {
        snprintf(err, errlen, "card: not a JSON object");
        return -1;
    }
    const char *spec = json_string_value(json_object_get(card, "spec"));
    if (!spec) {
        snprintf(err, errlen, "spec: missing (expected \"chara_card_v2\" or \"chara_card_v3\")");
        return -1;
    }
    if (strcmp(spec, "chara_card_v2") && strcmp(spec, "chara_card_v3")) {
        snprintf(err, errlen, "spec: \"%.40s\" is not \"chara_card_v2\" or \"chara_card_v3\"", spec);
        return -1;
    }
    json_t *data = json_object_get(card, "data");
    if (!json_is_object(data)) {
        snprintf(err, errlen, "data: missing (a %s card keeps its fields under \"data\")", spec);
        return -1;
    }
    json_t *name = json_object_get(data, "name");
    if (!json_is_string(name) || json_string_length(name) == 0) {
        snprintf(err, errlen, "data.name: missing");
        return -1;
    }
    if (json_string_length(name) > 200) {
        snprintf(err, errlen, "data.name: longer than 200 bytes");
        return -1;
    }
    if (check_fields(data, err, errlen) < 0) return -1;
    json_t *book = json_object_get(data, "character_book");
    if (json_is_null(book)) json_object_del(data, "character_book");
    else if (book) {
        struct lorebook *lb = lorebook_compile(book, "data.character_book", err, errlen);
        if (!lb) return -1;
        lorebook_free(lb);
    }
    json_object_set_new(card, "spec", json_string("chara_card_v3"));
    json_object_set_new(card, "spec_version", json_string("3.0"));
    return 0;
}

/* Parse TEXT as card JSON and check it. */
static json_t *card_from_text(const char *text, size_t len, const char *where, char *err, size_t errlen) {
    if (len > CARD_JSON_MAX) {
        snprintf(err, errlen, "%s: %zu bytes, over the %u-byte limit", where, len, CARD_JSON_MAX);
        return NULL;
    }
    json_error_t jerr;
    json_t *card = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!card) {
        snprintf(err, errlen, "%s: not JSON (%s at line %d)", where, jerr.text, jerr.line);
        return NULL;
    }
    if (card_check(card, err, errlen) < 0) {
        json_decref(card);
        return NULL;
    }
    return card;
}

json_t *card_parse(const unsigned char *buf, size_t len, char *err, size_t errlen) {
    if (len > CARD_FILE_MAX) {
        snprintf(err, errlen, "file: %zu bytes, over the %u-byte limit", len, CARD_FILE_MAX);
        return NULL;
    }
    size_t n = 0;
    if (len >= 8 && buf[0] == 0x89 && !memcmp(buf + 1, "PNG", 3)) {
        char *text = card_png_json(buf, len, &n, err, errlen);
        if (!text) return NULL;
        json_t *card = card_from_text(text, n, "png", err, errlen);
        free(text);
        return card;
    }
    if (len >= 4 && !memcmp(buf, "PK\003\004", 4)) {
        char *text = card_zip_file(buf, len, "card.json", CARD_JSON_MAX, &n, err, errlen);
        if (!text) return NULL;
        json_t *card = card_from_text(text, n, "card.json", err, errlen);
        free(text);
        return card;
    }
    return card_from_text((const char *)buf, len, "card", err, errlen);
}

json_t *card_load_file(const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 65536, len = 0;
    unsigned char *buf = xmalloc(cap);
    for (;;) {
        if (len == cap) {
            if (cap > CARD_FILE_MAX) break;
            buf = xrealloc(buf, cap *= 2);
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        if (got == 0) break;
        len += got;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        snprintf(err, errlen, "%s: cannot read", path);
        return NULL;
    }
    char why[400];
    json_t *card = card_parse(buf, len, why, sizeof(why));
    free(buf);
    if (!card) snprintf(err, errlen, "%s: %s", path, why);
    return card;
}

void card_slug(const char *name, char *out, size_t outlen) {
    size_t n = 0;
    int dash = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p && n + 1 < outlen && n < 48; p++) {
        unsigned char c = *p;
        if (c >= 'A' && c <= 'Z') c = (unsigned char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') {
            if (dash && n > 0) out[n++] = '-';
            if (n + 1 < outlen) out[n++] = (char)c;
            dash = 0;
        } else if (c == ' ' || c == '-' || c == '.') {
            dash = 1;
        }
    }
    if (n == 0) n = (size_t)snprintf(out, outlen, "card");
    out[n < outlen ? n : outlen - 1] = '\0';
}

void card_revision(const json_t *card, char out[17]) {
    char *text = json_dumps(card, JSON_COMPACT | JSON_SORT_KEYS);
    unsigned long long h = 1469598103934665603ull;
    for (const char *p = text ? text : ""; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    free(text);
    snprintf(out, 17, "%016llx", h);
}
