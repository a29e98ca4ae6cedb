# The IRC adapter (src/platforms/irc/), its unit test and its integration test.
src_libchorus_a_SOURCES += \
	src/platforms/irc/irc.c \
	src/platforms/irc/irc.h \
	src/platforms/irc/irc_config.c \
	src/platforms/irc/irc_line.c \
	src/platforms/irc/irc_line.h \
	src/platforms/irc/irc_queue.c \
	src/platforms/irc/irc_queue.h

unit_tests += tests/unit/test_irc
tests_unit_test_irc_SOURCES = tests/unit/test_irc.c tests/unit/tap.h
tests_unit_test_irc_LDADD = $(UNIT_LDADD)
tests_unit_test_irc_CFLAGS = $(UNIT_CFLAGS)
integration_tests += tests/integration/irc.test.js tests/integration/irc_services.test.js tests/integration/irc_quirks.test.js
EXTRA_DIST += tests/lib/ircd.js tests/lib/irc-client.js tests/lib/irc-script.js src/platforms/irc/local.mk \
	bench/irc-echo.conf.lua bench/irc/package.json bench/irc/run.js bench/irc/irc-framework-bot.js
