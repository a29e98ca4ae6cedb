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
const { writePlugins, storyPlugin } = require('../lib/plugins');
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
  story: storyPlugin,
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
  assert.deepEqual(poll.params.allowed_updates, ['message', 'edited_message', 'channel_post', 'message_reaction', 'callback_query']);
  await waitFor(() => fake.updates.length === 0, { what: 'the update to be confirmed' });
  assert.equal(fake.timesDelivered(m), 1, 'handed out once');
  assert.equal(fake.sent.length, 1);
});

test('in a group the bot answers a mention, a reply to it and /command@bot, and nothing else', async () => {
  const { fake } = await telegramWithPlugins();
  const ann = fake.user({ first_name: 'Ann', last_name: 'Lee' });
  const group = fake.supergroup('Readers');
  const chatter = fake.userSays(ann, group, 'just talking among ourselves');
  const mention = fake.userSays(ann, group, `@${fake.username} what do you think?`);
  const r1 = await replyTo(fake, mention);
  assert.equal(r1.text, 'echo: what do you think?', 'the mention is dropped from the text');
  const reply = fake.userSays(ann, group, 'and another thing', { reply_to: r1.message_id });
  const r2 = await replyTo(fake, reply);
  assert.equal(r2.text, 'echo: and another thing');
  const cmd = fake.userSays(ann, group, `/roll@${fake.username}`);
  const r3 = await replyTo(fake, cmd);
  assert.equal(r3.text, 'rolled 4 for Ann Lee', '/roll@bot runs the skill command roll');
  const other = fake.userSays(ann, group, '/roll@some_other_bot');
  const plain = fake.userSays(ann, group, '/roll');
  const r4 = await replyTo(fake, plain);
  assert.equal(r4.text, 'rolled 4 for Ann Lee', 'a bare /roll is the command too');
  await delay(300);
  assert.equal(fake.sent.filter((s) => s.reply_to === chatter.message_id).length, 0, 'chatter is not answered');
  assert.equal(fake.sent.filter((s) => s.reply_to === other.message_id).length, 0, 'a command for another bot is not ours');
  const bot = fake.user({ first_name: 'Other', username: 'other_helper_bot', is_bot: true });
  const fromBot = fake.userSays(bot, group, `@${fake.username} hello bot`);
  await delay(300);
  assert.equal(fake.sent.filter((s) => s.reply_to === fromBot.message_id).length, 0, 'other bots are ignored');
  for (const s of fake.sent) assert.deepEqual(s.reply_to_message && s.reply_to_message.chat.id, group.id);
});

test('in a forum topic the answer goes to the same topic, and a channel post by mention is answered in the channel', async () => {
  const { fake } = await telegramWithPlugins();
  const ann = fake.user({ first_name: 'Ann' });
  const forum = fake.supergroup('Clubs', { forum: true });
  const topic = fake.topic(forum, 'Sci-fi');
  const m = fake.userSays(ann, forum, `@${fake.username} where am i`, { thread: topic });
  const r = await replyTo(fake, m);
  assert.equal(r.thread, topic, 'sent with message_thread_id of the topic');
  assert.equal(r.text, `in topic ${forum.id}/${topic} of ${forum.id}`);
  const channel = fake.channel('Daily news');
  const post = fake.channelPost(channel, `Morning! @${fake.username} say hi`);
  const rp = await replyTo(fake, post);
  assert.equal(rp.text, 'echo: Morning! @chorus_test_bot say hi');
  const ask = fake.userSays(ann, forum, `@${fake.username} recommend a book`, { thread: topic });
  const answer = await replyTo(fake, ask);
  assert.equal(answer.thread, topic);
  assert.equal(answer.text, 'echo: recommend a book');
  const act = fake.actions.find((a) => a.chat_id === forum.id);
  assert.ok(act && act.action === 'typing' && act.thread === topic, 'typing shown in the topic');
});

