'use strict';
// Stories of several bot identities: Aiko and Kenji each have their own
// Discord bot account in the same server. Ann talks to each by mention; each
// answers as its own persona, through its own account, keeps its own memory
// of the channel, and ignores both its own echoed posts and the other bot's.
// Each persona has its own plugins (Kenji cannot run Aiko's quiz) and its own
// plugin settings. The operator sees both accounts in status. The same works
// for Telegram, and config mistakes are named at their line.
const fs = require('node:fs');
const path = require('node:path');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const { test, after } = require('../lib/tap');
const { startFakeDiscord } = require('../lib/fake-discord');
const { startFakeTelegram } = require('../lib/fake-telegram');
const { startStack, AIKO, KENJI } = require('../lib/stack');
const { checkConfig, startChorusd } = require('../lib/chorusd');
const { startRedis } = require('../lib/redis');
const { startFakeOpenAI } = require('../lib/fake-openai');
const { writePlugins } = require('../lib/plugins');
const { luaString, waitFor, httpGet } = require('../lib/util');

const SRCDIR = process.env.CHORUS_SRCDIR ? path.resolve(process.env.CHORUS_SRCDIR) : path.resolve(__dirname, '..', '..');
const CHORUSCTL = process.env.CHORUSCTL || path.join(SRCDIR, 'src', 'chorusctl');

const AIKO_TOKEN = 'MTk4NjIyNDgzNDcxOTI1MjQ4.aiko.discord-token-for-tests';
const KENJI_TOKEN = 'MTk4NjIyNDgzNDcxOTI1MjQ5.kenji.discord-token-for-tests';
const CHANNEL = '100000000000000001';

// The fake model answers as whoever its system prompt says it is.
function speakAsPrompt(fake) {
  fake.respond = (req) => {
    const sys = req.body.messages[0].content;
    const who = (/You are (\w+)/.exec(sys) || [])[1] || 'nobody';
    const last = req.body.messages.filter((m) => m.role === 'user').at(-1);
    const text = typeof last.content === 'string' ? last.content : JSON.stringify(last.content);
    return { content: `${who} says: ${text.split('\n').at(-1).slice(0, 80)}` };
  };
}

const PLUGINS = {
  quiz: {
    init: `chorus.command("quiz", { help = "a quiz question" }, function(msg)
  local answer = msg:ask("QUIZ: what is the capital of Peru?", { timeout = 20 })
  if answer then msg:reply(answer.text:lower():find("lima") and "QUIZ: right!" or "QUIZ: no, Lima") end
end)`,
  },
  weather: {
    init: `chorus.command("weather", { help = "the forecast" }, function(msg)
  msg:reply("WEATHER for " .. msg.persona.name .. " in " .. tostring(msg.config.units))
end)`,
  },
};

// Two Discord bot accounts on one fake Discord, each bound to a persona.
async function twoDiscordBots({ configExtra = '', personas = [AIKO, KENJI] } = {}) {
  const fake = await startFakeDiscord({ token: AIKO_TOKEN, botId: '900000000000000001', botName: 'aiko-bot' });
  after(() => fake.close());
  const kenji = fake.addBot({ token: KENJI_TOKEN, id: '900000000000000002', name: 'kenji-bot' });
  const aiko = fake.bots[0];
  fake.echoToGateway = true;   // each post comes back to every bot, as Discord does
  const account = (name, envName) => `discord ${luaString(name)} { token = env(${luaString(envName)}), api_base = ${luaString(fake.apiBase)}, time_scale = 0.005, persona = ${luaString(name)} }`;
  const dir = writePlugins(PLUGINS);
  const extra = [
    account('aiko', 'AIKO_TOKEN'),
    account('kenji', 'KENJI_TOKEN'),
    `plugins_dir ${luaString(dir)}`,
    'plugin "weather" { units = "imperial" }',
    configExtra,
  ].join('\n');
  const stack = await startStack({
    configOptions: { extra, personas },
    env: { AIKO_TOKEN, KENJI_TOKEN },
    waitReady: false,
  });
  speakAsPrompt(stack.fake);
  await fake.waitForReady(0, 10000, aiko.id);
  await fake.waitForReady(0, 10000, kenji.id);
  return { fake, stack, aiko, kenji };
}

