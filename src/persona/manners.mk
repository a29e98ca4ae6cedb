## Group-chat manners: reply modes, the cheap classifier, proactive speech.
src_libchorus_a_SOURCES += \
	src/persona/manners.c \
	src/persona/manners.h \
	src/pipeline/group.c \
	src/pipeline/group.h

unit_tests += tests/unit/test_manners
integration_tests += tests/integration/manners.test.js
EXTRA_DIST += tests/integration/manners/init.lua tests/integration/manners/test.lua
tests_unit_test_manners_SOURCES = tests/unit/test_manners.c tests/unit/tap.h
tests_unit_test_manners_LDADD = $(UNIT_LDADD)
tests_unit_test_manners_CFLAGS = $(UNIT_CFLAGS)
