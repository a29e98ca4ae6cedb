-- Item 6: handled means handled; middleware drops silently.
local APOLOGY = "Sorry, I can't answer right now."

test("a handler that reacts has answered: no apology", function(t)
  local lobby = t.room("lobby")
  t.eq(lobby:user("Ann"):say("!like"), {})
  t.eq(lobby:transcript(), { { "Ann", "!like" }, { "*reaction*", "+1" } })
end)

test("a handler that returns true has handled the message: no apology", function(t)
  local lobby = t.room("lobby")
  t.eq(lobby:user("Ann"):say("!noted"), {})
  local keys = t.redis("KEYS", "chorus-test:*:plugin:toolbox:noted")
  t.eq(#keys, 1, "the handler ran")
  t.eq(t.redis("GET", keys[1]), "1")
end)

test("a handler that neither replies, reacts nor returns true gets the apology", function(t)
  t.eq(t.room("lobby"):user("Ann"):say("!shrug"), { APOLOGY })
end)

test("a message nobody takes gets the apology only when it was addressed to the persona", function(t)
  local lobby = t.room("lobby")
  t.eq(lobby:user("Ann"):say("!nothing-here"), { APOLOGY })
  t.eq(lobby:user("Ann"):say("!nothing-here", { direct = false }), {})
end)

test("a chorus.before returning false drops the message silently", function(t)
  t.model.reply("should not be asked")
  local lobby = t.room("lobby")
  t.eq(lobby:user("Ann"):say("I love durian"), {})
  t.eq(#t.model.requests(), 0, "no handler ran")
  t.eq(lobby:transcript(), { { "Ann", "I love durian" } })
end)
