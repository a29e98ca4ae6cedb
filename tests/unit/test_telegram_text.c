/* test_telegram_text.c - splitting at 4096 UTF-16 units and MarkdownV2. */
#include <stdlib.h>
#include <string.h>
#include "platforms/telegram/telegram_text.h"
#include "tap.h"

int main(void) {
    is_int((long)telegram_utf16_len("abc", 3), 3, "ASCII counts one unit a byte");
    is_int((long)telegram_utf16_len("\xc3\xa9\xe2\x82\xac", 5), 2, "two- and three-byte code points count one unit");
    is_int((long)telegram_utf16_len("\xf0\x9f\x98\x80", 4), 2, "an emoji above U+FFFF counts two units");

    is_int((long)telegram_split("short", 5, 4096), 5, "a short text is one piece");
    /* 4095 'a' then an emoji: the emoji would need units 4096-4097, so it moves on whole. */
    char *t = malloc(4100);
    memset(t, 'a', 4095);
    memcpy(t + 4095, "\xf0\x9f\x98\x80", 4);
    is_int((long)telegram_split(t, 4099, 4096), 4095, "never cut inside a surrogate pair");
    memset(t, 'a', 4099);
    t[3000] = ' ';
    t[3500] = '\n';
    is_int((long)telegram_split(t, 4099, 4096), 3501, "cut after the last newline of the second half");
    t[3500] = 'a';
    is_int((long)telegram_split(t, 4099, 4096), 3001, "else after the last space");
    free(t);

    char *e = telegram_md2_escape("1.5 * (a_b) = c!", 16);
    is_str(e, "1\\.5 \\* \\(a\\_b\\) \\= c\\!", "every reserved character is escaped");
    free(e);
    const char *md = "Use **care**: `x_y` and\n```c\nint a = b->c;\n```\nok.";
    char *m = telegram_md2_from_markdown(md, strlen(md));
    is_str(m, "Use *care*: `x_y` and\n```c\nint a = b->c;\n```\nok\\.", "bold, code and pre are kept, the rest escaped");
    free(m);
    m = telegram_md2_from_markdown("an **open bold and `open code", 29);
    is_str(m, "an \\*\\*open bold and \\`open code", "unclosed constructs are shown literally");
    free(m);
    m = telegram_md2_from_markdown("`a\\b`c`", 7);
    is_str(m, "`a\\\\b`c\\`", "a backslash inside code is escaped");
    free(m);

    struct telegram_md_span sp;
    const char *cut = "ab **bold** `co de` x\n```py\nline one\nline two\n```\nend";
    size_t n = strlen(cut);
    is_int(telegram_md_span_cut(cut, n, 2, &sp), 0, "a cut before any construct cuts none");
    is_int(telegram_md_span_cut(cut, n, 6, &sp), 1, "a cut inside bold is found");
    is_int((long)sp.start, 3, "where the bold starts");
    is_int(telegram_md_span_cut(cut, n, 16, &sp), 1, "a cut inside code is found");
    is_int((long)sp.start, 12, "where the code starts");
    is_int(telegram_md_span_cut(cut, n, 20, &sp), 0, "a cut between constructs cuts none");
    is_int(telegram_md_span_cut(cut, n, 35, &sp), 2, "a cut inside a ``` block is found");
    is_int((long)sp.start, 22, "where the block starts");
    is_int((long)sp.fence_end, 25, "its language line starts after the fence");
    is_int((long)sp.body, 28, "and its content after the newline");
    is_int((long)sp.end, n - 4, "and it ends after the closing fence");

    /* A streamed reply grows past one message while a code block is open:
     * the first message ends before the block, which moves on whole. */
    char grown[5200];
    memset(grown, 'a', 3000);
    grown[3000] = '\n';
    const char *block = "```py\nprint(1)\n";
    memcpy(grown + 3001, block, strlen(block));
    size_t at = 3001 + strlen(block);
    memset(grown + at, 'b', 1500);
    memcpy(grown + at + 1500, "\n```\nend", 9);
    size_t glen = at + 1509;
    size_t plain = telegram_split(grown, glen, 4096);
    ok(plain > 3001 && plain < glen - 4, "the plain split falls inside the block");
    is_int((long)telegram_split_spans(grown, glen, 4096), 3001, "the span-aware split ends before it");
    memset(grown, 'c', 10);
    memcpy(grown, "```\n", 4);
    memset(grown + 4, 'c', 5000);
    is_int((long)telegram_split_spans(grown, 5004, 4096), (long)telegram_split(grown, 5004, 4096),
           "an unclosed block at the start is cut as plain text");
    is_int((long)telegram_split_spans("short **b**", 11, 4096), 11, "a text that fits is whole");
    return done_testing();
}
