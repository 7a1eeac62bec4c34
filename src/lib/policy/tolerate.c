/*
 * The names of the tolerated TCB conditions (session.h), in one table shared by the session
 * loader (security.attestation.tolerate), the appraisal messages and `arca evidence verify
 * --tolerate`, so that the three cannot disagree.
 */
#include <string.h>

#include "policy/session.h"

static const struct arca_tolerate_name table[] = {
    {"debug-mode", ARCA_TOLERATE_DEBUG_MODE},
    {"hyperthreading", ARCA_TOLERATE_HYPERTHREADING},
    {"insecure-igpu", ARCA_TOLERATE_INSECURE_IGPU},
    {"software-hardening-needed", ARCA_TOLERATE_SW_HARDENING_NEEDED},
    {"aepic-leak", ARCA_TOLERATE_AEPIC_LEAK},
    {"insecure-configuration", ARCA_TOLERATE_INSECURE_CONFIGURATION},
    {"outdated-tcb", ARCA_TOLERATE_OUTDATED_TCB},
};

const struct arca_tolerate_name *arca_tolerate_table(size_t *count)
{
    *count = sizeof(table) / sizeof(table[0]);
    return table;
}

uint32_t arca_tolerate_from_name(const char *name)
{
    for (size_t i = 0; name != NULL && i < sizeof(table) / sizeof(table[0]); i++)
        if (strcmp(name, table[i].name) == 0)
            return table[i].bit;
    return 0;
}

const char *arca_tolerate_name(uint32_t bit)
{
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (table[i].bit == bit)
            return table[i].name;
    return "?";
}
