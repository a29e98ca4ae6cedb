/* bench_host.c - main.c's part for the in-process benchmarks: they link
 * libchorus without chorusd's main, so the server state and hooks live
 * here, inert. */
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>
#include "bench_host.h"
#include "core/server.h"

struct server server;

/* No virtual clock in a benchmark. */
double server_now(void) {
    return 0;
}

/* Nothing waits for jobs to drain. */
void server_job_finished(void) {}

/* Nothing to stop: the benchmark ends on its own. */
void server_request_stop(void) {}

/* A benchmark has no config file to reload. */
int server_reload(char *err, size_t errlen) {
    (void)err;
    (void)errlen;
    return -1;
}

double bench_cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

long bench_rss_kib(void) {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}
