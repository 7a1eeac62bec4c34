/*
 * libcurl for arca-run, loaded while arca-run does other work (docs/internals/launch.md
 * "Loading libcurl").
 *
 * Debian's libcurl brings about 30 libraries with it (GnuTLS, Kerberos, LDAP, RTMP, SSH, ...);
 * linked as a NEEDED library, the dynamic loader maps and relocates all of them before main()
 * and nothing else can happen meanwhile. arca-run needs libcurl only for its first request, after
 * reading and measuring the program and making the launch key and certificate. So arca-run is
 * not linked against libcurl: arcarun_curl_preload starts a thread that dlopen()s it and
 * resolves the ten functions arca-run calls, and the first user waits for that thread
 * (arcarun_curl_get). On two cores the loading overlaps the measurement and the key generation.
 * What is loaded is exactly what the link would load (the soname below through the loader's
 * usual search), so nothing about which libcurl runs changes.
 */
#ifndef ARCARUN_CURL_LOAD_H
#define ARCARUN_CURL_LOAD_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>

/* The soname arca-run's libcurl headers belong to (libcurl's ABI 4, unchanged since 2006). */
#define ARCARUN_LIBCURL_SONAME "libcurl.so.4"

/* The libcurl functions arca-run calls, under libcurl's own names without the "curl_". */
struct arcarun_curl {
    CURLcode (*global_init)(long flags);
    void (*global_cleanup)(void);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
    CURLcode (*easy_perform)(CURL *curl);
    CURLcode (*easy_getinfo)(CURL *curl, CURLINFO info, ...);
    void (*easy_cleanup)(CURL *curl);
    const char *(*easy_strerror)(CURLcode code);
    struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
    void (*slist_free_all)(struct curl_slist *list);
};

/* Zero-initialise (= {0}) before use. Owned by the caller; arcarun_curl_done ends it. */
struct arcarun_curl_loader {
    pthread_t thread;
    bool started;  /* the loading thread runs or ran and is not joined yet */
    bool loaded;   /* api is filled in and curl_global_init succeeded */
    int rc;        /* of the loading: 0 or a negative ARCA_ERR_* code ... */
    char why[256]; /* ... and why (the loading thread cannot set the caller's error detail) */
    void *handle;
    struct arcarun_curl api;
};

/* Starts loading libcurl (and curl_global_init) in a thread. If no thread can be started,
 * arcarun_curl_get loads it itself; so nothing to check here. */
void arcarun_curl_preload(struct arcarun_curl_loader *l);

/* Waits for the loading (or loads now if it was not started) and sets *out to the function
 * table, which lives as long as l. Fails with ARCA_ERR_UNSUPPORTED naming the library and
 * dlerror() if libcurl cannot be loaded, ARCA_ERR_INTERNAL if it cannot be initialised. */
int arcarun_curl_get(struct arcarun_curl_loader *l, const struct arcarun_curl **out);

/* curl_global_cleanup if it was initialised; arcarun_curl_get initialises it again. The library
 * itself stays mapped until exit or exec (its dependencies are NODELETE anyway). */
void arcarun_curl_done(struct arcarun_curl_loader *l);

#endif
