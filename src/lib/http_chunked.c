/* http_chunked.c - a chunked request body decoder (http_chunked.h). */
#include "lib/http_chunked.h"

#define MAX_SIZE_LINE 4096      /* a size line with its extensions */
#define MAX_TRAILERS 16384      /* the whole trailer section */

enum {
    ST_SIZE,        /* reading the hex size */
    ST_EXT,         /* passing over chunk extensions up to CR */
    ST_SIZE_LF,     /* after the size line's CR */
    ST_DATA,
    ST_DATA_CR,     /* the CRLF after a chunk's data */
    ST_DATA_LF,
    ST_TRAILER,     /* at the start of a trailer line, or of the final CRLF */
    ST_FIELD,       /* inside a trailer field line */
    ST_FIELD_LF,
    ST_END_LF,      /* the CR of the final CRLF was read */
    ST_DONE,
    ST_FAILED,
};

void chunked_init(struct chunked *c) {
    c->state = ST_SIZE;
    c->digits = 0;
    c->left = 0;
    c->line = 0;
}

static int hexval(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Stop with STATUS, having read I bytes. */
static int stop(struct chunked *c, int status, size_t i, size_t *used) {
    if (used) *used = i;
    c->state = status == CHUNKED_DONE ? ST_DONE : ST_FAILED;
    return status;
}

/* One byte-driven state machine: data runs go to OUT without copying. */
int chunked_feed(struct chunked *c, const char *in, size_t len, size_t *used, chunked_out_fn *out, void *arg) {
    size_t i = 0;
    if (c->state == ST_DONE) return stop(c, CHUNKED_DONE, 0, used);
    if (c->state == ST_FAILED) return stop(c, CHUNKED_BAD, 0, used);
    while (i < len) {
        char ch = in[i];
        switch (c->state) {
        case ST_SIZE: {
            int v = hexval(ch);
            if (++c->line > MAX_SIZE_LINE) return stop(c, CHUNKED_BAD, i, used);
            if (v >= 0) {
                if (c->left > (UINT64_MAX >> 4)) return stop(c, CHUNKED_BAD, i, used);
                c->left = c->left << 4 | (uint64_t)v;
                c->digits++;
            } else if (!c->digits) {
                return stop(c, CHUNKED_BAD, i, used);
            } else if (ch == ';' || ch == ' ' || ch == '\t') {
                c->state = ST_EXT;
            } else if (ch == '\r') {
                c->state = ST_SIZE_LF;
            } else {
                return stop(c, CHUNKED_BAD, i, used);
            }
            i++;
            break;
        }
        case ST_EXT:
            if (++c->line > MAX_SIZE_LINE || ch == '\n') return stop(c, CHUNKED_BAD, i, used);
            if (ch == '\r') c->state = ST_SIZE_LF;
            i++;
            break;
        case ST_SIZE_LF:
            if (ch != '\n') return stop(c, CHUNKED_BAD, i, used);
            i++;
            c->line = 0;
            c->digits = 0;
            c->state = c->left ? ST_DATA : ST_TRAILER;
            break;
        case ST_DATA: {
            size_t n = len - i;
            if ((uint64_t)n > c->left) n = (size_t)c->left;
            if (out(arg, in + i, n) < 0) return stop(c, CHUNKED_REFUSED, i, used);
            i += n;
            c->left -= n;
            if (!c->left) c->state = ST_DATA_CR;
            break;
        }
        case ST_DATA_CR:
            if (ch != '\r') return stop(c, CHUNKED_BAD, i, used);
            c->state = ST_DATA_LF;
            i++;
            break;
        case ST_DATA_LF:
            if (ch != '\n') return stop(c, CHUNKED_BAD, i, used);
            c->state = ST_SIZE;
            i++;
            break;
        case ST_TRAILER:
        case ST_FIELD:
            if (++c->line > MAX_TRAILERS || ch == '\n') return stop(c, CHUNKED_BAD, i, used);
            if (ch == '\r') c->state = c->state == ST_TRAILER ? ST_END_LF : ST_FIELD_LF;
            else c->state = ST_FIELD;
            i++;
            break;
        case ST_FIELD_LF:
            if (ch != '\n') return stop(c, CHUNKED_BAD, i, used);
            c->state = ST_TRAILER;
            i++;
            break;
        case ST_END_LF:
            if (ch != '\n') return stop(c, CHUNKED_BAD, i, used);
            return stop(c, CHUNKED_DONE, i + 1, used);
        default:
            return stop(c, CHUNKED_BAD, i, used);
        }
    }
    if (used) *used = i;
    return CHUNKED_MORE;
}
