'use strict';
// An Ollama server (native API) on a free loopback port.
//
//   const fake = await startFakeOllama();
//   fake.baseUrl                       // "http://127.0.0.1:PORT" (the server, as Ollama's clients take it)
//   fake.respond = (req) => ({ content: 'hi' })
//
// POST /api/chat streams newline-delimited JSON unless "stream": false:
// {model, created_at, message{role, content}, done:false} per word, a line
// with message.tool_calls (arguments as objects) when asked, then
// {done:true, done_reason, prompt_eval_count, eval_count, total_duration}.
// Errors are {error:"..."}. Plans:
//   { content, toolCalls: [{ name, arguments }], tokens: { input, output } }
//   { status: 404, message: 'model "x" not found' }
//   { streamError: 'something broke' }          // an {error} line after the first word
//   { chunkDelayMs, firstChunkDelayMs, cut, cutAfter, malformed, events }   // events: objects become lines

const { startFakeServer, writeStream, pieces, lastUserText, streamOptions } = require('./fake-base');

function tokensFor(content, req, plan) {
  if (plan.tokens) return plan.tokens;
  return { input: JSON.stringify(req.body.messages || []).length >> 2, output: Math.max(1, Buffer.byteLength(content) >> 2) };
}

const line = (obj) => `${JSON.stringify(obj)}\n`;

function finalLine(content, req, plan, message) {
  const t = tokensFor(content, req, plan);
  return {
    model: req.body.model, created_at: new Date().toISOString(), message, done: true, done_reason: 'stop',
    total_duration: 1000000, load_duration: 1000, prompt_eval_count: t.input, prompt_eval_duration: 1000, eval_count: t.output, eval_duration: 1000,
  };
}

function toolCalls(plan) {
  return (plan.toolCalls || []).map((c) => ({ function: { name: c.name, arguments: JSON.parse(c.arguments) } }));
}

// The lines of a streamed answer for this plan.
function streamLines(content, req, plan) {
  const at = () => new Date().toISOString();
  const out = [];
  pieces(content).forEach((p, i) => {
    out.push(line({ model: req.body.model, created_at: at(), message: { role: 'assistant', content: p }, done: false }));
    if (i === 0 && plan.malformed) out.push('{"model": "x", "message": {"content": "oops"\n');
    if (i === 0 && plan.streamError) out.push(line({ error: plan.streamError }));
  });
  if (plan.toolCalls) out.push(line({ model: req.body.model, created_at: at(), message: { role: 'assistant', content: '', tool_calls: toolCalls(plan) }, done: false }));
  out.push(line(finalLine(content, req, plan, { role: 'assistant', content: '' })));
  return out;
}

async function answer(record, plan, res) {
  const status = plan.status || 200;
  if (status !== 200) {
    const payload = Buffer.from(JSON.stringify({ error: plan.message || `fake error ${status}` }), 'utf8');
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': payload.length, ...(plan.headers || {}) });
    res.end(payload);
    return;
  }
  const content = plan.content !== undefined ? plan.content : (plan.toolCalls ? '' : `echo: ${lastUserText(record)}`);
  if (!record.body || record.body.stream !== false) {
    const lines = plan.events ? plan.events.map((e) => (typeof e === 'object' && !Buffer.isBuffer(e) ? line(e) : e)) : streamLines(content, record, plan);
    await writeStream(res, lines, streamOptions(plan, 'application/x-ndjson'));
    return;
  }
  const message = { role: 'assistant', content };
  if (plan.toolCalls) message.tool_calls = toolCalls(plan);
  const payload = Buffer.from(JSON.stringify(finalLine(content, record, plan, message)), 'utf8');
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': payload.length, ...(plan.headers || {}) });
  res.end(payload);
}

function startFakeOllama({ host = '127.0.0.1' } = {}) {
  return startFakeServer({ host, routes: ['/api/chat'], prefix: '', answer, describe: (r) => `${r.path} ${lastUserText(r)}` });
}

module.exports = { startFakeOllama };
