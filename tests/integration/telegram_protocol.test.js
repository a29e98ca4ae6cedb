'use strict';
// Stories of a Telegram bot meeting what the Bot API documents but a
// friendly server rarely sends: update kinds the bot does not take, photos
// with captions and stickers, entities counted in UTF-16 after emoji,
// getUpdates refused (409 Conflict, 401, a proxy's 502 page, 429 with
// retry_after, a connection cut mid long-poll), replies refused (403
// blocked, 400 "can't parse entities"), and a webhook reached with the
// secret header as Telegram spells it, without it, with a body that is not
// JSON, with the same update twice, and through a proxy that forwards the
// body chunked (RFC 9112 7.1) instead of with a Content-Length.
const assert = require('node:assert/strict');
const { test, after } = require('../lib/tap');
const { startTelegramStack, replyTo, TOKEN } = require('../lib/telegram-stack');
const { startFakeTelegram } = require('../lib/fake-telegram');
const http = require('node:http');
const net = require('node:net');
const { waitFor, delay, freePort, httpRequest } = require('../lib/util');

const secretPart = TOKEN.split(':')[1];
const tokenFree = (chorus) => {
  const logs = chorus.logs().join('\n');
  return !logs.includes(TOKEN) && !logs.includes(secretPart);
};

test('Ann\'s message after updates of kinds the bot does not take is answered, and none of them comes again', async () => {
  const kinds = ['message', 'edited_channel_post', 'inline_query', 'poll', 'my_chat_member', 'chat_member', 'message_reaction_count'];
  const { fake, chorus } = await startTelegramStack({ telegramExtra: `allowed_updates = { ${kinds.map((k) => `"${k}"`).join(', ')} }` });
  await fake.waitForCall((c) => c.method === 'getUpdates');
  assert.deepEqual(fake.calls.find((c) => c.method === 'getUpdates').params.allowed_updates, kinds);
  const ann = fake.user({ first_name: 'Ann' });
  const dm = fake.privateChat(ann);
  const group = fake.supergroup('Readers');
  const bot = { id: fake.botId, is_bot: true, first_name: 'Chorus', username: fake.username };
  const member = (status) => ({ user: bot, status });
  fake.pushUpdate({ my_chat_member: { chat: { id: group.id, type: 'supergroup', title: 'Readers' }, from: ann, date: 1, old_chat_member: member('left'), new_chat_member: member('member') } });
  fake.pushUpdate({ chat_member: { chat: { id: group.id, type: 'supergroup', title: 'Readers' }, from: ann, date: 1, old_chat_member: { user: ann, status: 'left' }, new_chat_member: { user: ann, status: 'member' } } });
  fake.pushUpdate({ inline_query: { id: '4711', from: ann, query: 'cats', offset: '' } });
  fake.pushUpdate({ poll: { id: '99', question: 'Tea?', options: [{ text: 'yes', voter_count: 1 }], total_voter_count: 1, is_closed: false, is_anonymous: true, type: 'regular', allows_multiple_answers: false } });
  fake.pushUpdate({ message_reaction_count: { chat: { id: group.id, type: 'supergroup' }, message_id: 5, date: 1, reactions: [] } });
  fake.pushUpdate({ edited_channel_post: { message_id: 7, chat: { id: -1001234, type: 'channel', title: 'News' }, date: 1, edit_date: 2, photo: [{ file_id: 'x', file_unique_id: 'y', width: 1, height: 1 }] } });
  const m = fake.userSays(ann, dm, 'are you there?');
  assert.equal((await replyTo(fake, m)).text, 'echo: are you there?');
  await waitFor(() => fake.updates.length === 0, { what: 'every update confirmed' });
  for (const u of fake.history) assert.equal(fake.timesDelivered(u), 1, `update ${u.update_id} handed out once`);
  assert.equal(fake.sent.length, 1, 'only Ann\'s message was answered');
  await chorus.waitForLog(/update \d+ of a kind not handled \(inline_query\)/);
});