// The reply BOT posted to the user's message M.
const replyFrom = (fake, bot, m, ms = 10000) =>
  fake.waitForMessage((r) => r.author.id === bot.id && r.message_reference && r.message_reference.message_id === m.id, ms);

function chorusctl(stack, ...args) {
  const sock = /admin_socket "([^"]+)"/.exec(stack.config)[1];
  return new Promise((resolve) => {
    execFile(CHORUSCTL, [...args, '--socket', sock], { timeout: 10000, env: { ...process.env, CHORUS_ADMIN_SOCKET: '' } },
      (err, stdout, stderr) => resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr }));
  });
}

test('two bot accounts in one channel: each answers as its persona, through its own account, and ignores both bots', async () => {
  // Both accounts hear each of Ann's six messages: each counts them once, in its own bucket.
  const { fake, stack, aiko, kenji } = await twoDiscordBots({ configExtra: 'flood { user_burst = 6, user_per_s = 3600 }' });

  // Ann asks Aiko; only Aiko's account answers, as Aiko.
  const m1 = fake.mentionBot({ bot: aiko, content: 'what do you like?' });
  const r1 = await replyFrom(fake, aiko, m1);
  assert.match(r1.content, /^Aiko says: .*what do you like\?/);
  const post1 = fake.rest.find((r) => r.route === 'POST /channels/{id}/messages' && r.body && r.body.content === r1.content);
  assert.equal(post1.bot, aiko.id, 'sent with Aiko\'s token');

  // Then Kenji; his reply shows he also heard the first message and stayed quiet (his queue runs in order).
  const m2 = fake.mentionBot({ bot: kenji, content: 'and you?' });
  const r2 = await replyFrom(fake, kenji, m2);
  assert.match(r2.content, /^Kenji says: .*and you\?/);
  const post2 = fake.rest.find((r) => r.route === 'POST /channels/{id}/messages' && r.body && r.body.content === r2.content);
  assert.equal(post2.bot, kenji.id, 'sent with Kenji\'s token');
  // Both posts came back to both bots as MESSAGE_CREATE from a bot: nobody answered an echo.
  const m3 = fake.mentionBot({ bot: aiko, content: 'still there?' });
  await replyFrom(fake, aiko, m3);
  const m4 = fake.mentionBot({ bot: kenji, content: 'and you, still?' });
  await replyFrom(fake, kenji, m4);
  const answered = new Set(fake.posted.map((p) => p.message_reference && p.message_reference.message_id));
  for (const p of fake.posted) assert.ok(!answered.has(p.id), `nobody answered the bot post "${p.content}"`);
  assert.equal(fake.posted.filter((p) => p.author.id === aiko.id).length, 2, 'Aiko answered her two messages only');
  assert.equal(fake.posted.filter((p) => p.author.id === kenji.id).length, 2, 'Kenji answered his two messages only');

  // Each persona remembers only its own conversation in the shared channel.
  const hist = async (who) => (await stack.redis.cmd('LRANGE', `chorus:{discord:${CHANNEL}}:history:${who}`, '0', '-1')).join('\n');
  const aikoMem = await hist('aiko');
  const kenjiMem = await hist('kenji');
  assert.match(aikoMem, /what do you like/);
  assert.doesNotMatch(aikoMem, /and you\?/);
  assert.match(kenjiMem, /and you\?/);
  assert.doesNotMatch(kenjiMem, /what do you like/);

  // The operator sees each account with its readiness and its persona.
  const st = await chorusctl(stack, 'status');
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, /platform\s+discord:aiko\s+ready\s+\d+ connections, speaks as aiko/);
  assert.match(st.stdout, /platform\s+discord:kenji\s+ready\s+\d+ connections, speaks as kenji/);
  const js = JSON.parse((await chorusctl(stack, '--json', 'status')).stdout);
  const names = js.platforms.map((p) => `${p.name}=${p.platform}/${p.identity}/${p.persona}/${p.ready}`).sort();
  assert.ok(names.includes('discord:aiko=discord/aiko/aiko/true'), names.join(' '));
  assert.ok(names.includes('discord:kenji=discord/kenji/kenji/true'), names.join(' '));
  const metrics = await (await fetch(`${stack.chorus.url}/metrics`)).text();
  assert.match(metrics, /chorus_platform_ready\{platform="discord:aiko"\} 1/, 'metrics are labelled per account');

  // A live edit of Aiko reaches her account (the channel names no persona of its own).
  const ed = await chorusctl(stack, 'persona', 'edit', 'aiko', 'prompt', 'You are Aiko, speaking in haiku.');
  assert.equal(ed.code, 0, ed.stderr);
  const m6 = fake.mentionBot({ bot: aiko, content: 'a poem?' });
  await replyFrom(fake, aiko, m6);
  const sys = stack.fake.requests.filter((r) => r.body.messages[0].content.startsWith('You are Aiko')).at(-1).body.messages[0].content;
  assert.match(sys, /^You are Aiko, speaking in haiku\./);

  // The operator gives Kenji's account to a new persona with a reload.
  const moved = stack.config.replace('persona = "kenji" }', 'persona = "haru" }') +
    'persona "haru" { prompt = "You are Haru, a sleepy cat.", model = "default" }\n';
  assert.notEqual(moved, stack.config);
  fs.writeFileSync(stack.chorus.configFile, moved);
  stack.chorus.proc.kill('SIGHUP');
  await stack.chorus.waitForLog(/reload: discord:kenji now speaks as haru/, 5000);
  const m5 = fake.mentionBot({ bot: kenji, content: 'who are you now?' });
  assert.match((await replyFrom(fake, kenji, m5)).content, /^Haru says: /);

  // Both accounts close cleanly on SIGTERM (and, under sanitizers, nothing leaks).
  assert.equal(await stack.chorus.stop('SIGTERM'), 0);
  assert.doesNotMatch(stack.chorus.logText(), /Sanitizer|runtime error/);
});

