/* Signal-driven maintenance of a running arcad (reload.h). */
#include "reload.h"

#include "audit/audit.h"
#include "base/err.h"
#include "base/log.h"

void arcad_audit_rotate(struct arcad_ctx *ctx)
{
    if (ctx->audit == NULL) {
        arca_warn("arcad", "SIGUSR1: no audit log to rotate");
        return;
    }
    char archived[4096];
    if (arca_audit_rotate(ctx->audit, archived, sizeof(archived)) < 0)
        arca_error("arcad", "SIGUSR1: audit log not rotated (it goes on in the same file): %s",
                   arca_err_detail());
    else
        arca_info("arcad", "SIGUSR1: audit log rotated: the earlier lines are in %s", archived);
}
