/* test_lpattern.c - src/lpattern.c against the stock Lua 5.4 string library.
 *
 * The driver of tests/unit/lpattern_diff.lua: it keeps the stock find,
 * match, gmatch and gsub, installs the budgeted ones into a copy of the
 * string table, and has the harness compare the two over its hand-written
 * cases and over random (subject, pattern) pairs made here from a fixed
 * seed. Then it checks what only the budgeted versions do: the step
 * budget, the gsub size cap, and that big subjects stay usable.
 *
 * The harness is found at argv[1], $LPATTERN_DIFF_LUA,
 * $CHORUS_SRCDIR/tests/unit/lpattern_diff.lua, or
 * tests/unit/lpattern_diff.lua from the current directory. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "lib/lpattern.h"
#include "tap.h"

#define STEPS 10000000L        /* a realistic per-call budget */
#define MAX_OUT ((size_t)16 << 20)
#define RANDOM_CASES 4000      /* per generator */
#define MAX_REPORTED 40        /* differences shown one by one */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

/* xorshift64*: a fixed-seed generator, the same on every machine. */
static uint32_t rnd(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

/* A random integer in [0, n). */
static int pick(int n) {
    return (int)(rnd() % (uint32_t)n);
}

/* Seconds on a monotonic clock. */
static double now(void) {
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Append len bytes to buf (of capacity cap) at *n, if they fit. */
static void put(char *buf, size_t cap, size_t *n, const char *s, size_t len) {
    if (*n + len > cap) return;
    memcpy(buf + *n, s, len);
    *n += len;
}

/* A random string of 0..maxlen bytes drawn from alphabet (alen bytes). */
static size_t random_text(char *buf, size_t cap, const char *alphabet, size_t alen, int maxlen) {
    size_t n = 0;
    int len = pick(maxlen + 1), i;

    for (i = 0; i < len; i++) put(buf, cap, &n, &alphabet[pick((int)alen)], 1);
    return n;
}

/* A string literal with its length (it may hold NUL bytes). */
typedef struct {
    const char *s;
    size_t n;
} Lit;
#define LIT(x) {x, sizeof(x) - 1}

/* Append a random element of lits to buf. */
static void put_any(char *buf, size_t cap, size_t *n, const Lit *lits, size_t count) {
    const Lit *l = &lits[pick((int)count)];

    put(buf, cap, n, l->s, l->n);
}

/* One random pattern item for the structured generator, maybe a group. */
static void random_item(char *buf, size_t cap, size_t *n, int depth, int *caps) {
    static const Lit atoms[] = {
        LIT("a"), LIT("b"), LIT("c"), LIT("1"), LIT(" "), LIT("_"), LIT("."), LIT("%a"),
        LIT("%d"), LIT("%s"), LIT("%w"), LIT("%A"), LIT("%p"), LIT("%x"), LIT("%W"),
        LIT("%S"), LIT("[ab]"), LIT("[^a]"), LIT("[a-c]"), LIT("[%a_]"), LIT("[]a]"),
        LIT("[^]]"), LIT("[%d ]"), LIT("%("), LIT("%)"), LIT("%."), LIT("%%"), LIT("\0"),
        LIT("[\0a]"), LIT("%z"), LIT("%\0"),
    };
    static const Lit quants[] = {LIT(""), LIT(""), LIT(""), LIT("*"), LIT("+"), LIT("-"), LIT("?")};
    static const Lit frontiers[] = {
        LIT("%f[%w]"), LIT("%f[%W]"), LIT("%f[a]"), LIT("%f[^a]"), LIT("%f[%s]"), LIT("%f[\0]"),
    };
    static const Lit balances[] = {LIT("%b()"), LIT("%bab"), LIT("%b  ")};
    int kind = pick(20);

    if (kind == 0 && depth < 3) { /* a group */
        int k = 1 + pick(3), i;

        put(buf, cap, n, "(", 1);
        (*caps)++;
        for (i = 0; i < k; i++) random_item(buf, cap, n, depth + 1, caps);
        put(buf, cap, n, ")", 1);
    } else if (kind == 1) {
        put(buf, cap, n, "()", 2);
        (*caps)++;
    } else if (kind == 2 && *caps > 0) { /* a back-reference */
        char ref[2] = {'%', (char)('1' + pick(*caps < 9 ? *caps : 9))};

        put(buf, cap, n, ref, 2);
    } else if (kind == 3) {
        put_any(buf, cap, n, balances, sizeof balances / sizeof balances[0]);
    } else if (kind == 4) {
        put_any(buf, cap, n, frontiers, sizeof frontiers / sizeof frontiers[0]);
    } else {
        put_any(buf, cap, n, atoms, sizeof atoms / sizeof atoms[0]);
        put_any(buf, cap, n, quants, sizeof quants / sizeof quants[0]);
    }
}

/* A random pattern built from valid items (anchors included). */
static size_t random_pattern(char *buf, size_t cap) {
    size_t n = 0;
    int k = pick(6), i, caps = 0;

    if (pick(5) == 0) put(buf, cap, &n, "^", 1);
    for (i = 0; i < k; i++) random_item(buf, cap, &n, 0, &caps);
    if (pick(5) == 0) put(buf, cap, &n, "$", 1);
    return n;
}

/* A random gsub replacement string, sometimes malformed. */
static size_t random_repl(char *buf, size_t cap) {
    static const char *const parts[] = {"x", "%0", "%1", "%2", "%%", "-", "%a", "%", "y%3"};
    size_t n = 0;
    int k = pick(4), i;

    for (i = 0; i < k; i++) {
        const char *s = parts[pick((int)(sizeof parts / sizeof parts[0]))];

        put(buf, cap, &n, s, strlen(s));
    }
    return n;
}

/* A random init argument, mostly small, sometimes extreme. */
static lua_Integer random_init(void) {
    switch (pick(12)) {
    case 0: return LUA_MAXINTEGER;
    case 1: return LUA_MININTEGER;
    default: return (lua_Integer)pick(31) - 15;
    }
}

/* Load the harness and call it with (stock, ours); leaves H on the stack
 * and returns 1, or reports the failure and returns 0. */
static int load_harness(lua_State *L, const char *path) {
    if (luaL_loadfile(L, path) != LUA_OK) {
        ok(0, "load %s: %s", path, lua_tostring(L, -1));
        lua_pop(L, 1);
        return 0;
    }
    lua_getglobal(L, "STOCK");
    lua_getglobal(L, "OURS");
    if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
        ok(0, "run %s: %s", path, lua_tostring(L, -1));
        lua_pop(L, 1);
        return 0;
    }
    return ok(lua_istable(L, -1), "harness %s loaded", path);
}

/* Find the harness file (see the header comment). */
static const char *harness_path(int argc, char **argv, char *buf, size_t cap) {
    const char *env;

    if (argc > 1) return argv[1];
    if ((env = getenv("LPATTERN_DIFF_LUA")) != NULL && *env) return env;
    if ((env = getenv("CHORUS_SRCDIR")) != NULL && *env) {
        snprintf(buf, cap, "%s/tests/unit/lpattern_diff.lua", env);
        return buf;
    }
    return "tests/unit/lpattern_diff.lua";
}

/* Run every hand-written case of the harness at stack index h. */
static int run_hand_cases(lua_State *L, int h) {
    lua_Integer i, count;

    lua_getfield(L, h, "cases");
    count = luaL_len(L, -1);
    lua_pop(L, 1);
    for (i = 1; i <= count; i++) {
        lua_getfield(L, h, "run_case");
        lua_pushinteger(L, i);
        if (lua_pcall(L, 1, 2, 0) != LUA_OK) {
            ok(0, "hand case %lld: harness error %s", (long long)i, lua_tostring(L, -1));
            lua_pop(L, 1);
            continue;
        }
        if (!ok(lua_isnil(L, -1), "same as stock: %s", lua_tostring(L, -2)))
            printf("# %s\n", lua_tostring(L, -1));
        lua_pop(L, 2);
    }
    return (int)count;
}

/* Run all operations of the harness on one random pair; returns how many
 * comparisons were made and adds the differences to *bad. */
static long random_case(lua_State *L, int h, const char *s, size_t ls, const char *p, size_t lp,
                        int *bad) {
    char repl[64];
    size_t lr = random_repl(repl, sizeof repl);
    long count;
    lua_Integer i, nd;

    lua_getfield(L, h, "all_ops");
    lua_pushlstring(L, s, ls);
    lua_pushlstring(L, p, lp);
    lua_pushinteger(L, random_init());
    if (pick(4) == 0) lua_pushinteger(L, pick(20));
    else lua_pushlstring(L, repl, lr);
    lua_pushinteger(L, (lua_Integer)pick(6) - 1);
    if (lua_pcall(L, 5, 2, 0) != LUA_OK) {
        ok(0, "random case: harness error %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        (*bad)++;
        return 0;
    }
    count = (long)lua_tointeger(L, -2);
    nd = luaL_len(L, -1);
    for (i = 1; i <= nd; i++) {
        (*bad)++;
        if (*bad <= MAX_REPORTED) {
            lua_geti(L, -1, i);
            ok(0, "random case differs: %s", lua_tostring(L, -1));
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 2);
    return count;
}

/* Compare stock and ours over random pairs from both generators. */
static long run_random(lua_State *L, int h, long *pairs) {
    static const char sub_alpha[] = "aab(b)-.%[]^$1f\0";
    static const char pat_alpha[] = "ab(%-.)[]^$%1fb*+?";
    static const char sub_alpha2[] = "abc1 _()xab\0";
    char s[64], p[64];
    long count = 0;
    int bad = 0, i;

    for (i = 0; i < RANDOM_CASES; i++) { /* raw: mostly malformed patterns */
        size_t ls = random_text(s, sizeof s, sub_alpha, sizeof sub_alpha - 1, 12);
        size_t lp = random_text(p, sizeof p, pat_alpha, sizeof pat_alpha - 1, 8);

        count += random_case(L, h, s, ls, p, lp, &bad);
    }
    for (i = 0; i < RANDOM_CASES; i++) { /* structured: mostly valid patterns */
        size_t ls = random_text(s, sizeof s, sub_alpha2, sizeof sub_alpha2 - 1, 16);
        size_t lp = random_pattern(p, sizeof p);

        count += random_case(L, h, s, ls, p, lp, &bad);
    }
    *pairs = 2L * RANDOM_CASES;
    ok(bad == 0, "random corpus: %ld pairs, %ld comparisons, %d differences",
       *pairs, count, bad);
    return count;
}

/* Run Lua code returning (ok, message-or-value, ...); returns the status
 * of luaL_dostring and leaves the results on the stack. */
static int run(lua_State *L, const char *code) {
    int top = lua_gettop(L), rc = luaL_dostring(L, code);

    if (rc != LUA_OK) {
        printf("# Lua error: %s\n", lua_tostring(L, -1));
        lua_settop(L, top);
    }
    return rc;
}

/* Does the string at index i end with suffix? */
static int ends_with(lua_State *L, int i, const char *suffix) {
    size_t n, k = strlen(suffix);
    const char *s = lua_tolstring(L, i, &n);

    return s && n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* Check that code (which must return pcall's results) fails with msg, in
 * less than max_seconds. */
static void expect_error(lua_State *L, const char *code, const char *msg, double max_seconds,
                         const char *name) {
    int top = lua_gettop(L);
    double t0 = now(), dt;

    if (run(L, code) != LUA_OK) {
        ok(0, "%s: script failed", name);
        return;
    }
    dt = now() - t0;
    if (!ok(lua_toboolean(L, top + 1) == 0 && ends_with(L, top + 2, msg), "%s: raises '%s'", name, msg))
        printf("# got: %s %s\n", lua_toboolean(L, top + 1) ? "true" : "false",
               luaL_tolstring(L, top + 2, NULL));
    ok(dt < max_seconds, "%s: took %.3f s (limit %.1f s)", name, dt, max_seconds);
    lua_settop(L, top);
}

/* Check that code returns true, in less than max_seconds. */
static void expect_true(lua_State *L, const char *code, double max_seconds, const char *name) {
    int top = lua_gettop(L);
    double t0 = now(), dt;

    if (run(L, code) != LUA_OK) {
        ok(0, "%s: script failed", name);
        return;
    }
    dt = now() - t0;
    if (!ok(lua_toboolean(L, top + 1), "%s", name) && lua_gettop(L) > top + 1)
        printf("# detail: %s\n", luaL_tolstring(L, top + 2, NULL));
    ok(dt < max_seconds, "%s: took %.3f s (limit %.1f s)", name, dt, max_seconds);
    lua_settop(L, top);
}

/* Make a copy of the string table as global name with budgeted functions. */
static void make_copy(lua_State *L, const char *name, long steps, size_t max_out) {
    lua_newtable(L);
    lua_getglobal(L, "string");
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_settable(L, -5);
    }
    lua_pop(L, 1);
    lpattern_install(L, -1, steps, max_out);
    lua_setglobal(L, name);
}

/* The budget: pattern bombs stop quickly, and the budget is per call of
 * find/match/gsub and per step of a gmatch iterator. */
static void test_budget(lua_State *L) {
    static const char *const bombs[][2] = {
        {"find", "return pcall(OURS.find, ('a'):rep(3e4), ('a-'):rep(30)..'b')"},
        {"match", "return pcall(OURS.match, ('a'):rep(3e4), ('a-'):rep(30)..'b')"},
        {"gmatch", "return pcall(function() for _ in OURS.gmatch(('a'):rep(3e4), ('a-'):rep(30)..'b') do end end)"},
        {"gsub", "return pcall(OURS.gsub, ('a'):rep(3e4), ('a-'):rep(30)..'b', 'x')"},
        {"greedy", "return pcall(OURS.find, ('a'):rep(3e4), ('a*'):rep(30)..'b')"},
        {"quadratic", "return pcall(OURS.find, ('a'):rep(1e5), '.-b')"},
        {"balance", "return pcall(OURS.find, ('('):rep(1e5), '%b()')"},
        {"backref", "return pcall(OURS.find, ('a'):rep(1e5), '(.*)%1b')"},
    };
    size_t i;
    int top = lua_gettop(L);

    for (i = 0; i < sizeof bombs / sizeof bombs[0]; i++) {
        char name[64];

        snprintf(name, sizeof name, "pattern bomb via %s", bombs[i][0]);
        expect_error(L, bombs[i][1], LPATTERN_BUDGET_MSG, 1.0, name);
    }
    if (run(L, "return pcall(OURS.find, ('a'):rep(3e4), ('a-'):rep(30)..'b')") == LUA_OK) {
        is_str(lua_tostring(L, top + 2), LPATTERN_BUDGET_MSG, "budget error message is exact");
        lua_settop(L, top);
    }
    expect_true(L, "pcall(OURS.find, ('a'):rep(3e4), ('a-'):rep(30)..'b')\n"
                   "return OURS.find('xxabc', 'a(b)c') == 3",
                1.0, "usable after a budget error");
    /* TINY allows 1000 steps a call: each gmatch step is cheap, the whole
     * gsub is not */
    expect_true(L, "local s = ('ab '):rep(1000); local n = 0\n"
                   "for w in TINY.gmatch(s, '%a+') do n = n + 1 end\n"
                   "return n == 1000, n",
                1.0, "gmatch budget is per iteration");
    expect_error(L, "return pcall(TINY.gsub, ('ab '):rep(1000), '%a+', 'x')",
                 LPATTERN_BUDGET_MSG, 1.0, "gsub budget is per call");
    expect_error(L, "return pcall(TINY.find, ('a'):rep(2000), 'b+')",
                 LPATTERN_BUDGET_MSG, 1.0, "find budget counts each start position");
    expect_true(L, "return TINY.find(('a'):rep(2000), 'b', 1, true) == nil",
                1.0, "plain find is not budgeted (linear memmem)");
    expect_true(L, "return select(2, TINY.gsub(('a'):rep(300), 'a', 'b')) == 300",
                1.0, "small gsub within the tiny budget");
}

/* The gsub size cap (CAPPED allows 1000 bytes). */
static void test_output_cap(lua_State *L) {
    expect_true(L, "local r = CAPPED.gsub(('x'):rep(100), 'x', ('y'):rep(10))\n"
                   "return r == ('y'):rep(1000)",
                1.0, "gsub result of exactly max_out bytes");
    expect_error(L, "return pcall(CAPPED.gsub, ('x'):rep(100), 'x', ('y'):rep(11))",
                 LPATTERN_OUTPUT_MSG, 1.0, "gsub string replacement past max_out");
    expect_error(L, "return pcall(CAPPED.gsub, ('x'):rep(100), 'x', '%0%0%0%0%0%0%0%0%0%0%0')",
                 LPATTERN_OUTPUT_MSG, 1.0, "gsub %0 expansion past max_out");
    expect_error(L, "return pcall(CAPPED.gsub, 'abc', 'b', function() return ('z'):rep(2000) end)",
                 LPATTERN_OUTPUT_MSG, 1.0, "gsub function replacement past max_out");
    expect_error(L, "return pcall(CAPPED.gsub, 'abc', 'b', {b = ('z'):rep(2000)})",
                 LPATTERN_OUTPUT_MSG, 1.0, "gsub table replacement past max_out");
    expect_error(L, "return pcall(CAPPED.gsub, ('q'):rep(5000), '^', '')",
                 LPATTERN_OUTPUT_MSG, 1.0, "a changed result longer than max_out");
    expect_true(L, "local s = ('q'):rep(5000)\n"
                   "local r, n = CAPPED.gsub(s, 'x', 'y')\n"
                   "return r == s and n == 0",
                1.0, "an unchanged subject longer than max_out is returned as is");
    expect_true(L, "local s = ('q'):rep(5000)\n"
                   "local r, n = CAPPED.gsub(s, 'q', function() return false end)\n"
                   "return r == s and n == 5000",
                1.0, "kept matches leave a long subject unchanged");
    expect_true(L, "local r, n = CAPPED.gsub(('ab'):rep(2000), 'b', '', 0)\n"
                   "return #r == 4000 and n == 0",
                1.0, "max replacements 0 on a long subject");
}

/* A 1 MB subject with ordinary patterns under the realistic budget, each
 * result compared with stock. */
static void test_big_subject(lua_State *L) {
    static const char *const checks[][2] = {
        {"plain find at the end", "return same('find', BIG, 'needle')"},
        {"pattern find at the end", "return same('find', BIG, 'n%a+e%s*$')"},
        {"match with captures", "return same('match', BIG, '(%a+) (%a+)', 500000)"},
        {"lazy match to the end", "return same('match', BIG, '^(.-)needle')"},
        {"gmatch words", "return same('gmatch', BIG, '%a+')"},
        {"gsub spaces", "return same('gsub', BIG, '%s+', ' ')"},
        {"gsub words by function", "return same('gsub', BIG, '%a+', function(w) return #w end)"},
        {"gsub frontier", "return same('gsub', BIG, '%f[%a]%a', '%0')"},
        {"gsub every byte", "return same('gsub', BIG, '.', {q = 'Q'})"},
    };
    size_t i;

    if (run(L, "local w = {'lorem', 'ipsum', 'dolor', 'sit', 'amet', 'consectetur'}\n"
               "local t, n = {}, 0\n"
               "while n < 1048576 - 8 do local x = w[#t % #w + 1]; t[#t+1] = x; n = n + #x + 1 end\n"
               "BIG = table.concat(t, ' ') .. ' needle'\n"
               "function same(op, ...)\n"
               "  local function all(lib, ...)\n"
               "    if op == 'gmatch' then local n, last = 0; for w in lib.gmatch(...) do n = n + 1; last = w end; return n, last end\n"
               "    return lib[op](...)\n"
               "  end\n"
               "  local a, b = table.pack(all(string, ...)), table.pack(all(OURS, ...))\n"
               "  if a.n ~= b.n then return false, 'count' end\n"
               "  for i = 1, a.n do if a[i] ~= b[i] then return false, tostring(b[i]) end end\n"
               "  return true\n"
               "end") != LUA_OK) {
        ok(0, "build the 1 MB subject");
        return;
    }
    for (i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        char name[96];

        snprintf(name, sizeof name, "1 MB subject: %s", checks[i][0]);
        expect_true(L, checks[i][1], 10.0, name);
    }
}

int main(int argc, char **argv) {
    lua_State *L = luaL_newstate();
    char pathbuf[4096];
    const char *path = harness_path(argc, argv, pathbuf, sizeof pathbuf);
    long pairs = 0, comparisons = 0;
    int hand = 0;

    luaL_openlibs(L);
    /* the stock functions, kept before anything is installed */
    if (run(L, "STOCK = {find = string.find, match = string.match,\n"
               "         gmatch = string.gmatch, gsub = string.gsub}") != LUA_OK)
        return 1;
    make_copy(L, "OURS", STEPS, MAX_OUT);
    make_copy(L, "TINY", 1000, MAX_OUT);
    make_copy(L, "CAPPED", STEPS, 1000);
    run(L, "assert(OURS.find ~= string.find and OURS.rep == string.rep)");

    if (load_harness(L, path)) {
        int h = lua_gettop(L);

        hand = run_hand_cases(L, h);
        comparisons = run_random(L, h, &pairs);
        lua_settop(L, h - 1);
    }
    test_budget(L);
    test_output_cap(L);
    test_big_subject(L);
    printf("# %d hand-written cases and %ld random pairs (%ld comparisons) checked against stock\n",
           hand, pairs, comparisons);
    lua_close(L);
    return done_testing();
}
