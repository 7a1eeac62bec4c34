/* The owner board: operation messages and their approval (board.h). */
#include "owner/board.h"

#include <string.h>

#include "base/buf.h"
#include "base/enc.h"
#include "base/err.h"
#include "crypto/crypto.h"

int arca_owner_op_message(const uint8_t cas_key[32], const char *op, const void *args,
                          size_t args_len, uint64_t counter, uint8_t out[32])
{
    ARCA_ENSURE(cas_key != NULL && op != NULL && (args != NULL || args_len == 0) && out != NULL,
                ARCA_ERR_INVALID_ARG, "owner op message: missing argument");
    ARCA_ENSURE(args_len <= UINT32_MAX, ARCA_ERR_TOO_LARGE, "owner op message: arguments");
    uint8_t ctr[8];
    for (int i = 0; i < 8; i++)
        ctr[i] = (uint8_t)(counter >> (56 - 8 * i));
    struct arca_buf m;
    arca_buf_init(&m, 0);
    static const char domain[] = ARCA_OWNER_OP_DOMAIN;
    int rc = arca_buf_put_lv(&m, domain, sizeof(domain) - 1);
    if (rc == 0)
        rc = arca_buf_put_lv(&m, cas_key, 32);
    if (rc == 0)
        rc = arca_buf_put_lv(&m, op, strlen(op));
    if (rc == 0)
        rc = arca_buf_put_lv(&m, args, args_len);
    if (rc == 0)
        rc = arca_buf_put_lv(&m, ctr, sizeof(ctr));
    /* SHA-256 writes out only when it succeeds */
    rc = rc == 0 ? arca_sha256(m.data, m.len, out) : rc;
    arca_buf_free(&m);
    return rc;
}

static bool signed_by(const struct arca_approvers *a, const uint8_t id[32])
{
    for (size_t i = 0; i < a->count; i++)
        if (memcmp(a->ids[i], id, 32) == 0)
            return true;
    return false;
}

int arca_owner_board_check(const struct arca_owner_config *cfg, const uint8_t msg[32],
                           const struct arca_approval_sig *sigs, size_t n, const char *what)
{
    ARCA_ENSURE(cfg != NULL && msg != NULL && (sigs != NULL || n == 0) && what != NULL,
                ARCA_ERR_INVALID_ARG, "owner board: missing argument");
    struct arca_approvers a = {0};
    int rc = arca_approval_verify(msg, sigs, n, &a);
    if (rc < 0)
        return arca_err_wrap(rc,
                             "%s: board approvals (a signature over another operation or "
                             "an older owner-op counter is a replay)",
                             what);
    size_t have = 0;
    for (size_t i = 0; i < a.count && rc == 0; i++) {
        bool member = false;
        for (size_t j = 0; j < cfg->n_board && !member; j++)
            member = memcmp(cfg->board[j], a.ids[i], 32) == 0;
        char hex[65];
        arca_hex_fmt(hex, a.ids[i], 32);
        if (!member)
            rc =
                arca_err_set(ARCA_ERR_DENIED, "%s: signer %s is not on the owner board", what, hex);
        have++;
    }
    if (rc == 0 && have < cfg->board_require) {
        struct arca_buf missing;
        arca_buf_init(&missing, 0);
        for (size_t j = 0; j < cfg->n_board; j++) {
            char hex[65];
            arca_hex_fmt(hex, cfg->board[j], 32);
            if (!signed_by(&a, cfg->board[j]))
                arca_buf_printf(&missing, "%s%s", missing.len > 0 ? ", " : "", hex);
        }
        rc = arca_err_set(
            ARCA_ERR_DENIED, "%s needs %u of %zu owner board signatures; have %zu (missing: %s)",
            what, (unsigned)cfg->board_require, cfg->n_board, have, arca_buf_cstr(&missing));
        arca_buf_free(&missing);
    }
    arca_approvers_clear(&a);
    return rc;
}
