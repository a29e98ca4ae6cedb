/* lpattern.c - string.find/match/gmatch/gsub for plugins, on a pattern
 * matcher with a step budget.
 *
 * The matcher implements the pattern language of the Lua 5.4 manual
 * (section 6.4.1) as a backtracking search over byte indices, trying the
 * alternatives in the order the manual prescribes (longest first for '*',
 * '+' and '?', shortest first for '-'), so every result and every error
 * message is the one stock Lua gives. Two limits of the stock library are
 * kept because their errors are observable: at most PM_MAXCAP captures,
 * and at most PM_MAXDEPTH nested continuations ("pattern too complex").
 *
 * What is added: every unit of work is charged to a budget set per call,
 * and gsub refuses to build a result past a size cap. Both raise ordinary
 * Lua errors, so a plugin sees them like any other error. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif

#include "lib/lpattern.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#define PM_MAXCAP 32    /* captures per pattern, as stock LUA_MAXCAPTURES */
#define PM_MAXDEPTH 200 /* nested continuations, as stock MAXCCALLS */

#define PM_NONE ((size_t)-1) /* "no match" (never a valid index) */
#define CAP_OPEN ((ptrdiff_t)-1) /* capture length while still open */
#define CAP_POS ((ptrdiff_t)-2)  /* capture length of a position capture */

typedef struct {
    lua_State *L;
    const unsigned char *src; /* subject */
    size_t slen;
    const unsigned char *pat; /* pattern, without a leading anchor */
    size_t plen;
    int level;  /* captures opened so far */
    int depth;  /* nested continuations still allowed */
    long steps; /* budget left */
    struct {
        size_t start;
        ptrdiff_t len; /* or CAP_OPEN, CAP_POS */
    } cap[PM_MAXCAP];
} PMatch;

/* Raise a Lua error like luaL_error, but known to the compiler not to
 * return. */
static _Noreturn void pm_raise(lua_State *L, const char *fmt, ...) {
    va_list ap;

    luaL_where(L, 1);
    va_start(ap, fmt);
    lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    lua_concat(L, 2);
    lua_error(L);
    abort(); /* not reached: lua_error does not return */
}

/* Charge n steps to the budget, raising the budget error past it. */
static void pm_step(PMatch *m, long n) {
    if (n > m->steps) pm_raise(m->L, "%s", LPATTERN_BUDGET_MSG);
    m->steps -= n;
}

/* Pattern byte at i, or 0 past the end (where a Lua string has its NUL). */
static int pm_pat(const PMatch *m, size_t i) {
    return i < m->plen ? m->pat[i] : 0;
}

/* Subject byte at i, or 0 past the end. */
static int pm_sub(const PMatch *m, size_t i) {
    return i < m->slen ? m->src[i] : 0;
}

/* Does byte c match the class letter cl of a "%cl" item? An upper-case
 * class letter is the complement; any other byte stands for itself. */
static int pm_class(int c, int cl) {
    int r;

    switch (tolower(cl)) {
    case 'a': r = isalpha(c); break;
    case 'c': r = iscntrl(c); break;
    case 'd': r = isdigit(c); break;
    case 'g': r = isgraph(c); break;
    case 'l': r = islower(c); break;
    case 'p': r = ispunct(c); break;
    case 's': r = isspace(c); break;
    case 'u': r = isupper(c); break;
    case 'w': r = isalnum(c); break;
    case 'x': r = isxdigit(c); break;
    case 'z': r = c == 0; break; /* undocumented, but stock 5.4 has it */
    default: return cl == c;
    }
    return isupper(cl) ? !r : r != 0;
}

/* Index just past the single-character class starting at p (a byte, '.',
 * a %-escape or a [set]); raises the malformed-pattern errors. */
