'use strict';
// The cast for a scale-out story: one Redis, the fake Discord, and chorusd
// processes in roles (a gateway holding the Discord connection, workers
// running the skills), every one started from the same config file.
//
//   const s = await startScaleStack({ partitions: 6 });
//   const gw = await s.start('gateway');
//   const w1 = await s.start('worker');
//   const m = s.fake.messageCreate({ channel_id, content: 'hi' });
//   await s.waitForReplies(1);

const { startFakeDiscord } = require('./fake-discord');
const { startRedis } = require('./redis');
const { startChorusd } = require('./chorusd');
const { httpGet, waitFor, luaString } = require('./util');

const TOKEN = 'MTk4NjIyNDgzNDcxOTI1MjQ4.fake.discord-token-for-scale';

// The echo skill, with a slow path: "slow NAME" makes the handler wait (a
// slow model) and say in the log which worker is holding it.
const ECHO = `
chorus.hear(".", function(msg)
  if msg.text:find("^!story") then return false end
  if msg.text:find("^slow") then
    chorus.log.info("handling " .. msg.text)
    chorus.sleep(tonumber(chorus.config.slow_s or "1"))
  end
  msg:reply("echo: " .. msg.text)
end)
`;

// A streamed answer (the local model, or route = "sse" when the stack has
// the fake OpenAI): the model's words arrive as pieces the platform shows
// growing (the worker forwards them to the gateway), then the final text.
const STORY = `
chorus.command("story", { help = "a story told in three streamed parts" }, function(msg)
  local parts = {}
  for i = 1, 3 do
    local answer = chorus.model.chat { route = chorus.config.route or "local", messages = { { role = "user", content = "tell part " .. i } }, stream = true }
    parts[#parts + 1] = answer.text
    chorus.sleep(0.2)
  end
  msg:reply(table.concat(parts, " ") .. " THE END")
end)
`;
const STORY_MANIFEST = 'return { name = "story", version = "0.0.1", permissions = { model = true } }\n';

// The ingress partition of a Discord channel, as chorusd computes it
// (FNV-1a over "discord", 0x1f and the channel id).
function partitionOf(channel, n, platform = 'discord') {
  let h = 2166136261;
  const bytes = Buffer.concat([Buffer.from(platform), Buffer.from([0x1f]), Buffer.from(channel)]);
  for (const b of bytes) h = Math.imul(h ^ b, 16777619) >>> 0;
  return h % n;
}

// N channel ids that land in N different partitions.
function channelsCovering(n) {
  const out = new Map();
  for (let i = 1; out.size < n; i++) {
    const id = String(100000000000000000n + BigInt(i));
    const p = partitionOf(id, n);
    if (!out.has(p)) out.set(p, id);
  }
  return [...out.values()];
}

