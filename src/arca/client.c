/* The CLI's identity files, pinned-CAS database and libcurl mutual-TLS client (client.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "api/json.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/fs.h"
#include "client.h"
#include "crypto/crypto.h"

#define ANSWER_MAX ((size_t)16 << 20)

int cli_file_read(const char *path, struct arca_buf *out)
{
    return arca_file_read(path, 0, out);
}

const char *arca_identity_dir(const struct arca_cli *cli)
{
    static char buf[4096];
    if (cli->identity != NULL && cli->identity[0] != '\0')
        return cli->identity;
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    if (xdg != NULL && xdg[0] == '/')
        snprintf(buf, sizeof(buf), "%s/arca", xdg);
    else
        snprintf(buf, sizeof(buf), "%s/.config/arca", home != NULL ? home : ".");
    return buf;
}

int arca_cas_db_load(const struct arca_cli *cli, json_t **out)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/cas.json", arca_identity_dir(cli));
    struct arca_buf b;
    arca_buf_init(&b, 1 << 20);
    int rc = cli_file_read(path, &b);
    if (rc == ARCA_ERR_NOT_FOUND) {
        arca_buf_free(&b);
        *out = json_pack("{s:n, s:{}}", "default", "cas");
        return *out != NULL ? 0 : arca_err_set(ARCA_ERR_ALLOC, "out of memory");
    }
    if (rc < 0) {
        arca_buf_free(&b);
        return rc;
    }
    json_error_t e;
    json_t *j = json_loadb((const char *)b.data, b.len, JSON_REJECT_DUPLICATES, &e);
    arca_buf_free(&b);
    ARCA_ENSURE(j != NULL && json_is_object(j), ARCA_ERR_FORMAT,
                "%s: not a valid pinned-CAS file (line %d: %s); remove it and run `arca cas "
                "attest` again",
                path, e.line, j == NULL ? e.text : "not an object");
    if (!json_is_object(json_object_get(j, "cas"))) {
        /* A single-CAS file ({"address": A, "cas_key": K, ...}, the shape `cas show -o json`
         * prints) becomes the one pinned CAS and the default; written back on the next save. */
        const char *a = json_string_value(json_object_get(j, "address"));
        json_t *one = json_object();
        if (a != NULL && json_is_string(json_object_get(j, "cas_key"))) {
            const char *k;
            json_t *v;
            json_object_foreach(j, k, v) if (strcmp(k, "address") != 0) json_object_set(one, k, v);
            json_t *m = json_pack("{s:s, s:{s:o}}", "default", a, "cas", a, one);
            json_decref(j);
            j = m;
            ARCA_ENSURE(j != NULL, ARCA_ERR_ALLOC, "out of memory");
        } else {
            json_decref(one);
            json_object_set_new(j, "cas", json_object());
        }
    }
    *out = j;
    return 0;
}

int arca_cas_db_save(const struct arca_cli *cli, json_t *db)
{
    const char *dir = arca_identity_dir(cli);
    ARCA_TRY(arca_mkdirs(dir, 0700));
    char path[4200];
    snprintf(path, sizeof(path), "%s/cas.json", dir);
    char *s = json_dumps(db, JSON_INDENT(2) | JSON_SORT_KEYS);
    ARCA_ENSURE(s != NULL, ARCA_ERR_ALLOC, "out of memory");
    int rc = arca_file_write(path, s, strlen(s), 0644, 0);
    free(s);
    return rc;
}

struct arca_client {
    CURL *curl;
    char addr[512];
    char pin[128];
    struct arca_buf cert;
    struct arca_buf key; /* secret */
};

const char *arca_client_addr(const struct arca_client *c)
{
    return c->addr;
}

void arca_client_free(struct arca_client *c)
{
    if (c == NULL)
        return;
    if (c->curl != NULL)
        curl_easy_cleanup(c->curl);
    arca_buf_free(&c->cert);
    arca_buf_free(&c->key);
    free(c);
}

