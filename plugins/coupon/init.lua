-- coupon: modelled on XiaoIce's Rinna handing out Lawson coupons.
--
-- When someone is clearly happy talking with the persona, it offers them a
-- coupon code (once a day per person). A shop redeems it with a signed
-- webhook, POST /hooks/coupon/redeem {"code": ..., "value": 12.5,
-- "currency": "EUR"}, which records the value in the persona's ledger.
-- The webhook is HMAC-signed with a timestamp window and replays are
-- refused, so nobody can mint ledger value.
--
--   plugin "coupon" { secret = file("coupon.key"), offer = "Here's a little thank-you: %s" }
--
-- Without a secret the plugin does nothing.
local secret = chorus.config.secret
if type(secret) ~= "string" or secret == "" then
  chorus.log.info("no secret configured; coupons are off")
  return
end

local function today()
  return os.date("!%Y%m%d", math.floor(chorus.now()))
end

-- A code nobody can guess from the last one.
local function new_code()
  local t = {}
  for i = 1, 8 do t[i] = string.format("%X", math.random(0, 15)) end
  return "CHORUS-" .. table.concat(t)
end

chorus.after(function(msg)
  if msg.event or msg.text:sub(1, 1) == "!" then return end
  local feel = chorus.sentiment(msg.text)
  if feel.label ~= "happy" and feel.label ~= "excited" then return end
  local user = chorus.state.user(msg)
  if user:get("offered:" .. today()) then return end
  local code = new_code()
  chorus.state:set("code:" .. code, {
    persona = msg.persona.name, user = msg.author.id, channel = msg.channel, issued = chorus.now(),
  }, 30 * 86400)
  user:set("offered:" .. today(), code, 2 * 86400)
  msg:reply(string.format(chorus.config.offer or "You've made my day! Here's a little thank-you: coupon %s", code))
end)

chorus.route("POST", "/redeem", { hmac = secret, window = 300 }, function(req)
  local body = chorus.json.decode(req.body)
  if type(body) ~= "table" or type(body.code) ~= "string" or type(body.value) ~= "number" then
    return 400, { error = "send {\"code\": ..., \"value\": number, \"currency\": ...}" }
  end
  local coupon = chorus.state:get("code:" .. body.code)
  if type(coupon) ~= "table" then return 404, { error = "no such coupon" } end
  if coupon.redeemed then return 409, { error = "already redeemed" } end
  -- Two tills redeeming at the same moment both read "not redeemed": the
  -- claim is one atomic INCR, so exactly one of them gets 1.
  local claims, err = chorus.state:incr("claim:" .. body.code)
  if not claims then return 503, { error = "try again: " .. tostring(err) } end
  if claims ~= 1 then return 409, { error = "already redeemed" } end
  chorus.state:expire("claim:" .. body.code, 30 * 86400)
  coupon.redeemed = chorus.now()
  chorus.state:set("code:" .. body.code, coupon, 30 * 86400)
  chorus.ledger.record { persona = coupon.persona, kind = "coupon", value = body.value,
                         currency = body.currency or "EUR", ref = body.code }
  return 200, { ok = true, persona = coupon.persona, value = body.value }
end)
