/* vclock.c - wall time with a test offset. */
#include <time.h>
#include "lib/vclock.h"

static double offset;

double vclock_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + offset;
}

void vclock_advance(double seconds) {
    if (seconds > 0) offset += seconds;
}
