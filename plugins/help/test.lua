-- Tests of the help plugin: it lists what other plugins registered.
plugins { "test/fixtures/tools" }

test("!help lists the usable commands with usage and help text, by name", function(t)
  local lobby = t.room("lobby")
  t.eq(lobby:user("Ann"):say("!help"), { table.concat({
    "Commands you can use:",
    "!bare",
    "!help [command] - list the commands you can use, or show one",
    "!roll <count:integer> [label] - roll dice",
  }, "\n") })
end)

test("hidden commands and commands for roles the sender lacks are left out", function(t)
  local text = t.room("lobby"):user("Ann"):say("!help")[1]
  t.ok(not text:find("secret", 1, true), "the hidden command is not listed")
  t.ok(not text:find("shutdown", 1, true), "the admin command is not listed for a user without roles")
end)

test("a command for moderators is listed for moderators and up (msg.author.role)", function(t)
  local lobby = t.room("lobby")
  t.ok(not lobby:user("Ann"):say("!help")[1]:find("!ban", 1, true), "not for a user")
  t.contains(lobby:user("Mo", { role = "moderator" }):say("!help")[1], "!ban <who> - ban someone")
  local admin = lobby:user("Ad", { role = "admin" }):say("!help")[1]
  t.contains(admin, "!ban <who> - ban someone")
  t.contains(admin, "!shutdown - stop the bot", "roles = {\"admin\"} is met by the admin role")
end)

test("!help roll shows one command, with or without the prefix", function(t)
  local ann = t.room("lobby"):user("Ann")
  t.eq(ann:say("!help roll"), { "!roll <count:integer> [label] - roll dice" })
  t.eq(ann:say("!help !roll"), { "!roll <count:integer> [label] - roll dice" })
end)

test("!help of an unknown or hidden command says so", function(t)
  local ann = t.room("lobby"):user("Ann")
  t.eq(ann:say("!help nope"), { "There is no command !nope you can use. Say !help for the list." })
  t.eq(ann:say("!help secret"), { "There is no command !secret you can use. Say !help for the list." })
end)
