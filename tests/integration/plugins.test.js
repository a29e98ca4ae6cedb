'use strict';
// Stories of plugin authors: the documented examples run as they are, and a
// plugin that throws, loops forever or pokes at the host never takes the
// gateway down; the user still gets exactly one answer.
const fs = require('node:fs');
const path = require('node:path');
const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { startStack } = require('../lib/stack');
const { tempDir, luaString } = require('../lib/util');

const SRCDIR = process.env.CHORUS_SRCDIR ? path.resolve(process.env.CHORUS_SRCDIR) : path.resolve(__dirname, '..', '..');
const EXAMPLES = path.join(SRCDIR, 'docs', 'examples', 'plugins');

// Plugins written for these stories, each misbehaving in its own way.
function writeUnrulyPlugins() {
  const dir = tempDir('chorus-plugins');
  const files = {
    'thrower/init.lua': 'chorus.hear("^!throw", function(msg) error("boom from a plugin") end)\n',
    'looper/init.lua': 'chorus.hear("^!loop", function(msg)\n  while true do pcall(function() while true do end end) end\nend)\n',
    'snoop/init.lua': [
      'chorus.hear("^!snoop", function(msg)',
      '  local found = {}',
      '  for _, name in ipairs({ "io", "debug", "package", "dofile", "loadfile", "require" }) do',
      '    if name == "require" then',
      '      local ok = pcall(require, "../../../etc/passwd")',
      '      if ok then found[#found + 1] = name end',
      '    elseif _G[name] ~= nil then found[#found + 1] = name end',
      '  end',
      '  if os.execute then found[#found + 1] = "os.execute" end',
      '  if getmetatable("") then found[#found + 1] = "string metatable" end',
      '  local ok = load(string.dump and string.dump(function() end) or "\\27Lua")',
      '  if ok then found[#found + 1] = "bytecode" end',
      '  msg:reply(#found == 0 and "sandbox: nothing reachable" or ("sandbox: reached " .. table.concat(found, ",")))',
      'end)',
    ].join('\n') + '\n',
  };
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.join(dir, path.dirname(name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

function stackWithPlugins(dirs) {
  const extra = dirs.map((d) => `plugins_dir ${luaString(d)}`).join('\n') + '\nskills { cpu_ms = 300 }';
  return startStack({ configOptions: { extra } });
}

test('the documented ping example answers "!ping" with "pong"', async () => {
  const stack = await stackWithPlugins([EXAMPLES]);
  const ann = await stack.user('Ann');
  const reply = await ann.replyTo(ann.say('lobby', '!ping'));
  assert.equal(reply.text, 'pong');
  assert.equal(stack.fake.chatRequests().length, 0, 'the model was not asked');
});

test('the roll example uses its own module, and declines what is not a roll', async () => {
  const stack = await stackWithPlugins([EXAMPLES]);
  const ann = await stack.user('Ann');
  const reply = await ann.replyTo(ann.say('lobby', '!roll 3d6'));
  const m = /^Ann rolled (\d+)\+(\d+)\+(\d+) = (\d+)$/.exec(reply.text);
  assert.ok(m, `a dice roll, got ${JSON.stringify(reply.text)}`);
  assert.equal(Number(m[1]) + Number(m[2]) + Number(m[3]), Number(m[4]));
  const declined = await ann.replyTo(ann.say('lobby', '!roll the red carpet'));
  assert.equal(declined.text, 'echo: !roll the red carpet', 'the chat skill answered instead');
});

test('the slow example sleeps without holding up another channel', async () => {
  const stack = await stackWithPlugins([EXAMPLES]);
  const ann = await stack.user('Ann');
  const ben = await stack.user('Ben');
  const t0 = Date.now();
  const slowId = ann.say('garden', '!slow');
  const quick = await ben.replyTo(ben.say('kitchen', 'hi'));
  assert.equal(quick.text, 'echo: hi');
  assert.ok(Date.now() - t0 < 900, 'the other channel answered while the slow one slept');
  const slow = await ann.replyTo(slowId, 5000);
  assert.equal(slow.text, 'echo: Say something calm.');
  assert.ok(Date.now() - t0 >= 1000, 'the slow one really waited a second');
});

test('a plugin that throws gets the user an apology, and the next message is answered', async () => {
  const stack = await stackWithPlugins([writeUnrulyPlugins()]);
  const ann = await stack.user('Ann');
  const id = ann.say('lobby', '!throw');
  const reply = await ann.replyTo(id);
  assert.equal(reply.text, "Sorry, I can't answer right now.");
  await stack.chorus.waitForLog(/boom from a plugin/, 2000);
  assert.equal((await ann.replyTo(ann.say('lobby', 'still there?'))).text, 'echo: still there?');
  assert.equal(ann.answersTo(id).length, 1, 'exactly one answer');
});

test('a plugin that loops forever (even inside pcall) is stopped, and the gateway carries on', async () => {
  const stack = await stackWithPlugins([writeUnrulyPlugins()]);
  const ann = await stack.user('Ann');
  const ben = await stack.user('Ben');
  const id = ann.say('lobby', '!loop');
  const reply = await ann.replyTo(id, 10000);
  assert.equal(reply.text, "Sorry, I can't answer right now.");
  await stack.chorus.waitForLog(/CPU budget/, 2000);
  assert.equal((await ben.replyTo(ben.say('elsewhere', 'hello'))).text, 'echo: hello');
});

test('a plugin cannot reach io, debug, package, os.execute, bytecode or the string metatable', async () => {
  const stack = await stackWithPlugins([writeUnrulyPlugins()]);
  const ann = await stack.user('Ann');
  const reply = await ann.replyTo(ann.say('lobby', '!snoop'));
  assert.equal(reply.text, 'sandbox: nothing reachable');
});

test('a plugin that fails to load stops start-up with its name and line', async () => {
  const dir = tempDir('chorus-badplugin');
  fs.mkdirSync(path.join(dir, 'broken'));
  fs.writeFileSync(path.join(dir, 'broken', 'init.lua'), 'chorus.hear("^x", function(msg)\n  msg:reply("x"\nend)\n');
  const { runWithConfig } = require('../lib/chorusd');
  const { chorusConfig } = require('../lib/stack');
  const config = chorusConfig({ redisUrl: 'redis://127.0.0.1:1/0', modelBaseUrl: 'http://127.0.0.1:1/v1', extra: `plugins_dir ${luaString(dir)}` });
  const res = await runWithConfig(config);
  assert.notEqual(res.code, 0);
  assert.match(res.stderr, /plugin broken failed to load: .*broken\/init\.lua:3:/);
});