test('the skills\' commands are registered with setMyCommands, with /chorus; invalid names are left out', async () => {
  const { fake } = await telegramWithPlugins();
  await fake.waitFor('setMyCommands', () => fake.commands);
  const names = fake.commands.map((c) => c.command);
  assert.ok(names.includes('roll') && names.includes('story') && names.includes('chorus'), names.join(','));
  assert.ok(!names.some((n) => /bad/i.test(n)), 'Bad-Name is not a Telegram command name');
  assert.equal(fake.commands.find((c) => c.command === 'roll').description, 'roll a die');
});

test('a long answer is split at 4096 UTF-16 units, the first piece replying; reactions and edits reach handlers', async () => {
  const { fake } = await telegramWithPlugins();
  const ann = fake.user({ first_name: 'Ann' });
  const dm = fake.privateChat(ann);
  const m = fake.userSays(ann, dm, 'long please');
  const first = await replyTo(fake, m);
  await fake.waitForSent((s) => s.chat_id === dm.id && s.message_id === first.message_id + 2);
  const pieces = fake.sent.filter((s) => s.chat_id === dm.id);
  assert.equal(pieces.length, 3, '8800 characters in three messages');
  assert.ok(pieces.every((p) => p.text.length <= 4096));
  assert.equal(pieces.map((p) => p.text).join(' ').replace(/\s+/g, ' ').trim(), '0123456789 '.repeat(800).trim());
  assert.equal(pieces[1].reply_to, undefined, 'only the first piece is a reply');
  const like = fake.userSays(ann, dm, '/like');
  assert.equal((await replyTo(fake, like)).text, 'liked');
  assert.deepEqual(fake.reactions.at(-1).reaction, [{ type: 'emoji', emoji: '👍' }]);
  fake.react(ann, m, '🔥');
  await fake.waitForSent((s) => s.text === 'saw 🔥 from Ann');
  fake.editMessage(m, 'long please, but shorter');
  await fake.waitForSent((s) => s.text === 'edited to: long please, but shorter');
});

test('a streamed answer is one message, edited while it grows, ending in the final text', async () => {
  const { fake } = await telegramWithPlugins({ timeScale: 0.1 });
  const ann = fake.user({ first_name: 'Ann' });
  const dm = fake.privateChat(ann);
  const m = fake.userSays(ann, dm, '/story');
  const first = await replyTo(fake, m);
  await waitFor(() => first.text.endsWith(' THE END'), { timeoutMs: 10000, what: 'the final text' });
  await delay(300);
  assert.equal(fake.sent.filter((s) => s.chat_id === dm.id).length, 1, 'one sendMessage');
  const edits = fake.edits.filter((e) => e.message_id === first.message_id);
  assert.ok(edits.length >= 2, `the message grew by edits (${edits.length})`);
  assert.ok(edits.at(-1).text.endsWith(' THE END'));
  for (let i = 1; i < edits.length; i++) assert.ok(edits[i].at - edits[i - 1].at >= 120, 'edits throttled (1.5 s scaled)');
  assert.deepEqual(fake.violations, []);
});

test('replies keep to 1 message/s per chat and 20/min per group; a 429 is waited out; nothing is lost', async () => {
  const { fake } = await telegramWithPlugins();
  const ann = fake.user({ first_name: 'Ann' });
  const group = fake.supergroup('Busy');
  const dm = fake.privateChat(ann);
  const asks = [];
  for (let i = 0; i < 26; i++) asks.push(fake.userSays(ann, group, `@${fake.username} number ${i}`));
  fake.force429.push({ method: 'sendMessage', retryAfter: 2 });
  const d = fake.userSays(ann, dm, 'in private');
  for (const m of [...asks, d]) await replyTo(fake, m, 20000);
  assert.equal(fake.sent.filter((s) => s.chat_id === group.id).length, 26, 'every message answered once');
  assert.deepEqual(fake.violations, [], 'no flood limit was broken');
  const refused = fake.calls.find((c) => c.status === 429);
  const next = fake.calls.find((c) => c.method === 'sendMessage' && c.at > refused.at && c.params.chat_id === refused.params.chat_id);
  assert.ok(next.at - refused.at >= 2 * 20 * 0.9, `waited retry_after (2 x 20 ms scaled): ${next.at - refused.at} ms`);
  const times = fake.calls.filter((c) => c.method === 'sendMessage' && c.status === 200 && c.params.chat_id === group.id).map((c) => c.at);
  assert.ok(times[20] - times[0] >= 60000 * 0.02 * 0.9, 'the 21st group message waited for the minute (scaled) to pass');
});