test('a photo whose caption mentions the bot after emoji is answered; a sticker and a photo without caption are not', async () => {
  const { fake } = await startTelegramStack();
  const ann = fake.user({ first_name: 'Ann' });
  const group = fake.supergroup('Pictures');
  const chat = { id: group.id, type: 'supergroup', title: 'Pictures' };
  const photo = [{ file_id: 'AgAD1', file_unique_id: 'u1', width: 90, height: 90, file_size: 1200 }];
  // 👩‍👩‍👧 is 8 UTF-16 units (three of 2, two joiners of 1), 🎉 two more, " look " six.
  const caption = `👩‍👩‍👧🎉 look @${fake.username} what is this?`;
  const at = caption.indexOf('@');
  assert.equal(at, 16, 'the mention starts 16 UTF-16 units in');
  const shot = fake.pushUpdate({ message: fake.store({ message_id: 301, from: ann, chat, date: 1, photo, caption, caption_entities: [{ type: 'mention', offset: at, length: fake.username.length + 1 }] }) });
  fake.pushUpdate({ message: { message_id: 302, from: ann, chat, date: 1, photo } });
  fake.pushUpdate({ message: { message_id: 303, from: ann, chat, date: 1, sticker: { file_id: 'CAAD', file_unique_id: 's1', type: 'regular', width: 512, height: 512, is_animated: false, is_video: false, emoji: '😀' } } });
  const dmSticker = fake.pushUpdate({ message: { message_id: 304, from: ann, chat: { id: ann.id, type: 'private', first_name: 'Ann' }, date: 1, sticker: { file_id: 'CAAD', file_unique_id: 's1', type: 'regular', width: 512, height: 512, is_animated: false, is_video: false, emoji: '😀' } } });
  const reply = await fake.waitForSent((s) => s.chat_id === group.id && s.reply_to === 301);
  assert.equal(reply.text, `echo: ${caption}`, 'the caption is what the bot answers');
  const dm = fake.privateChat(ann);
  const after = fake.userSays(ann, dm, 'and now?');
  await replyTo(fake, after);
  assert.equal(fake.sent.length, 2, 'no answer to the photo without caption or the stickers');
  assert.ok(shot && dmSticker);
});

test('in a group, mentions and commands after emoji are found by their UTF-16 offsets; /roll@OtherBot is not ours', async () => {
  const { fake } = await startTelegramStack();
  const ann = fake.user({ first_name: 'Ann' });
  const group = fake.supergroup('Emoji lovers');
  const far = fake.userSays(ann, group, `😀😀😀😀 hello @${fake.username}, are you there?`);
  assert.equal(far.entities[0].offset, 15, 'four emoji are eight UTF-16 units, plus " hello "');
  assert.equal((await replyTo(fake, far)).text, `echo: 😀😀😀😀 hello @${fake.username}, are you there?`);
  const near = fake.userSays(ann, group, `😀 hi @someone_else and @${fake.username.toUpperCase()}`);
  assert.ok((await replyTo(fake, near)).text.startsWith('echo: 😀 hi'), 'the bot\'s username is matched without regard to case');
  const other = fake.userSays(ann, group, '/start@SomeOtherBot');
  const decoy = fake.userSays(ann, group, `😀😀 @someone_else wrote ${fake.username}`);
  const last = fake.userSays(ann, group, `/start@${fake.username}`);
  await replyTo(fake, last);
  await delay(200);
  assert.equal(fake.sent.filter((s) => s.reply_to === other.message_id).length, 0, 'a command for another bot is not answered');
  assert.equal(fake.sent.filter((s) => s.reply_to === decoy.message_id).length, 0, 'a name without a mention entity is not a mention');
});

