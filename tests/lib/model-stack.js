'use strict';
// The cast for a model-provider story: Redis, a fake of the provider under
// test, a fake OpenAI as the backup, and chorusd with models "main" (the
// provider under test, price 1 in / 2 out per million) and "backup", a
// fallback route "safe" over them, and persona aiko.
//
//   const s = await startModelStack('anthropic', { plugins: { ... } });
//   const ann = await s.user('Ann');
//   const { final, deltas } = await streamed(ann, 'hi');

const path = require('node:path');
const { startRedis } = require('./redis');
const { startFakeOpenAI } = require('./fake-openai');
const { startFakeAnthropic } = require('./fake-anthropic');
const { startFakeOllama } = require('./fake-ollama');
const { startChorusd } = require('./chorusd');
const { openUser } = require('./stack');
const { writePlugins } = require('./plugins');
const { tempDir, luaString } = require('./util');

const q = luaString;
const START = { openai: startFakeOpenAI, anthropic: startFakeAnthropic, ollama: startFakeOllama };

// The text of the last user message of a request to any of the fakes.
function lastUser(req) {
  const m = (req.body.messages || []).filter((x) => x.role === 'user');
  const c = m.length ? m[m.length - 1].content : '';
  return typeof c === 'string' ? c : (c.find((b) => b.type === 'text') || {}).text || '';
}

// MODEL adds fields to model "main"; ROUTE replaces route "safe"; PERSONA
// names what aiko speaks with; LOGLEVEL, when given, is chorusd's.
async function startModelStack(provider, { model = '', persona = 'main', route = '', plugins = {}, logLevel = null,
  apiKey = 'sk-model-stack' } = {}) {
  const redis = await startRedis();
  const fake = await START[provider]();
  const backup = await startFakeOpenAI();
  backup.respond = (req) => ({ content: `backup: ${lastUser(req)}` });
  const dir = writePlugins(plugins);
  const config = [
    'listen "127.0.0.1:0"',
    `admin_socket ${q(path.join(tempDir('chorus-admin'), 'admin.sock'))}`,
    `redis ${q(redis.url)} { timeout_ms = 1000 }`,
    ...(logLevel ? [`log_level ${q(logLevel)}`] : []),
    `plugins_dir ${q(dir)}`,
    `model "main" { provider = ${q(provider)}, base_url = ${q(fake.baseUrl)}, api_key = ${q(apiKey)}, model = "m-1", price = { input = 1, output = 2 }, timeout_ms = 5000, capabilities = { "streaming" }${model} }`,
    `model "backup" { provider = "openai", base_url = ${q(backup.baseUrl)}, model = "b-1", timeout_ms = 5000, capabilities = { "streaming" } }`,
    route || 'route "safe" { kind = "fallback", models = { "main", "backup" }, retries = 0 }',
    `persona "aiko" { prompt = "You are Aiko.", model = ${q(persona)}, apology = "Sorry!" }`,
  ].join('\n');
  const chorus = await startChorusd({ config });
  return { redis, fake, backup, chorus, user: (name) => openUser(chorus.wsUrl, name) };
}

// USER says TEXT asking for a stream; resolves with the final message, the
// deltas, and whether the last delta came before the final message.
async function streamed(user, text) {
  const id = `s-${Math.random().toString(36).slice(2)}`;
  user.ws.sendJson({ type: 'message', id, channel: 'lobby', user: { id: user.id, name: user.name }, text, stream: true });
  const final = await user.replyTo(id, 10000);
  const deltas = user.ws.all.filter((m) => m.type === 'delta' && m.reply_to === id);
  return { final, deltas, before: user.ws.all.indexOf(deltas.at(-1)) < user.ws.all.indexOf(final) };
}

// Every recorded model call (the chorus:calls stream), each as an object.
async function calls(redis) {
  const rows = await redis.cmd('XRANGE', 'chorus:calls', '-', '+');
  return rows.map(([, kv]) => { const o = {}; for (let i = 0; i < kv.length; i += 2) o[kv[i]] = kv[i + 1]; return o; });
}

module.exports = { startModelStack, streamed, lastUser, calls };
