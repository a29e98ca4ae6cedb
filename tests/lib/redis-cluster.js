'use strict';
// A real three-master Redis Cluster on loopback, built the way an operator
// builds one: redis-server with cluster-enabled, then redis-cli --cluster
// create. It can move a slot between masters by hand (IMPORTING/MIGRATING,
// MIGRATE key by key, SETSLOT NODE), so clients meet -ASK and -MOVED.
//
//   const cl = await startRedisCluster();
//   cl.url, cl.seeds                      // for chorusd's redis statement
//   await cl.migrateSlot(slot, toNode, { during })

const { execFile } = require('node:child_process');
const { startRedis } = require('./redis');
const { waitFor, delay } = require('./util');

function redisCli(args) {
  return new Promise((resolve, reject) => {
    execFile(process.env.REDIS_CLI || 'redis-cli', args, { timeout: 30000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`redis-cli ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

async function startRedisCluster({ masters = 3, nodeTimeoutMs = 3000 } = {}) {
  const nodes = [];
  for (let i = 0; i < masters; i++) {
    nodes.push(await startRedis({
      extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf',
        '--cluster-node-timeout', String(nodeTimeoutMs), '--stream-node-max-entries', '4'],
    }));
  }
  await redisCli(['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes']);
  for (const n of nodes) n.id = await n.cmd('CLUSTER', 'MYID');
  // Every node agrees the cluster is up and knows every other node.
  await waitFor(async () => {
    for (const n of nodes) {
      const info = await n.cmd('CLUSTER', 'INFO');
      if (!/cluster_state:ok/.test(info) || !new RegExp(`cluster_known_nodes:${masters}\\b`).test(info)) return false;
    }
    return true;
  }, { timeoutMs: 20000, what: 'cluster_state:ok on every node' });

  // The node serving SLOT now.
  async function ownerOf(slot) {
    for (const range of await nodes[0].cmd('CLUSTER', 'SLOTS')) {
      if (slot >= range[0] && slot <= range[1]) return nodes.find((n) => n.port === range[2][1]);
    }
    throw new Error(`no node serves slot ${slot}`);
  }

  // A command for KEY, sent to whichever node serves it.
  async function cmd(...args) {
    const key = args[0].toUpperCase() === 'XLEN' || args.length > 1 ? args[1] : null;
    const node = key ? await ownerOf(await nodes[0].cmd('CLUSTER', 'KEYSLOT', key)) : nodes[0];
    return node.cmd(...args);
  }

  // Move SLOT to node TO while clients keep using it: mark it importing and
  // migrating, move its keys one at a time (calling DURING in between, so
  // clients see keys on both sides and get -ASK), then give the slot to TO
  // on every node (afterwards the old owner answers -MOVED).
  async function migrateSlot(slot, to, { during = async () => {}, stepMs = 40 } = {}) {
    const from = await ownerOf(slot);
    if (from === to) throw new Error('the slot is already there');
    await to.cmd('CLUSTER', 'SETSLOT', slot, 'IMPORTING', from.id);
    await from.cmd('CLUSTER', 'SETSLOT', slot, 'MIGRATING', to.id);
    let moved = 0;
    for (;;) {
      const keys = await from.cmd('CLUSTER', 'GETKEYSINSLOT', slot, 1);
      if (keys.length === 0) break;
      await from.cmd('MIGRATE', '127.0.0.1', to.port, '', 0, 5000, 'KEYS', ...keys);
      moved += keys.length;
      await during(moved);
      await delay(stepMs);
    }
    await during(moved);
    for (const n of [to, from, ...nodes.filter((x) => x !== to && x !== from)]) {
      await n.cmd('CLUSTER', 'SETSLOT', slot, 'NODE', to.id);
    }
    return { from, to, moved };
  }

  return {
    nodes,
    url: nodes[0].url,
    seeds: nodes.slice(1).map((n) => `127.0.0.1:${n.port}`),
    cmd,
    ownerOf,
    keyslot: (key) => nodes[0].cmd('CLUSTER', 'KEYSLOT', key),
    migrateSlot,
  };
}

module.exports = { startRedisCluster };
