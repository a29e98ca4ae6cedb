-- lpattern_diff.lua - differential harness for src/lpattern.c.
--
-- tests/unit/test_lpattern.c loads this chunk and calls it with two tables,
-- O (the stock string.find/match/gmatch/gsub) and M (the budgeted ones of
-- lpattern.c). It returns a table H:
--   H.cases              the hand-written cases, each {op, args...}
--   H.run_case(i)        runs case i on both sides: its name, and nil when
--                        the sides agree or a description of the difference
--   H.all_ops(s, p, init, repl, n)
--                        runs every operation on one random (subject,
--                        pattern) pair: the number of comparisons made and
--                        a list of differences
-- Every comparison covers all return values (with their types, integer vs
-- float included) or the error message, the arguments gsub passes to a
-- replacement function, and all the values a gmatch iterator produces.
--
-- Run standalone (`lua5.4 tests/unit/lpattern_diff.lua`) it compares the
-- stock library with itself, to vet the corpus on a plain Lua.

local O, M = ...
local standalone = O == nil
if standalone then
  O = { find = string.find, match = string.match, gmatch = string.gmatch, gsub = string.gsub }
  M = O
end

local format, rep, char, byte = string.format, string.rep, string.char, string.byte
local concat, pack, unpack = table.concat, table.pack, table.unpack

local H = {}

-- A deterministic text form of any value the operations can give.
local function ser(v)
  local t = type(v)
  if t == "string" then
    return (format("%q", v):gsub("\n", "n"))
  elseif t == "number" then
    return math.type(v) .. ":" .. format("%q", v)
  elseif t == "table" then
    local out = {}
    for i = 1, (rawget(v, "n") or rawlen(v)) do out[i] = ser(rawget(v, i)) end
    return "{" .. concat(out, ",") .. "}"
  else
    return tostring(v)
  end
end
H.ser = ser

-- A replacement function: pure, and varied enough to return nil, false,
-- strings, integers, floats, "" and (for the subject byte "b") a table,
-- which gsub must reject.
local function repl_fn(...)
  local a = ...
  if a == "b" then return {} end
  local k = select("#", ...) + #tostring(a)
  local r = k % 6
  if r == 0 then return nil
  elseif r == 1 then return false
  elseif r == 2 then return "<" .. tostring(a) .. ">"
  elseif r == 3 then return k
  elseif r == 4 then return k + 0.5
  else return "" end
end
H.repl_fn = repl_fn

-- A replacement table with string, number, false, true and table values;
-- integer keys serve position captures.
local repl_tab = {
  a = "<A>", b = false, ab = "X%1", ["("] = 7, [""] = "E", aa = true,
  ba = {}, [1] = "one", [2] = 2.5, [3] = false, ["%"] = "%%",
}
H.repl_tab = repl_tab
local FUNC, TABLE = {}, {} -- markers in random operations

