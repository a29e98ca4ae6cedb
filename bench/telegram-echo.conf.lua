-- telegram-echo.conf.lua - chorusd as a Telegram echo bot, for
-- bench/telegram/run.js or any server that speaks the Bot API. It answers
-- every text message from a person (private or group, mentioned or not) with
-- "echo: <text>" as a reply in the same chat, and opens no listener of its
-- own: no HTTP port, no admin socket. Everything comes from the environment:
--   TELEGRAM_TOKEN       the bot token
--   TELEGRAM_API_URL     the Bot API root, as grammY's apiRoot: a method is
--                        TELEGRAM_API_URL/bot<token>/<method> (plain http allowed)
--   CHORUS_REDIS_URL     Redis (overrides the line below); the update offset lives there
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
telegram {
  token = env("TELEGRAM_TOKEN"),
  api_url = env("TELEGRAM_API_URL", "https://api.telegram.org"),
  messages = "all",
  -- Flood limits lifted: the bench's fake does not limit, and grammY has no
  -- limiter of its own. Against the real Telegram, leave these out.
  rate = 100000,
  chat_interval_ms = 0,
  group_per_minute = 0,
}
