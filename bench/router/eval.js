'use strict';
// bench/router/eval.js - the router's cost and quality evaluation (issue 4,
// "Cost and quality"). A SIMULATION of the routing mechanism with fixed fake
// model parameters, not a measurement of real models.
//
// One redis-server, two fake OpenAI-style models (small and large) and a real
// chorusd with four personas, one per strategy, each persona's `model` naming
// a route: always_large, always_small, tiered (classifier = "label") and
// cascade (small, its self-check, large). Every prompt goes through the web
// chat websocket on a channel of its own, so the accounting records
// (XRANGE chorus:calls) say which prompt each call served. Quality is graded
// from the replies; cost is the sum of cost_micro over the router's records.
//
//   node bench/router/eval.js            # 1,000 prompts
//   node bench/router/eval.js --smoke    # 100 prompts, a few seconds (contrib/test.sh)
//   options: --n N, --workers W (sockets in parallel, default 8), --seed S
//
// Fixed parameters (issue 4): 70% easy, 30% hard; every call costs 200 input
// and 100 output tokens; small right on 92% of easy and 35% of hard prompts,
// $0.15 / $0.60 per million tokens; large right on 97% / 90%, $5 / $15; the
// cascade's check flags 90% of wrong drafts and 5% of right ones; the tiered
// route's upstream labels are 85% accurate on each class.
//
// Outcomes are deterministic by prompt id and model: within each group (e.g.
// the easy prompts, for the small model) the prompts are ordered by a SHA-256
// hash of seed, model and id, and the first round(rate x size) of them are the
// ones the model gets right. So each rate holds exactly on the set (no sampling
// noise) while which prompts are right differs between models independently.
//
// Exits non-zero when a prompt goes unanswered or the router's behaviour differs
// from a replay of the documented mechanism on the same set; a missed goal is
// reported, not treated as an error.
const path = require('node:path');
const crypto = require('node:crypto');

const ROOT = path.resolve(__dirname, '..', '..');
const { startRedis } = require(path.join(ROOT, 'tests/lib/redis'));
const { startFakeOpenAI, lastUserText } = require(path.join(ROOT, 'tests/lib/fake-openai'));
const { startChorusd } = require(path.join(ROOT, 'tests/lib/chorusd'));
const { openUser, personaKey } = require(path.join(ROOT, 'tests/lib/stack'));
const { luaString, tempDir } = require(path.join(ROOT, 'tests/lib/util'));

// ---- parameters ----------------------------------------------------------

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const SMOKE = args.includes('--smoke');
const N = Number(opt('n', SMOKE ? 100 : 1000));
const WORKERS = Number(opt('workers', 8));
const SEED = String(opt('seed', 'chorus-router-eval-1'));

const P = {
  easyShare: 0.70,
  tokensIn: 200,
  tokensOut: 100,
  small: { easy: 0.92, hard: 0.35, priceIn: 0.15, priceOut: 0.60 },
  large: { easy: 0.97, hard: 0.90, priceIn: 5, priceOut: 15 },
  checkFlagsWrong: 0.90,
  checkFlagsRight: 0.05,
  labelAccuracy: 0.85,
};
// micro-units per call, as chorusd computes it: tokens x price per million, rounded up.
const callMicro = (m) => Math.ceil(P.tokensIn * m.priceIn + P.tokensOut * m.priceOut - 1e-9);
const SMALL_MICRO = callMicro(P.small);
const LARGE_MICRO = callMicro(P.large);

const STRATEGIES = [
  { name: 'always-large', route: 'always_large', persona: 'eval_large' },
  { name: 'always-small', route: 'always_small', persona: 'eval_small' },
  { name: 'tiered', route: 'tiered', persona: 'eval_tiered' },
  { name: 'cascade', route: 'cascade', persona: 'eval_cascade' },
];

// ---- the prompt set ------------------------------------------------------

// A number in [0, 1) from the seed and the given parts.
function unit(...parts) {
  const h = crypto.createHash('sha256').update([SEED, ...parts].join('\0')).digest();
  return h.readUInt32BE(0) / 2 ** 32 + h.readUInt32BE(4) / 2 ** 64;
}

// The first round(rate x |group|) members of group, ordered by hash(tag, id), as a Set of ids.
function quota(group, rate, tag) {
  const ranked = group.map((p) => ({ id: p.id, u: unit(tag, p.id) })).sort((a, b) => a.u - b.u || a.id - b.id);
  return new Set(ranked.slice(0, Math.round(rate * group.length)).map((r) => r.id));
}

