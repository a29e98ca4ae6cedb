return {
  name = "remind",
  version = "1.0.0",
  description = "One-shot reminders kept in Redis, so they fire after a restart: !remind 10m take the tea out.",
  permissions = { state = true },
}
