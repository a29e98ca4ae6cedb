-- webhook: an example route. POST /hooks/webhook/notify with a JSON body
-- {"text": "..."}, signed with HMAC-SHA256 (headers X-Chorus-Timestamp and
-- X-Chorus-Signature), posts the text to the configured channel:
--
--   plugin "webhook" { secret = env("WEBHOOK_SECRET"), channel = "webchat:lobby" }
--
-- Without a secret it registers nothing (and says so once in the log).
local secret = chorus.config.secret
if type(secret) ~= "string" or secret == "" then
  chorus.log.info("no secret configured; the /hooks/webhook/notify route is off (set plugin \"webhook\" { secret = ..., channel = ... })")
  return
end

local target = chorus.config.channel or "webchat:lobby"
local platform, channel = tostring(target):match("^([^:]+):(.+)$")
if not platform then
  error("plugin \"webhook\": channel must look like \"webchat:lobby\", not " .. tostring(target))
end

chorus.route("POST", "/notify", { hmac = secret, window = chorus.config.window or 300 }, function(req)
  local body = chorus.json.decode(req.body)
  local text = type(body) == "table" and body.text
  if type(text) ~= "string" or text:match("^%s*$") then
    return 400, "send a JSON body like {\"text\": \"...\"}\n"
  end
  local id, err = chorus.send(platform, channel, text)
  if not id then return 502, "could not post: " .. tostring(err) .. "\n" end
  return 200, "posted\n"
end)