static size_t pm_class_end(PMatch *m, size_t p) {
    int c = m->pat[p++];

    if (c == '%') {
        if (p >= m->plen) pm_raise(m->L, "malformed pattern (ends with '%%')");
        return p + 1;
    }
    if (c == '[') {
        if (pm_pat(m, p) == '^') p++;
        do { /* the first byte is always a member, even ']' */
            if (p >= m->plen) pm_raise(m->L, "malformed pattern (missing ']')");
            c = m->pat[p++];
            if (c == '%' && p < m->plen) p++;
        } while (pm_pat(m, p) != ']');
        return p + 1;
    }
    return p;
}

/* Is byte c in the set whose '[' is at open and closing ']' at close? */
static int pm_in_set(const PMatch *m, int c, size_t open, size_t close) {
    const unsigned char *p = m->pat;
    size_t i = open + 1;
    int hit = 1;

    if (p[i] == '^') {
        hit = 0;
        i++;
    }
    for (; i < close; i++) {
        if (p[i] == '%') {
            i++;
            if (pm_class(c, p[i])) return hit;
        } else if (p[i + 1] == '-' && i + 2 < close) {
            if (p[i] <= c && c <= p[i + 2]) return hit;
            i += 2;
        } else if (p[i] == c) {
            return hit;
        }
    }
    return !hit;
}

/* Does the single-character class p..ep match the subject byte at s? */
static int pm_single(PMatch *m, size_t s, size_t p, size_t ep) {
    int c;

    pm_step(m, 1);
    if (s >= m->slen) return 0;
    c = m->src[s];
    switch (m->pat[p]) {
    case '.': return 1;
    case '%': return pm_class(c, m->pat[p + 1]);
    case '[': return pm_in_set(m, c, p, ep - 1);
    default: return m->pat[p] == c;
    }
}

static size_t pm_match(PMatch *m, size_t s, size_t p);

/* %bxy at pattern index p (just after "%b"): the end of the balanced run
 * starting at s, or PM_NONE. */
static size_t pm_balance(PMatch *m, size_t s, size_t p) {
    int open, close;
    size_t open_count = 1;

    if (p + 1 >= m->plen)
        pm_raise(m->L, "malformed pattern (missing arguments to '%%b')");
    pm_step(m, 1);
    open = m->pat[p];
    close = m->pat[p + 1];
    if (s >= m->slen || m->src[s] != open) return PM_NONE;
    while (++s < m->slen) {
        pm_step(m, 1);
        if (m->src[s] == close) {
            if (--open_count == 0) return s + 1;
        } else if (m->src[s] == open) {
            open_count++;
        }
    }
    return PM_NONE;
}

/* %1-%9 (digit d): the end of a copy of that capture at s, or PM_NONE. */
static size_t pm_backref(PMatch *m, size_t s, int d) {
    int l = d - '1';
    size_t len, i;
    const unsigned char *a, *b;

    if (l < 0 || l >= m->level || m->cap[l].len == CAP_OPEN)
        pm_raise(m->L, "invalid capture index %%%d", l + 1);
    if (m->cap[l].len == CAP_POS || (size_t)m->cap[l].len > m->slen - s) {
        pm_step(m, 1); /* a position never matches as text */
        return PM_NONE;
    }
    len = (size_t)m->cap[l].len;
    a = m->src + m->cap[l].start;
    b = m->src + s;
    for (i = 0; i < len && a[i] == b[i]; i++) continue;
    pm_step(m, 1 + (long)i);
    return i == len ? s + len : PM_NONE;
}

/* Item p..ep repeated greedily from s (a '*', or a '+' whose first
 * repetition is done), then the rest of the pattern. */
static size_t pm_greedy(PMatch *m, size_t s, size_t p, size_t ep) {
    size_t n = 0, r;

    while (pm_single(m, s + n, p, ep)) n++;
    for (;;) { /* give back one repetition at a time */
        r = pm_match(m, s + n, ep + 1);
        if (r != PM_NONE || n == 0) return r;
        n--;
    }
}

/* Item p..ep repeated lazily ('-') from s, then the rest of the pattern. */
static size_t pm_lazy(PMatch *m, size_t s, size_t p, size_t ep) {
    for (;;) { /* take one more repetition only when the rest fails */
        size_t r = pm_match(m, s, ep + 1);

        if (r != PM_NONE) return r;
        if (!pm_single(m, s, p, ep)) return PM_NONE;
        s++;
    }
}

