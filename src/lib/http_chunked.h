/* http_chunked.h - decoding a request body sent with Transfer-Encoding: chunked.
 *
 * RFC 9112 section 7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data
 * CRLF; the last chunk has size 0 and is followed by an optional trailer
 * section and a CRLF. Chunk extensions and trailer fields are read and
 * passed over (a recipient must ignore unknown extensions). Line ends must
 * be CRLF: a lone LF or CR in the framing is refused, as proxies that read
 * it another way are how requests are smuggled. */
#ifndef CHORUS_HTTP_CHUNKED_H
#define CHORUS_HTTP_CHUNKED_H
#include <stddef.h>
#include <stdint.h>

enum {
    CHUNKED_MORE = 0,       /* all of IN taken; the body goes on */
    CHUNKED_DONE = 1,       /* the body ended; *USED bytes of IN were its last */
    CHUNKED_BAD = -1,       /* the framing is not chunked coding */
    CHUNKED_REFUSED = -2,   /* OUT refused a piece (say, too large) */
};

struct chunked {
    int state;
    int digits;             /* hex digits of the size read so far */
    uint64_t left;          /* data bytes still to come in this chunk */
    size_t line;            /* bytes of the size line or trailer section so far */
};

/* A run of decoded body bytes; return -1 to stop. */
typedef int chunked_out_fn(void *arg, const char *data, size_t len);

void chunked_init(struct chunked *c);
/* Decode the next LEN bytes of the body as sent: the data goes to OUT in
 * pieces. Returns one of the CHUNKED_ values; *USED (may be NULL) is how
 * many bytes of IN were read. After DONE or an error, nothing more is read. */
int chunked_feed(struct chunked *c, const char *in, size_t len, size_t *used, chunked_out_fn *out, void *arg);
#endif
