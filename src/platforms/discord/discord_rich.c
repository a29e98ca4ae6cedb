/* discord_rich.c - embeds and buttons in Discord's shapes (discord_rich.h):
 * https://discord.com/developers/docs/resources/message#embed-object and
 * .../interactions/message-components#button-object. */
#include <string.h>
#include "platforms/discord/discord_rich.h"

/* Button styles: primary 1, secondary 2, success 3, danger 4, link 5. */
static int style_of(const json_t *button) {
    const char *s = json_string_value(json_object_get(button, "style"));
    if (json_object_get(button, "url")) return 5;
    if (!s || !strcmp(s, "primary")) return 1;
    if (!strcmp(s, "secondary")) return 2;
    if (!strcmp(s, "success")) return 3;
    return 4;
}

/* One embed object from the checked embed E. */
static json_t *embed_json(const json_t *e) {
    json_t *o = json_object();
    const char *copy[] = { "title", "description", "url", "color" };
    for (int i = 0; i < 4; i++)
        if (json_object_get(e, copy[i])) json_object_set(o, copy[i], json_object_get(e, copy[i]));
    if (json_object_get(e, "image"))
        json_object_set_new(o, "image", json_pack("{s:O}", "url", json_object_get(e, "image")));
    if (json_object_get(e, "footer"))
        json_object_set_new(o, "footer", json_pack("{s:O}", "text", json_object_get(e, "footer")));
    if (json_object_get(e, "fields")) json_object_set(o, "fields", json_object_get(e, "fields"));
    return o;
}

/* Action rows (type 1) of buttons (type 2). */
static json_t *components_json(const json_t *rows) {
    json_t *out = json_array();
    size_t r, i;
    json_t *row, *b;
    json_array_foreach(rows, r, row) {
        json_t *buttons = json_array();
        json_array_foreach(row, i, b) {
            json_t *o = json_pack("{s:i, s:i, s:O}", "type", 2, "style", style_of(b), "label", json_object_get(b, "label"));
            if (json_object_get(b, "url")) json_object_set(o, "url", json_object_get(b, "url"));
            else json_object_set(o, "custom_id", json_object_get(b, "id"));
            json_array_append_new(buttons, o);
        }
        json_array_append_new(out, json_pack("{s:i, s:o}", "type", 1, "components", buttons));
    }
    return out;
}

json_t *discord_rich_fields(const json_t *rich, int ephemeral_allowed) {
    json_t *o = json_object();
    if (!rich) return o;
    if (json_object_get(rich, "embed"))
        json_object_set_new(o, "embeds", json_pack("[o]", embed_json(json_object_get(rich, "embed"))));
    if (json_object_get(rich, "buttons"))
        json_object_set_new(o, "components", components_json(json_object_get(rich, "buttons")));
    if (ephemeral_allowed && json_is_true(json_object_get(rich, "ephemeral")))
        json_object_set_new(o, "flags", json_integer(DISCORD_FLAG_EPHEMERAL));
    return o;
}
