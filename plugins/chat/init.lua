-- chat: the core chat skill, the fallback that answers in character.
--
-- For each message it notices how the person feels (and updates the
-- channel's mood and what the persona knows of them), assembles the prompt
-- (chorus.prompt.build: the persona's prompt verbatim first, what it knows
-- and feels, a summary of older turns, the recent turns oldest first, then
-- the new message), asks the persona's model or route, stores both turns
-- before replying, and folds old turns into a rolling summary once the
-- window is full. It also remembers facts on request and forgets a person
-- entirely when asked.

-- "remember that I like jazz" -> "you like jazz"
local function second_person(s)
  s = " " .. s .. " "
  s = s:gsub(" I am ", " you are "):gsub(" I'm ", " you're "):gsub(" I ", " you ")
       :gsub(" my ", " your "):gsub(" me ", " you ")
  return (s:gsub("^ ", ""):gsub(" $", ""))
end

chorus.hear("^[Rr]emember that (.+)", { priority = 10 }, function(msg)
  local fact = second_person(msg.text:match("^[Rr]emember that (.+)"):gsub("[%.!]+$", ""))
  local ok, err = chorus.memory.remember(msg, fact)
  msg:reply(ok and ("I'll remember that " .. fact .. ".") or ("I couldn't write that down: " .. err))
end)

local FORGET = { "^!forget me", "^[Ff]orget everything about me", "^[Ff]orget me", "^[Ff]orget what you know about me" }
chorus.hear(function(msg)
  for _, p in ipairs(FORGET) do if msg.text:find(p) then return 1 end end
  return 0
end, { priority = 10 }, function(msg)
  local removed, err = chorus.memory.forget(msg)
  if not removed then return msg:reply("I couldn't forget just now: " .. err) end
  msg:reply("Done. I've forgotten what I knew about you, and our earlier messages here.")
end)

-- A tool for models that can call tools: they may note facts themselves.
chorus.tool("remember_fact", {
  description = "Remember a fact about the person you are talking with, to use in later conversations.",
  parameters = { type = "object", properties = { fact = { type = "string" } }, required = { "fact" } },
}, function(args)
  local ok, err = chorus.memory.remember(nil, tostring(args.fact))
  return ok and { remembered = args.fact } or { error = err }
end)

-- Fold the older half of a full window into the rolling summary.
local function summarize(msg, turns, summary)
  local keep = math.floor(msg.persona.history_turns / 2)
  local lines = {}
  for i = 1, #turns - keep do
    local t = turns[i]
    lines[#lines + 1] = (t.role == "user" and (t.name or "user") or msg.persona.display_name) .. ": " .. t.content
  end
  if #lines == 0 then return end
  local answer = chorus.model.chat {
    route = msg.persona.summary_model,
    messages = {
      { role = "system", content = "Summarize the conversation below in under 120 words. Keep names, facts people shared, feelings and open questions." },
      { role = "user", content = (summary and ("Summary so far: " .. summary .. "\n\n") or "") .. table.concat(lines, "\n") },
    },
    max_tokens = 300,
  }
  if answer then
    chorus.memory.set_summary(msg, answer.text)
    chorus.history.trim(msg, keep)
  end
end

-- Send TEXT, split into a few parts with typing pauses when the persona's pacing asks.
local function send(msg, text)
  local pacing = msg.persona.pacing
  if not (pacing and pacing.split) then return msg:reply(text) end
  local parts = {}
  for sentence in text:gmatch("[^%.!?。！？]+[%.!?。！？]*%s*") do parts[#parts + 1] = sentence end
  local max = pacing.max_parts or 3
  while #parts > max do parts[#parts - 1] = parts[#parts - 1] .. parts[#parts]; parts[#parts] = nil end
  if #parts == 0 then parts = { text } end
  for i, part in ipairs(parts) do
    if i > 1 then
      msg:typing()
      chorus.sleep(math.min(#part * (pacing.typing_ms_per_char or 30), 4000) / 1000)
    end
    msg:reply((part:gsub("%s+$", "")))
  end
end

chorus.fallback(function(msg)
  local persona = msg.persona
  msg:typing()

  -- One round trip: how they feel, the mood, who they are to us, and the
  -- recent turns, summary and facts. Without Redis only the feeling comes back.
  local observation = chorus.empathy.observe(msg)
  local turns, summary, facts = observation.turns, observation.summary, observation.facts or {}
  if not turns then
    chorus.log.debug("answering without memory")
    turns = {}
  end
  observation.turns, observation.summary, observation.facts = nil, nil, nil

  -- A card persona greets a channel once, with its first_mes, before its first answer there.
  local greeting = turns and chorus.prompt.greeting(msg)
  if greeting then
    msg:reply(greeting)
    turns[#turns + 1] = { role = "assistant", content = greeting }
  end

  -- Long-term recall: older turns of this channel like this message, beyond
  -- the ones already in the prompt ({} when the persona has no embedding model).
  local recalled, record = chorus.memory.recall(msg, { exclude = #turns })

  local messages = chorus.prompt.build(msg, {
    turns = turns, summary = summary, facts = facts, observation = observation, recalled = recalled,
  })

  -- stream = true: clients that asked for it see the reply grow.
  -- tools = "auto": models with the "tools" capability may call chorus.tool handlers.
  local answer, model_err, kind = chorus.model.chat {
    route = persona.model, messages = messages, stream = true, tools = "auto",
  }
  if not answer then
    chorus.log.debug("model failed:", model_err)
    msg:reply(kind == "budget" and model_err or persona.apology)
    return
  end

  local stored = {
    { role = "user", content = msg.text, user = msg.author.id, name = msg.author.name, ts = chorus.now() },
    { role = "assistant", content = answer.text, persona = persona.name, model = answer.model, ts = chorus.now() },
  }
  if greeting then
    table.insert(stored, 1, { role = "assistant", content = greeting, persona = persona.name, greeting = true, ts = chorus.now() })
  end
  local ok, store_err = chorus.history.append(msg, stored)
  if not ok then chorus.log.debug("turn not stored:", store_err) end
  send(msg, answer.text)
  -- After the reply, so it never waits: the turns get their embeddings (the
  -- message's is the one recall just made).
  if ok and persona.recall then chorus.memory.index(msg, stored, record, #stored - 1) end
  if ok and #turns + 2 >= persona.history_turns then summarize(msg, turns, summary) end
end)

-- Speaking first (group-chat manners, docs/personas.md): after a silence in
-- a channel it was talking in, or on the persona's schedule, the core sends
-- a "proactive" event; msg.text is the note that asks the model to start a
-- conversation. Only what the persona says is stored, never the note.
chorus.on("proactive", function(msg)
  local persona = msg.persona
  local turns = chorus.history.load(msg) or {}
  local messages = chorus.prompt.build(msg, { turns = turns })
  local answer, model_err = chorus.model.chat { route = persona.model, messages = messages }
  if not answer or answer.text == "" then
    chorus.log.debug("not speaking first:", model_err)
    return
  end
  chorus.history.append(msg, {
    { role = "assistant", content = answer.text, persona = persona.name, model = answer.model, proactive = true, ts = chorus.now() },
  })
  msg:reply(answer.text)
end)