/* Open a capture (text, or a position when kind is CAP_POS) at s and match
 * the rest from pattern index p. */
static size_t pm_open(PMatch *m, size_t s, size_t p, ptrdiff_t kind) {
    size_t r;

    if (m->level >= PM_MAXCAP) pm_raise(m->L, "too many captures");
    m->cap[m->level].start = s;
    m->cap[m->level].len = kind;
    m->level++;
    r = pm_match(m, s, p);
    if (r == PM_NONE) m->level--;
    return r;
}

/* Close the innermost open capture at s and match the rest from p. */
static size_t pm_close(PMatch *m, size_t s, size_t p) {
    int l = m->level - 1;
    size_t r;

    while (l >= 0 && m->cap[l].len != CAP_OPEN) l--;
    if (l < 0) pm_raise(m->L, "invalid pattern capture");
    m->cap[l].len = (ptrdiff_t)(s - m->cap[l].start);
    r = pm_match(m, s, p);
    if (r == PM_NONE) m->cap[l].len = CAP_OPEN;
    return r;
}

/* Match pattern items from index p against the subject from s, without
 * the depth accounting; the end of the match or PM_NONE. */
static size_t pm_items(PMatch *m, size_t s, size_t p) {
    while (p < m->plen) {
        int c = m->pat[p], q;
        size_t ep;

        if (c == '(') {
            if (pm_pat(m, p + 1) == ')') return pm_open(m, s, p + 2, CAP_POS);
            return pm_open(m, s, p + 1, CAP_OPEN);
        }
        if (c == ')') return pm_close(m, s, p + 1);
        if (c == '$' && p + 1 == m->plen) return s == m->slen ? s : PM_NONE;
        if (c == '%') {
            q = pm_pat(m, p + 1);
            if (q == 'b') {
                s = pm_balance(m, s, p + 2);
                if (s == PM_NONE) return s;
                p += 4;
                continue;
            }
            if (q == 'f') {
                size_t set = p + 2, end;
                int before, here;

                if (pm_pat(m, set) != '[')
                    pm_raise(m->L, "missing '[' after '%%f' in pattern");
                end = pm_class_end(m, set);
                pm_step(m, 1);
                before = s == 0 ? 0 : m->src[s - 1];
                here = pm_sub(m, s);
                if (pm_in_set(m, before, set, end - 1) || !pm_in_set(m, here, set, end - 1))
                    return PM_NONE;
                p = end;
                continue;
            }
            if (q >= '0' && q <= '9') {
                s = pm_backref(m, s, q);
                if (s == PM_NONE) return s;
                p += 2;
                continue;
            }
        }
        /* a single-character class, maybe with a quantifier */
        ep = pm_class_end(m, p);
        q = pm_pat(m, ep);
        if (!pm_single(m, s, p, ep)) {
            if (q == '*' || q == '?' || q == '-') { /* zero repetitions do */
                p = ep + 1;
                continue;
            }
            return PM_NONE;
        }
        switch (q) {
        case '?': {
            size_t r = pm_match(m, s + 1, ep + 1);

            if (r != PM_NONE) return r;
            p = ep + 1;
            continue;
        }
        case '+': return pm_greedy(m, s + 1, p, ep);
        case '*': return pm_greedy(m, s, p, ep);
        case '-': return pm_lazy(m, s, p, ep);
        default:
            s++;
            p = ep;
            continue;
        }
    }
    return s;
}

/* Match the pattern from index p against the subject from s: the end of
 * the match or PM_NONE. Each call is one nesting level and one step. */
static size_t pm_match(PMatch *m, size_t s, size_t p) {
    size_t r;

    if (m->depth-- == 0) pm_raise(m->L, "pattern too complex");
    pm_step(m, 1);
    r = pm_items(m, s, p);
    m->depth++;
    return r;
}

