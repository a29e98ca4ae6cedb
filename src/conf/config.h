/* config.h - the configuration file: a small declarative Lua language of calls.
 *
 * A config file is a list of statements such as
 *     listen "127.0.0.1:8080"
 *     persona "aiko" { prompt = "You are Aiko." }
 * Each statement becomes a config_block that keeps the line it came from, so
 * every later error can be reported as FILE:LINE. Modules declare the keys they
 * accept with config_schema_register() (see config_schema.h). */
#ifndef CHORUS_CONFIG_H
#define CHORUS_CONFIG_H

#include <stddef.h>
#include <jansson.h>

struct config_block {
    char *kind;        /* statement name: "listen", "persona", ... */
    char *name;        /* first string argument, or NULL */
    json_t *value;     /* non-name argument (scalar) or the options table, or NULL */
    int line;          /* line of the statement in the config file */
    struct config_block *next;
};

struct dict;

struct config {
    char *path;        /* absolute path of the file */
    char *dir;         /* its folder: relative paths resolve here */
    struct config_block *blocks;     /* in file order */
    struct dict *first_of_kind;      /* kind -> its first block, once loaded (config_first) */
    struct dict *named;              /* kind \x1f name -> its block, once loaded (config_find) */
    /* Resolved top-level settings. */
    char *listen_host;
    int listen_port;
    char *redis_url;
    json_t *redis_opts;              /* options table of `redis`, or NULL */
    char *admin_socket;              /* NULL: the default path */
    char *log_level;
    char *default_persona;
    char *web_root;                  /* folder of the chat page */
    char **plugin_dirs;              /* NULL-terminated */
    long shutdown_timeout_ms;
    long reply_max_chars;
};

/* Load and validate FILE. Returns 0, or -1 with a "FILE:LINE: sentence"
 * message in err (several errors are separated by newlines). */
int config_load(const char *file, struct config **out, char *err, size_t errlen);
void config_free(struct config *cfg);

/* Add B (taken over) as CFG's last statement, found by the lookups below. */
void config_append(struct config *cfg, struct config_block *b);
/* Blocks of one kind, in file order: iterate with config_next(). */
struct config_block *config_first(const struct config *cfg, const char *kind);
struct config_block *config_next(struct config_block *b, const char *kind);
struct config_block *config_find(const struct config *cfg, const char *kind, const char *name);

/* Typed accessors on a block's option table (defaults when absent). */
const char *config_str(const struct config_block *b, const char *key, const char *def);
long config_int(const struct config_block *b, const char *key, long def);
int config_bool(const struct config_block *b, const char *key, int def);

/* Resolve PATH against the config file's folder; returns a malloc'd string. */
char *config_path(const struct config *cfg, const char *path);

/* Apply CHORUS_LISTEN and CHORUS_REDIS_URL over the file. Returns -1 with err
 * on a malformed value. */
int config_apply_env(struct config *cfg, char *err, size_t errlen);

/* Split "host:port" (or "[v6]:port"). Returns 0 or -1. */
int config_parse_hostport(const char *s, char **host, int *port);

#endif