test('getUpdates answered 409 Conflict (a webhook or another poller): logged plainly, waited out, and polling goes on', async () => {
  const { fake, chorus } = await startTelegramStack();
  await fake.waitForCall((c) => c.method === 'getUpdates');
  fake.failNext.push({ method: 'getUpdates', code: 409, description: 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running' });
  fake.dropConnections();   // the poll under way ends; the next one meets the 409
  await fake.waitForCall((c) => c.method === 'getUpdates' && c.status === 409);
  await chorus.waitForLog(/getUpdates failed \(Conflict: terminated by other getUpdates request.*\); trying again in \d+ ms/);
  const ann = fake.user({ first_name: 'Ann' });
  const m = fake.userSays(ann, fake.privateChat(ann), 'still polling?');
  assert.equal((await replyTo(fake, m, 15000)).text, 'echo: still polling?');
  assert.equal(fake.timesDelivered(m), 1);
  assert.ok(tokenFree(chorus), 'no log line holds the token');
});

test('getUpdates answered 401: the token is refused, polling stops for good, /readyz and the log say so, without the token', async () => {
  const { fake, chorus } = await startTelegramStack();
  await fake.waitForCall((c) => c.method === 'getUpdates');
  fake.failNext.push({ method: 'getUpdates', code: 401, description: 'Unauthorized' });
  fake.dropConnections();
  await chorus.waitForLog(/getUpdates: Telegram refused the bot token \(Unauthorized\); polling stops/);
  const ready = await httpRequest(`${chorus.url}/readyz`);
  assert.equal(ready.status, 503, '/readyz no longer says ready');
  assert.match(ready.body, /telegram is not connected/);
  const polls = fake.calls.filter((c) => c.method === 'getUpdates').length;
  await delay(300);
  assert.equal(fake.calls.filter((c) => c.method === 'getUpdates').length, polls, 'no getUpdates after the 401');
  assert.ok(tokenFree(chorus), 'no log line holds the token');
});

test('a proxy\'s 502 page, a 504 and a connection cut mid long-poll: polling backs off, and every update is answered once', async () => {
  const { fake, chorus } = await startTelegramStack();
  const ann = fake.user({ first_name: 'Ann' });
  const dm = fake.privateChat(ann);
  await fake.waitForCall((c) => c.method === 'getUpdates');
  fake.failNext.push({ method: 'getUpdates', code: 502, raw: '<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>' });
  fake.dropConnections();
  await fake.waitForCall((c) => c.method === 'getUpdates' && c.status === 502);
  await chorus.waitForLog(/getUpdates: the answer \(HTTP 502\) is not a Bot API object\); trying again/);
  fake.failNext.push({ method: 'getUpdates', code: 504, description: 'Gateway Timeout' });
  await fake.waitForCall((c) => c.method === 'getUpdates' && c.status === 504);
  const first = fake.userSays(ann, dm, 'one');
  const answered = (await replyTo(fake, first, 15000)).date;
  const since = Date.now();
  assert.ok(answered);
  await fake.waitForCall((c) => c.method === 'getUpdates' && c.status === null && c.at >= since, 5000);
  fake.dropConnections();   // cut while the long poll waits
  const second = fake.userSays(ann, dm, 'two');
  await replyTo(fake, second, 15000);
  const third = fake.userSays(ann, dm, 'three');
  await replyTo(fake, third, 15000);
  await waitFor(() => fake.updates.length === 0, { what: 'every update confirmed' });
  for (const m of [first, second, third]) assert.equal(fake.sent.filter((s) => s.reply_to === m.message_id).length, 1, `"${m.text}" answered once`);
  assert.ok(tokenFree(chorus), 'no log line holds the token');
});

test('getUpdates answered 429 with parameters.retry_after: the bot waits that long, then takes the message', async () => {
  const { fake, chorus } = await startTelegramStack();
  await fake.waitForCall((c) => c.method === 'getUpdates');
  fake.force429.push({ method: 'getUpdates', retryAfter: 3 });
  fake.dropConnections();
  const limited = await fake.waitForCall((c) => c.method === 'getUpdates' && c.status === 429);
  await chorus.waitForLog(/getUpdates failed \(Too Many Requests: retry after 3\); trying again in 60 ms/);
  const ann = fake.user({ first_name: 'Ann' });
  const m = fake.userSays(ann, fake.privateChat(ann), 'after the wait');
  await replyTo(fake, m);
  const next = fake.calls.find((c) => c.method === 'getUpdates' && c.at > limited.at);
  assert.ok(next.at - limited.at >= 55, `the next getUpdates came ${next.at - limited.at} ms later (retry_after 3 s scaled is 60 ms)`);
});

test('Bob blocked the bot: sendMessage\'s 403 is logged once and not retried, and Ann is still answered', async () => {
  const { fake, chorus } = await startTelegramStack();
  const bob = fake.user({ first_name: 'Bob' });
  const ann = fake.user({ first_name: 'Ann' });
  fake.failNext.push({ method: 'sendMessage', code: 403, description: 'Forbidden: bot was blocked by the user' });
  const fromBob = fake.userSays(bob, fake.privateChat(bob), 'hi, then I block you');
  await chorus.waitForLog(/sendMessage to \d+: .*bot was blocked by the user/);
  const m = fake.userSays(ann, fake.privateChat(ann), 'hello');
  await replyTo(fake, m);
  await delay(200);
  assert.equal(fake.calls.filter((c) => c.method === 'sendMessage' && c.params.chat_id === bob.id).length, 1, 'the refused reply is not sent again');
  assert.ok(fromBob);
});

test('Telegram refuses the formatting ("can\'t parse entities"): the reply goes again as plain text and is not lost', async () => {
  const { fake, chorus } = await startTelegramStack({ telegramExtra: 'format = "markdown"' });
  const ann = fake.user({ first_name: 'Ann' });
  fake.failNext.push({ method: 'sendMessage', code: 400, description: 'Bad Request: can\'t parse entities: Can\'t find end of the entity starting at byte offset 6' });
  const m = fake.userSays(ann, fake.privateChat(ann), 'some **bold** words');
  const reply = await replyTo(fake, m);
  assert.equal(reply.parse_mode, undefined, 'sent again without parse_mode');
  assert.equal(reply.text, 'echo: some **bold** words', 'the text as written');
  await chorus.waitForLog(/refused the formatting of a reply/);
  assert.equal(fake.sent.filter((s) => s.reply_to === m.message_id).length, 1);
});

test('webhook: the secret header as Telegram spells it is accepted; a wrong or missing one and a body that is not JSON are refused, and a repeat is answered once', async () => {
  const port = await freePort();
  const secret = 'S3cret_hook-token';
  const { fake, chorus } = await startTelegramStack({
    telegramExtra: `webhook = { url = "http://127.0.0.1:${port}/tg/hook", secret = env("TG_HOOK_SECRET"), path = "/tg/hook" }`,
    listen: `127.0.0.1:${port}`,
    env: { TG_HOOK_SECRET: secret },
  });
  fake.webhook = null;   // this story posts the updates itself, as Telegram would
  const url = `${chorus.url}/tg/hook`;
  const ann = fake.user({ first_name: 'Ann' });
  const chat = { id: fake.privateChat(ann).id, type: 'private', first_name: 'Ann' };
  const update = (id, text) => ({ update_id: id, message: fake.store({ message_id: id, from: ann, chat, date: 1, text }) });
  const post = (body, headers) => httpRequest(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  await waitFor(() => chorus.logs().some((l) => /receiving updates by webhook/.test(l)), { what: 'the webhook route' });
  await delay(100);
  const ok = await post(update(900001, 'spelled as Telegram does'), { 'X-Telegram-Bot-Api-Secret-Token': secret });
  assert.equal(ok.status, 200);
  assert.equal((await fake.waitForSent((s) => s.reply_to === 900001)).text, 'echo: spelled as Telegram does');
  const wrong = await post(update(900002, 'forged'), { 'X-Telegram-Bot-Api-Secret-Token': 'not-it' });
  assert.ok(wrong.status === 401 || wrong.status === 403, `a wrong secret is refused (${wrong.status})`);
  const missing = await post(update(900003, 'no secret at all'), {});
  assert.ok(missing.status === 401 || missing.status === 403, `a missing secret is refused (${missing.status})`);
  const junk = await post('{"update_id": 900004, "message": ', { 'X-Telegram-Bot-Api-Secret-Token': secret });
  assert.equal(junk.status, 400, 'a body that is not JSON is a bad request');
  await chorus.waitForLog(/webhook request whose body is not a JSON update was refused/);
  const again = await post(update(900001, 'spelled as Telegram does'), { 'x-telegram-bot-api-secret-token': secret });
  assert.equal(again.status, 200, 'a repeat is acknowledged');
  const next = await post(update(900005, 'the next one'), { 'X-TELEGRAM-BOT-API-SECRET-TOKEN': secret });
  assert.equal(next.status, 200);
  await fake.waitForSent((s) => s.reply_to === 900005);
  assert.equal(fake.sent.filter((s) => s.reply_to === 900001).length, 1, 'the repeated update is answered once');
  assert.equal(fake.sent.filter((s) => s.reply_to === 900002 || s.reply_to === 900003).length, 0, 'refused requests are not processed');
  assert.ok(!chorus.logs().join('\n').includes(secret), 'the secret is never logged');
});

// Send REQUEST (headers and body as bytes) on a fresh socket, without
// half-closing it (as proxies do not), and read until the server closes it;
// resolve with the status and the head in lower case.
function rawHttp(port, request) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks = [];
    sock.setTimeout(5000, () => sock.destroy(new Error('no answer within 5 s')));
    sock.on('data', (c) => chunks.push(c));
    sock.on('error', reject);
    sock.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const m = /^HTTP\/1\.1 (\d+)/.exec(text);
      if (!m) return reject(new Error(`not an HTTP answer: ${JSON.stringify(text.slice(0, 200))}`));
      resolve({ status: Number(m[1]), head: text.split('\r\n\r\n')[0].toLowerCase(), text });
    });
    sock.write(request);
  });
}

