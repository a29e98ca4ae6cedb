'use strict';
// Stories of the plugin API of docs/plugins.md ("Conversations, roles and
// richer state"), told with the trivia plugin (plugins/trivia, the worked
// example) on a real daemon, the fake Discord and a real Redis: several
// people play at once, an unanswered question times out, the leaderboard
// is a sorted set in score order, only a moderator granted by chorusctl may
// reset it, and a state call during a Redis outage says "redis unavailable".
// The trivia plugin's own tests and the convo fixture (one test per API
// feature) run under chorus-test first.
const fs = require('node:fs');
const path = require('node:path');
const assert = require('node:assert/strict');
const { spawn, execFile } = require('node:child_process');
const { test, trackChild } = require('../lib/tap');
const { startDiscordStack } = require('../lib/discord-stack');
const { luaString, tempDir } = require('../lib/util');

const SRCDIR = process.env.CHORUS_SRCDIR ? path.resolve(process.env.CHORUS_SRCDIR) : path.resolve(__dirname, '..', '..');
const KIT = process.env.CHORUS_TEST ? path.resolve(process.env.CHORUS_TEST) : path.join(SRCDIR, 'src', 'chorus-test');
const CHORUSCTL = process.env.CHORUSCTL || path.join(SRCDIR, 'src', 'chorusctl');
const CONVO = path.join(SRCDIR, 'tests', 'plugins', 'convo');
const CHANNEL = '100000000000000001';
const ANN = { id: '700000000000000001', username: 'ann', global_name: 'Ann' };
const BEN = { id: '700000000000000002', username: 'ben', global_name: 'Ben' };
const CY = { id: '700000000000000003', username: 'cy', global_name: 'Cy' };
const SCORES = `chorus:{discord:${CHANNEL}}:plugin:trivia:scores`;

function runKit(args) {
  return new Promise((resolve) => {
    const proc = trackChild(spawn(KIT, args, { cwd: SRCDIR, stdio: ['ignore', 'pipe', 'pipe'] }));
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => { stdout += d; });
    proc.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => proc.kill('SIGKILL'), 90000);
    proc.once('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

function ctl(stack, args) {
  const sock = /admin_socket "([^"]+)"/.exec(stack.config)[1];
  return new Promise((resolve) => {
    execFile(CHORUSCTL, ['--socket', sock, ...args], { timeout: 10000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr }));
  });
}

// A Discord server where the trivia plugin (shipped) and the convo fixture run.
async function triviaServer(triviaConfig = '') {
  // A folder holding only the convo fixture (tests/plugins has others).
  const dir = tempDir('chorus-convo');
  fs.symlinkSync(CONVO, path.join(dir, 'convo'));
  const configExtra = `plugins_dir ${luaString(dir)}\nskills { deadline_ms = 60000 }\n${triviaConfig}`;
  const { fake, stack } = await startDiscordStack({ configExtra });
  // PERSON says TEXT in the channel; resolves with the bot's next message
  // whose content matches WANT.
  const says = async (person, text, want) => {
    const seen = fake.posted.length;
    fake.messageCreate({ channel_id: CHANNEL, content: text, author: person });
    return fake.waitForMessage((m) => fake.posted.indexOf(m) >= seen && m.channel_id === CHANNEL && want.test(m.content), 10000);
  };
  return { fake, stack, says };
}

test('the trivia plugin and the convo fixture pass their tests under chorus-test', { timeout: 120000 }, async () => {
  const res = await runKit(['plugins/trivia', 'tests/plugins/convo']);
  assert.equal(res.code, 0, `chorus-test failed:\n${res.stdout}\n${res.stderr}`);
  assert.doesNotMatch(res.stdout, /^not ok/m);
  const m = /^# (\d+) passed, 0 failed$/m.exec(res.stdout);
  assert.ok(m && Number(m[1]) >= 20, `every test ran: ${res.stdout}`);
});

