/* chorusctl - administer a running chorusd over its admin socket.
 *
 * Usage: chorusctl [--socket PATH] [--json] COMMAND
 * Commands: status, reload, ping. It sends one JSON line and prints the
 * answer, as a table for people or as JSON with --json. A blocking client
 * is right here: this is a short-lived command, not the daemon. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "lib/xalloc.h"
#include "persona/card.h"

/* The daemon's default admin socket path (keep in step with admin.c). */
static const char *default_path(void) {
    static char path[512];
    const char *dir = getenv("XDG_RUNTIME_DIR");
    if (dir && *dir) snprintf(path, sizeof(path), "%s/chorusd.sock", dir);
    else if (geteuid() == 0) snprintf(path, sizeof(path), "/run/chorusd.sock");
    else snprintf(path, sizeof(path), "/tmp/chorusd-%u.sock", (unsigned)geteuid());
    return path;
}

static void usage(FILE *out) {
    fprintf(out,
            "Usage: chorusctl [--socket PATH] [--json] COMMAND\n"
            "\n"
            "Commands:\n"
            "  status                  platforms, Redis, jobs, plugins, personas and models\n"
            "  reload                  re-read the config and plugins (like SIGHUP)\n"
            "  plugins list            loaded plugins, their versions and memory\n"
            "  plugins reload [NAME]   reload one plugin (or all) from disk; a broken\n"
            "                          new version is refused and the old one keeps running\n"
            "  ping                    check that the daemon answers\n"
            "  top                     a live view: connections, messages/s, model calls, spend\n"
            "  ledger [--persona P] [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--csv|--json]\n"
            "  audit [N]               the newest admin actions\n"
            "  persona import FILE [--name NAME]   a character card (V2/V3 JSON, PNG, CHARX) as a persona\n"
            "  persona export NAME     the persona as a V3 card (JSON on stdout)\n"
            "  persona preview NAME --channel platform:channel TEXT   the prompt, without a model call\n"
            "  reply addressed|auto|always|default --channel platform:channel   when the persona answers there\n"
            "  proactive off|on --channel platform:channel   stop or allow speaking first there\n"
            "  completion              bash completion: source <(chorusctl completion)\n"
            "  help                    every operator command (persona, skill, op, ban, mute, quota, say, ...)\n"
            "\n"
            "  -s, --socket PATH  admin socket (default %s, or $CHORUS_ADMIN_SOCKET)\n"
            "  -j, --json         print the daemon's JSON answer\n", default_path());
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
}

/* `ledger --persona NAME --from DAY --to DAY` as an operator command. */
static json_t *build_ledger_request(int argc, char **argv) {
    if (strcmp(argv[0], "ledger")) return NULL;
    const char *persona = NULL, *from = NULL, *to = NULL;
    for (int i = 1; i + 1 < argc; i++) {
        if (!strcmp(argv[i], "--persona")) persona = argv[++i];
        else if (!strcmp(argv[i], "--from")) from = argv[++i];
        else if (!strcmp(argv[i], "--to")) to = argv[++i];
    }
    if (!persona && !from && !to) return NULL;
    time_t now = time(NULL);
    char today[16];
    strftime(today, sizeof(today), "%Y-%m-%d", gmtime(&now));
    return json_pack("{s:s, s:[s, s, s, s]}", "cmd", "run", "argv", "ledger", persona ? persona : "",
                     from ? from : today, to ? to : today);
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
         "    plugins) COMPREPLY=($(compgen -W \"list reload\" -- \"$cur\")); return;;\n"
         "    persona) COMPREPLY=($(compgen -W \"list show use edit import export preview\" -- \"$cur\")); return;;\n"
         "    skill) COMPREPLY=($(compgen -W \"list enable disable\" -- \"$cur\")); return;;\n"
         "    quota) COMPREPLY=($(compgen -W \"show set\" -- \"$cur\")); return;;\n"
         "    plugin) COMPREPLY=($(compgen -W \"reload\" -- \"$cur\")); return;;\n"
         "    ledger) COMPREPLY=($(compgen -W \"--persona --from --to --csv --json\" -- \"$cur\")); return;;\n"
         "  esac\n"
         "  COMPREPLY=($(compgen -W \"$cmds --json --socket --help\" -- \"$cur\"))\n"
         "}\n"
         "complete -F _chorusctl chorusctl");
}