test('webhook behind a proxy that forwards updates chunked (no Content-Length): they are answered; a chunked body too large gets 413 and broken chunk framing 400', async () => {
  const port = await freePort();
  const secret = 'behind_a-proxy';
  const { fake, chorus } = await startTelegramStack({
    telegramExtra: `webhook = { url = "http://127.0.0.1:${port}/tg/hook", secret = env("TG_HOOK_SECRET"), path = "/tg/hook" }`,
    listen: `127.0.0.1:${port}`,
    env: { TG_HOOK_SECRET: secret },
  });
  fake.webhook = null;   // this story posts the updates itself, as the proxy would
  await waitFor(() => chorus.logs().some((l) => /receiving updates by webhook/.test(l)), { what: 'the webhook route' });
  const ann = fake.user({ first_name: 'Ann' });
  const chat = { id: fake.privateChat(ann).id, type: 'private', first_name: 'Ann' };
  const update = (id, text) => JSON.stringify({ update_id: id, message: fake.store({ message_id: id, from: ann, chat, date: 1, text }) });
  // Node's client sends a body of unknown length chunked, as nginx or a
  // Cloudflare tunnel may forward Telegram's POST.
  const chunkedPost = (pieces, headers = {}) => new Promise((resolve, reject) => {
    const req = http.request(`${chorus.url}/tg/hook`, { method: 'POST', agent: false,
      headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': secret, ...headers } }, (res) => {
      const got = [];
      res.on('data', (c) => got.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(got).toString('utf8') }));
    });
    req.on('error', reject);
    for (const p of pieces) req.write(p);
    req.end();
  });
  const body = update(910001, 'sent through the proxy');
  const ok = await chunkedPost([body.slice(0, 10), body.slice(10, 11), body.slice(11)]);
  assert.equal(ok.status, 200, `a chunked update is taken (${ok.status} ${ok.body})`);
  assert.equal((await fake.waitForSent((s) => s.reply_to === 910001)).text, 'echo: sent through the proxy');
  assert.equal(ok.headers.connection, 'close', 'the connection is closed after the answer');

  // A proxy that adds chunk extensions and a trailer (RFC 9112 7.1).
  const second = update(910002, 'with extensions');
  const framed = `${second.length.toString(16)};src=proxy\r\n${second}\r\n0\r\nx-trace: 1\r\n\r\n`;
  const head = `POST /tg/hook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Telegram-Bot-Api-Secret-Token: ${secret}\r\nTransfer-Encoding: chunked\r\n\r\n`;
  assert.equal((await rawHttp(port, head + framed)).status, 200);
  await fake.waitForSent((s) => s.reply_to === 910002);

  const big = 'x'.repeat(64 * 1024);
  const tooLarge = await chunkedPost(Array.from({ length: 20 }, () => big));
  assert.equal(tooLarge.status, 413, 'a chunked body over the 1 MB limit is refused');

  const broken = await rawHttp(port, `${head}5\r\n{"upd\r\nZZ\r\n`);
  assert.equal(broken.status, 400, 'broken chunk framing is a bad request');
  assert.match(broken.head, /connection: close/);
  await chorus.waitForLog(/chunked request body whose framing is broken was refused/);
  const both = await rawHttp(port, head.replace('Transfer-Encoding', 'Content-Length: 5\r\nTransfer-Encoding') + framed);
  assert.equal(both.status, 400, 'Content-Length and Transfer-Encoding together are refused (RFC 9112 6.3)');
  const gzip = await rawHttp(port, head.replace('chunked', 'gzip, chunked') + framed);
  assert.equal(gzip.status, 501, 'a transfer coding other than chunked is not implemented');
  const noLength = await rawHttp(port, `POST /tg/hook HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Telegram-Bot-Api-Secret-Token: ${secret}\r\n\r\n`);
  assert.equal(noLength.status, 411, 'neither a length nor chunked coding: 411, and the socket is closed rather than left hanging');

  const after = await httpRequest(`${chorus.url}/tg/hook`, { method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Telegram-Bot-Api-Secret-Token': secret }, body: update(910003, 'and with a length') });
  assert.equal(after.status, 200, 'an update with Content-Length is still taken');
  await fake.waitForSent((s) => s.reply_to === 910003);
  assert.equal(fake.sent.filter((s) => s.reply_to === 910001 || s.reply_to === 910002).length, 2, 'each chunked update answered once');
});