test('three people play trivia at once on Discord; each answer reaches its own question', async () => {
  const { says, stack } = await triviaServer();
  const q1 = await says(ANN, '!trivia start', /^Question \d+ for Ann: /);
  assert.match(q1.content, /^Question 1 for Ann: What is the capital of France\? \(30 s to answer\)$/);
  const q2 = await says(BEN, '!trivia start', /^Question \d+ for Ben: /);
  assert.match(q2.content, /How many legs does a spider have\?/);
  const chat = await says(CY, '!trivia me', /^Cy, /);
  assert.equal(chat.content, 'Cy, you have no points yet.', 'Cy is answered while two questions wait');
  assert.equal((await says(BEN, 'eight', /^(Correct|Not quite), Ben/)).content, 'Correct, Ben! You have 1 point.');
  assert.equal((await says(ANN, 'Lyon', /^(Correct|Not quite), Ann/)).content, 'Not quite, Ann: the answer was Paris.');
  await says(ANN, '!trivia start', /^Question 3 for Ann/);
  assert.equal((await says(ANN, 'Mars', /^Correct, Ann/)).content, 'Correct, Ann! You have 1 point.');
  await says(BEN, '!trivia start', /^Question 4 for Ben/);
  assert.equal((await says(BEN, 'au', /^Correct, Ben/)).content, 'Correct, Ben! You have 2 points.');
  const top = await says(CY, '!trivia top', /^Leaderboard/);
  assert.equal(top.content, 'Leaderboard:\n1. Ben - 2 points\n2. Ann - 1 point', 'highest score first');
  assert.equal(await stack.redis.cmd('TYPE', SCORES), 'zset', 'the leaderboard is a sorted set');
  assert.equal(await stack.redis.cmd('ZSCORE', SCORES, BEN.id), '2');
});

test('an unanswered question times out, and the next message is an ordinary one', async () => {
  const { says, fake } = await triviaServer('plugin "trivia" { timeout = 1 }');
  await says(ANN, '!trivia start', /^Question 1 for Ann: .*\(1 s to answer\)$/);
  const seen = fake.posted.length;
  assert.ok(await says(CY, '!trivia top', /^No scores yet/), 'the channel is not held while Ann thinks');
  // No answer from Ann: the question ends on its own.
  await fake.waitForMessage((m) => fake.posted.indexOf(m) >= seen && m.content === "Time's up, Ann! The answer was Paris.", 10000);
  assert.equal((await says(ANN, '!trivia me', /^Ann, /)).content, 'Ann, you have no points yet.', 'a command again, not an answer');
});

test('only a moderator granted with chorusctl op may reset the leaderboard', async () => {
  const { says, stack } = await triviaServer();
  await says(ANN, '!trivia start', /^Question 1 for Ann/);
  await says(ANN, 'Paris', /^Correct, Ann/);
  assert.equal((await says(BEN, '!trivia reset', /^Sorry, !trivia reset/)).content,
    'Sorry, !trivia reset needs the moderator role; you are user.');
  assert.equal(await stack.redis.cmd('ZCARD', SCORES), 1, 'still there');
  assert.equal((await ctl(stack, ['op', `discord:${BEN.id}`, 'moderator'])).code, 0);
  assert.equal((await says(BEN, '!whoami', /^Ben is /)).content, 'Ben is moderator', 'the role the operator code checks');
  assert.equal((await says(BEN, '!trivia reset', /cleared the leaderboard/)).content, 'Ben cleared the leaderboard.');
  assert.equal(await stack.redis.cmd('ZCARD', SCORES), 0);
  assert.equal((await says(ANN, '!whoami', /^Ann is /)).content, 'Ann is user');
});

test('a state call during a Redis outage returns nil, "redis unavailable", not an empty value', async () => {
  const { says, stack } = await triviaServer();
  assert.equal((await says(ANN, '!count', /^count/)).content, 'count 1');
  await stack.redis.stop();
  assert.equal((await says(ANN, '!count', /^count/)).content, 'count failed: redis unavailable');
  assert.equal((await says(ANN, '!peek', /^peek/)).content, 'peek: nil redis unavailable');
  assert.equal((await says(ANN, '!trivia top', /scoreboard/)).content,
    'Sorry, the scoreboard is unavailable right now. Try again in a moment.', 'trivia says so instead of "no scores yet"');
});

test('a question still waiting when chorusd stops ends with a word to the player, and the daemon exits at once', async () => {
  const { says, fake, stack } = await triviaServer();
  await says(ANN, '!trivia start', /^Question 1 for Ann/);
  const code = await stack.chorus.stop('SIGTERM');
  assert.equal(code, 0);
  assert.ok(fake.posted.some((m) => m.content === 'Sorry Ann, I have to stop the game: I am restarting. The answer was Paris.'),
    `the player was told: ${JSON.stringify(fake.posted.map((m) => m.content))}`);
  assert.doesNotMatch(stack.chorus.logText(), /replies still running after the deadline/, 'the drain did not wait for the answer');
});
