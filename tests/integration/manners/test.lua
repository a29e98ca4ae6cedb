-- Group-chat manners, as people in a group chat meet them: when Aiko joins
-- in, when she stays quiet, and when she speaks first. The config (written
-- by manners.test.js) gives Aiko interests, a 10-minute cooldown, speaking
-- first after an hour of silence (twice a day at most), and channel blocks
-- that set the reply mode per room. Times are virtual (t.advance).
plugins { "../../../plugins/chat" }

local DAY = 86400

-- The /metrics value of a series, or 0.
local function metric(t, series)
  local body = t.http { path = "/metrics" }.body
  local v = body:match("\n" .. series:gsub("[%[%]%(%)%.%-%+%*%?%^%$%%]", "%%%0") .. " ([%d%.e%+]+)")
  return tonumber(v) or 0
end

-- Move to just after the next midnight (UTC), so a day's cap is not cut by one.
local function fresh_day(t)
  t.advance(DAY - math.floor(t.now()) % DAY + 60)
end

-- Quiet hours first: the config's window covers the start of the run.
test("it keeps quiet hours: no speaking first at night, even after a long silence", function(t)
  local night = t.room("night")
  t.model.reply("Good evening, Ann.")
  t.eq(night:user("Ann"):say("good evening, Aiko"), { "Good evening, Ann." })
  t.advance("65m")
  t.eq(night:replies(), { "Good evening, Ann." }, "nothing said first in the quiet hours")
  t.eq(#t.model.requests(), 1, "and no model call for it")
  t.ok(metric(t, 'chorus_manners_decisions_total{why="quiet_hours"}') >= 1, "the skip is counted")
end)

test("with no manners set it answers only what is addressed to it, as before", function(t)
  local plain = t.room("plain")
  t.eq(plain:user("Ann"):say("aiko, are you there?", { direct = false }), {}, "its name alone is not enough by default")
  t.model.reply("I'm here.")
  t.eq(plain:user("Ann"):say("are you there?"), { "I'm here." }, "a mention is answered")
  t.eq(#t.model.requests(), 1)
end)

test("addressed: it answers its name, and not the chatter around it", function(t)
  local room = t.room("addressed")
  t.model.reply("Hi Ann!")
  t.eq(room:user("Ann"):say("hey Aiko, how are you?", { direct = false }), { "Hi Ann!" })
  t.eq(room:user("Ben"):say("what time is the game tonight?", { direct = false }), {},
       "a question right after it spoke is not for it in addressed mode")
  t.eq(room:user("Ben"):say("I brewed some tea", { direct = false }), {}, "nor are its interests")
  t.eq(#t.model.requests(), 1)
end)

test("auto: its nickname, a follow-up question, its interests; quiet on unrelated chatter; a cooldown", function(t)
  local room = t.room("auto")
  local ann, ben = room:user("Ann"), room:user("Ben")
  t.eq(ann:say("the football game was great", { direct = false }), {}, "unrelated chatter")
  t.model.reply("Hello, Ann!")
  t.eq(ann:say("Ai-chan, hello!", { direct = false }), { "Hello, Ann!" }, "its nickname")
  t.model.reply("I think it was close.")
  t.eq(ben:say("what do you think of it?", { direct = false }), { "I think it was close." },
       "a question right after it spoke")
  t.eq(ben:say("nice, well played", { direct = false }), {}, "a remark after it spoke is not for it")
  t.advance("5m")
  t.eq(ben:say("what do you think?", { direct = false }), {}, "a question long after it spoke is not for it")
  t.eq(ann:say("I brewed some tea", { direct = false }), {}, "its interest, but within the cooldown of its last uninvited answer")
  t.advance("6m")
  t.model.reply("Tea! Which one?")
  t.eq(ann:say("I brewed some tea", { direct = false }), { "Tea! Which one?" }, "its interest, after the cooldown")
  t.eq(#t.model.requests(), 3, "nothing else reached the model")
  t.eq(t.model.last().messages[#t.model.last().messages], { role = "user", content = "I brewed some tea" })
  t.ok(metric(t, 'chorus_manners_decisions_total{why="cooldown"}') >= 1)
  t.ok(metric(t, 'chorus_manners_decisions_total{why="unrelated"}') >= 3)
  t.ok(metric(t, 'chorus_manners_decisions_total{why="followup"}') >= 1)
end)

test("always: it answers every message in the room", function(t)
  local room = t.room("always")
  t.model.reply("Great game indeed.")
  t.eq(room:user("Ann"):say("the football game was great", { direct = false }), { "Great game indeed." })
end)

test("auto with probability 0 never joins in uninvited, but still answers its name", function(t)
  local room = t.room("shy")
  t.eq(room:user("Ann"):say("I love astronomy", { direct = false }), {})
  t.model.reply("Yes?")
  t.eq(room:user("Ann"):say("Aiko?", { direct = false }), { "Yes?" })
  t.ok(metric(t, 'chorus_manners_decisions_total{why="probability"}') >= 1)
end)

test("a moderator sets the reply mode of a channel; a plain user may not", function(t)
  local room = t.room("ops")
  local olga, ben = room:user("Olga"), room:user("Ben")
  t.match(ben:say("!chorus reply always")[1], "needs the moderator role")
  t.eq(ben:say("Aiko, hi", { direct = false }), {}, "still the default mode")
  t.match(olga:say("!chorus reply addressed")[1], "^Done%. In test:ops I now answer only when I am addressed")
  t.model.reply("Hi Ben.")
  t.eq(ben:say("Aiko, hi", { direct = false }), { "Hi Ben." })
  t.match(olga:say("!chorus reply always --channel test:elsewhere")[1], "test:elsewhere I now answer every message")
  t.model.reply("Sure.")
  t.eq(t.room("elsewhere"):user("Ben"):say("lovely day", { direct = false }), { "Sure." })
  t.match(olga:say("!chorus reply default")[1], "configured manners again")
  t.eq(ben:say("Aiko, hi", { direct = false }), {}, "back to the configured (default) mode")
  t.match(olga:say("!chorus reply sometimes")[1], "^Usage: reply addressed|auto|always|default")
end)

test("it speaks first after an hour of silence where it was talking, once, counted in the ledger and /metrics", function(t)
  fresh_day(t)
  local before = metric(t, 'chorus_proactive_messages_total{platform="test"}')
  local porch = t.room("porch")
  local ann = porch:user("Ann")
  t.model.reply("Hello, Ann.")
  ann:say("hello")
  t.advance("30m")
  t.eq(#porch:replies(), 1, "half an hour is not a silence yet")
  t.eq(ann:say("anyone around?", { direct = false }), {}, "chatter it does not answer...")
  t.advance("45m")
  t.eq(#porch:replies(), 1, "...starts the silence again")
  t.model.reply("It's gone quiet. Anyone up for tea?")
  t.advance("20m")
  t.eq(porch:replies(), { "Hello, Ann.", "It's gone quiet. Anyone up for tea?" })
  local last = t.model.last().messages
  t.match(last[#last].content, "Nobody has said anything here for a while")
  t.eq(last[#last - 1], { role = "assistant", content = "Hello, Ann." }, "the channel's memory came along")
  t.eq(porch:last_message().persona, "aiko")
  t.advance("3h")
  t.eq(#porch:replies(), 2, "it does not keep talking into the silence")
  local day = os.date("!%Y%m%d", math.floor(t.now()))
  t.eq(t.redis("HGET", "chorus-test:engagement:" .. day .. ":aiko", "proactive"), "1", "the ledger counts it")
  t.eq(metric(t, 'chorus_proactive_messages_total{platform="test"}'), before + 1, "so does /metrics")
  local history = t.redis("LRANGE", "chorus-test:{test:porch}:history:aiko", 0, -1)
  t.match(history[#history], "It's gone quiet", "what it said is remembered")
  for _, turn in ipairs(history) do t.ok(not turn:find("Nobody has said", 1, true), "the note is not stored") end
end)

test("it speaks first at most daily_cap times a day in a channel", function(t)
  fresh_day(t)
  local room = t.room("cap")
  local ann = room:user("Ann")
  for i = 1, 3 do
    t.model.reply("Hi " .. i)
    ann:say("hi")
    if i < 3 then t.model.reply("Said first " .. i) end
    t.advance("61m")
  end
  t.eq(room:replies(), { "Hi 1", "Said first 1", "Hi 2", "Said first 2", "Hi 3" })
  t.eq(#t.model.requests(), 5, "the third time, no model call either")
  t.ok(metric(t, 'chorus_manners_decisions_total{why="cap"}') >= 1, "the third is refused by the cap")
  t.advance(DAY)
  t.model.reply("Hi 4")
  ann:say("hi")
  t.model.reply("Said first 3")
  t.advance("61m")
  t.eq(room:last(), "Said first 3", "a new day, a new allowance")
end)

test("anyone can ask it not to speak first in a channel; only a moderator can undo that", function(t)
  fresh_day(t)
  local room = t.room("optout")
  local ann, ben, olga = room:user("Ann"), room:user("Ben"), room:user("Olga")
  t.model.reply("Hi Ann.")
  ann:say("hi")
  t.match(ben:say("!chorus proactive off")[1], "^Done%. In test:optout I will not speak first any more")
  t.advance("2h")
  t.eq(#t.model.requests(), 1, "nothing said first after the opt-out")
  t.ok(metric(t, 'chorus_manners_decisions_total{why="optout"}') >= 1)
  t.match(ben:say("!chorus proactive on")[1], "needs the moderator role")
  t.match(olga:say("!chorus proactive on")[1], "may speak first again")
  t.model.reply("Hi again.")
  ann:say("hi")
  t.model.reply("So, how was everyone's day?")
  t.advance("61m")
  t.eq(room:last(), "So, how was everyone's day?")
end)

test("on its schedule it speaks first in the channels it talked in this week", function(t)
  fresh_day(t)
  local before = metric(t, 'chorus_proactive_messages_total{platform="test"}')
  local garden = t.room("garden")
  t.ok(garden:user("Olga"):say("!chorus persona use kenji")[1], "Kenji speaks in the garden")
  t.model.reply("Morning, Ann.")
  t.eq(garden:user("Ann"):say("hi Kenji"), { "Morning, Ann." })
  t.advance("8h")
  t.eq(garden:last(), "Morning, Ann.", "not yet nine")
  t.model.reply("Good morning, garden! The roses are out.")
  t.advance("1h")
  t.eq(garden:last(), "Good morning, garden! The roses are out.", "at nine")
  t.eq(garden:last_message().persona, "kenji")
  t.eq(t.room("lobby"):replies(), {}, "nowhere else")
  t.eq(metric(t, 'chorus_proactive_messages_total{platform="test"}'), before + 1)
  t.model.reply("Another fine morning.")
  t.advance("1d")
  t.eq(garden:last(), "Another fine morning.", "and the next morning")
end)

test("when another chorusd has claimed the chance to speak first, it stays quiet", function(t)
  fresh_day(t)
  local claimed = metric(t, 'chorus_manners_decisions_total{why="claimed"}')
  local room = t.room("twin")
  t.model.reply("Hi Ann.")
  room:user("Ann"):say("hi")
  -- Another process took this hour's claim (channel "test:twin" has min_gap_ms = 3600000).
  local slot = (t.now() + 61 * 60) * 1000 // 3600000
  for s = slot - 1, slot + 1 do
    t.redis("SET", "chorus-test:{test:twin}:proactive:claim:" .. math.floor(s), "another process")
  end
  t.advance("61m")
  t.eq(room:replies(), { "Hi Ann." }, "said once, by the other process")
  t.eq(metric(t, 'chorus_manners_decisions_total{why="claimed"}'), claimed + 1)
  t.eq(t.redis("GET", "chorus-test:{test:twin}:proactive:" .. os.date("!%Y%m%d", math.floor(t.now()))), nil,
       "and not counted against the cap here")
end)
