/* The joining side of arcad --join (join.h). */
#include "join.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api_peer.h"
#include "arcad_internal.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/log.h"
#include "peer/join.h"
#include "peer/peer.h"
#include "store/share.h"
#include "store/store.h"

/* Our X25519 session-encryption public key (the member boxes the store's key to it) and the
 * key pair that opens the box (*enc, arca_key_free). */
static int enc_key(const struct arcad_ctx *ctx, struct arca_key **enc, uint8_t pub[32])
{
    struct arca_buf b;
    arca_buf_init(&b, 64);
    int rc = arcad_session_key(ctx->id.key, enc);
    if (rc == 0)
        rc = arca_key_public_raw(*enc, &b);
    if (rc == 0 && b.len != 32)
        rc = arca_err_set(ARCA_ERR_INTERNAL, "join: session-encryption key: unexpected length");
    if (rc == 0)
        memcpy(pub, b.data, 32);
    arca_buf_free(&b);
    return rc;
}

/* Tells the member how our check of its key went (for its audit log); a failure to tell is
 * only logged: the outcome here does not depend on it. */
static void report(struct arca_peer *p, const char *member, bool ok, const char *reason)
{
    json_t *body = arca_peer_join_result_req(ok, reason);
    json_t *a = NULL;
    char keep[ARCA_ERR_DETAIL_MAX];
    snprintf(keep, sizeof(keep), "%s", arca_err_detail());
    if (body == NULL || arca_peer_call(p, ARCA_PEER_JOIN_ROUTE, body, &a) < 0)
        arca_warn("join", "could not report the outcome to member %s: %s", member,
                  body == NULL ? "out of memory" : arca_err_detail());
    json_decref(body);
    json_decref(a);
    arca_err_set(ARCA_ERR_INTERNAL, "%s", keep); /* the caller's detail, not the report's */
}

/* Seals sh in a new key-store and opens the store with it once (no witness hook: only the key
 * is checked here; main's open follows). A refused open removes the key-store again. */
static int adopt_and_check(const struct arca_store_options *sopt, const struct arca_store_share *sh,
                           const char *member)
{
    ARCA_TRY(arca_store_share_adopt(sopt->keystore_path, sopt->sealer, sh));
    struct arca_store_options v = *sopt;
    v.hook = NULL;
    /* A member of a store nothing was committed to yet hands over commit 0: then there is
     * nothing to check the key against, and the first commit of any member decides it. */
    v.create = sh->commit == 0;
    struct arca_store *s = NULL;
    int rc = arca_store_open(&v, &s);
    arca_store_close(s);
    if (rc == 0)
        return 0;
    char why[ARCA_ERR_DETAIL_MAX];
    snprintf(why, sizeof(why), "%s", arca_err_detail());
    if (unlink(sopt->keystore_path) != 0 && errno != ENOENT)
        arca_warn("join", "could not remove the key-store %s: %s", sopt->keystore_path,
                  strerror(errno));
    if (rc == ARCA_ERR_TAMPERED || rc == ARCA_ERR_NOT_FOUND)
        return arca_err_set(ARCA_ERR_TAMPERED,
                            "join: store key mismatch: the key member %s handed over does not "
                            "open this --store (does the member serve another database?): %s",
                            member, why);
    return arca_err_set(rc, "join: the store could not be opened to check the key of member %s: %s",
                        member, why);
}

int arcad_join(struct arcad_ctx *ctx, const char *member, const struct arca_store_options *sopt)
{
    ARCA_ENSURE(ctx != NULL && member != NULL && sopt != NULL && sopt->keystore_path != NULL,
                ARCA_ERR_INVALID_ARG, "join: missing argument");
    struct stat st;
    if (stat(sopt->keystore_path, &st) == 0) {
        arca_info("join",
                  "--join %s ignored: this data dir has a key-store already (it is a "
                  "member; the store's open checks that key against --store)",
                  member);
        return 0;
    }
    const struct arca_peer_self *self = arcad_peer_self(ctx);
    ARCA_ENSURE(self != NULL, ARCA_ERR_INTERNAL, "join: no peer channel");
    struct arca_peer_expect expect = {.any_attested = true};
    struct arca_peer *p = NULL;
    struct arca_key *enc = NULL;
    json_t *body = NULL, *a = NULL;
    struct arca_store_share sh;
    memset(&sh, 0, sizeof(sh));
    uint8_t pub[32];
    arca_info("join", "joining the shared store through member %s", member);
    int rc = arca_peer_connect(self, member, &expect, &p);
    if (rc < 0) {
        rc = arca_err_wrap(rc, "join: member %s %s", member,
                           rc == ARCA_ERR_NETWORK ? "unreachable"
                                                  : "refused or its evidence is invalid");
        goto out;
    }
    const struct arca_peer_identity *who = arca_peer_who(p);
    char mhex[65], khex[65];
    arca_hex_fmt(mhex, who->measurement, 32);
    arca_hex_fmt(khex, who->cas_key, 32);
    ARCA_GUARD(rc, enc_key(ctx, &enc, pub), out);
    body = arca_peer_join_key_req(pub);
    ARCA_GUARD_ENSURE(rc, body != NULL, out, ARCA_ERR_ALLOC, "join: out of memory");
    rc = arca_peer_call(p, ARCA_PEER_JOIN_ROUTE, body, &a);
    if (rc < 0) {
        rc = arca_err_wrap(rc, "join: member %s refused", member);
        goto out;
    }
    rc = arca_peer_join_open(a, enc, ctx->id.key_id, &sh);
    if (rc < 0) {
        report(p, member, false, arca_err_detail());
        rc = arca_err_wrap(rc, "join: member %s", member);
        goto out;
    }
    rc = adopt_and_check(sopt, &sh, member);
    report(p, member, rc == 0, rc == 0 ? "" : arca_err_detail());
    if (rc == 0)
        arca_info("join",
                  "joined the shared store at commit %llu through member %s (CAS key %s, "
                  "measurement %s)",
                  (unsigned long long)sh.commit, member, khex, mhex);
out:
    arca_wipe(&sh, sizeof(sh));
    json_decref(body);
    json_decref(a);
    arca_key_free(enc);
    arca_peer_close(p);
    return rc;
}
