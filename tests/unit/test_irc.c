/* test_irc.c - unit tests for the IRC line parser, the reply splitter and
 * the flood queue (src/platforms/irc/irc_line.c, irc_queue.c). */
#include <stdlib.h>
#include <string.h>
#include "lib/utf8.h"
#include "platforms/irc/irc_line.h"
#include "platforms/irc/irc_queue.h"
#include "tap.h"

/* Tags, prefix, middle and trailing params, escaped tag values. */
static void test_parse_full(void) {
    const char *s = "@time=2026-12-05T19:11:45.214Z;msgid=a\\sb\\:c;+draft/x :ann!ann@127.0.0.1 privmsg #lobby :chorus: hi there\r\n";
    struct irc_line l;
    is_int(irc_line_parse(s, strlen(s), &l), 0, "a tagged PRIVMSG parses");
    is_int(l.ntags, 3, "three tags");
    is_str(irc_line_tag(&l, "msgid"), "a b;c", "tag values are unescaped");
    is_str(irc_line_tag(&l, "+draft/x"), "", "a tag without a value is empty");
    is_str(l.prefix, "ann!ann@127.0.0.1", "the prefix");
    is_str(l.nick, "ann", "the nick from the prefix");
    is_str(l.command, "PRIVMSG", "the command, upper-cased");
    is_int(l.nparams, 2, "two params");
    is_str(l.params[0], "#lobby", "the target");
    is_str(l.params[1], "chorus: hi there", "the trailing param keeps its spaces");
    irc_line_free(&l);
}

/* Lines servers really send, and broken ones. */
static void test_parse_edges(void) {
    struct irc_line l;
    is_int(irc_line_parse("PING :irc.test", 14, &l), 0, "PING without prefix");
    ok(l.prefix == NULL && l.nick == NULL, "no prefix");
    is_str(l.params[0], "irc.test", "PING token");
    irc_line_free(&l);
    const char *s = ":irc.test 005 bot A B C D E F G H I J K L M N O P Q :are supported";
    is_int(irc_line_parse(s, strlen(s), &l), 0, "a line with many params");
    is_int(l.nparams, IRC_MAX_PARAMS, "params capped at 15");
    irc_line_free(&l);
    is_int(irc_line_parse(":only.prefix", 12, &l), -1, "a prefix with no command is refused");
    irc_line_free(&l);
    is_int(irc_line_parse("", 0, &l), -1, "an empty line is refused");
    irc_line_free(&l);
    is_int(irc_line_parse("@a=b", 4, &l), -1, "tags alone are refused");
    irc_line_free(&l);
    const char bad[] = ":x!y@z PRIVMSG #c :caf\xe9 \xff ok";
    is_int(irc_line_parse(bad, sizeof(bad) - 1, &l), 0, "Latin-1 text parses");
    ok(utf8_valid(l.params[1], strlen(l.params[1])), "invalid UTF-8 is repaired");
    irc_line_free(&l);
    const char nul[] = "PRIVMSG #c :a\0b";
    is_int(irc_line_parse(nul, sizeof(nul) - 1, &l), 0, "a NUL ends the line");
    is_str(l.params[1], "a", "text up to the NUL");
    irc_line_free(&l);
    is_int(irc_line_parse("  PING   x   y", 14, &l), 0, "extra spaces");
    is_int(l.nparams, 2, "spaces between params collapse");
    irc_line_free(&l);
}

/* Every piece fits, is valid UTF-8, and the pieces put together give the text back. */
static void test_split(void) {
    char **p;
    int n = irc_split("one\ntwo\r\n\nthree", 15, 100, &p);
    is_int(n, 3, "newlines become separate lines; empty ones are dropped");
    is_str(p[1], "two", "CR is dropped");
    irc_split_free(p, n);
    char text[2000] = "";
    for (int i = 0; i < 300; i++) strcat(text, "\xe3\x81\x82");   /* あ, 3 bytes each, no spaces */
    n = irc_split(text, strlen(text), 100, &p);
    int fine = 1;
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(p[i]);
        if (l > 100 || !utf8_valid(p[i], l)) fine = 0;
        total += l;
    }
    ok(fine, "no piece over 100 bytes, none torn inside a code point");
    is_int((long long)total, 900, "nothing lost");
    irc_split_free(p, n);
    const char *words = "the quick brown fox jumps over the lazy dog again and again";
    n = irc_split(words, strlen(words), 20, &p);
    ok(n >= 3, "a sentence splits into several lines");
    int spaces = 0;
    for (int i = 0; i < n; i++) if (p[i][0] == ' ' || p[i][strlen(p[i]) - 1] == ' ') spaces = 1;
    ok(!spaces, "words are cut at spaces, not mid-word");
    irc_split_free(p, n);
    n = irc_split("", 0, 100, &p);
    is_int(n, 0, "an empty text gives no line");
    irc_split_free(p, n);
}

