# The OneBot v11 adapter (QQ through NapCat / Lagrange): sources, tests, extra files.
src_libchorus_a_SOURCES += \
	src/platforms/onebot/onebot.c \
	src/platforms/onebot/onebot.h \
	src/platforms/onebot/onebot_api.c \
	src/platforms/onebot/onebot_api.h \
	src/platforms/onebot/onebot_config.c \
	src/platforms/onebot/onebot_link.c \
	src/platforms/onebot/onebot_link.h \
	src/platforms/onebot/onebot_segments.c \
	src/platforms/onebot/onebot_segments.h

unit_tests += tests/unit/test_onebot_segments
tests_unit_test_onebot_segments_SOURCES = tests/unit/test_onebot_segments.c tests/unit/tap.h
tests_unit_test_onebot_segments_LDADD = $(UNIT_LDADD)
tests_unit_test_onebot_segments_CFLAGS = $(UNIT_CFLAGS)

integration_tests += tests/integration/onebot.test.js tests/integration/onebot_fake_napcat.test.js tests/integration/onebot_protocol.test.js \
	tests/integration/ws_tls.test.js
EXTRA_DIST += \
	src/platforms/onebot/local.mk tests/lib/fake-onebot.js tests/lib/onebot-stack.js \
	bench/onebot-echo.conf.lua bench/onebot/package.json bench/onebot/napcat-bot.js bench/onebot/run.js \
	bench/onebot/README.md
