/*
 * Freshness of protected volumes on arcad's side (launch_config.h, docs/volumes.md
 * "Freshness"): the latest tag and arcad's own keys per session volume live in the store
 * (store/volume_tags.c); a configuration gets them at attestation, and an attested program
 * reports the tag of a new version with the credential its configuration carried.
 */
#include <stdio.h>
#include <string.h>

#include "attest/launch_config.h"
#include "base/err.h"
#include "crypto/crypto.h"
#include "store/store.h"

#define TOKEN_ID_LEN ARCA_LAUNCH_TOKEN_ID_LEN
#define TOKEN_LABEL "arca-volume-report-v1"

enum arca_launch_volume_policy arca_launch_volume_policy_of(enum arca_fspf_policy p)
{
    switch (p) {
    case ARCA_FSPF_EPHEMERAL:
        return ARCA_LAUNCH_VOLUME_EPHEMERAL;
    case ARCA_FSPF_NO_ROLLBACK_PROTECTION:
        return ARCA_LAUNCH_VOLUME_NO_ROLLBACK_PROTECTION;
    default: /* the default, rollback_protected, rollback_protected_reinitializable */
        return ARCA_LAUNCH_VOLUME_ROLLBACK_PROTECTED;
    }
}

int arca_launch_token_mac(const char *label, const uint8_t key[32], const char *session,
                          const char *service, const uint8_t id[ARCA_LAUNCH_TOKEN_ID_LEN],
                          uint8_t mac[32])
{
    struct arca_buf m;
    arca_buf_init(&m, 0);
    int rc = arca_buf_put(&m, label, strlen(label));
    if (rc == 0)
        rc = arca_buf_put(&m, session, strlen(session) + 1);
    if (rc == 0)
        rc = arca_buf_put(&m, service, strlen(service) + 1);
    if (rc == 0)
        rc = arca_buf_put(&m, id, TOKEN_ID_LEN);
    if (rc == 0)
        rc = arca_hmac(ARCA_SHA256, key, 32, m.data, m.len, mac);
    arca_buf_free(&m);
    return rc;
}

int arca_launch_token_check(struct arca_store *st, const char *label, const char *what,
                            const char *session, const char *service,
                            const uint8_t token[ARCA_LAUNCH_TOKEN_ID_LEN + 32])
{
    uint8_t key[32], mac[32];
    ARCA_TRY(arca_store_volume_report_key(st, key));
    int rc = arca_launch_token_mac(label, key, session, service, token, mac);
    arca_wipe(key, sizeof(key));
    ARCA_TRY(rc);
    bool ok = arca_memeq(mac, token + TOKEN_ID_LEN, 32);
    arca_wipe(mac, sizeof(mac));
    ARCA_ENSURE(ok, ARCA_ERR_UNAUTHENTICATED, "%s: the credential was not issued to %s/%s", what,
                session, service);
    return 0;
}

/* True if the stored version started from the tag the policy names now (both none counts). */
static bool same_base(const struct arca_store_volume *st, const struct arca_launch_volume *v)
{
    if (st->has_base != v->has_tag)
        return false;
    return !st->has_base || arca_memeq(st->base, v->tag, 16);
}

/* arcad's key for a volume the policy gives none: the stored one, or a new one stored now. */
static int own_key(struct arca_store *st, const char *session, struct arca_launch_volume *v,
                   struct arca_store_volume *have, bool found)
{
    if (found && have->has_key) {
        memcpy(v->key, have->key, 32);
        v->has_key = true;
        return 0;
    }
    struct arca_store_volume next = found ? *have : (struct arca_store_volume){0};
    ARCA_TRY(arca_random(next.key, 32));
    next.has_key = true;
    int rc = arca_store_volume_update(st, session, v->name, found ? &have->seq : NULL, &next);
    if (rc == ARCA_ERR_CONFLICT) {
        /* Another attestation made it first: use that one. */
        arca_err_clear();
        rc = arca_store_volume_get(st, session, v->name, &next);
        if (rc == 0 && !next.has_key)
            rc = arca_err_set(ARCA_ERR_CONFLICT, "volume %s: no key after a concurrent update",
                              v->name);
    }
    if (rc == 0) {
        memcpy(v->key, next.key, 32);
        v->has_key = true;
        *have = next;
    }
    arca_wipe(&next, sizeof(next));
    return rc;
}

int arca_launch_config_volumes_resolve(struct arca_store *st, const char *session,
                                       const char *service, struct arca_launch_config *c)
{
    ARCA_ENSURE_REF(session);
    ARCA_ENSURE_REF(service);
    ARCA_ENSURE_REF(c);
    if (c->nvolumes == 0)
        return 0;
    ARCA_ENSURE_REF(st);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < c->nvolumes; i++) {
        struct arca_launch_volume *v = &c->volumes[i];
        struct arca_store_volume have;
        memset(&have, 0, sizeof(have));
        rc = arca_store_volume_get(st, session, v->name, &have);
        bool found = rc == 0;
        if (rc == ARCA_ERR_NOT_FOUND) {
            arca_err_clear();
            rc = 0;
        }
        if (rc == 0 && !v->has_key)
            rc = own_key(st, session, v, &have, found || have.seq > 0);
        if (rc == 0 && v->policy == ARCA_LAUNCH_VOLUME_NO_ROLLBACK_PROTECTION) {
            v->has_tag = false; /* any version the key opens */
        } else if (rc == 0 && have.has_tag && same_base(&have, v)) {
            memcpy(v->tag, have.tag, 16);
            v->has_tag = true;
        }
        arca_wipe(&have, sizeof(have));
        if (rc < 0)
            rc = arca_err_wrap(rc, "volume %s", v->name);
    }
    uint8_t key[32];
    if (rc == 0)
        rc = arca_store_volume_report_key(st, key);
    if (rc == 0) {
        rc = arca_random(c->volume_token, TOKEN_ID_LEN);
        if (rc == 0)
            rc = arca_launch_token_mac(TOKEN_LABEL, key, session, service, c->volume_token,
                                       c->volume_token + TOKEN_ID_LEN);
        c->has_volume_token = rc == 0;
        arca_wipe(key, sizeof(key));
    }
    return rc;
}

