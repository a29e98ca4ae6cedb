# src/platforms/mattermost/local.mk - the Mattermost adapter, its tests and
# its benchmark (included at the end of Makefile.am).
src_libchorus_a_SOURCES += \
	src/platforms/mattermost/mattermost.c \
	src/platforms/mattermost/mattermost.h \
	src/platforms/mattermost/mattermost_config.c \
	src/platforms/mattermost/mattermost_events.c \
	src/platforms/mattermost/mattermost_events.h \
	src/platforms/mattermost/mattermost_rest.c \
	src/platforms/mattermost/mattermost_rest.h \
	src/platforms/mattermost/mattermost_stream.c \
	src/platforms/mattermost/mattermost_stream.h \
	src/platforms/mattermost/mattermost_ws.c \
	src/platforms/mattermost/mattermost_ws.h

unit_tests += tests/unit/test_mattermost_events
tests_unit_test_mattermost_events_SOURCES = tests/unit/test_mattermost_events.c tests/unit/tap.h
tests_unit_test_mattermost_events_LDADD = $(UNIT_LDADD)
tests_unit_test_mattermost_events_CFLAGS = $(UNIT_CFLAGS)

integration_tests += \
	tests/integration/mattermost.test.js \
	tests/integration/mattermost_fake_client.test.js \
	tests/integration/mattermost_docs.test.js

EXTRA_DIST += \
	tests/lib/fake-mattermost.js \
	bench/mattermost/README.md bench/mattermost/package.json bench/mattermost/mm-bot.js bench/mattermost/run.js \
	bench/mattermost-echo.conf.lua
