'use strict';
// An embeddings server on a free loopback port, in two dialects:
// OpenAI's POST /v1/embeddings and Ollama's POST /api/embed.
//
//   const emb = await startFakeEmbeddings({ dim: 64 });
//   emb.baseUrl          // "http://127.0.0.1:PORT/v1"  (provider = "openai")
//   emb.ollamaUrl        // "http://127.0.0.1:PORT"     (provider = "ollama")
//   emb.requests         // [{method, path, headers, body, ...}]
//   emb.respond = (req) => ({ status: 503 })   // per-test behaviour, as fake-base.js
//   emb.inputs()         // every text embedded so far, in order
//   emb.embed('text')    // the vector the server gives that text
//
// Vectors are deterministic: a bag of words (lowercased, a few stop words
// dropped, a plural 's' folded) hashed into `dim` numbers and normalised,
// so texts sharing words are close. Like the real services it refuses what
// they refuse, with their error shapes: a missing model or input, an empty
// string, more than 2048 inputs, a wrong encoding_format, a missing key
// when one is set.

const { startFakeServer } = require('./fake-base');

const STOP = new Set(['a', 'an', 'the', 'is', 'are', 'was', 'i', 'you', 'me', 'it', 'to', 'of', 'and', 'or', 'in',
  'on', 'at', 'do', 'what', 'that', 'this', 'my', 'your', 'so', 'for', 'with']);

function fnv(s) {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s, 'utf8')) h = Math.imul(h ^ b, 16777619) >>> 0;
  return h;
}

function bagOfWords(text, dim) {
  const v = new Array(dim).fill(0);
  for (let w of String(text).toLowerCase().match(/[\p{L}\p{N}]+/gu) || []) {
    if (w.length > 3 && w.endsWith('s') && !w.endsWith('ss')) w = w.slice(0, -1);
    if (STOP.has(w)) continue;
    const h = fnv(w);
    v[h % dim] += (h >>> 31) ? -1 : 1;
  }
  const norm = Math.hypot(...v);
  return norm ? v.map((x) => x / norm) : v;
}

function openaiError(res, status, message, param) {
  const payload = JSON.stringify({ error: { message, type: 'invalid_request_error', param: param || null, code: null } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}

function startFakeEmbeddings({ host = '127.0.0.1', dim = 64, apiKey = null } = {}) {
  let fake;
  const answer = async (record, plan, res) => {
    const body = record.body;
    const ollama = record.path === '/api/embed';
    if (apiKey && !ollama && record.headers.authorization !== `Bearer ${apiKey}`) {
      return openaiError(res, 401, 'Incorrect API key provided.');
    }
    if (!body || typeof body !== 'object') return openaiError(res, 400, 'We could not parse the JSON body of your request.');
    if (typeof body.model !== 'string' || !body.model) return openaiError(res, 400, "you must provide a model parameter", 'model');
    const inputs = typeof body.input === 'string' ? [body.input] : body.input;
    if (!Array.isArray(inputs) || inputs.length === 0 || inputs.length > 2048 ||
        inputs.some((s) => typeof s !== 'string' || (!ollama && s.length === 0))) {
      return openaiError(res, 400, "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.", 'input');
    }
    if (!ollama && body.encoding_format !== undefined && !['float', 'base64'].includes(body.encoding_format)) {
      return openaiError(res, 400, "'encoding_format' must be 'float' or 'base64'", 'encoding_format');
    }
    const vectors = inputs.map((s) => fake.embed(s));
    const tokens = inputs.reduce((n, s) => n + Math.max(1, s.length >> 2), 0);
    const out = ollama
      ? { model: body.model, embeddings: vectors, total_duration: 1000, load_duration: 10, prompt_eval_count: tokens }
      : {
        object: 'list',
        // Out of order on purpose: clients must use each item's index.
        data: vectors.map((embedding, index) => ({ object: 'embedding', index, embedding })).reverse(),
        model: body.model,
        usage: { prompt_tokens: tokens, total_tokens: tokens },
      };
    const payload = JSON.stringify(out);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
    res.end(payload);
  };
  return startFakeServer({
    host, routes: ['/v1/embeddings', '/api/embed'], prefix: '/v1', answer,
    describe: (r) => `${r.path} ${JSON.stringify(r.body && r.body.input).slice(0, 80)}`,
  }).then((f) => {
    fake = f;
    fake.ollamaUrl = fake.baseUrl.replace(/\/v1$/, '');
    fake.embed = (text) => bagOfWords(text, dim);
    fake.inputs = () => fake.requests.filter((r) => r.body && r.body.input !== undefined)
      .flatMap((r) => (typeof r.body.input === 'string' ? [r.body.input] : r.body.input));
    return fake;
  });
}

module.exports = { startFakeEmbeddings, bagOfWords };
