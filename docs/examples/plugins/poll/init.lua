-- poll: "!poll Lunch? | Pizza | Sushi" posts a card with a button per
-- answer (an embed and buttons on Discord, blocks on Slack, a card in the
-- web chat, lines of text elsewhere). A press is a "button" event: the vote
-- is counted in a hash of the channel's state, one vote per person, and
-- the voter alone is told (ephemeral, where the platform can).

local MAX_ANSWERS = 10

-- The channel's store: "poll:<n>" hashes of votes, "poll:<n>:who" of voters.
local function store(msg) return chorus.state.channel(msg) end

chorus.command("poll", {
  help = "ask the channel a question: !poll Lunch? | Pizza | Sushi",
  args = { { name = "spec", type = "rest" } },
}, function(msg, args)
  local parts = {}
  for part in args.spec:gmatch("[^|]+") do parts[#parts + 1] = part:match("^%s*(.-)%s*$") end
  local question = table.remove(parts, 1)
  if not question or #parts < 2 or #parts > MAX_ANSWERS then
    msg:reply("Usage: !poll <question> | <answer> | <answer> ... (2 to " .. MAX_ANSWERS .. " answers)")
    return
  end
  local n, err = store(msg):incr("polls")
  if not n then return msg:reply("Sorry, I cannot keep a poll right now: " .. tostring(err)) end
  local buttons, lines = {}, {}
  for i, answer in ipairs(parts) do
    buttons[i] = { label = answer, id = ("poll:%d:%d"):format(n, i) }
  end
  buttons[#buttons + 1] = { label = "Results", id = ("poll:%d:results"):format(n), style = "secondary" }
  store(msg):set(("poll:%d:answers"):format(n), parts)
  msg:reply {
    text = msg.author:mention() .. " asks:",
    embed = { title = question, description = "Press a button to vote (one vote each; pressing again changes it).",
              color = 0x5865f2, footer = "poll " .. n },
    buttons = buttons,
  }
end)

-- The counts of poll N as "answer: votes" lines.
local function results(msg, n, answers)
  local votes = store(msg):hgetall(("poll:%d"):format(n)) or {}
  local lines = {}
  for i, answer in ipairs(answers) do
    local c = tonumber(votes[tostring(i)] or 0)
    lines[#lines + 1] = { name = answer, value = c .. (c == 1 and " vote" or " votes"), inline = true }
  end
  return lines
end

chorus.button("poll:*", function(msg)
  local n, choice = msg.button:match("^poll:(%d+):(%w+)$")
  local answers = n and store(msg):get(("poll:%d:answers"):format(n))
  if not answers then return msg:reply { text = "That poll is over.", ephemeral = true } end
  if choice == "results" then
    return msg:reply { embed = { title = "Results of poll " .. n, fields = results(msg, n, answers) }, ephemeral = true }
  end
  local i = tonumber(choice)
  if not answers[i] then return msg:reply { text = "No such answer.", ephemeral = true } end
  local s, who = store(msg), ("poll:%s:who"):format(n)
  local before = s:hget(who, msg.author.id)
  if before == tostring(i) then
    return msg:reply { text = "You already voted for " .. answers[i] .. ".", ephemeral = true }
  end
  if before then s:hincrby(("poll:%s"):format(n), before, -1) end
  s:hset(who, msg.author.id, tostring(i))
  s:hincrby(("poll:%s"):format(n), tostring(i), 1)
  msg:reply { text = "You voted for " .. answers[i] .. ".", ephemeral = true }
end)
