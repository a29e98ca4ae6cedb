/* chorusctl - administer a running chorusd over its admin socket.
 *
 * Usage: chorusctl COMMAND [ARGS] [--socket PATH] [--json] [--csv]
 * The global flags go anywhere on the line, as with git and kubectl ("--"
 * ends them). It sends one JSON line and prints the answer, as text for
 * people or as the command's structured data with --json. A blocking
 * client is right here: this is a short-lived command, not the daemon. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <jansson.h>
#include "lib/xalloc.h"
#include "persona/card.h"

/* Where the systemd unit (contrib/chorusd.service) has chorusd listen. */
#define SERVICE_SOCKET "/run/chorus/chorusd.sock"

/* The daemon's own default admin socket path (keep in step with admin.c). */
static const char *daemon_default_path(void) {
    static char path[512];
    const char *dir = getenv("XDG_RUNTIME_DIR");
    if (dir && *dir) snprintf(path, sizeof(path), "%s/chorusd.sock", dir);
    else if (geteuid() == 0) snprintf(path, sizeof(path), "/run/chorusd.sock");
    else snprintf(path, sizeof(path), "/tmp/chorusd-%u.sock", (unsigned)geteuid());
    return path;
}

static int is_socket(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* The socket to use without --socket: $CHORUS_ADMIN_SOCKET, else the
 * daemon's default for this user if something is there, else the
 * service's (/run/chorus/chorusd.sock), else the daemon's default. */
static const char *default_path(void) {
    const char *env = getenv("CHORUS_ADMIN_SOCKET");
    if (env && *env) return env;
    const char *mine = daemon_default_path();
    if (is_socket(mine)) return mine;
    if (is_socket(SERVICE_SOCKET)) return SERVICE_SOCKET;
    return mine;
}

static void usage(FILE *out) {
    fprintf(out,
            "Usage: chorusctl COMMAND [ARGS] [--socket PATH] [--json] [--csv]\n"
            "\n"
            "Commands:\n"
            "  status                  platforms, Redis, jobs, plugins, personas, model deployments' health\n"
            "  reload                  re-read the config and plugins (like SIGHUP)\n"
            "  plugins list            loaded plugins, their versions and memory\n"
            "  plugins reload [NAME]   reload one plugin (or all, and load new plugin folders) from\n"
            "                          disk; a broken new version is refused and the old one keeps running\n"
            "  plugins enable|disable NAME [--channel C | --everywhere]\n"
            "  ping                    check that the daemon answers\n"
            "  top [--once]            a live view: connections, messages/s, model calls, spend\n"
            "  ledger [--persona P] [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--csv]\n"
            "                          (no persona: every persona; default: the last 7 days)\n"
            "  audit [N]               the newest admin actions\n"
            "  persona import FILE [--name NAME]   a character card (V2/V3 JSON, PNG, CHARX) as a persona\n"
            "  persona export NAME     the persona as a V3 card (JSON on stdout)\n"
            "  persona preview NAME --channel platform:channel TEXT   the prompt, without a model call\n"
            "  reply addressed|auto|always|default --channel platform:channel   when the persona answers there\n"
            "  proactive off|on --channel platform:channel   stop or allow speaking first there\n"
            "  completion              bash completion: source <(chorusctl completion)\n"
            "  help                    every operator command (persona, plugins, op, ban, mute, quota, say, ...)\n"
            "\n"
            "Flags (anywhere on the line; \"--\" ends them):\n"
            "  -s, --socket PATH  admin socket (default: $CHORUS_ADMIN_SOCKET, else %s if it\n"
            "                     exists, else the service's " SERVICE_SOCKET ")\n"
            "  -j, --json         print the command's structured data as JSON\n"
            "      --csv          ledger rows as CSV\n", daemon_default_path());
}

/* Send REQUEST and read one line of answer. Returns a malloc'd line or NULL. */
static char *roundtrip(const char *path, const char *request) {
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        fprintf(stderr, "chorusctl: cannot connect to %s: %s (is chorusd running? see --socket)\n", path, strerror(errno));
        if (fd >= 0) close(fd);
        return NULL;
    }
    size_t len = strlen(request);
    if (write(fd, request, len) != (ssize_t)len || write(fd, "\n", 1) != 1) {
        fprintf(stderr, "chorusctl: cannot send to %s: %s\n", path, strerror(errno));
        close(fd);
        return NULL;
    }
    size_t cap = 4096, used = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (used + 1 >= cap) buf = xrealloc(buf, cap *= 2);
        ssize_t n = read(fd, buf + used, cap - used - 1);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        used += (size_t)n;
        if (memchr(buf, '\n', used)) break;
    }
    close(fd);
    buf[used] = '\0';
    if (used == 0) {
        fprintf(stderr, "chorusctl: chorusd closed the connection without answering\n");
        free(buf);
        return NULL;
    }
    return buf;
}

