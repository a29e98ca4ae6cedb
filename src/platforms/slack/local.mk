# The Slack adapter (Socket Mode + Web API): sources, tests, fake and bench.
src_libchorus_a_SOURCES += \
	src/platforms/slack/slack.c src/platforms/slack/slack.h \
	src/platforms/slack/slack_config.c \
	src/platforms/slack/slack_socket.c src/platforms/slack/slack_socket.h \
	src/platforms/slack/slack_text.c src/platforms/slack/slack_text.h \
	src/platforms/slack/slack_rich.c src/platforms/slack/slack_rich.h \
	src/platforms/slack/slack_web.c src/platforms/slack/slack_web.h
unit_tests += tests/unit/test_slack_text
tests_unit_test_slack_text_SOURCES = tests/unit/test_slack_text.c tests/unit/tap.h
tests_unit_test_slack_text_LDADD = $(UNIT_LDADD)
tests_unit_test_slack_text_CFLAGS = $(UNIT_CFLAGS)
integration_tests += tests/integration/slack_fake_bolt.test.js tests/integration/slack.test.js tests/integration/rich_slack.test.js \
	tests/integration/slack_docs.test.js
EXTRA_DIST += src/platforms/slack/local.mk tests/lib/fake-slack.js tests/lib/slack-stack.js \
	bench/slack/package.json bench/slack/bolt-bot.js bench/slack/run.js bench/slack/README.md bench/tools/probes.js \
	bench/slack-echo.conf.lua
