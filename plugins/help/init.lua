-- help: "!help" lists the commands the sender may use, with their help
-- text and usage; "!help name" shows one.
--
-- A command may say who uses it in its spec: `hidden = true` keeps it out
-- of the list, `role = "moderator"` (the least role that may run it, as
-- chorus.command checks it) shows it only to authors with that role or a
-- higher one (msg.author.role), `roles = { "admin", ... }` only to authors
-- holding one of those (msg.author.role, or msg.author.roles where a
-- platform provides them; web chat guests hold none).

local RANK = { user = 0, moderator = 1, admin = 2, owner = 3 }

local function may_use(cmd, msg)
  if cmd.hidden then return false end
  if cmd.role and (RANK[msg.author.role or "user"] or 0) < (RANK[cmd.role] or 0) then return false end
  if type(cmd.roles) ~= "table" or #cmd.roles == 0 then return true end
  local held = { [msg.author.role or "user"] = true }
  for _, r in ipairs(msg.author.roles or {}) do held[r] = true end
  for _, r in ipairs(cmd.roles) do
    if held[r] then return true end
  end
  return false
end

local function line(cmd)
  if cmd.help and cmd.help ~= "" then return cmd.usage .. " - " .. cmd.help end
  return cmd.usage
end

chorus.command("help", {
  help = "list the commands you can use, or show one",
  args = { { name = "command", optional = true } },
}, function(msg, args)
  local commands, prefix = chorus.commands()
  local usable = {}
  for _, cmd in ipairs(commands) do
    if may_use(cmd, msg) then usable[#usable + 1] = cmd end
  end
  if args.command then
    local name = args.command
    if name:sub(1, #prefix) == prefix then name = name:sub(#prefix + 1) end
    for _, cmd in ipairs(usable) do
      if cmd.name == name then
        msg:reply(line(cmd))
        return
      end
    end
    msg:reply(("There is no command %s%s you can use. Say %shelp for the list."):format(prefix, name, prefix))
    return
  end
  local lines = { "Commands you can use:" }
  for _, cmd in ipairs(usable) do lines[#lines + 1] = line(cmd) end
  msg:reply(table.concat(lines, "\n"))
end)
