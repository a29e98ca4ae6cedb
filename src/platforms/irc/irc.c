/* irc.c - the IRC adapter: connects (TCP over libuv, TLS for ircs://), registers
 * with CAP LS 302 / REQ and SASL PLAIN, answers PING, joins the configured
 * channels (again after a KICK or a refused JOIN, each with its own backoff),
 * takes another nick on 432/433 within the length the server takes, reads
 * names under the server's CASEMAPPING and CHANTYPES/STATUSMSG (005),
 * turns PRIVMSG and CTCP ACTION into chat_messages and sends replies
 * split at the line limit through the flood queue (irc_queue.c). The
 * connection comes back forever, with backoff that only a connection that
 * lasted starts afresh. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/evp.h>
#include "conf/config.h"
#include "core/message.h"
#include "core/server.h"
#include "lib/json_write.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/redact.h"
#include "lib/xalloc.h"
#include "platforms/irc/irc.h"
#include "platforms/irc/irc_line.h"
#include "platforms/irc/irc_queue.h"
#include "io/redis_uv.h"
#include "io/tls_pipe.h"

#define READ_MAX 16384              /* unparsed bytes kept; a longer line is cut */
#define HOST_RESERVE 80             /* room for ":nick!user@host " the server prepends */
#define NICK_TRIES_MAX 10           /* other nicks tried before coming back later */

struct irc_channel {
    char *name;
    char *key;                      /* NULL when none */
    int joined;
    int kicks;                      /* rejoins and refused joins since a long stay */
    uint64_t joined_at;             /* loop time of the last JOIN, ms */
    uint64_t retry_at;              /* when to JOIN again; 0: not waiting */
    char join_time[40];             /* server-time of our last JOIN; "" when none */
};

struct irc {
    struct platform *self;
    char *host, *port, *nick, *user, *realname, *password;
    char *sasl_user, *sasl_pass;
    int tls;
    char *ca_file;
    struct tls_pipe *tls_conn;        /* this connection's TLS, or NULL */
    int tls_up;
    char cbuf[READ_MAX];            /* ciphertext as read */
    int addressed_only;
    struct irc_channel channels[IRC_MAX_CHANNELS];
    int nchannels;
    double reconnect_min, reconnect_max, rejoin_min, rejoin_max;
    struct irc_queue queue;
    uv_tcp_t *tcp;
    uv_timer_t *retry, *flush, *rejoin;
    uv_getaddrinfo_t *resolving;
    uv_connect_t *connecting;
    char rbuf[READ_MAX];
    size_t rlen;
    char *cur_nick;
    int nick_tries;
    size_t nick_max;                /* longest nick the server took, 0 unknown (432/433 tell) */
    int casemap;                    /* ISUPPORT CASEMAPPING, IRC_CASEMAP_* */
    char chantypes[16];             /* ISUPPORT CHANTYPES */
    char statusmsg[16];             /* ISUPPORT STATUSMSG: "@+" lets "@#chan" through */
    int registered;
    uint64_t registered_at;         /* loop time of the last 001, ms */
    int attempts;
    int echo_message;               /* request echo-message where offered */
    int cap_pending;                /* CAP REQs not yet answered */
    int sasl_busy;                  /* AUTHENTICATE under way */
    int sasl_ok;                    /* 903 on this connection */
    int stopped;
    unsigned long sent_ids, recv_ids;
};

/* ---- config ----------------------------------------------------------- */

/* Add "#chan" or "#chan key" to the channel list. */
static void add_channel(struct irc *irc, const char *spec) {
    while (*spec == ' ') spec++;
    if (!*spec || irc->nchannels == IRC_MAX_CHANNELS) return;
    struct irc_channel *c = &irc->channels[irc->nchannels++];
    const char *sp = strchr(spec, ' ');
    c->name = sp ? xstrndup(spec, (size_t)(sp - spec)) : xstrdup(spec);
    if (sp) {
        while (*sp == ' ') sp++;
        if (*sp) c->key = xstrdup(sp);
    }
}

/* Read the url (irc://host:port, ircs://), the names and the timings. */
static void read_config(struct irc *irc, const struct config_block *b) {
    const char *url = config_str(b, "url", "irc://127.0.0.1");
    irc->tls = !strncmp(url, "ircs://", 7);
    const char *h = strstr(url, "://") + 3;
    const char *at = strchr(h, '@');
    if (at) h = at + 1;
    size_t hl = strcspn(h, "/");
    char *hp = xstrndup(h, hl);
    char *colon = hp[0] == '[' ? strstr(hp, "]:") : strrchr(hp, ':');
    if (colon && hp[0] == '[') colon++;
    if (colon) {
        *colon = '\0';
        irc->port = xstrdup(colon + 1);
    } else {
        irc->port = xstrdup(irc->tls ? "6697" : "6667");
    }
    if (hp[0] == '[') {
        irc->host = xstrndup(hp + 1, strlen(hp) - 2);
        free(hp);
    } else {
        irc->host = hp;
    }
    const char *ca = config_str(b, "ca_file", NULL);
    irc->ca_file = ca && *ca ? xstrdup(ca) : NULL;
    irc->nick = xstrdup(config_str(b, "nick", "chorus"));
    irc->user = xstrdup(config_str(b, "user", irc->nick));
    irc->realname = xstrdup(config_str(b, "realname", "Chorus"));
    const char *pw = config_str(b, "password", NULL);
    irc->password = pw && *pw ? xstrdup(pw) : NULL;
    json_t *sasl = json_object_get(b->value, "sasl");
    if (json_is_object(sasl)) {
        irc->sasl_user = xstrdup(json_string_value(json_object_get(sasl, "user")));
        irc->sasl_pass = xstrdup(json_string_value(json_object_get(sasl, "password")));
        redact_add_secret(irc->sasl_pass);
    }
    json_t *ch = json_object_get(b->value, "channels");
    if (json_is_string(ch)) {
        char *list = xstrdup(json_string_value(ch));
        char *save = NULL;
        for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) add_channel(irc, t);
        free(list);
    } else {
        for (size_t i = 0; i < json_array_size(ch); i++)
            if (json_is_string(json_array_get(ch, i))) add_channel(irc, json_string_value(json_array_get(ch, i)));
    }
    irc->addressed_only = !strcmp(config_str(b, "messages", "all"), "addressed");
    irc->echo_message = config_bool(b, "echo_message", 1);
    irc_queue_init(&irc->queue, (int)config_int(b, "burst", 5), (double)config_int(b, "line_interval_ms", 2000));
    irc->reconnect_min = (double)config_int(b, "reconnect_min_ms", 2000);
    irc->reconnect_max = (double)config_int(b, "reconnect_max_ms", 300000);
    irc->rejoin_min = (double)config_int(b, "rejoin_min_ms", 5000);
    irc->rejoin_max = (double)config_int(b, "rejoin_max_ms", 300000);
}

