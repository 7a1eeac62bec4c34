/* arca-run --timing (timing.h). */
#include "timing.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void arcarun_timing_start(struct arcarun_timing *t, bool on)
{
    memset(t, 0, sizeof(*t));
    t->on = on;
    t->start_ns = t->last_ns = now_ns();
}

void arcarun_timing_mark(struct arcarun_timing *t, const char *phase)
{
    if (t == NULL || !t->on || t->n == ARCARUN_TIMING_MAX)
        return;
    int64_t now = now_ns();
    t->e[t->n].phase = phase;
    t->e[t->n].ns = now - t->last_ns;
    t->n++;
    t->last_ns = now;
}

void arcarun_timing_split(struct arcarun_timing *t, const char *phase, int64_t ns)
{
    if (t == NULL || !t->on || t->n == 0 || t->n == ARCARUN_TIMING_MAX)
        return;
    unsigned last = t->n - 1;
    if (ns < 0 || ns > t->e[last].ns)
        ns = t->e[last].ns;
    t->e[t->n] = t->e[last];
    t->e[t->n].ns -= ns;
    t->e[last].phase = phase;
    t->e[last].ns = ns;
    t->n++;
}

void arcarun_timing_print(struct arcarun_timing *t, const char *phase)
{
    if (t == NULL || !t->on)
        return;
    arcarun_timing_mark(t, phase);
    char line[1024];
    size_t len = (size_t)snprintf(line, sizeof(line), "arca-run: timing:");
    for (unsigned i = 0; i < t->n && len < sizeof(line); i++)
        len += (size_t)snprintf(line + len, sizeof(line) - len, " %s=%.2fms", t->e[i].phase,
                                (double)t->e[i].ns / 1e6);
    if (len < sizeof(line))
        snprintf(line + len, sizeof(line) - len, " total=%.2fms",
                 (double)(t->last_ns - t->start_ns) / 1e6);
    fprintf(stderr, "%s\n", line);
    fflush(stderr);
}
