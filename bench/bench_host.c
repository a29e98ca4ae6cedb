/* bench_host.c - what the in-process benchmarks share: CPU and memory
 * measures. (They link libchorus without chorusd's main; the server state
 * and its hooks are in core/server.c, and with no hooks installed a stop or
 * reload request does nothing.) */
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>
#include "bench_host.h"

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
