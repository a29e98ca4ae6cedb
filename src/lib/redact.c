/* redact.c - masking secrets in log lines and error messages.
 *
 * redact() makes one pass over the input. At each byte it tries the rules
 * in a fixed order (a pending URL password, registered literal secrets,
 * header-like "name: value", "Bearer tok", "scheme://user:pass@", then
 * "?name=value"); a rule that matches writes its masked form and skips the
 * bytes it covered, otherwise the byte is copied. Matching always looks at
 * the whole input, so a secret cut by the output size never leaks a
 * prefix. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "lib/redact.h"
#include "lib/xalloc.h"

#define MASK "***"

struct secret {
    char *s;
    size_t len;
};

/* The registered secrets; redact() runs on any thread, so every access
 * holds secrets_lock. */
static pthread_mutex_t secrets_lock = PTHREAD_MUTEX_INITIALIZER;
static struct secret *secrets;
static size_t nsecrets, secrets_cap;

static const char *const param_names[] = {
    "token", "access_token", "key", "api_key", "apikey",
    "password", "secret", "sig", "signature", NULL
};
static const char *const header_names[] = { "authorization", "x-api-key", NULL };
static const char *const auth_schemes[] = { "bearer", "bot", NULL };

/* The output buffer, which silently truncates once full. */
struct out {
    char *buf;
    size_t size;       /* bytes available, including the final NUL */
    size_t len;
    int full;          /* something did not fit: stop scanning */
};

