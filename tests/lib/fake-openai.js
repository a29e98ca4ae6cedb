'use strict';
// An OpenAI-compatible Chat Completions server on a free loopback port.
//
//   const fake = await startFakeOpenAI();
//   fake.baseUrl                       // "http://127.0.0.1:PORT/v1"
//   fake.requests                      // [{method, path, headers, rawBody, body, at}]
//   fake.respond = (req) => ({ status: 429 })            // per-test behaviour
//   fake.respond = (req) => ({ delayMs: 300 })           // default answer, late
//   fake.respond = (req) => ({ raw: '{"choices": [' })   // malformed JSON
//   fake.respond = (req) => ({ body: {...} })            // any JSON body
//   fake.respond = (req) => ({ content: 'hi' })          // default shape, this text
//   await fake.waitForRequest((r) => ..., 5000)
//
// Returning undefined from respond() gives the default answer:
// content "echo: <last user message>".
//
// A request with "stream": true gets server-sent events: a role chunk, the
// content word by word, tool-call fragments, a finish chunk, a usage chunk
// (when stream_options.include_usage) and "data: [DONE]". Plans for streams:
//   { toolCalls: [{ id, name, arguments }] }   // fragments: id and name, then the arguments in 3 pieces
//   { reuseIndex: true }                       // every tool call at index 0, told apart by id
//   { tokens: { input: 7, output: 3 } }        // the usage reported
//   { chunkDelayMs, firstChunkDelayMs }        // pacing; headers go out at once
//   { cut: true, cutAfter: 2 }                 // end the response after 2 events (no finish, no [DONE])
//   { cut: 'reset' }                           // destroy the socket instead
//   { malformed: true }                        // a chunk that is not JSON after the first word
//   { events: [obj | 'raw text' | Buffer | delayMs] }   // exactly these (objects as "data: JSON", Buffers as raw bytes)
//   { status: 429, headers: {...} }            // errors are JSON, as real servers send them

const { startFakeServer, writeStream, pieces, lastUserText, streamOptions } = require('./fake-base');

function tokensFor(content, req, plan) {
  if (plan && plan.tokens) return { prompt_tokens: plan.tokens.input, completion_tokens: plan.tokens.output };
  const promptTokens = JSON.stringify((req.body && req.body.messages) || []).length >> 2;
  return { prompt_tokens: promptTokens, completion_tokens: Math.max(1, Buffer.byteLength(content) >> 2) };
}

function completion(content, req, plan) {
  const usage = tokensFor(content, req, plan);
  const message = { role: 'assistant', content };
  if (plan && plan.toolCalls) {
    message.content = content || null;
    message.tool_calls = plan.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } }));
  }
  return {
    id: 'x',
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: (req.body && req.body.model) || 'gpt-test',
    choices: [{ index: 0, message, finish_reason: plan && plan.toolCalls ? 'tool_calls' : 'stop' }],
    usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
  };
}

const sse = (obj) => `data: ${JSON.stringify(obj)}\n\n`;

// The events of a default stream for this plan.
function streamEvents(content, req, plan) {
  const chunk = (delta, finish = null) => sse({ id: 'x', object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }] });
  const out = [chunk({ role: 'assistant', content: '' })];
  pieces(content).forEach((p, i) => {
    out.push(chunk({ content: p }));
    if (i === 0 && plan.malformed) out.push('data: {"choices": [{"delta": {"content": "oops"\n\n');
  });
  (plan.toolCalls || []).forEach((c, i) => {
    const index = plan.reuseIndex ? 0 : i;
    out.push(chunk({ tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.name, arguments: '' } }] }));
    const a = c.arguments;
    const third = Math.ceil(a.length / 3);
    for (let k = 0; k < a.length; k += third) out.push(chunk({ tool_calls: [{ index, function: { arguments: a.slice(k, k + third) } }] }));
  });
  out.push(chunk({}, plan.toolCalls ? 'tool_calls' : 'stop'));
  const opts = req.body.stream_options || {};
  if (opts.include_usage && !plan.noUsage) out.push(sse({ id: 'x', object: 'chat.completion.chunk', choices: [], usage: tokensFor(content, req, plan) }));
  out.push('data: [DONE]\n\n');
  return out;
}

async function answer(record, plan, res) {
  const status = plan.status || 200;
  if (status !== 200) {
    const payload = Buffer.from(JSON.stringify({ error: { message: `fake error ${status}`, type: 'server_error', code: null } }), 'utf8');
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': payload.length, ...(plan.headers || {}) });
    res.end(payload);
    return;
  }
  const content = plan.content !== undefined ? plan.content : (plan.toolCalls ? '' : `echo: ${lastUserText(record)}`);
  if (record.body && record.body.stream === true) {
    const events = plan.events ? plan.events.map((e) => (typeof e === 'object' && !Buffer.isBuffer(e) ? sse(e) : e)) : streamEvents(content, record, plan);
    await writeStream(res, events, streamOptions(plan, 'text/event-stream'));
    return;
  }
  const payload = Buffer.from(JSON.stringify(completion(content, record, plan)), 'utf8');
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': payload.length, ...(plan.headers || {}) });
  res.end(payload);
}

function startFakeOpenAI({ host = '127.0.0.1' } = {}) {
  return startFakeServer({
    host, routes: ['/v1/chat/completions'], prefix: '/v1', answer, describe: (r) => `${r.path} ${lastUserText(r)}`,
  });
}

module.exports = { startFakeOpenAI, lastUserText, completion };
