/* runtime.c - build and release config generations. */
#include <stdlib.h>
#include "conf/config.h"
#include "model/model.h"
#include "persona/persona.h"
#include "lib/redact.h"
#include "core/runtime.h"
#include "skills/skills.h"

struct runtime *runtime_new(struct config *cfg, char *err, size_t errlen) {
    struct runtime *rt = calloc(1, sizeof(*rt));
    rt->refs = 1;
    rt->cfg = cfg;
    rt->personas = persona_set_new(cfg);
    struct config_block *tb = config_first(cfg, "admin_token");
    if (tb && json_is_string(tb->value)) redact_add_secret(json_string_value(tb->value));
    rt->models = model_set_new(cfg);
    rt->limits.history_turns = cfg->redis_opts ? (long)json_integer_value(json_object_get(cfg->redis_opts, "history_turns")) : 0;
    rt->limits.ttl_s = cfg->redis_opts ? (long)json_integer_value(json_object_get(cfg->redis_opts, "history_ttl_s")) : 0;
    if (rt->limits.history_turns <= 0) rt->limits.history_turns = 40;
    if (rt->limits.ttl_s <= 0) rt->limits.ttl_s = 2592000;
    rt->skills = skill_host_new(rt, err, errlen);
    if (!rt->skills) {
        rt->refs = 0;
        runtime_release(rt);
        return NULL;
    }
    return rt;
}

struct runtime *runtime_acquire(struct runtime *rt) {
    rt->refs++;
    return rt;
}

void runtime_release(struct runtime *rt) {
    if (!rt || --rt->refs > 0) return;
    skill_host_free(rt->skills);
    model_set_free(rt->models);
    persona_set_free(rt->personas);
    config_free(rt->cfg);
    free(rt);
}
