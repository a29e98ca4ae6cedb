/* series.h - per-minute counters for the admin console's charts.
 *
 * The hot path only adds to counters in memory (no Redis command per
 * message). A one-shot timer, started by the first count after a flush,
 * sends them as HINCRBYs to one hash per minute, <prefix>series:<unix
 * minute start>, with a TTL; several processes sharing Redis add up.
 * Fields: "msgs", "lat:<i>" (reply latency histogram, bucket i),
 * "cost:<persona>" (micro-units), "turns:<persona>", "sessions:<persona>".
 * Counted only while the config sets admin_token (the console is on).
 * Config: console { flush_ms = 1000, keep_s = 172800 }. */
#ifndef CHORUS_SERIES_H
#define CHORUS_SERIES_H
#include <stdint.h>

#define SERIES_LAT_BUCKETS 28

/* The upper bound in ms of latency bucket I (the last one is open). */
double series_lat_bound(int i);
/* The bucket of a latency in ms. */
int series_lat_bucket(double ms);
/* A message was handled, LATENCY_MS after it started. */
void series_message(double latency_ms);
/* A model call for PERSONA cost COST micro-units. */
void series_cost(const char *persona, int64_t cost);
/* PERSONA took a turn in a conversation (NEW_SESSION: its first). */
void series_turn(const char *persona, int new_session);
/* Send what is counted now; Redis replies in order, so a read after this sees it. */
void series_flush(void);
/* Final flush and close the timer (shutdown). */
void series_stop(void);
#endif
