'use strict';
// Stories of an operator at the command line, doing what docs/operating.md
// says: flags anywhere on the line, the ledger for every persona, bad dates
// called bad dates, structured --json for every command, top in a pipe,
// each model deployment's health in status, new plugin folders picked up
// by a reload, and logs whose tracebacks read as they were printed.
const fs = require('node:fs');
const path = require('node:path');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const { test } = require('../lib/tap');
const { startStack } = require('../lib/stack');
const { writePlugins } = require('../lib/plugins');
const { luaString, tempDir } = require('../lib/util');

const SRCDIR = process.env.CHORUS_SRCDIR ? path.resolve(process.env.CHORUS_SRCDIR) : path.resolve(__dirname, '..', '..');
const CHORUSCTL = process.env.CHORUSCTL || path.join(SRCDIR, 'src', 'chorusctl');

const socketOf = (stack) => /admin_socket "([^"]+)"/.exec(stack.config)[1];

// chorusctl with exactly ARGS (the test places --socket itself).
function run(args, env = {}) {
  return new Promise((resolve) => {
    execFile(CHORUSCTL, args, { timeout: 10000, env: { ...process.env, CHORUS_ADMIN_SOCKET: '', ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr }));
  });
}

// chorusctl ARGS --socket S: the flag after the command, as people type it.
const ctl = (stack, ...args) => run([...args, '--socket', socketOf(stack)]);

async function shopStack(extra = '', configOptions = {}) {
  const dir = writePlugins({
    shop: { manifest: { state: true }, init: 'chorus.command("buy", function(msg) chorus.ledger.record{ kind = "coupon", value = 4, currency = "EUR", ref = "C-1" } msg:reply("enjoy") end)' },
  });
  const stack = await startStack({ configOptions: { ...configOptions, extra: `plugins_dir ${luaString(dir)}\nledger { share = 0.25, currency = "EUR" }\n${extra}` } });
  stack.pluginDir = dir;
  return stack;
}

const today = () => new Date().toISOString().slice(0, 10);

test('the ledger as documented: no persona means every persona, --csv and --json anywhere, a bad date is a bad date', async () => {
  const stack = await shopStack();
  const ann = await stack.user('Ann');
  await ann.replyTo(ann.say('lobby', 'hello'));
  await stack.redis.cmd('SET', 'chorus:{webchat:garden}:persona', 'kenji');
  await ann.replyTo(ann.say('garden', 'hello Kenji'));
  assert.equal((await ann.replyTo(ann.say('lobby', '!buy'))).text, 'enjoy');

  const sock = socketOf(stack);
  const csv = await run(['ledger', '--csv', '--socket', sock]);
  assert.equal(csv.code, 0, csv.stderr);
  const lines = csv.stdout.trim().split('\n');
  assert.match(lines[0], /^day,persona,conversations,/);
  assert.ok(lines.some((l) => l.startsWith(`${today()},aiko,`)), csv.stdout);
  assert.ok(lines.some((l) => l.startsWith(`${today()},kenji,`)), 'no persona given: every persona');

  // --json first, last, or between the ledger's own flags; --socket before the command too.
  for (const args of [['--json', '--socket', sock, 'ledger', '--persona', 'aiko'],
    ['ledger', '--persona', 'aiko', '--json', '-s', sock],
    ['-s', sock, 'ledger', '--from', today(), '--json', '--persona', 'aiko', '--to', today()],
    [`--socket=${sock}`, 'ledger', 'aiko', today(), today(), '--json']]) {
    const r = await run(args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    const data = JSON.parse(r.stdout);
    const row = data.rows.find((x) => x.day === today());
    assert.equal(row.persona, 'aiko', args.join(' '));
    assert.equal(row.value_micro, 4000000);
    assert.equal(row.share_micro, 1000000, '25% of 4 EUR');
  }

  const bad = await ctl(stack, 'ledger', '--from', '2026-02-30');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /"2026-02-30" is not a date: write days as YYYY-MM-DD/);
  const worse = await ctl(stack, 'ledger', '--to', 'yesterday');
  assert.match(worse.stderr, /"yesterday" is not a date/);
  const unknown = await ctl(stack, 'ledger', '--persona', 'nobody');
  assert.match(unknown.stderr, /No persona named "nobody"/);
  const badFlag = await ctl(stack, 'ledger', '--since', today());
  assert.match(badFlag.stderr, /--since is not an option of the ledger/);
  const csvElsewhere = await ctl(stack, 'status', '--csv');
  assert.equal(csvElsewhere.code, 2);
  assert.match(csvElsewhere.stderr, /--csv is for the ledger/);

  // The same report from chat, for the owner: positional words work too.
  const table = await ctl(stack, 'ledger');
  assert.match(table.stdout, /aiko/);
  assert.match(table.stdout, /kenji/);
});