/* Every process sharing the Redis, one line each: what it holds, how far
 * behind it is, and how long ago it last said it was alive. */
static void print_processes(json_t *procs) {
    size_t i, k;
    json_t *p, *v;
    if (!json_array_size(procs)) return;
    printf("processes  %zu\n", json_array_size(procs));
    json_array_foreach(procs, i, p) {
        const char *role = json_string_value(json_object_get(p, "role"));
        printf("  %-7s %-36s %s pid %lld%s", role ? role : "?", json_string_value(json_object_get(p, "id")),
               json_string_value(json_object_get(p, "host")), json_integer_value(json_object_get(p, "pid")),
               json_is_true(json_object_get(p, "self")) ? " (this one)" : "");
        if (role && !strcmp(role, "worker")) {
            printf("  partitions");
            json_array_foreach(json_object_get(p, "partitions"), k, v) printf(" %lld", json_integer_value(v));
            if (!json_array_size(json_object_get(p, "partitions"))) printf(" none");
        } else {
            json_t *shards = json_object_get(p, "shards");
            const char *name;
            if (json_object_size(shards)) {
                json_object_foreach(shards, name, v) {
                    printf("  %s shards", name);
                    json_t *id;
                    json_array_foreach(json_object_get(v, "held"), k, id) printf(" %lld", json_integer_value(id));
                    printf(" of %lld", json_integer_value(json_object_get(v, "total")));
                }
            } else {
                printf("  platforms");
                json_array_foreach(json_object_get(p, "platforms"), k, v) printf(" %s", json_string_value(v));
                if (!json_array_size(json_object_get(p, "platforms"))) printf(" none");
            }
        }
        printf("  lag %lld  pending %lld  heartbeat %.1fs ago\n", json_integer_value(json_object_get(p, "lag")),
               json_integer_value(json_object_get(p, "pending")),
               (double)json_integer_value(json_object_get(p, "heartbeat_age_ms")) / 1000.0);
    }
}

