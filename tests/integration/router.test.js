'use strict';
// Stories of the hybrid router: a cheap model first, a strong one behind
// it, fallbacks on every kind of failure, retries that honour Retry-After,
// a breaker that rests a failing deployment, budgets that refuse before
// money is spent, and accounting that matches what the providers reported.
const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { startRedis } = require('../lib/redis');
const { startFakeOpenAI } = require('../lib/fake-openai');
const { startChorusd } = require('../lib/chorusd');
const { openUser, readHistory } = require('../lib/stack');
const { tempDir, luaString } = require('../lib/util');
const path = require('node:path');

// Two fake providers: a cheap "small" and a strong "large" model.
async function startRouterStack({ route, budgets = '', extra = () => '', persona = 'smart' } = {}) {
  const redis = await startRedis();
  const small = await startFakeOpenAI();
  const large = await startFakeOpenAI();
  small.respond = (req) => (req.body.messages[0].content.startsWith('You check') ? { content: 'YES' } : { content: `small: ${lastUser(req)}` });
  large.respond = (req) => ({ content: `large: ${lastUser(req)}` });
  const q = luaString;
  const config = [
    'listen "127.0.0.1:0"',
    `admin_socket ${q(path.join(tempDir('chorus-admin'), 'admin.sock'))}`,
    `redis ${q(redis.url)} { timeout_ms = 1000, reconnect_min_ms = 20, reconnect_max_ms = 200 }`,
    `model "small" { provider = "openai", base_url = ${q(small.baseUrl)}, model = "small-1", price = { input = 0.15, output = 0.60 }, timeout_ms = 3000 }`,
    `model "large" { provider = "openai", base_url = ${q(large.baseUrl)}, model = "large-1", price = { input = 5, output = 15 }, timeout_ms = 3000 }`,
    extra(small, large),
    route,
    budgets,
    `persona "aiko" { prompt = "You are Aiko.", model = ${q(persona)}, apology = "Sorry!" }`,
  ].join('\n');
  const chorus = await startChorusd({ config });
  return { redis, small, large, chorus, user: (name) => openUser(chorus.wsUrl, name) };
}

function lastUser(req) {
  const m = req.body.messages.filter((x) => x.role === 'user');
  return m.length ? m[m.length - 1].content : '';
}

const chats = (fake) => fake.requests.filter((r) => !r.body.messages[0].content.startsWith('You check'));

test('a fallback route answers from the strong model when the cheap one keeps failing with 500', async () => {
  const s = await startRouterStack({ route: 'route "smart" { kind = "fallback", models = { "small", "large" }, retries = 1, backoff_ms = 10 }' });
  s.small.respond = () => ({ status: 500, body: { error: { message: 'boom' } } });
  const ann = await s.user('Ann');
  const reply = await ann.replyTo(ann.say('lobby', 'hello'));
  assert.equal(reply.text, 'large: hello');
  assert.equal(chats(s.small).length, 2, 'one try and one retry on small');
  const calls = await s.redis.cmd('XRANGE', 'chorus:calls', '-', '+');
  const fields = calls.map(([, kv]) => Object.fromEntries(kv.reduce((a, v, i) => (i % 2 ? a[a.length - 1].push(v) : a.push([v]), a), [])));
  assert.deepEqual(fields.map((f) => `${f.model}:${f.status}`), ['small:server', 'small:server', 'large:ok']);
  assert.equal(fields[2].persona, 'aiko');
  assert.equal(fields[2].channel, 'lobby');
  assert.match(fields[2].decision, /fallback:small -> large/);
});

test('a 429 with Retry-After is retried after the wait; an exhausted quota is never retried', async () => {
  const s = await startRouterStack({ route: 'route "smart" { kind = "fallback", models = { "small", "large" }, retries = 2, backoff_ms = 10 }' });
  let n = 0;
  s.small.respond = (req) => (++n === 1 ? { status: 429, headers: { 'retry-after': '1' }, body: { error: { message: 'slow down' } } } : { content: `small: ${lastUser(req)}` });
  const ann = await s.user('Ann');
  const t0 = Date.now();
  assert.equal((await ann.replyTo(ann.say('lobby', 'hi'), 10000)).text, 'small: hi');
  assert.ok(Date.now() - t0 >= 450, 'it waited for Retry-After (1 s, with jitter down to half)');
  s.small.respond = () => ({ status: 429, body: { error: { message: 'You exceeded your current quota', code: 'insufficient_quota' } } });
  const before = chats(s.small).length;
  assert.equal((await ann.replyTo(ann.say('lobby', 'again'))).text, 'large: again');
  assert.equal(chats(s.small).length - before, 1, 'no retry on an exhausted quota');
});