test('after a week without updates Telegram numbers them afresh from a random, lower id: the bot still answers them', async () => {
  const port = await freePort();
  const secret = 'quiet_week-hook';
  const { fake, chorus } = await startTelegramStack({
    telegramExtra: `webhook = { url = "http://127.0.0.1:${port}/tg/hook", secret = env("TG_HOOK_SECRET"), path = "/tg/hook" }`,
    listen: `127.0.0.1:${port}`,
    env: { TG_HOOK_SECRET: secret },
  });
  fake.webhook = null;   // this story posts the updates itself, as Telegram would
  await waitFor(() => chorus.logs().some((l) => /receiving updates by webhook/.test(l)), { what: 'the webhook route' });
  await delay(100);
  const ann = fake.user({ first_name: 'Ann' });
  const chat = { id: fake.privateChat(ann).id, type: 'private', first_name: 'Ann' };
  const post = (id, text) => httpRequest(`${chorus.url}/tg/hook`, { method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Telegram-Bot-Api-Secret-Token': secret },
    body: JSON.stringify({ update_id: id, message: fake.store({ message_id: id % 100000, from: ann, chat, date: 1, text }) }) });
  assert.equal((await post(734211877, 'before the quiet week')).status, 200);
  await fake.waitForSent((s) => s.reply_to === 734211877 % 100000);
  // "If there are no new updates for at least a week, then identifier of the
  // next update will be chosen randomly instead of sequentially." (Update)
  assert.equal((await post(51203044, 'a week later')).status, 200);
  assert.equal((await fake.waitForSent((s) => s.reply_to === 51203044 % 100000)).text, 'echo: a week later');
  assert.equal((await post(51203045, 'and again')).status, 200);
  await fake.waitForSent((s) => s.reply_to === 51203045 % 100000);
  assert.equal((await post(51203044, 'a week later')).status, 200, 'a repeat of the new numbering is acknowledged');
  await delay(200);
  assert.equal(fake.sent.filter((s) => s.reply_to === 51203044 % 100000).length, 1, 'and answered once');
});