int arca_client_open_addr(const struct arca_cli *cli, const char *addr,
                          const uint8_t *pinned_key_id, bool with_identity,
                          struct arca_client **out)
{
    ARCA_ENSURE_REF(addr);
    ARCA_ENSURE(strlen(addr) < 500 && strchr(addr, '/') == NULL && strchr(addr, ':') != NULL,
                ARCA_ERR_INVALID_ARG, "CAS address '%s': expected HOST:PORT", addr);
    static bool curl_ready;
    if (!curl_ready) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        curl_ready = true;
    }
    struct arca_client *c = calloc(1, sizeof(*c));
    ARCA_ENSURE(c != NULL, ARCA_ERR_ALLOC, "out of memory");
    arca_buf_init(&c->cert, 1 << 16);
    arca_buf_init_secret(&c->key, 1 << 16);
    snprintf(c->addr, sizeof(c->addr), "%s", addr);
    int rc = 0;
    if (with_identity) {
        char path[4200];
        const char *dir = arca_identity_dir(cli);
        snprintf(path, sizeof(path), "%s/cert.pem", dir);
        rc = cli_file_read(path, &c->cert);
        if (rc == 0) {
            snprintf(path, sizeof(path), "%s/key.pem", dir);
            rc = cli_file_read(path, &c->key);
        }
        if (rc == ARCA_ERR_NOT_FOUND)
            rc = arca_err_set(rc, "no client identity in %s; create one with `arca self keygen`",
                              dir);
        if (rc < 0)
            goto fail;
    }
    if (pinned_key_id != NULL) {
        struct arca_buf b;
        arca_buf_init(&b, 128);
        rc = arca_base64_encode(&b, pinned_key_id, 32);
        if (rc == 0)
            snprintf(c->pin, sizeof(c->pin), "sha256//%s", arca_buf_cstr(&b));
        arca_buf_free(&b);
        if (rc < 0)
            goto fail;
    }
    c->curl = curl_easy_init();
    if (c->curl == NULL) {
        rc = arca_err_set(ARCA_ERR_ALLOC, "curl_easy_init failed");
        goto fail;
    }
    *out = c;
    return 0;
fail:
    arca_client_free(c);
    return rc;
}

int arca_client_open(const struct arca_cli *cli, bool with_identity, struct arca_client **out)
{
    json_t *db = NULL;
    ARCA_TRY(arca_cas_db_load(cli, &db));
    const char *addr = cli->cas;
    if (addr == NULL || addr[0] == '\0')
        addr = json_string_value(json_object_get(db, "default"));
    if (addr == NULL) {
        json_decref(db);
        ARCA_BAIL(ARCA_ERR_NOT_FOUND,
                  "no CAS given and none attested yet: run `arca cas attest HOST:PORT` (or pass "
                  "--cas / set ARCA_CAS)");
    }
    const char *key_hex = json_string_value(
        json_object_get(json_object_get(json_object_get(db, "cas"), addr), "cas_key"));
    uint8_t kid[32];
    int rc = 0;
    if (key_hex == NULL || arca_hex_decode_fixed(kid, 32, key_hex, strlen(key_hex)) < 0)
        rc = arca_err_set(ARCA_ERR_NOT_FOUND,
                          "CAS %s is not attested: run `arca cas attest %s` first", addr, addr);
    else
        rc = arca_client_open_addr(cli, addr, kid, with_identity, out);
    json_decref(db);
    return rc;
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *arg)
{
    struct arca_buf *b = arg;
    size_t n = size * nmemb;
    return arca_buf_put(b, p, n) == 0 ? n : 0;
}

int arca_client_request(struct arca_client *c, const char *method, const char *path,
                        const void *body, size_t n, long *status, struct arca_buf *answer)
{
    ARCA_ENSURE_REF(c);
    ARCA_ENSURE_REF(path);
    char url[4800];
    snprintf(url, sizeof(url), "https://%s%s", c->addr, path);
    CURL *h = c->curl;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    /* arcad's certificate is self-issued: trust comes from the pinned key, not from a CA. */
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    if (c->pin[0] != '\0')
        curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, c->pin);
    if (c->cert.len > 0) {
        struct curl_blob cert = {c->cert.data, c->cert.len, CURL_BLOB_NOCOPY};
        struct curl_blob key = {c->key.data, c->key.len, CURL_BLOB_NOCOPY};
        curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cert);
        curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &key);
        curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
    }
    struct curl_slist *hdrs = NULL;
    if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body != NULL ? body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
        hdrs = curl_slist_append(hdrs, "Content-Type: application/octet-stream");
        hdrs = curl_slist_append(hdrs, "Expect:");
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
    struct arca_buf tmp;
    arca_buf_init(&tmp, ANSWER_MAX);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &tmp);
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode cc = curl_easy_perform(h);
    curl_slist_free_all(hdrs);
    int rc = 0;
    if (cc != CURLE_OK) {
        const char *hint = cc == CURLE_SSL_PINNEDPUBKEYNOTMATCH
                               ? " (the CAS key changed: this is not the attested CAS; run `arca "
                                 "cas attest` again only if you expected a new CAS)"
                           : cc == CURLE_SSL_CONNECT_ERROR
                               ? " (no TLS answer: is this arcad's client API port? the metrics "
                                 "port, for one, speaks plain HTTP)"
                               : "";
        rc = arca_err_set(ARCA_ERR_NETWORK, "CAS %s: %s%s", c->addr,
                          errbuf[0] ? errbuf : curl_easy_strerror(cc), hint);
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
        rc = arca_buf_put(answer, tmp.data, tmp.len);
    }
    arca_buf_free(&tmp);
    return rc;
}

