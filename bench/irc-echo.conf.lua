-- irc-echo.conf.lua - chorusd as an IRC echo bot, for bench/irc/run.js or
-- any IRC server. It answers every message in its channels and queries with
-- "echo: <text>" in the same place, and opens no listener of its own: no
-- HTTP port, no admin socket. Everything comes from the environment:
--   IRC_URL           irc://host:port (ircs:// for TLS)
--   IRC_NICK          the bot's nick
--   IRC_CHANNELS      channels to join, comma-separated, with '#': "#a,#b"
--   CHORUS_REDIS_URL  Redis (overrides the line below)
listen "off"
admin_socket "off"
redis "redis://127.0.0.1:6379/0" { prefix = "bench:" }
log_level "warn"
model "default" { provider = "local" }
persona "echo" { prompt = "You repeat what you hear.", model = "default" }
default_persona "echo"
plugins_dir "discord/plugins"   -- the echo skill the Discord bench uses
-- The echo plugin alone, as the peer runs an echo handler alone: the shipped
-- plugins stay off (with them: +0.5 MB of heap, the same CPU; bench/README.md).
for _, name in ipairs { "chat", "coupon", "help", "ping", "remind", "trivia", "webhook" } do
  plugin(name) { enabled = false }
end
irc {
  url = env("IRC_URL"),
  nick = env("IRC_NICK", "chorus"),
  channels = env("IRC_CHANNELS", ""),
  messages = "all",
  burst = 100000,              -- lifted: the bench server does not limit, and irc-framework's limit is lifted equally
  line_interval_ms = 1,
  echo_message = false,        -- as irc-framework (enable_echomessage defaults to false): the copies would only be dropped
}
