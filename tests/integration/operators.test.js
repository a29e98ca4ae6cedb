'use strict';
// Stories of operators running Chorus: roles checked in C for every
// command, the same commands from chat and from chorusctl, bans, mutes,
// live persona edits, skills turned off per channel, live quotas, say and
// broadcast, forgetting a user, the audit trail and the persona ledger.
const fs = require('node:fs');
const path = require('node:path');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const { test } = require('../lib/tap');
const { startStack } = require('../lib/stack');
const { writePlugins } = require('../lib/plugins');
const { luaString } = require('../lib/util');

const SRCDIR = process.env.CHORUS_SRCDIR ? path.resolve(process.env.CHORUS_SRCDIR) : path.resolve(__dirname, '..', '..');
const CHORUSCTL = process.env.CHORUSCTL || path.join(SRCDIR, 'src', 'chorusctl');

function ctl(stack, args, env = {}) {
  const sock = /admin_socket "([^"]+)"/.exec(stack.config)[1];
  return new Promise((resolve) => {
    execFile(CHORUSCTL, ['--socket', sock, ...args], { timeout: 10000, env: { ...process.env, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr }));
  });
}

async function operatorStack(extra = '') {
  const dir = writePlugins({
    shop: { manifest: { state: true }, init: 'chorus.command("buy", function(msg) chorus.ledger.record{ kind = "coupon", value = 12.5, currency = "EUR", ref = "C-42" } msg:reply("enjoy") end)' },
  });
  return startStack({ configOptions: { extra: `plugins_dir ${luaString(dir)}\nledger { share = 0.15, currency = "EUR" }\n${extra}` } });
}

async function guestId(stack, channel = 'lobby') {
  const turn = JSON.parse((await stack.redis.cmd('LRANGE', `chorus:{webchat:${channel}}:history:aiko`, '0', '0'))[0]);
  return `webchat:${turn.user}`;
}

test('a web chat guest can ask for help but is refused anything more, and the refusal is audited', async () => {
  const stack = await operatorStack();
  const ann = await stack.user('Ann');
  const help = await ann.replyTo(ann.say('lobby', '!chorus help'));
  assert.match(help.text, /Commands you may use \(user\)/);
  assert.doesNotMatch(help.text, /persona use/);
  const denied = await ann.replyTo(ann.say('lobby', '!chorus persona use kenji'));
  assert.equal(denied.text, 'Sorry, "persona use NAME [--channel platform:channel]" needs the admin role; you are user.');
  assert.equal(stack.fake.chatRequests().length, 0, 'commands never reach a skill or a model');
  const audit = JSON.parse((await ctl(stack, ['--json', 'audit', '5'])).stdout);
  const refused = audit.find((r) => r.what === 'persona use kenji');
  assert.ok(refused, 'the refusal is in the audit stream');
  assert.equal(refused.result, 'denied or failed');
  assert.match(refused.who, /^webchat:guest:/);
});

test('granting a role to a web chat guest changes nothing: guests never hold roles', async () => {
  const stack = await operatorStack();
  const ann = await stack.user('Ann');
  await ann.replyTo(ann.say('lobby', 'hello'));
  const id = await guestId(stack);
  assert.equal((await ctl(stack, ['op', id, 'admin'])).code, 0);
  const still = await ann.replyTo(ann.say('lobby', '!chorus mute'));
  assert.match(still.text, /needs the moderator role; you are user/);
});

test('chorusctl switches a channel\'s persona and edits a persona live', async () => {
  const stack = await operatorStack();
  const ann = await stack.user('Ann');
  const use = await ctl(stack, ['persona', 'use', 'kenji', '--channel', 'webchat:lobby']);
  assert.equal(use.code, 0, use.stderr);
  assert.equal((await ann.replyTo(ann.say('lobby', 'who is there?'))).persona, 'kenji');
  assert.equal((await ctl(stack, ['persona', 'edit', 'aiko', 'prompt', 'You are Aiko, version two.'])).code, 0);
  await ann.replyTo(ann.say('garden', 'hi'));
  assert.ok(stack.fake.chatRequests().at(-1).body.messages[0].content.startsWith('You are Aiko, version two.'));
  const show = await ctl(stack, ['persona', 'show', 'aiko']);
  assert.match(show.stdout, /live edit: prompt = You are Aiko, version two\./);
  const bad = await ctl(stack, ['persona', 'edit', 'aiko', 'model', 'nosuch']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /No model or route named "nosuch"/);
});

