return {
  name = "trivia",
  version = "1.0.0",
  description = "A trivia game: !trivia start asks you a question (30 s to answer), !trivia top shows the leaderboard.",
  permissions = { state = true },
}
