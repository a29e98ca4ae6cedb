-- Tests of the webhook example, end to end through chorusd's HTTP listener.
config { secret = "s3cret", channel = "test:alerts" }

local PATH = "/hooks/webhook/notify"

test("a signed POST posts its text to the configured channel", function(t)
  local body = '{"text":"build 42 passed"}'
  local res = t.post(PATH, body, t.sign("s3cret", body))
  t.eq(res.status, 200)
  t.eq(t.room("alerts"):replies(), { "build 42 passed" })
end)

test("a wrong signature, a stale timestamp or no signature gets 401 and posts nothing", function(t)
  local body = '{"text":"let me in"}'
  t.eq(t.post(PATH, body, t.sign("wrong", body)).status, 401)
  t.eq(t.post(PATH, body, t.sign("s3cret", body, math.floor(t.now()) - 3600)).status, 401)
  t.eq(t.post(PATH, body).status, 401)
  t.eq(t.room("alerts"):replies(), {})
end)

test("a body without text gets 400 and usage", function(t)
  local body = '{"message":"hi"}'
  local res = t.post(PATH, body, t.sign("s3cret", body))
  t.eq(res.status, 400)
  t.contains(res.body, '{"text": "..."}')
end)

test("without a secret the plugin registers no route", { config = { channel = "test:alerts" } }, function(t)
  t.eq(t.post(PATH, "{}").status, 404)
end)
