return {
  name = "weather",
  version = "0.1.0",
  description = "The weather in a city, from an HTTP API, in the persona's words; also a tool for models.",
  permissions = { model = true, http = { "api.weather.example" } },
}
