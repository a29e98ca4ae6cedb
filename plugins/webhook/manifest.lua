return {
  name = "webhook",
  version = "1.0.0",
  description = "Example webhook: POST /hooks/webhook/notify, signed with HMAC, posts the body's text to a channel.",
}
