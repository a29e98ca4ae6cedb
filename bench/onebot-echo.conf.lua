-- onebot-echo.conf.lua - chorusd as a QQ echo bot through a OneBot v11
-- implementation (NapCat, Lagrange), for bench/onebot/run.js or any
-- implementation's forward websocket. It answers every text message from a
-- person (private or group, @-mentioned or not) with "echo: <text>" as a
-- reply in the same chat, and opens no listener of its own: no HTTP port,
-- no admin socket. Everything comes from the environment:
--   ONEBOT_URL            the implementation's forward websocket, e.g.
--                         ws://127.0.0.1:3001 (plain ws allowed)
--   ONEBOT_ACCESS_TOKEN   its access token ("" or unset: none)
--   CHORUS_REDIS_URL      Redis (overrides the line below)
listen "off"
admin_socket "off"
redis "redis://127.0.0.1:6379/0" { prefix = "bench:" }
log_level "warn"
model "default" { provider = "local" }
persona "echo" { prompt = "You repeat what you hear.", model = "default" }
default_persona "echo"
plugins_dir "discord/plugins"   -- the same echo skill as the Discord bench
-- The echo plugin alone, as the peer runs an echo handler alone: the shipped
-- plugins stay off (with them: +0.5 MB of heap, the same CPU; bench/README.md).
for _, name in ipairs { "chat", "coupon", "help", "ping", "remind", "trivia", "webhook" } do
  plugin(name) { enabled = false }
end
onebot {
  url = env("ONEBOT_URL"),
  access_token = env("ONEBOT_ACCESS_TOKEN", ""),
  messages = "all",
}
