return {
  name = "help",
  version = "1.0.0",
  description = "Lists the commands you may use: !help, or !help <command> for one.",
}
