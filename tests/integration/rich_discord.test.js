'use strict';
// Stories of a quiz plugin that answers with a card: on Discord the card is
// an embed with buttons (the shapes discord.js builds), a press of a button
// comes back to the plugin as a "button" event and is answered only to the
// one who pressed it, a slash command gets the same card, and a card over
// Discord's limits is refused with a clear error instead of a 400.
const assert = require('node:assert/strict');
const { requireTestDep } = require('../lib/test-deps');
const { EmbedBuilder, ActionRowBuilder, ButtonBuilder } = requireTestDep('discord.js');
const { test } = require('../lib/tap');
const { startDiscordStack, replyTo } = require('../lib/discord-stack');
const { writePlugins } = require('../lib/plugins');
const { luaString, waitFor } = require('../lib/util');
const { RICH_PLUGINS } = require('../lib/rich-plugin');

const ANN = '700000000000000001';

async function discordWithQuiz() {
  const dir = writePlugins(RICH_PLUGINS);
  return startDiscordStack({ configExtra: `plugins_dir ${luaString(dir)}\nskills { cpu_ms = 300, deadline_ms = 5000 }` });
}

// Rebuild what Discord received with discord.js's builders, which check
// every length and required field; they throw on what discord.js would not send.
function rebuiltByDiscordJs(body) {
  const e = body.embeds[0];
  const embed = new EmbedBuilder().setTitle(e.title).setDescription(e.description).setURL(e.url).setColor(e.color)
    .setImage(e.image.url).setFooter({ text: e.footer.text }).addFields(...e.fields);
  const rows = body.components.map((row) => new ActionRowBuilder().addComponents(row.components.map((b) => {
    const button = new ButtonBuilder().setLabel(b.label).setStyle(b.style);
    return b.url ? button.setURL(b.url) : button.setCustomId(b.custom_id);
  })));
  return JSON.parse(JSON.stringify({ embeds: [embed.toJSON()], components: rows.map((r) => r.toJSON()) }));
}

test('a quiz card arrives on Discord as an embed with buttons, in the shapes discord.js builds', async () => {
  const { fake } = await discordWithQuiz();
  const m = fake.messageCreate({ content: '!quiz' });
  const card = await replyTo(fake, m);
  assert.equal(card.content, `Round 1 for <@${ANN}>`, 'the text stays the content, with the mention');
  assert.deepEqual(card.body.allowed_mentions, { parse: ['users'] }, 'a plugin\'s mention pings that user');
  const e = card.body.embeds[0];
  assert.equal(e.title, 'Capital cities');
  assert.equal(e.description, 'What is the capital of Norway?');
  assert.equal(e.color, 0x3366ff);
  assert.deepEqual(e.image, { url: 'https://example.com/norway.png' });
  assert.deepEqual(e.fields, [{ name: 'Round', value: '1', inline: true }, { name: 'Score', value: '0', inline: true }]);
  assert.equal(card.body.components.length, 2, 'five answers fill a row; the sixth button starts the next');
  assert.deepEqual(card.body.components[0].components.map((b) => [b.type, b.style, b.label, b.custom_id]),
    [[2, 1, 'Oslo', 'quiz:oslo'], [2, 1, 'Bergen', 'quiz:bergen'], [2, 3, 'Tromsø', 'quiz:tromso'], [2, 4, 'Give up', 'quiz:giveup'],
      [2, 2, 'Hint', 'quiz:hint']]);
  assert.deepEqual(card.body.components[1].components, [{ type: 2, style: 5, label: 'Rules', url: 'https://example.com/rules' }]);
  assert.equal(card.body.flags, undefined, 'a channel message cannot be ephemeral');
  const rebuilt = rebuiltByDiscordJs(card.body);
  assert.deepEqual(rebuilt.components, card.body.components, 'discord.js builds the same action rows');
  assert.equal(rebuilt.embeds[0].title, e.title);
  assert.deepEqual(fake.violations, []);
});

test('pressing a button reaches the plugin, which answers only the one who pressed, and the card stays as it was', async () => {
  const { fake } = await discordWithQuiz();
  const m = fake.messageCreate({ content: '!quiz' });
  const card = await replyTo(fake, m);
  const press = fake.buttonPress({ message: card, custom_id: 'quiz:oslo' });
  const answer = await fake.waitForFollowup((f) => f.interaction === press.id, 10000);
  assert.equal(answer.kind, 'followup', 'a new follow-up message, not an edit of the card');
  assert.equal(answer.content, `Right, Ann: Oslo (on message ${card.id})`);
  assert.equal(answer.body.flags, 64, 'ephemeral: only Ann sees it');
  const cb = fake.callbacks.find((c) => c.id === press.id);
  assert.equal(cb.type, 6, 'acknowledged as a deferred update, so Discord shows no error and no "thinking"');
  assert.equal(fake.messages.get(card.id).content, card.content, 'the card was not edited');
  assert.deepEqual(fake.violations, []);
});

