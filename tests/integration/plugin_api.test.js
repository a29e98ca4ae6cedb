'use strict';
// Plugin authors, issue 16 items 5-7 and the test kit: the toolbox fixture's
// own tests pass under chorus-test (tools with context, streaming, handled
// messages, HTTP mocks, scripted failures and tool calls, several users at
// once, skipping), and the same plugin behaves so in a real daemon, against
// the fake OpenAI server and a real HTTP server on loopback.
const http = require('node:http');
const path = require('node:path');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const { test, trackChild } = require('../lib/tap');
const { startStack, AIKO } = require('../lib/stack');
const { startFakeOpenAI } = require('../lib/fake-openai');
const { httpGet, luaString } = require('../lib/util');

const SRCDIR = process.env.CHORUS_SRCDIR ? path.resolve(process.env.CHORUS_SRCDIR) : path.resolve(__dirname, '..', '..');
const KIT = process.env.CHORUS_TEST ? path.resolve(process.env.CHORUS_TEST) : path.join(SRCDIR, 'src', 'chorus-test');
const FIXTURES = path.join(SRCDIR, 'tests', 'plugins');

function runKit(args, timeoutMs = 60000) {
  return new Promise((resolve) => {
    const proc = trackChild(spawn(KIT, args, { cwd: SRCDIR, stdio: ['ignore', 'pipe', 'pipe'] }));
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => { stdout += d; });
    proc.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.once('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

// A small HTTP API on loopback that says who served it in a header.
function startApi() {
  return new Promise((resolve) => {
    const server = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'x-served-by': 'loopback-api' });
      res.end(`hello from ${req.url}`);
    });
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${server.address().port}` }));
  });
}

function stackWith(extra, configOptions = {}) {
  return startStack({ configOptions: { extra: `plugins_dir ${luaString(FIXTURES)}\n${extra}`, ...configOptions } });
}

test('the toolbox fixture and the weather example pass their own tests under chorus-test, with one skipped', { timeout: 90000 }, async () => {
  const res = await runKit([path.join(FIXTURES, 'toolbox'), path.join(SRCDIR, 'docs', 'examples', 'plugins', 'weather')]);
  assert.equal(res.code, 0, `chorus-test failed:\n${res.stdout}\n${res.stderr}`);
  assert.doesNotMatch(res.stdout, /^not ok/m);
  for (const name of ['a tool the model calls reads the conversation it was called from',
    'a decorated reply streams its decoration too', 'a handler that reacts has answered: no apology',
    'a chorus.before returning false drops the message silently', 'an operator extends the allow-list from the config',
    'a slow API times out at the plugin\'s timeout, in seconds', 'without retries eating the next answer',
    'several users speak at once']) {
    assert.ok(res.stdout.includes(name), `ran "${name}"`);
  }
  assert.match(res.stdout, /^ok \d+ - toolbox: t\.skip reports the test as skipped with its reason # SKIP needs a real weather key$/m);
  assert.match(res.stdout, /^ok \d+ - weather: the model looks the weather up through the tool$/m);
  assert.match(res.stdout, /^# 25 passed, 0 failed, 1 skipped$/m);
});

test('in a daemon, a handled message gets no apology and a moderated one is dropped silently and counted', async () => {
  const stack = await stackWith('');
  const ann = await stack.user('Ann');
  const noted = ann.say('lobby', '!noted');
  const shrug = ann.say('lobby', '!shrug');
  const durian = ann.say('lobby', 'who else loves durian?');
  const last = ann.say('lobby', '!encode x y');
  assert.equal((await ann.replyTo(shrug)).text, AIKO.apology, 'nothing answered !shrug: the apology');
  assert.equal((await ann.replyTo(last)).text, 'x%20y');
  // The channel answers in order: by now anything said to the others was sent.
  assert.deepEqual(ann.answersTo(noted), [], 'a handler returning true handled it');
  assert.deepEqual(ann.answersTo(durian), [], 'the moderated message got nothing');
  assert.equal(stack.fake.requests.length, 0, 'the model was never asked');
  const metrics = (await httpGet(`${stack.chorus.url}/metrics`)).body;
  assert.match(metrics, /^chorus_messages_dropped_total\{plugin="toolbox"\} 1$/m);
});

test('in a daemon, a real model\'s tool call reaches the tool with the asking message', async () => {
  // The persona's model is declared able to call tools: only then are tools sent.
  const fake = await startFakeOpenAI();
  const tooly = `model "tooly" { provider = "openai", base_url = ${luaString(fake.baseUrl)}, api_key = "sk-test-123", ` +
    'model = "gpt-test", capabilities = { "tools" } }';
  const stack = await startStack({
    fake,
    configOptions: { extra: `plugins_dir ${luaString(FIXTURES)}\n${tooly}`, personas: [{ ...AIKO, model: 'tooly' }] },
  });
  stack.fake.respond = (req) => {
    const msgs = req.body.messages;
    if (msgs[msgs.length - 1].role === 'tool') return { content: 'You asked about the weather.' };
    return { toolCalls: [{ id: 'call_1', name: 'recall', arguments: '{}' }] };
  };
  const ann = await stack.user('Ann');
  const id = ann.say('garden', '!ask what did I ask?');
  assert.equal((await ann.replyTo(id)).text, 'You asked about the weather.');
  const [first, second] = stack.fake.requests.map((r) => r.body);
  assert.ok(first.tools.some((t) => t.function.name === 'recall'), 'tools = "auto" offered the tool');
  const result = JSON.parse(second.messages[second.messages.length - 1].content);
  assert.deepEqual(result, { channel: 'garden', platform: 'webchat', persona: 'aiko', author: 'Ann', turns: 1, last: 'what did I ask?' });
});

test('an operator extends a plugin\'s HTTP allow-list in the config, and the plugin sees response headers', async () => {
  const api = await startApi();
  try {
    const refused = await stackWith('');
    const ann = await refused.user('Ann');
    const no = await ann.replyTo(ann.say('lobby', `!fetch ${api.url}/now`));
    assert.match(no.text, /^error: plugin toolbox may not call 127\.0\.0\.1 \(add the host to permissions\.http in its manifest\.lua, or to http = \{\.\.\.\} in its plugin block of the config\)$/);
    const allowed = await stackWith('plugin "toolbox" { http = { "127.0.0.1" } }');
    const ben = await allowed.user('Ben');
    const yes = await ben.replyTo(ben.say('lobby', `!fetch ${api.url}/now`));
    assert.equal(yes.text, '200 hello from /now via loopback-api');
  } finally {
    api.server.close();
  }
});