test('a group upgraded to a supergroup: the answer follows migrate_to_chat_id', async () => {
  const { fake } = await startTelegramStack();
  const ann = fake.user({ first_name: 'Ann' });
  const group = fake.group('Old group');
  const m = fake.userSays(ann, group, `@${fake.username} hi`);
  await replyTo(fake, m);
  const sg = fake.migrate(group);
  const m2 = fake.userSays(ann, group, `@${fake.username} are you there?`);
  const r = await fake.waitForSent((s) => s.chat_id === sg.id);
  assert.equal(r.text, 'echo: are you there?');
  assert.ok(fake.calls.some((c) => c.method === 'sendMessage' && c.status === 400 && /upgraded/.test(c.error)), 'the old id was refused');
  assert.ok(m2);
});

test('after the upgrade, every later answer for the old group goes straight to the supergroup, typing too', async () => {
  const { fake, chorus } = await startTelegramStack();
  const ann = fake.user({ first_name: 'Ann' });
  const bob = fake.user({ first_name: 'Bob' });
  const group = fake.group('Old group');
  await replyTo(fake, fake.userSays(ann, group, `@${fake.username} hi`));
  const sg = fake.migrate(group);
  // A message written just before the upgrade, answered after it.
  const late = fake.userSays(ann, group, `@${fake.username} one more`);
  const moved = await fake.waitForSent((s) => s.chat_id === sg.id && s.text === 'echo: one more');
  assert.equal(moved.reply_to, undefined, 'the replied-to message stayed in the old chat: sent without the reply');
  await chorus.waitForLog(new RegExp(`telegram: chat ${group.id} was upgraded to supergroup ${sg.id}`));
  const refusedAt = fake.calls.filter((c) => c.status === 400).map((c) => c.at);
  assert.ok(refusedAt.length >= 1, 'the old id was refused once');
  const learned = Math.max(...refusedAt);
  // Bob's message was queued under the old id too: no call tries it again.
  const bobs = fake.userSays(bob, group, `@${fake.username} and me?`);
  const toBob = await fake.waitForSent((s) => s.chat_id === sg.id && s.text === 'echo: and me?');
  assert.ok(toBob);
  const after = fake.calls.filter((c) => c.at > learned && c.params && String(c.params.chat_id) === String(group.id));
  assert.deepEqual(after.map((c) => c.method), [], 'nothing more was sent to the old id');
  assert.equal(fake.calls.filter((c) => c.status === 400).length, refusedAt.length, 'no new refusal');
  // In the supergroup itself people are answered as usual.
  const there = fake.userSays(ann, sg, `@${fake.username} in the new place`);
  assert.equal((await replyTo(fake, there)).text, 'echo: in the new place');
  for (const m of [late, bobs]) assert.equal(fake.sent.filter((s) => s.text === `echo: ${m.text.replace(/^@\S+ /, '')}`).length, 1, 'answered once');
  assert.deepEqual(fake.violations, [], JSON.stringify(fake.violations));
});

test('the supergroup is busy already when an answer for the old group learns of the upgrade: one chat, one pace', async () => {
  const { fake, chorus } = await startTelegramStack();
  const ann = fake.user({ first_name: 'Ann' });
  const group = fake.group('Old group');
  await replyTo(fake, fake.userSays(ann, group, `@${fake.username} hi`));
  const sg = fake.migrate(group);
  // People talk in the supergroup first; then answers for the old group come.
  const inNew = [];
  for (let i = 0; i < 3; i++) inNew.push(fake.userSays(ann, sg, `@${fake.username} new ${i}`));
  await replyTo(fake, inNew[0]);
  const old = [];
  for (let i = 0; i < 3; i++) old.push(fake.userSays(ann, group, `@${fake.username} old ${i}`));
  for (let i = 0; i < 3; i++) inNew.push(fake.userSays(ann, sg, `@${fake.username} new ${i + 3}`));
  for (const m of inNew) await replyTo(fake, m);
  for (const m of old) await fake.waitForSent((s) => s.chat_id === sg.id && s.text === `echo: ${m.text.replace(/^@\S+ /, '')}`);
  await chorus.waitForLog(/was upgraded to supergroup/);
  assert.equal(fake.sent.filter((s) => s.chat_id === sg.id).length, 9, 'each of the nine answered once, in the supergroup');
  assert.deepEqual(fake.violations, [], JSON.stringify(fake.violations));
});

