## Personas, part two: character cards, lorebooks and the prompt preview.
src_libchorus_a_SOURCES += \
	src/persona/card.c \
	src/persona/card.h \
	src/persona/card_png.c \
	src/persona/card_zip.c \
	src/persona/lore_ac.c \
	src/persona/lore_ac.h \
	src/persona/lorebook.c \
	src/persona/lorebook.h \
	src/persona/persona_import.c \
	src/persona/persona_import.h

unit_tests += tests/unit/test_card tests/unit/test_lorebook
integration_tests += tests/integration/persona_cards.test.js
EXTRA_DIST += tests/lib/cards.js
tests_unit_test_card_SOURCES = tests/unit/test_card.c tests/unit/tap.h
tests_unit_test_card_LDADD = $(UNIT_LDADD)
tests_unit_test_card_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_lorebook_SOURCES = tests/unit/test_lorebook.c tests/unit/tap.h
tests_unit_test_lorebook_LDADD = $(UNIT_LDADD)
tests_unit_test_lorebook_CFLAGS = $(UNIT_CFLAGS)

# A lorebook of 1,000 entries matched against chat messages: microseconds per message.
EXTRA_PROGRAMS += bench/bench_lorebook
bench_bench_lorebook_SOURCES = bench/bench_lorebook.c
bench_bench_lorebook_CFLAGS = $(AM_CFLAGS) $(DEP_CFLAGS)
bench_bench_lorebook_LDADD = src/libchorus.a $(DEP_LIBS)
bench-lorebook: bench/bench_lorebook
	./bench/bench_lorebook $(BENCH_FLAGS)
.PHONY: bench-lorebook

# chorusctl reads card files itself (persona import FILE).
src_chorusctl_SOURCES += src/persona/card.c src/persona/card_png.c src/persona/card_zip.c \
	src/persona/lorebook.c src/persona/lore_ac.c src/lib/tokens.c

## Personas, part two: long-term recall (embeddings of past turns in Redis).
src_libchorus_a_SOURCES += \
	src/model/embed.c \
	src/model/embed.h \
	src/persona/recall.c \
	src/persona/recall.h \
	src/persona/recall_store.c \
	src/persona/recall_store.h \
	src/skills/lua/lua_recall.c

unit_tests += tests/unit/test_recall
integration_tests += tests/integration/recall.test.js
EXTRA_DIST += tests/lib/fake-embeddings.js bench/recall/run.js
tests_unit_test_recall_SOURCES = tests/unit/test_recall.c tests/unit/tap.h
tests_unit_test_recall_LDADD = $(UNIT_LDADD)
tests_unit_test_recall_CFLAGS = $(UNIT_CFLAGS)

# Recall over 100,000 stored turns: latency of a search and Redis bytes (bench/recall/run.js).
EXTRA_PROGRAMS += bench/bench_recall
bench_bench_recall_SOURCES = bench/bench_recall.c
bench_bench_recall_CFLAGS = $(AM_CFLAGS) $(DEP_CFLAGS)
bench_bench_recall_LDADD = src/libchorus.a $(DEP_LIBS)
bench-recall: bench/bench_recall
	BENCH_RECALL_BIN=./bench/bench_recall node $(srcdir)/bench/recall/run.js $(BENCH_FLAGS)
.PHONY: bench-recall