test('each persona has its own plugins and plugin settings: Kenji cannot run Aiko\'s quiz', async () => {
  const model = await startFakeOpenAI();
  const personaExtra = [
    `model "tooly" { provider = "openai", base_url = ${luaString(model.baseUrl)}, model = "gpt-test", capabilities = { "tools" } }`,
    'persona "aiko" { prompt = "You are Aiko, a cheerful companion.", model = "tooly", plugins = { "chat", "quiz", "weather", "clock" }, plugin_config = { weather = { units = "metric" } } }',
    'persona "kenji" { prompt = "You are Kenji, a calm librarian.", model = "tooly", plugins = { "chat", "weather" } }',
  ];
  const fake = await startFakeDiscord({ token: AIKO_TOKEN, botId: '900000000000000001', botName: 'aiko-bot' });
  after(() => fake.close());
  const kenji = fake.addBot({ token: KENJI_TOKEN, id: '900000000000000002', name: 'kenji-bot' });
  const aiko = fake.bots[0];
  const account = (name, envName) => `discord ${luaString(name)} { token = env(${luaString(envName)}), api_base = ${luaString(fake.apiBase)}, time_scale = 0.005, persona = ${luaString(name)} }`;
  const dir = writePlugins({
    ...PLUGINS,
    clock: { init: 'chorus.tool("clock_time", { description = "the time now", parameters = { type = "object", properties = {} } }, function() return { time = "noon" } end)' },
  });
  const stack = await startStack({
    fake: model,
    configOptions: {
      personas: [],
      extra: [...personaExtra, account('aiko', 'AIKO_TOKEN'), account('kenji', 'KENJI_TOKEN'),
        `plugins_dir ${luaString(dir)}`, 'plugin "weather" { units = "imperial" }'].join('\n'),
    },
    env: { AIKO_TOKEN, KENJI_TOKEN },
    waitReady: false,
  });
  speakAsPrompt(stack.fake);
  await fake.waitForReady(0, 10000, aiko.id);
  await fake.waitForReady(0, 10000, kenji.id);

  const q1 = fake.mentionBot({ bot: aiko, content: '!quiz' });
  assert.match((await replyFrom(fake, aiko, q1)).content, /^QUIZ: /, 'Aiko runs her quiz');
  // Ann's next message answers Aiko's quiz; said to Kenji, Kenji answers it too, each through his own account.
  const ans = fake.mentionBot({ bot: kenji, content: 'Lima?' });
  const right = await fake.waitForMessage((p) => p.author.id === aiko.id && p.content === 'QUIZ: right!');
  assert.equal(right.message_reference.message_id, q1.id, 'the quiz\'s verdict answers the quiz');
  assert.match((await replyFrom(fake, kenji, ans)).content, /^Kenji says: .*Lima\?/);
  const q2 = fake.mentionBot({ bot: kenji, content: '!quiz' });
  const k = await replyFrom(fake, kenji, q2);
  assert.doesNotMatch(k.content, /QUIZ/, 'the quiz is not Kenji\'s: he just chats');
  assert.match(k.content, /^Kenji says: /);

  // The weather plugin reads the persona's settings over the plugin's own.
  const w1 = fake.mentionBot({ bot: aiko, content: '!weather' });
  assert.equal((await replyFrom(fake, aiko, w1)).content, 'WEATHER for aiko in metric');
  const w2 = fake.mentionBot({ bot: kenji, content: '!weather' });
  assert.equal((await replyFrom(fake, kenji, w2)).content, 'WEATHER for kenji in imperial');

  // Models are offered only the tools of the speaker's plugins.
  const toolsOffered = (who) => {
    const req = model.requests.filter((r) => r.body.messages[0].content.startsWith(`You are ${who}`)).at(-1);
    return (req.body.tools || []).map((t) => t.function.name);
  };
  const c1 = fake.mentionBot({ bot: aiko, content: 'what time is it?' });
  await replyFrom(fake, aiko, c1);
  assert.ok(toolsOffered('Aiko').includes('clock_time'), `Aiko's model sees her clock (${toolsOffered('Aiko')})`);
  const c2 = fake.mentionBot({ bot: kenji, content: 'what time is it?' });
  await replyFrom(fake, kenji, c2);
  assert.ok(!toolsOffered('Kenji').includes('clock_time'), `Kenji's model is not offered Aiko's clock (${toolsOffered('Kenji')})`);
});

