/* bus_config.c - the `scale { ... }` statement (bus.h). Every role reads
 * the same file, so every key means the same thing in each process. */
#include <stdio.h>
#include <string.h>
#include "bus/bus.h"
#include "conf/config.h"
#include "conf/config_schema.h"

/* Sizes and times must be positive. */
static int validate_scale(const struct config *cfg, const struct config_block *b, char *err, size_t errlen) {
    static const char *positive[] = { "partitions", "block_ms", "lease_ms", "heartbeat_ms", "visibility_timeout_ms",
                                      "dedupe_ttl_s", "batch", "max_inflight", "delta_ms", "delta_max", NULL };
    (void)cfg;
    for (int i = 0; positive[i]; i++) {
        json_t *v = b->value ? json_object_get(b->value, positive[i]) : NULL;
        if (v && json_integer_value(v) <= 0) {
            snprintf(err, errlen, "scale: %s must be a positive whole number", positive[i]);
            return -1;
        }
    }
    if (config_int(b, "partitions", 16) > 1024) {
        snprintf(err, errlen, "scale: partitions must be at most 1024");
        return -1;
    }
    const char *gw = config_str(b, "gateway", "main");
    if (!*gw || strlen(gw) > 60 || strpbrk(gw, "{} \t\r\n")) {
        snprintf(err, errlen, "scale: gateway must be a short name without spaces or braces");
        return -1;
    }
    return 0;
}

static const struct config_key scale_keys[] = {
    { "partitions", CONFIG_INT, 0, "ingress partitions (streams), default 16; the same in every process" },
    { "block_ms", CONFIG_INT, 0, "longest blocking read, default 10000" },
    { "lease_ms", CONFIG_INT, 0, "partition lease, worker and gateway membership lifetime, default 10000" },
    { "heartbeat_ms", CONFIG_INT, 0, "lease renewal and rebalancing interval (lease_ms / 3 when unset)" },
    { "visibility_timeout_ms", CONFIG_INT, 0, "idle time after which another worker claims an entry, default 30000" },
    { "dedupe_ttl_s", CONFIG_INT, 0, "how long event ids and reply keys are remembered, default 86400" },
    { "batch", CONFIG_INT, 0, "entries per read, default 64" },
    { "max_inflight", CONFIG_INT, 0, "entries one worker holds at once, default 256" },
    { "delta_ms", CONFIG_INT, 0, "streamed reply pieces are gathered this long before a worker forwards them, default 250" },
    { "delta_max", CONFIG_INT, 0, "most forwarded pieces per streamed reply (the final text always follows), default 64" },
    { "gateway", CONFIG_STRING, 0, "the name gateways of one config share (their egress streams and live set), default \"main\"" },
    { NULL, CONFIG_NONE, 0, NULL }
};

static const struct config_schema scale_schema = {
    .kind = "scale", .value = CONFIG_TABLE, .keys = scale_keys, .validate = validate_scale,
};

void bus_config_register(void) {
    config_schema_register(&scale_schema);
}

void bus_settings_from_config(const struct config *cfg, struct bus_settings *s) {
    const struct config_block *b = cfg ? config_first(cfg, "scale") : NULL;
    s->partitions = config_int(b, "partitions", 16);
    s->block_ms = config_int(b, "block_ms", 10000);
    s->lease_ms = config_int(b, "lease_ms", 10000);
    s->heartbeat_ms = config_int(b, "heartbeat_ms", s->lease_ms / 3 > 0 ? s->lease_ms / 3 : 1);
    s->visibility_ms = config_int(b, "visibility_timeout_ms", 30000);
    s->dedupe_ttl_s = config_int(b, "dedupe_ttl_s", 86400);
    s->batch = config_int(b, "batch", 64);
    s->max_inflight = config_int(b, "max_inflight", 256);
    s->delta_ms = config_int(b, "delta_ms", 250);
    s->delta_max = config_int(b, "delta_max", 64);
    snprintf(s->gateway, sizeof(s->gateway), "%s", config_str(b, "gateway", "main"));
}

int bus_role_parse(const char *s, enum bus_role *out) {
    if (!strcmp(s, "all")) *out = BUS_ROLE_ALL;
    else if (!strcmp(s, "gateway")) *out = BUS_ROLE_GATEWAY;
    else if (!strcmp(s, "worker")) *out = BUS_ROLE_WORKER;
    else return -1;
    return 0;
}

const char *bus_role_name(enum bus_role r) {
    return r == BUS_ROLE_GATEWAY ? "gateway" : r == BUS_ROLE_WORKER ? "worker" : "all";
}
