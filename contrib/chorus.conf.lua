-- chorus.conf.lua - the example config the quick start runs.
--
-- Each line is a statement; an error names its line. Relative paths
-- resolve against this file's folder. CHORUS_LISTEN and CHORUS_REDIS_URL
-- override `listen` and `redis` from the environment.

listen "127.0.0.1:8080"
redis "redis://127.0.0.1:6379/0" { prefix = "chorus:" }
log_level "info"

-- Any OpenAI-compatible server (OpenAI, vLLM, llama.cpp, Ollama /v1, ...):
-- set OPENAI_BASE_URL (with the version, e.g. http://host:port/v1),
-- OPENAI_API_KEY and optionally OPENAI_MODEL. Without them, the built-in
-- offline `local` model answers: no key, no network.
if env("OPENAI_BASE_URL") and env("OPENAI_API_KEY") then
  model "default" {
    provider = "openai",
    base_url = env("OPENAI_BASE_URL"),
    api_key = env("OPENAI_API_KEY"),
    model = env("OPENAI_MODEL", "gpt-4o-mini"),
    connect_timeout_ms = 5000,
    timeout_ms = 60000,
    capabilities = { "streaming" },  -- remove if your server cannot stream
  }
else
  model "default" { provider = "local" }
end

persona "aiko" {
  display_name = "Aiko",
  prompt = "You are Aiko, a warm and curious companion. You remember what people tell you, "
        .. "you notice how they feel, and you answer in a few friendly sentences.",
  model = "default",
  apology = "Sorry, I can't think straight right now. Could you say that again in a moment?",
}

default_persona "aiko"

-- The admin page at /admin (status, personas, ledger) opens with this token.
if env("CHORUS_ADMIN_TOKEN") then admin_token (env("CHORUS_ADMIN_TOKEN")) end
