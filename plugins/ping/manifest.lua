return {
  name = "ping",
  version = "1.0.0",
  description = "Answers !ping with pong.",
}
