/* modules.c - the module table (modules.h).
 *
 * Lower layers never call up: each registers through a table entry here.
 * Adding a chat platform is a folder under src/platforms/ and one line in
 * `modules` below. */
#include <stddef.h>
#include <stdio.h>
#include "app/modules.h"
#include "bus/bus.h"
#include "conf/config.h"
#include "conf/config_schema.h"
#include "core/commands.h"
#include "core/core_config.h"
#include "core/health.h"
#include "core/platform.h"
#include "core/runtime.h"
#include "core/server.h"
#include "io/redis_client.h"
#include "io/web.h"
#include "lib/log.h"
#include "model/budget.h"
#include "model/model.h"
#include "model/router.h"
#include "ops/admin_http.h"
#include "ops/operator.h"
#include "ops/operator_chat.h"
#include "persona/ledger.h"
#include "persona/persona.h"
#include "pipeline/channel.h"
#include "platforms/discord/discord.h"
#include "platforms/onebot/onebot.h"
#include "platforms/slack/slack.h"
#include "platforms/mattermost/mattermost.h"
#include "platforms/telegram/telegram.h"
#include "platforms/irc/irc.h"
#include "platforms/test/testchat.h"
#include "platforms/webchat/webchat.h"
#include "skills/skills.h"
#include "skills/webhook.h"

/* ---- what each generation builds -------------------------------------- */

static int personas_build(struct runtime *rt, char *err, size_t errlen) {
    (void)err, (void)errlen;
    rt->personas = persona_set_new(rt->cfg);
    return 0;
}

static void personas_free(struct runtime *rt) {
    persona_set_free(rt->personas);
}

static int models_build(struct runtime *rt, char *err, size_t errlen) {
    (void)err, (void)errlen;
    rt->models = model_set_new(rt->cfg);
    return 0;
}

static void models_free(struct runtime *rt) {
    model_set_free(rt->models);
}

static int skills_build(struct runtime *rt, char *err, size_t errlen) {
    rt->skills = skill_host_new(rt, err, errlen);
    return rt->skills ? 0 : -1;
}

static void skills_free(struct runtime *rt) {
    skill_host_free(rt->skills);
}

static const struct runtime_part personas_part = { "personas", personas_build, personas_free };
static const struct runtime_part models_part = { "models", models_build, models_free };
static const struct runtime_part skills_part = { "skills", skills_build, skills_free };

/* ---- the table ------------------------------------------------------- */

struct module {
    const char *name;
    void (*config)(void);                  /* declares its config statements */
    const struct runtime_part *part;       /* built with each config generation */
    void (*install)(void);                 /* routes and hooks */
    const struct platform_ops *platform;   /* a chat platform adapter */
    int test_only;                         /* only in the plugin test kit */
};

static const struct module modules[] = {
    { "core", core_config_register, NULL, health_routes_add, NULL, 0 },
    { "models", model_config_register, &models_part, NULL, NULL, 0 },
    { "personas", persona_config_register, &personas_part, NULL, NULL, 0 },
    { "skills", skills_config_register, &skills_part, webhook_routes_add, NULL, 0 },
    { "router", router_config_register, NULL, NULL, NULL, 0 },
    { "budget", budget_config_register, NULL, NULL, NULL, 0 },
    { "operators", operator_config_register, NULL, operator_chat_install, NULL, 0 },
    { "ledger", ledger_config_register, NULL, admin_http_routes_add, NULL, 0 },
    { "bus", bus_config_register, NULL, NULL, NULL, 0 },
    /* Chat platforms: one line each. */
    { "webchat", NULL, NULL, NULL, &webchat_platform, 0 },
    { "discord", discord_config_register, NULL, NULL, &discord_platform, 0 },
    { "onebot", onebot_config_register, NULL, NULL, &onebot_platform, 0 },
    { "slack", slack_config_register, NULL, NULL, &slack_platform, 0 },
    { "mattermost", mattermost_config_register, NULL, NULL, &mattermost_platform, 0 },
    { "telegram", telegram_config_register, NULL, NULL, &telegram_platform, 0 },
    { "irc", irc_config_register, NULL, NULL, &irc_platform, 0 },
    { "test", NULL, NULL, NULL, &testchat_platform, 1 },
};

