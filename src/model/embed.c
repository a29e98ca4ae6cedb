/* embed.c - embedding calls: OpenAI-compatible /embeddings, Ollama
 * /api/embed, and the local hashed bag of words, all answered from the loop. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "io/http_client.h"
#include "model/embed.h"
#include "model/model.h"
#include "model/provider_http.h"
#include "lib/xalloc.h"

struct embed_call {
    uv_timer_t timer;            /* the local model: delivered on the next turn */
    struct http_call *http;
    enum model_provider provider;
    float *vecs;
    int n, dim;
    uint64_t started;
    embed_done_fn *cb;
    void *data;
};

/* Words that say little about what a turn is about. */
static const char *const stop_words[] = {
    "a", "an", "the", "is", "are", "was", "were", "be", "am", "i", "you", "me", "it", "to", "of", "and", "or",
    "in", "on", "at", "do", "does", "did", "what", "that", "this", "so", "for", "with", "my", "your", "he",
    "she", "we", "they", "im", "its", "can", "tell", "about", "have", "has", "just", "not", "no", "yes", NULL
};

static int is_stop(const char *w, size_t n) {
    for (int i = 0; stop_words[i]; i++)
        if (strlen(stop_words[i]) == n && !memcmp(stop_words[i], w, n)) return 1;
    return 0;
}

/* FNV-1a: the bucket and the sign of a token. */
static uint32_t fnv(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static void add_token(float *out, int dim, const char *w, size_t n) {
    uint32_t h = fnv(w, n);
    out[h % (uint32_t)dim] += (h & 0x80000000u) ? -1.0f : 1.0f;
}

void embed_local(const char *text, size_t len, float *out, int dim) {
    memset(out, 0, (size_t)dim * sizeof(float));
    char word[64];
    size_t wn = 0;
    for (size_t i = 0; i <= len; i++) {
        unsigned char c = i < len ? (unsigned char)text[i] : ' ';
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')) {
            if (wn < sizeof(word)) word[wn++] = (char)(c | (c >= 'A' && c <= 'Z' ? 0x20 : 0));
            continue;
        }
        if (c == '\'' && wn) {       /* "cat's" is "cat", "I'm" is "im" */
            if (i + 1 < len && (text[i + 1] == 's' || text[i + 1] == 'S') &&
                (i + 2 >= len || !((text[i + 2] | 0x20) >= 'a' && (text[i + 2] | 0x20) <= 'z'))) i++;
            continue;
        }
        if (wn) {
            if (wn > 3 && word[wn - 1] == 's' && word[wn - 2] != 's') wn--;   /* plurals */
            if (!is_stop(word, wn)) add_token(out, dim, word, wn);
            wn = 0;
        }
        if (c >= 0x80 && i < len) {  /* a multibyte character (CJK, ...) is a token of its own */
            size_t n = 1;
            while (i + n < len && ((unsigned char)text[i + n] & 0xC0) == 0x80) n++;
            add_token(out, dim, text + i, n);
            i += n - 1;
        }
    }
    double sum = 0;
    for (int i = 0; i < dim; i++) sum += (double)out[i] * out[i];
    if (sum > 0) {
        float inv = (float)(1.0 / sqrt(sum));
        for (int i = 0; i < dim; i++) out[i] *= inv;
    }
}

static void call_closed(uv_handle_t *h) {
    struct embed_call *c = h->data;
    free(c->vecs);
    free(c);
}

static void finish(struct embed_call *c, const char *error) {
    struct embed_result res = { .error = error, .n = error ? 0 : c->n, .dim = error ? 0 : c->dim, .vecs = c->vecs,
                                .latency_ms = (double)(uv_now(c->timer.loop) - c->started) };
    c->cb(&res, c->data);
    uv_close((uv_handle_t *)&c->timer, call_closed);
}

static void local_deliver(uv_timer_t *t) {
    finish(t->data, NULL);
}

/* Copy one JSON array of numbers into row I; the first row sets the size. */
static int take_row(struct embed_call *c, int i, json_t *row, char *why, size_t whylen) {
    size_t dim = json_array_size(row);
    if (!json_is_array(row) || dim == 0 || dim > EMBED_MAX_DIM) {
        snprintf(why, whylen, "the embedding server sent no vector (or one over %d numbers) for input %d", EMBED_MAX_DIM, i);
        return -1;
    }
    if (i == 0) {
        c->dim = (int)dim;
        c->vecs = xcalloc((size_t)c->n * dim, sizeof(float));
    } else if ((int)dim != c->dim) {
        snprintf(why, whylen, "the embedding server sent vectors of %d and %zu numbers", c->dim, dim);
        return -1;
    }
    for (size_t k = 0; k < dim; k++) {
        json_t *v = json_array_get(row, k);
        if (!json_is_number(v)) {
            snprintf(why, whylen, "the embedding server sent a vector holding something other than numbers");
            return -1;
        }
        c->vecs[(size_t)i * dim + k] = (float)json_number_value(v);
    }
    return 0;
}

