-- Tests of the coupon plugin: an offer when a conversation goes well (once a
-- day per person), and a signed webhook that redeems a code exactly once.
plugins { "chat" }
config { secret = "shop-secret", offer = "A thank-you from me: %s" }

local HAPPY = "I love talking with you, this is wonderful, thank you!"

-- Say something happy and return the code offered.
local function offered(t, user)
  t.model.reply("I'm glad!")
  local replies = user:say(HAPPY)
  t.eq(replies[1], "I'm glad!", "the chat skill answered first")
  t.eq(#replies, 2, "then came the offer")
  local code = replies[2]:match("^A thank%-you from me: (CHORUS%-%x+)$")
  t.ok(code, "an offer with a code, got " .. tostring(replies[2]))
  return code
end

-- POST the redemption of CODE, signed with SECRET. Each request names its
-- own till, so no two bodies (and no two signatures) are ever the same: the
-- webhook refuses a replayed signature before the plugin sees it, and a
-- timestamp alone would repeat when the clock ticks between two calls.
local tills = 0
local function redeem(t, code, value, secret)
  tills = tills + 1
  local body = t.json.encode({ code = code, value = value or 12.5, currency = "EUR", till = tills })
  return t.post("/hooks/coupon/redeem", body, t.sign(secret or "shop-secret", body))
end

test("a happy conversation gets a coupon, once a day per person", function(t)
  local lobby = t.room("lobby")
  local ann = lobby:user("Ann")
  local code = offered(t, ann)
  t.model.reply("Me too!")
  t.eq(ann:say(HAPPY), { "Me too!" }, "no second offer the same day")
  local ben_code = offered(t, lobby:user("Ben"))
  t.ne(ben_code, code, "each person gets a code of their own")
  t.advance("1d")
  t.ne(offered(t, ann), code, "a new day, a new coupon")
end)

test("a neutral message, or a command, gets no offer", function(t)
  t.model.reply("It is Tuesday.")
  local ann = t.room("lobby"):user("Ann")
  t.eq(ann:say("what day is it"), { "It is Tuesday." })
  t.eq(ann:say("!wonderful I love this"), { "Sorry, I can't answer right now." })
  t.eq(#t.redis("KEYS", "chorus-test:*coupon:code:*"), 0)
end)

test("a signed redemption records the value in the persona's ledger, once", function(t)
  local code = offered(t, t.room("lobby"):user("Ann"))
  local res = redeem(t, code, 12.5)
  t.eq(res.status, 200, res.body)
  t.eq(t.json.decode(res.body), { ok = true, persona = "aiko", value = 12.5 })
  t.eq(t.redis("XLEN", "chorus-test:outcomes"), 1, "one outcome recorded")
  local body = t.json.encode({ code = code, value = 12.5, currency = "EUR" })
  local headers = t.sign("shop-secret", body)
  t.eq(t.post("/hooks/coupon/redeem", body, headers).status, 409, "a second shop's redemption")
  t.eq(t.post("/hooks/coupon/redeem", body, headers).status, 401, "a replayed request")
  local again = redeem(t, code, 12.5)
  t.eq(again.status, 409)
  t.eq(t.json.decode(again.body), { error = "already redeemed" })
  t.eq(t.redis("XLEN", "chorus-test:outcomes"), 1, "the replay recorded nothing")
end)

test("two redemptions of one code at the same moment: only one counts", function(t)
  local code = offered(t, t.room("lobby"):user("Ann"))
  local body = t.json.encode({ code = code, value = 30, currency = "EUR" })
  local reqs = {}
  for i = 1, 3 do   -- three tills, each signing its own request
    reqs[i] = { method = "POST", path = "/hooks/coupon/redeem", body = body,
                headers = t.sign("shop-secret", body, math.floor(t.now()) - i) }
  end
  local results = t.http.all(reqs)
  local statuses = {}
  for _, r in ipairs(results) do statuses[#statuses + 1] = r.status end
  table.sort(statuses)
  t.eq(statuses, { 200, 409, 409 })
  t.eq(t.redis("XLEN", "chorus-test:outcomes"), 1, "the value was recorded once")
end)

test("a forged, unknown or malformed redemption is refused", function(t)
  local code = offered(t, t.room("lobby"):user("Ann"))
  t.eq(redeem(t, code, 1000, "guessed-secret").status, 401, "a wrong signature")
  local body = t.json.encode({ code = code, value = 5 })
  t.eq(t.post("/hooks/coupon/redeem", body).status, 401, "no signature")
  local old = t.sign("shop-secret", body, math.floor(t.now()) - 3600)
  t.eq(t.post("/hooks/coupon/redeem", body, old).status, 401, "a signature from an hour ago")
  t.eq(redeem(t, "CHORUS-00000000").status, 404, "an unknown code")
  local bad = '{"code": 42}'
  t.eq(t.post("/hooks/coupon/redeem", bad, t.sign("shop-secret", bad)).status, 400, "a malformed body")
  t.eq(t.redis("EXISTS", "chorus-test:outcomes"), 0, "nothing was recorded")
end)

test("without a secret the plugin stays off", { config = {} }, function(t)
  t.model.reply("I'm glad!")
  t.eq(t.room("lobby"):user("Ann"):say(HAPPY), { "I'm glad!" })
  local body = '{"code": "CHORUS-00000000", "value": 1}'
  t.eq(t.post("/hooks/coupon/redeem", body, t.sign("", body)).status, 404, "no route")
end)
