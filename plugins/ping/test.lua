-- Tests of the ping plugin, run by `chorus-test plugins/ping`.
test("!ping answers pong", function(t)
  local lobby = t.room("lobby")
  t.eq(lobby:user("Ann"):say("!ping"), { "pong" })
  t.eq(lobby:last_message().persona, "aiko")
end)

test("the pong answers the ping it belongs to", function(t)
  local lobby = t.room("lobby")
  local ann = lobby:user("Ann")
  ann:say("!ping")
  t.eq(lobby:last_message().reply_to, ann.last_id)
end)

test("a word that only starts with ping is not the command", function(t)
  local lobby = t.room("lobby")
  t.eq(lobby:user("Ann"):say("!pingpong"), { "Sorry, I can't answer right now." })
  t.eq(t.room("garden"):replies(), {}, "nothing is said in another room")
end)