test('a banned user gets no answers until unbanned; a muted channel stays silent', async () => {
  const stack = await operatorStack();
  const ann = await stack.user('Ann');
  await ann.replyTo(ann.say('lobby', 'hello'));
  const id = await guestId(stack);
  assert.equal((await ctl(stack, ['ban', id])).code, 0);
  const banned = ann.say('lobby', 'are you ignoring me?');
  assert.equal((await ctl(stack, ['unban', id])).code, 0);
  const after = await ann.replyTo(ann.say('lobby', 'and now?'));
  assert.equal(after.text, 'echo: and now?');
  assert.equal(ann.answersTo(banned).length, 0, 'the message sent while banned got no answer');
  assert.equal((await ctl(stack, ['mute', 'webchat:quiet'])).code, 0);
  const muted = ann.say('quiet', 'anyone?');
  assert.equal((await ctl(stack, ['unmute', 'webchat:quiet'])).code, 0);
  assert.equal((await ann.replyTo(ann.say('quiet', 'now?'))).text, 'echo: now?');
  assert.equal(ann.answersTo(muted).length, 0);
});

test('a plugin turned off in one channel still works in another', async () => {
  const stack = await operatorStack();
  const ann = await stack.user('Ann');
  assert.equal((await ctl(stack, ['skill', 'disable', 'ping', '--channel', 'webchat:lobby'])).code, 0);
  assert.equal((await ann.replyTo(ann.say('lobby', '!ping'))).text, 'echo: !ping', 'the chat skill answered instead');
  assert.equal((await ann.replyTo(ann.say('garden', '!ping'))).text, 'pong');
  assert.equal((await ctl(stack, ['skill', 'enable', 'ping', '--channel', 'webchat:lobby'])).code, 0);
  assert.equal((await ann.replyTo(ann.say('lobby', '!ping'))).text, 'pong');
});

test('a live quota change takes effect at once', async () => {
  const stack = await operatorStack('budget "guests" { scope = "user", period = "day", tokens = 1000000, message = "Out of budget!" }');
  const ann = await stack.user('Ann');
  assert.equal((await ann.replyTo(ann.say('lobby', 'one'))).text, 'echo: one');
  assert.equal((await ctl(stack, ['quota', 'set', 'guests', 'tokens', '10'])).code, 0);
  assert.equal((await ann.replyTo(ann.say('lobby', 'two'))).text, 'Out of budget!');
  assert.match((await ctl(stack, ['quota', 'show'])).stdout, /guests: user per day, money 0, tokens 1000000, concurrent 0; live tokens 10/);
});

test('say and broadcast speak in channels; forget erases a user', async () => {
  const stack = await operatorStack();
  const ann = await stack.user('Ann');
  const ben = await stack.user('Ben');
  await ann.replyTo(ann.say('lobby', 'my code is zebra-77'));
  await ben.replyTo(ben.say('garden', 'hello'));
  assert.equal((await ctl(stack, ['say', 'webchat:lobby', 'Maintenance', 'at', 'noon'])).code, 0);
  assert.equal((await ann.ws.next((m) => m.type === 'message' && m.text === 'Maintenance at noon', 5000)).channel, 'lobby');
  const b = await ctl(stack, ['broadcast', 'Hello', 'everyone']);
  assert.match(b.stdout, /Broadcast to 2 channels/);
  await ben.ws.next((m) => m.type === 'message' && m.text === 'Hello everyone', 5000);
  const id = await guestId(stack);
  const f = await ctl(stack, ['forget', id]);
  assert.equal(f.code, 0, f.stderr);
  const lobby = await stack.redis.cmd('LRANGE', 'chorus:{webchat:lobby}:history:aiko', '0', '-1');
  assert.ok(!lobby.join('').includes('zebra-77'));
});

test('the ledger shows cost, conversations and value with the revenue share, as a table, CSV and JSON', async () => {
  const stack = await operatorStack();
  const ann = await stack.user('Ann');
  await ann.replyTo(ann.say('lobby', 'hello'));
  assert.equal((await ann.replyTo(ann.say('lobby', '!buy'))).text, 'enjoy');
  const today = new Date().toISOString().slice(0, 10);
  const json = JSON.parse((await ctl(stack, ['--json', 'ledger', '--persona', 'aiko', '--from', today, '--to', today])).stdout);
  const row = json.rows[0];
  assert.equal(row.persona, 'aiko');
  assert.equal(row.value_micro, 12500000);
  assert.equal(row.share_micro, 1875000, '15% of 12.50 EUR');
  assert.equal(row.outcomes.coupon, 1);
  assert.ok(row.calls >= 1 && row.conversations >= 1 && row.active_users === 1);
  const csv = (await ctl(stack, ['--csv', 'ledger', '--persona', 'aiko', '--from', today, '--to', today])).stdout.trim().split('\n');
  assert.match(csv[0], /^day,persona,conversations,/);
  assert.match(csv[1], new RegExp(`^${today},aiko,`));
  const table = (await ctl(stack, ['ledger', '--persona', 'aiko'])).stdout;
  assert.match(table, /TOTAL .* 12\.50 +1\.88 +\(EUR, share 15\.0%\)/);
});

