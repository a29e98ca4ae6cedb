'use strict';
// The quiz plugin of the rich reply stories (tests/integration/rich_*.test.js):
// a card with an embed and buttons, a button handler, an ephemeral answer,
// refusals past the limits, and mention().
const RICH_PLUGINS = {
  quiz: {
    init: `
local function card(msg)
  return {
    text = "Round 1 for " .. msg.author:mention(),
    embed = {
      title = "Capital cities", description = "What is the capital of Norway?", color = 0x3366ff,
      url = "https://example.com/quiz", image = "https://example.com/norway.png", footer = "3 rounds",
      fields = { { name = "Round", value = "1", inline = true }, { name = "Score", value = 0, inline = true } },
    },
    buttons = {
      { label = "Oslo", id = "quiz:oslo" }, { label = "Bergen", id = "quiz:bergen" },
      { label = "Tromsø", id = "quiz:tromso", style = "success" }, { label = "Give up", id = "quiz:giveup", style = "danger" },
      { label = "Hint", id = "quiz:hint", style = "secondary" }, { label = "Rules", url = "https://example.com/rules" },
    },
  }
end
chorus.command("quiz", { help = "a quiz card" }, function(msg) msg:reply(card(msg)) end)
chorus.command("secret", { help = "a whisper" }, function(msg) msg:reply{ text = "only you can see this", ephemeral = true } end)
chorus.button("quiz:*", function(msg)
  local city = msg.button:sub(6)
  msg:reply{ text = (city == "oslo" and "Right, " or "No, ") .. msg.author.name .. ": " .. city:gsub("^%l", string.upper)
    .. " (on message " .. tostring(msg.reply_to) .. ")", ephemeral = true }
end)
chorus.command("toobig", { help = "too many fields" }, function(msg)
  local fields = {}
  for i = 1, 26 do fields[i] = { name = "n" .. i, value = "v" } end
  local ok, err = pcall(msg.reply, msg, { text = "x", embed = { title = "t", fields = fields } })
  msg:reply("refused: " .. tostring(err))
end)
chorus.command("badbutton", { help = "a button with nothing to do" }, function(msg)
  local ok, err = pcall(msg.reply, msg, { buttons = { { label = "Go" } } })
  msg:reply("refused: " .. tostring(err))
end)
chorus.command("long", { help = "texts past the limits" }, function(msg)
  msg:reply{ embed = { title = string.rep("é", 300) }, buttons = { { label = string.rep("b", 100), id = "long" } } }
end)
chorus.command("whoami", { help = "your mention" }, function(msg) msg:reply("you are " .. msg.author:mention()) end)
`,
  },
};

module.exports = { RICH_PLUGINS };
