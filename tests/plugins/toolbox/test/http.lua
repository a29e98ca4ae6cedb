-- Item 7 and t.http.mock: headers, query helpers, timeouts in seconds,
-- the operator's allow-list.
test("a mocked API answers with status, headers and a JSON body", function(t)
  t.http.mock("api.weather.test/v1/now", {
    status = 200, headers = { ["X-RateLimit-Remaining"] = "41" }, body = { temp = 21 },
  })
  t.eq(t.room("lobby"):user("Ann"):say("!weather São Paulo"), { "São Paulo: 21°C (41 calls left)" })
  local req = t.http.requests()[1]
  t.eq(req.method, "GET")
  t.eq(req.url, "https://api.weather.test/v1/now?q=S%C3%A3o%20Paulo&units=metric")
  t.eq(req.headers.Accept, "application/json")
  t.eq(req.timeout, 2, "the timeout is in seconds")
end)

test("a function decides the response from the request", function(t)
  t.http.mock("^https://api%.weather%.test/", function(req)
    if req.url:find("q=Oslo", 1, true) then return { body = '{"temp": -3}', headers = { ["x-ratelimit-remaining"] = "9" } } end
    return { status = 404, body = "no such city" }
  end)
  local lobby = t.room("lobby")
  t.eq(lobby:user("Ann"):say("!weather Oslo"), { "Oslo: -3°C (9 calls left)" })
  t.eq(lobby:user("Ann"):say("!weather Atlantis"), { "weather failed: HTTP 404" })
end)

test("a slow API times out at the plugin's timeout, in seconds", { config = { timeout = 0.2 } }, function(t)
  t.http.mock("api.weather.test", { delay = 5, body = "{}" })
  t.eq(t.room("lobby"):user("Ann"):say("!weather Rome"), { "weather failed: the request timed out" })
  t.eq(t.http.requests()[1].timeout, 0.2, "the plugin's timeout, in seconds")
end)

test("a mocked timeout needs no waiting, and a delay within the limit is waited for", function(t)
  t.http.mock("q=Rome", { timeout = true })
  t.http.mock("q=Nice", { delay = 0.05, body = '{"temp": 18}' })
  local ann = t.room("lobby"):user("Ann")
  t.eq(ann:say("!weather Rome"), { "weather failed: the request timed out" })
  t.eq(ann:say("!weather Nice"), { "Nice: 18°C (? calls left)" })
end)

test("with mocks set, a request no mock matches fails instead of going out", function(t)
  t.http.mock("api.weather.test/v1/now", { body = "{}" })
  t.eq(t.room("lobby"):user("Ann"):say("!fetch https://api.weather.test/v2/other"),
       { "error: no t.http.mock matches GET https://api.weather.test/v2/other" })
end)

test("the manifest's allow-list still applies to mocked requests", function(t)
  t.http.mock("elsewhere.test", { body = "secret" })
  local reply = t.room("lobby"):user("Ann"):say("!fetch https://elsewhere.test/x")[1]
  t.match(reply, "^error: plugin toolbox may not call elsewhere%.test")
  t.eq(#t.http.requests(), 0)
end)

test("an operator extends the allow-list from the config", { config = { http = { "elsewhere.test" } } }, function(t)
  t.http.mock("POST elsewhere.test", { status = 405 })
  t.http.mock("elsewhere.test", { body = "hello" })
  t.eq(t.room("lobby"):user("Ann"):say("!fetch https://elsewhere.test/x"), { "200 hello" })
end)

test("urlencode and query encode as RFC 3986 says", function(t)
  local ann = t.room("lobby"):user("Ann")
  t.eq(ann:say("!encode a b&c=d/é~"), { "a%20b%26c%3Dd%2F%C3%A9~" })
  t.eq(ann:say("!query"), { "n=3&ok=true&q=S%C3%A3o%20Paulo&tag=a%20b&tag=c%26d" })
end)