test('with reply = "auto", a question follows up whoever spoke last to Ann, not the other bot', async () => {
  const persona = (p) => `persona ${luaString(p.name)} { prompt = ${luaString(p.prompt)}, model = "default", reply = "auto", followup_ms = 600000, reply_cooldown_ms = 0 }`;
  const { fake, aiko, kenji } = await twoDiscordBots({ personas: [], configExtra: [persona(AIKO), persona(KENJI)].join('\n') });
  const m1 = fake.mentionBot({ bot: aiko, content: 'hi Aiko, shall we plan the picnic?' });
  await replyFrom(fake, aiko, m1);
  // Not addressed to anyone: a question right after Aiko spoke is for Aiko.
  const q = fake.messageCreate({ content: 'what should we bring?' });
  const r = await fake.waitForMessage((p) => p.message_reference && p.message_reference.message_id === q.id);
  assert.equal(r.author.id, aiko.id, 'Aiko follows up her own conversation');
  assert.match(r.content, /^Aiko says: /);
  // Kenji's next answer comes after his turn on the question: he stayed quiet on it.
  const m2 = fake.mentionBot({ bot: kenji, content: 'Kenji, any book for the picnic?' });
  await replyFrom(fake, kenji, m2);
  const onQ = fake.posted.filter((p) => p.message_reference && p.message_reference.message_id === q.id);
  assert.deepEqual(onQ.map((p) => p.author.id), [aiko.id], 'only Aiko answered the follow-up question');
});