/* ---- writing ---------------------------------------------------------- */

static void flush_queue(struct irc *irc);

static void on_written(uv_write_t *req, int status) {
    (void)status;
    free(req->data);
    free(req);
}

/* Hand BUF (malloc'd, LEN bytes) to the socket; it is freed when written.
 * What the socket takes at once is written now (uv_try_write refuses while
 * earlier writes wait, so the order holds): a queued write costs a system
 * call more (libuv stops watching for writability after it), and with
 * each reply one line, that is one call in four. The rest is queued. */
static void write_raw(struct irc *irc, char *buf, size_t len) {
    redis_uv_flush();                 /* the turn's Redis writes leave before the reply */
    uv_buf_t b = uv_buf_init(buf, (unsigned)len);
    int done = uv_try_write((uv_stream_t *)irc->tcp, &b, 1);
    if (done == (int)len) {
        free(buf);
        return;
    }
    if (done < 0) done = 0;           /* UV_EAGAIN, or an error uv_write reports as before */
    uv_write_t *req = xmalloc(sizeof(*req));
    req->data = buf;
    b = uv_buf_init(buf + done, (unsigned)(len - (size_t)done));
    if (uv_write(req, (uv_stream_t *)irc->tcp, &b, 1, on_written) < 0) {
        free(buf);
        free(req);
    }
}

/* Whatever TLS wants to say (handshake, records) goes to the socket. */
static void flush_tls(struct irc *irc) {
    size_t len;
    char *buf;
    while (irc->tcp && irc->tls_conn && (buf = tls_pipe_take_output(irc->tls_conn, &len))) write_raw(irc, buf, len);
}

/* Put one line (CRLF added) on the socket now. */
static void write_line(struct irc *irc, const char *line) {
    if (!irc->tcp) return;
    size_t n = strlen(line);
    if (n > IRC_LINE_MAX - 2) n = IRC_LINE_MAX - 2;
    char *buf = xmalloc(n + 2);
    memcpy(buf, line, n);
    memcpy(buf + n, "\r\n", 2);
    if (!irc->tls_conn) {
        write_raw(irc, buf, n + 2);
        return;
    }
    tls_pipe_write(irc->tls_conn, buf, n + 2);
    free(buf);
    flush_tls(irc);
}

static void on_flush_timer(uv_timer_t *t) {
    flush_queue(t->data);
}

/* Send what the flood timer allows; wake again when the next line may go. */
static void flush_queue(struct irc *irc) {
    if (!irc->tcp || (irc->tls_conn && !irc->tls_up)) return;
    double wait = 0;
    char *line;
    while ((line = irc_queue_pop(&irc->queue, (double)uv_now(irc->self->host->loop), &wait))) {
        write_line(irc, line);
        free(line);
    }
    metrics_set(METRIC_QUEUE_DEPTH, "irc_send", (double)irc->queue.len);
    if (wait > 0) uv_timer_start(irc->flush, on_flush_timer, (uint64_t)wait + 1, 0);
}

