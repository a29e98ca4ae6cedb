'use strict';
// Write plugins for a story into a temp folder:
//   const dir = writePlugins({ greeter: { init: 'chorus.on("join", ...)', manifest: { state: true } } });
// `manifest` lists permissions ({ model, state, http: [hosts] }); omit it for none.
const fs = require('node:fs');
const path = require('node:path');
const { tempDir, luaString } = require('./util');

function manifestText(name, perms) {
  const parts = [];
  if (perms.model) parts.push('model = true');
  if (perms.state) parts.push('state = true');
  if (perms.http) parts.push(`http = { ${perms.http.map(luaString).join(', ')} }`);
  return `return { name = ${luaString(name)}, version = "0.0.1", permissions = { ${parts.join(', ')} } }\n`;
}

function writePlugins(plugins, dir = tempDir('chorus-plugins')) {
  for (const [name, p] of Object.entries(plugins)) {
    const pdir = path.join(dir, name);
    fs.mkdirSync(pdir, { recursive: true });
    fs.writeFileSync(path.join(pdir, 'init.lua'), p.init);
    if (p.manifest) fs.writeFileSync(path.join(pdir, 'manifest.lua'), manifestText(name, p.manifest));
    for (const [file, text] of Object.entries(p.files || {})) fs.writeFileSync(path.join(pdir, file), text);
  }
  return dir;
}

// A command that streams four model answers and then replies: the fixture
// of the streamed-reply stories on every platform.
const storyPlugin = {
  manifest: { model: true },
  init: `
chorus.command("story", { help = "a story told in four parts" }, function(msg)
  local parts = {}
  for i = 1, 4 do
    local answer = chorus.model.chat { route = "local", messages = { { role = "user", content = "hello" } }, stream = true }
    parts[#parts + 1] = answer.text
    chorus.sleep(0.25)
  end
  msg:reply(table.concat(parts) .. " THE END")
end)`,
};

module.exports = { writePlugins, storyPlugin };
