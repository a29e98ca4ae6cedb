return {
  name = "convo",
  version = "1.0.0",
  description = "Test fixture: conversations, timers, roles, command options and hashes and sorted sets.",
  permissions = { state = true },
}
