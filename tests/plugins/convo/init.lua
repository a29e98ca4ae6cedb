-- convo: one command per plugin API feature of docs/plugins.md
-- ("Conversations, roles and richer state"), for tests/plugins/convo/test.lua
-- and tests/integration/plugin_conversations.test.js.

-- msg:ask: a two-question form; each answer is the author's next message.
chorus.command("form", function(msg)
  local name, err = msg:ask("What is your name?", { timeout = 20 })
  if not name then return msg:reply("form: " .. err) end
  local color = msg:ask("Favourite colour, " .. name.text .. "?", { timeout = 20 })
  if not color then return msg:reply("form: timeout at the colour") end
  msg:reply(("Thanks %s, noted %s."):format(name.text, color.text))
  return true
end)

-- Waits without saying anything first; the answer's own fields are there.
chorus.command("wait", function(msg)
  local answer, err = msg:ask(nil, { timeout = 5 })
  if not answer then return msg:reply("wait: " .. err) end
  msg:reply(("got %q from %s (%s)"):format(answer.text, answer.author.name, answer.id and "with an id" or "no id"))
  return true
end)

-- Would take every message with "hello" in it: not the ones answering a question.
chorus.hear("hello", function(msg)
  msg:reply("hear: " .. msg.text)
end)

-- chorus.timer_cancel
chorus.command("later", { args = { { name = "what", type = "rest" } } }, function(msg, args)
  local id = chorus.timer_in(60, "later", { channel = msg.channel, platform = msg.platform, what = args.what })
  chorus.state.channel(msg):set("later", id)
  msg:reply("later: set")
end)
chorus.command("nevermind", function(msg)
  local id = chorus.state.channel(msg):get("later")
  local ok, err = chorus.timer_cancel(id or "")
  msg:reply("nevermind: " .. tostring(ok) .. (err and (" " .. err) or ""))
end)
chorus.on_timer("later", function(ev)
  chorus.send(ev.payload.platform, ev.payload.channel, "later: " .. ev.payload.what)
end)

-- Roles, aliases, subcommands, cooldowns
chorus.command("whoami", { aliases = { "me", "who am" } }, function(msg)
  msg:reply(msg.author.name .. " is " .. msg.author.role)
end)
chorus.command("kick", { role = "moderator", args = { { name = "who" } } }, function(msg, args)
  msg:reply("kicked " .. args.who)
end)
chorus.command("shutdown", { role = "owner" }, function(msg) msg:reply("bye") end)
chorus.command("dice", { cooldown = "10s", aliases = { "roll" }, args = { { name = "sides", type = "integer", optional = true } } },
  function(msg, args) msg:reply("rolled a d" .. (args.sides or 6)) end)
chorus.command("note add", { help = "add a note", args = { { name = "text", type = "rest" } } }, function(msg, args)
  local n = chorus.state.user(msg):hincrby("notes", "count", 1)
  chorus.state.user(msg):hset("notes", "n" .. n, args.text)
  msg:reply("note " .. n .. " added")
end)
chorus.command("note list", { help = "your notes" }, function(msg)
  local all = chorus.state.user(msg):hgetall("notes")
  local lines = {}
  for i = 1, all.count or 0 do lines[#lines + 1] = i .. ": " .. tostring(all["n" .. i]) end
  msg:reply(#lines > 0 and table.concat(lines, "\n") or "no notes")
end)

-- Hashes and sorted sets, with Redis's argument order
chorus.command("hashes", function(msg)
  local s = chorus.state
  local out = {}
  out[#out + 1] = s:hset("h", "a", { x = 1 })
  out[#out + 1] = s:hset("h", "b", "two")
  out[#out + 1] = s:hincrby("h", "n", 5)
  out[#out + 1] = s:hincrby("h", "n")
  local a = s:hget("h", "a")
  out[#out + 1] = a.x
  out[#out + 1] = s:hget("h", "b")
  out[#out + 1] = tostring(s:hget("h", "missing"))
  out[#out + 1] = s:hdel("h", "b")
  local all = s:hgetall("h")
  out[#out + 1] = all.n .. "/" .. tostring(all.b) .. "/" .. all.a.x
  local empty = s:hgetall("nothing")
  out[#out + 1] = "empty:" .. tostring(next(empty) == nil)
  msg:reply(table.concat(out, " "))
end)
chorus.command("zsets", function(msg)
  local s = chorus.state
  local out = {}
  out[#out + 1] = s:zadd("z", 5, "ann")
  out[#out + 1] = s:zadd("z", 2.5, "ben")
  out[#out + 1] = s:zincrby("z", 3, "cy")
  out[#out + 1] = s:zincrby("z", 1.5, "ben")
  out[#out + 1] = table.concat(s:zrange("z", 0, -1), ",")
  local top = s:zrange("z", 0, 1, { rev = true, withscores = true })
  out[#out + 1] = top[1].member .. "=" .. top[1].score .. "," .. top[2].member .. "=" .. top[2].score
  out[#out + 1] = s:zrank("z", "ann") .. "/" .. s:zrank("z", "ann", { rev = true }) .. "/" .. tostring(s:zrank("z", "dan"))
  out[#out + 1] = s:zscore("z", "ben")
  out[#out + 1] = s:zrem("z", "ben")
  out[#out + 1] = table.concat(s:zrange("z", 0, -1, { rev = true }), ",")
  msg:reply(table.concat(out, " "))
end)

-- A state call in a Redis outage: nil, "redis unavailable", not an empty key
chorus.command("count", function(msg)
  local n, err = chorus.state:incr("count")
  if not n then return msg:reply("count failed: " .. tostring(err)) end
  msg:reply("count " .. n)
end)
chorus.command("peek", function(msg)
  local v, err = chorus.state:hget("h", "a")
  msg:reply("peek: " .. tostring(v) .. " " .. tostring(err))
end)