test('an anonymous group admin (from is @GroupAnonymousBot, sender_chat the group) is answered; the channel\'s automatic forward is not', async () => {
  const { fake } = await startTelegramStack();
  const group = fake.supergroup('Admins corner');
  const chat = { id: group.id, type: 'supergroup', title: 'Admins corner' };
  const anonymousBot = { id: 1087968824, is_bot: true, first_name: 'Group', username: 'GroupAnonymousBot' };
  const text = `@${fake.username} post the rules please`;
  fake.pushUpdate({ message: fake.store({ message_id: 41, from: anonymousBot, sender_chat: chat, chat, date: 1, text,
    entities: [{ type: 'mention', offset: 0, length: fake.username.length + 1 }] }) });
  const reply = await fake.waitForSent((s) => s.chat_id === group.id && s.reply_to === 41);
  assert.equal(reply.text, 'echo: post the rules please');
  const channel = { id: -1009876543210, type: 'channel', title: 'Announcements' };
  const channelBot = { id: 136817688, is_bot: true, first_name: 'Channel', username: 'Channel_Bot' };
  const fwd = `@${fake.username} new post in the channel`;
  fake.pushUpdate({ message: fake.store({ message_id: 42, from: channelBot, sender_chat: channel, chat, date: 1, text: fwd,
    is_automatic_forward: true, forward_origin: { type: 'channel', chat: channel, message_id: 7, date: 1 },
    entities: [{ type: 'mention', offset: 0, length: fake.username.length + 1 }] }) });
  const ann = fake.user({ first_name: 'Ann' });
  await replyTo(fake, fake.userSays(ann, group, `@${fake.username} and me?`));
  await delay(200);
  assert.equal(fake.sent.filter((s) => s.reply_to === 42).length, 0, 'the automatic forward of a channel post is not answered');
});

