-- dice.lua: a module of the roll plugin.
local M = {}

function M.roll(count, sides)
  count = math.min(math.max(count, 1), 20)
  sides = math.min(math.max(sides, 2), 1000)
  local rolls, total = {}, 0
  for i = 1, count do
    rolls[i] = math.random(sides)
    total = total + rolls[i]
  end
  return total, rolls
end

return M
