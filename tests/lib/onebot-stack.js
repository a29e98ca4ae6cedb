'use strict';
// The cast for a OneBot (QQ) story: the fake OneBot implementation, the
// fake model, Redis and chorusd with an `onebot { ... }` statement, either
// dialing the fake (forward websocket) or waiting for it to dial (reverse).
//
//   const { fake, stack } = await startOneBotStack();
//   const ann = fake.user({ nickname: 'Ann' });
//   const ev = fake.privateMessage(ann, 'hi');
//   const sent = await replyTo(fake, ev);

const { startFakeOneBot } = require('./fake-onebot');
const { startStack } = require('./stack');
const { luaString } = require('./util');
const { after } = require('./tap');

const TOKEN = 'ob-Secret-token-7c1e9a44d2';
const REVERSE_PATH = '/onebot/v11/ws';

// Protocol timings in milliseconds so a story runs in well under a second:
// calls time out after 1500 ms, reconnects wait 20-200 ms.
async function startOneBotStack({
  reverse = false, token = TOKEN, chorusToken = token, fakeOptions = {}, onebotExtra = '', configExtra = '', env = {},
  waitConnected = true, logLevel, forwardPath = '/',
} = {}) {
  const fake = await startFakeOneBot({ token, ...fakeOptions });
  after(() => fake.close());
  const keys = reverse ? [`listen = ${luaString(REVERSE_PATH)}`] : ['url = env("ONEBOT_URL")'];
  if (chorusToken) keys.push('access_token = env("ONEBOT_ACCESS_TOKEN")');
  keys.push('call_timeout_ms = 1500', 'reconnect_min_ms = 20', 'reconnect_max_ms = 200');
  if (onebotExtra) keys.push(onebotExtra);
  const extra = `onebot { ${keys.join(', ')} }\n${configExtra}`;
  const stack = await startStack({
    configOptions: { extra, ...(logLevel ? { logLevel } : {}) },
    env: { ONEBOT_URL: fake.wsUrl.replace(/\/$/, forwardPath), ONEBOT_ACCESS_TOKEN: chorusToken || undefined, ...env },
    waitReady: false,
  });
  const chorus = stack.chorus;
  const reverseUrl = `ws://127.0.0.1:${chorus.port}${REVERSE_PATH}`;
  if (!reverse && waitConnected) {
    await fake.waitForConnection();
    await fake.waitForAction((a) => a.action === 'get_login_info');
  }
  return { fake, stack, chorus, token, reverseUrl };
}

// The bot's message that replies to event EV (the reply segment names it).
function replyTo(fake, ev, timeoutMs = 10000) {
  return fake.waitForSent((s) => s.replyTo === ev.message_id, timeoutMs);
}

module.exports = { startOneBotStack, replyTo, TOKEN, REVERSE_PATH };
