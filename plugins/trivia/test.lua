-- Tests of the trivia plugin: the stories docs/plugins.md tells.
test("a question, the right answer, and a point on the board", function(t)
  local quiz = t.room("quiz")
  local ann = quiz:user("Ann")
  t.eq(ann:say("!trivia start"), { "Question 1 for Ann: What is the capital of France? (30 s to answer)" })
  t.eq(ann:say("paris!"), { "Correct, Ann! You have 1 point." })
  t.eq(ann:say("!trivia top"), { "Leaderboard:\n1. Ann - 1 point" })
end)

test("a wrong answer is told the right one and scores nothing", function(t)
  local ann = t.room("quiz"):user("Ann")
  ann:say("!trivia start")
  t.eq(ann:say("Lyon"), { "Not quite, Ann: the answer was Paris." })
  t.eq(ann:say("!trivia top"), { "No scores yet. Start with !trivia start" })
end)

test("no answer in 30 s: time's up, and the next message is an ordinary one", function(t)
  local ann = t.room("quiz"):user("Ann")
  ann:say("!trivia start")
  t.advance("29s")
  t.eq(#t.room("quiz"):replies(), 1, "still waiting after 29 s")
  t.advance("1s")
  t.eq(t.room("quiz"):last(), "Time's up, Ann! The answer was Paris.")
  t.eq(ann:say("!trivia top"), { "No scores yet. Start with !trivia start" }, "a command again, not an answer")
end)

test("several players at once: each answer goes to its own question", function(t)
  local quiz = t.room("quiz")
  local ann, ben, cy = quiz:user("Ann"), quiz:user("Ben"), quiz:user("Cy")
  t.eq(ann:say("!trivia start"), { "Question 1 for Ann: What is the capital of France? (30 s to answer)" })
  t.eq(ben:say("!trivia start"), { "Question 2 for Ben: How many legs does a spider have? (30 s to answer)" })
  t.eq(cy:say("hello everyone"), { "Sorry, I can't answer right now." }, "others' messages are not answers")
  t.eq(ben:say("eight"), { "Correct, Ben! You have 1 point." })
  t.eq(ann:say("Paris"), { "Correct, Ann! You have 1 point." })
  t.eq(ann:say("!trivia start"), { "Question 3 for Ann: Which planet is known as the Red Planet? (30 s to answer)" })
  t.eq(ann:say("mars"), { "Correct, Ann! You have 2 points." })
  t.eq(ann:say("!trivia top"), { "Leaderboard:\n1. Ann - 2 points\n2. Ben - 1 point" })
  t.eq(ben:say("!trivia me"), { "Ben, you are #2 with 1 point." })
  t.eq(cy:say("!trivia me"), { "Cy, you have no points yet." })
end)

test("one question at a time per player; other rooms have their own game", function(t)
  local ann = t.room("quiz"):user("Ann")
  ann:say("!trivia start")
  t.eq(t.room("lobby"):user("Ann"):say("!trivia start"),
       { "Question 1 for Ann: What is the capital of France? (30 s to answer)" }, "a separate counter in the lobby")
  t.eq(t.room("lobby"):user("Ann"):say("paris"), { "Correct, Ann! You have 1 point." })
  t.eq(ann:say("Paris"), { "Correct, Ann! You have 1 point." })
end)

test("the leaderboard is in score order, and !trivia scores is the same command", function(t)
  local quiz = t.room("quiz")
  local players = { quiz:user("Ann"), quiz:user("Ben"), quiz:user("Cy") }
  local answers = { "Paris", "8", "Mars", "Au", "Austen", "Pacific" }
  -- Cy answers three right, Ann two, Ben one.
  local order = { 3, 1, 3, 2, 1, 3 }
  for i, p in ipairs(order) do
    players[p]:say("!trivia start")
    players[p]:say(answers[i])
  end
  local want = "Leaderboard:\n1. Cy - 3 points\n2. Ann - 2 points\n3. Ben - 1 point"
  t.eq(players[1]:say("!trivia top"), { want })
  t.eq(players[2]:say("!trivia scores"), { want })
  t.eq(players[3]:say("!trivia me"), { "Cy, you are #1 with 3 points." })
end)

test("!trivia alone lists the subcommands", function(t)
  local said = t.room("quiz"):user("Ann"):say("!trivia")
  t.eq(#said, 1)
  t.contains(said[1], "!trivia needs one of: me, reset, start, top")
  t.contains(said[1], "!trivia start - ask me a question")
end)

test("only a moderator may reset the leaderboard", function(t)
  local quiz = t.room("quiz")
  local ann = quiz:user("Ann")
  local mod = quiz:user("Mo", { role = "moderator" })
  ann:say("!trivia start")
  ann:say("Paris")
  t.eq(ann:say("!trivia reset"), { "Sorry, !trivia reset needs the moderator role; you are user." })
  t.eq(ann:say("!trivia top"), { "Leaderboard:\n1. Ann - 1 point" }, "still there")
  t.eq(mod:say("!trivia reset"), { "Mo cleared the leaderboard." })
  t.eq(ann:say("!trivia top"), { "No scores yet. Start with !trivia start" })
end)
