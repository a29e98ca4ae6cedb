/* irc_line.h - IRC protocol lines: parsing (IRCv3 tags, prefix, params)
 * and splitting replies at the 512-byte line limit on UTF-8 boundaries. */
#ifndef CHORUS_IRC_LINE_H
#define CHORUS_IRC_LINE_H
#include <stddef.h>

#define IRC_LINE_MAX 512        /* bytes, CRLF included (RFC 1459 2.3) */
#define IRC_MAX_PARAMS 15
#define IRC_MAX_TAGS 16

struct irc_tag {
    char *key;
    char *value;                /* unescaped; "" when absent */
};

struct irc_line {
    char *buf;                  /* the repaired copy every pointer points into */
    struct irc_tag tags[IRC_MAX_TAGS];
    int ntags;
    char *prefix;               /* NULL when absent */
    char *nick;                 /* prefix up to '!', or NULL */
    char *command;              /* upper-cased */
    char *params[IRC_MAX_PARAMS];
    int nparams;
};

/* Parse one line (without CRLF) of LEN bytes. Invalid UTF-8 is repaired.
 * Returns 0, or -1 for a line with no command. Free with irc_line_free. */
int irc_line_parse(const char *text, size_t len, struct irc_line *out);
void irc_line_free(struct irc_line *l);
/* The value of tag KEY, or NULL. */
const char *irc_line_tag(const struct irc_line *l, const char *key);

/* Split TEXT into pieces of at most MAX bytes each, cut on UTF-8 code point
 * boundaries (preferably at a space), one or more per line of TEXT; empty
 * lines are dropped. Returns the count; *out gets a malloc'd array of
 * malloc'd strings (free with irc_split_free). */
int irc_split(const char *text, size_t len, size_t max, char ***out);
void irc_split_free(char **pieces, int n);

/* Nicks and channel names compare under the server's CASEMAPPING (ISUPPORT):
 * rfc1459 (the default when none is told) takes []\~ for {}|^ as well. */
enum { IRC_CASEMAP_ASCII, IRC_CASEMAP_RFC1459, IRC_CASEMAP_STRICT_RFC1459 };
int irc_casemap_parse(const char *name);
int irc_casecmp(const char *a, const char *b, int casemap);
int irc_ncasecmp(const char *a, const char *b, size_t n, int casemap);
#endif
