/*
 * arca-run --timing: where the start-up time goes (docs/arca-run.md). A fixed table of phases,
 * each the monotonic time since the previous mark, printed as one line to stderr just before
 * the program is executed. Figures only: no value of the configuration is ever in it.
 */
#ifndef ARCARUN_TIMING_H
#define ARCARUN_TIMING_H

#include <stdbool.h>
#include <stdint.h>

#define ARCARUN_TIMING_MAX 16

struct arcarun_timing {
    bool on;
    int64_t start_ns, last_ns;
    unsigned n;
    struct {
        const char *phase; /* static string */
        int64_t ns;
    } e[ARCARUN_TIMING_MAX];
};

/* Starts the clock (on = whether anything is recorded and printed). Nothing to free. */
void arcarun_timing_start(struct arcarun_timing *t, bool on);

/* Records phase as the time since the previous mark (or the start). t may be NULL. */
void arcarun_timing_mark(struct arcarun_timing *t, const char *phase);

/* Moves the first ns of the last recorded phase into a new phase named phase placed before it
 * (e.g. the TLS handshake out of the first request). t may be NULL. */
void arcarun_timing_split(struct arcarun_timing *t, const char *phase, int64_t ns);

/* Marks phase, then prints "arca-run: timing: P=1.23ms ... total=4.56ms" to stderr. */
void arcarun_timing_print(struct arcarun_timing *t, const char *phase);

#endif
