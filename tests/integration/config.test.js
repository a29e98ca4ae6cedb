'use strict';
// The Lua config file: what an operator writes, what chorusd accepts, and how
// it explains a mistake (FILE:LINE: sentence, exit 1, no secrets shown).

const assert = require('node:assert/strict');
const path = require('node:path');
const { test } = require('../lib/tap');
const { checkConfig, runWithConfig, startChorusd } = require('../lib/chorusd');
const { startRedis } = require('../lib/redis');
const { startFakeOpenAI, lastUserText } = require('../lib/fake-openai');
const { startStack, chorusConfig, openUser, readHistory } = require('../lib/stack');
const { freePort, httpGet, tempDir, waitFor, luaString } = require('../lib/util');

const SECRET_KEY = 'sk-config-secret-777';
const SECRET_PW = 'hunter2-redis-pw';

// A small valid config; line numbers matter, so it is a list of lines.
function baseLines() {
  return [
    '-- chorusd config written by an operator', // 1
    'listen "127.0.0.1:0"', // 2
    `redis "redis://:${SECRET_PW}@127.0.0.1:6399/0" { prefix = "chorus:", timeout_ms = 1000 }`, // 3
    'log_level "info"', // 4
    `model "default" { provider = "openai", base_url = "http://127.0.0.1:9/v1", api_key = "${SECRET_KEY}", model = "gpt-test" }`, // 5
    'persona "aiko" { display_name = "Aiko", prompt = "You are Aiko.", model = "default", apology = "Sorry." }', // 6
    'default_persona "aiko"', // 7
  ];
}

// Insert `statement` as line 8 (after the valid part) with a comment after it.
function withMistake(statement) {
  return [...baseLines(), statement, '-- the end'].join('\n') + '\n';
}

// The stderr lines that report a problem at FILE:LINE.
function errorLines(stderr, file, line) {
  const prefix = `${file}:${line}: `;
  return stderr.split('\n').filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));
}

function assertNoSecrets(text, where) {
  assert.ok(!text.includes(SECRET_KEY), `the API key appears in ${where}:\n${text}`);
  assert.ok(!text.includes(SECRET_PW), `the Redis password appears in ${where}:\n${text}`);
}

test('a complete config with every kind of statement passes --check-config', async () => {
  const dir = tempDir('chorus-admin');
  const config = [
    'listen "127.0.0.1:0"',
    'redis "redis://127.0.0.1:6399/0" { prefix = "chorus:", timeout_ms = 1000, reconnect_min_ms = 20, reconnect_max_ms = 200 }',
    'log_level "debug"',
    `admin_socket ${luaString(path.join(dir, 'admin.sock'))}`,
    'shutdown_timeout_ms (5000)',
    'model "default" { provider = "openai", base_url = env("CHORUS_TEST_MODEL_URL", "http://127.0.0.1:9/v1"), api_key = file("key.txt"), model = "gpt-test", connect_timeout_ms = 1000, timeout_ms = 5000 }',
    'model "offline" { provider = "local" }',
    'persona "aiko" { display_name = "Aiko", prompt = "You are Aiko, a cheerful companion.", model = "default", apology = "Sorry, I can\'t answer right now." }',
    'persona "kenji" { display_name = "Kenji", prompt = "You are Kenji.", model = "offline", apology = "Later." }',
    'default_persona "aiko"',
    '',
  ].join('\n');
  const r = await checkConfig(config, { files: { 'key.txt': 'sk-from-file\n' } });
  assert.equal(r.code, 0, `exit code ${r.code}; stderr:\n${r.stderr}`);
  assert.ok(`${r.stdout}\n${r.stderr}`.includes(`${r.file}: ok`), `expected "${r.file}: ok", got stdout ${JSON.stringify(r.stdout)} stderr ${JSON.stringify(r.stderr)}`);
});

test('the options table of redis is optional', async () => {
  const r = await checkConfig([
    'listen "127.0.0.1:0"',
    'redis "redis://127.0.0.1:6399/0"',
    'model "offline" { provider = "local" }',
    'persona "aiko" { display_name = "Aiko", prompt = "You are Aiko.", model = "offline", apology = "Sorry." }',
    'default_persona "aiko"',
  ].join('\n'));
  assert.equal(r.code, 0, r.stderr);
});

test('the base config used by the mistake stories is itself valid', async () => {
  const r = await checkConfig(`${baseLines().join('\n')}\n-- the end\n`);
  assert.equal(r.code, 0, r.stderr);
  assertNoSecrets(r.stdout + r.stderr, 'the output of a good --check-config');
});

