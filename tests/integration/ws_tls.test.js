'use strict';
// A bot that dials its platform over wss:// checks who answers. Here the
// platform is a OneBot implementation serving TLS with a certificate of its
// own: chorusd refuses it while nobody vouches for the certificate, says so
// in the log, and talks once the certificate's CA is trusted. The websocket
// layer (io/ws_client.c) is the one Discord, Slack and Mattermost use too.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { test, after } = require('../lib/tap');
const { startOneBotStack, replyTo } = require('../lib/onebot-stack');
const { delay } = require('../lib/util');

// A self-signed certificate for localhost, made with the openssl CLI.
function makeCertificate() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chorus-tls-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const key = path.join(dir, 'server.key');
  const cert = path.join(dir, 'server.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'], { stdio: 'ignore' });
  return { key, cert };
}

test('over wss:// the bot refuses a certificate nobody vouches for, and talks once its CA is trusted', { timeout: 30000 }, async () => {
  const tls = makeCertificate();

  // Nobody vouches for the certificate: no upgrade ever reaches the implementation.
  const wary = await startOneBotStack({ fakeOptions: { tls, host: 'localhost' }, waitConnected: false });
  await wary.chorus.waitForLog(/onebot: the connection failed: .*(certificate|verify|tls|ssl)/i, 10000);
  await delay(300);
  assert.equal(wary.fake.conns.length, 0, 'no websocket was opened with an untrusted server');
  assert.ok(wary.fake.tlsErrors.length > 0, 'the TLS handshake itself was refused');

  // Trusted through SSL_CERT_FILE (OpenSSL's default verify paths): it connects and answers.
  const { fake } = await startOneBotStack({ fakeOptions: { tls, host: 'localhost' }, env: { SSL_CERT_FILE: tls.cert } });
  assert.match(fake.wsUrl, /^wss:\/\/localhost:/);
  const ann = fake.user({ nickname: 'Ann' });
  const ev = fake.privateMessage(ann, 'are you there?');
  const sent = await replyTo(fake, ev);
  assert.ok(sent, 'the bot answered over TLS');
  assert.equal(fake.violations.length, 0, fake.violations.map((v) => v.what).join('; '));
});
