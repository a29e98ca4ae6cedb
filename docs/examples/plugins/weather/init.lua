-- weather: the current weather from an HTTP API, phrased by the persona's
-- model, as a command (!weather Paris) and as a tool models may call.
--
--   plugin "weather" { base_url = "https://backup.weather.example/v1",
--                      http = { "backup.weather.example" } }   -- the operator's own API
local BASE = chorus.config.base_url or "https://api.weather.example/v1"

-- The weather now in CITY: { city, temp, sky } or nil, err.
local function current(city)
  local res, err = chorus.http.request {
    url = BASE .. "/now", query = { q = city, units = "metric" }, timeout = 5,   -- seconds
  }
  if not res then return nil, err end
  if res.status ~= 200 then return nil, "the weather service said HTTP " .. res.status end
  local data = chorus.json.decode(res.body)
  if type(data) ~= "table" or type(data.temp) ~= "number" then return nil, "the weather service sent no temperature" end
  return { city = city, temp = data.temp, sky = data.sky }
end

chorus.tool("weather", {
  description = "The current weather in a city: temperature in °C and the sky.",
  parameters = { type = "object", properties = { city = { type = "string" } }, required = { "city" } },
}, function(args, ctx)
  local now, err = current(tostring(args.city))
  if not now then
    chorus.log.info(("no weather for %s (asked in %s): %s"):format(tostring(args.city), ctx.channel or "?", err))
    return { error = err }
  end
  return now
end)

chorus.command("weather", {
  help = "the weather in a city, e.g. !weather Paris",
  args = { { name = "city", type = "rest" } },
}, function(msg, args)
  local now, err = current(args.city)
  if not now then return msg:reply(("I couldn't get the weather for %s: %s"):format(args.city, err)) end
  -- Stream the decoration first, so what was streamed adds up to the reply.
  msg:stream("☀ ")
  local answer = chorus.model.chat {
    route = msg.persona.model, stream = true, max_tokens = 80,
    messages = {
      { role = "system", content = msg.persona.prompt },
      { role = "user", content = ("In one short sentence, tell %s the weather in %s: %s°C, %s."):format(
          msg.author.name, now.city, now.temp, now.sky or "no report of the sky") },
    },
  }
  msg:reply("☀ " .. (answer and answer.text or ("%s: %s°C"):format(now.city, now.temp)))
end)