-- Run op with args on library lib: a packed result {ok, values...}. When
-- the replacement is a function, it is wrapped to log its arguments and
-- the log is part of the result. Both libraries run through this one call
-- site, so error positions and function names in messages agree.
local function invoke(lib, op, args)
  local log
  if op == "gsub" and type(args[3]) == "function" then
    local f = args[3]
    log = {}
    args = pack(unpack(args, 1, args.n))
    args[3] = function(...)
      log[#log + 1] = pack(...)
      return f(...)
    end
  end
  local fn = lib[op]
  local res
  if op == "gmatch" then
    res = pack(pcall(function()
      local it = fn(unpack(args, 1, args.n))
      local all = { n = 0 }
      while true do
        local r = pack(it())
        if r.n == 0 or r[1] == nil then break end
        all.n = all.n + 1
        all[all.n] = r
        if all.n > 100000 then error("runaway gmatch") end
      end
      return all
    end))
  else
    res = pack(pcall(function() return pack(fn(unpack(args, 1, args.n))) end))
  end
  return ser(res) .. (log and (" log=" .. ser(log)) or "")
end

local function describe(op, args)
  local out = {}
  for i = 1, args.n do
    local v = args[i]
    if v == repl_fn then out[i] = "repl_fn"
    elseif v == repl_tab then out[i] = "repl_tab"
    elseif type(v) == "string" and #v > 60 then out[i] = format("<%d-byte string>", #v)
    else out[i] = ser(v) end
  end
  return op .. "(" .. concat(out, ", ") .. ")"
end
H.describe = describe

-- Compare one call on both sides: nil when equal, else a description.
function H.check(op, ...)
  local args = pack(...)
  local want = invoke(O, op, args)
  local got = invoke(M, op, args)
  if want == got then return nil end
  return describe(op, args) .. ": stock=" .. want .. " ours=" .. got
end

---------------------------------------------------------------------------
-- Hand-written cases.

local cases = {}
H.cases = cases
local function C(op, ...) cases[#cases + 1] = pack(op, ...) end

local all_bytes = {}
for i = 0, 255 do all_bytes[#all_bytes + 1] = char(i) end
all_bytes = concat(all_bytes)

-- find: plain text, init handling, plain flag, anchors
C("find", "hello world", "wor")
C("find", "hello world", "l+")
C("find", "hello", "xyz")
C("find", "", "")
C("find", "", "", 1)
C("find", "", "", 2)
C("find", "abc", "", 3)
C("find", "abc", "", 4)
C("find", "abc", "", 5)
C("find", "abc", "", -1)
for _, init in ipairs({ -10, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 100,
                        math.maxinteger, math.mininteger, 2.0, "2", -2.0 }) do
  C("find", "abcabc", "b", init)
  C("find", "abcabc", "b.", init)
  C("find", "abcabc", "b", init, true)
  C("find", "abcabc", "x*", init)
  C("match", "abcabc", "(b)(.?)", init)
  C("match", "abcabc", "()", init)
  C("gmatch", "abcabc", "b", init)
  C("gmatch", "abcabc", "x*", init)
  C("gmatch", "abcabc", "()", init)
end
C("find", "a.b", ".", 1, true)
C("find", "a+b", "+", 1, true)
C("find", "a+b", "a+b")
C("find", "a+b", "a+b", 1, true)
C("find", "a+b", "a+b", 1, false)
C("find", "a+b", "a+b", 1, nil)
C("find", "a+b", "a+b", 1, 0) -- 0 is true
C("find", "a)", ")")
C("find", "a)", ")", 1, true)
C("find", "a]", "]")
C("find", "a]", "a]")
C("find", "x^y", "^y")
C("find", "x^y", "^y", 1, true)
C("find", "x^y", "x^")
C("find", "^^", "^^")
C("find", "abc", "^b")
C("find", "abc", "^b", 2)
C("find", "abc", "^b", -2)
C("find", "abc", "^", 4)
C("find", "abc", "^", 5)
C("find", "abc", "^$")
C("find", "", "^$")
C("find", "abc", "c$")
C("find", "abc", "b$")
C("find", "abc", "$")
C("find", "a$b", "$b")
C("find", "a$b", "a$b")
C("find", "a$", "a$$")
C("find", "a$$", "a$$")
C("find", "abc", "^abc$")
C("find", "abcd", "^abc$")
C("find", "a\0b", "\0")
C("find", "a\0b", "\0", 1, true)
C("find", "a\0b", ".", 2)
C("find", "a\0b\0", "b\0$")
C("find", "a\0b", "%z")
C("find", "az", "%z")
C("find", "aZ", "%Z")
C("find", "a\0b", "[\0]")
C("find", "a\0b", "[^\0]+", 2)
C("find", "a\0b", "%\0")
C("find", 12345, 34)
C("find", 1.5, "%.")
C("match", 12345, "(3)(4)")
C("find", "hello world from Lua", "(%w+) (%w+)")
C("find", "key = value", "(%w+)%s*=%s*(%w+)")

-- classes, their complements, and classes in sets, over every byte
for cl in ("acdglpsuwxzACDGLPSUWXZ"):gmatch(".") do
  C("gsub", all_bytes, "%" .. cl, "")
  C("gsub", all_bytes, "%" .. cl .. "+", "*")
  C("gsub", all_bytes, "[%" .. cl .. "]", "")
  C("gsub", all_bytes, "[^%" .. cl .. "]", "")
  C("gsub", all_bytes, "[_%" .. cl .. "z]", "")
  C("find", all_bytes, "%" .. cl)
end
C("gsub", all_bytes, ".", "x")
C("gsub", all_bytes, "[%z%y%b%q]", "")
for i = 0, 255 do
  local c = char(i)
  if not c:match("%w") then
    C("find", "ab" .. c .. "cd", "%" .. c)
    C("find", "ab" .. c .. "cd", "[%" .. c .. "]")
  end
end
C("find", "a.b", "%.")
C("find", "a%b", "%%")
C("find", "a(b", "%(")
C("find", "a]b", "%]")
C("find", "a[b", "%[")
C("find", "a^b", "%^")
C("find", "a$b", "%$")
C("find", "a-b", "%-")
C("find", "a*b", "%*")
C("find", "a?b", "%?")
C("find", "a+b", "%+")

-- sets
for _, set in ipairs({ "[abc]", "[a-c]", "[a-c]+", "[^a-c]+", "[%d%s]+", "[]]", "[]a]+",
                       "[^]]+", "[^]a]+", "[a-]+", "[-a]+", "[a%-z]+", "[%a-z]+", "[!-%%]+",
                       "[%]]", "[^%]]+", "[a-c-e]+", "[z-a]", "[\0-\5]+", "[%w_]+",
                       "[^%w_]+", "[%^]", "[^^]+", "[a^]+", "[.]", "[%.]", "[%%]", "[a-a]",
                       "[%a-]", "[-]", "[--]", "[---]+", "[%]-a]+", "[]-a]+", "[^]-a]+",
                       "[]]]", "[][]+", "[^][]+", "[%[]" }) do
  C("find", "xx]a-bz^c.d%e[f!g\0h\5" .. "0_9", set)
  C("gsub", "xx]a-bz^c.d%e[f!g\0h\5" .. "0_9", set, "#")
end

-- quantifiers
for _, p in ipairs({ "a*", "a+", "a-", "a?", "a-b", ".-b", ".*b", "(a*)(a*)", "(a-)(a-)",
                     "a?a?a?aaa", "(a+)(a+)", "a*$", "a-$", "^a-", "^a*", "[ab]*c",
                     "%a*%d", "(.-)%s", "(.*)%s", ".?.?.?", "x*", "x-", "x?" }) do
  C("find", "baaab abc aaa", p)
  C("match", "baaab abc aaa", p)
  C("gmatch", "baaab abc aaa", p)
  C("gsub", "baaab abc aaa", p, "<%0>")
end

-- captures, position captures, back-references
for _, p in ipairs({ "(a)(b)", "((a)(b))", "(a(b)c)", "()", "()a()", "(()a)", "(a)%1",
                     "(a*)%1", "(a)%2", "(a%1)", "(()%1)", "()%1", "((a)%2)", "((a)%1)",
                     "(a)(b)%2%1", "(.)%1", "(.)(.)%2%1", "(%w+)%s+%1", "(a)()(b)()",
                     ("()"):rep(32), ("(a)"):rep(32), ("()"):rep(33), ("(a)"):rep(33),
                     ("(")..("()"):rep(31)..")", ("(a)"):rep(9) .. "%9", ("(a)"):rep(10) .. "%9" }) do
  C("find", "abba abab aaaaaaaaaaaa baab", p)
  C("match", "abba abab aaaaaaaaaaaa baab", p)
  C("gmatch", "abba abab aaaaaaaaaaaa baab", p)
  C("gsub", "abba abab aaaaaaaaaaaa baab", p, "[%1]")
end

-- %b and %f
for _, p in ipairs({ "%b()", "%b((", "%b))", "%b)(", "%bxx", "%bab", "(%b())", "%b()%b()",
                     "%b", "%b(", "%f[%w]%w+", "%f[%W]", "%f[%a]", "%f[a]", "%f[^a]",
                     "%f[\0]", "%f[^\0]", "%f[%z]", "%f", "%fa", "%f[", "%f[a", "%f[]]",
                     "%f[%]]", "a%f[b]b", "%f[%s]%s*$" }) do
  C("find", "x(a(b)c)d) (e) ((f) THE (quick) fox ab]", p)
  C("gmatch", "x(a(b)c)d) (e) ((f) THE (quick) fox ab]", p)
  C("gsub", "x(a(b)c)d) (e) ((f) THE (quick) fox ab]", p, "<%0>")
  C("find", "", p)
end

-- malformed patterns
for _, p in ipairs({ "%", "a%", "[a", "[", "[^", "[]", "[^]", "[%", "[a%]", "[a%", "(", ")",
                     "(()", "a)", "%b", "%ba", "%f", "%fx", "%1", "%0", "%9", "(%1)", "(a)%2",
                     "a{", "[a-", "[a-%]", "((a)", "(a))", "%f[a]%", "x*%", "()%", "a%f" }) do
  C("find", "abc(a)", p)
  C("find", "", p)
  C("match", "abc(a)", p)
  C("gmatch", "abc(a)", p)
  C("gsub", "abc(a)", p, "x")
  C("gsub", "", p, "x")
end

-- recursion depth (the stock limit is 200 nested calls)
local long_a = rep("a", 300)
for _, k in ipairs({ 1, 100, 198, 199, 200, 201, 250 }) do
  C("find", long_a, rep("a?", k))
  C("find", long_a, rep("a*", k))
  C("find", long_a, rep("a-", k) .. "$")
  C("find", rep("a ", 300), rep("a+ ", k))
  C("find", long_a, rep("()", math.min(k, 40)))
  C("find", long_a, rep("(", math.min(k, 40)) .. "a" .. rep(")", math.min(k, 40)))
  C("find", long_a, rep("(a)", math.min(k, 40)))
  C("find", "", rep("x?", k))
  C("gsub", rep("a", 250), rep("a?", k), "x")
  C("gsub", rep("a", 250), rep("a?", k % 13) .. "b", "x") -- exponential: keep it small
end

-- gmatch
C("gmatch", "hello world from Lua", "%a+")
C("gmatch", "hello world from Lua", "()(%a+)()")
C("gmatch", "k1=v1, k2=v2", "(%w+)=(%w+)")
C("gmatch", "baaac", "a*")
C("gmatch", "baaac", "a-")
C("gmatch", "abc", "")
C("gmatch", "", "")
C("gmatch", "aaa", "^a")
C("gmatch", "^a^aaa", "^a")
C("gmatch", "abc", "$")
C("gmatch", "abc", "c$")
C("gmatch", "abc", ".$")
C("gmatch", "one two", "%a+", 4)
C("gmatch", "one two", "%a+", -3)
C("gmatch", "one two", "%a*", 8)
C("gmatch", "one two", "%a*", 9)
C("gmatch", "one two", "%a*", 0)
C("gmatch", "one two", "%a*", "x")
C("gmatch", nil, "a")
C("gmatch", "a", nil)
C("gmatch", "a", "(a")
C("gmatch", 12121, 1)

-- gsub with string, table and function replacements
C("gsub", "hello world", "(%w+)", "%1 %1")
C("gsub", "hello world", "%w+", "%0 %0", 1)
C("gsub", "hello world from Lua", "(%w+)%s*(%w+)", "%2 %1")
C("gsub", "abc", "%w", "%1")
C("gsub", "abc", "%w", "%2")
C("gsub", "abc", "(%w)", "%2")
C("gsub", "abc", "(%w)", "%0%1%%")
C("gsub", "abc", "()", "%1")
C("gsub", "abc", "()b()", "%2-%1")
C("gsub", "abc", "b", "%")
C("gsub", "abc", "b", "x%")
C("gsub", "abc", "b", "%x")
C("gsub", "abc", "b", "%\0")
C("gsub", "abc", "b", "a\0b")
C("gsub", "abc", "b", "%%%%")
C("gsub", "abc", "", "-")
C("gsub", "abc", "b*", "-")
C("gsub", "abc", "x*", "-")
C("gsub", "abc", "x*", "-", 2)
C("gsub", "", "", "x")
C("gsub", "", "x*", "x")
C("gsub", "abc", "^", ">")
C("gsub", "abc", "$", "<")
C("gsub", "abc", "^a", "X")
C("gsub", "aaa", "^a", "X")
C("gsub", "aaa", "^a*", "X")
C("gsub", "aaa", "^x*", "X")
C("gsub", "aaa", "a", "X", 0)
C("gsub", "aaa", "a", "X", -1)
C("gsub", "aaa", "a", "X", 2)
C("gsub", "aaa", "a", "X", 2.0)
C("gsub", "aaa", "a", "X", "2")
C("gsub", "aaa", "a", "X", 2.5)
C("gsub", "aaa", "a", "X", "x")
C("gsub", "aaa", "a", "X", math.maxinteger)
C("gsub", "aaa", "a", "X", math.mininteger)
C("gsub", 123, 2, 9)
C("gsub", 123, "x", 9)
C("gsub", "abc", "b", 5.5)
C("gsub", "abc", "b", 10)
C("gsub", "abc", "b", 2^63)
C("gsub", "abc", "b", true)
C("gsub", "abc", "b")
C("gsub", "abc", "b", nil, "x")
C("gsub", "abc", "(b)", "%%%1%%")
C("gsub", "abc", ".", { a = 1, b = true })
C("gsub", "abc", ".", { a = 1, b = false, c = "C" })
C("gsub", "abc", ".", { a = 1.25, c = {} })
C("gsub", "abc", "(.)()", { a = "x" })
C("gsub", "abc", "()", { [1] = "one", [3] = 3 })
C("gsub", "abc", "(a", {})
C("gsub", "abc", "(a", "x")
C("gsub", "abc", "(a", repl_fn)
C("gsub", "home = $HOME, user = $USER", "%$(%w+)", { HOME = "/home/roberto", USER = "roberto" })
C("gsub", "$name-$version.tar.gz", "%$(%w+)", { name = "lua", version = "5.4" })
C("gsub", "abc", ".", setmetatable({}, { __index = function(_, k) return k:upper() end }))
C("gsub", "abc", ".", function(c) return c:byte() end)
C("gsub", "abc", ".", function(c) return c == "b" end)
C("gsub", "abc", ".", function() return nil end)
C("gsub", "abc", ".", function() end)
C("gsub", "abc", ".", function() error("boom") end)
C("gsub", "abc", ".", function() error({}) end)
C("gsub", "abc", ".", function(c) return setmetatable({}, { __tostring = function() return c end }) end)
C("gsub", "abc", "(.)(.)", function(a, b) return b .. a end)
C("gsub", "abc", "()(.)()", function(...) return select("#", ...) end)
C("gsub", "hello world", "%w+", repl_fn)
C("gsub", "hello world", "%w+", repl_fn, 1)
C("gsub", "abcabc", "b", repl_fn)
C("gsub", "abcabc", "", repl_fn)
C("gsub", "abcabc", "x*", repl_fn, 3)
C("gsub", "aXbXc", "X", repl_tab)
C("gsub", "a(b", ".", repl_tab)
C("gsub", "abc", "()", repl_tab)
C("gsub", "ab ba", "%a+", repl_tab)

-- bad arguments
C("find", nil, "a")
C("find", "a", nil)
C("find", "a")
C("find")
C("find", "a", "a", "x")
C("find", "a", "a", 1.5)
C("find", {}, "a")
C("find", "a", {})
C("match")
C("match", "a", "a", {})
C("gsub", {}, "a", "b")
C("gsub", "a", {}, "b")

---------------------------------------------------------------------------

function H.run_case(i)
  local c = cases[i]
  local name = describe(c[1], pack(unpack(c, 2, c.n)))
  return name, H.check(unpack(c, 1, c.n))
end

-- All operations on one random (subject, pattern) pair.
function H.all_ops(s, p, init, repl, n)
  local count, diffs = 0, {}
  local function one(op, ...)
    local args = pack(...)
    for i = 1, args.n do
      if args[i] == FUNC then args[i] = repl_fn elseif args[i] == TABLE then args[i] = repl_tab end
    end
    count = count + 1
    local d = H.check(op, unpack(args, 1, args.n))
    if d then diffs[#diffs + 1] = d end
  end
  one("find", s, p)
  one("find", s, p, init)
  one("find", s, p, init, true)
  one("match", s, p)
  one("match", s, p, init)
  one("gmatch", s, p)
  one("gmatch", s, p, init)
  one("gsub", s, p, repl)
  one("gsub", s, p, repl, n)
  one("gsub", s, p, TABLE)
  one("gsub", s, p, FUNC)
  one("gsub", s, p, FUNC, n)
  return count, diffs
end

if standalone then
  local bad = 0
  for i = 1, #cases do
    local name, d = H.run_case(i)
    if d then bad = bad + 1; print("DIFF " .. name .. ": " .. d) end
  end
  print(format("%d hand-written cases, %d differences", #cases, bad))
end

return H
