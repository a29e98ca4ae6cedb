# The Telegram adapter: sources, tests and the files they need.
src_libchorus_a_SOURCES += \
	src/platforms/telegram/telegram.c \
	src/platforms/telegram/telegram.h \
	src/platforms/telegram/telegram_api.c \
	src/platforms/telegram/telegram_api.h \
	src/platforms/telegram/telegram_config.c \
	src/platforms/telegram/telegram_poll.c \
	src/platforms/telegram/telegram_poll.h \
	src/platforms/telegram/telegram_queue.c \
	src/platforms/telegram/telegram_queue.h \
	src/platforms/telegram/telegram_send.c \
	src/platforms/telegram/telegram_send.h \
	src/platforms/telegram/telegram_stream.c \
	src/platforms/telegram/telegram_stream.h \
	src/platforms/telegram/telegram_text.c \
	src/platforms/telegram/telegram_text.h \
	src/platforms/telegram/telegram_webhook.c \
	src/platforms/telegram/telegram_webhook.h

unit_tests += tests/unit/test_telegram_text
tests_unit_test_telegram_text_SOURCES = tests/unit/test_telegram_text.c tests/unit/tap.h
tests_unit_test_telegram_text_LDADD = $(UNIT_LDADD)
tests_unit_test_telegram_text_CFLAGS = $(UNIT_CFLAGS)

integration_tests += \
	tests/integration/telegram.test.js \
	tests/integration/telegram_markdown.test.js \
	tests/integration/telegram_protocol.test.js \
	tests/integration/telegram_fake_grammy.test.js

EXTRA_DIST += \
	tests/lib/fake-telegram.js tests/lib/telegram-stack.js \
	bench/telegram/README.md bench/telegram/package.json bench/telegram/run.js bench/telegram/grammy-bot.js \
	bench/telegram-echo.conf.lua