/* Set up m for subject s and pattern p with a fresh budget. */
static void pm_init(PMatch *m, lua_State *L, const char *s, size_t ls,
                    const char *p, size_t lp, long steps) {
    m->L = L;
    m->src = (const unsigned char *)s;
    m->slen = ls;
    m->pat = (const unsigned char *)p;
    m->plen = lp;
    m->level = 0;
    m->depth = PM_MAXDEPTH;
    m->steps = steps;
}

/* Forget the captures before a match attempt at a new position. */
static void pm_reset(PMatch *m) {
    m->level = 0;
    m->depth = PM_MAXDEPTH;
}

/* Push capture i of the match s..e; with no captures, i 0 is the whole
 * match. */
static void pm_push_cap(PMatch *m, int i, size_t s, size_t e) {
    if (i >= m->level) {
        if (i != 0) pm_raise(m->L, "invalid capture index %%%d", i + 1);
        lua_pushlstring(m->L, (const char *)m->src + s, e - s);
    } else if (m->cap[i].len == CAP_OPEN) {
        pm_raise(m->L, "unfinished capture");
    } else if (m->cap[i].len == CAP_POS) {
        lua_pushinteger(m->L, (lua_Integer)m->cap[i].start + 1);
    } else {
        lua_pushlstring(m->L, (const char *)m->src + m->cap[i].start,
                        (size_t)m->cap[i].len);
    }
}

/* Push all captures of the match s..e (or the whole match when there are
 * none and whole is set); returns how many were pushed. */
static int pm_push_caps(PMatch *m, size_t s, size_t e, int whole) {
    int n = (m->level == 0 && whole) ? 1 : m->level, i;

    luaL_checkstack(m->L, n, "too many captures");
    for (i = 0; i < n; i++) pm_push_cap(m, i, s, e);
    return n;
}

/* 0-based start for a 1-based, possibly negative init argument; a value
 * above len means "after the end". */
static size_t pm_start(lua_Integer pos, size_t len) {
    if (pos > 0) return (size_t)pos - 1;
    if (pos == 0 || pos < -(lua_Integer)len) return 0;
    return len - (size_t)(-pos);
}

/* True when the pattern has no magic character, so find may search it as
 * plain text. */
static int pm_is_plain(const char *p, size_t lp) {
    static const char magic[] = "^$*+?.([%-";
    size_t i;

    for (i = 0; i < lp; i++)
        if (memchr(magic, p[i], sizeof magic - 1)) return 0;
    return 1;
}

/* The step budget stored as upvalue 1 of the installed functions. */
static long pm_budget(lua_State *L, int up) {
    return (long)lua_tointeger(L, lua_upvalueindex(up));
}

/* string.find (find set) and string.match. */
static int pm_find_aux(lua_State *L, int find) {
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t at = pm_start(luaL_optinteger(L, 3, 1), ls);

    if (at > ls) {
        luaL_pushfail(L);
        return 1;
    }
    if (find && (lua_toboolean(L, 4) || pm_is_plain(p, lp))) {
        /* memmem is linear time in glibc and musl, so it needs no budget */
        const char *hit = lp == 0 ? s + at : memmem(s + at, ls - at, p, lp);

        if (hit) {
            lua_pushinteger(L, (lua_Integer)(hit - s) + 1);
            lua_pushinteger(L, (lua_Integer)(hit - s) + (lua_Integer)lp);
            return 2;
        }
    } else {
        PMatch m;
        int anchor = lp > 0 && p[0] == '^';

        if (anchor) {
            p++;
            lp--;
        }
        pm_init(&m, L, s, ls, p, lp, pm_budget(L, 1));
        for (;;) {
            size_t e;

            pm_reset(&m);
            e = pm_match(&m, at, 0);
            if (e != PM_NONE) {
                if (!find) return pm_push_caps(&m, at, e, 1);
                lua_pushinteger(L, (lua_Integer)at + 1);
                lua_pushinteger(L, (lua_Integer)e);
                return pm_push_caps(&m, at, e, 0) + 2;
            }
            if (anchor || at >= ls) break;
            at++;
        }
    }
    luaL_pushfail(L);
    return 1;
}