test('timeouts and malformed bodies fall back too', async () => {
  const s = await startRouterStack({ route: 'route "smart" { kind = "fallback", models = { "small", "large" }, retries = 0 }' });
  s.small.respond = () => ({ raw: '{"choices": [' });
  const ann = await s.user('Ann');
  assert.equal((await ann.replyTo(ann.say('lobby', 'one'))).text, 'large: one');
  s.small.respond = () => ({ delayMs: 5000 });
  assert.equal((await ann.replyTo(ann.say('lobby', 'two'), 10000)).text, 'large: two');
});

test('the breaker rests a deployment after repeated failures', async () => {
  const s = await startRouterStack({ route: 'route "smart" { kind = "fallback", models = { "small", "large" }, retries = 0, breaker_failures = 2, breaker_cooldown_ms = 60000 }' });
  s.small.respond = () => ({ status: 503, body: { error: { message: 'down' } } });
  const ann = await s.user('Ann');
  for (const t of ['a', 'b', 'c', 'd']) assert.equal((await ann.replyTo(ann.say('lobby', t))).text, `large: ${t}`);
  assert.equal(chats(s.small).length, 2, 'after two failures small was not called again');
  await s.chorus.waitForLog(/cooling it down/, 1000);
});

test('a cascade accepts the cheap answer when its check says yes, and escalates when it says no', async () => {
  const s = await startRouterStack({ route: 'route "smart" { kind = "cascade", models = { "small", "large" } }' });
  const ann = await s.user('Ann');
  assert.equal((await ann.replyTo(ann.say('lobby', 'easy one'))).text, 'small: easy one');
  assert.equal(chats(s.large).length, 0);
  s.small.respond = (req) => (req.body.messages[0].content.startsWith('You check') ? { content: 'NO' } : { content: 'small: unsure' });
  assert.equal((await ann.replyTo(ann.say('lobby', 'hard one'))).text, 'large: hard one');
  const turns = await readHistory(s.redis, 'lobby', 'aiko');
  assert.equal(turns.at(-1).model, 'large');
  const calls = await s.redis.cmd('XRANGE', 'chorus:calls', '-', '+');
  const decisions = calls.map(([, kv]) => kv[kv.indexOf('decision') + 1]);
  assert.deepEqual(decisions, [
    'cascade:small', 'cascade:accepted small',
    'cascade:small', 'cascade:small rejected by its check -> large', 'cascade:small rejected by its check -> large',
  ], 'the accounting stream tells the draft, the check and its verdict apart');
});

test('a tiered route sends easy messages to the small model and hard ones to the large', async () => {
  const s = await startRouterStack({ route: 'route "smart" { kind = "tiered", tiers = { easy = "small", hard = "large" } }' });
  const ann = await s.user('Ann');
  assert.match((await ann.replyTo(ann.say('lobby', 'hi there, thanks!'))).text, /^small: /);
  const hard = 'Write a C function that parses an HTTP/1.1 request line, handles malformed input, and explain the time complexity of your approach step by step.';
  assert.match((await ann.replyTo(ann.say('lobby', hard))).text, /^large: /);
});

test('a tiered route with classifier = "label" trusts a tag at the start, and classifies untagged messages itself', async () => {
  const s = await startRouterStack({ route: 'route "smart" { kind = "tiered", classifier = "label", tiers = { easy = "small", hard = "large" } }' });
  const ann = await s.user('Ann');
  assert.match((await ann.replyTo(ann.say('lobby', '[hard] hi'))).text, /^large: /, 'tagged hard');
  const hard = 'Write a C function that parses an HTTP/1.1 request line, handles malformed input, and explain the time complexity of your approach step by step.';
  assert.match((await ann.replyTo(ann.say('lobby', `[easy] ${hard}`))).text, /^small: /, 'tagged easy wins over the classifier');
  assert.match((await ann.replyTo(ann.say('lobby', 'thanks [hard]'))).text, /^small: /, 'a tag in the middle is just text');
  assert.match((await ann.replyTo(ann.say('lobby', hard))).text, /^large: /, 'untagged: the built-in classifier');
});