// Answers as another Bot API server (a local telegram-bot-api, a proxy) may
// write them: with whitespace and the keys in another order.
for (const [name, jsonStyle] of [['pretty-printed', { pretty: true }], ['with ": " separators and keys in reverse order', { spaced: true, reorder: true }]]) {
  test(`Bot API answers ${name}: every update is answered once, and a streamed answer edits its own message`, async () => {
    const { fake } = await telegramWithPlugins({ timeScale: 0.1, fakeOptions: { jsonStyle } });
    const ann = fake.user({ first_name: 'Ann' });
    const dm = fake.privateChat(ann);
    const group = fake.supergroup('Spaced');
    const asks = [fake.userSays(ann, dm, 'one'), fake.userSays(ann, group, `@${fake.username} two`), fake.userSays(ann, dm, 'three')];
    for (const m of asks) await replyTo(fake, m);
    const toBot = await replyTo(fake, asks[1]);
    const follow = fake.userSays(ann, group, 'replying to the bot', { reply_to: toBot });
    assert.equal((await replyTo(fake, follow)).text, 'echo: replying to the bot');
    const story = fake.userSays(ann, dm, '/story');
    const first = await replyTo(fake, story);
    await waitFor(() => first.text.endsWith(' THE END'), { timeoutMs: 10000, what: 'the final text' });
    const edits = fake.edits.filter((e) => e.chat_id === dm.id);
    assert.ok(edits.length >= 1 && edits.every((e) => e.message_id === first.message_id), 'every edit patched the message the answer named');
    assert.ok(!fake.calls.some((c) => c.method === 'editMessageText' && c.status !== 200), 'no edit missed');
    await waitFor(() => fake.updates.length === 0, { what: 'every update confirmed' });
    for (const m of [...asks, follow, story]) {
      assert.equal(fake.timesDelivered(m), 1, `"${m.text}" handed out once`);
      assert.equal(fake.sent.filter((s) => s.chat_id === m.chat.id && s.reply_to === m.message_id).length, 1, `"${m.text}" answered once`);
    }
    assert.deepEqual(fake.violations, []);
  });
}

test('malformed updates are logged and skipped; the ones after them are answered', async () => {
  const { fake, chorus } = await startTelegramStack();
  const ann = fake.user({ first_name: 'Ann' });
  const dm = fake.privateChat(ann);
  fake.pushUpdate({ message: { text: 'no chat and no id' } });
  fake.pushUpdate({ message: { message_id: 3, chat: { id: dm.id, type: 'private' }, from: ann, date: 1, text: 42 } });
  fake.pushUpdate({ message: 'not an object' });
  fake.pushUpdate({ poll_answer: { poll_id: 'x' }, surprise: true });
  fake.pushUpdate({ message: { message_id: 4, chat: { id: dm.id, type: 'private' }, date: 1, text: 'no sender' } });
  const m = fake.userSays(ann, dm, 'still there?');
  assert.equal((await replyTo(fake, m)).text, 'echo: still there?');
  await chorus.waitForLog(/update \d+ is malformed/);
  await waitFor(() => fake.updates.length === 0, { what: 'every update confirmed' });
  assert.equal(fake.sent.length, 1, 'only the good message was answered');
});

