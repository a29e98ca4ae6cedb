-- slow: "!slow" waits a second without blocking anyone, then asks the model.
chorus.hear("^!slow", function(msg)
  msg:typing()
  chorus.sleep(1)                         -- yields; other channels carry on
  local answer, err = chorus.model.chat {
    model = msg.persona.model,
    messages = {
      { role = "system", content = msg.persona.prompt },
      { role = "user", content = "Say something calm." },
    },
  }
  msg:reply(answer and answer.text or ("(no answer: " .. err .. ")"))
end)
