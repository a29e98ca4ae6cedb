'use strict';
// An Anthropic Messages server on a free loopback port.
//
//   const fake = await startFakeAnthropic();
//   fake.baseUrl                       // "http://127.0.0.1:PORT" (the host, as Anthropic's SDKs take it)
//   fake.respond = (req) => ({ content: 'hi' })
//
// POST /v1/messages needs x-api-key (else 401) and anthropic-version
// (else 400), as the real API does. "stream": true gets named SSE events:
// message_start, content_block_start, ping, content_block_delta
// (text_delta | input_json_delta), content_block_stop, message_delta
// (stop_reason, usage), message_stop. Plans:
//   { content, toolCalls: [{ id, name, arguments }], tokens: { input, output } }
//   { status: 529 } / { status: 429, headers: { 'retry-after': '1' } } / { status: 400, message: 'prompt is too long: ...' }
//   { errorType: 'rate_limit_error', message: '...' }  // with a status: the error body's type and message
//   { streamError: 'overloaded_error' }                 // an error event after the first word
//   { chunkDelayMs, firstChunkDelayMs, cut, cutAfter, malformed, events }   // as for the OpenAI fake

const { startFakeServer, writeStream, pieces, lastUserText, streamOptions } = require('./fake-base');

const DEFAULT_TYPES = { 400: 'invalid_request_error', 401: 'authentication_error', 403: 'permission_error', 404: 'not_found_error', 429: 'rate_limit_error', 500: 'api_error', 529: 'overloaded_error' };
const ev = (obj) => `event: ${obj.type}\ndata: ${JSON.stringify(obj)}\n\n`;

function tokensFor(content, req, plan) {
  if (plan.tokens) return plan.tokens;
  return { input: JSON.stringify(req.body.messages || []).length >> 2, output: Math.max(1, Buffer.byteLength(content) >> 2) };
}

function jsonReply(res, status, obj, headers = {}) {
  const payload = Buffer.from(JSON.stringify(obj), 'utf8');
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': payload.length, ...headers });
  res.end(payload);
}

// The events of a streamed message for this plan.
function streamEvents(content, req, plan) {
  const t = tokensFor(content, req, plan);
  const out = [ev({ type: 'message_start', message: { id: 'msg_1', type: 'message', role: 'assistant', content: [], model: req.body.model, stop_reason: null, stop_sequence: null, usage: { input_tokens: t.input, output_tokens: 1 } } })];
  let index = 0;
  if (content) {
    out.push(ev({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } }));
    out.push(ev({ type: 'ping' }));
    pieces(content).forEach((p, i) => {
      out.push(ev({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: p } }));
      if (i === 0 && plan.malformed) out.push('event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0, "delta": {\n\n');
      if (i === 0 && plan.streamError) out.push(ev({ type: 'error', error: { type: plan.streamError, message: 'Overloaded' } }));
    });
    out.push(ev({ type: 'content_block_stop', index }));
    index++;
  }
  for (const c of plan.toolCalls || []) {
    out.push(ev({ type: 'content_block_start', index, content_block: { type: 'tool_use', id: c.id, name: c.name, input: {} } }));
    const a = c.arguments;
    const third = Math.ceil(a.length / 3);
    for (let k = 0; k < a.length; k += third) out.push(ev({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: a.slice(k, k + third) } }));
    out.push(ev({ type: 'content_block_stop', index }));
    index++;
  }
  out.push(ev({ type: 'message_delta', delta: { stop_reason: plan.toolCalls ? 'tool_use' : 'end_turn', stop_sequence: null }, usage: { output_tokens: t.output } }));
  out.push(ev({ type: 'message_stop' }));
  return out;
}

async function answer(record, plan, res) {
  const h = record.headers;
  if (!h['x-api-key']) return jsonReply(res, 401, { type: 'error', error: { type: 'authentication_error', message: 'x-api-key header is required' } });
  if (!h['anthropic-version']) return jsonReply(res, 400, { type: 'error', error: { type: 'invalid_request_error', message: 'anthropic-version header is required' } });
  const status = plan.status || 200;
  if (status !== 200) {
    return jsonReply(res, status, { type: 'error', error: { type: plan.errorType || DEFAULT_TYPES[status] || 'api_error', message: plan.message || `fake error ${status}` } }, plan.headers);
  }
  const content = plan.content !== undefined ? plan.content : (plan.toolCalls ? '' : `echo: ${lastUserText(record)}`);
  if (record.body && record.body.stream === true) {
    const events = plan.events ? plan.events.map((e) => (typeof e === 'object' && !Buffer.isBuffer(e) ? ev(e) : e)) : streamEvents(content, record, plan);
    await writeStream(res, events, streamOptions(plan, 'text/event-stream; charset=utf-8'));
    return;
  }
  const t = tokensFor(content, record, plan);
  const blocks = content ? [{ type: 'text', text: content }] : [];
  for (const c of plan.toolCalls || []) blocks.push({ type: 'tool_use', id: c.id, name: c.name, input: JSON.parse(c.arguments) });
  jsonReply(res, 200, {
    id: 'msg_1', type: 'message', role: 'assistant', model: record.body.model, content: blocks,
    stop_reason: plan.toolCalls ? 'tool_use' : 'end_turn', stop_sequence: null, usage: { input_tokens: t.input, output_tokens: t.output },
  }, plan.headers);
}

function startFakeAnthropic({ host = '127.0.0.1' } = {}) {
  return startFakeServer({ host, routes: ['/v1/messages'], prefix: '', answer, describe: (r) => `${r.path} ${lastUserText(r)}` });
}

module.exports = { startFakeAnthropic };
