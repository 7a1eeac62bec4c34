/*
 * Internals of the secret engine shared by its .c files (not for other modules).
 */
#ifndef ARCA_SECRETS_INTERNAL_H
#define ARCA_SECRETS_INTERNAL_H

#include "secrets/secrets.h"

struct arca_secret_value {
    int refs; /* not atomic: a set and its values are used by one thread at a time */
    enum arca_secret_kind kind;
    unsigned flags;
    uint8_t *bytes; /* ascii/binary: len bytes + a NUL; wiped on free */
    size_t len;
    struct arca_key *key;     /* private-key; x509: the certificate's key or NULL */
    struct arca_x509 *cert;   /* x509 / x509-ca */
    struct arca_x509 **chain; /* x509: nearest issuer first, up to the root */
    size_t chain_count;
};

struct arca_secret_entry {
    char *name; /* owned, NUL-terminated */
    size_t name_len;
    struct arca_secret_value *value; /* one reference */
};

struct arca_secret_set {
    struct arca_secret_entry *v;
    size_t n;
    size_t cap;
};

/*
 * secrets_jwt.c: a new jwt value for spec sp signed with signer (borrowed) at now. *out gets a
 * new value (flags: generated). The detail names the secret, never the key.
 */
int arca_secret_jwt_make(const struct arca_secret_spec *sp, const struct arca_key *signer,
                         int64_t now, struct arca_secret_value **out);
/* secrets_pgp.c: a new pgp-key value for sp made at now (flags: generated), and rendering of
 * a pgp-key value in canonical format f ("privatekey:asciiarmored", ...) appended to tmp. */
int arca_secret_pgp_make(const struct arca_secret_spec *sp, int64_t now,
                         struct arca_secret_value **out);
int arca_secret_pgp_render(const struct arca_secret_value *v, const char *f, struct arca_buf *tmp);
/* True if the token of jwt value v has passed two thirds of its lifetime (iat to exp) at now. */
bool arca_secret_jwt_due(const struct arca_secret_value *v, int64_t now);

#endif