async function startScaleStack({ partitions = 6, leaseMs = 1500, heartbeatMs = 200, visibilityMs = 800, blockMs = 3000,
  slowSeconds = 1.5, story = false, scaleExtra = '', modelBaseUrl = null, redis: given = null, redisOptions = '',
  redisStatement = null, echo = ECHO, discordExtra = '', fakeOptions = {} } = {}) {
  // GIVEN: a Redis (or a cluster, tests/lib/redis-cluster.js) the test started; REDISOPTIONS go into `redis { }`.
  // REDISSTATEMENT: the whole redis statement, for a Redis the test reaches otherwise (behind Sentinel).
  const redis = given || (redisStatement ? null : await startRedis());
  // Small stream nodes, so approximate trimming (MINID ~) trims at a fine grain and a test sees it.
  if (!given && redis) await redis.cmd('CONFIG', 'SET', 'stream-node-max-entries', '4');
  const fake = await startFakeDiscord({ token: TOKEN, ...fakeOptions });
  const q = luaString;
  const config = [
    'listen "127.0.0.1:0"',
    'admin_socket(env("CHORUS_TEST_ADMIN", "off"))',
    redisStatement || `redis ${q(redis.url)} { prefix = "scale:", timeout_ms = 3000, reconnect_min_ms = 20, reconnect_max_ms = 200${redisOptions ? `, ${redisOptions}` : ''} }`,
    'log_level "info"',
    'shutdown_timeout_ms (3000)',
    'model "default" { provider = "local" }',
    // A model that streams over server-sent events (the fake OpenAI), for the story.
    ...(modelBaseUrl ? [`model "sse" { provider = "openai", base_url = ${q(modelBaseUrl)}, api_key = "sk-scale-test", model = "gpt-test", capabilities = { "streaming" } }`] : []),
    'persona "echo" { prompt = "You repeat what you hear.", model = "default" }',
    'default_persona "echo"',
    'plugins_dir "plugins"',
    // Only the echo skill: the bundled plugins would only add start-up work to four processes.
    ...['chat', 'coupon', 'help', 'ping', 'remind', 'webhook'].map((n) => `plugin "${n}" { enabled = false }`),
    `plugin "echo" { slow_s = "${slowSeconds}" }`,
    ...(story && modelBaseUrl ? ['plugin "story" { route = "sse" }'] : []),
    `discord { token = env("DISCORD_TOKEN"), api_base = ${q(fake.apiBase)}, time_scale = 0.05, messages = "all", global_rate = 100000${discordExtra ? `, ${discordExtra}` : ''} }`,
    `scale { partitions = ${partitions}, lease_ms = ${leaseMs}, heartbeat_ms = ${heartbeatMs}, visibility_timeout_ms = ${visibilityMs}, block_ms = ${blockMs}${scaleExtra} }`,
    '',
  ].join('\n');
  const procs = [];

  // Start one chorusd in ROLE; resolves once it listens.
  async function start(role, { env = {} } = {}) {
    const chorus = await startChorusd({
      config,
      args: ['--role', role],
      env: { DISCORD_TOKEN: TOKEN, ...env },
      files: { 'plugins/echo/init.lua': echo,
        ...(story ? { 'plugins/story/init.lua': STORY, 'plugins/story/manifest.lua': STORY_MANIFEST } : {}) },
      readyTimeoutMs: 20000,   // four processes start at once on a small, shared machine
    });
    chorus.role = role;
    procs.push(chorus);
    return chorus;
  }

  async function metrics(chorus) {
    const r = await httpGet(`${chorus.url}/metrics`);
    return r.body;
  }

  // One series' value from a process's /metrics (0 when absent).
  async function metric(chorus, name, label) {
    const text = await metrics(chorus);
    const re = new RegExp(`^${name}\\{[a-z]+="${label.replace(/[{}]/g, '\\$&')}"\\} ([0-9.e+-]+)$`, 'm');
    const m = re.exec(text);
    return m ? Number(m[1]) : 0;
  }

  // Every bot message the fake received that answers user message ID.
  const answersTo = (id) => fake.posted.filter((r) => r.message_reference && r.message_reference.message_id === id);

  async function waitReady(chorus, timeoutMs = 20000) {
    await waitFor(async () => (await httpGet(`${chorus.url}/readyz`)).status === 200,
      { timeoutMs, what: `the ${chorus.role} (pid ${chorus.pid}) to be ready` });
  }

  // Entries still in the ingress streams (trimmed up to what was acknowledged).
  async function ingressLength(partitions) {
    let n = 0;
    for (let p = 0; p < partitions; p++) n += await redis.cmd('XLEN', `scale:in:{in}:p${p}`);
    return n;
  }

  // Wait until a process's /metrics matches RE (gauges are read every heartbeat).
  async function waitMetrics(chorus, re, timeoutMs = 10000) {
    await waitFor(async () => re.test(await metrics(chorus)), { timeoutMs, what: `/metrics of pid ${chorus.pid} to match ${re}` });
  }

  return { redis, fake, config, ingressLength, waitMetrics, start, procs, metric, metrics, answersTo, waitReady, token: TOKEN };
}

module.exports = { startScaleStack, partitionOf, channelsCovering, TOKEN };
