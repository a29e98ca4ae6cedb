-- chat: the core chat skill, the fallback that answers in character.
--
-- It sends the model the persona's prompt first, then this channel's
-- earlier turns with this persona, oldest first, then the new message;
-- it stores both turns before replying, so memory survives restarts.
-- The persona's `model` may name a model or a route of the hybrid router.
chorus.fallback(function(msg)
  local persona = msg.persona
  msg:typing()

  local turns, err = chorus.history.load(msg)
  if not turns then
    chorus.log.debug("answering without memory:", err)
    turns = {}
  end

  local messages = { { role = "system", content = persona.prompt } }
  for _, turn in ipairs(turns) do
    messages[#messages + 1] = { role = turn.role, content = turn.content }
  end
  messages[#messages + 1] = { role = "user", content = msg.text }

  -- stream = true: clients that asked for it see the reply grow.
  -- tools = "auto": models with the "tools" capability may call any
  -- chorus.tool a plugin registered; others never see them.
  local answer, model_err, kind = chorus.model.chat {
    route = persona.model, messages = messages, stream = true, tools = "auto",
  }
  if not answer then
    chorus.log.debug("model failed:", model_err)
    msg:reply(kind == "budget" and model_err or persona.apology)
    return
  end

  local ok, store_err = chorus.history.append(msg, {
    { role = "user", content = msg.text, user = msg.author.id, name = msg.author.name, ts = chorus.now() },
    { role = "assistant", content = answer.text, persona = persona.name, model = answer.model, ts = chorus.now() },
  })
  if not ok then chorus.log.debug("turn not stored:", store_err) end
  msg:reply(answer.text)
end)