const LETTERS = ['A', 'B', 'C', 'D'];
const EASY_TOPICS = ['a capital city', 'a unit conversion', 'a sum of two numbers', 'the plural of a word', 'a colour mix', 'a day of the week'];
const HARD_TOPICS = ['a proof step', 'a race condition', 'an integral', 'a tax rule', 'a chess endgame', 'a legal precedent'];

function makeSet(n) {
  const nEasy = Math.round(P.easyShare * n);
  // Difficulties: exactly nEasy easy ones, shuffled by a seeded Fisher-Yates.
  const diff = Array.from({ length: n }, (_, i) => (i < nEasy ? 'easy' : 'hard'));
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(unit('shuffle', n, i) * (i + 1));
    [diff[i], diff[j]] = [diff[j], diff[i]];
  }
  const prompts = diff.map((difficulty, id) => {
    const topics = difficulty === 'easy' ? EASY_TOPICS : HARD_TOPICS;
    return {
      id,
      difficulty,
      key: LETTERS[Math.floor(unit('key', id) * 4)],
      topic: topics[Math.floor(unit('topic', id) * topics.length)],
    };
  });
  const easy = prompts.filter((p) => p.difficulty === 'easy');
  const hard = prompts.filter((p) => p.difficulty === 'hard');
  const right = {
    small: new Set([...quota(easy, P.small.easy, 'small'), ...quota(hard, P.small.hard, 'small')]),
    large: new Set([...quota(easy, P.large.easy, 'large'), ...quota(hard, P.large.hard, 'large')]),
  };
  // The upstream classifier's labels: 15% of each class flipped.
  const flipped = new Set([...quota(easy, 1 - P.labelAccuracy, 'label'), ...quota(hard, 1 - P.labelAccuracy, 'label')]);
  // The cascade's check: flags 90% of the small model's wrong drafts and 5% of its right ones.
  const smallWrong = prompts.filter((p) => !right.small.has(p.id));
  const smallRight = prompts.filter((p) => right.small.has(p.id));
  const flags = { wrong: quota(smallWrong, P.checkFlagsWrong, 'check'), right: quota(smallRight, P.checkFlagsRight, 'check') };
  for (const p of prompts) {
    p.tag = (p.difficulty === 'hard') !== flipped.has(p.id) ? 'hard' : 'easy';
    p.text = `[${p.tag}] Q${String(p.id).padStart(4, '0')}: a multiple-choice question about ${p.topic}. Which option is right: A, B, C or D?`;
  }
  return { prompts, right, flags, nEasy };
}

const SET = makeSet(N);
const byId = (id) => SET.prompts[id];

// ---- the fake models -----------------------------------------------------

const QID = /Q(\d{4}):/;
const ANSWER = /Q(\d{4}): the answer is ([A-D])\./;

// What model `name` answers to prompt p: the key when it is right, another letter when not.
function answerText(name, p) {
  const ok = SET.right[name].has(p.id);
  const k = LETTERS.indexOf(p.key);
  const letter = ok ? p.key : LETTERS[(k + 1 + Math.floor(unit('wrong', name, p.id) * 3)) % 4];
  return `Q${String(p.id).padStart(4, '0')}: the answer is ${letter}.`;
}

// The check reads the draft inside its prompt: is its letter the key?
function checkVerdict(req, anomalies) {
  const prompt = lastUserText(req);
  const q = QID.exec(prompt.split('\nAnswer:\n')[0] || '');
  const a = ANSWER.exec(prompt.split('\nAnswer:\n')[1] || '');
  if (!q || !a || q[1] !== a[1]) { anomalies.push(`check prompt without a readable draft: ${prompt.slice(0, 200)}`); return 'NO'; }
  const p = byId(Number(q[1]));
  const draftRight = a[2] === p.key;
  if (draftRight !== SET.right.small.has(p.id)) anomalies.push(`the check saw a draft for Q${q[1]} that the small model did not write`);
  return (draftRight ? SET.flags.right : SET.flags.wrong).has(p.id) ? 'NO' : 'YES';
}

async function startFakeModel(name, anomalies) {
  const fake = await startFakeOpenAI();
  fake.stats = { answers: 0, checks: 0 };
  fake.respond = (req) => {
    const msgs = (req.body && req.body.messages) || [];
    let content;
    if (msgs[0] && typeof msgs[0].content === 'string' && msgs[0].content.startsWith('You check answers')) {
      fake.stats.checks++;
      content = checkVerdict(req, anomalies);
    } else {
      fake.stats.answers++;
      const q = QID.exec(lastUserText(req));
      if (!q || !byId(Number(q[1]))) { anomalies.push(`${name} got a request without a prompt id`); content = 'I do not know.'; }
      else content = answerText(name, byId(Number(q[1])));
    }
    return {
      body: {
        id: `fake-${name}-${fake.requests.length}`, object: 'chat.completion', created: 0, model: `fake-${name}`,
        choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
        usage: { prompt_tokens: P.tokensIn, completion_tokens: P.tokensOut, total_tokens: P.tokensIn + P.tokensOut },
      },
    };
  };
  return fake;
}

