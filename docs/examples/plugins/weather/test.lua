-- Tests of the weather example: its HTTP API is mocked, the model scripted.
plugins { "../../../../plugins/chat" }

test("!weather reads the API and the persona phrases it, streamed as it ends up", function(t)
  t.http.mock("api.weather.example/v1/now", { body = { temp = 21, sky = "clear" } })
  t.model.reply("It's a clear 21°C in Paris, Ann.")
  local lobby = t.room("lobby")
  local ann = lobby:user("Ann")
  t.eq(ann:say("!weather Paris"), { "☀ It's a clear 21°C in Paris, Ann." })
  t.eq(t.http.requests()[1].url, "https://api.weather.example/v1/now?q=Paris&units=metric")
  t.contains(t.model.last().messages[2].content, "Paris: 21°C, clear")
  t.eq(table.concat(lobby:streamed(ann.last_id)), lobby:last())
end)

test("the model looks the weather up through the tool", function(t)
  t.http.mock("api.weather.example", { body = { temp = -3, sky = "snow" } })
  t.model.tool_call("weather", { city = "Oslo" })
  t.model.reply("It is -3°C and snowing in Oslo.")
  t.eq(t.room("lobby"):user("Ann"):say("how cold is Oslo?"), { "It is -3°C and snowing in Oslo." })
  local last = t.model.last().messages
  t.eq(last[#last].role, "tool")
  t.eq(t.json.decode(last[#last].content), { city = "Oslo", temp = -3, sky = "snow" })
end)

test("a failing or slow weather service gets a plain answer, not a made-up one", function(t)
  t.http.mock("q=Atlantis", { status = 404, body = "no such city" })
  t.http.mock("q=Rome", { timeout = true })      -- as if nothing came within the 5 s timeout
  local ann = t.room("lobby"):user("Ann")
  t.eq(ann:say("!weather Atlantis"), { "I couldn't get the weather for Atlantis: the weather service said HTTP 404" })
  t.eq(ann:say("!weather Rome"), { "I couldn't get the weather for Rome: the request timed out" })
  t.eq(#t.model.requests(), 0, "the model was not asked to make something up")
end)

test("an operator points the plugin at another API and allows its host",
  { config = { base_url = "https://backup.weather.example/v1", http = { "backup.weather.example" } } }, function(t)
  t.http.mock("backup.weather.example", { body = { temp = 30 } })
  t.model.reply("Hot: 30°C.")
  t.eq(t.room("lobby"):user("Ann"):say("!weather Cairo"), { "☀ Hot: 30°C." })
end)