test('a slash command gets the card as its answer; an ephemeral answer replaces the public "thinking..."', async () => {
  const { fake } = await discordWithQuiz();
  const it = fake.interaction({ name: 'quiz' });
  const answer = await fake.waitForFollowup((f) => f.interaction === it.id, 10000);
  assert.equal(answer.kind, 'original');
  assert.equal(answer.body.embeds[0].title, 'Capital cities');
  assert.equal(answer.body.components[0].components[0].custom_id, 'quiz:oslo');
  const secret = fake.interaction({ name: 'secret' });
  const whisper = await fake.waitForFollowup((f) => f.interaction === secret.id, 10000);
  assert.equal(whisper.kind, 'followup');
  assert.equal(whisper.body.flags, 64);
  assert.equal(whisper.content, 'only you can see this');
  await waitFor(() => fake.deletedOriginals.some((d) => d.interaction === secret.id), { what: 'the DELETE of @original' });
  assert.ok(fake.deletedOriginals.some((d) => d.interaction === secret.id), 'the deferred "thinking..." was removed');
  assert.deepEqual(fake.violations, []);
});

test('a card over Discord\'s limits is refused with a clear Lua error; long texts are cut to fit', async () => {
  const { fake } = await discordWithQuiz();
  const m = fake.messageCreate({ content: '!toobig' });
  const r = await replyTo(fake, m);
  assert.match(r.content, /^refused: (.*: )?msg:reply: embed has more than 25 fields$/);
  const long = fake.messageCreate({ content: '!long' });
  const cut = await replyTo(fake, long);
  assert.equal([...cut.body.embeds[0].title].length, 256, 'the title is cut at 256 characters');
  assert.ok(cut.body.embeds[0].title.endsWith('…'));
  assert.equal([...cut.body.components[0].components[0].label].length, 80, 'a label is cut at 80');
  const bad = fake.messageCreate({ content: '!badbutton' });
  assert.match((await replyTo(fake, bad)).content, /^refused: (.*: )?msg:reply: button "Go" needs either an id or a url$/);
  assert.deepEqual(fake.violations, []);
});

test('mention() gives Discord\'s <@id>', async () => {
  const { fake } = await discordWithQuiz();
  const m = fake.messageCreate({ content: '!whoami' });
  assert.equal((await replyTo(fake, m)).content, `you are <@${ANN}>`);
});

test('through a gateway and a worker, the card reaches Discord whole and a press of its button is answered', { timeout: 60000 }, async () => {
  const { startScaleStack } = require('../lib/scale-stack');
  const s = await startScaleStack({ partitions: 2, echo: `
chorus.hear("^card", function(msg)
  msg:reply{ text = "a card for " .. msg.author:mention(), embed = { title = "Bus card", fields = { { name = "via", value = "the bus" } } },
             buttons = { { label = "Press", id = "bus:press" }, { label = "Docs", url = "https://example.com/docs" } } }
end)
chorus.button("bus:*", function(msg) msg:reply{ text = "pressed " .. msg.button, ephemeral = true } end)
` });
  const gateway = await s.start('gateway');
  await s.fake.waitForReady(0, 30000);
  const worker = await s.start('worker');
  await s.waitReady(gateway);
  await s.waitReady(worker);
  const m = s.fake.messageCreate({ content: 'card please' });
  await waitFor(() => s.answersTo(m.id).length > 0, { timeoutMs: 20000, what: 'the card' });
  const card = s.answersTo(m.id)[0];
  assert.equal(card.content, `a card for <@${ANN}>`, 'the worker knows Discord\'s mention: it came with the message');
  assert.deepEqual(card.body.embeds, [{ title: 'Bus card', fields: [{ name: 'via', value: 'the bus', inline: false }] }]);
  assert.deepEqual(card.body.components[0].components.map((b) => b.custom_id || b.url), ['bus:press', 'https://example.com/docs']);
  const press = s.fake.buttonPress({ message: card, custom_id: 'bus:press' });
  const answer = await s.fake.waitForFollowup((f) => f.interaction === press.id, 20000);
  assert.equal(answer.content, 'pressed bus:press');
  assert.equal(answer.body.flags, 64);
  assert.deepEqual(s.fake.violations, []);
});
