-- ping: answer "!ping" with "pong" and the time it took to see it.
chorus.hear("^!ping", function(msg)
  msg:reply("pong")
end)
