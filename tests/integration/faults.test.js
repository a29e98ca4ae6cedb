'use strict';
// Fault injection during traffic: the peers misbehave while people talk.
// Every message is answered, and none is answered twice.
const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { startDiscordStack } = require('../lib/discord-stack');
const { startStack } = require('../lib/stack');
const { writePlugins } = require('../lib/plugins');
const { luaString, waitFor, delay } = require('../lib/util');

const APOLOGY = "Sorry, I can't answer right now.";

function echoPlugins() {
  return writePlugins({ echo: { init: 'chorus.hear(".", function(msg) msg:reply("echo: " .. msg.text) end)' } });
}

test('Discord: disconnects, garbage frames, replays and 429 storms during traffic lose nothing and double nothing', async () => {
  const { fake, stack } = await startDiscordStack({
    discordExtra: 'messages = "all", global_rate = 100000',
    configExtra: `plugins_dir ${luaString(echoPlugins())}\nplugin "chat" { enabled = false }`,
  });
  const replies = new Map();
  fake.on('message', (msg) => {
    const ref = msg.message_reference && msg.message_reference.message_id;
    if (ref) replies.set(ref, [...(replies.get(ref) || []), msg.content]);
  });
  fake.replayOverlap = 3;           // every Resume replays events already delivered
  const people = ['ann', 'ben', 'cho'].map((name, k) => ({ id: `70000000000000001${k}`, username: name, global_name: name }));
  const sent = [];
  for (let i = 0; i < 90; i++) {
    const channel = `10000000000000010${i % 3}`;
    sent.push(fake.messageCreate({ channel_id: channel, content: `talk ${i}`, author: people[i % 3] }));
    const conn = fake.connFor(0);
    if (i === 15 && conn) conn.drop();                                 // TCP cut, no close frame
    if (i === 30 && conn) conn.sendRaw('{"op": 0, "t": "MESSAGE_CREATE", "d": ');   // garbage
    if (i === 45) for (let k = 0; k < 6; k++) fake.force429.push({ route: 'POST /channels/{id}/messages', retryAfterMs: 150, global: k % 2 === 0 });
    if (i === 60 && conn) conn.reconnect();                            // op 7
    if (i === 75 && conn) conn.close(4000, 'Unknown error.');
    await delay(10);
  }
  try {
    await waitFor(() => sent.every((m) => replies.has(m.id)), { timeoutMs: 20000, what: 'an answer to every message' });
  } finally {
    const missing = sent.filter((m) => !replies.has(m.id)).length;
    if (missing) console.log(`# ${missing} of ${sent.length} unanswered`);
  }
  await delay(500);                 // late duplicates would land here
  for (let i = 0; i < sent.length; i++) assert.deepEqual(replies.get(sent[i].id), [`echo: talk ${i}`], `message ${i} answered exactly once`);
  assert.equal(stack.chorus.proc.exitCode, null);
  const log = stack.chorus.logText();
  assert.match(log, /resum/i, 'the faults really happened: the gateway resumed');
  assert.match(log, /429|rate limit/i, 'and the 429s were met');
  assert.deepEqual(fake.violations, [], 'no gateway or REST limit was breached');
});

test('web chat: Redis killed and restarted, and a model that hangs, during traffic', async () => {
  const stack = await startStack({ configOptions: { modelTimeoutMs: 800 } });
  const ann = await stack.user('Ann');
  let hang = false;
  stack.fake.respond = () => (hang ? { delayMs: 3000 } : undefined);
  const ids = [];
  for (let i = 0; i < 40; i++) {
    if (i === 10) await stack.redis.stop();
    if (i === 20) await stack.redis.restart();
    if (i === 25) hang = true;
    if (i === 30) hang = false;
    ids.push(ann.say(`room-${i % 4}`, `line ${i}`));
    await delay(20);
  }
  await waitFor(() => ids.every((id) => ann.answersTo(id).length > 0), { timeoutMs: 20000, what: 'an answer to each of the 40 lines' });
  assert.match(stack.chorus.logText(), /redis: .*(lost|reconnecting|cannot connect)/, 'Redis really went away');
  await delay(500);
  for (let i = 0; i < ids.length; i++) {
    const answers = ann.answersTo(ids[i]).filter((m) => m.type === 'message');
    assert.equal(answers.length, 1, `line ${i} answered exactly once (got ${JSON.stringify(answers.map((a) => a.text))})`);
    assert.ok(answers[0].text === `echo: line ${i}` || answers[0].text === APOLOGY, `line ${i}: ${answers[0].text}`);
  }
  assert.equal((await ann.replyTo(ann.say('after', 'all good?'))).text, 'echo: all good?');
});
