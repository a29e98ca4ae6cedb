/* budget.h - token and money budgets, enforced before money is spent.
 *
 *   budget "guest-daily" { scope = "user", period = "day", money = 0.05, tokens = 50000,
 *                          concurrent = 2, message = "That's all for today!" }
 *   budget "aiko-monthly" { scope = "persona", persona = "aiko", period = "month", money = 120 }
 *
 * Before a model call the router reserves the call's worst-case cost on
 * every budget that applies, atomically (one Redis script checks all and
 * adds to all, or refuses), so concurrent calls cannot overspend. When the
 * real usage is known the reservation is settled to it. With budgets
 * configured and Redis unreachable, calls are refused: spending cannot be
 * checked. Keys are listed in docs/state.md. */
#ifndef CHORUS_BUDGET_H
#define CHORUS_BUDGET_H
#include <stdint.h>

struct runtime;
struct route_request;
struct budget_hold;
struct budget_op;

/* HOLD is NULL when nothing needed holding; REFUSAL is the user-facing
 * sentence when a budget is exhausted (then HOLD is NULL). */
typedef void budget_reserved_fn(struct budget_hold *hold, const char *refusal, void *data);

void budget_config_register(void);
/* Reserve MONEY micro-units and TOKENS. CB runs exactly once, later, unless cancelled. */
struct budget_op *budget_reserve(struct runtime *rt, const struct route_request *req, int64_t money, long tokens,
                                 budget_reserved_fn *cb, void *data);
/* Forget a reservation still in flight; whatever it reserves is given back. */
void budget_cancel(struct budget_op *op);
/* Turn a reservation into the real usage (0, 0 gives it all back). NULL is a no-op. */
void budget_settle(struct budget_hold *hold, int64_t money, long tokens);
#endif
