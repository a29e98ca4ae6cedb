return {
  name = "slow",
  version = "1.0.0",
  description = "Waits a second without blocking anyone, then asks the model.",
  permissions = { model = true },
}