// ---- what the mechanism should give -----------------------------------------

// Expected quality and cost per prompt, from the nominal rates (an infinite set).
function analytic() {
  const e = P.easyShare, h = 1 - e, s = P.small, l = P.large, a = P.labelAccuracy;
  const fw = P.checkFlagsWrong, fr = P.checkFlagsRight;
  const q = {
    'always-large': e * l.easy + h * l.hard,
    'always-small': e * s.easy + h * s.hard,
    tiered: e * (a * s.easy + (1 - a) * l.easy) + h * (a * l.hard + (1 - a) * s.hard),
    // accepted right drafts, plus escalations (flagged right or wrong drafts) that large gets right
    cascade: e * (s.easy * (1 - fr) + (s.easy * fr + (1 - s.easy) * fw) * l.easy)
           + h * (s.hard * (1 - fr) + (s.hard * fr + (1 - s.hard) * fw) * l.hard),
  };
  const pSmallRight = e * s.easy + h * s.hard;
  const escalate = pSmallRight * fr + (1 - pSmallRight) * fw;
  const toLarge = e * (1 - a) + h * a;
  const c = {
    'always-large': LARGE_MICRO,
    'always-small': SMALL_MICRO,
    tiered: toLarge * LARGE_MICRO + (1 - toLarge) * SMALL_MICRO,
    cascade: 2 * SMALL_MICRO + escalate * LARGE_MICRO,
  };
  const out = {};
  for (const s of STRATEGIES) out[s.name] = { quality: q[s.name], costMicro: c[s.name] * N, perPrompt: c[s.name] };
  return out;
}

// The documented mechanism replayed in JavaScript on this very set: which
// models each prompt should reach, and whether its final answer is right.
function replay() {
  const out = {};
  for (const s of STRATEGIES) {
    let right = 0, calls = { small: 0, large: 0 };
    for (const p of SET.prompts) {
      let final;
      if (s.name === 'always-large') final = 'large';
      else if (s.name === 'always-small') final = 'small';
      else if (s.name === 'tiered') final = p.tag === 'hard' ? 'large' : 'small';
      else {
        calls.small += 2;   // the draft and its check
        const flagged = (SET.right.small.has(p.id) ? SET.flags.right : SET.flags.wrong).has(p.id);
        final = flagged ? 'large' : null;
        if (!flagged) { if (SET.right.small.has(p.id)) right++; continue; }
      }
      calls[final]++;
      if (SET.right[final].has(p.id)) right++;
    }
    out[s.name] = { right, quality: right / N, calls, costMicro: calls.small * SMALL_MICRO + calls.large * LARGE_MICRO };
  }
  return out;
}

// ---- the run -----------------------------------------------------------------

function config(redis, small, large) {
  const q = luaString;
  const lines = [
    'listen "127.0.0.1:0"',
    `admin_socket ${q(path.join(tempDir('chorus-eval-admin'), 'admin.sock'))}`,
    `redis ${q(redis.url)} { timeout_ms = 3000 }`,
    `model "small" { provider = "openai", base_url = ${q(small.baseUrl)}, model = "fake-small", price = { input = ${P.small.priceIn}, output = ${P.small.priceOut} }, timeout_ms = 20000 }`,
    `model "large" { provider = "openai", base_url = ${q(large.baseUrl)}, model = "fake-large", price = { input = ${P.large.priceIn}, output = ${P.large.priceOut} }, timeout_ms = 20000 }`,
    'route "always_large" { kind = "fixed", model = "large" }',
    'route "always_small" { kind = "fixed", model = "small" }',
    'route "tiered" { kind = "tiered", classifier = "label", tiers = { easy = "small", hard = "large" } }',
    'route "cascade" { kind = "cascade", models = { "small", "large" } }',
  ];
  for (const s of STRATEGIES) {
    lines.push(`persona ${q(s.persona)} { prompt = "Answer the multiple-choice question with one letter.", model = ${q(s.route)}, apology = "APOLOGY" }`);
  }
  lines.push(`default_persona ${q(STRATEGIES[0].persona)}`);
  return `${lines.join('\n')}\n`;
}

