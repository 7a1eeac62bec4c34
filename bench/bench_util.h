/* Helpers shared by the bench programs that time individual calls (header-only, static). */
#ifndef ARCA_BENCH_UTIL_H
#define ARCA_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "base/err.h"

/* Monotonic seconds, with the clock's full resolution (arca_time_mono_ms is too coarse for
 * sub-millisecond latencies). */
static inline double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A benchmark checks correctness only: any failed operation ends it with exit status 1. */
static inline void bench_die(const char *prog, const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", prog, what, arca_err_detail());
    exit(1);
}

#endif