#define NMODULES (sizeof(modules) / sizeof(modules[0]))

/* ---- what every platform is lent -------------------------------------- */

static struct lws_context *host_lws(void) {
    return web_context(server.web);
}

static struct redis_client *host_redis(void) {
    return server.redis;
}

static struct command_list *host_commands(void) {
    if (!server.rt || !server.rt->skills) return NULL;
    return skills_command_list(server.rt->skills, operator_prefix());
}

static const char *host_fallback_persona(void) {
    return server.rt && server.rt->personas ? server.rt->personas->fallback->name : "chorus";
}

static int host_stopping(void) {
    return server.stopping;
}

static enum bus_role host_role_now = BUS_ROLE_ALL;

static const char *host_role(void) {
    return bus_role_name(host_role_now);
}

static struct redis_client *host_redis_open(long extra_ms, char *err, size_t errlen) {
    struct redis_options ro;
    if (!server.redis_url || !server.rt) {
        snprintf(err, errlen, "Redis is not configured");
        return NULL;
    }
    redis_options_from_json(&ro, server.rt->cfg->redis_opts);
    ro.timeout_ms += extra_ms;
    return redis_client_new(server.loop, server.redis_url, &ro, err, errlen);
}

static struct platform_host host = {
    .lws = host_lws,
    .redis = host_redis,
    .commands = host_commands,
    .fallback_persona = host_fallback_persona,
    .stopping = host_stopping,
    .role = host_role,
    .redis_open = host_redis_open,
};

void modules_register(void) {
    static int done;
    if (done) return;
    done = 1;
    for (size_t i = 0; i < NMODULES; i++) {
        if (modules[i].config) modules[i].config();
        if (modules[i].part) runtime_add_part(modules[i].part);
        if (modules[i].install) modules[i].install();
    }
    platform_set_sink(channel_enqueue);
}

void modules_platforms_start(const struct config *cfg, int test_mode) {
    host.loop = server.loop;
    host.http = server.http;
    platform_reset();
    for (size_t i = 0; i < NMODULES; i++) {
        const struct platform_ops *ops = modules[i].platform;
        if (!ops || (modules[i].test_only && !test_mode)) continue;
        const struct config_block *b = ops->config_kind && cfg ? config_first(cfg, ops->config_kind) : NULL;
        if (ops->config_kind && !b) continue;
        if (!platform_add(ops, &host, b)) log_error("platform %s could not be set up", ops->name);
    }
    channel_init();
    for (int i = 0; platform_at(i); i++) {
        struct platform *p = platform_at(i);
        if (p->ops->start && p->ops->start(p) < 0) log_error("platform %s failed to start", p->ops->name);
    }
}

int modules_role_start(const struct config *cfg, enum bus_role role, char *err, size_t errlen) {
    struct bus_settings s;
    bus_settings_from_config(cfg, &s);
    host_role_now = role;
    if (role == BUS_ROLE_GATEWAY) {
        modules_platforms_start(cfg, 0);
        return bus_gateway_start(&s, err, errlen);
    }
    if (role == BUS_ROLE_WORKER) {
        /* No connections of its own: stand-ins for the gateways' platforms. */
        host.loop = server.loop;
        host.http = server.http;
        platform_reset();
        channel_init();
        if (bus_worker_start(&s, &host, channel_enqueue, err, errlen) < 0) return -1;
        for (size_t i = 0; i < NMODULES; i++) {
            const struct platform_ops *ops = modules[i].platform;
            if (!ops || modules[i].test_only || (ops->config_kind && !config_first(cfg, ops->config_kind))) continue;
            bus_worker_platform(ops->name);
        }
        return 0;
    }
    modules_platforms_start(cfg, 0);
    return 0;
}
