'use strict';
// A fake Telegram Bot API on plain http, written from the Bot API docs, with
// no npm dependencies. Every method lives at <apiRoot>/bot<token>/<method>
// and takes GET query parameters, a JSON body or a form body; every answer
// is {ok: true, result} or {ok: false, error_code, description[, parameters]}.
//
//   const fake = await startFakeTelegram({ token: '123456:ABC', username: 'chorus_bot' });
//   fake.apiRoot                       // "http://127.0.0.1:P" (grammY's apiRoot)
//   const ann = fake.user({ first_name: 'Ann' });
//   const dm = fake.privateChat(ann);
//   const m = fake.userSays(ann, dm, 'hello');            // a `message` update (entities filled in)
//   const reply = await fake.waitForSent((s) => s.reply_to === m.message_id);
//
// Chats: fake.privateChat(user), fake.group(title), fake.supergroup(title, { forum: true }),
// fake.channel(title); fake.topic(chat, name) gives a message_thread_id of a forum.
// Updates: fake.userSays(user, chat, text, { reply_to, thread }), fake.channelPost(chat, text),
// fake.editMessage(msg, text), fake.react(user, msg, emoji), fake.pushUpdate(raw) (anything,
// e.g. malformed updates), fake.migrate(group) (a group upgraded to a supergroup).
// fake.shortPolling = true answers getUpdates at once, even with nothing (a server without long polling);
// fake.ignoreOffset = true never forgets an update (a server that does not honour offset).
// Scripting: fake.force429.push({ method: 'sendMessage', retryAfter: 1 }) answers the next such
// call with 429; fake.failNext.push({ method, code, description, parameters }) answers it with that
// error ({ method, code, raw } with a body that is not JSON, as a proxy's 502 page); fake.limits (below).
// Time: timeScale shrinks every duration the fake keeps (long-poll timeouts, the flood
// windows, the retry_after it asks for): retry_after N means N * timeScale seconds.
// Flood limits (as Telegram states them): 1 message per second in a chat, 20 per minute in
// a group, about 30 per second overall. Past them: 429 and an entry in fake.violations.
// Answers: jsonStyle ({ pretty, spaced, reorder }, json-style.js) writes every answer and
// webhook delivery with whitespace or its keys in reverse order; by default compact.
// Records: fake.calls (every request), fake.sent (messages the bot posted, with edits applied),
// fake.edits, fake.actions, fake.reactions, fake.commands (last setMyCommands), fake.webhook.

const http = require('node:http');
const { EventEmitter } = require('node:events');
const { encodeJson } = require('./json-style');

const MAX_TEXT = 4096;
const DEFAULT_ALLOWED = ['message', 'edited_message', 'channel_post', 'edited_channel_post', 'business_connection',
  'business_message', 'edited_business_message', 'deleted_business_messages', 'inline_query', 'chosen_inline_result',
  'callback_query', 'shipping_query', 'pre_checkout_query', 'purchased_paid_media', 'poll', 'poll_answer',
  'my_chat_member', 'chat_join_request', 'chat_boost', 'removed_chat_boost'];
const REACTIONS = new Set(['👍', '👎', '❤', '🔥', '🥰', '👏', '😁', '🤔', '🤯', '😱', '🤬', '😢', '🎉', '🤩', '🤮', '💩',
  '🙏', '👌', '🕊', '🤡', '🥱', '🥴', '😍', '🐳', '❤‍🔥', '🌚', '🌭', '💯', '🤣', '⚡', '🍌', '🏆', '💔', '🤨', '😐',
  '🍓', '🍾', '💋', '🖕', '😈', '😴', '😭', '🤓', '👻', '👨‍💻', '👀', '🎃', '🙈', '😇', '😨', '🤝', '✍', '🤗', '🫡',
  '🎅', '🎄', '☃', '💅', '🤪', '🗿', '🆒', '💘', '🙉', '🦄', '😘', '💊', '🙊', '😎', '👾', '🤷‍♂', '🤷', '🤷‍♀', '😡']);

// Length in UTF-16 code units, as Telegram counts text and entity offsets.
const u16 = (s) => s.length;

class ApiError extends Error {
  constructor(code, description, parameters) {
    super(description);
    this.code = code;
    this.parameters = parameters;
  }
}
const bad = (d, p) => new ApiError(400, `Bad Request: ${d}`, p);

