/* log.c - leveled logging that never blocks the event loop.
 *
 * The calling thread does all the formatting: message, redaction,
 * timestamp, escaping. The finished line goes on a linked list guarded by
 * q_lock; the writer thread takes the whole list at once and writes it to
 * fd 2 without holding the lock, so a slow or blocked stderr only ever
 * delays the writer. The list is bounded; past the bound, lines are
 * counted as dropped and the writer reports the count. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include "lib/log.h"
#include "lib/redact.h"
#include "lib/utf8.h"
#include "lib/xalloc.h"

#define MSG_MAX 4096                    /* message buffer: 4095 bytes + NUL */
#define QUEUE_MAX_LINES 4096
#define QUEUE_MAX_BYTES (1024 * 1024)

struct line {
    struct line *next;
    size_t len;
    char text[];
};

static atomic_int cur_level = LOG_LEVEL_INFO;
static atomic_int cur_format = LOG_FORMAT_TEXT;

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_work = PTHREAD_COND_INITIALIZER;   /* lines or stop for the writer */
static pthread_cond_t q_done = PTHREAD_COND_INITIALIZER;   /* the writer has exited */
static struct line *q_head, *q_tail;
static size_t q_lines, q_bytes;
static unsigned long long q_dropped;
static int q_running;                   /* the writer accepts lines */
static int q_stopping;                  /* log_shutdown() is draining */
static pthread_t q_thread;

static const char *const text_names[] = { "DEBUG", "INFO", "WARN", "ERROR" };
static const char *const json_names[] = { "debug", "info", "warn", "error" };

/* Write all of buf to fd, across EINTR, partial writes and a non-blocking
 * fd. Returns 0 or -1. */
static int write_all(int fd, const char *buf, size_t len) {
    ssize_t n;
    struct pollfd pfd;

    while (len > 0) {
        n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
            pfd.fd = fd;
            pfd.events = POLLOUT;
            if (poll(&pfd, 1, -1) < 0 && errno != EINTR) return -1;
            continue;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Escape msg so the line stays one line (text) or one valid JSON string.
 * With out NULL it only measures. Returns the escaped length. */
static size_t escape_into(const char *msg, size_t len, int json, char *out) {
    static const char hex[] = "0123456789abcdef";
    char esc[6];
    size_t i, o = 0, n;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)msg[i];
        char letter = 0;

        if (c == '\n') letter = 'n';
        else if (c == '\r') letter = 'r';
        else if (json && c == '\t') letter = 't';
        else if (json && (c == '"' || c == '\\')) letter = (char)c;

        if (letter) {
            esc[0] = '\\';
            esc[1] = letter;
            n = 2;
        } else if (json && c < 0x20) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        } else if (!json && ((c < 0x20 && c != '\t') || c == 0x7f)) {
            esc[0] = '\\';                  /* no raw terminal controls */
            esc[1] = 'x';
            esc[2] = hex[c >> 4];
            esc[3] = hex[c & 15];
            n = 4;
        } else {
            esc[0] = (char)c;
            n = 1;
        }
        if (out) memcpy(out + o, esc, n);
        o += n;
    }
    return o;
}

