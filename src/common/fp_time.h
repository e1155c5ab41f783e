/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Time helpers. Flow times are uint64_t nanoseconds since the UNIX epoch: packet timestamps
 * in capture-file mode, the TSC mapped to wall time in live mode (fp_clock).
 */
#ifndef FP_TIME_H
#define FP_TIME_H

#include <stdint.h>
#include <time.h>

#define FP_NS_PER_MS 1000000ull
#define FP_NS_PER_S 1000000000ull

static inline uint64_t fp_time_realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * FP_NS_PER_S + (uint64_t)ts.tv_nsec;
}

static inline uint64_t fp_time_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * FP_NS_PER_S + (uint64_t)ts.tv_nsec;
}

#endif /* FP_TIME_H */
