-- remind: "!remind 10m take the tea out" says "Ann, you asked me to remind
-- you: take the tea out" in the same channel ten minutes later;
-- "!reminders" lists yours.
--
-- Each reminder is a one-shot timer in Redis (chorus.timer_in), so it fires
-- after a restart, and once even with several chorusd processes. Each user's
-- list lives in their per-user state, keyed by the timer's id.
local MAX = 366 * 86400

local function human(seconds)
  seconds = math.floor(seconds + 0.5)
  local parts = {}
  for _, u in ipairs({ { 86400, "d" }, { 3600, "h" }, { 60, "m" }, { 1, "s" } }) do
    if seconds >= u[1] then
      parts[#parts + 1] = (seconds // u[1]) .. u[2]
      seconds = seconds % u[1]
    end
  end
  return #parts > 0 and table.concat(parts, " ") or "0s"
end

-- The per-user store of someone who is not the current message's author.
local function store_of(platform, user_id)
  return chorus.state.user({ platform = platform, author = { id = user_id } })
end

chorus.command("remind", {
  help = "remind you of something later, in this channel",
  args = { { name = "when", type = "duration" }, { name = "what", type = "rest" } },
}, function(msg, args)
  if args.when < 1 or args.when > MAX then
    msg:reply("A reminder can be set from 1s to 366d ahead. Usage: !remind <when:duration> <what>")
    return
  end
  local due = chorus.now() + args.when
  local id, err = chorus.timer_in(args.when, "remind", {
    platform = msg.platform, channel = msg.channel, user = msg.author.id, name = msg.author.name, text = args.what,
  })
  if not id then
    msg:reply("Sorry, I could not keep that reminder: " .. tostring(err))
    return
  end
  local store = chorus.state.user(msg)
  local mine = store:get("reminders") or {}
  mine[id] = { due = due, text = args.what, channel = msg.channel }
  store:set("reminders", mine)
  msg:reply(("OK %s, I'll remind you in %s: %s"):format(msg.author.name, human(args.when), args.what))
end)

chorus.command("reminders", { help = "list your reminders" }, function(msg)
  local mine = chorus.state.user(msg):get("reminders") or {}
  local list = {}
  for _, r in pairs(mine) do list[#list + 1] = r end
  if #list == 0 then
    msg:reply("You have no reminders. Set one with !remind <when:duration> <what>")
    return
  end
  table.sort(list, function(a, b) return a.due < b.due end)
  local lines = { "Your reminders:" }
  local now = chorus.now()
  for _, r in ipairs(list) do
    lines[#lines + 1] = ("in %s (in %s): %s"):format(human(math.max(r.due - now, 0)), r.channel, r.text)
  end
  msg:reply(table.concat(lines, "\n"))
end)

chorus.on_timer("remind", function(ev)
  local r, id = ev.payload, nil
  chorus.send(r.platform, r.channel, ("%s, you asked me to remind you: %s"):format(r.name, r.text))
  local store = store_of(r.platform, r.user)
  local mine = store:get("reminders") or {}
  for key, item in pairs(mine) do
    if item.text == r.text and item.channel == r.channel and item.due <= ev.now + 1 then id = key break end
  end
  if id then
    mine[id] = nil
    if next(mine) then store:set("reminders", mine) else store:del("reminders") end
  end
end)
