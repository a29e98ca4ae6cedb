/* fuzz_schedule.c - plugin timer specs (lib/schedule.c): "every 5m" and
 * cron expressions. A spec that parses must give a next time strictly
 * after the start, or -1, and stay consistent when asked again. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/schedule.h"
#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct fuzz_input in = { data, size };
    /* The start: any time from year 0 to 9999 and a little past both ends. */
    long long after = (long long)(fuzz_uint(&in, 6) % 320000000000ULL) - 62200000000LL;
    char *spec = fuzz_str(&in, 0, NULL);
    char err[200] = "";
    struct schedule s;
    if (schedule_parse(spec, &s, err, sizeof(err)) == 0) {
        if (s.kind != SCHEDULE_EVERY && s.kind != SCHEDULE_CRON) abort();
        if (s.kind == SCHEDULE_EVERY && s.every <= 0) abort();
        long long t = after;
        for (int i = 0; i < 3; i++) {
            long long next = schedule_next(&s, t);
            if (next == -1) break;
            if (next <= t) {
                fprintf(stderr, "\"%s\" after %lld gave %lld\n", spec, t, next);
                abort();
            }
            if (s.kind == SCHEDULE_CRON && next % 60 != 0) abort();   /* second 0 */
            /* Asking from one second before gives the same time. */
            if (schedule_next(&s, next - 1) != next) {
                fprintf(stderr, "\"%s\": next after %lld is %lld, but not after %lld\n", spec, t, next, next - 1);
                abort();
            }
            t = next;
        }
    } else if (!*err) {
        abort();
    }
    free(spec);
    return 0;
}
