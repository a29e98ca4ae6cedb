-- mattermost-echo.conf.lua - chorusd as a Mattermost echo bot, for
-- bench/mattermost/run.js or any fake that follows Mattermost's docs. It
-- answers every post from another user (channel, DM or thread) with
-- "echo: <message>" in the same channel (and thread), and opens no listener
-- of its own: no HTTP port, no admin socket. Everything comes from the
-- environment:
--   MATTERMOST_URL    the server's base URL ("http://127.0.0.1:PORT"; plain http and ws allowed)
--   MATTERMOST_TOKEN  the bot's access token
--   CHORUS_REDIS_URL  Redis (overrides the line below)
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
mattermost {
  url = env("MATTERMOST_URL"),
  token = env("MATTERMOST_TOKEN"),
  max_inflight = 8,
}