test('a restart mid-stream neither loses nor repeats an update (the offset is kept in Redis)', async () => {
  const { fake, stack, chorus } = await startTelegramStack();
  const people = ['Ann', 'Bob', 'Cy'].map((n) => fake.user({ first_name: n }));
  const chats = people.map((p) => fake.privateChat(p));
  const asked = [];
  const say = (i) => asked.push(fake.userSays(people[i % 3], chats[i % 3], `question ${i}`));
  for (let i = 0; i < 12; i++) say(i);
  await replyTo(fake, asked[2]);
  const stopping = chorus.stop('SIGTERM');
  for (let i = 12; i < 24; i++) { say(i); await delay(5); }
  await stopping;
  // Even if Telegram never got the confirmations, the stored offset says
  // where to go on from.
  fake.unconfirm();
  assert.ok(fake.updates.length >= 12, 'Telegram would hand out the taken updates again');
  for (let i = 24; i < 30; i++) say(i);
  const key = `chorus:telegram:${TOKEN.split(':')[0]}:offset`;
  const stored = Number(await stack.redis.cmd('GET', key));
  assert.ok(stored > asked[0].message_id, `an offset was stored (${stored})`);
  const again = await startChorusd({ config: stack.config, env: { TELEGRAM_TOKEN: TOKEN } });
  for (const m of asked) await replyTo(fake, m, 15000);
  await delay(500);
  for (const m of asked) {
    const n = fake.sent.filter((s) => s.chat_id === m.chat.id && s.reply_to === m.message_id).length;
    assert.equal(n, 1, `"${m.text}" answered exactly once (${n})`);
  }
  assert.ok(again.logs().some((l) => /resuming at update \d+/.test(l)), 'the second run resumed from the stored offset');
  await waitFor(() => fake.updates.length === 0, { what: 'every update confirmed' });
});

test('the token is in every URL, but never in a log line, even when a call fails', async () => {
  const { fake, chorus } = await startTelegramStack({ logLevel: 'debug' });
  const ann = fake.user({ first_name: 'Ann' });
  const dm = fake.privateChat(ann);
  fake.failNext.push({ method: 'sendMessage', code: 400, description: `Bad Request: chat not found for bot${TOKEN}` });
  const m = fake.userSays(ann, dm, 'hi');
  await fake.waitForCall((c) => c.method === 'sendMessage' && c.status === 400);
  await chorus.waitForLog(/sendMessage to .*: Telegram refused/);
  fake.dropConnections();
  const m2 = fake.userSays(ann, dm, 'hi again');
  await replyTo(fake, m2, 15000);
  assert.ok(m);
  const logs = chorus.logs().join('\n');
  assert.ok(fake.calls.every((c) => c.path.includes(TOKEN)), 'the token is part of every method URL');
  assert.ok(!logs.includes(TOKEN) && !logs.includes(TOKEN.split(':')[1]), 'no log line holds the token');
});

test('webhook mode: setWebhook with a secret token; requests without it are refused; updates are answered once', async () => {
  const { freePort, httpRequest } = require('../lib/util');
  const port = await freePort();
  const secret = 'hook_Secret-123';
  const { fake, chorus } = await startTelegramStack({
    telegramExtra: `webhook = { url = "http://127.0.0.1:${port}/tg/hook", secret = env("TG_HOOK_SECRET"), path = "/tg/hook" }`,
    listen: `127.0.0.1:${port}`,
    env: { TG_HOOK_SECRET: secret },
  });
  const set = fake.calls.find((c) => c.method === 'setWebhook');
  assert.equal(set.params.secret_token, secret);
  assert.equal(set.params.url, `http://127.0.0.1:${port}/tg/hook`);
  const ann = fake.user({ first_name: 'Ann' });
  const dm = fake.privateChat(ann);
  const m = fake.userSays(ann, dm, 'via webhook');
  assert.equal((await replyTo(fake, m)).text, 'echo: via webhook');
  const forged = await httpRequest(`${chorus.url}/tg/hook`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': 'wrong' }, body: JSON.stringify({ update_id: 1, message: m }) });
  assert.equal(forged.status, 401);
  const replay = await httpRequest(`${chorus.url}/tg/hook`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': secret }, body: JSON.stringify(fake.webhookDeliveries.length && { update_id: fake.webhookDeliveries[0].update_id, message: m }) });
  assert.equal(replay.status, 200);
  await delay(300);
  assert.equal(fake.sent.filter((s) => s.reply_to === m.message_id).length, 1, 'a repeated update is answered once');
  assert.ok(!chorus.logs().join('\n').includes(secret), 'the secret is never logged');
});
