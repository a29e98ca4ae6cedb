/* bench_host.h - what an in-process benchmark needs in place of main.c:
 * the process-wide `server` and its hooks, and the measures every
 * benchmark reports. */
#ifndef CHORUS_BENCH_HOST_H
#define CHORUS_BENCH_HOST_H

/* CPU seconds (user + system) used by this process so far. */
double bench_cpu_seconds(void);
/* Resident memory in KiB, from /proc. */
long bench_rss_kib(void);
#endif