/* Human-readable status. */
static void print_status(json_t *st) {
    json_t *redis = json_object_get(st, "redis");
    printf("chorusd %s  pid %lld  up %.0fs\n", json_string_value(json_object_get(st, "version")),
           json_integer_value(json_object_get(st, "pid")), json_number_value(json_object_get(st, "uptime_s")));
    printf("redis      %s", json_is_true(json_object_get(redis, "connected")) ? "connected" : "DOWN");
    const char *err = json_string_value(json_object_get(redis, "error"));
    if (err && *err) printf(" (%s)", err);
    printf("  last round trip %.1f ms\n", json_number_value(json_object_get(redis, "latency_ms")));
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(st, "platforms"), i, p)
        printf("platform   %-10s %s  %lld connections\n", json_string_value(json_object_get(p, "name")),
               json_is_true(json_object_get(p, "ready")) ? "ready" : "not ready",
               json_integer_value(json_object_get(p, "connections")));
    json_t *jobs = json_object_get(st, "jobs");
    printf("jobs       %lld in flight, %lld queued, %lld busy channels\n",
           json_integer_value(json_object_get(jobs, "in_flight")), json_integer_value(json_object_get(jobs, "queued")),
           json_integer_value(json_object_get(st, "channels")));
    json_t *bus = json_object_get(st, "bus");
    if (bus) {
        printf("role       %s  (%s)\n", json_string_value(json_object_get(bus, "role")),
               json_string_value(json_object_get(bus, "id")));
        printf("streams    %lld partitions, ingress lag %lld, pending %lld",
               json_integer_value(json_object_get(bus, "partitions")),
               json_integer_value(json_object_get(bus, "ingress_lag")),
               json_integer_value(json_object_get(bus, "ingress_pending")));
        if (json_object_get(bus, "egress_lag"))
            printf("; egress lag %lld, pending %lld", json_integer_value(json_object_get(bus, "egress_lag")),
                   json_integer_value(json_object_get(bus, "egress_pending")));
        printf("\n");
        json_t *held = json_object_get(bus, "held");
        if (held) {
            printf("held      ");
            json_array_foreach(held, i, p) printf(" %lld(%s)", json_integer_value(json_object_get(p, "partition")),
                                                 json_string_value(json_object_get(p, "state")));
            printf("%s\n", json_array_size(held) ? "" : " none");
        }
        printf("workers   ");
        json_array_foreach(json_object_get(bus, "workers"), i, p) printf(" %s", json_string_value(p));
        printf("\n");
        print_processes(json_object_get(bus, "processes"));
        json_array_foreach(json_object_get(bus, "streams"), i, p)
            printf("partition  %-3lld owner %-28s lag %lld  pending %lld\n",
                   json_integer_value(json_object_get(p, "partition")),
                   *json_string_value(json_object_get(p, "owner")) ? json_string_value(json_object_get(p, "owner")) : "-",
                   json_integer_value(json_object_get(p, "lag")), json_integer_value(json_object_get(p, "pending")));
    }
    printf("plugins    %s\n", json_string_value(json_object_get(st, "plugins")));
    printf("personas  ");
    json_array_foreach(json_object_get(st, "personas"), i, p) printf(" %s", json_string_value(p));
    printf("  (default %s)\nmodels    ", json_string_value(json_object_get(st, "default_persona")));
    json_array_foreach(json_object_get(st, "models"), i, p) printf(" %s", json_string_value(p));
    printf("\n");
    json_array_foreach(json_object_get(st, "deployments"), i, p) {
        const char *last = json_string_value(json_object_get(p, "last_error"));
        printf("deployment %s/%lld  breaker %s", json_string_value(json_object_get(p, "model")),
               json_integer_value(json_object_get(p, "index")), json_string_value(json_object_get(p, "breaker")));
        if (json_integer_value(json_object_get(p, "cooldown_ms")) > 0)
            printf(" (%.1fs left)", (double)json_integer_value(json_object_get(p, "cooldown_ms")) / 1000);
        printf(", %lld in flight, %.0f ms", json_integer_value(json_object_get(p, "in_flight")),
               json_number_value(json_object_get(p, "latency_ms")));
        if (last && *last) printf(", last error %.0fs ago: %s", json_number_value(json_object_get(p, "last_error_age_s")), last);
        printf("\n");
    }
}

/* The ledger's rows as CSV. */
static void print_ledger_csv(json_t *data) {
    size_t i;
    json_t *row;
    printf("day,persona,conversations,turns,cps,active_users,calls,tokens_in,tokens_out,cost,value,share,currency\n");
    json_array_foreach(json_object_get(data, "rows"), i, row)
        printf("%s,%s,%lld,%lld,%.2f,%lld,%lld,%lld,%lld,%.6f,%.6f,%.6f,%s\n",
               json_string_value(json_object_get(row, "day")), json_string_value(json_object_get(row, "persona")),
               json_integer_value(json_object_get(row, "conversations")), json_integer_value(json_object_get(row, "turns")),
               json_number_value(json_object_get(row, "cps")), json_integer_value(json_object_get(row, "active_users")),
               json_integer_value(json_object_get(row, "calls")), json_integer_value(json_object_get(row, "tokens_in")),
               json_integer_value(json_object_get(row, "tokens_out")),
               (double)json_integer_value(json_object_get(row, "cost_micro")) / 1e6,
               (double)json_integer_value(json_object_get(row, "value_micro")) / 1e6,
               (double)json_integer_value(json_object_get(row, "share_micro")) / 1e6,
               json_string_value(json_object_get(row, "currency")));
}