/* Priorities, the burst, then one line per interval. */
static void test_queue(void) {
    struct irc_queue q;
    irc_queue_init(&q, 3, 1000);
    double wait;
    for (int i = 0; i < 5; i++) irc_queue_push(&q, IRC_PRIO_BULK, "bulk");
    irc_queue_push(&q, IRC_PRIO_REPLY, "reply");
    irc_queue_push(&q, IRC_PRIO_SERVER, "PONG :x");
    char *l = irc_queue_pop(&q, 0, &wait);
    is_str(l, "PONG :x", "server replies go first");
    free(l);
    l = irc_queue_pop(&q, 0, &wait);
    is_str(l, "reply", "then skill replies");
    free(l);
    l = irc_queue_pop(&q, 0, &wait);
    is_str(l, "bulk", "then bulk, within the burst");
    free(l);
    ok(irc_queue_pop(&q, 0, &wait) == NULL, "the burst of 3 is spent");
    ok(wait > 0 && wait <= 1000, "the wait is at most one interval");
    l = irc_queue_pop(&q, wait, &wait);
    ok(l != NULL, "a line goes once the wait has passed");
    free(l);
    ok(irc_queue_pop(&q, 1000, &wait) == NULL, "and not two");
    irc_queue_push(&q, IRC_PRIO_SERVER, "PONG :y");
    l = irc_queue_pop(&q, 1000, &wait);
    is_str(l, "PONG :y", "a PONG never waits");
    free(l);
    is_int((long long)q.len, 3, "three lines still queued");
    l = irc_queue_pop(&q, 100000, &wait);
    ok(l != NULL, "after a long quiet the burst is back");
    free(l);
    irc_queue_clear(&q);
    is_int((long long)q.len, 0, "cleared");
}

/* Names under each CASEMAPPING, and tag escapes at their edges. */
static void test_casemap(void) {
    ok(irc_casecmp("Bot[1]", "bot{1}", IRC_CASEMAP_RFC1459) == 0, "rfc1459: [] are {} in upper case");
    ok(irc_casecmp("a\\b~", "A|B^", IRC_CASEMAP_RFC1459) == 0, "rfc1459: \\ is | and ~ is ^");
    ok(irc_casecmp("a~", "a^", IRC_CASEMAP_STRICT_RFC1459) != 0, "strict-rfc1459: ~ is not ^");
    ok(irc_casecmp("a[", "A{", IRC_CASEMAP_STRICT_RFC1459) == 0, "strict-rfc1459: [ is {");
    ok(irc_casecmp("bot[1]", "bot{1}", IRC_CASEMAP_ASCII) != 0, "ascii: [ and { differ");
    ok(irc_casecmp("BOT", "bot", IRC_CASEMAP_ASCII) == 0, "ascii: letters fold");
    ok(irc_ncasecmp("Chorus{}: hi", "chorus[]", 8, IRC_CASEMAP_RFC1459) == 0, "a prefix compares");
    ok(irc_casecmp("bot", "bots", IRC_CASEMAP_RFC1459) != 0, "a shorter name is another name");
    is_int(irc_casemap_parse("rfc1459"), IRC_CASEMAP_RFC1459, "rfc1459 parses");
    is_int(irc_casemap_parse("strict-rfc1459"), IRC_CASEMAP_STRICT_RFC1459, "strict-rfc1459 parses");
    is_int(irc_casemap_parse("rfc8265"), IRC_CASEMAP_ASCII, "an unknown mapping folds as ascii");
    const char *s = "@a=x\\\\y;b=end\\;c=\\b\\q;d= :n!u@h PRIVMSG #c :t";
    struct irc_line l;
    is_int(irc_line_parse(s, strlen(s), &l), 0, "escaped tags parse");
    is_str(irc_line_tag(&l, "a"), "x\\y", "\\\\ is one backslash");
    is_str(irc_line_tag(&l, "b"), "end", "a lone trailing backslash is dropped");
    is_str(irc_line_tag(&l, "c"), "bq", "an unknown escape is the character itself");
    is_str(irc_line_tag(&l, "d"), "", "an empty value is empty");
    irc_line_free(&l);
}

int main(void) {
    test_parse_full();
    test_casemap();
    test_parse_edges();
    test_split();
    test_queue();
    return done_testing();
}
