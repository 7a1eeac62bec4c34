/*
 * A consistent copy of a running store (store.h arca_store_snapshot): with the writer held no
 * commit can run, so the database (SQLite online backup of the writer connection) and the
 * key-store file on disk (rewritten only under the writer) describe the same commit.
 */
#include <pthread.h>

#include "base/err.h"
#include "base/fs.h"
#include "store/engine.h"
#include "store/keystore.h"

int arca_store_snapshot(struct arca_store *s, const char *db_out, const char *ks_out,
                        int (*during)(void *arg), void *arg)
{
    ARCA_ENSURE(s != NULL && db_out != NULL && ks_out != NULL, ARCA_ERR_INVALID_ARG,
                "store: snapshot: missing argument");
    struct arca_buf ks;
    arca_buf_init(&ks, ARCA_KEYSTORE_FILE_LEN2 + 1);
    arca_store_writer_lock(s);
    int rc = 0;
    if (s->broken)
        rc = arca_err_set(ARCA_ERR_IO, "store: snapshot: the key-store lags a commit; restart "
                                       "arcad first");
    if (rc == 0 && during != NULL)
        rc = during(arg);
    if (rc == 0)
        rc = s->ops->backup(s->be, db_out);
    if (rc == 0)
        rc = arca_file_read(s->ks_path, ARCA_KEYSTORE_FILE_LEN2, &ks);
    if (rc == 0)
        rc = arca_file_write(ks_out, ks.data, ks.len, 0600, 0);
    pthread_mutex_unlock(&s->wmu);
    arca_buf_free(&ks);
    return rc < 0 ? arca_err_wrap(rc, "store: snapshot") : 0;
}