// Parse MarkdownV2 as the Bot API does; returns { text, entities } or throws
// ApiError "can't parse entities: ...". Covers the documented syntax: escapes,
// *bold*, _italic_, __underline__, ~strike~, ||spoiler||, `code`, ```pre```,
// [text](url) and > quotes at the start of a line.
function parseMarkdownV2(src) {
  const RESERVED = '_*[]()~`>#+-=|{}.!';
  let out = '';
  const entities = [];
  const open = [];   // { type, offset, byte }
  const fail = (why) => { throw bad(`can't parse entities: ${why}`); };
  let i = 0;
  const bytesAt = (k) => Buffer.byteLength(src.slice(0, k), 'utf8');
  const closeOrOpen = (type, len) => {
    const top = open.length ? open[open.length - 1] : null;
    if (top && top.type === type) {
      open.pop();
      if (u16(out) === top.offset) fail(`Can't find end of ${type} entity at byte offset ${top.byte}`);
      entities.push({ type, offset: top.offset, length: u16(out) - top.offset });
    } else {
      if (open.some((e) => e.type === type)) fail(`Can't find end of ${open[open.length - 1].type} entity at byte offset ${open[open.length - 1].byte}`);
      open.push({ type, offset: u16(out), byte: bytesAt(i) });
    }
    i += len;
  };
  let lineStart = true;
  while (i < src.length) {
    const c = src[i];
    if (c === '\\') {
      const n = src.codePointAt(i + 1);
      if (n === undefined || n < 1 || n > 126) fail(`Character '\\' is reserved and must be escaped with the preceding '\\'`);
      out += src[i + 1];
      i += 2;
      lineStart = false;
      continue;
    }
    if (c === '>' && lineStart) {
      // A quote runs to the end of the line.
      const end = src.indexOf('\n', i);
      const lineEnd = end < 0 ? src.length : end;
      const inner = parseMarkdownV2(src.slice(i + 1, lineEnd));
      const off = u16(out);
      out += inner.text;
      for (const e of inner.entities) entities.push({ ...e, offset: e.offset + off });
      if (inner.text.length) entities.push({ type: 'blockquote', offset: off, length: u16(inner.text) });
      i = lineEnd;
      continue;
    }
    lineStart = false;
    if (c === '`') {
      const pre = src.startsWith('```', i);
      const start = i + (pre ? 3 : 1);
      let j = start;
      let body = '';
      let closed = false;
      while (j < src.length) {
        if (src[j] === '\\') {
          if (src[j + 1] !== '`' && src[j + 1] !== '\\') fail(`Character '\\' is reserved and must be escaped with the preceding '\\'`);
          body += src[j + 1];
          j += 2;
          continue;
        }
        if (pre ? src.startsWith('```', j) : src[j] === '`') { closed = true; break; }
        body += src[j];
        j++;
      }
      if (!closed) fail(`Can't find end of ${pre ? 'PreCode' : 'Code'} entity at byte offset ${bytesAt(i)}`);
      let language;
      if (pre) {
        const nl = body.indexOf('\n');
        if (nl > 0 && /^[A-Za-z0-9_+-]+$/.test(body.slice(0, nl))) { language = body.slice(0, nl); body = body.slice(nl + 1); }
        else if (nl === 0) body = body.slice(1);
      }
      if (!body.length) fail(`Text must be non-empty`);
      entities.push({ type: pre ? 'pre' : 'code', offset: u16(out), length: u16(body), ...(language ? { language } : {}) });
      out += body;
      i = j + (pre ? 3 : 1);
      continue;
    }
    if (c === '*') { closeOrOpen('bold', 1); continue; }
    if (c === '~') { closeOrOpen('strikethrough', 1); continue; }
    if (c === '|' && src[i + 1] === '|') { closeOrOpen('spoiler', 2); continue; }
    if (c === '_' && src[i + 1] === '_') { closeOrOpen('underline', 2); continue; }
    if (c === '_') { closeOrOpen('italic', 1); continue; }
    if (c === '[') { open.push({ type: 'text_link', offset: u16(out), byte: bytesAt(i) }); i++; continue; }
    if (c === ']') {
      const top = open.length ? open[open.length - 1] : null;
      if (!top || top.type !== 'text_link') fail(`Character ']' is reserved and must be escaped with the preceding '\\'`);
      if (src[i + 1] !== '(') fail(`Character ']' is reserved and must be escaped with the preceding '\\'`);
      let j = i + 2;
      let url = '';
      while (j < src.length && src[j] !== ')') {
        if (src[j] === '\\') { url += src[j + 1] || ''; j += 2; continue; }
        url += src[j++];
      }
      if (j >= src.length) fail(`Can't find end of a url at byte offset ${bytesAt(i + 2)}`);
      open.pop();
      entities.push({ type: 'text_link', offset: top.offset, length: u16(out) - top.offset, url });
      i = j + 1;
      continue;
    }
    if (RESERVED.includes(c)) fail(`Character '${c}' is reserved and must be escaped with the preceding '\\'`);
    out += c;
    if (c === '\n') lineStart = true;
    i++;
  }
  if (open.length) {
    const e = open[open.length - 1];
    const name = { bold: 'Bold', italic: 'Italic', underline: 'Underline', strikethrough: 'Strikethrough', spoiler: 'Spoiler', text_link: 'TextUrl' }[e.type];
    fail(`Can't find end of ${name} entity at byte offset ${e.byte}`);
  }
  return { text: out, entities };
}

// The entities Telegram finds in a user's plain text: commands, @mentions, urls.
function autoEntities(text) {
  const entities = [];
  const re = /(^|\s)(\/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{5,32})?)|(@[A-Za-z0-9_]{5,32})|(https?:\/\/\S+)/g;
  let m;
  while ((m = re.exec(text))) {
    if (m[2]) entities.push({ type: 'bot_command', offset: m.index + m[1].length, length: u16(m[2]) });
    else if (m[3]) entities.push({ type: 'mention', offset: m.index, length: u16(m[3]) });
    else if (m[4]) entities.push({ type: 'url', offset: m.index, length: u16(m[4]) });
  }
  return entities;
}