/* Bash completion: `source <(chorusctl completion)`. */
static void print_completion(void) {
    puts("_chorusctl() {\n"
         "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
         "  local cmds=\"status reload ping top plugins help persona skill plugin op deop ban unban ignore unignore mute unmute quota say broadcast forget ledger audit reply proactive completion\"\n"
         "  case \"$prev\" in\n"
         "    plugins) COMPREPLY=($(compgen -W \"list reload enable disable\" -- \"$cur\")); return;;\n"
         "    persona) COMPREPLY=($(compgen -W \"list show use edit import export preview\" -- \"$cur\")); return;;\n"
         "    skill) COMPREPLY=($(compgen -W \"list enable disable\" -- \"$cur\")); return;;\n"
         "    quota) COMPREPLY=($(compgen -W \"show set\" -- \"$cur\")); return;;\n"
         "    plugin) COMPREPLY=($(compgen -W \"reload\" -- \"$cur\")); return;;\n"
         "    ledger) COMPREPLY=($(compgen -W \"--persona --from --to --csv --json\" -- \"$cur\")); return;;\n"
         "    top) COMPREPLY=($(compgen -W \"--once --json\" -- \"$cur\")); return;;\n"
         "  esac\n"
         "  COMPREPLY=($(compgen -W \"$cmds --json --socket --help\" -- \"$cur\"))\n"
         "}\n"
         "complete -F _chorusctl chorusctl");
}

/* A live view, refreshed every second: connections, messages/s, model
 * calls, spend. Screen-control codes only on a terminal; with --json one
 * JSON object per line (the status data plus the rate). */
static int top(const char *path, int as_json, int once) {
    double last_in = -1, last_t = 0;
    int tty = isatty(STDOUT_FILENO);
    for (;;) {
        char *line = roundtrip(path, "{\"cmd\":\"run\",\"argv\":[\"status\"]}");
        if (!line) return 1;
        json_t *answer = json_loads(line, 0, NULL);
        free(line);
        json_t *st = json_object_get(answer, "data");
        if (!json_is_object(st)) {
            fprintf(stderr, "chorusctl: %s\n", json_string_value(json_object_get(answer, "error")) ? json_string_value(json_object_get(answer, "error")) : "chorusd sent no status");
            json_decref(answer);
            return 1;
        }
        json_t *m = json_object_get(st, "metrics");
        double in = json_number_value(json_object_get(m, "messages_in"));
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        double t = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
        double rate = last_in >= 0 && t > last_t ? (in - last_in) / (t - last_t) : 0.0;
        if (as_json) {
            json_object_set_new(st, "messages_per_s", json_real(rate));
            char *out = json_dumps(st, JSON_COMPACT);
            puts(out);
            free(out);
        } else {
            if (tty && !once) printf("\033[H\033[2J");
            print_status(st);
            printf("rate       %.1f messages/s   model calls in flight %lld   spend since start %.6f\n", rate,
                   json_integer_value(json_object_get(m, "model_in_flight")), json_number_value(json_object_get(m, "cost_today")));
            if (!once) printf("(chorusctl top: every second; Ctrl-C to stop)\n%s", tty ? "" : "\n");
        }
        fflush(stdout);
        last_in = in;
        last_t = t;
        json_decref(answer);
        if (once || getenv("CHORUSCTL_TOP_ONCE")) return 0;
        sleep(1);
    }
}

/* persona import FILE [--name NAME]: the card is read and checked here (JSON, PNG or CHARX) and sent as V3 JSON. */
static json_t *build_import_request(int argc, char **argv, int *failed) {
    if (argc < 3 || strcmp(argv[0], "persona") || strcmp(argv[1], "import")) return NULL;
    const char *file = NULL, *name = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--name") && i + 1 < argc) name = argv[++i];
        else file = argv[i];
    }
    char err[600];
    json_t *card = file ? card_load_file(file, err, sizeof(err)) : NULL;
    if (!card) {
        fprintf(stderr, "chorusctl: %s\n", file ? err : "persona import needs a FILE");
        *failed = 1;
        return NULL;
    }
    char *text = json_dumps(card, JSON_COMPACT);
    json_decref(card);
    json_t *words = json_pack("[s, s]", "persona", "import");
    if (name) {
        json_array_append_new(words, json_string("--name"));
        json_array_append_new(words, json_string(name));
    }
    json_array_append_new(words, json_string(text));
    free(text);
    return json_pack("{s:s, s:o}", "cmd", "run", "argv", words);
}