test('webhook: updates that arrive before the bot knows who it is are refused with 503, for Telegram to send again', async () => {
  const port = await freePort();
  const secret = 'early_bird-hook';
  const fake = await startFakeTelegram({ token: TOKEN, timeScale: 0.02 });
  after(() => fake.close());
  fake.failNext.push({ method: 'getMe', code: 401, description: 'Unauthorized' });
  const { chorus } = await startTelegramStack({
    fake, waitReady: false,
    telegramExtra: `webhook = { url = "http://127.0.0.1:${port}/tg/hook", secret = env("TG_HOOK_SECRET"), path = "/tg/hook" }`,
    listen: `127.0.0.1:${port}`,
    env: { TG_HOOK_SECRET: secret },
  });
  await chorus.waitForLog(/getMe: Telegram refused the bot token/);
  const ann = fake.user({ first_name: 'Ann' });
  const chat = { id: fake.privateChat(ann).id, type: 'private', first_name: 'Ann' };
  const res = await httpRequest(`${chorus.url}/tg/hook`, { method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Telegram-Bot-Api-Secret-Token': secret },
    body: JSON.stringify({ update_id: 700100200, message: fake.store({ message_id: 9, from: ann, chat, date: 1, text: 'too early' }) }) });
  assert.equal(res.status, 503, 'not taken: Telegram keeps it and tries again');
  await delay(200);
  assert.equal(fake.calls.filter((c) => c.method === 'sendMessage' || c.method === 'sendChatAction').length, 0, 'nothing was answered');
});

test('a server that answers getUpdates at once with nothing (no long polling) is not asked again in a tight loop', async () => {
  const { fake, chorus } = await startTelegramStack();
  await fake.waitForCall((c) => c.method === 'getUpdates');
  fake.shortPolling = true;
  fake.dropConnections();   // the poll under way ends; the next ones are answered at once
  await chorus.waitForLog(/getUpdates answered at once with nothing/);
  const since = Date.now();
  const ann = fake.user({ first_name: 'Ann' });
  const m = fake.userSays(ann, fake.privateChat(ann), 'still there?');
  await replyTo(fake, m, 15000);
  await delay(300);
  const polls = fake.calls.filter((c) => c.method === 'getUpdates' && c.at >= since).length;
  const ms = Date.now() - since;
  assert.ok(polls <= ms / 10 + 3, `${polls} getUpdates in ${ms} ms (one a second, scaled: one per 20 ms)`);
});

test('a server that ignores offset and hands out the same updates again: answered once, and not asked again in a tight loop', async () => {
  const { fake, chorus } = await startTelegramStack();
  const ann = fake.user({ first_name: 'Ann' });
  const dm = fake.privateChat(ann);
  fake.ignoreOffset = true;
  fake.shortPolling = true;
  const m = fake.userSays(ann, dm, 'only once, please');
  await replyTo(fake, m);
  await chorus.waitForLog(/getUpdates handed out only updates already taken/);
  const since = Date.now();
  await delay(300);
  const polls = fake.calls.filter((c) => c.method === 'getUpdates' && c.at >= since).length;
  const ms = Date.now() - since;
  assert.ok(polls <= ms / 10 + 3, `${polls} getUpdates in ${ms} ms (one a second, scaled: one per 20 ms)`);
  assert.equal(fake.sent.filter((s) => s.reply_to === m.message_id).length, 1, 'answered once');
});

test('a Bot API server that writes JSON as Python and PHP do (\\uXXXX for emoji, \\/ for slashes): mentions after emoji still found', async () => {
  const { fake } = await startTelegramStack({ fakeOptions: { jsonStyle: { ascii: true, slashes: true, spaced: true } } });
  const ann = fake.user({ first_name: 'Zoë' });
  const group = fake.supergroup('Café ☕');
  const m = fake.userSays(ann, group, `😀 é https://example.org/a/b @${fake.username} hé?`);
  const reply = await replyTo(fake, m);
  assert.equal(reply.text, `echo: 😀 é https://example.org/a/b @${fake.username} hé?`);
  const dm = fake.userSays(ann, fake.privateChat(ann), '/start');
  assert.ok((await replyTo(fake, dm)).text.length > 0);
});
