'use strict';
// Stories of a Discord bot people use with slash commands, reactions and
// edits: a slash command runs a skill and its answer arrives as the
// follow-up, the operators' commands keep their roles, the registered list
// matches the skills, reactions and edits reach chorus.on handlers, and a
// streamed answer grows in one message instead of many.
const fs = require('node:fs');
const path = require('node:path');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const { test } = require('../lib/tap');
const { startDiscordStack, replyTo } = require('../lib/discord-stack');
const { writePlugins, storyPlugin } = require('../lib/plugins');
const { luaString, waitFor, delay } = require('../lib/util');

const SRCDIR = process.env.CHORUS_SRCDIR ? path.resolve(process.env.CHORUS_SRCDIR) : path.resolve(__dirname, '..', '..');
const CHORUSCTL = process.env.CHORUSCTL || path.join(SRCDIR, 'src', 'chorusctl');
const ANN = '700000000000000001';

const PLUGINS = {
  weather: {
    init: `
chorus.command("weather", { help = "the weather in a city", args = { { name = "city" }, { name = "when", optional = true } } },
  function(msg, args) msg:reply("weather in " .. args.city .. (args.when and (" " .. args.when) or "") .. " for " .. msg.author.name) end)
chorus.command("Shout", { help = "not a name Discord accepts" }, function(msg) msg:reply("SHOUT") end)
chorus.command("like", { help = "like the message" }, function(msg)
  local ok = msg:react("❤️")
  msg:reply(ok and "liked" or "could not like")
end)`,
  },
  watcher: {
    init: `
chorus.on("reaction", function(msg) msg:reply("saw " .. msg.reaction .. " from " .. msg.author.name .. " on " .. msg.id) end)
chorus.on("edit", function(msg) msg:reply("edited to: " .. msg.text) end)
chorus.hear("^where am i", function(msg)
  msg:reply(msg.thread and ("in thread " .. msg.thread .. " of " .. msg.thread_parent) or ("in channel " .. msg.channel))
end)
chorus.hear("pizza", function(msg) msg:reply("I love pizza too, " .. msg.author.name .. (msg.direct and " (to me)" or "")) end)`,
  },
  story: storyPlugin,
};

async function discordWithPlugins(opts = {}) {
  const dir = writePlugins(PLUGINS);
  const stack = await startDiscordStack({ ...opts, configExtra: `plugins_dir ${luaString(dir)}\nskills { cpu_ms = 300, deadline_ms = 5000 }` });
  return { ...stack, pluginsDir: dir };
}

function ctl(stack, args) {
  const sock = /admin_socket "([^"]+)"/.exec(stack.config)[1];
  return new Promise((resolve) => {
    execFile(CHORUSCTL, ['--socket', sock, ...args], { timeout: 10000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr }));
  });
}

test('a slash command is deferred at once, runs the skill command, and the answer arrives as the follow-up', async () => {
  const { fake } = await discordWithPlugins();
  const it = fake.interaction({ name: 'weather', options: [{ name: 'when', value: 'tomorrow' }, { name: 'city', value: 'Paris' }] });
  const answer = await fake.waitForFollowup((f) => f.interaction === it.id, 10000);
  assert.equal(answer.kind, 'original', 'the first reply edits the deferred response');
  assert.equal(answer.content, 'weather in Paris tomorrow for Ann', 'arguments in the declared order, author from member.user');
  assert.deepEqual(answer.body.allowed_mentions, { parse: [] });
  const cb = fake.callbacks.find((c) => c.id === it.id);
  assert.ok(cb && cb.type === 5, 'answered with a deferred response (type 5)');
  assert.ok(cb.late < 3000, `deferred within 3 s (${cb.late} ms)`);
  assert.ok(cb.at <= answer.at, 'the deferral came before the follow-up');
  assert.equal(fake.posted.length, 0, 'nothing was posted in the channel');
  const calls = fake.rest.filter((r) => r.path.includes(it.token));
  assert.ok(calls.length >= 2 && calls.every((r) => r.status < 400), 'the interaction calls succeeded');
  const spaced = fake.interaction({ name: 'weather', options: [{ name: 'city', value: 'New York' }, { name: 'when', value: 'next week' }] });
  const whole = await fake.waitForFollowup((f) => f.interaction === spaced.id, 10000);
  assert.equal(whole.content, 'weather in New York next week for Ann', 'an option with spaces stays one argument');
});

