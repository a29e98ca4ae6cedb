return {
  name = "coupon",
  version = "1.0.0",
  description = "Offers a coupon when a conversation goes well; a signed webhook redeems it into the ledger.",
  permissions = { state = true },
}
