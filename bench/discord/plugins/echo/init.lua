-- echo: the benchmark's skill; answers every message addressed to the bot.
chorus.respond(function(msg)
  msg:reply("echo: " .. msg.text)
end)
