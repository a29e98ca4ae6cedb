-- Item 5: tools get the asking message as ctx; streaming.
test("a tool the model calls reads the conversation it was called from", function(t)
  t.model.tool_call("recall", {})
  t.model.reply("You asked what you said.")
  local lobby = t.room("lobby")
  t.eq(lobby:user("Ann"):say("!ask what did I say?"), { "You asked what you said." })
  local requests = t.model.requests()
  t.eq(#requests, 2, "one request with the tools, one with the tool's result")
  t.eq(requests[1].tools[1]["function"].name, "recall", "tools = \"auto\" offered the registered tool")
  local second = requests[2].messages
  t.eq(second[#second - 1].role, "assistant")
  t.eq(second[#second - 1].tool_calls[1]["function"].name, "recall")
  local result = second[#second]
  t.eq(result.role, "tool")
  t.eq(result.tool_call_id, second[#second - 1].tool_calls[1].id)
  local seen = t.json.decode(result.content)
  t.eq(seen, { channel = "lobby", platform = "test", persona = "aiko", author = "Ann", turns = 1,
               last = "what did I say?" })
end)

test("another channel's tool call sees that channel", function(t)
  t.model.tool_call("recall", {})
  t.model.reply("ok")
  t.room("garden"):user("Ben"):say("!ask hello garden")
  local seen = t.json.decode(t.model.last().messages[4].content)
  t.eq(seen.channel, "garden")
  t.eq(seen.author, "Ben")
end)

test("a scripted call of a tool the request did not offer fails like a real model would", function(t)
  t.model.tool_call("no_such_tool", {})
  local reply = t.room("lobby"):user("Ann"):say("!ask hi")[1]
  t.match(reply, "^failed: model default: the scripted model was to call tool \"no_such_tool\"")
  t.contains(reply, "(bad_request)")
end)

test("a stream callback gets the answer in pieces, which add up to the text", function(t)
  t.model.reply("sunny and warm")
  t.eq(t.room("lobby"):user("Ann"):say("!pieces"), { "sunny |and |warm" })
end)

test("stream = true shows the reply growing; a decorated reply streams its decoration too", function(t)
  t.model.reply("rain later")
  local lobby = t.room("lobby")
  local ann = lobby:user("Ann")
  t.eq(ann:say("!forecast"), { "Forecast: rain later" })
  t.eq(lobby:streamed(ann.last_id), { "Forecast: ", "rain ", "later" })
  t.eq(table.concat(lobby:streamed()), lobby:last(), "what was streamed is what the final reply says")
end)