// Parameters of a request: query string, then a JSON or form body. Values of
// a query or a form are strings; JSON-serialized ones (reply_parameters,
// allowed_updates, ...) are parsed as Telegram does.
function readParams(req, raw) {
  const url = new URL(req.url, 'http://fake');
  const params = {};
  for (const [k, v] of url.searchParams) params[k] = v;
  const type = (req.headers['content-type'] || '').split(';')[0].trim();
  if (raw.length) {
    if (type === 'application/json') {
      let body;
      try { body = JSON.parse(raw.toString('utf8')); } catch (_) { throw bad("can't parse JSON object"); }
      if (!body || typeof body !== 'object' || Array.isArray(body)) throw bad("can't parse JSON object");
      Object.assign(params, body);
    } else if (type === 'application/x-www-form-urlencoded') {
      for (const [k, v] of new URLSearchParams(raw.toString('utf8'))) params[k] = v;
    } else if (type === 'multipart/form-data') {
      const boundary = /boundary=("?)([^";]+)\1/.exec(req.headers['content-type']);
      if (boundary) {
        for (const part of raw.toString('utf8').split(`--${boundary[2]}`)) {
          const m = /name="([^"]+)"[^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n([\s\S]*)\r\n$/.exec(part);
          if (m) params[m[1]] = m[2];
        }
      }
    }
  }
  for (const k of ['reply_parameters', 'allowed_updates', 'commands', 'reaction', 'entities', 'link_preview_options', 'reply_markup', 'scope']) {
    if (typeof params[k] === 'string') {
      try { params[k] = JSON.parse(params[k]); } catch (_) { throw bad(`can't parse ${k} JSON object`); }
    }
  }
  return params;
}

const int = (v) => (typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : NaN);