test('the same for Telegram: two bots, each with its own token, answering as their personas', async () => {
  const t1 = await startFakeTelegram({ token: '7012345678:AAH-aiko_Telegram-token-for-tests-01', username: 'aiko_bot', firstName: 'Aiko', timeScale: 0.02 });
  const t2 = await startFakeTelegram({ token: '7012345679:AAH-kenji_Telegram-token-for-tests-2', username: 'kenji_bot', firstName: 'Kenji', timeScale: 0.02 });
  after(() => t1.close());
  after(() => t2.close());
  const bot = (name, fake, envName) => `telegram ${luaString(name)} { token = env(${luaString(envName)}), api_url = ${luaString(fake.apiRoot)}, time_scale = 0.02, persona = ${luaString(name)} }`;
  const stack = await startStack({
    configOptions: { extra: [bot('aiko', t1, 'TG_AIKO'), bot('kenji', t2, 'TG_KENJI')].join('\n') },
    env: { TG_AIKO: t1.token, TG_KENJI: t2.token },
    waitReady: false,
  });
  speakAsPrompt(stack.fake);
  await t1.waitForCall((c) => c.method === 'getUpdates', 10000);
  await t2.waitForCall((c) => c.method === 'getUpdates', 10000);

  // Ann writes to each bot in private; both chats have her user id as their id, as on Telegram.
  const ann1 = t1.user({ first_name: 'Ann' });
  const ann2 = t2.user({ first_name: 'Ann' });
  const a = t1.userSays(ann1, t1.privateChat(ann1), 'hello Aiko');
  const k = t2.userSays(ann2, t2.privateChat(ann2), 'hello Kenji');
  const ra = await t1.waitForSent((s) => s.reply_to === a.message_id, 10000);
  const rk = await t2.waitForSent((s) => s.reply_to === k.message_id, 10000);
  assert.match(ra.text, /^Aiko says: hello Aiko/);
  assert.match(rk.text, /^Kenji says: hello Kenji/);
  assert.equal(t1.sent.filter((s) => /Kenji/.test(s.text)).length, 0, 'Kenji never spoke through Aiko\'s bot');
  assert.equal(t2.sent.filter((s) => /Aiko says/.test(s.text)).length, 0, 'Aiko never spoke through Kenji\'s bot');

  const st = await chorusctl(stack, 'status');
  assert.match(st.stdout, /telegram:aiko\s+ready/);
  assert.match(st.stdout, /telegram:kenji\s+ready/);
});

