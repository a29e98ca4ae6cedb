'use strict';
// Stories of a Telegram bot: people write to it in private, in groups (by
// mention, by replying to it, by /command@bot), in forum topics and in a
// channel; it answers each update exactly once across restarts, keeps to
// Telegram's flood limits, waits out 429s, follows a group to its new
// supergroup, skips malformed updates, streams an answer by editing one
// message, and never writes its token into a log line.
const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { startTelegramStack, replyTo, TOKEN } = require('../lib/telegram-stack');
const { startChorusd } = require('../lib/chorusd');
const { writePlugins } = require('../lib/plugins');
const { luaString, waitFor, delay } = require('../lib/util');

const PLUGINS = {
  tools: {
    init: `
chorus.command("roll", { help = "roll a die" }, function(msg) msg:reply("rolled 4 for " .. msg.author.name) end)
chorus.command("Bad-Name", { help = "not a Telegram command name" }, function(msg) msg:reply("no") end)
chorus.command("like", { help = "like the message" }, function(msg)
  local ok = msg:react("👍")
  msg:reply(ok and "liked" or "could not like")
end)
chorus.hear("^where am i", function(msg)
  msg:reply(msg.thread and ("in topic " .. msg.thread .. " of " .. msg.thread_parent) or ("in chat " .. msg.channel))
end)
chorus.hear("^long please", function(msg) msg:reply(string.rep("0123456789 ", 800)) end)
chorus.on("edit", function(msg) msg:reply("edited to: " .. msg.text) end)
chorus.on("reaction", function(msg) msg:reply("saw " .. msg.reaction .. " from " .. msg.author.name) end)`,
  },
  story: {
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
  },
};

async function telegramWithPlugins(opts = {}) {
  const dir = writePlugins(PLUGINS);
  return startTelegramStack({ ...opts, configExtra: `plugins_dir ${luaString(dir)}\nskills { cpu_ms = 300, deadline_ms = 5000 }\n${opts.configExtra || ''}` });
}

test('Ann writes to the bot in private and gets one answer, as a reply, from the model', async () => {
  const { fake } = await startTelegramStack();
  const ann = fake.user({ first_name: 'Ann', username: 'ann_reads' });
  const dm = fake.privateChat(ann);
  const m = fake.userSays(ann, dm, 'hello there');
  const reply = await replyTo(fake, m);
  assert.equal(reply.text, 'echo: hello there');
  assert.equal(reply.parse_mode, undefined, 'plain text by default');
  const me = fake.calls.find((c) => c.method === 'getMe');
  assert.ok(me && me.tokenOk, 'getMe with the right token');
  const poll = fake.calls.find((c) => c.method === 'getUpdates');
  assert.equal(poll.params.timeout, 50, 'long polling with a 50 s timeout');
  assert.deepEqual(poll.params.allowed_updates, ['message', 'edited_message', 'channel_post', 'message_reaction']);
  await waitFor(() => fake.updates.length === 0, { what: 'the update to be confirmed' });
  assert.equal(fake.timesDelivered(m), 1, 'handed out once');
  assert.equal(fake.sent.length, 1);
});
