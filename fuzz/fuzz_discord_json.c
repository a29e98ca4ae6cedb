/* fuzz_discord_json.c - Discord gateway payloads and REST answers.
 *
 * The gateway and the REST client parse with json_fast_loadb(), which
 * promises exactly what json_loadb(buf, len, 0, err) gives: the fuzzer
 * compares the two on every input (value, or failure and error position).
 * Parsed objects then go through the event readers the adapter uses
 * (reactions, edits, slash commands and their options as command text). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "core/commands.h"
#include "core/message.h"
#include "lib/json_fast.h"
#include "platforms/discord/discord_commands.h"
#include "platforms/discord/discord_events.h"

/* discord_events.c stamps messages with the server clock; the fuzzer has
 * no server. */
double server_now(void) {
    return 0;
}

static struct command_list *commands;

/* A catalogue with commands of every argument kind, built once. */
static void make_commands(void) {
    commands = command_list_new("!", "!chorus");
    json_t *spec = json_loads("{\"help\":\"h\",\"args\":[{\"name\":\"who\",\"type\":\"string\"},"
                              "{\"name\":\"n\",\"type\":\"integer\",\"optional\":true},"
                              "{\"name\":\"rest\",\"type\":\"rest\",\"optional\":true}]}", 0, NULL);
    command_list_add(commands, "remind", spec);
    command_list_add(commands, "ping", json_object_get(spec, "nothing") ? spec : json_object());
    json_decref(spec);
}

/* Run every event reader on D, as the adapter would on a dispatch. */
static void read_events(json_t *d) {
    struct chat_message m;
    memset(&m, 0, sizeof(m));
    if (discord_reaction_event(d, "42", &m) == 0 && (!m.channel || !m.author.id)) abort();
    memset(&m, 0, sizeof(m));
    if (discord_edit_event(d, NULL, &m) == 0 && (!m.channel || !m.author.id || !m.text)) abort();
    json_t *data = json_object_get(d, "data");
    char *text = discord_commands_text(commands, data ? data : d);
    memset(&m, 0, sizeof(m));
    discord_interaction_event(d, text ? text : "!ping", &m);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!commands) make_commands();
    json_error_t e1, e2;
    json_t *fast = json_fast_loadb((const char *)data, size, &e1);
    json_t *ref = json_loadb((const char *)data, size, 0, &e2);
    if (!fast != !ref) {
        fprintf(stderr, "json_fast %s, json_loadb %s (%s)\n", fast ? "parsed" : "failed", ref ? "parsed" : "failed",
                fast ? e2.text : e1.text);
        abort();
    }
    if (ref && !json_equal(fast, ref)) {
        fprintf(stderr, "json_fast and json_loadb parsed different values\n");
        abort();
    }
    if (!ref && (e1.position != e2.position || e1.line != e2.line || strcmp(e1.text, e2.text) != 0)) {
        fprintf(stderr, "errors differ: fast \"%s\" at %d, jansson \"%s\" at %d\n", e1.text, e1.position, e2.text,
                e2.position);
        abort();
    }
    /* The payload's "d", or the REST answer itself. */
    if (json_is_object(fast)) {
        json_t *d = json_object_get(fast, "d");
        read_events(json_is_object(d) ? d : fast);
    }
    json_decref(fast);
    json_decref(ref);
    return 0;
}