/* The preview for people: each message with its role, then the lore entries and why. */
static void print_preview(json_t *data) {
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(data, "messages"), i, m)
        printf("--- %s\n%s\n", json_string_value(json_object_get(m, "role")), json_string_value(json_object_get(m, "content")));
    printf("--- lorebook entries\n");
    json_array_foreach(json_object_get(data, "lore"), i, m)
        printf("  %s / %s (%s%s, %lld tokens): %s\n", json_string_value(json_object_get(m, "book")),
               json_string_value(json_object_get(m, "entry")), json_string_value(json_object_get(m, "position")),
               strcmp(json_string_value(json_object_get(m, "position")), "depth") ? "" : " at depth",
               (long long)json_integer_value(json_object_get(m, "tokens")), json_string_value(json_object_get(m, "why")));
    if (json_object_get(data, "embedding_model")) {
        printf("--- recalled turns (%s)\n", json_string_value(json_object_get(data, "embedding_model")));
        json_array_foreach(json_object_get(data, "recall"), i, m)
            printf("  #%lld %s%s%s (cosine %.3f): %.200s\n", (long long)json_integer_value(json_object_get(m, "index")),
                   json_string_value(json_object_get(m, "role")), *json_string_value(json_object_get(m, "name")) ? " " : "",
                   json_string_value(json_object_get(m, "name")), json_number_value(json_object_get(m, "score")),
                   json_string_value(json_object_get(m, "content")));
        if (json_object_get(data, "recall_error"))
            printf("  none: %s\n", json_string_value(json_object_get(data, "recall_error")));
        else if (json_array_size(json_object_get(data, "recall")) == 0)
            printf("  none above the floor, beyond the turns in the window\n");
    }
    printf("--- about %lld tokens of a %lld-token budget; %lld example blocks\n",
           (long long)json_integer_value(json_object_get(data, "tokens")), (long long)json_integer_value(json_object_get(data, "budget")),
           (long long)json_integer_value(json_object_get(data, "examples")));
}

/* The request for ARGV (command and arguments), or NULL if unknown. */
static json_t *build_request(int argc, char **argv) {
    const char *cmd = argv[0];
    if (argc == 1 && (!strcmp(cmd, "reload") || !strcmp(cmd, "ping"))) return json_pack("{s:s}", "cmd", cmd);
    /* The operator commands, run as the owner (the daemon checks the rest). */
    static const char *const known[] = { "help", "status", "persona", "plugins", "skill", "plugin", "op", "deop", "ban",
                                         "unban", "ignore", "unignore", "mute", "unmute", "quota", "say", "broadcast",
                                         "forget", "ledger", "audit", "reply", "proactive", NULL };
    int found = 0;
    for (int i = 0; known[i]; i++) found |= !strcmp(known[i], cmd);
    if (!found) return NULL;
    json_t *words = json_array();
    for (int i = 0; i < argc; i++) json_array_append_new(words, json_string(argv[i]));
    return json_pack("{s:s, s:o}", "cmd", "run", "argv", words);
}

/* Human-readable plugin list. */
static void print_plugins(json_t *answer) {
    size_t i;
    json_t *p;
    printf("%-12s %-9s %10s %8s  %s\n", "PLUGIN", "VERSION", "MEMORY", "RUNNING", "DESCRIPTION");
    json_array_foreach(json_object_get(answer, "plugins"), i, p)
        printf("%-12s %-9s %9lldK %8lld  %s\n", json_string_value(json_object_get(p, "name")),
               json_string_value(json_object_get(p, "version")),
               json_integer_value(json_object_get(p, "memory_bytes")) / 1024,
               json_integer_value(json_object_get(p, "running")),
               json_string_value(json_object_get(p, "description")));
}

/* Print a JSON value, indented, on stdout. */
static void print_json(json_t *v) {
    char *out = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
    if (out) puts(out);
    free(out);
}

