/*
 * Snapshots of a data directory (docs/operator-lifecycle.md "Snapshots"): a consistent copy,
 * taken while arcad serves, that is itself a data directory:
 *   SNAP/arca.db, SNAP/arca.db.key-store   the store (arca_store_snapshot: one commit)
 *   SNAP/audit.log                         the audit log up to its last complete line, copied
 *                                          while no commit can run (so no line is newer than the
 *                                          store, and the store's checkpoint is in it)
 *   SNAP/identity/{key.sealed,ca.pem,cert.pem}, SNAP/successors/<M>.slot, SNAP/backups/<K>.slot
 * Everything stays sealed as it is: a copy opens only where the original opens — this platform
 * with this arcad build or a build registered (with a slot) when the snapshot was taken.
 */
#ifndef ARCA_OWNER_SNAPSHOT_H
#define ARCA_OWNER_SNAPSHOT_H

#include <stddef.h>

#include "store/store.h"

/* Writes a new snapshot of data_dir (whose store is open as store) under
 * data_dir/snapshots/<UTC time>-<random>/ and returns that directory in out[n]. On failure the
 * partial directory is left for inspection and the detail names what failed. */
int arca_snapshot_write(const char *data_dir, struct arca_store *store, char *out, size_t n);

#endif
