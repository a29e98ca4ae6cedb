/* log.h - leveled logging that never blocks the event loop.
 *
 * log_*() format the line, mask secrets with redact(), and hand it to a
 * writer thread through a bounded queue; when the queue is full the line
 * is dropped and counted instead of waiting. Before log_init() and after
 * log_shutdown() lines are written synchronously to stderr. */
#ifndef CHORUS_LOG_H
#define CHORUS_LOG_H

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

/* Start the writer thread that drains the queue to fd 2. Returns 0 or -1.
 * Before log_init, log_* write synchronously to stderr (so early startup
 * errors are never lost). */
int log_init(enum log_level level, enum log_format format);

void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* 0 and *out set for "debug","info","warn"/"warning","error" (any case);
 * -1 otherwise. */
int log_level_parse(const char *name, enum log_level *out);

/* Flush everything queued and stop the writer thread. Safe to call twice
 * or without log_init. */
void log_shutdown(void);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A message with a multi-line TRACEBACK: in text, the traceback's lines
 * follow the message, each on its own line indented by four spaces; in
 * JSON, it is the entry's "traceback" field. */
void log_traceback(enum log_level level, const char *traceback, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