/* Append n bytes, keeping room for the NUL. */
static void out_put(struct out *o, const char *s, size_t n) {
    size_t room = o->size - 1 - o->len;

    if (n > room) {
        n = room;
        o->full = 1;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

/* ASCII only: the rules are about protocol syntax, not about the locale. */
static int is_alnum(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Bytes that end a bare token or a URL authority in running text. */
static int is_stop(unsigned char c) {
    return c == '\0' || c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
           c == '\f' || c == '\v' || c == '"' || c == '\'' || c == '<' || c == '>';
}

/* Characters of an Authorization credential (RFC 7235 token68). */
static int is_token68(unsigned char c) {
    return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
           c == '+' || c == '/' || c == '=';
}

/* Case-insensitive match of one of names at s, followed by a byte that
 * cannot continue a name (so "sig" does not stop "signature" from being
 * tried). Returns the matched length or 0. */
static size_t match_name(const char *s, const char *const *names) {
    size_t n;
    int i;

    for (i = 0; names[i]; i++) {
        n = strlen(names[i]);
        if (strncasecmp(s, names[i], n) == 0 && !is_alnum((unsigned char)s[n]))
            return n;
    }
    return 0;
}

/* Length of the longest registered secret that starts at s, or 0. Called
 * with secrets_lock held. */
static size_t match_secret(const char *s, size_t left) {
    size_t i, best = 0;

    for (i = 0; i < nsecrets; i++) {
        const struct secret *sec = &secrets[i];
        if (sec->len <= left && sec->len > best && sec->s[0] == s[0] &&
            memcmp(s, sec->s, sec->len) == 0)
            best = sec->len;
    }
    return best;
}

/* "Authorization: v" and "x-api-key: v", also in JSON as "x-api-key":"v".
 * A quoted value is masked up to its closing quote, a bare one up to the
 * end of the line. Returns the input bytes consumed, or 0 on no match. */
static size_t rule_header(const char *s, struct out *o) {
    size_t n = match_name(s, header_names), v, e;
    char quote = 0;

    if (n == 0) return 0;
    v = n;
    if (s[v] == '"' || s[v] == '\'') v++;              /* end of a JSON key */
    while (s[v] == ' ' || s[v] == '\t') v++;
    if (s[v] != ':') return 0;
    v++;
    while (s[v] == ' ' || s[v] == '\t') v++;
    if (s[v] == '"' || s[v] == '\'') quote = s[v++];
    e = v;
    if (quote) {
        while (s[e] && s[e] != quote && s[e] != '\n') e++;
    } else {
        while (s[e] && s[e] != '\r' && s[e] != '\n') e++;
    }
    if (e == v) return 0;                              /* nothing to hide */
    out_put(o, s, v);
    out_put(o, MASK, strlen(MASK));
    return e;
}

/* "Bearer tok" and "Bot tok": keep the scheme, mask the credential. "bot"
 * is also a word of prose ("the bot token", Telegram's "bot was blocked by
 * the user"): after it only a word with a digit or token punctuation in it
 * is taken for a credential (a bot token always has some). */
static size_t rule_scheme(const char *s, struct out *o) {
    size_t n = match_name(s, auth_schemes), v, e, i;

    if (n == 0 || (s[n] != ' ' && s[n] != '\t')) return 0;
    v = n;
    while (s[v] == ' ' || s[v] == '\t') v++;
    e = v;
    while (is_token68((unsigned char)s[e])) e++;
    if (e == v) return 0;
    if (n == 3) {
        for (i = v; i < e; i++)
            if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z'))) break;
        if (i == e) return 0;
    }
    out_put(o, s, v);
    out_put(o, MASK, strlen(MASK));
    return e;
}

/* At "://", find a password in the userinfo part: between the first ':'
 * and the last '@' before the authority ends. Sets [*from, *to) to it and
 * returns 1, or returns 0. */
static int find_url_password(const char *s, size_t at, size_t *from, size_t *to) {
    size_t start = at + 3, end, i, colon = 0, last_at = 0;

    for (end = start; !is_stop((unsigned char)s[end]); end++) {
        if (s[end] == '/' || s[end] == '?' || s[end] == '#') break;
        if (s[end] == '@') last_at = end;
    }
    if (last_at == 0) return 0;
    for (i = start; i < last_at; i++) {
        if (s[i] == ':') {
            colon = i;
            break;
        }
    }
    if (colon == 0 || colon + 1 == last_at) return 0;
    *from = colon + 1;
    *to = last_at;
    return 1;
}

/* "?name=value" and "&name=value" for credential parameter names: keep the
 * separator and name, mask the value. */
static size_t rule_param(const char *s, struct out *o) {
    size_t n, e;

    if (s[0] != '?' && s[0] != '&') return 0;
    n = match_name(s + 1, param_names);
    if (n == 0 || s[1 + n] != '=') return 0;
    e = n + 2;
    while (!is_stop((unsigned char)s[e]) && s[e] != '&' && s[e] != '#') e++;
    out_put(o, s, n + 2);
    out_put(o, MASK, strlen(MASK));
    return e;
}

/* Register a configured secret so it never shows up in logs. */
int redact_add_secret(const char *secret) {
    size_t len, i;
    char *copy;

    if (secret == NULL || (len = strlen(secret)) < 4) return 0;
    pthread_mutex_lock(&secrets_lock);
    for (i = 0; i < nsecrets; i++) {
        if (strcmp(secrets[i].s, secret) == 0) {       /* reload re-adds */
            pthread_mutex_unlock(&secrets_lock);
            return 0;
        }
    }
    if (nsecrets == secrets_cap) {
        size_t cap = secrets_cap ? secrets_cap * 2 : 8;
        struct secret *grown = xrealloc(secrets, cap * sizeof *grown);
        if (grown == NULL) {
            pthread_mutex_unlock(&secrets_lock);
            return -1;
        }
        secrets = grown;
        secrets_cap = cap;
    }
    copy = xstrdup(secret);
    if (copy == NULL) {
        pthread_mutex_unlock(&secrets_lock);
        return -1;
    }
    secrets[nsecrets].s = copy;
    secrets[nsecrets].len = len;
    nsecrets++;
    pthread_mutex_unlock(&secrets_lock);
    return 0;
}

/* Drop every secret, wiping the copies so they do not linger in freed
 * memory. */
void redact_clear(void) {
    size_t i;

    pthread_mutex_lock(&secrets_lock);
    for (i = 0; i < nsecrets; i++) {
        explicit_bzero(secrets[i].s, secrets[i].len);
        free(secrets[i].s);
    }
    free(secrets);
    secrets = NULL;
    nsecrets = secrets_cap = 0;
    pthread_mutex_unlock(&secrets_lock);
}

/* Make a string safe to log or to send back in an error message. */
size_t redact(const char *in, char *out, size_t outsz) {
    struct out o = { out, outsz, 0, 0 };
    size_t len, i = 0, n, pw_from = 0, pw_to = 0;

    if (outsz == 0) return 0;
    if (in == NULL) in = "";
    len = strlen(in);

    pthread_mutex_lock(&secrets_lock);
    while (i < len && !o.full) {
        const char *s = in + i;
        int boundary = i == 0 || !is_alnum((unsigned char)in[i - 1]);

        /* Another rule may have consumed the start of the password. */
        if (pw_to != 0 && i >= pw_from) {
            if (i < pw_to) {
                out_put(&o, MASK, strlen(MASK));
                i = pw_to;
            }
            pw_to = 0;
            continue;
        }
        if ((n = match_secret(s, len - i)) != 0) {
            out_put(&o, MASK, strlen(MASK));
            i += n;
            continue;
        }
        if (boundary && ((n = rule_header(s, &o)) != 0 || (n = rule_scheme(s, &o)) != 0)) {
            i += n;
            continue;
        }
        if (pw_to == 0 && strncmp(s, "://", 3) == 0)
            find_url_password(in, i, &pw_from, &pw_to);
        if ((n = rule_param(s, &o)) != 0) {
            i += n;
            continue;
        }
        out_put(&o, s, 1);
        i++;
    }
    pthread_mutex_unlock(&secrets_lock);
    out[o.len] = '\0';
    return o.len;
}
