return {
  name = "poll",
  version = "0.1.0",
  description = "A poll as a card with a button per answer; votes are counted in the channel's state.",
  permissions = { state = true },
}
