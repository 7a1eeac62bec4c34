/*
 * One error space for all of arca (OpenSSH's ssherr style).
 *
 * Functions that can fail return 0 on success or a negative enum arca_err code, and leave no
 * partial output behind. Functions that return pointers return NULL on failure. Either way
 * the failing function records a human-readable detail (what and where) in a thread-local
 * slot: arca_err_detail(). Details never contain secret values.
 */
#ifndef ARCA_BASE_ERR_H
#define ARCA_BASE_ERR_H

#include <stddef.h>

enum arca_err {
    ARCA_OK = 0,
    ARCA_ERR_INTERNAL = -1,         /* a bug or an impossible state */
    ARCA_ERR_ALLOC = -2,            /* out of memory */
    ARCA_ERR_INVALID_ARG = -3,      /* the caller passed something unusable */
    ARCA_ERR_FORMAT = -4,           /* input is malformed */
    ARCA_ERR_TRUNCATED = -5,        /* input ends early */
    ARCA_ERR_TOO_LARGE = -6,        /* a size limit was hit */
    ARCA_ERR_CRYPTO = -7,           /* the crypto library failed */
    ARCA_ERR_SIGNATURE = -8,        /* a signature or MAC does not verify */
    ARCA_ERR_NOT_FOUND = -9,        /* no such object */
    ARCA_ERR_EXISTS = -10,          /* the object exists already */
    ARCA_ERR_CONFLICT = -11,        /* a precondition (e.g. predecessor hash) does not hold */
    ARCA_ERR_DENIED = -12,          /* authenticated but not allowed */
    ARCA_ERR_UNAUTHENTICATED = -13, /* no or unusable identity */
    ARCA_ERR_IO = -14,              /* an operating-system I/O call failed */
    ARCA_ERR_TAMPERED = -15,        /* stored or sealed data fails its integrity check */
    ARCA_ERR_EXPIRED = -16,         /* outside a validity window */
    ARCA_ERR_UNSUPPORTED = -17,     /* valid, but arca does not implement it */
    ARCA_ERR_POLICY = -18,          /* evidence or request does not satisfy the policy */
    ARCA_ERR_CERT = -19,            /* a certificate chain does not verify */
    ARCA_ERR_REVOKED = -20,         /* a certificate is revoked */
    ARCA_ERR_NETWORK = -21,         /* a remote peer could not be reached or misbehaved */
    ARCA_ERR_TIMEOUT = -22,         /* took too long */
    ARCA_ERR_LIMIT = -23,           /* a rate or count limit was hit */
    ARCA_ERR_REPLAY = -24,          /* a single-use value was used again */
    ARCA_ERR_INSECURE = -25, /* refused because it is insecure (e.g. simulation not allowed) */
};

/* Returns a static, never-NULL description of code. */
const char *arca_strerror(int code);

/*
 * Records code with a printf-style detail for this thread and returns code, so that
 * `return arca_err_set(ARCA_ERR_FORMAT, "quote: header version %u", v);` reads naturally.
 * Details are truncated to ARCA_ERR_DETAIL_MAX bytes.
 */
#define ARCA_ERR_DETAIL_MAX 512
int arca_err_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes the current detail with "prefix: " (adds context on the way up); returns code. */
int arca_err_wrap(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The last detail recorded on this thread (static storage; "" if none). Valid until the next
 * arca_err_set/arca_err_wrap/arca_err_clear on this thread. */
const char *arca_err_detail(void);
void arca_err_clear(void);

/*
 * Check-and-return macros (s2n style, kept few). All expect the enclosing function to return
 * int in the 0/negative convention.
 */
/* Evaluates expr (an int-returning call); returns its value if negative. */
#define ARCA_TRY(expr)                                                                             \
    do {                                                                                           \
        int arca_try_rc_ = (expr);                                                                 \
        if (arca_try_rc_ < 0)                                                                      \
            return arca_try_rc_;                                                                   \
    } while (0)

/* Returns code with the given detail unless cond holds. */
#define ARCA_ENSURE(cond, code, ...)                                                               \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return arca_err_set((code), __VA_ARGS__);                                              \
    } while (0)

/* Returns ARCA_ERR_INVALID_ARG if the pointer is NULL. */
#define ARCA_ENSURE_REF(p)                                                                         \
    ARCA_ENSURE((p) != NULL, ARCA_ERR_INVALID_ARG, "%s: %s is NULL", __func__, #p)

/* Returns code with the given detail. */
#define ARCA_BAIL(code, ...) return arca_err_set((code), __VA_ARGS__)

/* For functions with cleanup: `ARCA_GUARD(rc, expr, out);` sets rc and jumps to out on error. */
#define ARCA_GUARD(rc, expr, label)                                                                \
    do {                                                                                           \
        (rc) = (expr);                                                                             \
        if ((rc) < 0)                                                                              \
            goto label;                                                                            \
    } while (0)

/* Sets rc to code with a detail and jumps to label unless cond holds. */
#define ARCA_GUARD_ENSURE(rc, cond, label, code, ...)                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            (rc) = arca_err_set((code), __VA_ARGS__);                                              \
            goto label;                                                                            \
        }                                                                                          \
    } while (0)

/* Defensive checks that stay in release builds (SQLite's ALWAYS): on failure they record an
 * internal error; use as `if (ARCA_NEVER(x == NULL)) return ARCA_ERR_INTERNAL;`. */
#define ARCA_NEVER(cond)                                                                           \
    ((cond) ? (arca_err_set(ARCA_ERR_INTERNAL, "%s:%d: %s", __FILE__, __LINE__, #cond), 1) : 0)
#define ARCA_ALWAYS(cond) (!ARCA_NEVER(!(cond)))

#endif
