/* bench_fake.h - a zero-latency model server for the router benchmarks,
 * run in a child process so its CPU is not counted as ours. */
#ifndef CHORUS_BENCH_FAKE_H
#define CHORUS_BENCH_FAKE_H
#include <sys/types.h>

/* Fork a server on 127.0.0.1; returns its pid and sets *port. It answers
 * every POST at once with a short OpenAI stream (SSE). With HOLD_FOR > 0
 * it sends the first event at once and the rest only once HOLD_FOR
 * streams are open together (the concurrency test). */
pid_t bench_fake_start(int *port, int hold_for);
#endif
