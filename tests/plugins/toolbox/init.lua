-- toolbox: a fixture plugin exercising, one command each, what
-- docs/plugins.md promises about tools, streaming, handled messages and
-- HTTP. Its tests (test/*.lua) run under chorus-test.

-- A tool that reads the conversation it was called from (ctx.msg).
chorus.tool("recall", {
  description = "What was said earlier in this conversation.",
  parameters = { type = "object", properties = {} },
}, function(args, ctx)
  local turns = chorus.history.load(ctx.msg) or {}
  return {
    channel = ctx.channel, platform = ctx.platform, persona = ctx.persona.name,
    author = ctx.msg.author.name, turns = #turns, last = turns[#turns] and turns[#turns].content,
  }
end)

-- !ask QUESTION: the question is stored, then the model may call tools.
chorus.command("ask", { args = { { name = "question", type = "rest" } } }, function(msg, args)
  chorus.history.append(msg, { { role = "user", content = args.question } })
  local answer, err, kind = chorus.model.chat {
    model = msg.persona.model, tools = "auto",
    messages = { { role = "system", content = msg.persona.prompt }, { role = "user", content = args.question } },
  }
  if not answer then return msg:reply(("failed: %s (%s)"):format(err, kind)) end
  msg:reply(answer.text)
end)

-- !pieces: what a stream callback receives, joined with "|".
chorus.command("pieces", function(msg)
  local pieces = {}
  local answer, err = chorus.model.chat {
    model = msg.persona.model, messages = { { role = "user", content = "tell me" } },
    stream = function(delta) pieces[#pieces + 1] = delta end,
  }
  if not answer then return msg:reply("failed: " .. err) end
  msg:reply(table.concat(pieces, "|"))
end)

-- !forecast: a decorated reply streamed as it will end up.
chorus.command("forecast", function(msg)
  msg:stream("Forecast: ")
  local answer = chorus.model.chat {
    model = msg.persona.model, messages = { { role = "user", content = "forecast" } }, stream = true,
  }
  msg:reply("Forecast: " .. (answer and answer.text or "unknown"))
end)

-- Handled or not: a reaction, a true, nothing at all.
chorus.command("like", function(msg) msg:react("+1") end)
chorus.command("noted", function(msg)
  chorus.state.user(msg):incr("noted")
  return true
end)
chorus.command("shrug", function(msg) end)

-- Moderation: a message with a banned word goes no further, silently.
chorus.before(function(msg)
  if msg.text and msg.text:find("durian", 1, true) then return false end
end)

-- !weather CITY: an HTTP API with a query string, headers and a timeout.
chorus.command("weather", { args = { { name = "city", type = "rest" } } }, function(msg, args)
  local res, err = chorus.http.request {
    url = "https://api.weather.test/v1/now", query = { q = args.city, units = "metric" },
    headers = { Accept = "application/json" }, timeout = msg.config.timeout or 2,
  }
  if not res then return msg:reply("weather failed: " .. err) end
  if res.status ~= 200 then return msg:reply(("weather failed: HTTP %d"):format(res.status)) end
  local data = chorus.json.decode(res.body)
  msg:reply(("%s: %s°C (%s calls left)"):format(args.city, data.temp, res.headers["x-ratelimit-remaining"] or "?"))
end)

-- !fetch URL: any URL, to see the allow-list at work.
chorus.command("fetch", { args = { { name = "url", type = "string" } } }, function(msg, args)
  local res, err = chorus.http.request(args.url)
  if not res then return msg:reply("error: " .. err) end
  local via = res.headers["x-served-by"]
  msg:reply(res.status .. " " .. res.body .. (via and (" via " .. via) or ""))
end)

-- !encode TEXT and !query: the URL helpers.
chorus.command("encode", { args = { { name = "text", type = "rest" } } }, function(msg, args)
  msg:reply(chorus.http.urlencode(args.text))
end)
chorus.command("query", function(msg)
  msg:reply(chorus.http.query { q = "São Paulo", n = 3, tag = { "a b", "c&d" }, ok = true })
end)