/* A live view, refreshed every second: connections, messages/s, model calls, spend. */
static int top(const char *path) {
    double last_in = -1, last_t = 0;
    for (int rounds = 0;; rounds++) {
        char *line = roundtrip(path, "{\"cmd\":\"status\"}");
        if (!line) return 1;
        json_t *st = json_loads(line, 0, NULL);
        free(line);
        if (!st) return 1;
        json_t *m = json_object_get(st, "metrics");
        double in = json_number_value(json_object_get(m, "messages_in"));
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        double t = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
        printf("\033[H\033[2J");
        print_status(st);
        printf("rate       %.1f messages/s   model calls in flight %lld   spend since start %.6f\n",
               last_in >= 0 ? (in - last_in) / (t - last_t) : 0.0,
               json_integer_value(json_object_get(m, "model_in_flight")), json_number_value(json_object_get(m, "cost_today")));
        printf("(chorusctl top: every second; Ctrl-C to stop)\n");
        fflush(stdout);
        last_in = in;
        last_t = t;
        json_decref(st);
        if (getenv("CHORUSCTL_TOP_ONCE")) return 0;
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
    if (argc == 1 && (!strcmp(cmd, "status") || !strcmp(cmd, "reload") || !strcmp(cmd, "ping")))
        return json_pack("{s:s}", "cmd", cmd);
    if (!strcmp(cmd, "top") || !strcmp(cmd, "completion")) return NULL;
    if (!strcmp(cmd, "plugins") && argc >= 2 && argc <= 3) {
        if (!strcmp(argv[1], "list") && argc == 2) return json_pack("{s:s, s:s}", "cmd", "plugins", "action", "list");
        if (!strcmp(argv[1], "reload"))
            return argc == 3 ? json_pack("{s:s, s:s, s:s}", "cmd", "plugins", "action", "reload", "name", argv[2])
                             : json_pack("{s:s, s:s}", "cmd", "plugins", "action", "reload");
    }
    /* The operator commands, run as the owner (the daemon checks the rest). */
    static const char *const known[] = { "help", "persona", "skill", "plugin", "op", "deop", "ban", "unban", "ignore",
                                         "unignore", "mute", "unmute", "quota", "say", "broadcast", "forget", "ledger",
                                         "audit", "reply", "proactive", NULL };
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

int main(int argc, char **argv) {
    static const struct option opts[] = {
        { "socket", required_argument, NULL, 's' },
        { "json", no_argument, NULL, 'j' },
        { "csv", no_argument, NULL, 'C' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *path = getenv("CHORUS_ADMIN_SOCKET");
    int as_json = 0, as_csv = 0, c;
    while ((c = getopt_long(argc, argv, "+s:jh", opts, NULL)) != -1) {
        switch (c) {
        case 's': path = optarg; break;
        case 'j': as_json = 1; break;
        case 'C': as_csv = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[optind];
    if (!path || !*path) path = default_path();
    if (!strcmp(cmd, "completion")) {
        print_completion();
        return 0;
    }
    if (!strcmp(cmd, "top")) return top(path);
    int failed = 0;
    json_t *req = build_import_request(argc - optind, argv + optind, &failed);
    if (failed) return 1;
    if (!req) req = build_ledger_request(argc - optind, argv + optind);
    if (!req) req = build_request(argc - optind, argv + optind);
    if (!req) {
        fprintf(stderr, "chorusctl: unknown command '%s'\n", cmd);
        usage(stderr);
        return 2;
    }
    if (!path || !*path) path = default_path();
    char *text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    char *line = roundtrip(path, text);
    free(text);
    if (!line) return 1;
    json_t *answer = json_loads(line, 0, NULL);
    if (!answer) {
        fprintf(stderr, "chorusctl: chorusd sent something that is not JSON\n");
        free(line);
        return 1;
    }
    int ok = json_is_true(json_object_get(answer, "ok"));
    json_t *data = json_object_get(answer, "data");
    if (as_json && data && !strcmp(cmd, "ledger")) {
        char *out = json_dumps(data, JSON_INDENT(2));
        puts(out);
        free(out);
    } else if (as_csv && ok && !strcmp(cmd, "ledger")) print_ledger_csv(data);
    else if (as_json) fputs(line, stdout);
    else if (!ok) fprintf(stderr, "chorusctl: %s\n", json_string_value(json_object_get(answer, "error")));
    else if (!strcmp(cmd, "persona") && optind + 1 < argc && !strcmp(argv[optind + 1], "export") && data) {
        char *out = json_dumps(data, JSON_INDENT(2));
        puts(out);
        free(out);
    } else if (!strcmp(cmd, "persona") && optind + 1 < argc && !strcmp(argv[optind + 1], "preview") && data) print_preview(data);
    else if (!strcmp(cmd, "status")) print_status(answer);
    else if (!strcmp(cmd, "plugins") && json_object_get(answer, "plugins")) print_plugins(answer);
    else if (!strcmp(cmd, "ping")) printf("pong from chorusd %s\n", json_string_value(json_object_get(answer, "pong")));
    else if (json_string_value(json_object_get(answer, "message"))) printf("%s\n", json_string_value(json_object_get(answer, "message")));
    else printf("%s\n", json_string_value(json_object_get(answer, "text")));
    json_decref(answer);
    free(line);
    return ok ? 0 : 1;
}