/* Is WORDS[0..N) the command NAME SUB (SUB may be NULL)? */
static int is_cmd(int n, char **words, const char *name, const char *sub) {
    return n >= 1 && !strcmp(words[0], name) && (!sub || (n >= 2 && !strcmp(words[1], sub)));
}

/* Print an answer for people. */
static void print_answer(int n, char **words, json_t *answer, json_t *data) {
    if (is_cmd(n, words, "persona", "export") && data) print_json(data);
    else if (is_cmd(n, words, "persona", "preview") && data) print_preview(data);
    else if (is_cmd(n, words, "status", NULL) && data) print_status(data);
    else if ((is_cmd(n, words, "plugins", "list") || is_cmd(n, words, "skill", "list")) && json_object_get(data, "plugins"))
        print_plugins(data);
    else if (is_cmd(n, words, "ping", NULL)) printf("pong from chorusd %s\n", json_string_value(json_object_get(answer, "pong")));
    else if (json_string_value(json_object_get(answer, "message"))) printf("%s\n", json_string_value(json_object_get(answer, "message")));
    else printf("%s\n", json_string_value(json_object_get(answer, "text")));
}

int main(int argc, char **argv) {
    const char *path = NULL;
    int as_json = 0, as_csv = 0, once = 0, n = 0, flags_done = 0;
    char **words = xcalloc((size_t)argc + 1, sizeof(char *));
    /* Global flags anywhere on the line, like git and kubectl; "--" ends them. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (flags_done) words[n++] = argv[i];
        else if (!strcmp(a, "--")) flags_done = 1;
        else if (!strcmp(a, "--json") || !strcmp(a, "-j")) as_json = 1;
        else if (!strcmp(a, "--csv")) as_csv = 1;
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            free(words);
            return 0;
        } else if (!strcmp(a, "--socket") || !strcmp(a, "-s")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "chorusctl: %s needs a PATH\n", a);
                free(words);
                return 2;
            }
            path = argv[++i];
        } else if (!strncmp(a, "--socket=", 9)) path = a + 9;
        else if (!strcmp(a, "--once") && n == 1 && !strcmp(words[0], "top")) once = 1;
        else words[n++] = argv[i];
    }
    if (n == 0) {
        usage(stderr);
        free(words);
        return 2;
    }
    const char *cmd = words[0];
    if (!path || !*path) path = default_path();
    if (!strcmp(cmd, "completion")) {
        print_completion();
        free(words);
        return 0;
    }
    if (as_csv && strcmp(cmd, "ledger")) {
        fprintf(stderr, "chorusctl: --csv is for the ledger\n");
        free(words);
        return 2;
    }
    if (!strcmp(cmd, "top")) {
        int rc = n == 1 ? top(path, as_json, once) : 2;
        if (rc == 2) fprintf(stderr, "chorusctl: top takes no arguments but --once and --json\n");
        free(words);
        return rc;
    }
    int failed = 0;
    json_t *req = build_import_request(n, words, &failed);
    if (failed) {
        free(words);
        return 1;
    }
    if (!req) req = build_request(n, words);
    if (!req) {
        fprintf(stderr, "chorusctl: unknown command '%s'\n", cmd);
        usage(stderr);
        free(words);
        return 2;
    }
    char *text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    char *line = roundtrip(path, text);
    free(text);
    if (!line) {
        free(words);
        return 1;
    }
    json_t *answer = json_loads(line, 0, NULL);
    free(line);
    if (!answer) {
        fprintf(stderr, "chorusctl: chorusd sent something that is not JSON\n");
        free(words);
        return 1;
    }
    int ok = json_is_true(json_object_get(answer, "ok"));
    json_t *data = json_object_get(answer, "data");
    if (!ok) {
        const char *why = json_string_value(json_object_get(answer, "error"));
        if (as_json) {
            json_t *e = json_pack("{s:b, s:s}", "ok", 0, "error", why ? why : "failed");
            print_json(e);
            json_decref(e);
        }
        fprintf(stderr, "chorusctl: %s\n", why ? why : "the command failed");
    } else if (as_json) print_json(data ? data : answer);
    else if (as_csv) print_ledger_csv(data);
    else print_answer(n, words, answer, data);
    json_decref(answer);
    free(words);
    return ok ? 0 : 1;
}
