'use strict';
// The cast for a Slack story: the fake Slack, the fake model, Redis and
// chorusd configured with a `slack { ... }` statement pointing at the fake.
//
//   const { fake, stack } = await startSlackStack();
//   await fake.waitForHello(2);
//   const m = fake.userMessage({ dm: true, text: 'hi' });
//   const reply = await fake.waitForPost((p) => p.text === 'echo: hi');

const { startFakeSlack } = require('./fake-slack');
const { startStack } = require('./stack');
const { luaString } = require('./util');
const { after } = require('../lib/tap');

const APP_TOKEN = 'xapp-1-A0FAKEAPP-1234567890-fakeapptokenforthetests';
const BOT_TOKEN = 'xoxb-1234567890-1234567890-fakebottokenforthetests';

// TIME_SCALE shrinks the reconnect backoff and the tier windows; the fake's
// tier window is shrunk the same way.
async function startSlackStack({ timeScale = 0.01, fakeOptions = {}, slackExtra = '', configExtra = '', env = {}, waitHello = 2, redis } = {}) {
  const fake = await startFakeSlack({ appToken: APP_TOKEN, botToken: BOT_TOKEN, ackTimeoutMs: 1000, rateWindowMs: 60000 * timeScale, ...fakeOptions });
  after(() => fake.close());
  const keys = [
    'app_token = env("SLACK_APP_TOKEN")',
    'bot_token = env("SLACK_BOT_TOKEN")',
    `api_url = ${luaString(fake.apiUrl)}`,
    `time_scale = ${timeScale}`,
  ];
  if (slackExtra) keys.push(slackExtra);
  const extra = `slack { ${keys.join(', ')} }\n${configExtra}`;
  const stack = await startStack({ redis, configOptions: { extra }, env: { SLACK_APP_TOKEN: APP_TOKEN, SLACK_BOT_TOKEN: BOT_TOKEN, ...env }, waitReady: false });
  if (waitHello) await fake.waitForHello(waitHello, 10000);
  return { fake, stack, chorus: stack.chorus };
}

module.exports = { startSlackStack, APP_TOKEN, BOT_TOKEN };