/* string.find(s, pattern [, init [, plain]]) */
static int pm_find(lua_State *L) {
    return pm_find_aux(L, 1);
}

/* string.match(s, pattern [, init]) */
static int pm_match_fn(lua_State *L) {
    return pm_find_aux(L, 0);
}

/* State of one gmatch iterator; the subject and pattern it points into
 * are upvalues 1 and 2 of the iterator, so they stay alive. */
typedef struct {
    PMatch m;
    size_t pos;  /* where the next search starts */
    size_t last; /* end of the last match, or PM_NONE */
} PGmatch;

/* The gmatch iterator: the captures of the next match, or nothing. Upvalues:
 * subject, pattern, state, step budget. */
static int pm_gmatch_next(lua_State *L) {
    PGmatch *g = lua_touserdata(L, lua_upvalueindex(3));
    size_t at;

    g->m.L = L;
    g->m.steps = pm_budget(L, 4);
    for (at = g->pos; at <= g->m.slen; at++) {
        size_t e;

        pm_reset(&g->m);
        e = pm_match(&g->m, at, 0);
        if (e != PM_NONE && e != g->last) { /* no empty match where one ended */
            g->pos = g->last = e;
            return pm_push_caps(&g->m, at, e, 1);
        }
    }
    return 0;
}

/* string.gmatch(s, pattern [, init]); as in stock Lua 5.4, a leading '^'
 * is an ordinary character here. */
static int pm_gmatch(lua_State *L) {
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t at = pm_start(luaL_optinteger(L, 3, 1), ls);
    PGmatch *g;

    lua_settop(L, 2);
    g = lua_newuserdatauv(L, sizeof *g, 0);
    if (at > ls) at = ls + 1; /* nothing to find */
    pm_init(&g->m, L, s, ls, p, lp, 0);
    g->pos = at;
    g->last = PM_NONE;
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushcclosure(L, pm_gmatch_next, 4);
    return 1;
}

/* The result being built by gsub. */
typedef struct {
    luaL_Buffer b;
    size_t max;  /* size cap for a new result */
    int changed; /* has any replacement been made? */
} PSubst;

/* Make room for len more bytes: marks the result as new when change is
 * set, and raises the size error if a new result would pass the cap. The
 * unchanged prefix is a copy of the subject, so it is not capped. */
static void pm_room(lua_State *L, PSubst *o, size_t len, int change) {
    size_t have = luaL_bufflen(&o->b);

    if (change) o->changed = 1;
    if (o->changed && (have > o->max || len > o->max - have))
        pm_raise(L, "%s", LPATTERN_OUTPUT_MSG);
}

/* Append len bytes at p to the result. */
static void pm_out(lua_State *L, PSubst *o, const void *p, size_t len, int change) {
    pm_room(L, o, len, change);
    luaL_addlstring(&o->b, p, len);
}

/* Append the value on top of the stack (a string or number) to the
 * result, as a replacement. */
static void pm_out_top(lua_State *L, PSubst *o) {
    size_t len;

    lua_tolstring(L, -1, &len);
    pm_room(L, o, len, 1);
    luaL_addvalue(&o->b);
}

/* Append the replacement string (argument 3) for the match s..e, expanding
 * %0-%9 and %%. */
static void pm_add_string(PMatch *m, PSubst *o, size_t s, size_t e) {
    lua_State *L = m->L;
    size_t l;
    const char *r = lua_tolstring(L, 3, &l), *end = r + l, *pct;

    pm_room(L, o, 0, 1);
    while ((pct = memchr(r, '%', (size_t)(end - r))) != NULL) {
        int c = pct + 1 < end ? (unsigned char)pct[1] : 0;

        pm_out(L, o, r, (size_t)(pct - r), 1);
        if (c == '%') {
            pm_out(L, o, "%", 1, 1);
        } else if (c == '0') {
            pm_out(L, o, m->src + s, e - s, 1);
        } else if (isdigit(c)) {
            int i = c - '1';

            if (i >= m->level) { /* %1 with no captures is the whole match */
                if (i != 0) pm_raise(L, "invalid capture index %%%d", i + 1);
                pm_out(L, o, m->src + s, e - s, 1);
            } else if (m->cap[i].len == CAP_OPEN) {
                pm_raise(L, "unfinished capture");
            } else if (m->cap[i].len == CAP_POS) {
                lua_pushinteger(L, (lua_Integer)m->cap[i].start + 1);
                pm_out_top(L, o);
            } else {
                pm_out(L, o, m->src + m->cap[i].start, (size_t)m->cap[i].len, 1);
            }
        } else {
            pm_raise(L, "invalid use of '%%' in replacement string");
        }
        r = pct + 2;
    }
    pm_out(L, o, r, (size_t)(end - r), 1);
}