test('a budget refuses the call before money is spent and tells the user', async () => {
  const s = await startRouterStack({
    route: 'route "smart" { kind = "fixed", model = "large" }',
    budgets: 'budget "guest" { scope = "user", period = "day", money = 0.02, message = "That is all for today, see you tomorrow!" }',
  });
  // Each answer costs 400 x $5 + 600 x $15 per million = 11,000 micro-units.
  s.large.respond = (req) => ({ body: { id: 'x', choices: [{ index: 0, message: { role: 'assistant', content: `large: ${lastUser(req)}` }, finish_reason: 'stop' }], usage: { prompt_tokens: 400, completion_tokens: 600 } } });
  const ann = await s.user('Ann');
  assert.equal((await ann.replyTo(ann.say('lobby', 'first'))).text, 'large: first');
  // 11,000 spent + a worst case of about 15,500 (1,024 output tokens) > 20,000: refused up front.
  assert.equal((await ann.replyTo(ann.say('lobby', 'second'))).text, 'That is all for today, see you tomorrow!');
  assert.equal(chats(s.large).length, 1, 'the refused call never reached the model');
  const events = await s.redis.cmd('XRANGE', 'chorus:events', '-', '+');
  assert.equal(events.length, 1, 'operators see one budget_exhausted event');
  const keys = await s.redis.cmd('KEYS', 'chorus:budget:guest:*:money');
  assert.equal(await s.redis.cmd('GET', keys[0]), '11000', 'the reservation was settled to the real cost');
  const ben = await s.user('Ben');
  assert.equal((await ben.replyTo(ben.say('lobby', 'mine'))).text, 'large: mine', 'another user has their own budget');
});

test('accounting records match the usage the provider reported, and daily totals add up', async () => {
  const s = await startRouterStack({ route: 'route "smart" { kind = "fixed", model = "small" }' });
  s.small.respond = () => ({ body: { id: 'x', choices: [{ index: 0, message: { role: 'assistant', content: 'counted' }, finish_reason: 'stop' }], usage: { prompt_tokens: 1000, completion_tokens: 500 } } });
  const ann = await s.user('Ann');
  await ann.replyTo(ann.say('lobby', 'count me'));
  await ann.replyTo(ann.say('lobby', 'count me again'));
  const calls = await s.redis.cmd('XRANGE', 'chorus:calls', '-', '+');
  const last = Object.fromEntries(calls.at(-1)[1].reduce((a, v, i) => (i % 2 ? a[a.length - 1].push(v) : a.push([v]), a), []));
  assert.deepEqual([last.tokens_in, last.tokens_out, last.cost_micro], ['1000', '500', '450'], '1000 x 0.15 + 500 x 0.60 per million = 450 micro-units');
  const day = new Date().toISOString().slice(0, 10).replace(/-/g, '');
  const usage = await s.redis.cmd('HGETALL', `chorus:usage:${day}:aiko`);
  const u = {};
  for (let i = 0; i < usage.length; i += 2) u[usage[i]] = usage[i + 1];
  assert.deepEqual([u['calls:small'], u['tokens_in:small'], u['cost_micro:small']], ['2', '2000', '900']);
});

test('a web chat client that asks for streaming sees the reply grow, then the one final message', async () => {
  const redis = await startRedis();
  const chorus = await startChorusd({ config: `listen "127.0.0.1:0"\nadmin_socket ${luaString(path.join(tempDir('a'), 's'))}\nredis ${luaString(redis.url)}\npersona "aiko" { prompt = "You are Aiko.", model = "local" }\n` });
  const ann = await openUser(chorus.wsUrl, 'Ann');
  ann.ws.sendJson({ type: 'message', id: 's1', channel: 'lobby', user: { id: 'u1', name: 'Ann' }, text: 'Hello, my name is Ann', stream: true });
  const final = await ann.replyTo('s1');
  const deltas = ann.ws.all.filter((m) => m.type === 'delta' && m.reply_to === 's1');
  assert.ok(deltas.length >= 2, `several deltas, got ${deltas.length}`);
  assert.equal(deltas.map((d) => d.text).join(''), final.text, 'the deltas add up to the final text');
  assert.ok(ann.ws.all.indexOf(deltas.at(-1)) < ann.ws.all.indexOf(final), 'deltas come first');
  const ben = await openUser(chorus.wsUrl, 'Ben');
  ben.say('lobby', 'no streaming for me', 'b1');
  await ben.replyTo('b1');
  assert.equal(ben.ws.all.filter((m) => m.type === 'delta').length, 0, 'a client that did not ask sees no deltas');
});

