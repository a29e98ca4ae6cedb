'use strict';
// The whole cast for a story: a real redis-server, the fake model, chorusd
// configured to use both, and chat users on websockets.
//
//   const stack = await startStack();
//   const ann = await stack.user('Ann');
//   const id = ann.say('lobby', 'hello');
//   const reply = await ann.replyTo(id);

const { startRedis } = require('./redis');
const { startFakeOpenAI } = require('./fake-openai');
const { startChorusd } = require('./chorusd');
const { connect } = require('./ws');
const path = require('node:path');
const { httpGet, waitFor, luaString, tempDir } = require('./util');
const { diag } = require('./tap');

const AIKO = {
  name: 'aiko',
  display_name: 'Aiko',
  prompt: 'You are Aiko, a cheerful companion.',
  apology: "Sorry, I can't answer right now.",
};
const KENJI = {
  name: 'kenji',
  display_name: 'Kenji',
  prompt: 'You are Kenji, a calm librarian who answers briefly.',
  apology: 'Kenji is resting; please ask again later.',
};

function chorusConfig({
  listen = '127.0.0.1:0',
  redisUrl,
  prefix = 'chorus:',
  redisTimeoutMs = 1000,
  reconnectMinMs = 20,
  reconnectMaxMs = 200,
  logLevel = 'info',
  shutdownTimeoutMs = 5000,
  modelBaseUrl,
  apiKey = 'sk-test-123',
  modelName = 'gpt-test',
  modelTimeoutMs = 5000,
  connectTimeoutMs = 1000,
  personas = [AIKO, KENJI],
  defaultPersona = 'aiko',
  adminSocket = path.join(tempDir('chorus-admin'), 'admin.sock'),
  extra = '',
  redisExtra = '',   // more `redis { }` options, e.g. cluster = { ... }
} = {}) {
  const q = luaString;
  const lines = [
    `listen ${q(listen)}`,
    `redis ${q(redisUrl)} { prefix = ${q(prefix)}, timeout_ms = ${redisTimeoutMs}, reconnect_min_ms = ${reconnectMinMs}, reconnect_max_ms = ${reconnectMaxMs}${redisExtra ? `, ${redisExtra}` : ''} }`,
    `log_level ${q(logLevel)}`,
    `shutdown_timeout_ms (${shutdownTimeoutMs})`,
    `model "default" { provider = "openai", base_url = ${q(modelBaseUrl)}, api_key = ${q(apiKey)}, model = ${q(modelName)}, connect_timeout_ms = ${connectTimeoutMs}, timeout_ms = ${modelTimeoutMs} }`,
  ];
  if (adminSocket) lines.splice(1, 0, `admin_socket ${q(adminSocket)}`);   // null: the daemon's default
  for (const p of personas) {
    lines.push(`persona ${q(p.name)} { display_name = ${q(p.display_name)}, prompt = ${q(p.prompt)}, model = ${q(p.model || 'default')}, apology = ${q(p.apology)} }`);
  }
  lines.push(`default_persona ${q(defaultPersona)}`);
  if (extra) lines.push(extra);
  return `${lines.join('\n')}\n`;
}

const personaKey = (channel, prefix = 'chorus:') => `${prefix}{webchat:${channel}}:persona`;
const historyKey = (channel, persona, prefix = 'chorus:') => `${prefix}{webchat:${channel}}:history:${persona}`;

async function readHistory(redis, channel, persona, prefix = 'chorus:') {
  const items = await redis.cmd('LRANGE', historyKey(channel, persona, prefix), '0', '-1');
  return items.map((s) => {
    try { return JSON.parse(s); } catch (_) { throw new Error(`history element is not JSON: ${s}`); }
  });
}

// A person in the web chat.
class ChatUser {
  constructor(ws, id, name) {
    this.ws = ws;
    this.id = id;
    this.name = name;
    this.counter = 0;
  }

  // Send a chat message; returns its id.
  say(channel, text, id) {
    const msgId = id || `${this.id}-m${++this.counter}`;
    this.ws.sendJson({ type: 'message', id: msgId, channel, user: { id: this.id, name: this.name }, text });
    return msgId;
  }

  join(channel) {
    this.ws.sendJson({ type: 'join', channel });
  }

  // The persona's answer to message `id`.
  replyTo(id, timeoutMs = 10000) {
    return this.ws.next((m) => m.type === 'message' && m.reply_to === id, timeoutMs, `a reply to ${JSON.stringify(id)}`);
  }

  nextError(timeoutMs = 5000) {
    return this.ws.next((m) => m.type === 'error', timeoutMs, 'an error message');
  }

  // Everything received so far that answers message `id` (replies and errors).
  answersTo(id) {
    return this.ws.all.filter((m) => m.reply_to === id);
  }

  received() { return this.ws.all.slice(); }
}

async function openUser(wsUrl, name, { protocol, id } = {}) {
  const ws = await connect(wsUrl, { protocol });
  return new ChatUser(ws, id || `u-${name.toLowerCase()}`, name);
}

async function waitUntilReady(url, timeoutMs = 3000) {
  try {
    await waitFor(async () => (await httpGet(`${url}/readyz`)).status === 200, { timeoutMs, what: '/readyz to answer 200' });
    return true;
  } catch (e) {
    diag(`note: ${e.message} (continuing; readiness is tested on its own)`);
    return false;
  }
}

async function startStack(opts = {}) {
  const redis = opts.redis === false ? null : (opts.redis || await startRedis(opts.redisOptions));
  const fake = opts.fake || await startFakeOpenAI();
  const config = opts.config || chorusConfig({
    redisUrl: opts.redisUrl || (redis ? redis.url : 'redis://127.0.0.1:1/0'),
    modelBaseUrl: fake.baseUrl,
    ...(opts.configOptions || {}),
  });
  const chorus = await startChorusd({ config, env: opts.env, args: opts.args, files: opts.files, wrapper: opts.wrapper, readyTimeoutMs: opts.wrapper ? 30000 : undefined });
  if (redis && opts.waitReady !== false) await waitUntilReady(chorus.url);
  return {
    redis,
    fake,
    chorus,
    config,
    prefix: (opts.configOptions && opts.configOptions.prefix) || 'chorus:',
    user: (name, o) => openUser(chorus.wsUrl, name, o),
    history(channel, persona = 'aiko') { return readHistory(redis, channel, persona, this.prefix); },
  };
}

module.exports = {
  AIKO, KENJI, chorusConfig, personaKey, historyKey, readHistory, ChatUser, openUser, startStack, waitUntilReady,
};
