/*
 * Chorus built-in chat page.
 *
 * Talks to the daemon over a websocket at <same origin>/ws using JSON text
 * frames (see docs in the report / protocol description):
 *   client -> server  {"type":"message","id","channel","user":{"id","name"},"text"}
 *                     {"type":"join","channel"}
 *   server -> client  {"type":"typing","channel"}
 *                     {"type":"message","channel","persona","text","reply_to"}
 *                     {"type":"error","error","reply_to"}
 *
 * All user and model text is rendered with textContent, never as HTML.
 */
(function () {
  'use strict';

  var MAX_CODE_POINTS = 4000;
  var WARN_CODE_POINTS = 3500;
  var BACKOFF_MIN_MS = 500;
  var BACKOFF_MAX_MS = 10000;
  var CONNECT_TIMEOUT_MS = 10000;
  var TYPING_TIMEOUT_MS = 10000;
  var MAX_HISTORY = 500;
  var MAX_NAME = 64;
  var MAX_CHANNEL = 64;
  var DEFAULT_CHANNEL = 'lobby';
  var DEFAULT_NAME = 'guest';
  var DEFAULT_PERSONA = 'Bot';
  var KEY_USER_ID = 'chorus.userId';
  var KEY_NAME = 'chorus.name';
  var KEY_TOKEN = 'chorus.identity'; // issued by chorusd: the same user on the next visit

  var ERROR_TEXT = {
    bad_json: 'The server could not read this message.',
    missing_field: 'The message was missing a required field.',
    too_long: 'This message is too long (the limit is 4,000 characters).',
    bad_utf8: 'The message contains characters the server could not read.',
    unsupported: 'The server does not support this request.'
  };

  /* ---- small helpers ------------------------------------------------- */

  function $(id) {
    return document.getElementById(id);
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  function storageGet(kind, key) {
    try {
      return window[kind].getItem(key);
    } catch (e) {
      return null;
    }
  }

  function storageSet(kind, key, value) {
    try {
      if (value == null) window[kind].removeItem(key);
      else window[kind].setItem(key, value);
    } catch (e) {
      /* storage may be disabled; the page still works for this visit */
    }
  }

  function randomHex(bytes) {
    var out = '';
    var buf = new Uint8Array(bytes);
    if (window.crypto && window.crypto.getRandomValues) {
      window.crypto.getRandomValues(buf);
    } else {
      for (var i = 0; i < bytes; i++) buf[i] = Math.floor(Math.random() * 256);
    }
    for (var j = 0; j < buf.length; j++) out += (buf[j] < 16 ? '0' : '') + buf[j].toString(16);
    return out;
  }

  /* Number of Unicode code points (not UTF-16 units). */
  function countCodePoints(s) {
    var n = 0;
    for (var i = 0; i < s.length; i++) {
      var c = s.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
        var d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) i++;
      }
      n++;
    }
    return n;
  }

  function truncateCodePoints(s, max) {
    var out = '';
    var n = 0;
    for (var ch of s) {
      if (n++ >= max) break;
      out += ch;
    }
    return out;
  }

  /* Replace lone surrogates so the frame is always valid UTF-8 on the wire. */
  function wellFormed(s) {
    if (typeof s.toWellFormed === 'function') return s.toWellFormed();
    return s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(^|[^\ud800-\udbff])[\udc00-\udfff]/g,
      function (m, pre) {
        return (pre || '') + '\ufffd';
      });
  }

  function hueFor(name) {
    var h = 0;
    for (var i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) % 360;
    return h;
  }

  function timeLabel(date) {
    try {
      return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    } catch (e) {
      return '';
    }
  }

  function normalizeChannel(raw) {
    var c = String(raw == null ? '' : raw).trim().replace(/^#+/, '').trim().replace(/\s+/g, '-');
    c = truncateCodePoints(c, MAX_CHANNEL);
    return c || DEFAULT_CHANNEL;
  }

  function normalizeName(raw) {
    var n = truncateCodePoints(String(raw == null ? '' : raw).replace(/\s+/g, ' ').trim(), MAX_NAME);
    return n || DEFAULT_NAME;
  }

  function channelFromHash() {
    var h = location.hash.replace(/^#/, '');
    try {
      h = decodeURIComponent(h);
    } catch (e) {
      /* keep the raw text */
    }
    return normalizeChannel(h);
  }

  function wsUrl() {
    /* Resolve "ws" relative to the page, so /ws for a page served at /. */
    var u = new URL('ws', location.href);
    u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    u.hash = '';
    u.search = '';
    return u.href;
  }

  /* ---- elements ------------------------------------------------------- */

  var ui = {
    status: $('status'),
    channel: $('channel'),
    channelForm: $('channel-form'),
    name: $('name'),
    messages: $('messages'),
    empty: $('empty'),
    typing: $('typing'),
    typingText: $('typing-text'),
    composer: $('composer'),
    input: $('input'),
    send: $('send'),
    limit: $('limit'),
    limitAlert: $('limit-alert')
  };

  /* ---- state ---------------------------------------------------------- */

  var userId = storageGet('sessionStorage', KEY_USER_ID);
  if (!userId) {
    userId = 'u-' + randomHex(8);
    storageSet('sessionStorage', KEY_USER_ID, userId);
  }

  var state = {
    channel: channelFromHash(),
    user: { id: userId, name: normalizeName(storageGet('localStorage', KEY_NAME)) },
    ws: null,
    everConnected: false,
    attempt: 0,
    reconnectTimer: null,
    connectTimer: null,
    typingTimer: null,
    counter: 0,
    queue: [], // own message records waiting for an open socket
    own: new Map(), // client id -> own message record
    histories: new Map(), // channel -> [message elements]
    personas: new Map(), // channel -> last persona name seen
    overLimit: false,
    presses: new Set() /* ids of this page's button presses: their answers are to me */
  };

  function newMessageId() {
    state.counter += 1;
    return 'm-' + Date.now().toString(36) + '-' + state.counter + '-' + randomHex(4);
  }

  /* ---- connection status --------------------------------------------- */

  function setStatus(kind, text, detail) {
    ui.status.dataset.state = kind;
    if (ui.status.textContent !== text) ui.status.textContent = text;
    if (detail) ui.status.title = detail;
    else ui.status.removeAttribute('title');
  }

  function isOpen() {
    return !!state.ws && state.ws.readyState === WebSocket.OPEN;
  }

  function sendFrame(obj) {
    if (!isOpen()) return false;
    try {
      state.ws.send(JSON.stringify(obj));
      return true;
    } catch (e) {
      return false;
    }
  }

  function connect() {
    clearTimeout(state.reconnectTimer);
    state.reconnectTimer = null;
    if (state.ws) return;

    if (!state.everConnected && state.attempt === 0) setStatus('connecting', 'connecting…');
    else setStatus('closed', 'offline', 'Reconnecting now…');

    var ws;
    try {
      ws = new WebSocket(wsUrl());
    } catch (e) {
      scheduleReconnect();
      return;
    }
    state.ws = ws;

    state.connectTimer = setTimeout(function () {
      if (ws.readyState === WebSocket.CONNECTING) ws.close();
    }, CONNECT_TIMEOUT_MS);

    ws.addEventListener('open', function () {
      if (ws !== state.ws) return;
      clearTimeout(state.connectTimer);
      state.attempt = 0;
      state.everConnected = true;
      setStatus('open', 'connected');
      sendFrame({ type: 'hello', token: storageGet('localStorage', KEY_TOKEN) || null });
      sendJoin(state.channel);
      flushQueue();
    });

    ws.addEventListener('message', function (ev) {
      if (ws !== state.ws) return;
      onFrame(ev.data);
    });

    ws.addEventListener('close', function () {
      if (ws !== state.ws) return;
      clearTimeout(state.connectTimer);
      state.ws = null;
      markInterrupted();
      hideTyping();
      scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    clearTimeout(state.reconnectTimer);
    var delay = Math.min(BACKOFF_MIN_MS * Math.pow(2, state.attempt), BACKOFF_MAX_MS);
    state.attempt += 1;
    var secs = delay < 1000 ? (delay / 1000).toFixed(1) : String(Math.round(delay / 1000));
    setStatus('closed', 'offline', 'Reconnecting in ' + secs + ' s');
    state.reconnectTimer = setTimeout(connect, delay);
  }

  function sendJoin(channel) {
    sendFrame({ type: 'join', channel: channel });
  }

  function flushQueue() {
    while (state.queue.length && isOpen()) {
      var rec = state.queue.shift();
      if (rec.state !== 'queued') continue;
      if (sendFrame(messageFrame(rec))) {
        setOwnState(rec, 'sent');
      } else {
        state.queue.unshift(rec);
        break;
      }
    }
  }

  /* Messages sent on a socket that died will not get their reply there. */
  function markInterrupted() {
    state.own.forEach(function (rec) {
      if (rec.state === 'sent') setOwnState(rec, 'interrupted');
    });
  }

  /* ---- incoming frames ------------------------------------------------ */

  function onFrame(data) {
    if (typeof data !== 'string') return;
    var msg;
    try {
      msg = JSON.parse(data);
    } catch (e) {
      console.warn('chorus: ignoring a frame that is not JSON');
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    if (msg.type === 'typing') onTyping(msg);
    else if (msg.type === 'message') onReply(msg);
    else if (msg.type === 'error') onError(msg);
    else if (msg.type === 'identity') onIdentity(msg);
  }

  // chorusd says who this browser is; keep its token for the next visit.
  function onIdentity(msg) {
    if (typeof msg.token === 'string' && msg.token) storageSet('localStorage', KEY_TOKEN, msg.token);
    state.identity = typeof msg.user === 'string' ? msg.user : null;
    if (document.body) document.body.setAttribute('data-user', state.identity ? 'webchat:' + state.identity : '');
  }

  function frameChannel(msg, fallback) {
    return typeof msg.channel === 'string' && msg.channel ? msg.channel : fallback;
  }

  function onTyping(msg) {
    var channel = frameChannel(msg, state.channel);
    if (channel !== state.channel) return;
    var persona = typeof msg.persona === 'string' && msg.persona ? msg.persona : state.personas.get(channel);
    showTyping(persona);
  }

  function onReply(msg) {
    var replyTo = typeof msg.reply_to === 'string' ? msg.reply_to : null;
    var rec = replyTo ? state.own.get(replyTo) : null;
    var channel = frameChannel(msg, rec ? rec.channel : state.channel);
    var persona = typeof msg.persona === 'string' && msg.persona.trim() ? msg.persona.trim() : DEFAULT_PERSONA;
    var text = msg.text == null ? '' : String(msg.text);

    state.personas.set(channel, persona);
    if (rec) setOwnState(rec, 'replied');
    if (channel === state.channel) hideTyping();
    var node = renderReply(persona, text, replyTo, !!rec || (replyTo !== null && state.presses.has(replyTo)));
    if (msg.card && typeof msg.card === 'object') {
      node.querySelector('.body').insertBefore(renderCard(msg.card, channel, typeof msg.id === 'string' ? msg.id : null),
        node.querySelector('.meta'));
    }
    if (msg.ephemeral === true) {
      node.classList.add('ephemeral');
      node.querySelector('.meta').appendChild(el('span', null, '· only you can see this'));
    }
    addToChannel(channel, node);
  }

  /* A rich reply's card: title (a link when it has one), description,
   * fields, image link, footer, and rows of buttons. A button with an id
   * sends a "button" frame naming the card's message; one with a url is a
   * link. Everything is text: nothing from the server becomes markup. */
  function safeUrl(u) {
    return typeof u === 'string' && /^https?:\/\//.test(u) ? u : null;
  }

  function renderCard(card, channel, messageId) {
    var box = el('div', 'card');
    var e = card.embed && typeof card.embed === 'object' ? card.embed : null;
    if (e) {
      if (typeof e.color === 'number') box.style.borderLeftColor = '#' + ('000000' + e.color.toString(16)).slice(-6);
      if (typeof e.title === 'string') {
        var url = safeUrl(e.url);
        var title = el(url ? 'a' : 'div', 'card-title', e.title);
        if (url) { title.href = url; title.target = '_blank'; title.rel = 'noopener noreferrer'; }
        box.appendChild(title);
      }
      if (typeof e.description === 'string') box.appendChild(el('div', 'card-description', e.description));
      if (Array.isArray(e.fields) && e.fields.length) {
        var fields = el('dl', 'card-fields');
        e.fields.forEach(function (f) {
          var item = el('div', 'card-field' + (f.inline ? ' inline' : ''));
          item.appendChild(el('dt', null, String(f.name)));
          item.appendChild(el('dd', null, String(f.value)));
          fields.appendChild(item);
        });
        box.appendChild(fields);
      }
      var image = safeUrl(e.image);
      if (image) {
        var link = el('a', 'card-image', 'Image');
        link.href = image; link.target = '_blank'; link.rel = 'noopener noreferrer';
        box.appendChild(link);
      }
      if (typeof e.footer === 'string') box.appendChild(el('div', 'card-footer', e.footer));
    }
    (Array.isArray(card.buttons) ? card.buttons : []).forEach(function (row) {
      var bar = el('div', 'card-buttons');
      (Array.isArray(row) ? row : []).forEach(function (b) {
        var href = safeUrl(b.url);
        var node;
        if (href) {
          node = el('a', 'card-button link', String(b.label));
          node.href = href; node.target = '_blank'; node.rel = 'noopener noreferrer';
        } else {
          node = el('button', 'card-button' + (b.style ? ' ' + b.style : ''), String(b.label));
          node.type = 'button';
          node.addEventListener('click', function () {
            var id = newMessageId();
            if (sendFrame({ type: 'button', id: id, channel: channel, user: { id: state.user.id, name: state.user.name },
              button: String(b.id), message: messageId })) {
              state.presses.add(id);
              if (state.presses.size > 200) state.presses.delete(state.presses.values().next().value);
            }
          });
        }
        bar.appendChild(node);
      });
      box.appendChild(bar);
    });
    return box;
  }

  function onError(msg) {
    var code = typeof msg.error === 'string' ? msg.error : 'unknown';
    var replyTo = typeof msg.reply_to === 'string' ? msg.reply_to : null;
    if (replyTo === null) {
      /* "join" is optional for the server: it may answer unsupported. */
      if (code === 'unsupported') return;
      addToChannel(state.channel, renderSystem('Server error: ' + (ERROR_TEXT[code] || code), true));
      return;
    }
    var rec = state.own.get(replyTo);
    if (!rec) return; /* an error for another client's message */
    setOwnState(rec, 'error', ERROR_TEXT[code] || 'The server rejected this message (' + code + ').');
  }

  /* ---- typing indicator ---------------------------------------------- */

  function showTyping(persona) {
    ui.typingText.textContent = (persona || 'Someone') + ' is typing…';
    ui.typing.hidden = false;
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(hideTyping, TYPING_TIMEOUT_MS);
  }

  function hideTyping() {
    clearTimeout(state.typingTimer);
    state.typingTimer = null;
    ui.typing.hidden = true;
  }

  /* ---- rendering ------------------------------------------------------ */

  function metaRow(date) {
    var meta = el('div', 'meta');
    meta.setAttribute('aria-hidden', 'true');
    var t = el('time', null, timeLabel(date));
    t.dateTime = date.toISOString();
    meta.appendChild(t);
    return meta;
  }

  function renderOwn(rec) {
    var node = el('div', 'msg me');
    node.dataset.id = rec.id;
    var bubble = el('div', 'bubble');
    bubble.appendChild(el('span', 'sr-only', 'You said: '));
    bubble.appendChild(el('span', 'text', rec.text));
    node.appendChild(bubble);
    var meta = metaRow(new Date());
    rec.stateLabel = el('span', 'state');
    meta.appendChild(rec.stateLabel);
    node.appendChild(meta);
    return node;
  }

  function renderReply(persona, text, replyTo, toMe) {
    var node = el('div', 'msg bot');
    node.dataset.replyTo = replyTo || '';
    node.dataset.persona = persona;

    var avatar = el('span', 'avatar', truncateCodePoints(persona, 1));
    avatar.setAttribute('aria-hidden', 'true');
    avatar.style.setProperty('--hue', String(hueFor(persona)));
    node.appendChild(avatar);

    var body = el('div', 'body');
    body.appendChild(el('div', 'who', persona));
    body.appendChild(el('div', 'bubble text', text));
    var meta = metaRow(new Date());
    if (replyTo && !toMe) meta.appendChild(el('span', null, '· replying to someone else'));
    body.appendChild(meta);
    node.appendChild(body);
    return node;
  }

  function renderSystem(text, isError) {
    var node = el('div', 'msg system' + (isError ? ' error' : ''));
    node.appendChild(el('div', 'bubble', text));
    return node;
  }

  var STATE_LABEL = {
    queued: 'Waiting for connection…',
    sent: 'Sent',
    replied: '',
    error: 'Not delivered',
    interrupted: 'Connection lost'
  };

  function setOwnState(rec, newState, errorText) {
    rec.state = newState;
    rec.el.dataset.state = newState;
    rec.stateLabel.textContent = STATE_LABEL[newState] ? '· ' + STATE_LABEL[newState] : '';

    var stick = nearBottom();
    if (rec.note) {
      rec.note.remove();
      rec.note = null;
    }
    if (newState === 'error') {
      rec.note = el('p', 'msg-error', errorText);
      rec.el.appendChild(rec.note);
    } else if (newState === 'interrupted') {
      rec.note = el('p', 'msg-error', 'The connection dropped before a reply arrived. ');
      var retry = el('button', 'link-button', 'Send again');
      retry.type = 'button';
      retry.addEventListener('click', function () {
        retryMessage(rec);
      });
      rec.note.appendChild(retry);
      rec.el.appendChild(rec.note);
    }
    if (stick && rec.note && rec.channel === state.channel) scrollToBottom();
  }

  function nearBottom() {
    var m = ui.messages;
    return m.scrollHeight - m.scrollTop - m.clientHeight < 80;
  }

  function scrollToBottom() {
    ui.messages.scrollTop = ui.messages.scrollHeight;
  }

  function updateEmpty() {
    ui.empty.hidden = ui.messages.childElementCount > 0;
  }

  function addToChannel(channel, node, forceScroll) {
    var list = state.histories.get(channel);
    if (!list) {
      list = [];
      state.histories.set(channel, list);
    }
    list.push(node);
    while (list.length > MAX_HISTORY) list.shift().remove();

    if (channel !== state.channel) return;
    var stick = forceScroll || nearBottom();
    ui.messages.appendChild(node);
    updateEmpty();
    if (stick) scrollToBottom();
  }

  /* ---- sending -------------------------------------------------------- */

  function messageFrame(rec) {
    return {
      type: 'message',
      id: rec.id,
      channel: rec.channel,
      user: { id: state.user.id, name: rec.userName },
      text: rec.text
    };
  }

  function deliver(rec) {
    if (sendFrame(messageFrame(rec))) {
      setOwnState(rec, 'sent');
    } else {
      setOwnState(rec, 'queued');
      state.queue.push(rec);
      if (!state.ws) connect();
    }
  }

  function retryMessage(rec) {
    state.own.delete(rec.id);
    rec.id = newMessageId();
    rec.el.dataset.id = rec.id;
    state.own.set(rec.id, rec);
    deliver(rec);
  }

  function submit() {
    var raw = ui.input.value;
    if (!raw.trim()) return;
    if (countCodePoints(raw) > MAX_CODE_POINTS) {
      updateComposer();
      ui.input.focus();
      return;
    }
    var rec = {
      id: newMessageId(),
      channel: state.channel,
      userName: state.user.name,
      text: wellFormed(raw),
      state: 'new',
      note: null
    };
    rec.el = renderOwn(rec);
    state.own.set(rec.id, rec);
    addToChannel(rec.channel, rec.el, true);
    deliver(rec);

    ui.input.value = '';
    updateComposer();
    ui.input.focus();
  }

  /* ---- composer ------------------------------------------------------- */

  function autosize() {
    var t = ui.input;
    t.style.height = 'auto';
    t.style.height = t.scrollHeight + (t.offsetHeight - t.clientHeight) + 'px';
  }

  function updateComposer() {
    var text = ui.input.value;
    var n = countCodePoints(text);
    var over = n > MAX_CODE_POINTS;

    ui.send.disabled = !text.trim() || over;
    ui.limit.classList.toggle('over', over);
    ui.limit.classList.toggle('near', !over && n >= WARN_CODE_POINTS);
    if (over) {
      ui.limit.textContent = 'Too long: ' + (n - MAX_CODE_POINTS).toLocaleString() +
        ' over the 4,000 character limit';
      ui.input.setAttribute('aria-invalid', 'true');
    } else if (n >= WARN_CODE_POINTS) {
      ui.limit.textContent = n.toLocaleString() + ' / 4,000';
      ui.input.removeAttribute('aria-invalid');
    } else {
      ui.limit.textContent = '';
      ui.input.removeAttribute('aria-invalid');
    }
    if (over !== state.overLimit) {
      state.overLimit = over;
      ui.limitAlert.textContent = over
        ? 'Your message is longer than 4,000 characters and cannot be sent.'
        : '';
    }
    autosize();
  }

  ui.input.addEventListener('input', updateComposer);

  ui.input.addEventListener('keydown', function (ev) {
    if (ev.key !== 'Enter' || ev.shiftKey || ev.altKey) return;
    if (ev.isComposing || ev.keyCode === 229) return; /* IME is composing */
    ev.preventDefault();
    submit();
  });

  ui.composer.addEventListener('submit', function (ev) {
    ev.preventDefault();
    submit();
  });

  /* ---- channel -------------------------------------------------------- */

  function showChannel() {
    var ch = state.channel;
    ui.channel.value = ch;
    ui.input.placeholder = 'Message #' + ch;
    ui.messages.setAttribute('aria-label', 'Messages in #' + ch);
    ui.empty.textContent = 'No messages in #' + ch + ' yet. Say hello!';
    document.title = '#' + ch + ' · Chorus chat';
  }

  function switchChannel(ch) {
    if (ch === state.channel) {
      showChannel();
      return;
    }
    state.channel = ch;
    hideTyping();
    showChannel();

    /* Swap the visible history without re-announcing it to screen readers. */
    ui.messages.setAttribute('aria-live', 'off');
    ui.messages.replaceChildren.apply(ui.messages, state.histories.get(ch) || []);
    updateEmpty();
    scrollToBottom();
    setTimeout(function () {
      ui.messages.setAttribute('aria-live', 'polite');
    }, 0);

    sendJoin(ch);
  }

  function commitChannel() {
    var ch = normalizeChannel(ui.channel.value);
    var hash = '#' + encodeURIComponent(ch);
    if (location.hash !== hash) location.hash = hash; /* -> hashchange */
    else switchChannel(ch);
  }

  ui.channelForm.addEventListener('submit', function (ev) {
    ev.preventDefault();
    commitChannel();
    ui.input.focus();
  });
  ui.channel.addEventListener('change', commitChannel);
  window.addEventListener('hashchange', function () {
    switchChannel(channelFromHash());
  });

  /* ---- name ----------------------------------------------------------- */

  ui.name.value = state.user.name;
  ui.name.addEventListener('input', function () {
    state.user.name = normalizeName(ui.name.value);
    storageSet('localStorage', KEY_NAME, ui.name.value.trim() ? state.user.name : null);
  });
  ui.name.addEventListener('change', function () {
    ui.name.value = state.user.name;
  });
  ui.name.addEventListener('keydown', function (ev) {
    if (ev.key === 'Enter') {
      ev.preventDefault();
      ui.input.focus();
    }
  });

  /* ---- start ---------------------------------------------------------- */

  window.addEventListener('online', function () {
    if (!state.ws) connect();
  });

  showChannel();
  updateEmpty();
  updateComposer();
  connect();
})();
