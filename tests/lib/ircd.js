'use strict';
// Real IRC servers from Debian (ngircd, inspircd) on free loopback ports,
// each with a config file generated into its own temp folder.
//
//   const ircd = await startNgircd();                 // or startInspircd({ flood })
//   ircd.url                                          // irc://127.0.0.1:PORT
//   await ircd.stop(); await ircd.start();            // a server restart, same port
//
// startNgircd({ tls: true }) also listens with TLS on ircd.tlsPort, with a
// self-signed certificate for 127.0.0.1 and localhost (ircd.caFile).
// startInspircd({ flood: { commandrate, threshold } }) sets the connect
// class's flood limits; fakelag is off, so a client over the limit is quit
// with "Excess Flood", as on networks that kill flooders.
//
// startServicesNet() is a network with accounts: InspIRCd with every IRCv3
// module Debian ships (sasl, account-tag, msgid, labeled-response, batch,
// echo-message, server-time) and channel history (mode +H, replayed on
// JOIN) linked to Atheme services (NickServ, SaslServ), each with its own
// datastore in a temp folder.
//   const net = await startServicesNet();
//   await net.register('chorus', 'a password');     // a NickServ account
//   net.ircd.stop() / start()                        // the IRC server restarts; services relink

const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');
const { trackChild, after, onFailure } = require('./tap');
const { freePort, tempDir, delay } = require('./util');

// Where Debian puts the daemons; PATH first.
function findBinary(name) {
  for (const dir of (process.env.PATH || '').split(':').concat(['/usr/sbin', '/usr/bin', '/sbin'])) {
    const p = path.join(dir, name);
    if (dir && fs.existsSync(p)) return p;
  }
  throw new Error(`${name} not found (apt-get install ${name})`);
}

// A self-signed certificate for 127.0.0.1 and localhost, made with the openssl CLI.
function makeCertificate(dir) {
  const key = path.join(dir, 'server.key');
  const cert = path.join(dir, 'server.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  fs.chmodSync(key, 0o644);   /* ngircd reads it after dropping to nobody */
  return { key, cert };
}

// Resolve once something accepts connections on PORT.
async function waitListening(port, timeoutMs, what, proc) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${what} exited before listening`);
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port} within ${timeoutMs} ms`);
    await delay(30);
  }
}

// Run the daemon described by SPEC ({ name, argv(), ports }) with stop/start.
// Without a port to wait for, it is taken as up once spawned.
async function runDaemon(spec) {
  const logs = [];
  let proc = null;
  const server = {
    host: '127.0.0.1',
    port: spec.port,
    tlsPort: spec.tlsPort,
    caFile: spec.caFile,
    url: `irc://127.0.0.1:${spec.port}`,
    tlsUrl: spec.tlsPort ? `ircs://127.0.0.1:${spec.tlsPort}` : null,
    dir: spec.dir,
    logs,
    async start() {
      proc = spawn(spec.bin, spec.args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: spec.dir });
      trackChild(proc);
      const keep = (d) => { for (const l of String(d).split('\n')) if (l) logs.push(`${spec.name}: ${l}`); if (logs.length > 400) logs.splice(0, logs.length - 400); };
      proc.stdout.on('data', keep);
      proc.stderr.on('data', keep);
      if (spec.port) await waitListening(spec.port, 10000, spec.name, proc);
      if (spec.tlsPort) await waitListening(spec.tlsPort, 10000, spec.name, proc);
    },
    // Stop it (SIGKILL: the server "crashes", every client is cut off).
    async stop() {
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      const p = proc;
      const gone = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await gone;
    },
    pid() { return proc ? proc.pid : null; },
  };
  await server.start();
  after(() => server.stop());
  onFailure(() => logs.slice(-60).join('\n'));
  return server;
}