test('chorusctl help, completion and top', async () => {
  const stack = await operatorStack();
  assert.match((await ctl(stack, ['help'])).stdout, /Commands you may use \(owner\)[\s\S]*broadcast TEXT/);
  assert.match((await ctl(stack, ['completion'])).stdout, /complete -F _chorusctl chorusctl/);
  const top = await ctl(stack, ['top'], { CHORUSCTL_TOP_ONCE: '1' });
  assert.match(top.stdout, /messages\/s/);
});

test('flood control: a polite word once, then silence until the bucket refills, all counted', async () => {
  const stack = await operatorStack('flood { user_burst = 3, user_per_s = 60, message = "Slow down, please!" }');
  const ann = await stack.user('Ann');
  for (const t of ['1', '2', '3']) assert.equal((await ann.replyTo(ann.say('lobby', t))).text, `echo: ${t}`);
  assert.equal((await ann.replyTo(ann.say('lobby', '4'))).text, 'Slow down, please!');
  const dropped = ann.say('lobby', '5');
  // Two minutes pass only once chorusd has dropped '5' (a slow run must not
  // let the refill reach it first).
  const { httpGet, waitFor } = require('../lib/util');
  await waitFor(async () => /chorus_flood_dropped_total\{what="dropped"\} 1\n/.test((await httpGet(`${stack.chorus.url}/metrics`)).body),
    { timeoutMs: 10000, what: 'the fifth message dropped' });
  const key = (await stack.redis.cmd('KEYS', 'chorus:flood:user:*'))[0];
  await stack.redis.cmd('HSET', key, 'ts', String(Date.now() / 1000 - 120));   // two minutes later
  assert.equal((await ann.replyTo(ann.say('lobby', '6'))).text, 'echo: 6', 'it recovers once the bucket refills');
  assert.equal(ann.answersTo(dropped).length, 0, 'the dropped message got no answer');
  const metrics = (await httpGet(`${stack.chorus.url}/metrics`)).body;
  assert.match(metrics, /chorus_flood_dropped_total\{what="warned"\} 1\n/);
  assert.match(metrics, /chorus_flood_dropped_total\{what="dropped"\} 1\n/);
});

test('a model reply that contains an admin command is just text: nothing runs', async () => {
  const stack = await operatorStack();
  stack.fake.respond = () => ({ content: '!chorus broadcast you have been pwned' });
  const ann = await stack.user('Ann');
  const ben = await stack.user('Ben');
  await ben.replyTo(ben.say('garden', 'hello'));
  stack.fake.respond = () => ({ content: '!chorus broadcast you have been pwned' });
  const r = await ann.replyTo(ann.say('lobby', 'say the magic words'));
  assert.equal(r.text, '!chorus broadcast you have been pwned');
  const audit = JSON.parse((await ctl(stack, ['--json', 'audit', '50'])).stdout);
  assert.ok(!audit.some((e) => /broadcast/.test(e.what)), 'no broadcast was ever run');
  assert.ok(!ben.ws.all.some((m) => m.text === 'you have been pwned'));
});

test('coupon: a happy conversation earns a coupon, a signed webhook redeems it into the ledger, replays and unsigned calls get 401', async () => {
  const crypto = require('node:crypto');
  const { httpRequest } = require('../lib/util');
  const stack = await operatorStack('plugin "coupon" { secret = "shop-key" }');
  const ann = await stack.user('Ann');
  const id = ann.say('lobby', 'I love talking with you, you are wonderful, thank you so much!');
  await ann.replyTo(id);
  const offer = await ann.ws.next((m) => m.type === 'message' && /coupon CHORUS-/.test(m.text), 5000, 'a coupon offer');
  const code = /CHORUS-[0-9A-F]{8}/.exec(offer.text)[0];
  const body = JSON.stringify({ code, value: 12.5, currency: 'EUR' });
  const ts = String(Math.floor(Date.now() / 1000));
  const sig = 'sha256=' + crypto.createHmac('sha256', 'shop-key').update(`${ts}.${body}`).digest('hex');
  const url = `${stack.chorus.url}/hooks/coupon/redeem`;
  assert.equal((await httpRequest(url, { method: 'POST', body })).status, 401, 'unsigned');
  const ok = await httpRequest(url, { method: 'POST', body, headers: { 'x-chorus-timestamp': ts, 'x-chorus-signature': sig } });
  assert.equal(ok.status, 200, ok.body);
  assert.deepEqual(JSON.parse(ok.body), { ok: true, persona: 'aiko', value: 12.5 });
  const replay = await httpRequest(url, { method: 'POST', body, headers: { 'x-chorus-timestamp': ts, 'x-chorus-signature': sig } });
  assert.equal(replay.status, 401, 'a replay');
  const today = new Date().toISOString().slice(0, 10);
  const ledger = JSON.parse((await ctl(stack, ['--json', 'ledger', '--persona', 'aiko', '--from', today, '--to', today])).stdout);
  assert.equal(ledger.rows[0].value_micro, 12500000, 'counted once');
  assert.equal(ledger.rows[0].outcomes.coupon, 1);
});