/* The current UTC time as 2026-11-29T17:53:49.123Z. */
static void format_time(char *buf, size_t size) {
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

/* A multi-line detail (a traceback) after the message: in text, each of
 * its lines on a line of its own, indented, so it reads as it was printed
 * and never looks like a new entry; in JSON, one "traceback" field. With
 * out NULL it only measures. */
static size_t detail_into(const char *d, size_t len, int json, char *out) {
    static const char field[] = "\",\"traceback\":\"";
    size_t o = 0;
    if (json) {
        if (out) memcpy(out, field, sizeof field - 1);
        o = sizeof field - 1;
        return o + escape_into(d, len, 1, out ? out + o : NULL);
    }
    while (len > 0) {
        const char *nl = memchr(d, '\n', len);
        size_t n = nl ? (size_t)(nl - d) : len;
        if (out) memcpy(out + o, "\n    ", 5);
        o += 5;
        o += escape_into(d, n, 0, out ? out + o : NULL);
        d += n + (nl ? 1 : 0);
        len -= n + (nl ? 1 : 0);
    }
    return o;
}

/* Build the complete output line, newline included, in one allocation that
 * can go straight on the queue. Returns NULL if out of memory. */
static struct line *make_line(enum log_level level, const char *msg, size_t len, const char *detail, size_t dlen) {
    int json = atomic_load(&cur_format) == LOG_FORMAT_JSON;
    char ts[64], head[160], *fixed = NULL;
    const char *tail = json ? "\"}\n" : "\n";
    size_t hlen, elen, tlen = strlen(tail);
    struct line *ln;

    char *dfixed = NULL;
    if (json && !utf8_valid(msg, len)) {     /* JSON must be valid UTF-8 */
        fixed = utf8_repair(msg, len, &len);
        if (fixed == NULL) return NULL;
        msg = fixed;
    }
    if (json && detail && !utf8_valid(detail, dlen)) {
        dfixed = utf8_repair(detail, dlen, &dlen);
        if (dfixed == NULL) {
            free(fixed);
            return NULL;
        }
        detail = dfixed;
    }
    format_time(ts, sizeof ts);
    if (json)
        snprintf(head, sizeof head, "{\"ts\":\"%s\",\"level\":\"%s\",\"pid\":%d,\"msg\":\"",
                 ts, json_names[level], (int)getpid());
    else
        snprintf(head, sizeof head, "%s chorusd[%d] %s ", ts, (int)getpid(), text_names[level]);
    hlen = strlen(head);
    elen = escape_into(msg, len, json, NULL);
    size_t dsize = detail ? detail_into(detail, dlen, json, NULL) : 0;

    ln = xmalloc(sizeof *ln + hlen + elen + dsize + tlen + 1);
    if (ln != NULL) {
        ln->next = NULL;
        ln->len = hlen + elen + dsize + tlen;
        memcpy(ln->text, head, hlen);
        escape_into(msg, len, json, ln->text + hlen);
        if (detail) detail_into(detail, dlen, json, ln->text + hlen + elen);
        memcpy(ln->text + hlen + elen + dsize, tail, tlen + 1);
    }
    free(fixed);
    free(dfixed);
    return ln;
}

/* Count a line that could not be queued; the writer reports the count. */
static void count_drop(void) {
    pthread_mutex_lock(&q_lock);
    q_dropped++;
    pthread_cond_signal(&q_work);
    pthread_mutex_unlock(&q_lock);
}

/* Queue a finished line, or write it now when there is no writer thread.
 * Takes ownership of ln. */
static void enqueue(struct line *ln) {
    pthread_mutex_lock(&q_lock);
    if (!q_running) {
        pthread_mutex_unlock(&q_lock);
        write_all(2, ln->text, ln->len);
        free(ln);
        return;
    }
    if (q_lines >= QUEUE_MAX_LINES || q_bytes + ln->len > QUEUE_MAX_BYTES) {
        q_dropped++;
        pthread_mutex_unlock(&q_lock);
        free(ln);
        return;
    }
    if (q_tail) q_tail->next = ln;
    else q_head = ln;
    q_tail = ln;
    q_lines++;
    q_bytes += ln->len;
    pthread_cond_signal(&q_work);
    pthread_mutex_unlock(&q_lock);
}

/* Everything a log_* call does once the level check has passed. The
 * message is formatted in full before redaction: cutting it at the cap
 * first could cut a secret and let its prefix through. */
static void log_v(enum log_level level, const char *detail, const char *fmt, va_list ap) {
    char buf[MSG_MAX], red[MSG_MAX + 1], *msg = buf;
    int saved_errno = errno, n;
    size_t len, k;
    va_list again;
    struct line *ln;

    va_copy(again, ap);
    n = vsnprintf(buf, sizeof buf, fmt, ap);
    if (n >= 0 && (size_t)n >= sizeof buf) {
        msg = xmalloc((size_t)n + 1);
        if (msg != NULL) vsnprintf(msg, (size_t)n + 1, fmt, again);
    }
    va_end(again);
    if (n < 0 || msg == NULL) {
        count_drop();
        errno = saved_errno;
        return;
    }

    len = redact(msg, red, sizeof red);
    if (msg != buf) free(msg);
    if (len > MSG_MAX - 1) {                 /* over the cap: cut and mark */
        len = MSG_MAX - 4;
        for (k = 0; k < 3 && ((unsigned char)red[len] & 0xC0) == 0x80; k++) len--;
        memcpy(red + len, "...", 3);
        len += 3;
    }

    char *dred = NULL;
    size_t dlen = 0;
    if (detail) {   /* masked like the message, and as long as it needs */
        size_t cap = strlen(detail) * 2 + 64;
        dred = xmalloc(cap);
        dlen = redact(detail, dred, cap);
        if (dlen >= cap) dlen = cap - 1;
    }
    ln = make_line(level, red, len, dred, dlen);
    free(dred);
    if (ln == NULL) count_drop();
    else enqueue(ln);
    errno = saved_errno;
}

/* The writer thread: take the whole queue, write it, report drops, and
 * exit once asked to stop and nothing is left. */
static void *writer_main(void *arg) {
    struct line *batch, *next;
    unsigned long long dropped;
    char note[64];

    (void)arg;
    for (;;) {
        pthread_mutex_lock(&q_lock);
        while (q_head == NULL && q_dropped == 0 && !q_stopping)
            pthread_cond_wait(&q_work, &q_lock);
        if (q_head == NULL && q_dropped == 0) {
            q_running = 0;                   /* from now on log_* write directly */
            pthread_cond_broadcast(&q_done);
            pthread_mutex_unlock(&q_lock);
            return NULL;
        }
        batch = q_head;
        q_head = q_tail = NULL;
        q_lines = q_bytes = 0;
        dropped = q_dropped;
        q_dropped = 0;
        pthread_mutex_unlock(&q_lock);

        for (; batch; batch = next) {
            next = batch->next;
            write_all(2, batch->text, batch->len);
            free(batch);
        }
        if (dropped) {
            snprintf(note, sizeof note, "log: %llu lines dropped", dropped);
            batch = make_line(LOG_LEVEL_WARN, note, strlen(note), NULL, 0);
            if (batch) {
                write_all(2, batch->text, batch->len);
                free(batch);
            }
        }
    }
}

/* Move log output off the event loop thread. */
int log_init(enum log_level level, enum log_format format) {
    sigset_t all, old;
    int rc;

    log_set_level(level);
    atomic_store(&cur_format, format == LOG_FORMAT_JSON ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT);
    pthread_mutex_lock(&q_lock);
    if (q_running || q_stopping) {
        rc = q_stopping ? -1 : 0;
        pthread_mutex_unlock(&q_lock);
        return rc;
    }
    /* Signals belong to the event loop: the writer starts with all blocked. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&q_thread, NULL, writer_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0) q_running = 1;
    pthread_mutex_unlock(&q_lock);
    return rc == 0 ? 0 : -1;
}

/* Change verbosity at run time, e.g. on config reload. */
void log_set_level(enum log_level level) {
    if ((unsigned)level > LOG_LEVEL_ERROR) return;
    atomic_store_explicit(&cur_level, (int)level, memory_order_relaxed);
}

/* The level in force, for code that wants to skip expensive debug work. */
enum log_level log_get_level(void) {
    return (enum log_level)atomic_load_explicit(&cur_level, memory_order_relaxed);
}

/* Map a config or command line word to a level. */
int log_level_parse(const char *name, enum log_level *out) {
    if (name == NULL) return -1;
    if (strcasecmp(name, "debug") == 0) *out = LOG_LEVEL_DEBUG;
    else if (strcasecmp(name, "info") == 0) *out = LOG_LEVEL_INFO;
    else if (strcasecmp(name, "warn") == 0 || strcasecmp(name, "warning") == 0) *out = LOG_LEVEL_WARN;
    else if (strcasecmp(name, "error") == 0) *out = LOG_LEVEL_ERROR;
    else return -1;
    return 0;
}

/* Write out every queued line before exit or abort, then stop the writer.
 * A second caller during a shutdown waits for the same flush. */
void log_shutdown(void) {
    pthread_mutex_lock(&q_lock);
    if (!q_running) {
        pthread_mutex_unlock(&q_lock);
        return;
    }
    if (q_stopping) {
        while (q_running) pthread_cond_wait(&q_done, &q_lock);
        pthread_mutex_unlock(&q_lock);
        return;
    }
    q_stopping = 1;
    pthread_cond_signal(&q_work);
    pthread_mutex_unlock(&q_lock);

    pthread_join(q_thread, NULL);
    pthread_mutex_lock(&q_lock);
    q_stopping = 0;
    pthread_mutex_unlock(&q_lock);
}

/* Detail for debugging; off by default. */
void log_debug(const char *fmt, ...) {
    va_list ap;

    if (LOG_LEVEL_DEBUG < atomic_load_explicit(&cur_level, memory_order_relaxed)) return;
    va_start(ap, fmt);
    log_v(LOG_LEVEL_DEBUG, NULL, fmt, ap);
    va_end(ap);
}

/* Normal operation: startup, connections, reloads. */
void log_info(const char *fmt, ...) {
    va_list ap;

    if (LOG_LEVEL_INFO < atomic_load_explicit(&cur_level, memory_order_relaxed)) return;
    va_start(ap, fmt);
    log_v(LOG_LEVEL_INFO, NULL, fmt, ap);
    va_end(ap);
}

/* Something went wrong but the daemon carries on. */
void log_warn(const char *fmt, ...) {
    va_list ap;

    if (LOG_LEVEL_WARN < atomic_load_explicit(&cur_level, memory_order_relaxed)) return;
    va_start(ap, fmt);
    log_v(LOG_LEVEL_WARN, NULL, fmt, ap);
    va_end(ap);
}

/* A failure an operator must look at. */
void log_error(const char *fmt, ...) {
    va_list ap;

    if (LOG_LEVEL_ERROR < atomic_load_explicit(&cur_level, memory_order_relaxed)) return;
    va_start(ap, fmt);
    log_v(LOG_LEVEL_ERROR, NULL, fmt, ap);
    va_end(ap);
}

void log_traceback(enum log_level level, const char *traceback, const char *fmt, ...) {
    va_list ap;
    if (level < (enum log_level)atomic_load(&cur_level)) return;
    va_start(ap, fmt);
    log_v(level, traceback, fmt, ap);
    va_end(ap);
}