async function startFakeTelegram({ token = '123456789:AAFakeTokenForTestsOnly_abcdefghijk', username = 'chorus_test_bot', firstName = 'Chorus',
  timeScale = 1, limits = true, host = '127.0.0.1', jsonStyle = null } = {}) {
  const botId = Number(token.split(':')[0]);
  const fake = new EventEmitter();
  Object.assign(fake, {
    token, timeScale, botId, username,
    bot: { id: botId, is_bot: true, first_name: firstName, username, can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false },
    limits: limits ? { perChatMs: 1000, perGroupPerMinute: 20, globalPerSecond: 30 } : null,
    calls: [], sent: [], edits: [], actions: [], reactions: [], commands: null, commandSets: [],
    callbackAnswers: [],        // answerCallbackQuery calls, { at, id, late }
    callbackQueries: new Map(), // id -> { at, answered } of presses sent
    violations: [], force429: [], failNext: [], webhook: null, webhookDeliveries: [],
    updates: [],                // not yet confirmed, oldest first
    history: [],                // every update ever queued
    forgotten: 0,               // updates confirmed (dropped)
    delivered: new Map(),       // update_id -> times handed out
    allowedUpdates: null,
    nextUpdateId: 700000000 + Math.floor(Math.random() * 1000),
    conflicts: 0,
  });
  let userCounter = 5000;
  let groupCounter = 4000000;
  const chats = new Map();            // id -> chat
  const messages = new Map();         // `${chat}:${id}` -> message
  const nextMessageId = new Map();    // chat id -> counter
  const chatSends = new Map();        // chat id -> [times]
  const globalSends = [];
  const migrated = new Map();         // old chat id -> new chat id
  let poll = null;                    // the waiting getUpdates { res, offset, limit, timer, allowed }
  const waiters = [];

  const now = () => Math.floor(Date.now() / 1000);
  const scaled = (ms) => ms * timeScale;

  fake.user = ({ first_name = 'Ann', last_name, username: un, is_bot = false, language_code = 'en' } = {}) => {
    const u = { id: ++userCounter, is_bot, first_name, ...(last_name ? { last_name } : {}), ...(un ? { username: un } : {}), ...(is_bot ? {} : { language_code }) };
    return u;
  };
  fake.privateChat = (u) => {
    const c = { id: u.id, type: 'private', first_name: u.first_name, ...(u.username ? { username: u.username } : {}) };
    chats.set(c.id, c);
    return c;
  };
  fake.group = (title = 'Book club') => {
    const c = { id: -(++groupCounter), type: 'group', title };
    chats.set(c.id, c);
    return c;
  };
  fake.supergroup = (title = 'Readers', { forum = false } = {}) => {
    const c = { id: -1000000000000 - (++groupCounter), type: 'supergroup', title, ...(forum ? { is_forum: true } : {}) };
    c.topics = new Map();
    chats.set(c.id, c);
    return c;
  };
  fake.channel = (title = 'News', un = 'news_channel') => {
    const c = { id: -1000000000000 - (++groupCounter), type: 'channel', title, username: un };
    chats.set(c.id, c);
    return c;
  };
  const publicChat = (c) => {
    const { topics, ...rest } = c;   // eslint-disable-line no-unused-vars
    return rest;
  };
  const newMessageId = (chatId) => {
    const n = (nextMessageId.get(chatId) || 0) + 1;
    nextMessageId.set(chatId, n);
    return n;
  };
  const updateOf = new WeakMap();     // message -> the update that carried it
  const tag = (m, u) => updateOf.set(m, u.update_id);
  const store = (m) => { messages.set(`${m.chat.id}:${m.message_id}`, m); return m; };
  fake.store = store;   // a message made by hand (for pushUpdate) that replies may quote
  const strip = (m) => {   // a message as nested in reply_to_message: no further reply_to_message
    if (!m) return m;
    const { reply_to_message, ...rest } = m;  // eslint-disable-line no-unused-vars
    return rest;
  };

  // Queue an update (any object; update_id is added unless given) and hand it
  // to a waiting getUpdates or the webhook.
  fake.pushUpdate = (u) => {
    const update = (u && typeof u === 'object' && !Array.isArray(u) && u.update_id !== undefined) ? u : { update_id: fake.nextUpdateId, ...(u && typeof u === 'object' ? u : { junk: u }) };
    if (typeof update.update_id === 'number' && update.update_id >= fake.nextUpdateId) fake.nextUpdateId = update.update_id + 1;
    else if (update.update_id === fake.nextUpdateId) fake.nextUpdateId++;
    fake.updates.push(update);
    fake.history.push(update);
    setImmediate(answerPoll);
    setImmediate(deliverWebhook);
    return update;
  };

  fake.topic = (chat, name = 'General') => {
    const id = newMessageId(chat.id);
    const created = store({ message_id: id, message_thread_id: id, date: now(), chat: publicChat(chat), from: fake.user({ first_name: 'Admin' }), forum_topic_created: { name, icon_color: 7322096 }, is_topic_message: true });
    chat.topics.set(id, created);
    return id;
  };

  // A user's message: entities found as Telegram finds them; REPLY_TO a message object
  // (or its id); THREAD a forum topic id.
  fake.userSays = (from, chat, text, { reply_to, thread, entities } = {}) => {
    const replied = typeof reply_to === 'object' ? reply_to : reply_to !== undefined ? messages.get(`${chat.id}:${reply_to}`) : undefined;
    const m = { message_id: newMessageId(chat.id), from, chat: publicChat(chat), date: now(), text };
    if (thread !== undefined) {
      m.message_thread_id = thread;
      m.is_topic_message = true;
      if (!replied) m.reply_to_message = strip(chat.topics && chat.topics.get(thread));
    }
    if (replied) m.reply_to_message = strip(replied);
    const ents = entities || autoEntities(text);
    if (ents.length) m.entities = ents;
    store(m);
    tag(m, fake.pushUpdate({ update_id: fake.nextUpdateId, message: m }));
    return m;
  };

  // A press of an inline keyboard button of the bot's message MESSAGE (as
  // sent) by FROM: a callback_query update, as Telegram sends one, only for
  // callback_data a button of that message really has.
  fake.pressButton = (from, message, data) => {
    const kb = message.reply_markup && message.reply_markup.inline_keyboard;
    if (!kb || !kb.some((row) => row.some((b) => b.callback_data === data))) throw new Error(`no button with callback_data ${data} on that message`);
    const id = String(BigInt(from.id) * 1000n + BigInt(fake.callbackQueries.size + 1));
    fake.callbackQueries.set(id, { at: Date.now(), answered: false });
    const stored = messages.get(`${message.chat.id}:${message.message_id}`) || message;
    return fake.pushUpdate({ update_id: fake.nextUpdateId, callback_query: { id, from, message: strip(stored), chat_instance: String(message.chat.id), data } });
  };

  fake.channelPost = (chat, text) => {
    const m = { message_id: newMessageId(chat.id), sender_chat: publicChat(chat), chat: publicChat(chat), date: now(), text };
    const ents = autoEntities(text);
    if (ents.length) m.entities = ents;
    store(m);
    tag(m, fake.pushUpdate({ update_id: fake.nextUpdateId, channel_post: m }));
    return m;
  };

  fake.editMessage = (m, text) => {
    const e = { ...m, text, edit_date: now() };
    store(e);
    fake.pushUpdate({ update_id: fake.nextUpdateId, [m.chat.type === 'channel' ? 'edited_channel_post' : 'edited_message']: e });
    return e;
  };

  fake.react = (user, m, emoji) => fake.pushUpdate({
    update_id: fake.nextUpdateId,
    message_reaction: { chat: m.chat, message_id: m.message_id, user, date: now(), old_reaction: [], new_reaction: [{ type: 'emoji', emoji }] },
  });

  // A basic group becomes a supergroup: service messages in both, and the old id
  // answers every send with migrate_to_chat_id from now on.
  fake.migrate = (group) => {
    const sg = { id: -1000000000000 - (++groupCounter), type: 'supergroup', title: group.title, topics: new Map() };
    chats.set(sg.id, sg);
    migrated.set(group.id, sg.id);
    const admin = fake.user({ first_name: 'Admin' });
    fake.pushUpdate({ update_id: fake.nextUpdateId, message: store({ message_id: newMessageId(group.id), from: admin, chat: publicChat(group), date: now(), migrate_to_chat_id: sg.id }) });
    fake.pushUpdate({ update_id: fake.nextUpdateId, message: store({ message_id: newMessageId(sg.id), from: admin, sender_chat: publicChat(sg), chat: publicChat(sg), date: now(), migrate_from_chat_id: group.id }) });
    return sg;
  };

  // Resolve with the first sent message matching PRED (now or later).
  fake.waitForSent = (pred = () => true, timeoutMs = 10000) => fake.waitFor('sent', () => fake.sent.find(pred), timeoutMs);
  fake.waitForCall = (pred = () => true, timeoutMs = 10000) => fake.waitFor('call', () => fake.calls.find(pred), timeoutMs);
  fake.waitFor = (what, check, timeoutMs = 10000) => {
    const hit = check();
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const w = { check, resolve };
      w.timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(w), 1);
        reject(new Error(`fake Telegram: no matching ${what} within ${timeoutMs} ms; calls: ${JSON.stringify(fake.calls.slice(-8).map((c) => [c.method, c.status, c.params && c.params.text]))}`));
      }, timeoutMs);
      waiters.push(w);
    });
  };
  const wake = () => {
    for (let i = 0; i < waiters.length; i++) {
      const hit = waiters[i].check();
      if (hit) {
        const [w] = waiters.splice(i--, 1);
        clearTimeout(w.timer);
        w.resolve(hit);
      }
    }
  };
  // How many times each update was handed out (by getUpdates or the webhook).
  // Telegram never got the confirmations (say its answer was lost): every
  // update handed out comes again to a getUpdates without a higher offset.
  fake.unconfirm = () => {
    const waiting = new Set(fake.updates);
    fake.updates = fake.history.filter((u) => waiting.has(u) || fake.delivered.has(u.update_id));
  };
  // U: an update, or a message made by userSays / channelPost.
  fake.timesDelivered = (u) => fake.delivered.get(u.update_id !== undefined ? u.update_id : updateOf.get(u)) || 0;

  // ---- long polling ----

  const allowedNow = (u) => {
    const allowed = fake.allowedUpdates && fake.allowedUpdates.length ? fake.allowedUpdates : DEFAULT_ALLOWED;
    const type = Object.keys(u).find((k) => k !== 'update_id');
    return !type || allowed.includes(type) || !DEFAULT_ALLOWED.concat(['chat_member', 'message_reaction', 'message_reaction_count']).includes(type);
  };
  // Confirm (forget) every update below OFFSET; negative: keep only the last -OFFSET.
  const confirm = (offset) => {
    if (offset === undefined || Number.isNaN(offset) || fake.ignoreOffset) return;
    const before = fake.updates.length;
    if (offset < 0) fake.updates = fake.updates.slice(Math.max(0, fake.updates.length + offset));
    else fake.updates = fake.updates.filter((u) => !(typeof u.update_id === 'number' && u.update_id < offset));
    fake.forgotten += before - fake.updates.length;
  };
  const pending = (limit) => fake.updates.filter(allowedNow).slice(0, limit);
  function answerPoll() {
    if (!poll) return;
    const list = pending(poll.limit);
    if (!list.length) return;
    const p = poll;
    poll = null;
    clearTimeout(p.timer);
    for (const u of list) fake.delivered.set(u.update_id, (fake.delivered.get(u.update_id) || 0) + 1);
    reply(p.res, p.record, list);
  }

  // ---- webhook ----

  let delivering = false;
  async function deliverWebhook() {
    if (!fake.webhook || delivering) return;
    const list = pending(1);
    if (!list.length) return;
    delivering = true;
    const u = list[0];
    const hook = fake.webhook;
    const body = Buffer.from(encodeJson(u, jsonStyle));
    const headers = { 'content-type': 'application/json', 'content-length': body.length };
    if (hook.secret_token) headers['x-telegram-bot-api-secret-token'] = hook.secret_token;
    const status = await new Promise((resolve) => {
      const req = http.request(hook.url, { method: 'POST', headers, timeout: 60000 * timeScale + 1000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      });
      req.on('error', (e) => resolve(`${e.code || e.message}`));
      req.on('timeout', () => { req.destroy(); resolve('timeout'); });
      req.end(body);
    });
    fake.webhookDeliveries.push({ update_id: u.update_id, status });
    fake.delivered.set(u.update_id, (fake.delivered.get(u.update_id) || 0) + 1);
    hook.pending_update_count = fake.updates.length;
    if (typeof status === 'number' && status >= 200 && status < 300) {
      fake.updates.splice(fake.updates.indexOf(u), 1);
      fake.forgotten++;
      hook.last_error_date = undefined;
      delivering = false;
      setImmediate(deliverWebhook);
    } else {
      hook.last_error_date = now();
      hook.last_error_message = typeof status === 'number' ? `Wrong response from the webhook: ${status}` : `Connection refused (${status})`;
      setTimeout(() => { delivering = false; deliverWebhook(); }, scaled(1000));
    }
    fake.emit('webhook', u, status);
  }

  // ---- flood limits ----

  // Is this send to CHAT within the limits? Records it, or throws a 429.
  const flood = (chatId, method) => {
    const lim = fake.limits;
    const t = Date.now();
    const sends = chatSends.get(chatId) || [];
    chatSends.set(chatId, sends);
    const tooMany = (waitMs, what) => {
      fake.violations.push({ chat: chatId, method, what, at: t });
      const retry = Math.max(1, Math.ceil(waitMs / scaled(1000)));
      throw new ApiError(429, `Too Many Requests: retry after ${retry}`, { retry_after: retry });
    };
    if (lim) {
      const last = sends.length ? sends[sends.length - 1] : -Infinity;
      // An allowance for jitter, as the real limits are soft: requests a
      // sender paced 20 ms apart (a scaled second) can reach this loop a
      // few ms closer together on a loaded machine. A sender that does
      // not pace at all is still caught: its requests come back to back.
      const jitter = (ms) => Math.min(ms * 0.4, 8);
      const perChat = scaled(lim.perChatMs || 0);
      if (lim.perChatMs && t - last < perChat - jitter(perChat)) tooMany(perChat - (t - last), 'more than 1 message per second in a chat');
      if (chatId < 0 && lim.perGroupPerMinute) {
        const inMinute = sends.filter((s) => t - s < scaled(60000) - jitter(scaled(60000)));
        if (inMinute.length >= lim.perGroupPerMinute) tooMany(scaled(60000) - (t - inMinute[0]), 'more than 20 messages per minute in a group');
      }
      while (globalSends.length && t - globalSends[0] >= scaled(1000)) globalSends.shift();
      if (lim.globalPerSecond && globalSends.length >= lim.globalPerSecond) tooMany(scaled(1000) - (t - globalSends[0]), 'more than 30 messages per second');
    }
    if (!lim) return;
    sends.push(t);
    if (sends.length > 64) sends.splice(0, sends.length - 64);
    globalSends.push(t);
  };

  // ---- methods ----

  const chatOf = (params) => {
    const raw = params.chat_id;
    let id = int(raw);
    if (typeof raw === 'string' && raw.startsWith('@')) {
      const c = [...chats.values()].find((x) => x.username && `@${x.username}` === raw);
      if (c) id = c.id;
    }
    if (raw === undefined || raw === '') throw bad('chat_id is empty');
    if (migrated.has(id)) throw bad('group chat was upgraded to a supergroup chat', { migrate_to_chat_id: migrated.get(id) });
    const c = chats.get(id);
    if (!c) throw bad('chat not found');
    return c;
  };
  const checkText = (params) => {
    if (typeof params.text !== 'string' || !params.text.length) throw bad('message text is empty');
    let text = params.text;
    let entities = Array.isArray(params.entities) ? params.entities : undefined;
    if (params.parse_mode !== undefined) {
      if (params.parse_mode !== 'MarkdownV2' && params.parse_mode !== 'HTML' && params.parse_mode !== 'Markdown') throw bad('unsupported parse_mode');
      if (params.parse_mode === 'MarkdownV2') ({ text, entities } = parseMarkdownV2(text));
    }
    if (!text.trim().length) throw bad('message text is empty');
    if (u16(text) > MAX_TEXT) throw bad('message is too long');
    return { text, entities: entities && entities.length ? entities : undefined };
  };
  const checkThread = (c, params) => {
    if (params.message_thread_id === undefined) return undefined;
    const t = int(params.message_thread_id);
    if (c.type !== 'supergroup' || !c.is_forum || !c.topics.has(t)) throw bad('message thread not found');
    return t;
  };

  const methods = {
    getMe: () => fake.bot,
    logOut: () => true,
    close: () => true,
    getUpdates: (params, record, res) => {
      if (fake.webhook) throw new ApiError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");
      const offset = params.offset !== undefined ? int(params.offset) : undefined;
      const limit = params.limit !== undefined ? int(params.limit) : 100;
      const timeout = params.timeout !== undefined ? int(params.timeout) : 0;
      if (Number.isNaN(limit) || Number.isNaN(timeout) || (params.offset !== undefined && Number.isNaN(offset))) throw bad('invalid parameters');
      if (params.allowed_updates !== undefined) {
        if (!Array.isArray(params.allowed_updates)) throw bad("can't parse allowed_updates JSON array");
        fake.allowedUpdates = params.allowed_updates;
      }
      if (poll) {   // a second poller: the first is told so, as Telegram does
        fake.conflicts++;
        const p = poll;
        poll = null;
        clearTimeout(p.timer);
        replyError(p.res, p.record, new ApiError(409, 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running'));
      }
      confirm(offset);
      const lim = Math.min(100, Math.max(1, limit));
      const list = pending(lim);
      if (list.length || timeout <= 0 || fake.shortPolling) {   // shortPolling: a server that never holds a poll
        for (const u of list) fake.delivered.set(u.update_id, (fake.delivered.get(u.update_id) || 0) + 1);
        return list;
      }
      const p = { res, record, limit: lim };
      p.timer = setTimeout(() => { if (poll === p) { poll = null; reply(res, record, []); } }, scaled(timeout * 1000));
      res.on('close', () => { if (poll === p) { poll = null; clearTimeout(p.timer); } });
      poll = p;
      fake.emit('poll', record);
      return undefined;   // answered later
    },
    setWebhook: (params) => {
      if (typeof params.url !== 'string') throw bad('bad webhook: URL must be provided');
      if (params.url === '') { fake.webhook = null; return true; }
      if (params.secret_token !== undefined && !/^[A-Za-z0-9_-]{1,256}$/.test(String(params.secret_token))) throw bad('bad webhook: secret token contains unallowed characters');
      if (params.drop_pending_updates === true || params.drop_pending_updates === 'true') confirm(fake.nextUpdateId);
      if (Array.isArray(params.allowed_updates)) fake.allowedUpdates = params.allowed_updates;
      fake.webhook = { url: params.url, secret_token: params.secret_token, max_connections: int(params.max_connections) || 40 };
      if (poll) { const p = poll; poll = null; clearTimeout(p.timer); replyError(p.res, p.record, new ApiError(409, 'Conflict: terminated by setWebhook request')); }
      setImmediate(deliverWebhook);
      return true;
    },
    deleteWebhook: (params) => {
      fake.webhook = null;
      if (params.drop_pending_updates === true || params.drop_pending_updates === 'true') confirm(fake.nextUpdateId);
      return true;
    },
    getWebhookInfo: () => ({ url: fake.webhook ? fake.webhook.url : '', has_custom_certificate: false, pending_update_count: fake.updates.length,
      ...(fake.webhook && fake.webhook.last_error_date ? { last_error_date: fake.webhook.last_error_date, last_error_message: fake.webhook.last_error_message } : {}) }),
    sendMessage: (params) => {
      const c = chatOf(params);
      const thread = checkThread(c, params);
      const { text, entities } = checkText(params);
      let replyTo;
      if (params.reply_parameters !== undefined) {
        const rp = params.reply_parameters;
        if (!rp || typeof rp !== 'object' || Number.isNaN(int(rp.message_id))) throw bad('invalid reply parameters specified');
        const target = messages.get(`${rp.chat_id !== undefined ? int(rp.chat_id) : c.id}:${int(rp.message_id)}`);
        if (!target && !rp.allow_sending_without_reply) throw bad('message to be replied not found');
        replyTo = target;
      } else if (params.reply_to_message_id !== undefined) {
        replyTo = messages.get(`${c.id}:${int(params.reply_to_message_id)}`);
      }
      if (params.reply_markup !== undefined) {
        const kb = params.reply_markup && params.reply_markup.inline_keyboard;
        if (!Array.isArray(kb) || !kb.every((row) => Array.isArray(row))) throw bad("can't parse inline keyboard button: InlineKeyboardMarkup must be an Array of Arrays");
        for (const b of kb.flat()) {
          if (!b || typeof b.text !== 'string' || !b.text) throw bad('BUTTON_TEXT_EMPTY');
          const kinds = ['callback_data', 'url'].filter((k) => b[k] !== undefined);
          if (kinds.length !== 1) throw bad("can't parse inline keyboard button: exactly one of the optional fields must be used");
          if (b.callback_data !== undefined && (typeof b.callback_data !== 'string' || Buffer.byteLength(b.callback_data) < 1 || Buffer.byteLength(b.callback_data) > 64)) throw bad('BUTTON_DATA_INVALID');
          if (b.url !== undefined && !/^(https?|tg):\/\//.test(b.url)) throw bad('BUTTON_URL_INVALID');
        }
      }
      flood(c.id, 'sendMessage');
      const m = { message_id: newMessageId(c.id), from: fake.bot, chat: publicChat(c), date: now(), text };
      if (params.reply_markup !== undefined) m.reply_markup = params.reply_markup;
      if (thread !== undefined) { m.message_thread_id = thread; m.is_topic_message = true; }
      if (entities) m.entities = entities;
      if (replyTo) m.reply_to_message = strip(replyTo);
      store(m);
      const rec = { ...m, chat_id: c.id, reply_to: replyTo ? replyTo.message_id : undefined, thread, parse_mode: params.parse_mode, raw: params.text, versions: [text] };
      fake.sent.push(rec);
      fake.emit('sent', rec);
      return m;
    },
    editMessageText: (params) => {
      if (params.inline_message_id !== undefined) throw bad('message to edit not found');
      const c = chatOf(params);
      const m = messages.get(`${c.id}:${int(params.message_id)}`);
      if (!m) throw bad('message to edit not found');
      if (!m.from || m.from.id !== botId) throw bad("message can't be edited");
      const { text, entities } = checkText(params);
      if (text === m.text && JSON.stringify(entities || []) === JSON.stringify(m.entities || [])) {
        throw bad('message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message');
      }
      flood(c.id, 'editMessageText');
      m.text = text;
      if (entities) m.entities = entities; else delete m.entities;
      m.edit_date = now();
      const rec = fake.sent.find((s) => s.chat_id === c.id && s.message_id === m.message_id);
      if (rec) { rec.text = text; rec.entities = entities; rec.versions.push(text); }
      fake.edits.push({ chat_id: c.id, message_id: m.message_id, text, at: Date.now() });
      fake.emit('edit', m);
      return m;
    },
    answerCallbackQuery: (params) => {
      const q = fake.callbackQueries.get(String(params.callback_query_id));
      if (!q) throw bad('query is too old and response timeout expired or query ID is invalid');
      if (q.answered) throw bad('query is too old and response timeout expired or query ID is invalid');
      q.answered = true;
      fake.callbackAnswers.push({ at: Date.now(), id: String(params.callback_query_id), late: Date.now() - q.at, text: params.text });
      return true;
    },
    sendChatAction: (params) => {
      const c = chatOf(params);
      const thread = checkThread(c, params);
      const actions = ['typing', 'upload_photo', 'record_video', 'upload_video', 'record_voice', 'upload_voice', 'upload_document', 'choose_sticker', 'find_location', 'record_video_note', 'upload_video_note'];
      if (!actions.includes(params.action)) throw bad('wrong parameter action in request');
      fake.actions.push({ chat_id: c.id, action: params.action, thread, at: Date.now() });
      return true;
    },
    setMessageReaction: (params) => {
      const c = chatOf(params);
      const m = messages.get(`${c.id}:${int(params.message_id)}`);
      if (!m) throw bad('message to react not found');
      const list = params.reaction === undefined ? [] : params.reaction;
      if (!Array.isArray(list)) throw bad("can't parse reaction types JSON object");
      for (const r of list) {
        if (!r || r.type !== 'emoji' || !REACTIONS.has(r.emoji)) throw bad('REACTION_INVALID');
      }
      fake.reactions.push({ chat_id: c.id, message_id: m.message_id, reaction: list, is_big: !!params.is_big });
      return true;
    },
    setMyCommands: (params) => {
      const list = params.commands;
      if (!Array.isArray(list)) throw bad("can't parse commands JSON object");
      if (list.length > 100) throw bad('too many commands specified');
      for (const c of list) {
        if (!c || typeof c.command !== 'string' || !/^[a-z0-9_]{1,32}$/.test(c.command)) throw bad('BOT_COMMAND_INVALID');
        if (typeof c.description !== 'string' || !c.description.length || [...c.description].length > 256) throw bad('BOT_COMMAND_DESCRIPTION_INVALID');
      }
      fake.commands = list;
      fake.commandSets.push(list);
      return true;
    },
    getMyCommands: () => fake.commands || [],
    deleteMyCommands: () => { fake.commands = []; return true; },
  };

  function send(res, status, obj) {
    if (res.writableEnded || res.destroyed) return;
    const body = Buffer.from(encodeJson(obj, jsonStyle), 'utf8');
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  }
  function reply(res, record, result) {
    record.status = 200;
    record.result = result;
    send(res, 200, { ok: true, result });
    wake();
  }
  function replyError(res, record, e) {
    record.status = e.code;
    record.error = e.message;
    send(res, e.code, { ok: false, error_code: e.code, description: e.message, ...(e.parameters ? { parameters: e.parameters } : {}) });
    wake();
  }

  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url, 'http://fake');
      const m = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(url.pathname);
      const record = { method: m ? m[2] : null, path: url.pathname, httpMethod: req.method, at: Date.now(), status: null };
      if (!m) {
        record.status = 404;
        fake.calls.push(record);
        send(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
        return;
      }
      record.tokenOk = m[1] === token;
      fake.calls.push(record);
      try {
        if (!record.tokenOk) throw new ApiError(401, 'Unauthorized');
        const fn = Object.keys(methods).find((k) => k.toLowerCase() === m[2].toLowerCase());
        if (!fn) throw new ApiError(404, 'Not Found: method not found');
        record.method = fn;
        record.params = readParams(req, Buffer.concat(chunks));
        const forced = fake.force429.findIndex((f) => !f.method || f.method === fn);
        if (forced >= 0) {
          const [f] = fake.force429.splice(forced, 1);
          const retry = f.retryAfter || 1;
          fake.emit('429', record);
          throw new ApiError(429, `Too Many Requests: retry after ${retry}`, { retry_after: retry });
        }
        const failed = fake.failNext.findIndex((f) => f.method === fn);
        if (failed >= 0) {
          const [f] = fake.failNext.splice(failed, 1);
          if (f.raw !== undefined) {   // what a proxy in front of the Bot API answers (an nginx 502 page)
            record.status = f.code || 502;
            res.writeHead(record.status, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(f.raw) });
            res.end(f.raw);
            return;
          }
          throw new ApiError(f.code || 400, f.description || 'Bad Request', f.parameters);
        }
        const result = methods[fn](record.params, record, res);
        if (result !== undefined) reply(res, record, result);
      } catch (e) {
        if (!(e instanceof ApiError)) { replyError(res, record, new ApiError(500, `Internal Server Error: ${e.message}`)); return; }
        replyError(res, record, e);
      }
      wake();
      fake.emit('call', record);
    });
  });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  fake.close = () => {
    fake.webhook = null;
    if (poll) { clearTimeout(poll.timer); poll = null; }
    for (const s of sockets) s.destroy();
    return new Promise((resolve) => server.close(() => resolve()));
  };
  // Cut every open connection (a network blip): pending long polls fail.
  fake.dropConnections = () => { for (const s of sockets) s.destroy(); };
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: 0 }, resolve);
  });
  fake.port = server.address().port;
  fake.apiRoot = `http://${host}:${fake.port}`;
  fake.apiBase = `${fake.apiRoot}/bot${token}`;
  return fake;
}

module.exports = { startFakeTelegram, parseMarkdownV2, autoEntities };