/* The policy's view of volume `name` of svc: its delivered policy and policy tag. */
static int find_volume(const struct arca_session *s, const struct arca_service *svc,
                       const char *name, enum arca_launch_volume_policy *policy, bool *has_tag,
                       uint8_t tag[16])
{
    char own[ARCA_SESSION_COMPONENT_MAX + 8];
    snprintf(own, sizeof(own), "%s.fspf", svc->name.s != NULL ? svc->name.s : "");
    if (svc->fspf_path.s != NULL && strcmp(name, own) == 0) {
        *policy = arca_launch_volume_policy_of(svc->fspf_update_policy);
        *has_tag = svc->has_fspf_tag;
        memcpy(tag, svc->fspf_tag, 16);
        return 0;
    }
    const struct arca_image *img =
        svc->image_name.s != NULL ? arca_session_find_image(s, svc->image_name.s) : NULL;
    for (size_t i = 0; img != NULL && i < img->n_volumes; i++) {
        const struct arca_image_volume *iv = &img->volumes[i];
        if (iv->name.s == NULL || strcmp(iv->name.s, name) != 0)
            continue;
        const struct arca_volume *vol = arca_session_find_volume(s, name);
        ARCA_ENSURE(vol != NULL, ARCA_ERR_NOT_FOUND, "volume %s: not defined in volumes", name);
        *policy = arca_launch_volume_policy_of(iv->update_policy);
        *has_tag = vol->has_fspf_tag;
        memcpy(tag, vol->fspf_tag, 16);
        return 0;
    }
    ARCA_BAIL(ARCA_ERR_NOT_FOUND, "volume %s: not a volume of service %s", name,
              svc->name.s != NULL ? svc->name.s : "?");
}

int arca_volume_report_apply(struct arca_store *st, const struct arca_session *model,
                             const char *session, const char *service, const char *volume,
                             const uint8_t token[ARCA_VOLUME_TOKEN_LEN], const uint8_t *old_tag,
                             const uint8_t new_tag[16], uint64_t *seq)
{
    ARCA_ENSURE_REF(st);
    ARCA_ENSURE_REF(model);
    ARCA_ENSURE_REF(session);
    ARCA_ENSURE_REF(service);
    ARCA_ENSURE_REF(volume);
    ARCA_ENSURE_REF(token);
    ARCA_ENSURE_REF(new_tag);
    ARCA_ENSURE_REF(seq);
    ARCA_TRY(arca_launch_token_check(st, TOKEN_LABEL, "volume report", session, service, token));
    const struct arca_service *svc = arca_session_find_service(model, service);
    ARCA_ENSURE(svc != NULL, ARCA_ERR_NOT_FOUND, "unknown service %s in session %s", service,
                session);
    enum arca_launch_volume_policy policy = ARCA_LAUNCH_VOLUME_ROLLBACK_PROTECTED;
    struct arca_launch_volume pv;
    memset(&pv, 0, sizeof(pv));
    ARCA_TRY(find_volume(model, svc, volume, &policy, &pv.has_tag, pv.tag));
    ARCA_ENSURE(policy != ARCA_LAUNCH_VOLUME_EPHEMERAL, ARCA_ERR_POLICY,
                "volume %s is ephemeral: changes are not kept", volume);
    struct arca_store_volume have;
    memset(&have, 0, sizeof(have));
    int rc = arca_store_volume_get(st, session, volume, &have);
    bool found = rc == 0;
    if (rc == ARCA_ERR_NOT_FOUND) {
        arca_err_clear();
        rc = 0;
    }
    /* The latest version known: the stored one if it grew from the policy's tag. */
    bool cur_known = found && have.has_tag && same_base(&have, &pv);
    const uint8_t *cur = cur_known ? have.tag : pv.has_tag ? pv.tag : NULL;
    if (rc == 0 && policy == ARCA_LAUNCH_VOLUME_ROLLBACK_PROTECTED && cur != NULL &&
        (old_tag == NULL || !arca_memeq(old_tag, cur, 16)))
        rc = arca_err_set(ARCA_ERR_CONFLICT,
                          "volume %s: the new version was made from an older one than the "
                          "latest known (rollback, or another writer reported first)",
                          volume);
    if (rc == 0) {
        struct arca_store_volume next = have;
        next.has_tag = true;
        memcpy(next.tag, new_tag, 16);
        next.has_base = pv.has_tag;
        memcpy(next.base, pv.tag, 16);
        rc = arca_store_volume_update(st, session, volume, found ? &have.seq : NULL, &next);
        *seq = next.seq;
        arca_wipe(&next, sizeof(next));
    }
    arca_wipe(&have, sizeof(have));
    return rc;
}
