-- The questions, asked in this order in each channel (then from the top).
-- An operator can replace them: plugin "trivia" { questions = { {q =, a = {...}}, ... } }
return {
  { q = "What is the capital of France?", a = { "Paris" } },
  { q = "How many legs does a spider have?", a = { "8", "eight" } },
  { q = "Which planet is known as the Red Planet?", a = { "Mars" } },
  { q = "What is the chemical symbol for gold?", a = { "Au" } },
  { q = "Who wrote 'Pride and Prejudice'?", a = { "Jane Austen", "Austen" } },
  { q = "What is the largest ocean on Earth?", a = { "Pacific", "the Pacific", "Pacific Ocean" } },
  { q = "In which year did the first person walk on the Moon?", a = { "1969" } },
  { q = "What gas do plants take in from the air to make sugar?", a = { "carbon dioxide", "CO2" } },
}
