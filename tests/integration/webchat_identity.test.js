'use strict';
// Stories of web chat users who come back: the page says hello with the
// token chorusd gave it last time and is the same user again (its role,
// memory and budget follow it), across a restart too; a forged token buys
// nothing; an operator can make such a user a moderator; without Redis the
// browser is a guest, told why, and still answered.
const path = require('node:path');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const { test } = require('../lib/tap');
const { startStack } = require('../lib/stack');

const SRCDIR = process.env.CHORUS_SRCDIR ? path.resolve(process.env.CHORUS_SRCDIR) : path.resolve(__dirname, '..', '..');
const CHORUSCTL = process.env.CHORUSCTL || path.join(SRCDIR, 'src', 'chorusctl');

function ctl(stack, ...args) {
  const sock = /admin_socket "([^"]+)"/.exec(stack.config)[1];
  return new Promise((resolve) => {
    execFile(CHORUSCTL, [...args, '--socket', sock], { timeout: 10000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr }));
  });
}

// A browser tab: it says hello (with TOKEN if it has one) and learns who it is.
async function visit(stack, name, token) {
  const user = await stack.user(name);
  user.ws.sendJson({ type: 'hello', token: token || null });
  const identity = await user.ws.next((m) => m.type === 'identity', 5000, 'the identity frame');
  return { user, identity };
}

async function lastAuthor(stack, channel) {
  const turns = await stack.history(channel);
  return turns.filter((t) => t.role === 'user').at(-1).user;
}

test('a returning browser is the same user; a forged token gets a new identity', async () => {
  const stack = await startStack();
  const first = await visit(stack, 'Ann');
  assert.match(first.identity.user, /^u[0-9a-f]{24}$/);
  assert.match(first.identity.token, new RegExp(`^${first.identity.user}\\.[0-9a-f]{64}$`));
  await first.user.replyTo(first.user.say('lobby', 'my name is Ann'));
  assert.equal(await lastAuthor(stack, 'lobby'), first.identity.user);
  await first.user.ws.close();

  const again = await visit(stack, 'Ann', first.identity.token);
  assert.equal(again.identity.user, first.identity.user, 'the token brings the same user back');
  await again.user.replyTo(again.user.say('lobby', 'it is me again'));
  assert.equal(await lastAuthor(stack, 'lobby'), first.identity.user);

  const forged = first.identity.token.replace(/.$/, (c) => (c === '0' ? '1' : '0'));
  const intruder = await visit(stack, 'Mallory', forged);
  assert.notEqual(intruder.identity.user, first.identity.user, 'a token that does not verify is not that user');
  const other = await visit(stack, 'Mallory', `${first.identity.user}.${'0'.repeat(64)}`);
  assert.notEqual(other.identity.user, first.identity.user);

  // A page that never says hello stays a connection-scoped guest.
  const guest = await stack.user('Gus');
  await guest.replyTo(guest.say('hall', 'hi'));
  assert.match(await lastAuthor(stack, 'hall'), /^guest:[0-9a-f]{16}:u-gus$/);
});

test('chorusctl op webchat:<user> moderator works for that user, on every visit', async () => {
  const stack = await startStack();
  const ann = await visit(stack, 'Ann');
  const refused = await ann.user.replyTo(ann.user.say('lobby', '!chorus mute'));
  assert.equal(refused.text, 'Sorry, "mute [platform:channel]" needs the moderator role; you are user.');
  const op = await ctl(stack, 'op', `webchat:${ann.identity.user}`, 'moderator');
  assert.equal(op.code, 0, op.stderr);
  await ann.user.ws.close();
  const back = await visit(stack, 'Ann', ann.identity.token);
  const done = await back.user.replyTo(back.user.say('lobby', '!chorus mute'));
  assert.equal(done.text, 'Done.');
  const audit = JSON.parse((await ctl(stack, '--json', 'audit', '1')).stdout);
  assert.equal(audit[0].who, `webchat:${ann.identity.user}`);
  assert.equal(audit[0].role, 'moderator');
  const stranger = await visit(stack, 'Ben');
  const no = await stranger.user.replyTo(stranger.user.say('lobby', '!chorus unmute'));
  assert.match(no.text, /needs the moderator role; you are user/);
});

test('the identity outlives a restart: the key is kept in Redis', async () => {
  const first = await startStack();
  const ann = await visit(first, 'Ann');
  assert.equal(await first.chorus.stop(), 0);
  const second = await startStack({ redis: first.redis, fake: first.fake });
  const back = await visit(second, 'Ann', ann.identity.token);
  assert.equal(back.identity.user, ann.identity.user);
});

test('without Redis the browser is told it is a guest, and is still answered', async () => {
  const stack = await startStack({ redis: false });
  const tab = await visit(stack, 'Ann');
  assert.equal(tab.identity.user, null);
  assert.match(tab.identity.reason, /Redis is down/);
  const reply = await tab.user.replyTo(tab.user.say('lobby', 'anyone?'));
  assert.ok(reply.text.length > 0);
});
