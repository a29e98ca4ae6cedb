-- roll: "!roll 2d6" rolls dice; a handler that declines passes the message on.
local dice = require("dice")   -- plugins/roll/dice.lua, loaded by the sandboxed require

chorus.hear("^!roll", { priority = 10 }, function(msg)
  local count, sides = msg.text:match("^!roll%s+(%d+)d(%d+)")
  if not count then
    return false                -- not ours: the next handler (the chat skill) answers
  end
  local total, rolls = dice.roll(tonumber(count), tonumber(sides))
  msg:reply(("%s rolled %s = %d"):format(msg.author.name, table.concat(rolls, "+"), total))
end)
