-- The test kit itself: scripted failures, several users at once, skipping.
test("t.model.fail(kind) reaches the plugin as nil, err, kind, without retries eating the next answer", function(t)
  t.model.fail("rate_limit")
  t.model.reply("fine now")
  local ann = t.room("lobby"):user("Ann")
  t.eq(ann:say("!ask one"), { "failed: model default: scripted rate_limit failure (rate_limit)" })
  t.eq(ann:say("!ask two"), { "fine now" })
  t.eq(#t.model.requests(), 2, "the failure was not retried")
end)

test("t.model.fail takes a message too, and a message alone is a server failure", function(t)
  t.model.fail("timeout", "no answer in 30 s")
  t.model.fail("the upstream is down")
  local ann = t.room("lobby"):user("Ann")
  t.eq(ann:say("!ask one"), { "failed: model default: no answer in 30 s (timeout)" })
  t.eq(ann:say("!ask two"), { "failed: model default: the upstream is down (server)" })
end)

test("several users speak at once, in one room and in another", function(t)
  local lobby, garden = t.room("lobby"), t.room("garden")
  local ann, ben, cy = lobby:user("Ann"), lobby:user("Ben"), garden:user("Cy")
  local replies = t.concurrently {
    { ann, "!encode a b" },
    { ben, "!encode c d" },
    { cy, "!shrug" },
    { ann, "!like" },
  }
  t.eq(replies, { { "a%20b" }, { "c%20d" }, { "Sorry, I can't answer right now." }, {} })
  t.eq(lobby:transcript()[1], { "Ann", "!encode a b" })
  t.eq(lobby:transcript()[2], { "Ben", "!encode c d" }, "both were sent before either was answered")
  t.ne(ann.last_id, nil)
end)

test("t.skip reports the test as skipped with its reason", function(t)
  t.skip("needs a real weather key")
  t.fail("not reached")
end)