int arca_client_json(struct arca_client *c, const char *method, const char *path, const void *body,
                     size_t n, long *status, json_t **out)
{
    struct arca_buf b;
    arca_buf_init(&b, ANSWER_MAX);
    *out = NULL;
    int rc = arca_client_request(c, method, path, body, n, status, &b);
    json_t *j = NULL;
    if (rc == 0)
        rc = arca_json_parse_object(b.data, b.len, "answer", &j);
    arca_buf_free(&b);
    if (*status >= 200 && *status < 300) {
        if (rc < 0)
            return rc == ARCA_ERR_FORMAT ? arca_err_wrap(ARCA_ERR_NETWORK, "CAS %s", c->addr) : rc;
        *out = j;
        return 0;
    }
    if (rc < 0 && rc != ARCA_ERR_FORMAT)
        return rc;
    /* arcad's enclave port answers any GET it does not serve naming itself (enclave_api.c). */
    const char *api = json_string_value(json_object_get(j, "api"));
    if (api != NULL && strcmp(api, "enclave") == 0) {
        const char *client = json_string_value(json_object_get(j, "client_api"));
        rc = arca_err_set(ARCA_ERR_NETWORK,
                          "CAS %s: this is arcad's enclave port; the client API is %s (use that "
                          "address with `arca cas attest` and --cas)",
                          c->addr, client != NULL && client[0] ? client : "another port");
        json_decref(j);
        return rc;
    }
    /* An error answer: {"msg": [...]} */
    struct arca_buf msg;
    arca_buf_init(&msg, 8192);
    size_t found = arca_api_error_join(j, &msg);
    rc = arca_err_set(arca_api_status_err(*status), "CAS answered %ld: %s", *status,
                      found ? arca_buf_cstr(&msg) : "(no message)");
    arca_buf_free(&msg);
    *out = j;
    return rc;
}

int arca_client_exit_code(int rc)
{
    if (rc == ARCA_ERR_NETWORK || rc == ARCA_ERR_TIMEOUT)
        return ARCA_EXIT_CAS;
    return rc < 0 ? ARCA_EXIT_FAIL : ARCA_EXIT_OK;
}

int cli_dispatch(struct arca_cli *cli, const struct cli_sub *subs, size_t n_subs,
                 void (*usage)(FILE *f), int argc, char **argv)
{
    argc = cli_take_output_flag(cli, argc, argv);
    if (argc < 0)
        return ARCA_EXIT_USAGE;
    if (argc < 2) {
        usage(stderr);
        return ARCA_EXIT_USAGE;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0 ||
            (i == 1 && strcmp(argv[i], "help") == 0)) {
            usage(stdout);
            return ARCA_EXIT_OK;
        }
    }
    for (size_t i = 0; i < n_subs; i++) {
        if (strcmp(argv[1], subs[i].name) != 0)
            continue;
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "%s %s", argv[0], subs[i].name);
        int ex = cli_check_options(cmd, subs[i].opts, argc - 1, argv + 1);
        return ex != ARCA_EXIT_OK ? ex : subs[i].run(cli, argc - 1, argv + 1);
    }
    const char *names[64];
    size_t n = n_subs < 64 ? n_subs : 64;
    for (size_t i = 0; i < n; i++)
        names[i] = subs[i].name;
    const char *hint = cli_suggest(argv[1], names, n);
    usage(stderr);
    if (hint != NULL)
        return cli_fail(ARCA_EXIT_USAGE, "%s: unknown subcommand '%s'; did you mean '%s'?", argv[0],
                        argv[1], hint);
    return cli_fail(ARCA_EXIT_USAGE, "%s: unknown subcommand '%s'", argv[0], argv[1]);
}

void cli_print_json(const json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (s != NULL)
        printf("%s\n", s);
    free(s);
}
