/* ndjson.h - splitting a newline-delimited JSON stream into lines.
 *
 * Bytes go in as they arrive, split anywhere; each complete non-empty line
 * comes out once, without its "\n" or "\r\n". Parsing the JSON is the
 * caller's business. A line longer than the cap is an error. */
#ifndef CHORUS_NDJSON_H
#define CHORUS_NDJSON_H
#include <stddef.h>

/* One line, NUL-terminated. Return 0 to go on, nonzero to stop. */
typedef int ndjson_line_fn(const char *line, size_t len, void *ud);

#define NDJSON_ERR_LINE (-1)
#define NDJSON_ERR_NOMEM (-2)

struct ndjson_splitter {
    char *line;
    size_t len, cap, max_line;
    ndjson_line_fn *cb;
    void *ud;
};

void ndjson_init(struct ndjson_splitter *s, size_t max_line, ndjson_line_fn *cb, void *ud);
/* Feed bytes. Returns 0, NDJSON_ERR_*, or what a callback returned to stop. */
int ndjson_feed(struct ndjson_splitter *s, const char *buf, size_t len);
/* Bytes of an unterminated last line (blank space aside) at the end. */
size_t ndjson_pending(const struct ndjson_splitter *s);
void ndjson_free(struct ndjson_splitter *s);
#endif