// ngIRCd 26 with CAP (multi-prefix only), flood control built in.
async function startNgircd({ tls = false, motd = 'chorus test server' } = {}) {
  const dir = tempDir('ngircd');
  fs.chmodSync(dir, 0o755);
  const port = await freePort();
  const tlsPort = tls ? await freePort() : null;
  const lines = [
    '[Global]',
    'Name = irc.ngircd.test',
    'Info = chorus test server',
    'AdminInfo1 = chorus tests',
    'AdminEMail = tests@localhost',
    'Listen = 127.0.0.1',
    `Ports = ${port}`,
    `MotdPhrase = "${motd}"`,
    `PidFile = ${path.join(dir, 'ngircd.pid')}`,
    '[Limits]',
    'MaxNickLength = 30',
    'PingTimeout = 120',
    'PongTimeout = 20',
    'ConnectRetry = 60',
    'MaxConnectionsIP = 0',
    '[Options]',
    'PAM = no',
    'DNS = no',
    'Ident = no',
  ];
  let caFile = null;
  if (tls) {
    const { key, cert } = makeCertificate(dir);
    caFile = cert;
    lines.push('[SSL]', `CertFile = ${cert}`, `KeyFile = ${key}`, `Ports = ${tlsPort}`);
  }
  const conf = path.join(dir, 'ngircd.conf');
  fs.writeFileSync(conf, `${lines.join('\n')}\n`);
  fs.chmodSync(conf, 0o644);
  return runDaemon({ name: 'ngircd', bin: findBinary('ngircd'), args: ['-n', '-f', conf], port, tlsPort, caFile, dir });
}

// InspIRCd 3 with IRCv3 capabilities (message-tags, server-time,
// echo-message) and strict flood limits; with SERVICES ({ name, port,
// password }) also the modules for accounts and a link for the services.
async function startInspircd({ flood = { commandrate: 1000, threshold: 10 }, password = null, recvq = 8192, services = null } = {}) {
  const dir = tempDir('inspircd');
  fs.chmodSync(dir, 0o755);
  const port = await freePort();
  const linkPort = services ? await freePort() : null;   // where InspIRCd would dial; Atheme dials in instead
  const motd = path.join(dir, 'motd.txt');
  fs.writeFileSync(motd, 'chorus test server\n');
  const conf = [
    `<server name="irc.inspircd.test" description="chorus test server" network="ChorusTest"${services ? ' id="001"' : ''}>`,
    '<admin name="chorus tests" nick="admin" email="tests@localhost">',
    `<bind address="127.0.0.1" port="${port}" type="clients">`,
    `<connect name="main" allow="*" timeout="60" pingfreq="120" hardsendq="1048576" softsendq="8192" recvq="${recvq}"`
      + ` threshold="${flood.threshold}" commandrate="${flood.commandrate}" fakelag="no" localmax="50" globalmax="50"`
      + ` useident="no" resolvehostnames="no"${password ? ` password="${password}"` : ''}>`,
    `<files motd="${motd}">`,
    `<pid file="${path.join(dir, 'inspircd.pid')}">`,
    '<dns server="127.0.0.1" timeout="1">',
    '<options prefixquit="Quit: " syntaxhints="no" announcets="yes" hostintopic="yes" pingwarning="15" splitwhois="no" exemptchanops="">',
    '<security hideserver="" userstats="Pu" customversion="" flatlinks="no" hidesplits="no" hideulines="no" hidebans="no" maxtargets="20">',
    '<limits maxnick="30" maxchan="64" maxmodes="20" maxident="10" maxquit="255" maxtopic="307" maxkick="255" maxreal="128" maxgecos="128" maxaway="200">',
    `<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="${path.join(dir, 'ircd.log')}">`,
    '<module name="cap">',
    '<module name="ircv3">',
    '<module name="ircv3_capnotify">',
    '<module name="ircv3_servertime">',
    '<module name="ircv3_echomessage">',
    '<module name="ircv3_ctctags">',
  ];
  if (services) {
    conf.push(
      `<bind address="127.0.0.1" port="${services.port}" type="servers">`,
      '<module name="ircv3_msgid">', '<module name="ircv3_accounttag">', '<module name="ircv3_batch">',
      '<module name="ircv3_labeledresponse">', '<module name="services_account">', '<module name="sasl">',
      '<module name="spanningtree">', '<module name="chanhistory">', '<chanhistory maxlines="50" notice="no" bots="yes">',
      `<sasl target="${services.name}">`,
      `<link name="${services.name}" ipaddr="127.0.0.1" port="${linkPort}" allowmask="127.0.0.0/8" sendpass="${services.password}" recvpass="${services.password}">`,
      `<uline server="${services.name}" silent="yes">`,
    );
  }
  const text = conf.join('\n');
  const file = path.join(dir, 'inspircd.conf');
  fs.writeFileSync(file, `${text}\n`);
  const args = ['--config', file, '--nofork', '--nopid'];
  if (process.getuid && process.getuid() === 0) args.push('--runasroot');
  return runDaemon({ name: 'inspircd', bin: findBinary('inspircd'), args, port, dir });
}

