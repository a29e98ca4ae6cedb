-- ping: "!ping" answers "pong", to check that the bot is alive.
chorus.command("ping", { help = "check that I am listening" }, function(msg)
  msg:reply("pong")
end)