test('/chorus status is refused for a user without a role and allowed once an operator grants one', async () => {
  const { fake, stack } = await discordWithPlugins();
  const first = fake.interaction({ name: 'chorus', options: [{ name: 'command', value: 'status' }] });
  const refused = await fake.waitForFollowup((f) => f.interaction === first.id, 10000);
  assert.match(refused.content, /needs the moderator role; you are user/);
  assert.equal((await ctl(stack, ['op', `discord:${ANN}`, 'moderator'])).code, 0);
  const second = fake.interaction({ name: 'chorus', options: [{ name: 'command', value: 'status' }] });
  const allowed = await fake.waitForFollowup((f) => f.interaction === second.id, 10000);
  assert.match(allowed.content, /^chorusd .*redis up/);
  assert.match(allowed.content, /platform discord: ready/);
});

test('the registered slash commands are the skills\' commands plus /chorus; invalid names are skipped and logged', async () => {
  const { fake, chorus } = await discordWithPlugins();
  await waitFor(() => fake.commandPuts.length > 0, { what: 'the bulk overwrite' });
  assert.equal(fake.commandPuts[0].guild, null, 'global commands by default');
  const byName = Object.fromEntries(fake.commands.map((c) => [c.name, c]));
  // The test's plugins and the shipped ones (help, ping, remind, trivia), less "Shout".
  assert.deepEqual(Object.keys(byName).sort(), ['chorus', 'help', 'like', 'ping', 'remind', 'reminders', 'story', 'trivia', 'weather']);
  assert.deepEqual(byName.remind.options.map((o) => [o.name, o.required]), [['when', true], ['what', false]], 'a rest argument is not required');
  assert.equal(byName.weather.description, 'the weather in a city');
  assert.deepEqual(byName.weather.options.map((o) => [o.name, o.type, o.required]), [['city', 3, true], ['when', 3, false]]);
  assert.deepEqual(byName.chorus.options.map((o) => [o.name, o.type, o.required]), [['command', 3, true]]);
  for (const c of fake.commands) {
    assert.match(c.name, /^[a-z0-9_-]{1,32}$/);
    assert.ok([...c.description].length >= 1 && [...c.description].length <= 100);
  }
  await chorus.waitForLog(/command "Shout" is not a valid slash command name/, 2000);
});

test('a plugin reload that adds a command registers the new list once; a reload that changes nothing sends nothing', async () => {
  const { fake, stack, pluginsDir } = await discordWithPlugins();
  await waitFor(() => fake.commandPuts.length > 0, { what: 'the first bulk overwrite' });
  assert.equal((await ctl(stack, ['plugins', 'reload', 'weather'])).code, 0);
  await delay(300);
  assert.equal(fake.commandPuts.length, 1, 'the same list is not registered twice');
  const init = path.join(pluginsDir, 'weather', 'init.lua');
  fs.appendFileSync(init, '\nchorus.command("forecast", { help = "three days ahead" }, function(msg) msg:reply("sunny") end)\n');
  const reload = await ctl(stack, ['plugins', 'reload', 'weather']);
  assert.equal(reload.code, 0, reload.stderr);
  await waitFor(() => fake.commandPuts.length === 2, { what: 'the second bulk overwrite' });
  assert.ok(fake.commands.some((c) => c.name === 'forecast'), 'the new command is registered');
  assert.ok(fake.commands.some((c) => c.name === 'weather'), 'the old ones stay');
});

test('in a guild, people use prefix commands and hear handlers without mentioning the bot, and chatter gets no answer', async () => {
  const { fake } = await discordWithPlugins();
  const cmd = fake.messageCreate({ content: '!weather Oslo' });
  assert.equal((await replyTo(fake, cmd)).content, 'weather in Oslo for Ann');
  const heard = fake.messageCreate({ content: 'who wants pizza tonight?' });
  assert.equal((await replyTo(fake, heard)).content, 'I love pizza too, Ann');
  const chatter = fake.messageCreate({ content: 'see you all tomorrow' });
  const mention = fake.mentionBot({ content: 'and pizza for you?' });
  assert.equal((await replyTo(fake, mention)).content, 'I love pizza too, Ann (to me)');
  await delay(300);
  assert.equal(fake.posted.filter((p) => p.message_reference && p.message_reference.message_id === chatter.id).length, 0,
    'no chat answer and no apology for a message not meant for the bot');
});

