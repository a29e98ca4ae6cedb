-- slack-echo.conf.lua - chorusd as a Slack (Socket Mode) echo bot, for
-- bench/slack/run.js or any fake that follows Slack's docs. It answers every
-- message from a person (no subtype, not a bot; channel, DM or thread) with
-- "echo: <text>" in the same place, and opens no listener of its own: no
-- HTTP port, no admin socket. Everything comes from the environment:
--   SLACK_APP_TOKEN    the app-level token (xapp-...)
--   SLACK_BOT_TOKEN    the bot token (xoxb-...)
--   SLACK_API_URL      the Web API base with a trailing slash ("http://127.0.0.1:PORT/api/");
--                      a method's URL is SLACK_API_URL .. "chat.postMessage"
--   CHORUS_REDIS_URL   Redis (overrides the line below)
listen "off"
admin_socket "off"
redis "redis://127.0.0.1:6379/0" { prefix = "bench:" }
log_level "warn"
model "default" { provider = "local" }
persona "echo" { prompt = "You repeat what you hear.", model = "default" }
default_persona "echo"
plugins_dir "discord/plugins"   -- the same echo plugin as the Discord bench
-- The echo plugin alone, as the peer runs an echo handler alone: the shipped
-- plugins stay off (with them: +0.5 MB of heap, the same CPU; bench/README.md).
for _, name in ipairs { "chat", "coupon", "help", "ping", "remind", "trivia", "webhook" } do
  plugin(name) { enabled = false }
end
slack {
  app_token = env("SLACK_APP_TOKEN"),
  bot_token = env("SLACK_BOT_TOKEN"),
  api_url = env("SLACK_API_URL", "https://slack.com/api/"),
  channel_rate = 100000,   -- lifted: the bench's fake does not limit, and Bolt does not pace either
}