/* Append the replacement for the match s..e, per the type tr of argument
 * 3; a false or nil value from a table or function keeps the match. */
static void pm_add_value(PMatch *m, PSubst *o, size_t s, size_t e, int tr) {
    lua_State *L = m->L;

    if (tr == LUA_TFUNCTION) {
        int n;

        lua_pushvalue(L, 3);
        n = pm_push_caps(m, s, e, 1);
        lua_call(L, n, 1);
    } else if (tr == LUA_TTABLE) {
        pm_push_cap(m, 0, s, e);
        lua_gettable(L, 3);
    } else {
        pm_add_string(m, o, s, e);
        return;
    }
    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        pm_out(L, o, m->src + s, e - s, 0);
    } else if (!lua_isstring(L, -1)) {
        pm_raise(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    } else {
        pm_out_top(L, o);
    }
}

/* string.gsub(s, pattern, repl [, n]). Upvalues: step budget, size cap. */
static int pm_gsub(lua_State *L) {
    size_t ls, lp;
    const char *src = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    int tr = lua_type(L, 3);
    lua_Integer max_n = luaL_optinteger(L, 4, (lua_Integer)ls + 1);
    int anchor = lp > 0 && p[0] == '^';
    lua_Integer n = 0;
    size_t at = 0, last = PM_NONE;
    PMatch m;
    PSubst o;

    luaL_argexpected(L, tr == LUA_TNUMBER || tr == LUA_TSTRING ||
                     tr == LUA_TFUNCTION || tr == LUA_TTABLE, 3,
                     "string/function/table");
    luaL_buffinit(L, &o.b);
    o.max = (size_t)lua_tointeger(L, lua_upvalueindex(2));
    o.changed = 0;
    if (anchor) {
        p++;
        lp--;
    }
    pm_init(&m, L, src, ls, p, lp, pm_budget(L, 1));
    while (n < max_n) {
        size_t e;

        pm_reset(&m);
        e = pm_match(&m, at, 0);
        if (e != PM_NONE && e != last) { /* no empty match where one ended */
            n++;
            pm_add_value(&m, &o, at, e, tr);
            at = last = e;
        } else if (at < ls) {
            pm_out(L, &o, src + at, 1, 0);
            at++;
        } else {
            break;
        }
        if (anchor) break;
    }
    if (!o.changed) {
        lua_pushvalue(L, 1);
    } else {
        pm_out(L, &o, src + at, ls - at, 1);
        luaL_pushresult(&o.b);
    }
    lua_pushinteger(L, n);
    return 2;
}

void lpattern_install(lua_State *L, int idx, long max_steps, size_t max_out) {
    static const struct {
        const char *name;
        lua_CFunction fn;
    } fns[] = {
        {"find", pm_find},
        {"match", pm_match_fn},
        {"gmatch", pm_gmatch},
        {"gsub", pm_gsub},
    };
    size_t i;

    idx = lua_absindex(L, idx);
    luaL_checkstack(L, 3, "lpattern_install");
    for (i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        lua_pushinteger(L, (lua_Integer)max_steps);
        lua_pushinteger(L, max_out > (size_t)LUA_MAXINTEGER ? LUA_MAXINTEGER
                                                             : (lua_Integer)max_out);
        lua_pushcclosure(L, fns[i].fn, 2);
        lua_setfield(L, idx, fns[i].name);
    }
}
