## The stream bus: gateway and worker processes over Redis Streams (docs/scaling.md).
src_libchorus_a_SOURCES += \
	src/bus/bus.c \
	src/bus/bus.h \
	src/bus/bus_codec.c \
	src/bus/bus_codec.h \
	src/bus/bus_config.c \
	src/bus/bus_gateway.c \
	src/bus/bus_internal.h \
	src/bus/bus_procs.c \
	src/bus/bus_worker.c

unit_tests += tests/unit/test_bus_codec tests/unit/test_health_shards
integration_tests += tests/integration/scale.test.js tests/integration/scale_status.test.js
EXTRA_DIST += tests/lib/scale-stack.js docs/scaling.md bench/scale/run.js
tests_unit_test_bus_codec_SOURCES = tests/unit/test_bus_codec.c tests/unit/tap.h
tests_unit_test_bus_codec_LDADD = $(UNIT_LDADD)
tests_unit_test_bus_codec_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_health_shards_SOURCES = tests/unit/test_health_shards.c tests/unit/tap.h
tests_unit_test_health_shards_LDADD = $(UNIT_LDADD)
tests_unit_test_health_shards_CFLAGS = $(UNIT_CFLAGS)