test('a message in a thread says which thread and which channel it belongs to', async () => {
  const { fake } = await discordWithPlugins();
  const plain = fake.messageCreate({ content: 'where am i?' });
  assert.equal((await replyTo(fake, plain)).content, 'in channel 100000000000000001');
  fake.dispatch('THREAD_CREATE', { id: '300000000000000001', guild_id: '200000000000000001', parent_id: '100000000000000001', type: 11, name: 'planning', newly_created: true }, 0);
  const inThread = fake.messageCreate({ channel_id: '300000000000000001', content: 'where am i now?' });
  assert.equal((await replyTo(fake, inThread)).content, 'in thread 300000000000000001 of 100000000000000001');
  fake.dispatch('THREAD_DELETE', { id: '300000000000000001', guild_id: '200000000000000001', parent_id: '100000000000000001', type: 11 }, 0);
  const after = fake.messageCreate({ channel_id: '300000000000000001', content: 'where am i after?' });
  assert.equal((await replyTo(fake, after)).content, 'in channel 300000000000000001', 'a deleted thread is forgotten');
});

test('with messages = "addressed" the bot sees only DMs, mentions and replies to it', async () => {
  const { fake } = await discordWithPlugins({ discordExtra: 'messages = "addressed"' });
  const ignored = fake.messageCreate({ content: '!weather Oslo' });
  const mention = fake.mentionBot({ content: '!weather Rome' });
  assert.equal((await replyTo(fake, mention)).content, 'weather in Rome for Ann');
  const dm = fake.messageCreate({ dm: true, content: '!weather Lima' });
  assert.equal((await replyTo(fake, dm)).content, 'weather in Lima for Ann');
  await delay(300);
  assert.equal(fake.posted.filter((p) => p.message_reference && p.message_reference.message_id === ignored.id).length, 0);
});

test('with guild_id the commands go to that guild (instant updates)', async () => {
  const { fake } = await discordWithPlugins({ discordExtra: 'guild_id = "200000000000000001"' });
  await waitFor(() => fake.commandPuts.length > 0, { what: 'the bulk overwrite' });
  assert.equal(fake.commandPuts[0].guild, '200000000000000001');
  assert.ok(fake.rest.some((r) => r.route === 'PUT /applications/{id}/guilds/{id}/commands' && r.status === 200));
});

test('a reaction and an edit reach chorus.on handlers; msg:react puts a URL-encoded emoji', async () => {
  const { fake } = await discordWithPlugins();
  const m = fake.mentionBot({ content: '!like' });
  assert.equal((await replyTo(fake, m)).content, 'liked');
  const r = await waitFor(() => fake.reactions.find((x) => x.message_id === m.id), { what: 'the reaction' });
  assert.equal(r.emoji, '❤️');
  assert.match(r.raw, /^(%[0-9A-F]{2})+$/, 'the emoji is URL-encoded in the path');
  fake.reactionAdd({ message_id: m.id, emoji: '🎉' });
  const saw = await fake.waitForMessage((p) => p.content.startsWith('saw '), 10000);
  assert.equal(saw.content, `saw 🎉 from Ann on ${m.id}`);
  fake.reactionAdd({ message_id: m.id, emoji: '🤖', user: { id: fake.botId, username: fake.botName, bot: true } });
  fake.messageUpdate({ id: m.id, content: 'changed my mind' });
  fake.messageUpdate({ id: m.id, content: 'an embed unfurled', edited: false });
  const edited = await fake.waitForMessage((p) => p.content.startsWith('edited to: '), 10000);
  assert.equal(edited.content, 'edited to: changed my mind');
  await delay(300);
  assert.equal(fake.posted.filter((p) => p.content.startsWith('saw ')).length, 1, 'the bot\'s own reaction is no event');
  assert.equal(fake.posted.filter((p) => p.content.startsWith('edited to: ')).length, 1, 'an update without an edit time is no event');
});

test('a streamed answer is one message, edited at most once per throttle interval, ending in the final text', async () => {
  // time_scale 0.2: one edit per 200 ms per message.
  const { fake } = await discordWithPlugins({ timeScale: 0.2 });
  const m = fake.mentionBot({ content: '!story' });
  const first = await replyTo(fake, m, 10000);
  const done = await waitFor(() => (first.content.endsWith(' THE END') ? first : null), { timeoutMs: 10000, what: 'the final text' });
  await delay(400);
  const posts = fake.posted.filter((p) => p.channel_id === m.channel_id);
  assert.equal(posts.length, 1, `one POST (got ${posts.map((p) => JSON.stringify(p.content)).join(', ')})`);
  const edits = fake.edits.filter((e) => e.message_id === done.id);
  assert.ok(edits.length >= 2, `the message grew by edits (${edits.length})`);
  assert.ok(edits[edits.length - 1].content.endsWith(' THE END'), 'the last edit is the final text');
  const times = [posts[0].at, ...edits.map((e) => e.at)];
  for (let i = 1; i < times.length; i++) assert.ok(times[i] - times[i - 1] >= 150, `edits spaced by the throttle (${times.join(', ')})`);
  assert.equal(fake.rest.filter((r) => r.status === 429).length, 0, 'no 429');
});

