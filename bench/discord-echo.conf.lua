-- discord-echo.conf.lua - chorusd as a Discord echo bot, for bench/discord/run.js
-- or any fake that follows Discord's docs. It answers every message from a
-- non-bot author (guild or DM, mentioned or not) with "echo: <content>" in the
-- same channel, and opens no listener of its own: no HTTP port, no admin
-- socket. Everything comes from the environment:
--   DISCORD_TOKEN        the bot token
--   DISCORD_API_BASE     REST base, including /api/v10 ("http://127.0.0.1:PORT/api/v10")
--   DISCORD_GATEWAY_URL  optional: used instead of the URL GET /gateway/bot names
--   CHORUS_REDIS_URL     Redis (overrides the line below)
--   DISCORD_COMPRESS     "zlib-stream" for gateway transport compression (default off)
listen "off"
admin_socket "off"
redis "redis://127.0.0.1:6379/0" { prefix = "bench:" }
log_level "warn"
model "default" { provider = "local" }
persona "echo" { prompt = "You repeat what you hear.", model = "default" }
default_persona "echo"
plugins_dir "discord/plugins"
-- The echo plugin alone, as the peer runs an echo handler alone: the shipped
-- plugins stay off (with them: +0.5 MB of heap, the same CPU; bench/README.md).
for _, name in ipairs { "chat", "coupon", "help", "ping", "remind", "trivia", "webhook" } do
  plugin(name) { enabled = false }
end
discord {
  token = env("DISCORD_TOKEN"),
  api_base = env("DISCORD_API_BASE", "https://discord.com/api"),
  gateway_url = env("DISCORD_GATEWAY_URL"),
  messages = "all",
  compress = env("DISCORD_COMPRESS", "") == "zlib-stream" and "zlib-stream" or false,       -- every guild message, not only those that mention the bot
  global_rate = 100000,   -- lifted: the fake does not limit, and discord.js's limit is lifted equally
}