// [story, line 8 statement, what the message must mention]
const mistakes = [
  ['an unknown top-level call', 'bogus_setting "x"', /bogus_setting/],
  ['a misspelt key in a persona', 'persona "a" { promt = "x" }', /promt/],
  ['a string where a number belongs', 'shutdown_timeout_ms "soon"', null],
  ['a number where a string belongs', 'persona "a" { prompt = 42 }', null],
  ['a persona without a prompt', 'persona "bob" { display_name = "Bob", model = "default", apology = "Sorry." }', /prompt/],
  ['an openai model without base_url', `model "nourl" { provider = "openai", api_key = "${SECRET_KEY}", model = "m" }`, /base_url/],
  ['a persona using a model that is not defined', 'persona "carl" { display_name = "Carl", prompt = "Hi.", model = "nope", apology = "Sorry." }', /nope/],
  ['a Lua syntax error', 'shutdown_timeout_ms (5000))', null],
  ['an unknown log level', 'log_level "loud"', null],
  ['a route with a classifier that does not exist', 'route "smart" { kind = "tiered", tiers = { easy = "default", hard = "default" }, classifier = "magic" }', /classifier must be difficulty or label/],
  ['a misspelt key next to the API key', `model "typo" { provider = "openai", base_url = "http://127.0.0.1:9/v1", api_key = "${SECRET_KEY}", modle = "m" }`, /modle/],
];

for (const [story, statement, mention] of mistakes) {
  test(`${story} is refused with FILE:8: and a sentence, by --check-config and by --config`, async () => {
    const text = withMistake(statement);

    const checked = await checkConfig(text);
    assert.equal(checked.code, 1, `--check-config should exit 1, got ${checked.code}; stderr:\n${checked.stderr}`);
    const sentences = errorLines(checked.stderr, checked.file, 8);
    assert.ok(sentences.length > 0, `stderr should have a line starting "${checked.file}:8: ", got:\n${checked.stderr}`);
    for (const sentence of sentences) assert.match(sentence, /[A-Za-z]+[^A-Za-z]+[A-Za-z]+/, `"${sentence}" is not a sentence`);
    if (mention) assert.ok(sentences.some((s) => mention.test(s)), `the message should mention ${mention}: ${JSON.stringify(sentences)}`);
    assert.ok(!/stack traceback/.test(checked.stderr), `no Lua traceback for the operator:\n${checked.stderr}`);
    assert.ok(!checked.stdout.includes(': ok'), 'a bad config is not "ok"');
    assertNoSecrets(checked.stdout + checked.stderr, '--check-config output');

    const started = await runWithConfig(text);
    assert.equal(started.timedOut, false, `--config with a bad config kept running; stderr:\n${started.stderr}`);
    assert.equal(started.code, 1, `--config should exit 1, got ${started.code}; stderr:\n${started.stderr}`);
    assert.ok(errorLines(started.stderr, started.file, 8).length > 0, `--config should report "${started.file}:8: ...", got:\n${started.stderr}`);
    assert.ok(!/listening on/.test(started.stderr), 'it must not start listening');
    assertNoSecrets(started.stdout + started.stderr, '--config output');
  });
}

test('a rediss:// URL is refused with a clear message about TLS, and the password stays hidden', async () => {
  const lines = baseLines();
  lines[2] = `redis "rediss://:${SECRET_PW}@127.0.0.1:6399/0" { prefix = "chorus:" }`;
  const text = `${lines.join('\n')}\n`;

  for (const run of [checkConfig, runWithConfig]) {
    const r = await run(text);
    assert.equal(r.code, 1, `exit code ${r.code}; stderr:\n${r.stderr}`);
    const sentences = errorLines(r.stderr, r.file, 3);
    assert.ok(sentences.length > 0, `expected "${r.file}:3: ..." in:\n${r.stderr}`);
    assert.ok(sentences.some((s) => /TLS/i.test(s)), `the message should say TLS is not supported: ${JSON.stringify(sentences)}`);
    assertNoSecrets(r.stdout + r.stderr, 'the rediss:// refusal');
  }
});

