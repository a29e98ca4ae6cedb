'use strict';
// The cast for a Discord story: the fake Discord, the fake model, Redis and
// chorusd configured with a `discord { ... }` statement pointing at the fake.
//
//   const { fake, stack } = await startDiscordStack({ shards: '{ ids = {0, 1}, total = 2 }' });
//   await fake.waitForReady(0);
//   const m = fake.mentionBot({ content: 'hi' });
//   const reply = await fake.waitForMessage((r) => r.message_reference && r.message_reference.message_id === m.id);

const { startFakeDiscord } = require('./fake-discord');
const { startStack } = require('./stack');
const { luaString } = require('./util');
const { after } = require('./tap');

const TOKEN = 'MTk4NjIyNDgzNDcxOTI1MjQ4.fake.discord-token-for-tests';

// TIME_SCALE 0.005 turns Discord's 41.25 s heartbeat into about 200 ms and
// its 5 s identify window into 25 ms.
async function startDiscordStack({ shards, timeScale = 0.005, fakeOptions = {}, discordExtra = '', configExtra = '', globalRate, env = {}, waitReady = true } = {}) {
  const fake = await startFakeDiscord({ token: TOKEN, ...fakeOptions });
  after(() => fake.close());
  const keys = [
    'token = env("DISCORD_TOKEN")',
    `api_base = ${luaString(fake.apiBase)}`,
    `time_scale = ${timeScale}`,
  ];
  if (shards) keys.push(`shards = ${shards}`);
  if (globalRate) keys.push(`global_rate = ${globalRate}`);
  if (discordExtra) keys.push(discordExtra);
  const extra = `discord { ${keys.join(', ')} }\n${configExtra}`;
  const stack = await startStack({ configOptions: { extra }, env: { DISCORD_TOKEN: TOKEN, ...env }, waitReady: false });
  if (waitReady) await fake.waitForReady(0, 10000);
  return { fake, stack, chorus: stack.chorus, token: TOKEN };
}

// The bot's reply (first part) to the user's message M.
function replyTo(fake, m, timeoutMs = 10000) {
  return fake.waitForMessage((r) => r.message_reference && r.message_reference.message_id === m.id, timeoutMs);
}

module.exports = { startDiscordStack, replyTo, TOKEN };
