'use strict';
// A Redis master, its replica and three sentinels on free loopback ports,
// the real Debian binaries (redis-server, redis-sentinel), as a small
// high-availability deployment looks:
//
//   const ha = await startSentinelSet({ master: 'mymaster' });
//   ha.sentinelAddrs          // ["127.0.0.1:P1", ...]
//   await ha.killMaster();    // kill -9 the current master
//   await ha.waitSwitch(oldPort) // resolves with the new master's port
//
// Timings are small so a failover takes a few seconds: down-after 500 ms.

const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { trackChild, after, onFailure, diag } = require('./tap');
const { RespClient } = require('./redis');
const { freePort, tempDir, delay, waitFor } = require('./util');

function binary(name, env) {
  return process.env[env] || name;
}

// One server process (redis-server or redis-sentinel) with its output kept.
async function launch(bin, args, port, label, password) {
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(proc);
  const out = [];
  for (const s of [proc.stdout, proc.stderr]) {
    s.setEncoding('utf8');
    s.on('data', (d) => {
      out.push(...d.split('\n').filter(Boolean));
      if (out.length > 300) out.splice(0, out.length - 300);
    });
  }
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  const node = { proc, port, out, exited, label, client: new RespClient(port, password) };
  node.cmd = (...a) => node.client.cmd(...a);
  node.kill = async () => {
    node.client.close();
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await exited;
    }
  };
  after(() => node.kill());
  onFailure(() => `${label} :${port} last output:\n${out.slice(-8).join('\n')}`);
  await waitFor(async () => {
    if (proc.exitCode !== null) throw new Error(`${label} exited: ${out.slice(-5).join('\n')}`);
    const probe = new RespClient(port, password);
    try {
      return (await Promise.race([probe.cmd('PING'), delay(500).then(() => null)])) === 'PONG';
    } catch (_) {
      return false;
    } finally {
      probe.close();
    }
  }, { timeoutMs: 10000, what: `${label} on port ${port} to answer PING` });
  return node;
}

// A redis-server in DIR; AOF on when asked (appendfsync everysec).
async function startServer({ port, dir, replicaOf, aof = false, label, password }) {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir,
    '--appendonly', aof ? 'yes' : 'no', '--appendfsync', 'everysec'];
  if (replicaOf) args.push('--replicaof', '127.0.0.1', String(replicaOf));
  if (password) args.push('--requirepass', password, '--masterauth', password);
  return launch(binary('redis-server', 'REDIS_SERVER'), args, port, label, password);
}

// PASSWORD (optional) guards the master and the replica; the sentinels
// know it (auth-pass) but have none of their own.
async function startSentinelSet({ master = 'mymaster', sentinels = 3, downAfterMs = 500, failoverTimeoutMs = 2000, password } = {}) {
  const dir = tempDir('chorus-sentinel');
  const ports = { master: await freePort(), replica: await freePort() };
  fs.mkdirSync(path.join(dir, 'm'));
  fs.mkdirSync(path.join(dir, 'r'));
  const servers = new Map();
  servers.set(ports.master, await startServer({ port: ports.master, dir: path.join(dir, 'm'), label: 'redis master', password }));
  servers.set(ports.replica, await startServer({ port: ports.replica, dir: path.join(dir, 'r'), replicaOf: ports.master, label: 'redis replica', password }));
  // The replica is in sync before the sentinels look, so their first INFO sees it.
  await waitFor(async () => /master_link_status:up/.test(await servers.get(ports.replica).cmd('INFO', 'replication')),
    { timeoutMs: 10000, what: 'the replica to sync with the master' });

  const sents = [];
  for (let i = 0; i < sentinels; i++) {
    const port = await freePort();
    const conf = path.join(dir, `sentinel-${i}.conf`);
    fs.writeFileSync(conf, [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${master} 127.0.0.1 ${ports.master} 2`,
      `sentinel down-after-milliseconds ${master} ${downAfterMs}`,
      `sentinel failover-timeout ${master} ${failoverTimeoutMs}`,
      `sentinel parallel-syncs ${master} 1`,
      ...(password ? [`sentinel auth-pass ${master} ${password}`] : []),
      '',
    ].join('\n'));
    sents.push(await launch(binary('redis-sentinel', 'REDIS_SENTINEL'), [conf], port, `sentinel ${i}`));
  }
  // Every sentinel knows the replica and the other sentinels (hello messages
  // go every 2 s), so a failover can be agreed on.
  await waitFor(async () => {
    for (const s of sents) {
      if ((await s.cmd('SENTINEL', 'replicas', master)).length < 1) return false;
      if ((await s.cmd('SENTINEL', 'sentinels', master)).length < sentinels - 1) return false;
    }
    return true;
  }, { timeoutMs: 20000, intervalMs: 200, what: 'the sentinels to know the replica and each other' });

  const ha = {
    master,
    dir,
    sentinels: sents,
    sentinelAddrs: sents.map((s) => `127.0.0.1:${s.port}`),
    servers,
    // The port the sentinels name as master now.
    async masterPort() {
      const [, port] = await sents[0].cmd('SENTINEL', 'get-master-addr-by-name', master);
      return Number(port);
    },
    server(port) { return servers.get(port); },
    // Wait until every sentinel names a master other than OLDPORT; its port.
    async waitSwitch(oldPort, timeoutMs = 30000) {
      let now = oldPort;
      await waitFor(async () => {
        const answers = await Promise.all(sents.map((s) => s.cmd('SENTINEL', 'get-master-addr-by-name', master).catch(() => null)));
        const ps = answers.map((a) => (a ? Number(a[1]) : 0));
        now = ps[0];
        return ps.every((p) => p === ps[0] && p !== oldPort);
      }, { timeoutMs, intervalMs: 100, what: `the sentinels to fail over from port ${oldPort}` });
      diag(`sentinels switched ${master} from port ${oldPort} to ${now}`);
      return now;
    },
  };
  return ha;
}

module.exports = { startSentinelSet, startServer };