/* Queue a formatted line at PRIO and send what may go. */
static void sendf(struct irc *irc, enum irc_priority prio, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void sendf(struct irc *irc, enum irc_priority prio, const char *fmt, ...) {
    char line[IRC_LINE_MAX * 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    irc_queue_push(&irc->queue, prio, line);
    flush_queue(irc);
}

/* Append N bytes of S to LINE (AT bytes so far, SIZE in all, room kept for
 * the NUL), cut where vsnprintf would cut. The new length. */
static size_t append(char *line, size_t at, size_t size, const char *s, size_t n) {
    if (n > size - 1 - at) n = size - 1 - at;
    memcpy(line + at, s, n);
    return at + n;
}

/* sendf(irc, IRC_PRIO_REPLY, "PRIVMSG %s :%s", TARGET, TEXT), the line put
 * together by hand: a reply's lines are the only ones sent per message. */
static void send_privmsg(struct irc *irc, const char *target, const char *text) {
    char line[IRC_LINE_MAX * 2];
    size_t n = append(line, 0, sizeof(line), "PRIVMSG ", 8);
    n = append(line, n, sizeof(line), target, strlen(target));
    n = append(line, n, sizeof(line), " :", 2);
    n = append(line, n, sizeof(line), text, strlen(text));
    line[n] = '\0';
    irc_queue_push(&irc->queue, IRC_PRIO_REPLY, line);
    flush_queue(irc);
}

/* An id "PREFIX<N>" into ID (64 bytes), without snprintf (one per message). */
static void make_id(char id[64], const char *prefix, unsigned long n) {
    size_t p = strlen(prefix);
    memcpy(id, prefix, p);
    json_int_text(id + p, (long long)n);
}

/* ---- connection ------------------------------------------------------- */

static void connect_now(struct irc *irc);

static void on_retry(uv_timer_t *t) {
    connect_now(t->data);
}

static void on_tcp_closed(uv_handle_t *h) {
    free(h);
}

/* MIN doubled N times, at most MAX. */
static double backoff(double min, double max, int n) {
    double delay = min;
    for (int i = 0; i < n && delay < max; i++) delay *= 2;
    return delay > max ? max : delay;
}

/* Drop the connection and try again after a doubling wait. */
static void reconnect_later(struct irc *irc, const char *why) {
    if (irc->tcp) {
        uv_read_stop((uv_stream_t *)irc->tcp);
        uv_close((uv_handle_t *)irc->tcp, on_tcp_closed);
        irc->tcp = NULL;
    }
    tls_pipe_free(irc->tls_conn);
    irc->tls_conn = NULL;
    irc->tls_up = 0;
    irc->self->ready = 0;
    /* Only a connection that lasted starts the waits afresh: one closed
     * right after the welcome (a ban, a flood kill) keeps them growing. */
    if (irc->registered && uv_now(irc->self->host->loop) - irc->registered_at >= (uint64_t)irc->reconnect_max)
        irc->attempts = 0;
    irc->registered = 0;
    irc->rlen = 0;
    irc_queue_clear(&irc->queue);
    metrics_set(METRIC_QUEUE_DEPTH, "irc_send", 0);
    for (int i = 0; i < irc->nchannels; i++) {         /* a new connection asks each channel afresh */
        irc->channels[i].joined = 0;
        irc->channels[i].retry_at = 0;
        irc->channels[i].kicks = 0;
    }
    if (irc->rejoin) uv_timer_stop(irc->rejoin);
    if (irc->stopped) return;
    double delay = backoff(irc->reconnect_min, irc->reconnect_max, irc->attempts);
    irc->attempts++;
    metrics_inc(METRIC_PLATFORM_EVENTS, "irc_reconnect", 1);
    log_warn("irc: connection to %s:%s lost (%s); trying again in %.0f ms", irc->host, irc->port, why, delay);
    uv_timer_start(irc->retry, on_retry, (uint64_t)delay, 0);
}

/* SASL PLAIN: base64(authzid \0 authcid \0 password), in 400-byte chunks. */
static void send_sasl_plain(struct irc *irc) {
    size_t ul = strlen(irc->sasl_user), pl = strlen(irc->sasl_pass);
    size_t rawlen = ul * 2 + pl + 2;
    unsigned char *raw = xmalloc(rawlen);
    memcpy(raw, irc->sasl_user, ul);
    raw[ul] = '\0';
    memcpy(raw + ul + 1, irc->sasl_user, ul);
    raw[ul * 2 + 1] = '\0';
    memcpy(raw + ul * 2 + 2, irc->sasl_pass, pl);
    char *b64 = xmalloc(4 * ((rawlen + 2) / 3) + 1);
    int n = EVP_EncodeBlock((unsigned char *)b64, raw, (int)rawlen);
    int off = 0;
    while (off < n) {
        int chunk = n - off > 400 ? 400 : n - off;
        sendf(irc, IRC_PRIO_SERVER, "AUTHENTICATE %.*s", chunk, b64 + off);
        off += chunk;
    }
    if (n % 400 == 0) sendf(irc, IRC_PRIO_SERVER, "AUTHENTICATE +");
    memset(raw, 0, rawlen);
    memset(b64, 0, (size_t)n);
    free(raw);
    free(b64);
}

/* Do A and B name the same nick or channel, under the server's case rules? */
static int same_name(struct irc *irc, const char *a, const char *b) {
    return irc_casecmp(a, b, irc->casemap) == 0;
}

static void join_channel(struct irc *irc, struct irc_channel *c) {
    c->retry_at = 0;
    if (c->key) sendf(irc, IRC_PRIO_SERVER, "JOIN %s %s", c->name, c->key);
    else sendf(irc, IRC_PRIO_SERVER, "JOIN %s", c->name);
}

/* Join every configured channel (on the welcome). */
static void join_all(struct irc *irc) {
    for (int i = 0; i < irc->nchannels; i++)
        if (!irc->channels[i].joined) join_channel(irc, &irc->channels[i]);
}

static void on_rejoin(uv_timer_t *t);

/* Wake for the channel that is due first, if any waits. */
static void arm_rejoin(struct irc *irc) {
    uint64_t now = uv_now(irc->self->host->loop), first = 0;
    for (int i = 0; i < irc->nchannels; i++) {
        uint64_t at = irc->channels[i].retry_at;
        if (at && (!first || at < first)) first = at;
    }
    if (first) uv_timer_start(irc->rejoin, on_rejoin, first > now ? first - now : 0, 0);
}

/* Join again the channels whose wait is over; each keeps its own wait, so
 * a channel that refuses the bot for long holds no other one back, and is
 * not asked again when another one's wait ends. */
static void on_rejoin(uv_timer_t *t) {
    struct irc *irc = t->data;
    uint64_t now = uv_now(irc->self->host->loop);
    for (int i = 0; i < irc->nchannels; i++) {
        struct irc_channel *c = &irc->channels[i];
        if (c->retry_at && c->retry_at <= now && !c->joined) join_channel(irc, c);
    }
    arm_rejoin(irc);
}

/* Try C again later: the wait doubles with each try since its last long
 * stay, so a channel that kicks the bot on sight sees it ever less often.
 * The wait, in ms. */
static double rejoin_later(struct irc *irc, struct irc_channel *c) {
    double delay = backoff(irc->rejoin_min, irc->rejoin_max, c->kicks);
    c->kicks++;
    c->joined = 0;
    c->retry_at = uv_now(irc->self->host->loop) + (uint64_t)delay;
    arm_rejoin(irc);
    return delay;
}

/* The configured channel named NAME, or NULL. */
static struct irc_channel *find_channel(struct irc *irc, const char *name) {
    for (int i = 0; i < irc->nchannels; i++)
        if (same_name(irc, irc->channels[i].name, name)) return &irc->channels[i];
    return NULL;
}

/* Is TARGET a channel (CHANTYPES), perhaps behind STATUSMSG prefixes ("@#ops")? */
static int is_channel(struct irc *irc, const char *target) {
    while (*target && strchr(irc->statusmsg, *target)) target++;
    return *target && strchr(irc->chantypes, *target) != NULL;
}

/* RPL_ISUPPORT (005): the tokens that change how names are read. A
 * "-TOKEN" takes one back to its default. NICKLEN comes after the welcome,
 * too late for choosing a nick: next_nick learns it from 432/433. */
static void on_isupport(struct irc *irc, struct irc_line *l) {
    for (int i = 1; i < l->nparams - 1; i++) {
        const char *t = l->params[i];
        int off = t[0] == '-';
        const char *eq = strchr(t, '=');
        const char *v = eq ? eq + 1 : "";
        size_t kl = eq ? (size_t)(eq - t) : strlen(t);
        if (kl == 11 + (size_t)off && !strncmp(t + off, "CASEMAPPING", 11)) {
            irc->casemap = off ? IRC_CASEMAP_RFC1459 : irc_casemap_parse(v);
        } else if (kl == 9 + (size_t)off && !strncmp(t + off, "CHANTYPES", 9)) {
            snprintf(irc->chantypes, sizeof(irc->chantypes), "%s", off || !eq ? "#&" : v);
        } else if (kl == 9 + (size_t)off && !strncmp(t + off, "STATUSMSG", 9)) {
            snprintf(irc->statusmsg, sizeof(irc->statusmsg), "%s", off ? "" : v);
        }
    }
}

/* 432/433/436 before the welcome: try another nick, as long as the server
 * showed it takes, and after NICK_TRIES_MAX of them (or when the configured
 * nick itself is refused as erroneous) say so and come back later with
 * backoff, rather than pour NICKs at a server that takes none. REFUSED is
 * the nick as the server names it (it may have cut ours). */
static void next_nick(struct irc *irc, const char *cmd, const char *refused) {
    size_t sent = strlen(irc->cur_nick);
    if (refused && strlen(refused) < sent && !irc_ncasecmp(refused, irc->cur_nick, strlen(refused), irc->casemap))
        irc->nick_max = strlen(refused);           /* the server cut it: that is its length */
    if (!strcmp(cmd, "432")) {
        if (irc->nick_tries == 0) {                /* the configured nick itself */
            if (sent <= 9) {                       /* RFC 1459 lets every server take nine: it is the name */
                log_error("irc: the server refuses the nick %s as erroneous (432); set another nick; trying again later",
                          irc->cur_nick);
                reconnect_later(irc, "nick refused");
                return;
            }
            irc->nick_max = 9;                     /* too long here, perhaps */
        } else if (!irc->nick_max || irc->nick_max >= sent) {
            irc->nick_max = sent - 1;              /* another nick refused: one shorter */
        }
    }
    if (++irc->nick_tries > NICK_TRIES_MAX) {
        log_error("irc: the server took none of %d nicks (last %s, %s); trying again later", NICK_TRIES_MAX, irc->cur_nick, cmd);
        reconnect_later(irc, "no nick accepted");
        return;
    }
    char suffix[16];
    if (irc->nick_tries == 1) snprintf(suffix, sizeof(suffix), "_");
    else snprintf(suffix, sizeof(suffix), "%d", irc->nick_tries);
    size_t base = strlen(irc->nick), sl = strlen(suffix);
    if (base > 40) base = 40;
    if (irc->nick_max && base + sl > irc->nick_max) base = irc->nick_max > sl ? irc->nick_max - sl : 1;
    char alt[64];
    snprintf(alt, sizeof(alt), "%.*s%s", (int)base, irc->nick, suffix);
    if (!strcmp(cmd, "432")) log_warn("irc: the server refuses the nick %s (432); trying %s", irc->cur_nick, alt);
    else log_warn("irc: nick %s is taken; trying %s", irc->cur_nick, alt);
    free(irc->cur_nick);
    irc->cur_nick = xstrdup(alt);
    sendf(irc, IRC_PRIO_SERVER, "NICK %s", alt);
}

/* CAP LS/ACK/NAK: ask for what we use among what is offered, then end.
 * echo-message (the server confirms each line we send) can be turned off:
 * the copies of our own lines are dropped, and on a busy link each one may
 * keep a server that uses Nagle waiting for our delayed ACK before it
 * sends the next message (40 ms on InspIRCd). */
static void on_cap(struct irc *irc, struct irc_line *l) {
    if (l->nparams < 3) return;
    const char *sub = l->params[1];
    const char *list = l->params[l->nparams - 1];
    if (!strcmp(sub, "LS")) {
        static const char *wanted[] = { "sasl", "message-tags", "server-time", "echo-message", NULL };
        char req[400] = "";
        for (int i = 0; wanted[i]; i++) {
            if (!strcmp(wanted[i], "sasl") && !irc->sasl_user) continue;
            if (!strcmp(wanted[i], "echo-message") && !irc->echo_message) continue;
            size_t wl = strlen(wanted[i]);
            for (const char *p = list; (p = strstr(p, wanted[i])); p += wl) {
                if ((p == list || p[-1] == ' ') && (p[wl] == '\0' || p[wl] == ' ' || p[wl] == '=')) {
                    if (*req) strcat(req, " ");
                    strcat(req, wanted[i]);
                    break;
                }
            }
        }
        int more = l->nparams >= 4 && !strcmp(l->params[2], "*");   /* 302: more LS lines follow */
        if (*req) {
            irc->cap_pending++;
            sendf(irc, IRC_PRIO_SERVER, "CAP REQ :%s", req);
        }
        if (!more && !irc->cap_pending && !irc->registered) sendf(irc, IRC_PRIO_SERVER, "CAP END");
    } else if (!strcmp(sub, "ACK")) {
        if (irc->cap_pending) irc->cap_pending--;
        if (irc->sasl_user && strstr(list, "sasl") && !irc->registered) {
            irc->sasl_busy = 1;
            sendf(irc, IRC_PRIO_SERVER, "AUTHENTICATE PLAIN");
        } else if (!irc->registered && !irc->cap_pending && !irc->sasl_busy) {
            sendf(irc, IRC_PRIO_SERVER, "CAP END");
        }
    } else if (!strcmp(sub, "NAK")) {
        if (irc->cap_pending) irc->cap_pending--;
        if (!irc->registered && !irc->cap_pending && !irc->sasl_busy) sendf(irc, IRC_PRIO_SERVER, "CAP END");
    }
}

/* Who it is for and whether the text calls the bot by name ("nick: hi"). */
static const char *strip_address(struct irc *irc, const char *text, int *addressed) {
    size_t n = strlen(irc->cur_nick);
    if (!irc_ncasecmp(text, irc->cur_nick, n, irc->casemap) && (text[n] == ':' || text[n] == ',')) {
        *addressed = 1;
        text += n + 1;
        while (*text == ' ') text++;
    }
    return text;
}

/* PRIVMSG (or NOTICE): a channel or a query becomes a chat_message;
 * CTCP ACTION an "action" event; a NOTICE is never answered. */
static void on_privmsg(struct irc *irc, struct irc_line *l) {
    if (l->nparams < 2 || !l->nick) return;
    if (same_name(irc, l->nick, irc->cur_nick)) return;         /* our own line (echo-message, a bouncer's copy) */
    const char *target = l->params[0];
    if (!strchr(l->prefix, '!') && strchr(l->prefix, '.')) {    /* a server's own notice: no one to answer */
        log_info("irc: %s from %s: %s", l->command[0] == 'N' ? "notice" : "message", l->prefix, l->params[1]);
        return;
    }
    int query = same_name(irc, target, irc->cur_nick);
    if (!query && !is_channel(irc, target)) {                   /* "$*", "$$server": a broadcast, not a conversation */
        log_info("irc: a message from %s to %s (not a channel nor us) is not answered", l->nick, target);
        return;
    }
    const char *when = irc_line_tag(l, "time");
    if (!query && when && *when) {                              /* history replayed on JOIN (InspIRCd +H, ...) */
        const char *name = target;
        while (*name && strchr(irc->statusmsg, *name)) name++;
        struct irc_channel *c = find_channel(irc, name);
        if (c && c->join_time[0] && strcmp(when, c->join_time) < 0) {
            log_info("irc: a line from %s in %s at %s is from the channel's history (before our join at %s); not answered",
                     l->nick, target, when, c->join_time);
            return;
        }
    }
    char *text = xstrdup(l->params[1]);
    int addressed = query;
    const char *event = NULL;
    if (text[0] == '\x01') {
        char *end = strchr(text + 1, '\x01');
        if (end) *end = '\0';
        if (strncmp(text + 1, "ACTION ", 7) != 0) {   /* VERSION, PING...: not for the skills */
            free(text);
            return;
        }
        memmove(text, text + 8, strlen(text + 8) + 1);
        event = "action";
    }
    if (!strcmp(l->command, "NOTICE")) event = "notice";
    const char *body = event ? text : strip_address(irc, text, &addressed);
    if (!*body || (!addressed && irc->addressed_only && !event)) {
        free(text);
        return;
    }
    char id[64];
    const char *msgid = irc_line_tag(l, "msgid");
    if (!msgid) {
        make_id(id, "irc-in-", ++irc->recv_ids);
        msgid = id;
    }
    struct chat_message m;
    memset(&m, 0, sizeof(m));
    m.platform = "irc";
    m.channel = (char *)(query ? l->nick : target);
    m.id = (char *)msgid;
    m.text = (char *)body;
    const char *account = irc_line_tag(l, "account");
    m.author.id = (char *)(account ? account : l->nick);
    m.author.name = l->nick;
    m.direct = addressed;
    m.event = (char *)event;
    m.received_at = server_now();
    if (irc->self->host->stopping()) {
        free(text);
        return;
    }
    if (platform_receive(irc->self, &m) < 0 && addressed)
        sendf(irc, IRC_PRIO_REPLY, "NOTICE %s :Too many messages are waiting here. Please slow down a little.",
              query ? l->nick : target);
    free(text);
}

/* One server line. */
static void on_line(struct irc *irc, struct irc_line *l) {
    const char *cmd = l->command;
    if (!strcmp(cmd, "PING")) {
        sendf(irc, IRC_PRIO_SERVER, "PONG :%s", l->nparams ? l->params[l->nparams - 1] : "");
    } else if (!strcmp(cmd, "PRIVMSG") || !strcmp(cmd, "NOTICE")) {
        if (irc->registered) on_privmsg(irc, l);
    } else if (!strcmp(cmd, "CAP")) {
        on_cap(irc, l);
    } else if (!strcmp(cmd, "AUTHENTICATE")) {
        if (l->nparams && !strcmp(l->params[0], "+") && irc->sasl_user) send_sasl_plain(irc);
    } else if (!strcmp(cmd, "902") || !strcmp(cmd, "903") || !strcmp(cmd, "904") || !strcmp(cmd, "905") ||
               !strcmp(cmd, "906") || !strcmp(cmd, "907")) {
        /* 903 success; 902 (account locked or held) and 904-907 end the
         * exchange too: registration goes on without the account */
        if (strcmp(cmd, "903"))
            log_error("irc: SASL login as %s failed (%s: %s); carrying on without the account (check sasl.password)",
                      irc->sasl_user, cmd, l->nparams ? l->params[l->nparams - 1] : "");
        else log_info("irc: SASL login as %s succeeded", irc->sasl_user);
        irc->sasl_ok = !strcmp(cmd, "903");
        irc->sasl_busy = 0;
        if (!irc->registered && !irc->cap_pending) sendf(irc, IRC_PRIO_SERVER, "CAP END");
    } else if (!strcmp(cmd, "001")) {
        irc->registered = 1;
        irc->registered_at = uv_now(irc->self->host->loop);
        if (l->nparams && strcmp(l->params[0], irc->cur_nick)) {
            free(irc->cur_nick);
            irc->cur_nick = xstrdup(l->params[0]);
        }
        log_info("irc: registered on %s:%s as %s", irc->host, irc->port, irc->cur_nick);
        if (irc->sasl_user && !irc->sasl_ok)
            log_warn("irc: registered without logging in as %s (the server offered no SASL, or the login failed)",
                     irc->sasl_user);
        irc->self->ready = 1;
        join_all(irc);
    } else if (!strcmp(cmd, "433") || !strcmp(cmd, "432") || !strcmp(cmd, "436") ||
               (!strcmp(cmd, "437") && !irc->registered)) {
        /* 437 before the welcome: the nick is held for now (services, a netsplit) */
        if (irc->registered) return;
        next_nick(irc, cmd, l->nparams >= 2 ? l->params[1] : NULL);
    } else if (!strcmp(cmd, "005")) {
        on_isupport(irc, l);
    } else if (!strcmp(cmd, "NICK") && l->nick && same_name(irc, l->nick, irc->cur_nick) && l->nparams) {
        if (strcmp(irc->cur_nick, l->params[0])) log_info("irc: our nick is now %s (was %s)", l->params[0], irc->cur_nick);
        free(irc->cur_nick);
        irc->cur_nick = xstrdup(l->params[0]);
    } else if (!strcmp(cmd, "JOIN") && l->nick && same_name(irc, l->nick, irc->cur_nick) && l->nparams) {
        struct irc_channel *c = find_channel(irc, l->params[0]);
        if (c) {
            const char *when = irc_line_tag(l, "time");
            c->joined = 1;
            c->retry_at = 0;
            c->joined_at = uv_now(irc->self->host->loop);
            snprintf(c->join_time, sizeof(c->join_time), "%s", when ? when : "");
        }
        log_info("irc: joined %s", l->params[0]);
    } else if (!strcmp(cmd, "KICK") && l->nparams >= 2 && same_name(irc, l->params[1], irc->cur_nick)) {
        struct irc_channel *c = find_channel(irc, l->params[0]);
        if (!c) return;
        if (uv_now(irc->self->host->loop) - c->joined_at >= (uint64_t)irc->rejoin_max) c->kicks = 0;
        double delay = rejoin_later(irc, c);
        metrics_inc(METRIC_PLATFORM_EVENTS, "irc_kicked", 1);
        log_warn("irc: kicked from %s by %s (%s); rejoining in %.0f ms", c->name, l->nick ? l->nick : "?",
                 l->nparams >= 3 ? l->params[2] : "", delay);
    } else if (!strcmp(cmd, "ERROR")) {
        /* The server is closing the link; say why, and let the wait grow */
        log_warn("irc: the server closes the link: %s", l->nparams ? l->params[0] : "");
        reconnect_later(irc, "ERROR from the server");
    } else if (!strcmp(cmd, "464") || !strcmp(cmd, "465") || !strcmp(cmd, "466")) {
        log_error("irc: %s:%s %s (%s: %s)", irc->host, irc->port,
                  !strcmp(cmd, "464") ? "refuses the server password" : "has banned this bot", cmd,
                  l->nparams ? l->params[l->nparams - 1] : "");
    } else if (!strcmp(cmd, "403") || !strcmp(cmd, "405") || !strcmp(cmd, "437") || !strcmp(cmd, "471") ||
               !strcmp(cmd, "473") || !strcmp(cmd, "474") || !strcmp(cmd, "475") || !strcmp(cmd, "476") ||
               !strcmp(cmd, "477") || !strcmp(cmd, "489")) {
        /* a JOIN refused (full, invite only, banned, key, registered or TLS users only...) */
        struct irc_channel *c = l->nparams >= 2 ? find_channel(irc, l->params[1]) : NULL;
        if (!c || c->joined) return;                  /* 403/437 also answer other commands */
        double delay = rejoin_later(irc, c);
        log_warn("irc: cannot join %s (%s: %s); trying again in %.0f ms", c->name, cmd,
                 l->nparams >= 3 ? l->params[l->nparams - 1] : "", delay);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    struct irc *irc = h->data;
    (void)suggested;
    if (irc->rlen >= READ_MAX) irc->rlen = 0;         /* a line without end: dropped */
    if (irc->tls_conn) {
        buf->base = irc->cbuf;
        buf->len = READ_MAX - irc->rlen;              /* never more than the plaintext room */
        return;
    }
    buf->base = irc->rbuf + irc->rlen;
    buf->len = READ_MAX - irc->rlen;
}

/* Bytes from the server: every whole line to on_line. */
static void begin_registration(struct irc *irc);

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
    struct irc *irc = s->data;
    (void)buf;
    if (n < 0) {
        reconnect_later(irc, n == UV_EOF ? "closed by the server" : uv_strerror((int)n));
        return;
    }
    if (irc->tls_conn) {
        char err[256];
        n = tls_pipe_read(irc->tls_conn, irc->cbuf, (size_t)n, irc->rbuf + irc->rlen, READ_MAX - irc->rlen, err, sizeof(err));
        flush_tls(irc);
        if (n < 0) {
            log_error("irc: %s", err);
            reconnect_later(irc, "TLS failed");
            return;
        }
        if (!irc->tls_up && tls_pipe_handshake(irc->tls_conn, err, sizeof(err)) == 1) {
            irc->tls_up = 1;
            begin_registration(irc);
        }
    }
    irc->rlen += (size_t)n;
    size_t start = 0;
    const char *nl;
    while ((nl = memchr(irc->rbuf + start, '\n', irc->rlen - start))) {   /* not byte by byte: most of the read */
        size_t i = (size_t)(nl - irc->rbuf);
        struct irc_line l;
        if (irc_line_parse(irc->rbuf + start, i - start, &l) == 0) on_line(irc, &l);
        irc_line_free(&l);
        start = i + 1;
        if (!irc->tcp) return;                        /* on_line dropped the connection */
    }
    memmove(irc->rbuf, irc->rbuf + start, irc->rlen - start);
    irc->rlen -= start;
}

/* TCP is up: start registration (CAP LS first, so caps are settled before 001). */
static void on_connect(uv_connect_t *req, int status) {
    struct irc *irc = req->data;
    free(req);
    if (!irc) return;                                 /* stopped meanwhile */
    irc->connecting = NULL;
    if (status < 0) {
        reconnect_later(irc, uv_strerror(status));
        return;
    }
    if (irc->stopped) return;
    irc->tcp->data = irc;
    uv_read_start((uv_stream_t *)irc->tcp, on_alloc, on_read);
    if (!irc->tls) {
        begin_registration(irc);
        return;
    }
    char err[256];
    irc->tls_conn = tls_pipe_new(irc->host, irc->ca_file, err, sizeof(err));
    if (!irc->tls_conn || tls_pipe_handshake(irc->tls_conn, err, sizeof(err)) < 0) {
        log_error("irc: %s", err);
        reconnect_later(irc, "TLS failed");
        return;
    }
    flush_tls(irc);
}

/* The link is up (and TLS done): CAP LS, PASS, NICK, USER. */
static void begin_registration(struct irc *irc) {
    irc->nick_tries = 0;
    irc->nick_max = 0;
    irc->casemap = IRC_CASEMAP_RFC1459;              /* until 005 says otherwise */
    snprintf(irc->chantypes, sizeof(irc->chantypes), "#&");
    irc->statusmsg[0] = '\0';
    irc->cap_pending = 0;
    irc->sasl_busy = 0;
    irc->sasl_ok = 0;
    free(irc->cur_nick);
    irc->cur_nick = xstrdup(irc->nick);
    irc_queue_clear(&irc->queue);
    sendf(irc, IRC_PRIO_SERVER, "CAP LS 302");
    if (irc->password) sendf(irc, IRC_PRIO_SERVER, "PASS %s", irc->password);
    sendf(irc, IRC_PRIO_SERVER, "NICK %s", irc->cur_nick);
    sendf(irc, IRC_PRIO_SERVER, "USER %s 0 * :%s", irc->user, irc->realname);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
    struct irc *irc = req->data;
    free(req);
    if (!irc) {                                       /* stopped meanwhile */
        if (res) uv_freeaddrinfo(res);
        return;
    }
    irc->resolving = NULL;
    if (irc->stopped) {
        if (res) uv_freeaddrinfo(res);
        return;
    }
    if (status < 0 || !res) {
        reconnect_later(irc, uv_strerror(status));
        return;
    }
    irc->tcp = xmalloc(sizeof(uv_tcp_t));
    uv_tcp_init(irc->self->host->loop, irc->tcp);
    irc->tcp->data = irc;
    uv_tcp_nodelay(irc->tcp, 1);
    uv_connect_t *c = xmalloc(sizeof(*c));
    c->data = irc;
    int rc = uv_tcp_connect(c, irc->tcp, res->ai_addr, on_connect);
    uv_freeaddrinfo(res);
    if (rc == 0) irc->connecting = c;
    if (rc < 0) {
        free(c);
        reconnect_later(irc, uv_strerror(rc));
    }
}

/* Resolve the host (off the loop thread) and connect. */
static void connect_now(struct irc *irc) {
    if (irc->stopped || irc->tcp || irc->resolving) return;
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    irc->resolving = xmalloc(sizeof(uv_getaddrinfo_t));
    irc->resolving->data = irc;
    if (uv_getaddrinfo(irc->self->host->loop, irc->resolving, on_resolved, irc->host, irc->port, &hints) < 0) {
        free(irc->resolving);
        irc->resolving = NULL;
        reconnect_later(irc, "cannot resolve");
    }
}

/* ---- platform_ops ----------------------------------------------------- */

static uv_timer_t *new_timer(struct irc *irc) {
    uv_timer_t *t = xmalloc(sizeof(*t));
    uv_timer_init(irc->self->host->loop, t);
    t->data = irc;
    return t;
}

static int irc_start(struct platform *p) {
    struct irc *irc = p->state;
    irc->retry = new_timer(irc);
    irc->flush = new_timer(irc);
    irc->rejoin = new_timer(irc);
    log_info("irc: connecting to %s:%s as %s", irc->host, irc->port, irc->nick);
    connect_now(irc);
    return 0;
}

/* A reply: each line of TEXT, split to fit one IRC line with the prefix the
 * server adds, queued behind server replies. */
static int irc_send(struct platform *p, const struct outgoing *out, platform_sent_fn *cb, void *data) {
    struct irc *irc = p->state;
    if (!irc || irc->stopped || !irc->tcp) {
        if (cb) cb(NULL, "IRC is not connected", data);
        return 0;
    }
    size_t overhead = strlen("PRIVMSG  :") + strlen(out->channel) + 2 + HOST_RESERVE + strlen(irc->cur_nick);
    size_t max = IRC_LINE_MAX > overhead + 32 ? IRC_LINE_MAX - overhead : 32;
    char **pieces;
    int n = irc_split(out->text, strlen(out->text), max, &pieces);
    for (int i = 0; i < n; i++) send_privmsg(irc, out->channel, pieces[i]);
    irc_split_free(pieces, n);
    char id[64];
    make_id(id, "irc-out-", ++irc->sent_ids);
    if (cb) cb(n > 0 ? id : NULL, n > 0 ? NULL : "an empty reply cannot be sent to IRC", data);
    return 0;
}

static int irc_typing(struct platform *p, const char *channel) {
    (void)p, (void)channel;
    return 0;
}

static void close_timer(uv_timer_t *t) {
    if (!t) return;
    uv_timer_stop(t);
    uv_close((uv_handle_t *)t, on_tcp_closed);
}

/* QUIT politely, close the socket and the timers, free the state. */
static void irc_stop(struct platform *p) {
    struct irc *irc = p->state;
    if (!irc || irc->stopped) return;
    if (irc->tcp && irc->registered) write_line(irc, "QUIT :restarting");
    irc->stopped = 1;
    reconnect_later(irc, "stopping");
    close_timer(irc->retry);
    close_timer(irc->flush);
    close_timer(irc->rejoin);
    if (irc->connecting) irc->connecting->data = NULL;
    if (irc->resolving) {
        uv_cancel((uv_req_t *)irc->resolving);  /* on_resolved frees it */
        irc->resolving->data = NULL;
    }
    p->ready = 0;
    for (int i = 0; i < irc->nchannels; i++) {
        free(irc->channels[i].name);
        free(irc->channels[i].key);
    }
    free(irc->host);
    free(irc->ca_file);
    free(irc->port);
    free(irc->nick);
    free(irc->user);
    free(irc->realname);
    free(irc->password);
    free(irc->sasl_user);
    free(irc->sasl_pass);
    free(irc->cur_nick);
    free(irc);
    p->state = NULL;
}

static int irc_connections(struct platform *p) {
    struct irc *irc = p->state;
    return irc && irc->tcp ? 1 : 0;
}

static void *irc_create(struct platform *p, const struct config_block *b) {
    struct irc *irc = xcalloc(1, sizeof(*irc));
    irc->self = p;
    read_config(irc, b);
    irc->cur_nick = xstrdup(irc->nick);
    return irc;
}

/* platform_ops.mention: the nick, which IRC clients highlight. */
static char *irc_mention(struct platform *p, const char *user_id, const char *user_name) {
    (void)p, (void)user_id;
    return xstrdup(user_name);
}

const struct platform_ops irc_platform = {
    .name = "irc",
    .config_kind = "irc",
    .create = irc_create,
    .start = irc_start,
    .send = irc_send,
    .typing = irc_typing,
    .stop = irc_stop,
    .connections = irc_connections,
    .mention = irc_mention,
};
