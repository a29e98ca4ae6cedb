-- echo: the benchmark's skill; answers every message from a non-bot author
-- (the adapter already drops bots' messages) with "echo: <content>".
chorus.hear(".", function(msg)
  msg:reply("echo: " .. msg.text)
end)