test('config mistakes about identities are named at their line', async () => {
  const base = [
    'listen "127.0.0.1:0"',
    'persona "aiko" { prompt = "You are Aiko." }',
  ];
  const check = async (lines) => checkConfig(`${[...base, ...lines].join('\n')}\n`, { env: { T1: 'token-one-for-tests', T2: 'token-two-for-tests' } });

  const twoUnnamed = await check(['discord { token = env("T1") }', 'discord { token = env("T2") }']);
  assert.equal(twoUnnamed.code, 1);
  assert.match(twoUnnamed.stderr, /:4: discord is set twice without a name \(first at line 3\); to run several identities, name each one: discord "aiko" \{ \.\.\. \}/);

  const dup = await check(['slack "aiko" { bot_token = "xoxb-1", app_token = "xapp-1" }', 'slack "aiko" { bot_token = "xoxb-2", app_token = "xapp-2" }']);
  assert.equal(dup.code, 1);
  assert.match(dup.stderr, /:4: slack "aiko" is defined twice \(first at line 3\); each identity needs its own name/);

  const unknown = await check(['telegram "kenji" { token = env("T1"), persona = "kenji" }']);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /:3: telegram "kenji" speaks as persona "kenji", which is not defined \(add persona "kenji" \{ \.\.\. \}\)/);

  const badName = await check(['discord "a:b" { token = env("T1") }']);
  assert.match(badName.stderr, /:3: discord "a:b": an identity's name is 1 to 40 characters without ':' or spaces/);

  const badPlugins = await check(['persona "kenji" { prompt = "You are Kenji.", plugin_config = { weather = "metric" } }']);
  assert.match(badPlugins.stderr, /:3: persona "kenji": plugin_config\.weather must be a table/);

  // The unnamed form and named ones side by side are fine, as is a persona on the unnamed one.
  const ok = await check(['discord { token = env("T1"), persona = "aiko" }', 'discord "aiko" { token = env("T2"), persona = "aiko" }']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.ok(!/token-one-for-tests|token-two-for-tests/.test(ok.stdout + ok.stderr + unknown.stderr), 'no token shown');
});

test('scaled out: the gateway holds both accounts, a worker answers as each account\'s persona, and replies leave through the right account', { timeout: 60000 }, async () => {
  const redis = await startRedis();
  const model = await startFakeOpenAI();
  speakAsPrompt(model);
  const fake = await startFakeDiscord({ token: AIKO_TOKEN, botId: '900000000000000001', botName: 'aiko-bot' });
  after(() => fake.close());
  const kenji = fake.addBot({ token: KENJI_TOKEN, id: '900000000000000002', name: 'kenji-bot' });
  const aiko = fake.bots[0];
  fake.echoToGateway = true;
  const q = luaString;
  const account = (name, envName) => `discord ${q(name)} { token = env(${q(envName)}), api_base = ${q(fake.apiBase)}, time_scale = 0.05, persona = ${q(name)} }`;
  const config = [
    'listen "127.0.0.1:0"',
    'admin_socket "off"',
    `redis ${q(redis.url)} { prefix = "ids:", timeout_ms = 3000, reconnect_min_ms = 20, reconnect_max_ms = 200 }`,
    `model "default" { provider = "openai", base_url = ${q(model.baseUrl)}, model = "gpt-test" }`,
    `persona "aiko" { prompt = ${q(AIKO.prompt)}, model = "default" }`,
    `persona "kenji" { prompt = ${q(KENJI.prompt)}, model = "default" }`,
    'default_persona "aiko"',
    account('aiko', 'AIKO_TOKEN'),
    account('kenji', 'KENJI_TOKEN'),
    'scale { partitions = 2, lease_ms = 1500, heartbeat_ms = 200, visibility_timeout_ms = 800, block_ms = 3000 }',
    '',
  ].join('\n');
  const env = { AIKO_TOKEN, KENJI_TOKEN };
  await startChorusd({ config, args: ['--role', 'gateway'], env, readyTimeoutMs: 20000 });
  await fake.waitForReady(0, 20000, aiko.id);
  await fake.waitForReady(0, 20000, kenji.id);
  const worker = await startChorusd({ config, args: ['--role', 'worker'], env, readyTimeoutMs: 20000 });
  await waitFor(async () => (await httpGet(`${worker.url}/readyz`)).status === 200, { timeoutMs: 20000, what: 'the worker to be ready' });

  const m1 = fake.mentionBot({ bot: kenji, content: 'hello from the other side' });
  const r1 = await replyFrom(fake, kenji, m1, 20000);
  assert.match(r1.content, /^Kenji says: .*hello from the other side/);
  const m2 = fake.mentionBot({ bot: aiko, content: 'and hello Aiko' });
  const r2 = await replyFrom(fake, aiko, m2, 20000);
  assert.match(r2.content, /^Aiko says: .*and hello Aiko/);
  // Kenji's reply to m2 would come after his (silent) turn on it: his next answer shows he had none.
  const m3 = fake.mentionBot({ bot: kenji, content: 'one more' });
  await replyFrom(fake, kenji, m3, 20000);
  assert.equal(fake.posted.filter((p) => p.message_reference && p.message_reference.message_id === m2.id).length, 1,
    'only Aiko answered the message for her');
  assert.equal(fake.posted.filter((p) => p.message_reference && p.message_reference.message_id === m1.id).length, 1,
    'only Kenji answered the message for him');
});
