'use strict';
// The cast for a Telegram story: the fake Bot API, the fake model, Redis and
// chorusd configured with a `telegram { ... }` statement pointing at the fake.
//
//   const { fake, stack } = await startTelegramStack();
//   const ann = fake.user({ first_name: 'Ann' });
//   const m = fake.userSays(ann, fake.privateChat(ann), 'hi');
//   const reply = await replyTo(fake, m);

const { startFakeTelegram } = require('./fake-telegram');
const { startStack } = require('./stack');
const { luaString } = require('./util');
const { after } = require('./tap');

const TOKEN = '7012345678:AAH-fake_Telegram-token-for-tests-0123';

// TIME_SCALE 0.02: Telegram's 1 message/s per chat becomes 20 ms, its
// minute per group 1.2 s, retry_after 1 s 20 ms, the 50 s long poll 1 s.
async function startTelegramStack({ timeScale = 0.02, fakeOptions = {}, telegramExtra = '', configExtra = '', env = {}, redis, listen, logLevel, waitReady = true, fake: given } = {}) {
  const fake = given || await startFakeTelegram({ token: TOKEN, timeScale, ...fakeOptions });
  if (!given) after(() => fake.close());
  const keys = [
    'token = env("TELEGRAM_TOKEN")',
    `api_url = ${luaString(fake.apiRoot)}`,
    `time_scale = ${timeScale}`,
  ];
  if (telegramExtra) keys.push(telegramExtra);
  const extra = `telegram { ${keys.join(', ')} }\n${configExtra}`;
  const stack = await startStack({ redis, configOptions: { extra, ...(listen ? { listen } : {}), ...(logLevel ? { logLevel } : {}) }, env: { TELEGRAM_TOKEN: TOKEN, ...env }, waitReady: false });
  if (waitReady) await fake.waitForCall((c) => c.method === 'getUpdates' || c.method === 'setWebhook', 10000);
  return { fake, stack, chorus: stack.chorus, token: TOKEN };
}

// The bot's reply (first piece) to the user's message M.
function replyTo(fake, m, timeoutMs = 10000) {
  return fake.waitForSent((s) => s.chat_id === m.chat.id && s.reply_to === m.message_id, timeoutMs);
}

module.exports = { startTelegramStack, replyTo, TOKEN };
