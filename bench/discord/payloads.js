'use strict';
// bench/discord/payloads.js - message objects the size and shape Discord sends
// them (the Message object and MESSAGE_CREATE of Discord's API reference, v10):
// a full author (avatar, flags, decorations), the member object in guilds,
// mentions, mention_roles, attachments, embeds, components, flags, nonce, and
// on replies message_reference with the referenced message. A user's message
// is 1.1-1.6 KB of JSON; the bot's posts come back the same way.
const { snowflake } = require('../../tests/lib/fake-discord');

const GUILD = '200000000000000001';
const ROLES = ['210000000000000001', '210000000000000002'];

// A user as Discord shows it in an author or mention (id and name vary).
function user(id, name, bot = false) {
  const u = {
    id, username: name, global_name: name[0].toUpperCase() + name.slice(1), discriminator: '0',
    avatar: 'a_8342729096ea3675442027381ff50dfe', avatar_decoration_data: null, public_flags: 64,
    flags: 64, banner: null, accent_color: null, clan: null, primary_guild: null, collectibles: null,
  };
  if (bot) u.bot = true;
  return u;
}

// The member object Discord adds to a guild message (author's, without user).
function member(nick) {
  return {
    roles: ROLES, nick, avatar: null, banner: null, premium_since: null, joined_at: '2024-03-14T09:26:53.589000+00:00',
    deaf: false, mute: false, flags: 0, pending: false, communication_disabled_until: null,
  };
}

const ANN = user('700000000000000001', 'ann');
const BEN = { ...user('700000000000000002', 'ben'), member: member('Ben') };

function iso(ms) { return new Date(ms).toISOString().replace('Z', '000+00:00'); }

// The fields every message object has, for AUTHOR in CHANNEL (GUILD unless dm).
function base(id, channel, author, content, dm) {
  const d = {
    type: 0, tts: false, timestamp: iso(Date.now()), edited_timestamp: null, pinned: false,
    mention_everyone: false, mentions: [], mention_roles: [], attachments: [], embeds: [], components: [],
    id, flags: 0, content, channel_id: channel, author, nonce: null,
  };
  if (!dm) { d.guild_id = GUILD; d.channel_type = 0; } else d.channel_type = 1;
  return d;
}

// A user's MESSAGE_CREATE number I in CHANNEL: every fourth one a reply to
// the one before it (message_reference, referenced_message, the replied
// author mentioned), every eighth one with an attachment and a link embed.
function userMessage(i, channel, { dm = false } = {}) {
  const d = base(snowflake(), channel, ANN, `hello ${i}`, dm);
  d.nonce = String(1300000000000000000n + BigInt(i));
  if (!dm) d.member = member('Ann');
  d.mentions = [];
  d.mention_roles = i % 3 === 0 && !dm ? [ROLES[1]] : [];
  if (i % 4 === 3) {
    const ref = base(snowflake(), channel, BEN, `hi there, message ${i - 1} was mine`, dm);
    delete ref.channel_type;
    d.type = 19;
    d.message_reference = { type: 0, message_id: ref.id, channel_id: channel, guild_id: dm ? undefined : GUILD };
    d.referenced_message = ref;
    d.mentions = [BEN];
  }
  if (i % 8 === 5) {
    d.attachments = [{
      id: snowflake(), filename: 'garden.png', size: 48213, url: `https://cdn.discordapp.com/attachments/${channel}/1/garden.png?ex=6650&is=664f&hm=9a1c`,
      proxy_url: `https://media.discordapp.net/attachments/${channel}/1/garden.png?ex=6650&is=664f&hm=9a1c`,
      width: 640, height: 480, content_type: 'image/png', placeholder: 'GBgKDIL3d4h4hwB3d4iHeHeGCHd3', placeholder_version: 1,
    }];
  } else if (i % 8 === 1) {
    d.embeds = [{
      type: 'article', url: 'https://example.com/garden', title: 'Spring planting guide',
      description: 'What to sow in March and April, and how deep.', color: 3447003,
      thumbnail: { url: 'https://example.com/t.png', proxy_url: 'https://images-ext-1.discordapp.net/external/x/t.png', width: 400, height: 300 },
    }];
  }
  return d;
}

// The bot's own message M (as the fake stored it) as Discord answers a
// create and echoes it over the gateway: the same whole object.
// REFERENCED is the user's message it answers, when known.
function botMessage(m, botId, botName, dmChannels, referenced) {
  const dm = dmChannels && dmChannels.has(m.channel_id);
  const d = base(m.id, m.channel_id, user(botId, botName, true), m.content, dm);
  if (!dm) d.member = member(null);
  if (m.message_reference) {
    d.type = 19;
    d.message_reference = { type: 0, ...m.message_reference, channel_id: m.channel_id, guild_id: dm ? undefined : GUILD };
    d.referenced_message = referenced ? { ...referenced, referenced_message: undefined, channel_type: undefined } : null;
    if (referenced) d.mentions = [];
  }
  return d;
}

module.exports = { userMessage, botMessage, GUILD };
