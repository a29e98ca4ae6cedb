return {
  name = "toolbox",
  version = "0.1.0",
  description = "A fixture for the plugin API's tools, handled replies, HTTP and the test kit.",
  permissions = { model = true, state = true, http = { "api.weather.test" } },
}
