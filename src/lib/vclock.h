/* vclock.h - the time skills see: wall time plus an offset that only the
 * plugin test kit moves, so schedules can be tested without waiting. */
#ifndef CHORUS_VCLOCK_H
#define CHORUS_VCLOCK_H
/* Unix seconds, with fractions. */
double vclock_now(void);
/* Move the clock forward by SECONDS (tests only). */
void vclock_advance(double seconds);
#endif
