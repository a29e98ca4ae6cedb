/* accounting.h - every model call, recorded where the ledger can read it.
 *
 * Each attempt goes to the Redis stream <prefix>calls (model, deployment,
 * tokens, latency, time to first token, cost, route decision, and the
 * persona, channel, user and plugin it served), and its tokens and cost
 * are added to the day's per-persona totals in <prefix>usage:<day>:<persona>.
 * Metrics get the same figures. */
#ifndef CHORUS_ACCOUNTING_H
#define CHORUS_ACCOUNTING_H
#include <stdint.h>

struct runtime;
struct route_request;
struct model;
struct deployment;
struct provider_result;

void accounting_record(struct runtime *rt, const struct route_request *req, const struct model *m,
                       const struct deployment *d, const struct provider_result *pr, int64_t cost,
                       const char *decision);
#endif