const channelOf = (s, p) => `eval-${s.route}-${p.id}`;

// Send every prompt of strategy s through the web chat, W at a time; grade the replies.
async function drive(chorus, s) {
  const users = await Promise.all(Array.from({ length: WORKERS }, (_, i) => openUser(chorus.wsUrl, `Rater${i}`)));
  const graded = new Map();   // prompt id -> { letter, right, text }
  let next = 0;
  const t0 = Date.now();
  await Promise.all(users.map(async (u) => {
    while (next < N) {
      const p = SET.prompts[next++];
      const id = u.say(channelOf(s, p), p.text);
      const reply = await u.replyTo(id, 30000);
      const m = ANSWER.exec(reply.text || '');
      const ok = m && Number(m[1]) === p.id;
      graded.set(p.id, { text: reply.text, answered: Boolean(ok), right: Boolean(ok && m[2] === p.key) });
    }
  }));
  const secs = (Date.now() - t0) / 1000;
  for (const u of users) await u.ws.close().catch(() => {});
  return { graded, secs };
}

function fieldsOf(entry) {
  const kv = entry[1];
  const f = {};
  for (let i = 0; i + 1 < kv.length; i += 2) f[kv[i]] = kv[i + 1];
  return f;
}

async function readCalls(redis, expected) {
  // The records are written before each reply is sent; wait briefly until they all show.
  let entries = [];
  for (let i = 0; i < 50; i++) {
    entries = await redis.cmd('XRANGE', 'chorus:calls', '-', '+');
    if (entries.length >= expected) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return entries.map(fieldsOf);
}

function summarize(records, s) {
  const mine = records.filter((r) => r.route === s.route);
  const sum = { calls: mine.length, ok: 0, costMicro: 0, tokensIn: 0, tokensOut: 0, byModel: {}, decisions: {}, perPrompt: new Map() };
  for (const r of mine) {
    if (r.status === 'ok') sum.ok++;
    sum.costMicro += Number(r.cost_micro);
    sum.tokensIn += Number(r.tokens_in);
    sum.tokensOut += Number(r.tokens_out);
    sum.byModel[r.model] = (sum.byModel[r.model] || 0) + 1;
    const d = r.decision.replace(/ p=[0-9.]+/, '');
    sum.decisions[d] = (sum.decisions[d] || 0) + 1;
    const id = Number(r.channel.split('-').pop());
    if (!sum.perPrompt.has(id)) sum.perPrompt.set(id, []);
    sum.perPrompt.get(id).push(r);
  }
  return sum;
}

const pct = (x) => `${(100 * x).toFixed(1)}%`;
const usd = (micro) => `$${(micro / 1e6).toFixed(4)}`;

async function main() {
  const anomalies = [];
  const redis = await startRedis();
  const small = await startFakeModel('small', anomalies);
  const large = await startFakeModel('large', anomalies);
  const chorus = await startChorusd({ config: config(redis, small, large), env: { CHORUS_DATA_DIR: process.env.CHORUS_DATA_DIR || ROOT } });

  // One channel per prompt and strategy, its persona named by the persona key.
  await Promise.all(STRATEGIES.flatMap((s) => SET.prompts.map((p) => redis.cmd('SET', personaKey(channelOf(s, p)), s.persona))));

  const runs = {};
  for (const s of STRATEGIES) runs[s.name] = await drive(chorus, s);
  const expectedRecords = Object.values(replay()).reduce((n, r) => n + r.calls.small + r.calls.large, 0);
  const records = await readCalls(redis, expectedRecords);
  await chorus.stop('SIGTERM').catch(() => {});
  await redis.stop();

  const an = analytic();
  const rp = replay();
  const meas = {};
  let ok = true;
  const problems = [];
  for (const s of STRATEGIES) {
    const { graded, secs } = runs[s.name];
    const acc = summarize(records, s);
    const answered = [...graded.values()].filter((g) => g.answered).length;
    const right = [...graded.values()].filter((g) => g.right).length;
    meas[s.name] = { ...acc, answered, right, quality: right / N, secs };
    if (answered !== N) problems.push(`${s.name}: ${N - answered} of ${N} prompts got no readable answer (e.g. ${JSON.stringify([...graded.values()].find((g) => !g.answered))})`);
    if (right !== rp[s.name].right) problems.push(`${s.name}: ${right} right answers, the replayed mechanism gives ${rp[s.name].right}`);
    if (acc.costMicro !== rp[s.name].costMicro) problems.push(`${s.name}: accounted ${acc.costMicro} micro-units, the replay gives ${rp[s.name].costMicro}`);
    for (const m of ['small', 'large']) {
      if ((acc.byModel[m] || 0) !== rp[s.name].calls[m]) problems.push(`${s.name}: ${acc.byModel[m] || 0} calls to ${m} recorded, the replay gives ${rp[s.name].calls[m]}`);
    }
    if (acc.ok !== acc.calls) problems.push(`${s.name}: ${acc.calls - acc.ok} recorded calls were not ok`);
  }
  const fakeCalls = small.requests.length + large.requests.length;
  if (fakeCalls !== records.length) problems.push(`the fakes answered ${fakeCalls} requests, the router recorded ${records.length}`);
  problems.push(...anomalies.slice(0, 10));
  if (problems.length) ok = false;

  const L = meas['always-large'];
  const lines = [];
  lines.push(`Router cost and quality: a SIMULATION of the routing mechanism with fixed fake-model parameters,`);
  lines.push(`not a measurement of real models. ${N} prompts (${SET.nEasy} easy, ${N - SET.nEasy} hard), seed "${SEED}", ${WORKERS} web chat sockets.`);
  lines.push(`small: right on ${pct(P.small.easy)} easy / ${pct(P.small.hard)} hard, $${P.small.priceIn}/$${P.small.priceOut} per M tokens (${SMALL_MICRO} micro-$ a call);`);
  lines.push(`large: right on ${pct(P.large.easy)} easy / ${pct(P.large.hard)} hard, $${P.large.priceIn}/$${P.large.priceOut} per M tokens (${LARGE_MICRO} micro-$ a call);`);
  lines.push(`every call ${P.tokensIn} in + ${P.tokensOut} out tokens; cascade check flags ${pct(P.checkFlagsWrong)} of wrong / ${pct(P.checkFlagsRight)} of right drafts; tiered labels ${pct(P.labelAccuracy)} accurate.`);
  lines.push('');
  lines.push('Measured through chorusd (quality graded from the replies, cost = sum of cost_micro in XRANGE chorus:calls):');
  lines.push('');
  lines.push('| strategy | quality | vs large | cost | vs large | calls small/large | analytic quality | analytic cost | wall |');
  lines.push('|---|---|---|---|---|---|---|---|---|');
  for (const s of STRATEGIES) {
    const m = meas[s.name], a = an[s.name];
    lines.push(`| ${s.name} | ${pct(m.quality)} (${m.right}/${N}) | ${pct(m.quality / L.quality)} | ${usd(m.costMicro)} | ${pct(m.costMicro / L.costMicro)} `
      + `| ${m.byModel.small || 0}/${m.byModel.large || 0} | ${pct(a.quality)} | ${usd(a.costMicro)} (${pct(a.costMicro / an['always-large'].costMicro)}) | ${m.secs.toFixed(1)} s |`);
  }
  lines.push('');
  lines.push('Router decisions recorded (calls per decision, "p=" dropped):');
  for (const s of STRATEGIES) {
    lines.push(`  ${s.name}: ${Object.entries(meas[s.name].decisions).map(([d, n]) => `${d} x${n}`).join('; ')}`);
  }
  lines.push('');
  const C = meas.cascade;
  const qRatio = C.quality / L.quality, cRatio = C.costMicro / L.costMicro;
  const goal = qRatio >= 0.95 && cRatio <= 0.40;
  const aq = an.cascade.quality / an['always-large'].quality, ac = an.cascade.costMicro / an['always-large'].costMicro;
  lines.push(`Goal (cascade keeps >= 95% of always-large quality at <= 40% of its cost):`);
  lines.push(`  measured: ${pct(qRatio)} of the quality at ${pct(cRatio)} of the cost -> ${goal ? 'MET' : 'MISSED'}`);
  lines.push(`  analytic: ${pct(aq)} of the quality at ${pct(ac)} of the cost -> ${aq >= 0.95 && ac <= 0.40 ? 'met' : 'missed'}`);
  lines.push(`  (simulation with fixed fake-model parameters; it shows the router carries out the mechanism, not how real models fare)`);
  lines.push('');
  if (ok) lines.push(`check: every prompt answered; replies and accounting match a replay of the documented mechanism on this set (${records.length} calls recorded)`);
  else lines.push(`check FAILED:\n  ${problems.join('\n  ')}`);
  console.log(lines.join('\n'));
  process.exit(ok ? 0 : 1);
}

main().catch((e) => { console.error(e && e.stack ? e.stack : e); process.exit(1); });