test('env() and file() fill in settings; relative files are found next to the config', async () => {
  const fake = await startFakeOpenAI();
  const redis = await startRedis();
  const config = [
    'listen "127.0.0.1:0"',
    `redis ${luaString(redis.url)}`,
    'model "default" { provider = "openai", base_url = env("CHORUS_TEST_MODEL_URL"), api_key = file("secrets/key.txt"), model = env("CHORUS_TEST_MODEL_NAME", "gpt-fallback") }',
    'persona "aiko" { display_name = "Aiko", prompt = env("CHORUS_TEST_UNSET_PROMPT", "You are Fallback Aiko."), model = "default", apology = "Sorry." }',
    'default_persona "aiko"',
  ].join('\n');
  const chorus = await startChorusd({
    config,
    files: { 'secrets/key.txt': 'sk-from-file\n' },
    env: { CHORUS_TEST_MODEL_URL: fake.baseUrl, CHORUS_TEST_MODEL_NAME: undefined, CHORUS_TEST_UNSET_PROMPT: undefined },
  });
  const ann = await openUser(chorus.wsUrl, 'Ann');
  ann.say('lobby', 'hello', 'e1');
  assert.equal((await ann.replyTo('e1')).text, 'echo: hello');

  const req = fake.chatRequests()[0];
  assert.equal(req.headers.authorization, 'Bearer sk-from-file', 'file() trims exactly one trailing newline');
  assert.equal(req.body.model, 'gpt-fallback', 'env() falls back to its default');
  assert.ok(req.body.messages[0].content.startsWith('You are Fallback Aiko.'));
  assert.equal(lastUserText(req), 'hello');
});

test('CHORUS_LISTEN overrides the listen address of the file', async () => {
  const filePort = await freePort();
  const envPort = await freePort();
  const fake = await startFakeOpenAI();
  const redis = await startRedis();
  const chorus = await startChorusd({
    config: chorusConfig({ listen: `127.0.0.1:${filePort}`, redisUrl: redis.url, modelBaseUrl: fake.baseUrl }),
    env: { CHORUS_LISTEN: `127.0.0.1:${envPort}` },
  });
  assert.equal(chorus.port, envPort);
  assert.equal((await httpGet(`http://127.0.0.1:${envPort}/healthz`)).status, 200);
  await assert.rejects(httpGet(`http://127.0.0.1:${filePort}/healthz`), /ECONNREFUSED/, 'nothing should listen on the port from the file');
});

test('CHORUS_REDIS_URL overrides the Redis URL of the file', async () => {
  const redis = await startRedis();
  const deadPort = await freePort();
  const stack = await startStack({
    redis,
    redisUrl: `redis://127.0.0.1:${deadPort}/0`,
    env: { CHORUS_REDIS_URL: redis.url },
  });
  await waitFor(async () => (await httpGet(`${stack.chorus.url}/readyz`)).status === 200, { timeoutMs: 5000, what: '/readyz 200 with the Redis from CHORUS_REDIS_URL' });
  const ann = await stack.user('Ann');
  ann.say('lobby', 'remember me', 'r1');
  await ann.replyTo('r1');
  assert.deepEqual((await readHistory(redis, 'lobby', 'aiko')).map((h) => h.content), ['remember me', 'echo: remember me']);
});

test('a Redis password works but never appears in the logs, even at debug level and when Redis drops', async () => {
  const redis = await startRedis({ password: SECRET_PW });
  const stack = await startStack({ redis, configOptions: { logLevel: 'debug', apiKey: SECRET_KEY } });
  const ann = await stack.user('Ann');
  ann.say('lobby', 'hello', 'p1');
  await ann.replyTo('p1');
  assert.equal((await stack.history('lobby')).length, 2, 'chorusd authenticated and stored the talk');

  await redis.stop();
  await waitFor(async () => (await httpGet(`${stack.chorus.url}/readyz`)).status === 503, { timeoutMs: 5000, what: '/readyz 503' });
  await redis.restart();
  await waitFor(async () => (await httpGet(`${stack.chorus.url}/readyz`)).status === 200, { timeoutMs: 5000, what: '/readyz 200 again' });

  assert.equal(await stack.chorus.stop(), 0);
  assertNoSecrets(stack.chorus.logText(), 'the daemon log');
});

test('a wrong Redis password is an outage, not a crash, and is not logged', async () => {
  const redis = await startRedis({ password: 'the-right-one' });
  const fake = await startFakeOpenAI();
  const chorus = await startChorusd({
    config: chorusConfig({ redisUrl: `redis://:${SECRET_PW}@127.0.0.1:${redis.port}/0`, modelBaseUrl: fake.baseUrl, logLevel: 'debug' }),
  });
  assert.equal((await httpGet(`${chorus.url}/healthz`)).status, 200);
  await waitFor(async () => (await httpGet(`${chorus.url}/readyz`)).status === 503, { timeoutMs: 3000, what: '/readyz 503 with a refused password' });
  assert.equal(await chorus.stop(), 0);
  assertNoSecrets(chorus.logText(), 'the daemon log');
});