/* OpenAI: {"data": [{"index": i, "embedding": [...]}, ...]}; Ollama: {"embeddings": [[...], ...]}. */
static int parse_vectors(struct embed_call *c, json_t *root, char *why, size_t whylen) {
    json_t *rows = json_object_get(root, c->provider == MODEL_PROVIDER_OLLAMA ? "embeddings" : "data");
    if ((int)json_array_size(rows) != c->n) {
        snprintf(why, whylen, "the embedding server sent %zu vectors for %d inputs", json_array_size(rows), c->n);
        return -1;
    }
    json_t *ordered[EMBED_MAX_INPUTS] = { 0 };
    for (int i = 0; i < c->n; i++) {
        json_t *item = json_array_get(rows, (size_t)i);
        if (c->provider == MODEL_PROVIDER_OLLAMA) {
            ordered[i] = item;
            continue;
        }
        json_t *idx = json_object_get(item, "index");
        int at = json_is_integer(idx) ? (int)json_integer_value(idx) : i;
        if (at < 0 || at >= c->n || ordered[at]) {
            snprintf(why, whylen, "the embedding server sent a bad or repeated index %d", at);
            return -1;
        }
        ordered[at] = json_object_get(item, "embedding");
    }
    for (int i = 0; i < c->n; i++)
        if (take_row(c, i, ordered[i], why, whylen) < 0) return -1;
    return 0;
}

static void on_http(const struct http_response *res, void *data) {
    struct embed_call *c = data;
    c->http = NULL;
    char why[300];
    if (res->error) {
        snprintf(why, sizeof(why), "the embedding server did not answer: %s", res->error);
        finish(c, why);
        return;
    }
    if (res->status < 200 || res->status > 299) {
        snprintf(why, sizeof(why), "the embedding server answered HTTP %ld", res->status);
        finish(c, why);
        return;
    }
    json_t *root = provider_http_json(NULL, res->body, res->body_len);
    if (!json_is_object(root)) {
        json_decref(root);
        finish(c, "the embedding server sent a body that is not JSON");
        return;
    }
    int rc = parse_vectors(c, root, why, sizeof(why));
    json_decref(root);
    finish(c, rc < 0 ? why : NULL);
}

struct embed_call *embed_start(uv_loop_t *loop, struct http_client *hc, const struct model *m,
                               const char *const *texts, int n, embed_done_fn *cb, void *data,
                               char *err, size_t errlen) {
    if (n < 1 || n > EMBED_MAX_INPUTS) {
        snprintf(err, errlen, "an embedding call takes 1 to %d texts", EMBED_MAX_INPUTS);
        return NULL;
    }
    if (m->provider == MODEL_PROVIDER_ANTHROPIC) {
        snprintf(err, errlen, "model \"%s\" (anthropic) serves no embeddings", m->name);
        return NULL;
    }
    struct embed_call *c = xcalloc(1, sizeof(*c));
    c->provider = m->provider;
    c->n = n;
    c->cb = cb;
    c->data = data;
    c->started = uv_now(loop);
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    if (m->provider == MODEL_PROVIDER_LOCAL || m->provider == MODEL_PROVIDER_SCRIPT || m->ndeps < 1) {
        c->dim = EMBED_LOCAL_DIM;
        c->vecs = xmalloc((size_t)n * EMBED_LOCAL_DIM * sizeof(float));
        for (int i = 0; i < n; i++) embed_local(texts[i], strlen(texts[i]), c->vecs + (size_t)i * EMBED_LOCAL_DIM, EMBED_LOCAL_DIM);
        uv_timer_start(&c->timer, local_deliver, 0, 0);
        return c;
    }
    const struct deployment *d = &m->deps[0];
    json_t *input = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(input, json_string(texts[i]));
    json_t *body = json_pack("{s:s, s:o}", "model", m->model_id ? m->model_id : m->name, "input", input);
    char url[1024], auth[1024];
    if (m->provider == MODEL_PROVIDER_OLLAMA) {
        provider_http_url(url, sizeof(url), d->base_url, "/api/embed");
    } else {
        json_object_set_new(body, "encoding_format", json_string("float"));
        snprintf(url, sizeof(url), "%s/embeddings", d->base_url);
    }
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    const char *headers[4] = { "Content-Type: application/json", "Accept: application/json", NULL, NULL };
    if (d->api_key) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", d->api_key);
        headers[2] = auth;
    }
    struct http_request req = { .method = "POST", .url = url, .headers = headers, .body = text,
                                .body_len = text ? strlen(text) : 0, .connect_timeout_ms = m->connect_timeout_ms,
                                .timeout_ms = m->timeout_ms, .max_body = 64u << 20 };
    c->http = text ? http_start(hc, &req, on_http, c) : NULL;
    free(text);
    if (!c->http) {
        snprintf(err, errlen, "the embedding request to model \"%s\" could not start", m->name);
        uv_close((uv_handle_t *)&c->timer, call_closed);
        return NULL;
    }
    return c;
}

void embed_cancel(struct embed_call *call) {
    if (!call) return;
    if (call->http) http_cancel(call->http);
    call->http = NULL;
    uv_timer_stop(&call->timer);
    uv_close((uv_handle_t *)&call->timer, call_closed);
}
