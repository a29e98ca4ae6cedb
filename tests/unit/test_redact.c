/* test_redact.c - unit tests for src/redact.c. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include "tap.h"
#include "lib/redact.h"

/* Redact in into a roomy buffer and compare with expected. */
static void red_case(const char *in, const char *expected) {
    char out[512];
    size_t n = redact(in, out, sizeof out);

    is_str(out, expected, "redact '%s'", in);
    is_int((long long)n, (long long)strlen(expected), "  returned length");
}

/* Registered literal secrets, including overlap and reset. */
static void test_literals(void) {
    is_int(redact_add_secret("hunter2hunter2"), 0, "add a secret");
    is_int(redact_add_secret("hunter2hunter2"), 0, "adding it again is fine");
    is_int(redact_add_secret("abc"), 0, "short secret is ignored without error");
    is_int(redact_add_secret(NULL), 0, "NULL is ignored without error");
    redact_add_secret("sk-12345678");
    redact_add_secret("sk-1234567890abcdef");

    red_case("password is hunter2hunter2!", "password is ***!");
    red_case("hunter2hunter2hunter2hunter2", "******");
    red_case("a hunter2hunter b", "a hunter2hunter b");
    red_case("abc is not masked", "abc is not masked");
    red_case("key sk-1234567890abcdef end", "key *** end");
    red_case("key sk-12345678 end", "key *** end");
    red_case("", "");
    redact_clear();

    /* The longest secret wins whatever the order of registration. */
    redact_add_secret("longsecret-abcdef");
    redact_add_secret("longsecret");
    red_case("x longsecret-abcdef y", "x *** y");
    red_case("x longsecret-abc y", "x ***-abc y");
    redact_add_secret("hunter2hunter2");

    redact_clear();
    red_case("password is hunter2hunter2!", "password is hunter2hunter2!");
    redact_clear();                       /* twice is fine */
    red_case("sk-12345678", "sk-12345678");
}

/* Authorization schemes written inline. */
static void test_schemes(void) {
    red_case("sent Bearer eyJhbGciOi.J9x-y_z~+/== ok", "sent Bearer *** ok");
    red_case("bearer abc", "bearer ***");
    red_case("BEARER\tabc", "BEARER\t***");
    red_case("Bot MTIzNDU2.Gh1jK.abc-def", "Bot ***");
    red_case("bot  xyz123", "bot  ***");
    red_case("Forbidden: bot was blocked by the user", "Forbidden: bot was blocked by the user");
    red_case("Telegram refused the bot token (Unauthorized)", "Telegram refused the bot token (Unauthorized)");
    red_case("Bot tok_en", "Bot ***");
    red_case("(Bearer abc)", "(Bearer ***)");
    red_case("Robot abc", "Robot abc");
    red_case("Bearers abc", "Bearers abc");
    red_case("Bearer", "Bearer");
    red_case("Bearer ", "Bearer ");
    red_case("Bearer ,x", "Bearer ,x");
}

/* Passwords in URL userinfo. */
static void test_urls(void) {
    red_case("connect redis://default:s3cr3t@127.0.0.1:6379/0 failed",
             "connect redis://default:***@127.0.0.1:6379/0 failed");
    red_case("redis://:pw12@localhost", "redis://:***@localhost");
    red_case("https://u:p@ss@host/x", "https://u:***@host/x");
    red_case("amqp://guest:guest@mq:5672", "amqp://guest:***@mq:5672");
    red_case("ssh://git@host:22/repo", "ssh://git@host:22/repo");
    red_case("https://user@host/", "https://user@host/");
    red_case("http://host:8080/a@b", "http://host:8080/a@b");
    red_case("http://host:8080?x=a@b", "http://host:8080?x=a@b");
    red_case("redis://u:@host", "redis://u:@host");
    red_case("url=\"https://a:b@c\" next", "url=\"https://a:***@c\" next");
    red_case("a://x:y@z b://p:q@r", "a://x:***@z b://p:***@r");
    red_case("://", "://");
    red_case("x:// :y@z", "x:// :y@z");

    /* A literal secret covering the start of the password must not stop
     * the rest of the password from being masked. */
    redact_add_secret("dmin:pas");
    red_case("redis://admin:password1@host", "redis://a******@host");
    redact_clear();
}