test('a slash command whose answer streams shows it growing in the deferred response, then the final text', async () => {
  const { fake } = await discordWithPlugins({ timeScale: 0.2 });
  const it = fake.interaction({ name: 'story' });
  const final = await fake.waitForFollowup((f) => f.interaction === it.id && f.content.endsWith(' THE END'), 10000);
  await delay(300);
  const mine = fake.followups.filter((f) => f.interaction === it.id);
  assert.ok(mine.every((f) => f.kind === 'original'), 'every edit went to @original; no extra follow-up messages');
  assert.ok(mine.length >= 3, `the answer grew in several edits (${mine.length})`);
  assert.equal(mine.at(-1), final, 'the final text is the last edit');
  for (const f of mine.slice(0, -1)) assert.ok(final.content.startsWith(f.content), `a draft is a prefix of the answer: ${JSON.stringify(f.content)}`);
  assert.equal(fake.posted.length, 0, 'nothing was posted in the channel');
  assert.equal(fake.rest.filter((r) => r.status === 429).length, 0, 'no 429');
});

// Payloads as another gateway or REST server (a proxy, a Discord-compatible
// server) may write them: with whitespace and the keys in another order
// ("t" after "d", "s" last). The bot's own posts come back on the gateway
// and mention pizza, which the hear handler answers: a loop would show.
for (const [name, jsonStyle] of [['pretty-printed', { pretty: true }], ['with ": " separators and keys in reverse order', { spaced: true, reorder: true }],
  ['pretty-printed with keys in reverse order', { pretty: true, reorder: true }]]) {
  test(`gateway and REST JSON ${name}: each person answered once, the bot's own posts never, streamed edits patch the right message`, async () => {
    const { fake } = await discordWithPlugins({ timeScale: 0.2, fakeOptions: { jsonStyle } });
    fake.echoToGateway = true;
    const ask = fake.mentionBot({ content: 'do you like pizza?' });
    const first = await replyTo(fake, ask);
    assert.ok(/pizza/.test(first.content), first.content);
    const dm = fake.messageCreate({ dm: true, channel_id: '300000000000000001', content: 'pizza in private' });
    await replyTo(fake, dm);
    // Another person's message that mentions the bot has "bot": true in it
    // too (in mentions), and is still a person's.
    const bob = { id: '700000000000000002', username: 'bob', global_name: 'Bob' };
    const withBot = fake.mentionBot({ content: 'and me?', author: bob });
    await replyTo(fake, withBot);
    const story = fake.mentionBot({ content: '!story' });
    const told = await replyTo(fake, story, 10000);
    await waitFor(() => told.content.endsWith(' THE END'), { timeoutMs: 10000, what: 'the final text' });
    const edits = fake.edits.filter((e) => e.channel_id === story.channel_id && e.at >= told.at);
    assert.ok(edits.length >= 1 && edits.every((e) => e.message_id === told.id), 'every edit patched the message the POST answer named');
    assert.equal(fake.rest.filter((r) => r.status === 404).length, 0, 'no PATCH of an unknown message');
    // Per channel, messages are answered in order: once this one is, the
    // echoes before it have been read.
    const marker = fake.mentionBot({ content: 'last one' });
    await replyTo(fake, marker);
    const dmMarker = fake.messageCreate({ dm: true, channel_id: '300000000000000001', content: 'last in private' });
    await replyTo(fake, dmMarker);
    const botPosts = new Set(fake.posted.map((p) => p.id));
    assert.ok(!fake.posted.some((p) => p.message_reference && botPosts.has(p.message_reference.message_id)), 'no answer to the bot\'s own post');
    for (const m of [dm, withBot, story, marker, dmMarker]) {
      const n = fake.posted.filter((p) => p.message_reference && p.message_reference.message_id === m.id).length;
      assert.ok(n >= 1, `"${m.content}" answered`);
    }
    const fromModel = fake.posted.filter((p) => /^echo: /.test(p.content));
    assert.equal(new Set(fromModel.map((p) => p.message_reference.message_id)).size, fromModel.length, 'each person answered by the model once');
    assert.equal(fake.posted.filter((p) => /I love pizza too, chorus-bot/.test(p.content)).length, 0, 'the hear handler never heard the bot');
    assert.equal(fake.posted.filter((p) => /I love pizza too/.test(p.content)).length, 2, 'only the two people who said pizza were answered by it');
    assert.deepEqual(fake.violations, []);
  });
}
