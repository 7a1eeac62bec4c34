/*
 * Protected volumes in arca-run (docs/volumes.md "Unlocking", docs/internals/launch.md).
 *
 * Each volume of the delivered configuration is verified (manifest, key, root tag, tree shape)
 * and decrypted onto a private tmpfs of its own before anything is mounted; only when every
 * volume unlocked is each plaintext tree bind-mounted over the encrypted one at the same path,
 * inside arca-run's private mount namespace: the host never sees the plaintext, and the
 * program sees it at the path it expects. With no mount namespace nothing is unlocked.
 *
 * When the program has exited, arcarun_volumes_save re-encrypts each volume whose policy keeps
 * changes and whose plaintext changed, next to the encrypted tree, and swaps the new tree in
 * with one rename; the new root tags are what arca-run reports to arcad.
 */
#ifndef ARCARUN_VOLUMES_H
#define ARCARUN_VOLUMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arcarun.h"
#include "stage.h"

struct arcarun_volume {
    const struct arca_launch_volume *v; /* borrowed from the configuration */
    struct arcarun_tmpfs t;             /* its tmpfs, attached until the plaintext is placed */
    int plain;                          /* O_PATH: the plaintext root on its tmpfs */
    int lock;                           /* the encrypted directory, flock()ed by a writer */
    uint8_t tag[16];                    /* the root tag it was unlocked at */
    bool fresh;                         /* no version existed: started empty */
    uint8_t state[32];                  /* digest of the plaintext tree's metadata when unlocked */
    bool saved;                         /* arcarun_volumes_save wrote a new version */
    uint8_t new_tag[16];                /* its root tag, when saved */
};

struct arcarun_volumes {
    struct arcarun_volume *vol; /* n entries; owned */
    size_t n;
};

/*
 * Unlocks every volume of c as described above (entering the private mount namespace first);
 * staging_parent is where the tmpfs mount points are made (NULL = "/tmp"). On failure nothing
 * is mounted over any path and the error names the volume and the file (tampering, missing or
 * extra files, wrong key, an older version). *out is freed with arcarun_volumes_free; it
 * borrows c, which must outlive it.
 */
int arcarun_volumes_unlock(const struct arcarun_config *c, const char *staging_parent,
                           struct arcarun_volumes *out);

/* True if a volume keeps changes (its policy is not ephemeral), so arca-run must stay the
 * program's parent and save them after it exits. */
bool arcarun_volumes_keep_changes(const struct arcarun_volumes *vs);

/*
 * After the program exited: for every volume that keeps changes and whose plaintext changed,
 * encrypts the plaintext under the same key into a new directory beside the volume, then
 * exchanges it with the encrypted tree (renameat2 RENAME_EXCHANGE) and removes the old one;
 * sets saved and new_tag. A volume that fails is left as it was; the first error is returned
 * after trying all.
 */
int arcarun_volumes_save(struct arcarun_volumes *vs);

/*
 * Reports the new tag of every saved volume that is not ephemeral to arcad (config_id without
 * its one-time password, token from c). The first refusal is returned after trying all.
 */
int arcarun_volumes_report(const struct arcarun_volumes *vs, const struct arcarun_config *c,
                           const struct arcarun_attest_params *p);

/* Closes the descriptors (the mounts go with the namespace). Safe on a zeroed struct. */
void arcarun_volumes_free(struct arcarun_volumes *vs);

#endif