/* Credential query and form parameters. */
static void test_params(void) {
    red_case("GET /api?token=abc&x=1", "GET /api?token=***&x=1");
    red_case("/cb?a=1&API_KEY=zzz#frag", "/cb?a=1&API_KEY=***#frag");
    red_case("?access_token=a.b.c", "?access_token=***");
    red_case("?key=1&apikey=2&password=3&secret=4&sig=5&signature=6",
             "?key=***&apikey=***&password=***&secret=***&sig=***&signature=***");
    red_case("user=bob&password=&x=1", "user=bob&password=***&x=1");
    red_case("GET /x?Token=abc HTTP/1.1", "GET /x?Token=*** HTTP/1.1");
    red_case("?tokens=abc", "?tokens=abc");
    red_case("?keyx=1&mykey=2", "?keyx=1&mykey=2");
    red_case("monkey=1 key=2", "monkey=1 key=2");
    red_case("?token", "?token");
    red_case("https://h/p?sig=AbC%2F&exp=9", "https://h/p?sig=***&exp=9");
}

/* Header-like lines, plain and as JSON keys. */
static void test_headers(void) {
    red_case("x-api-key: abc123", "x-api-key: ***");
    red_case("X-Api-Key:abc123", "X-Api-Key:***");
    red_case("Authorization: Bot abc.def", "Authorization: ***");
    red_case("Proxy-Authorization: Basic dXNlcjpwYXNz", "Proxy-Authorization: ***");
    red_case("Authorization: a b c\r\nHost: x", "Authorization: ***\r\nHost: x");
    red_case("Authorization : x", "Authorization : ***");
    red_case("{\"authorization\":\"Bearer q\",\"n\":1}", "{\"authorization\":\"***\",\"n\":1}");
    red_case("{\"x-api-key\": \"k\"}", "{\"x-api-key\": \"***\"}");
    red_case("Authorization:", "Authorization:");
    red_case("Authorization failed", "Authorization failed");
    red_case("my-x-api-keys: v", "my-x-api-keys: v");
    red_case("reauthorization: v", "reauthorization: v");
}

/* Output size limits: always terminated, never a partial secret. */
static void test_truncation(void) {
    char out[64];
    size_t n;

    n = redact("hello world", out, 6);
    is_str(out, "hello", "truncated to outsz - 1");
    is_int((long long)n, 5, "  returns the truncated length");

    memset(out, 'X', sizeof out);
    n = redact("hello", out, 1);
    is_str(out, "", "outsz 1 gives an empty string");
    is_int((long long)n, 0, "  returns 0");

    memset(out, 'X', sizeof out);
    n = redact("hello", out, 0);
    is_int((long long)n, 0, "outsz 0 writes nothing");
    ok(out[0] == 'X', "  buffer untouched");

    n = redact(NULL, out, sizeof out);
    ok(n == 0 && out[0] == '\0', "NULL input gives an empty string");

    redact_add_secret("topsecretvalue");
    n = redact("ab topsecretvalue", out, 5);
    is_str(out, "ab *", "a secret cut by outsz shows only the mask");
    n = redact("ab topsecretvalue", out, 8);
    is_str(out, "ab ***", "mask fits");
    n = redact("Bearer tokentokentoken", out, 12);
    is_str(out, "Bearer ***", "a bearer token cut by outsz is still masked");
    redact_clear();
}

static atomic_int stop_adding;

/* Register and clear secrets in a loop, as a config reload would. */
static void *adder(void *arg) {
    char buf[32];
    int i = 0;

    (void)arg;
    while (!atomic_load(&stop_adding)) {
        snprintf(buf, sizeof buf, "secret-%d", i++ % 50);
        redact_add_secret(buf);
        if (i % 100 == 0) redact_clear();
    }
    return NULL;
}

/* redact() on one thread while another adds and clears secrets: every
 * result must be one of the two consistent answers, never a mix. */
static void test_threads(void) {
    pthread_t t;
    char out[128];
    int i, bad = 0, masked = 0;

    atomic_store(&stop_adding, 0);
    if (!ok(pthread_create(&t, NULL, adder, NULL) == 0, "start the adder thread")) return;
    /* Go on past 20000 until the adder (maybe not yet scheduled on a busy
     * machine) has been seen at least once, within a bound. */
    for (i = 0; i < 20000 || (masked == 0 && i < 50000000); i++) {
        redact("x secret-7 y", out, sizeof out);
        if (strcmp(out, "x *** y") == 0) masked++;
        else if (strcmp(out, "x secret-7 y") != 0) bad++;
    }
    atomic_store(&stop_adding, 1);
    pthread_join(t, NULL);
    is_int(bad, 0, "concurrent add/clear/redact gives consistent results");
    ok(masked > 0, "the secret was masked while registered (%d times)", masked);
    redact_clear();
}

/* Run every group; the exit status says whether all passed. */
int main(void) {
    test_literals();
    test_schemes();
    test_urls();
    test_params();
    test_headers();
    test_truncation();
    test_threads();
    return done_testing();
}
