/* libcurl loaded beside arca-run's other start-up work (curl_load.h). */
#include "curl_load.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"

/* dlsym's void * to a function pointer: POSIX guarantees the round trip; memcpy keeps
 * -Wpedantic quiet about the conversion. */
static bool sym(void *h, const char *name, void *fnp, size_t size)
{
    void *p = dlsym(h, name);
    if (p == NULL)
        return false;
    memcpy(fnp, &p, size);
    return true;
}

#define SYM(l, field) sym((l)->handle, "curl_" #field, &(l)->api.field, sizeof((l)->api.field))

/* Runs in the loading thread or, without one, in the caller's: sets l->rc and l->why only. */
static void load(struct arcarun_curl_loader *l)
{
    if (l->handle == NULL) {
        /* RTLD_LOCAL: libcurl's symbols (and its dependencies') stay out of the global scope.
         * RTLD_LAZY binds as a NEEDED library would: libcurl and most of its dependencies are
         * linked BIND_NOW (Debian) and bound now anyway; RTLD_NOW would also bind the rest
         * (Kerberos, RTMP, nghttp2: ~3 M instructions for functions arca-run never calls). */
        l->handle = dlopen(ARCARUN_LIBCURL_SONAME, RTLD_LAZY | RTLD_LOCAL);
        if (l->handle == NULL) {
            const char *e = dlerror();
            l->rc = ARCA_ERR_UNSUPPORTED;
            snprintf(l->why, sizeof(l->why), "libcurl: cannot load %s: %s", ARCARUN_LIBCURL_SONAME,
                     e != NULL ? e : "unknown error");
            return;
        }
        if (!(SYM(l, global_init) && SYM(l, global_cleanup) && SYM(l, easy_init) &&
              SYM(l, easy_setopt) && SYM(l, easy_perform) && SYM(l, easy_getinfo) &&
              SYM(l, easy_cleanup) && SYM(l, easy_strerror) && SYM(l, slist_append) &&
              SYM(l, slist_free_all))) {
            l->rc = ARCA_ERR_UNSUPPORTED;
            snprintf(l->why, sizeof(l->why), "libcurl: %s lacks a function arca-run calls",
                     ARCARUN_LIBCURL_SONAME);
            return;
        }
    }
    if (l->api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        l->rc = ARCA_ERR_INTERNAL;
        snprintf(l->why, sizeof(l->why), "libcurl: initialisation failed");
        return;
    }
    l->rc = 0;
    l->loaded = true;
}

static void *load_thread(void *arg)
{
    load(arg);
    return NULL;
}

void arcarun_curl_preload(struct arcarun_curl_loader *l)
{
    if (l == NULL || l->started || l->loaded)
        return;
    l->started = pthread_create(&l->thread, NULL, load_thread, l) == 0;
}

int arcarun_curl_get(struct arcarun_curl_loader *l, const struct arcarun_curl **out)
{
    ARCA_ENSURE_REF(l);
    ARCA_ENSURE_REF(out);
    *out = NULL;
    if (l->started) {
        pthread_join(l->thread, NULL);
        l->started = false;
    }
    if (!l->loaded)
        load(l);
    if (l->rc < 0)
        return arca_err_set(l->rc, "%s", l->why);
    *out = &l->api;
    return 0;
}

void arcarun_curl_done(struct arcarun_curl_loader *l)
{
    if (l == NULL)
        return;
    if (l->started) {
        pthread_join(l->thread, NULL);
        l->started = false;
    }
    if (l->loaded)
        l->api.global_cleanup();
    l->loaded = false;
}
