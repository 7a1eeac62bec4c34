/*
 * Secret kinds of the session language (shared by the model, the placeholder engine and the
 * secret engine).
 */
#ifndef ARCA_POLICY_KINDS_H
#define ARCA_POLICY_KINDS_H

enum arca_secret_kind {
    ARCA_SECRET_NONE = 0,
    ARCA_SECRET_ASCII,
    ARCA_SECRET_BINARY,
    ARCA_SECRET_PRIVATE_KEY,
    ARCA_SECRET_X509,
    ARCA_SECRET_X509_CA,
    ARCA_SECRET_CONFIG_FRAGMENT,
    ARCA_SECRET_PGP_KEY,   /* an OpenPGP key (Ed25519 + Curve25519 subkey) */
    ARCA_SECRET_AAD_TOKEN, /* documented; refused as not supported by arca */
    ARCA_SECRET_JWT,       /* 0.3.12: a signed token (header, claims, signature) */
};

#endif
