-- trivia: the worked example of docs/plugins.md.
--
--   !trivia start   asks you the channel's next question; your next message
--                   in this channel is your answer (30 s, via msg:ask)
--   !trivia top     the channel's leaderboard (a sorted set in Redis)
--   !trivia me      your score and place
--   !trivia reset   clears the leaderboard (moderators and up)
--
-- Several people can play at once: each question waits for its own
-- asker's next message, and everyone else's messages go on as usual.
local QUESTIONS = chorus.config.questions or require("questions")
local TIMEOUT = tonumber(chorus.config.timeout) or 30
local TOP = 5

-- "The Pacific!" -> "pacific": what an answer is compared by.
local function normalize(s)
  s = s:lower():gsub("[%p]", " "):gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")
  return (s:gsub("^the ", ""))
end

local function correct(question, text)
  local said = normalize(text)
  for _, a in ipairs(question.a) do
    if normalize(a) == said then return true end
  end
  return false
end

local function points(n)
  n = math.tointeger(n) or n
  return n .. (n == 1 and " point" or " points")
end

-- The channel's store: scores (a sorted set), names (a hash) and the
-- question counter.
local function board(msg) return chorus.state.channel(msg) end

-- Redis is down: say so rather than pretend the board is empty.
local function unavailable(msg)
  msg:reply("Sorry, the scoreboard is unavailable right now. Try again in a moment.")
  return true
end

local open = {}   -- "platform:channel:user" -> true while their question waits

chorus.command("trivia start", { help = "ask me a question; your next message is your answer" }, function(msg)
  local who = msg.platform .. ":" .. msg.channel .. ":" .. msg.author.id
  if open[who] then
    msg:reply(("%s, you already have a question waiting for your answer."):format(msg.author.name))
    return true
  end
  local store = board(msg)
  local n, err = store:incr("asked")
  if not n then return unavailable(msg) end
  local question = QUESTIONS[(n - 1) % #QUESTIONS + 1]
  open[who] = true
  local answer, why = msg:ask(("Question %d for %s: %s (%d s to answer)"):format(n, msg.author.name, question.q, TIMEOUT),
                              { timeout = TIMEOUT })
  open[who] = nil
  if not answer then
    if why == "timeout" then
      msg:reply(("Time's up, %s! The answer was %s."):format(msg.author.name, question.a[1]))
    elseif why == "shutdown" then
      msg:reply(("Sorry %s, I have to stop the game: I am restarting. The answer was %s."):format(msg.author.name, question.a[1]))
    else
      msg:reply("Sorry, I could not ask that: " .. tostring(why))
    end
    return true
  end
  if not correct(question, answer.text) then
    msg:reply(("Not quite, %s: the answer was %s."):format(msg.author.name, question.a[1]))
    return true
  end
  store:hset("names", msg.author.id, msg.author.name)
  local score = store:zincrby("scores", 1, msg.author.id)
  if not score then return unavailable(msg) end
  answer:react("✅")
  msg:reply(("Correct, %s! You have %s."):format(msg.author.name, points(score)))
  return true
end)

chorus.command("trivia top", { help = "the leaderboard of this channel", aliases = { "trivia scores" } }, function(msg)
  local store = board(msg)
  local top, err = store:zrange("scores", 0, TOP - 1, { rev = true, withscores = true })
  if not top then return unavailable(msg) end
  if #top == 0 then
    msg:reply("No scores yet. Start with !trivia start")
    return true
  end
  local names = store:hgetall("names") or {}
  local lines = { "Leaderboard:" }
  for i, row in ipairs(top) do
    lines[#lines + 1] = ("%d. %s - %s"):format(i, names[row.member] or row.member, points(row.score))
  end
  msg:reply(table.concat(lines, "\n"))
  return true
end)

chorus.command("trivia me", { help = "your score and place here" }, function(msg)
  local store = board(msg)
  local score, err = store:zscore("scores", msg.author.id)
  if err then return unavailable(msg) end
  if not score then
    msg:reply(("%s, you have no points yet."):format(msg.author.name))
    return true
  end
  local rank = store:zrank("scores", msg.author.id, { rev = true })
  msg:reply(("%s, you are #%d with %s."):format(msg.author.name, rank + 1, points(score)))
  return true
end)

chorus.command("trivia reset", { help = "clear this channel's leaderboard", role = "moderator" }, function(msg)
  local store = board(msg)
  local ok = store:del("scores")
  if not ok then return unavailable(msg) end
  store:del("names")
  msg:reply(("%s cleared the leaderboard."):format(msg.author.name))
  return true
end)
