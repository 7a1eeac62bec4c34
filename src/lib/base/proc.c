/* Process hygiene: see proc.h. */
#include "base/proc.h"

#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "base/err.h"

int arca_proc_no_dumps(void)
{
    struct rlimit none = {0, 0};
    ARCA_ENSURE(setrlimit(RLIMIT_CORE, &none) == 0, ARCA_ERR_IO, "setrlimit(RLIMIT_CORE, 0): %s",
                strerror(errno));
    ARCA_ENSURE(prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0, ARCA_ERR_IO,
                "prctl(PR_SET_DUMPABLE, 0): %s", strerror(errno));
    return 0;
}