test('--json gives structured data for every operator command, never text wrapped in JSON', async () => {
  const stack = await shopStack('budget "guests" { scope = "user", period = "day", money = 2, tokens = 100000 }');
  const ann = await stack.user('Ann');
  await ann.replyTo(ann.say('lobby', 'my secret is zebra-12'));
  const turn = JSON.parse((await stack.redis.cmd('LRANGE', 'chorus:{webchat:lobby}:history:aiko', '0', '0'))[0]);
  const guest = `webchat:${turn.user}`;
  const json = async (...args) => {
    const r = await ctl(stack, '--json', ...args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    const v = JSON.parse(r.stdout);
    assert.ok(v !== null && typeof v === 'object', `${args.join(' ')} gives an object or array`);
    assert.ok(Array.isArray(v) || Object.keys(v).some((k) => k !== 'text' && k !== 'ok'), `${args.join(' ')}: more than text: ${r.stdout}`);
    return v;
  };
  const help = await json('help');
  assert.equal(help.role, 'owner');
  assert.ok(help.commands.some((c) => c.usage === 'plugins list' && c.role === 'moderator'));
  const st = await json('status');
  assert.equal(st.redis.connected, true);
  assert.ok(st.platforms.some((p) => p.name === 'webchat' && p.ready));
  const personas = await json('persona', 'list');
  assert.deepEqual(personas.personas.map((p) => p.name), ['aiko', 'kenji']);
  assert.equal(personas.personas[0].default, true);
  const edit = await json('persona', 'edit', 'kenji', 'display_name', 'Kenji', 'San');
  assert.deepEqual(edit, { persona: 'kenji', field: 'display_name', value: 'Kenji San' });
  const show = await json('persona', 'show', 'kenji');
  assert.equal(show.live.display_name, 'Kenji San');
  assert.match(show.prompt, /calm librarian/);
  const use = await json('persona', 'use', 'kenji', '--channel', 'webchat:hall');
  assert.deepEqual(use, { channel: 'webchat:hall', persona: 'kenji' });
  const plugins = await json('plugins', 'list');
  assert.ok(plugins.plugins.some((p) => p.name === 'shop' && p.memory_bytes > 0));
  assert.deepEqual(await json('plugins', 'disable', 'shop', '--channel', 'webchat:hall'), { plugin: 'shop', channel: 'webchat:hall', enabled: false });
  assert.deepEqual(await json('plugins', 'enable', 'shop', '--everywhere'), { plugin: 'shop', channel: '*', enabled: true });
  assert.deepEqual(await json('op', 'discord:42', 'moderator', '--channel', 'discord:7'), { user: 'discord:42', role: 'moderator', channel: 'discord:7' });
  assert.deepEqual(await json('deop', 'discord:42', '--channel', 'discord:7'), { user: 'discord:42', role: 'user', channel: 'discord:7' });
  assert.deepEqual(await json('ban', 'discord:13'), { user: 'discord:13', banned: true });
  assert.deepEqual(await json('unban', 'discord:13'), { user: 'discord:13', banned: false });
  assert.deepEqual(await json('ignore', 'discord:13'), { user: 'discord:13', ignored: true });
  assert.deepEqual(await json('mute', 'webchat:quiet'), { channel: 'webchat:quiet', muted: true });
  assert.deepEqual(await json('unmute', 'webchat:quiet'), { channel: 'webchat:quiet', muted: false });
  assert.deepEqual(await json('quota', 'set', 'guests', 'money', '0.5'), { budget: 'guests', field: 'money', value: 0.5 });
  const quotas = await json('quota', 'show');
  assert.deepEqual(quotas.budgets[0], { name: 'guests', scope: 'user', period: 'day', money: 2, tokens: 100000, concurrent: 0, live: { money: 0.5 } });
  assert.deepEqual(await json('say', 'webchat:lobby', 'Back', 'soon'), { channel: 'webchat:lobby', text: 'Back soon' });
  assert.deepEqual(await json('broadcast', 'Hello', 'all'), { channels: 1, text: 'Hello all' });
  const forgot = await json('forget', guest);
  assert.equal(forgot.user, guest);
  assert.ok(forgot.turns_removed >= 2);
  const reload = await json('plugins', 'reload', 'shop');
  assert.deepEqual(reload, { reloaded: ['shop'], added: [] });
  const audit = await json('audit', '3');
  assert.ok(Array.isArray(audit) && audit.length === 3 && audit[0].who.startsWith('chorusctl:'));
  const ping = await json('ping');
  assert.equal(ping.ok, true);

  // A refusal is JSON too, with the reason, and a non-zero exit.
  const refused = await ctl(stack, '--json', 'persona', 'show', 'nobody');
  assert.equal(refused.code, 1);
  assert.deepEqual(JSON.parse(refused.stdout), { ok: false, error: 'No persona named "nobody". Try: persona list' });
});

test('quotas show money in one unit, the one the config uses', async () => {
  const stack = await shopStack('budget "guests" { scope = "user", period = "day", money = 0.1 }');
  assert.equal((await ctl(stack, 'quota', 'set', 'guests', 'money', '0.05')).code, 0);
  const text = (await ctl(stack, 'quota', 'show')).stdout;
  assert.match(text, /guests: user per day, money 0\.1, tokens 0, concurrent 0; live money 0\.05\n/);
  assert.doesNotMatch(text, /micro/);
});

test('top in a pipe prints no screen-control codes, and --json gives one object per refresh', async () => {
  const stack = await shopStack();
  const top = await ctl(stack, 'top', '--once');
  assert.equal(top.code, 0, top.stderr);
  assert.match(top.stdout, /messages\/s/);
  assert.ok(!top.stdout.includes('\x1b'), `no escape codes when stdout is not a terminal: ${JSON.stringify(top.stdout.slice(0, 40))}`);
  const json = await ctl(stack, 'top', '--json', '--once');
  const lines = json.stdout.trim().split('\n');
  assert.equal(lines.length, 1);
  const snap = JSON.parse(lines[0]);
  assert.equal(snap.redis.connected, true);
  assert.equal(typeof snap.messages_per_s, 'number');
  assert.ok(!json.stdout.includes('\x1b'));
});

test('status shows each model deployment\'s breaker and its last error', async () => {
  const { AIKO, KENJI } = require('../lib/stack');
  const stack = await shopStack('route "flaky" { kind = "fixed", model = "default", retries = 0, breaker_failures = 2, breaker_cooldown_ms = 60000 }',
    { personas: [{ ...AIKO, model: 'flaky' }, KENJI] });
  const before = JSON.parse((await ctl(stack, '--json', 'status')).stdout);
  const dep = before.deployments.find((d) => d.model === 'default');
  assert.equal(dep.breaker, 'closed');
  assert.equal(dep.last_error, '');
  stack.fake.respond = () => ({ status: 500, body: { error: { message: 'the GPU caught fire', type: 'server_error' } } });
  const ann = await stack.user('Ann');
  for (const t of ['one', 'two']) await ann.replyTo(ann.say('lobby', t));
  const after = JSON.parse((await ctl(stack, '--json', 'status')).stdout);
  const broken = after.deployments.find((d) => d.model === 'default');
  assert.equal(broken.breaker, 'open', JSON.stringify(broken));
  assert.ok(broken.cooldown_ms > 0 && broken.cooldown_ms <= 60000);
  assert.match(broken.last_error, /500|GPU caught fire/);
  const human = await ctl(stack, 'status');
  assert.match(human.stdout, /deployment default\/0 +breaker open \([\d.]+s left\).*last error .*ago: /);
  assert.ok(!human.stdout.includes('sk-test-123'), 'no API key in the status');
});

test('plugins reload picks up a new plugin folder; chat and chorusctl use the same names, old spellings still work', async () => {
  const stack = await shopStack();
  const ann = await stack.user('Ann');
  writePlugins({ dice: { init: 'chorus.command("roll", function(msg) msg:reply("4") end)' } }, stack.pluginDir);
  const r = await ctl(stack, 'plugins', 'reload');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Reloaded every plugin; new: dice\./);
  assert.equal((await ann.replyTo(ann.say('lobby', '!roll'))).text, '4');
  writePlugins({ coin: { init: 'chorus.command("flip", function(msg) msg:reply("heads") end)' } }, stack.pluginDir);
  const one = JSON.parse((await ctl(stack, '--json', 'plugins', 'reload', 'coin')).stdout);
  assert.deepEqual(one, { reloaded: [], added: ['coin'] });
  assert.equal((await ann.replyTo(ann.say('lobby', '!flip'))).text, 'heads');
  const missing = await ctl(stack, 'plugins', 'reload', 'nosuch');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no plugin named "nosuch" is loaded or in a plugin folder/);

  const help = (await ctl(stack, 'help')).stdout;
  for (const name of ['plugins list', 'plugins enable', 'plugins disable', 'plugins reload']) assert.ok(help.includes(name), name);
  assert.doesNotMatch(help, /skill list|plugin reload/);
  const old = await ctl(stack, 'skill', 'list');
  assert.equal(old.code, 0);
  assert.match(old.stdout, /dice/);
  assert.equal((await ctl(stack, 'plugin', 'reload', 'dice')).code, 0, 'the old spelling is an alias');
  const chat = await ann.replyTo(ann.say('lobby', '!chorus plugins list'));
  assert.equal(chat.text, 'Sorry, "plugins list" needs the moderator role; you are user.', 'chat names the command as chorusctl does');
  const chatOld = await ann.replyTo(ann.say('lobby', '!chorus skill list'));
  assert.equal(chatOld.text, chat.text);
});