// Atheme's config: NickServ (REGISTER, IDENTIFY) and SaslServ (PLAIN),
// linked to InspIRCd at PORT, its database in DIR.
function athemeConf({ dir, name, port, password }) {
  return `loadmodule "modules/protocol/inspircd";
loadmodule "modules/backend/opensex";
loadmodule "modules/crypto/pbkdf2v2";
loadmodule "modules/nickserv/main";
loadmodule "modules/nickserv/register";
loadmodule "modules/nickserv/identify";
loadmodule "modules/saslserv/main";
loadmodule "modules/saslserv/plain";
serverinfo {
  name = "${name}"; desc = "chorus test services"; numeric = "00A"; recontime = 1;
  netname = "ChorusTest"; hidehostsuffix = "users.test"; adminname = "chorus tests";
  adminemail = "tests@localhost"; registeremail = "noreply@localhost"; mta = "/bin/true";
  loglevel = { error; info; admin; network; }; maxlogins = 5; maxusers = 5; mdlimit = 30;
  emaillimit = 10; emailtime = 300; auth = none; casemapping = rfc1459;
};
uplink "irc.inspircd.test" { host = "127.0.0.1"; password = "${password}"; port = ${port}; };
nickserv { nick = "NickServ"; user = "NickServ"; host = "${name}"; real = "Nickname Services"; maxnicks = 5; expire = 30; };
saslserv { nick = "SaslServ"; user = "SaslServ"; host = "${name}"; real = "SASL Authentication Agent"; };
general {
  helpchan = "#help"; permanent_channelmode = ""; uflags = { hidemail; }; cflags = { guard; verbose; };
  flood_msgs = 7; flood_time = 10; ratelimit_uses = 50; ratelimit_period = 60; kline_time = 7;
  commit_interval = 5; default_clone_allowed = 50; default_clone_warn = 40; uplink_sendq_limit = 1048576;
  language = "en"; immune_level = immune;
};
logfile "${path.join(dir, 'atheme.log')}" { error; info; admin; network; };
`;
}

// InspIRCd and Atheme on loopback; resolves once the services have linked
// (the server offers sasl only then).
async function startServicesNet({ flood } = {}) {
  const link = { name: 'services.test', port: await freePort(), password: `link-${process.pid}` };
  const ircd = await startInspircd({ flood, services: link });
  const dir = tempDir('atheme');
  const conf = path.join(dir, 'atheme.conf');
  fs.writeFileSync(conf, athemeConf({ dir, name: link.name, port: link.port, password: link.password }));
  const services = await runDaemon({
    name: 'atheme', bin: findBinary('atheme-services'), dir,
    args: ['-n', '-c', conf, '-D', dir, '-l', path.join(dir, 'atheme.log'), '-p', path.join(dir, 'atheme.pid')],
  });
  await waitForSasl(ircd.port, 15000);
  return {
    ircd,
    services,
    url: ircd.url,
    port: ircd.port,
    // Register NICK's account with NickServ, as a person would; resolves
    // once NickServ has confirmed it.
    async register(nick, password) {
      const { ircUser } = require('./irc-client');
      const u = await ircUser(ircd, nick);
      u.say('NickServ', `REGISTER ${password} ${nick}@example.org`);
      await u.waitLine((m) => m.nick === 'NickServ' && /registered/i.test(m.params[1]), { what: 'NickServ REGISTER' });
      await u.quit();
    },
    waitForSasl: (timeoutMs = 15000) => waitForSasl(ircd.port, timeoutMs),
  };
}

// Resolve once a client on PORT is offered sasl (the services have linked).
async function waitForSasl(port, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const offered = await new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => s.write('CAP LS 302\r\n'));
      let buf = '';
      s.on('data', (d) => {
        buf += d;
        if (!buf.includes('\n')) return;
        s.destroy();
        resolve(/ CAP \S+ LS .*\bsasl\b/.test(buf));
      });
      s.on('error', () => resolve(false));
    });
    if (offered) return;
    if (Date.now() > deadline) throw new Error(`the services did not link within ${timeoutMs} ms`);
    await delay(100);
  }
}

module.exports = { startNgircd, startInspircd, startServicesNet };