test('a tool-capable model calls a skill\'s tool; the result goes back as data; the loop has a step limit', async () => {
  const { writePlugins } = require('../lib/plugins');
  const dir = writePlugins({ weather: { init: 'chorus.tool("get_weather", { description = "weather in a city", parameters = { type = "object", properties = { city = { type = "string" } } } }, function(args) return { city = args.city, temp = 21 } end)' } });
  const s = await startRouterStack({
    route: 'route "smart" { kind = "fixed", model = "toolish" }',
    extra: (small) => `model "toolish" { provider = "openai", base_url = ${luaString(small.baseUrl)}, model = "t-1", capabilities = { "tools" } }\nplugins_dir ${luaString(dir)}`,
  });
  const call = { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } };
  s.small.respond = (req) => {
    const last = req.body.messages.at(-1);
    if (last.role === 'tool') return { content: `It is ${JSON.parse(last.content).temp} degrees in ${JSON.parse(last.content).city}.` };
    return { body: { id: 'x', choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [call] }, finish_reason: 'tool_calls' }], usage: { prompt_tokens: 10, completion_tokens: 5 } } };
  };
  const ann = await s.user('Ann');
  assert.equal((await ann.replyTo(ann.say('lobby', 'weather in Paris?'))).text, 'It is 21 degrees in Paris.');
  const first = s.small.requests.at(-2).body;
  assert.equal(first.tools[0].function.name, 'get_weather', 'the tool was offered');
  const second = s.small.requests.at(-1).body.messages;
  assert.equal(second.at(-2).tool_calls[0].id, 'call_1');
  assert.deepEqual([second.at(-1).role, second.at(-1).tool_call_id, JSON.parse(second.at(-1).content)], ['tool', 'call_1', { city: 'Paris', temp: 21 }]);
  s.small.respond = () => ({ body: { id: 'x', choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [call] }, finish_reason: 'tool_calls' }] } });
  const before = s.small.requests.length;
  assert.equal((await ann.replyTo(ann.say('lobby', 'loop forever'))).text, 'Sorry!');
  assert.equal(s.small.requests.length - before, 4, 'the loop stopped after 4 model calls');
  s.small.respond = () => ({ body: { id: 'x', choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [{ ...call, function: { name: 'chorusctl_op', arguments: '{}' } }] }, finish_reason: 'tool_calls' }] } });
  const r = await ann.replyTo(ann.say('lobby', 'make me an admin'));
  assert.equal(r.text, 'Sorry!', 'an unregistered tool name gets nothing but an error as data');
  assert.match(s.small.requests.at(-1).body.messages.at(-1).content, /there is no tool named chorusctl_op/);
});

test('a model without the tools capability never sees tools', async () => {
  const { writePlugins } = require('../lib/plugins');
  const dir = writePlugins({ weather: { init: 'chorus.tool("get_weather", { description = "w" }, function() return 1 end)' } });
  const s = await startRouterStack({ route: 'route "smart" { kind = "fixed", model = "small" }', extra: () => `plugins_dir ${luaString(dir)}` });
  const ann = await s.user('Ann');
  await ann.replyTo(ann.say('lobby', 'hi'));
  assert.equal(s.small.requests.at(-1).body.tools, undefined);
});

test('a route with a response cache answers the same prompt once from the model, then from Redis', async () => {
  const s = await startRouterStack({ route: 'route "smart" { kind = "fixed", model = "large", cache_ttl_s = 60 }' });
  const ann = await s.user('Ann');
  const ann2 = await s.user('Ann');
  assert.equal((await ann.replyTo(ann.say('room-a', 'what is the capital of France?'))).text, 'large: what is the capital of France?');
  assert.equal((await ann2.replyTo(ann2.say('room-b', 'what is the capital of France?'))).text, 'large: what is the capital of France?');
  assert.equal(chats(s.large).length, 1, 'the second identical prompt never reached the model');
  const keys = await s.redis.cmd('KEYS', 'chorus:cache:smart:*');
  assert.equal(keys.length, 1);
  assert.ok(Number(await s.redis.cmd('TTL', keys[0])) > 0, 'cached answers expire');
});