test('a failing plugin\'s traceback is on several lines in text logs and one field in JSON logs; chorus.log joins with one space', async () => {
  const init = [
    'chorus.command("boom", function(msg) local t = nil; return t.field end)',
    'chorus.command("say", function(msg) chorus.log.info("joined:", 1, nil, true, "end"); msg:reply("ok") end)',
  ].join('\n');
  for (const format of ['text', 'json']) {
    const dir = writePlugins({ crash: { init } });
    const stack = await startStack({ args: ['--log-format', format], configOptions: { extra: `plugins_dir ${luaString(dir)}` } });
    const ann = await stack.user('Ann');
    ann.say('lobby', '!boom');
    assert.equal((await ann.replyTo(ann.say('lobby', '!say'))).text, 'ok');
    if (format === 'text') {
      await stack.chorus.waitForLog(/plugin crash: handler failed: .*attempt to index a nil value/, 5000);
      const lines = stack.chorus.logs();
      const at = lines.findIndex((l) => /plugin crash: handler failed/.test(l));
      assert.doesNotMatch(lines[at], /stack traceback/, 'the message line holds the error only');
      assert.equal(lines[at + 1], '    stack traceback:');
      assert.match(lines[at + 2], /^    \t.*init\.lua:1: in function/);
      await stack.chorus.waitForLog(/ INFO plugin crash: joined: 1 nil true end$/, 5000);
    } else {
      const m = await stack.chorus.waitForLog(/handler failed/, 5000);
      const entry = JSON.parse(m.input);
      assert.equal(entry.level, 'error');
      assert.match(entry.msg, /^plugin crash: handler failed: .*attempt to index a nil value/);
      assert.match(entry.traceback, /^stack traceback:\n\t.*init\.lua:1: in function/);
      const said = JSON.parse((await stack.chorus.waitForLog(/joined/, 5000)).input);
      assert.equal(said.msg, 'plugin crash: joined: 1 nil true end');
    }
  }
});
