return {
  name = "chat",
  version = "1.0.0",
  description = "Core chat: answers in character with the persona's model and remembers the conversation.",
  permissions = { model = true, state = true },
}
