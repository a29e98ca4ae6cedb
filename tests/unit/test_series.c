/* test_series.c - the console's latency histogram and its percentiles.
 *
 * The story: replies take a few ms to a few seconds; the histogram files
 * each into a bucket, and p50/p99 read back land where the replies were. */
#include <stdio.h>
#include "tap.h"
#include "core/series.h"
#include "ops/admin_series.h"

/* Buckets: every latency falls in the first bucket whose bound holds it. */
static void test_buckets(void) {
    is_int(series_lat_bucket(0), 0, "0 ms is the first bucket");
    is_int(series_lat_bucket(5), 0, "5 ms, the first bound, too");
    is_int(series_lat_bucket(5.1), 1, "just over goes to the next");
    int last = -1, monotone = 1;
    for (double ms = 0.5; ms < 4e6; ms *= 1.1) {
        int b = series_lat_bucket(ms);
        monotone &= b >= last && (b == 0 || ms > series_lat_bound(b - 1));
        if (b < SERIES_LAT_BUCKETS - 1) monotone &= ms <= series_lat_bound(b);
        last = b;
    }
    ok(monotone, "buckets grow with the latency and hold it");
    is_int(series_lat_bucket(1e9), SERIES_LAT_BUCKETS - 1, "an hour falls in the last, open bucket");
    ok(series_lat_bound(SERIES_LAT_BUCKETS - 2) > 120000, "the closed buckets reach past two minutes");
}

/* Percentiles from a histogram. */
static void test_percentiles(void) {
    long long hist[SERIES_LAT_BUCKETS] = { 0 };
    ok(admin_series_percentile(hist, 0.5) < 0, "an empty minute has no p50");
    for (int i = 0; i < 98; i++) hist[series_lat_bucket(40)]++;
    hist[series_lat_bucket(900)]++;
    hist[series_lat_bucket(2500)]++;
    double p50 = admin_series_percentile(hist, 0.5), p99 = admin_series_percentile(hist, 0.99);
    int b40 = series_lat_bucket(40);
    ok(p50 > series_lat_bound(b40 - 1) && p50 <= series_lat_bound(b40), "p50 lies in the 40 ms bucket (%.1f)", p50);
    ok(p99 > 500 && p99 <= series_lat_bound(series_lat_bucket(900)), "p99 lies in the 900 ms bucket (%.1f)", p99);
    ok(admin_series_percentile(hist, 1.0) > 1500, "p100 reaches the slowest reply");
    ok(p50 <= p99, "p50 <= p99");
}

int main(void) {
    test_buckets();
    test_percentiles();
    return done_testing();
}
