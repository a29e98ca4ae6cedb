/* admin_series.h - the console's charts: the per-minute counters that
 * core/series.c writes to Redis, read back and turned into series. */
#ifndef CHORUS_ADMIN_SERIES_H
#define CHORUS_ADMIN_SERIES_H
#include <jansson.h>

/* REPORT (owned by the callee) or ERR. */
typedef void admin_series_fn(json_t *report, const char *err, void *data);

/* The last MINUTES minutes (1..1440), ending with the current one. CB
 * runs exactly once, maybe at once. Returns 0, or -1 with CB already run. */
int admin_series_read(int minutes, admin_series_fn *cb, void *data);
/* The percentile Q (0..1) of a latency histogram, in ms; -1 when empty. */
double admin_series_percentile(const long long *hist, double q);
#endif
