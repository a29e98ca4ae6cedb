'use strict';
// A busy Discord channel: with messages = "all", a client keeping many
// messages outstanding in one channel must never lose one (issue 12: the
// queue held 64 and dropped the rest with an info log). A queue that does
// fill is counted in /metrics and warned about, never silent.
const assert = require('node:assert/strict');
const { test } = require('../lib/tap');
const { startDiscordStack } = require('../lib/discord-stack');
const { writePlugins } = require('../lib/plugins');
const { luaString, httpGet, waitFor } = require('../lib/util');

const CHANNEL = '100000000000000077';

function echoPlugins() {
  return writePlugins({ echo: { init: 'chorus.hear(".", function(msg) msg:reply("echo: " .. msg.text) end)' } });
}

async function overflowCount(stack) {
  const text = (await httpGet(`${stack.chorus.url}/metrics`)).body;
  const m = /^chorus_queue_overflow_total\{platform="discord"\} (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

test('a busy channel with 150 messages outstanding from three people answers every one, in order', async () => {
  const { fake, stack } = await startDiscordStack({
    discordExtra: 'messages = "all", global_rate = 100000',
    configExtra: `plugins_dir ${luaString(echoPlugins())}\nplugin "chat" { enabled = false }`,
  });
  const answers = new Map();
  fake.on('message', (msg) => {
    const ref = msg.message_reference && msg.message_reference.message_id;
    if (ref) answers.set(ref, msg.content);
  });
  const sent = [];
  const people = ['ann', 'ben', 'cho'].map((name, k) => ({ id: `70000000000000000${k + 1}`, username: name, global_name: name }));
  for (let i = 0; i < 150; i++) sent.push(fake.messageCreate({ channel_id: CHANNEL, content: `chatter ${i}`, author: people[i % 3] }));
  try {
    await waitFor(() => answers.size === sent.length, { timeoutMs: 15000, what: 'an answer to each of the 150 messages' });
  } finally {
    console.log(`# ${answers.size} answered`);
  }
  for (let i = 0; i < sent.length; i++) assert.equal(answers.get(sent[i].id), `echo: chatter ${i}`);
  assert.equal(await overflowCount(stack), 0, 'nothing overflowed');
});

test('one person keeping 64 messages outstanding loses none', async () => {
  const { fake } = await startDiscordStack({
    discordExtra: 'messages = "all", global_rate = 100000',
    configExtra: `plugins_dir ${luaString(echoPlugins())}\nplugin "chat" { enabled = false }`,
  });
  const answers = new Map();
  fake.on('message', (msg) => {
    const ref = msg.message_reference && msg.message_reference.message_id;
    if (ref) answers.set(ref, msg.content);
  });
  const sent = [];
  for (let i = 0; i < 64; i++) sent.push(fake.messageCreate({ channel_id: CHANNEL, content: `burst ${i}` }));
  await waitFor(() => answers.size === sent.length, { timeoutMs: 15000, what: 'an answer to each of the 64 messages' });
});

test('a full channel queue is counted and warned about, never dropped in silence', async () => {
  const { fake, stack } = await startDiscordStack({
    discordExtra: 'messages = "all", global_rate = 100000',
    configExtra: `plugins_dir ${luaString(echoPlugins())}\nplugin "chat" { enabled = false }\nlimits { channel_queue = 5 }`,
  });
  for (let i = 0; i < 20; i++) fake.messageCreate({ channel_id: CHANNEL, content: `flood ${i}` });
  await stack.chorus.waitForLog(/channel discord:100000000000000077 is full/, 5000);
  await waitFor(async () => (await overflowCount(stack)) > 0, { what: 'chorus_queue_overflow_total to count it' });
});
