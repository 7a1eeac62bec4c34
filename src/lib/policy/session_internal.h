/*
 * Internals of the session loader shared by its .c files (not a public API).
 */
#ifndef ARCA_POLICY_SESSION_INTERNAL_H
#define ARCA_POLICY_SESSION_INTERNAL_H

#include "policy/session.h"

/*
 * Parses YAML text into a generic tree (one document). Refuses anchors, aliases, tags (except
 * the documented `!cas`, kept as the plain scalar "!cas", and `!akv`, refused as not supported),
 * duplicate keys, non-scalar keys, NUL bytes in scalars, more than one document, nesting deeper
 * than ARCA_SESSION_MAX_DEPTH and more than ARCA_SESSION_MAX_NODES nodes. On failure one error
 * goes to diag and a negative code is returned; *out is NULL. Free the tree with
 * arca_ynode_free (the node itself too).
 */
int arca_ytree_parse(const char *yaml, size_t len, const char *file, struct arca_ynode **out,
                     struct arca_diag *diag);

/* Frees what n owns (not n itself). */
void arca_ynode_clear(struct arca_ynode *n);
/* Frees n and what it owns. NULL is fine. */
void arca_ynode_free(struct arca_ynode *n);
/* Deep copy into *dst (which is overwritten). 0 or ARCA_ERR_ALLOC. */
int arca_ynode_copy(struct arca_ynode *dst, const struct arca_ynode *src);
/* The value of key in map n, or NULL. */
const struct arca_ynode *arca_ynode_get(const struct arca_ynode *n, const char *key);
/* A plain scalar meaning YAML null ("", "~", "null", "Null", "NULL"). */
bool arca_ynode_is_null(const struct arca_ynode *n);

/* Appends the canonical encoding of a YAML tree (maps sorted by key) for hashing. */
int arca_ynode_encode(const struct arca_ynode *n, struct arca_buf *out);

/* Frees an Azure secret part (load_azure.c), wiping its credentials. NULL is fine. */
void arca_azure_secret_free(struct arca_azure_secret *a);

#endif
