/*
 * arca-run: attests a program to arcad and runs it with the configuration the policy gives it
 * (docs/arca-run.md).
 *
 *   arca-run --measure PROGRAM      prints the simulation measurement (SHA-256, 64 hex)
 *   arca-run PROGRAM [ARG...]       attests, applies the configuration, execs PROGRAM
 */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/json.h"
#include "arcarun.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/log.h"
#include "base/proc.h"
#include "crypto/crypto.h"
#include "evidence/sim.h"
#include "volumes.h"

extern char **environ;

static void usage(FILE *f)
{
    fprintf(f, "usage: arca-run [--timing] PROGRAM [ARG...]\n"
               "       arca-run --measure PROGRAM\n"
               "       arca-run --provide SECRET=FILE|-   (inside a provided_by service)\n"
               "environment:\n"
               "  ARCA_CAS_ADDR (or SCONE_CAS_ADDR)   HOST:PORT of arcad's enclave API\n"
               "  ARCA_CONFIG_ID (or SCONE_CONFIG_ID) SESSION/SERVICE[@OTP]\n"
               "  ARCA_CAS_KEY                        64 hex: SHA-256 of arcad's public key\n"
               "  ARCA_TEE                            sim | gramine | tsm | auto (default)\n"
               "  ARCA_SIM_DIR                        simulation platform directory (INSECURE)\n"
               "  ARCA_SERVICE_ACCESS_TOKEN           service access token, if the session "
               "has one\n"
               "--timing prints where the start-up time went to stderr before the exec\n");
}

static const char *env2(const char *a, const char *b)
{
    const char *v = getenv(a);
    if (v == NULL || v[0] == '\0')
        v = getenv(b);
    return (v != NULL && v[0] != '\0') ? v : NULL;
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "arca-run: %s: %s (%s)\n", what, arca_err_detail(), arca_strerror(rc));
    return 1;
}

static int cmd_measure(const char *program)
{
    int fd = -1;
    char *resolved = NULL;
    int rc = arcarun_program_open(program, &fd, &resolved);
    if (rc < 0)
        return fail("measure", rc);
    uint8_t m[32];
    rc = arca_sim_measure_fd(fd, m);
    close(fd);
    free(resolved);
    if (rc < 0)
        return fail("measure", rc);
    char hex[65];
    arca_hex_fmt(hex, m, sizeof(m));
    printf("%s\n", hex);
    return 0;
}

/* Attests, unlocks the volumes, applies the files and execs; returns the exit status on failure
 * (never on success), or the program's own when arca-run stays its parent to save volumes. */
static int launch(char **host_argv, size_t host_argc, const char *addr, const char *config_id,
                  const uint8_t key_id[32], const char *token, int fd, const char *resolved,
                  struct arcarun_timing *timing, struct arcarun_curl_loader *curl)
{
    uint8_t measurement[32];
    int rc = arca_sim_measure_fd(fd, measurement);
    if (rc < 0)
        return fail("measure", rc);
    char mhex[65];
    arca_hex_fmt(mhex, measurement, 32);
    arcarun_timing_mark(timing, "program"); /* start-up, reading, sealing, measuring */

    struct arcarun_provider_opts popts = {
        .sim_dir = getenv("ARCA_SIM_DIR"),
        .gramine_dir = getenv("ARCA_GRAMINE_DIR"), /* testing: a fake /dev/attestation */
        .tsm_dir = getenv("ARCA_TSM_DIR"),         /* testing: a fake configfs-tsm */
        .measurement = measurement,
    };
    const struct arcarun_provider *prov = NULL;
    rc = arcarun_provider_select(getenv("ARCA_TEE"), &popts, &prov);
    if (rc < 0)
        return fail("ARCA_TEE", rc);
    /* The one-time password after '@' is a credential: never in the log. */
    const char *slash = strrchr(config_id, '/');
    const char *at = strchr(slash != NULL ? slash : config_id, '@');
    int shown = at != NULL ? (int)(at - config_id) : (int)strlen(config_id);
    arca_info("arca-run", "attesting %s (sha256 %s) as %.*s via %s using %s", resolved, mhex, shown,
              config_id, addr, prov->name);

    struct arcarun_attest_params ap = {
        .cas_addr = addr,
        .cas_key_id = key_id,
        .config_id = config_id,
        .access_token = token,
        .provider = prov,
        .popts = &popts,
        .host_argv = host_argv,
        .host_argc = host_argc,
        .host_envp = environ,
        .timing = timing,
        .curl = curl,
    };
    struct arca_buf answer;
    arca_buf_init_secret(&answer, ARCARUN_CONFIG_MAX_BYTES);
    rc = arcarun_attest(&ap, &answer);
    arcarun_curl_done(curl);
    if (rc < 0) {
        arca_buf_free(&answer);
        return fail("attestation refused or failed", rc);
    }
    struct arcarun_config cfg;
    rc = arcarun_config_parse(answer.data, answer.len, &cfg);
    arca_buf_free(&answer);
    if (rc < 0)
        return fail("configuration", rc);
    rc = arcarun_provide_env(&cfg, addr, key_id, config_id);
    if (rc < 0) {
        arcarun_config_free(&cfg);
        return fail("configuration", rc);
    }
    arcarun_timing_mark(timing, "config");
    struct arcarun_volumes vols;
    rc = arcarun_volumes_unlock(&cfg, NULL, &vols);
    if (rc < 0) {
        arcarun_config_free(&cfg);
        return fail("volumes", rc);
    }
    arcarun_timing_mark(timing, "volumes");
    /* After the volumes: an injected file inside a volume lands on its plaintext view. */
    rc = arcarun_apply_files(&cfg, NULL);
    if (rc < 0) {
        arcarun_volumes_free(&vols);
        arcarun_config_free(&cfg);
        return fail("injection files", rc);
    }
    arcarun_timing_mark(timing, "mounts");
    arca_info("arca-run",
              "attested: executing %s with %zu arguments, %zu variables, %zu files, %zu volumes",
              resolved, cfg.argc, cfg.envc, cfg.nfiles, cfg.nvolumes);
    if (!arcarun_volumes_keep_changes(&vols)) {
        rc = arcarun_exec_at_timed(fd, resolved, &cfg, timing);
        arcarun_volumes_free(&vols);
        arcarun_config_free(&cfg);
        return fail("exec", rc);
    }
    arcarun_timing_print(timing, "exec"); /* the child's own exec is not counted */
    int status = 1;
    rc = arcarun_run_supervised(fd, resolved, &cfg, &status);
    if (rc == 0)
        rc = arcarun_volumes_save(&vols);
    if (rc == 0) {
        rc = arcarun_volumes_report(&vols, &cfg, &ap);
        arcarun_curl_done(curl);
    }
    arcarun_volumes_free(&vols);
    arcarun_config_free(&cfg);
    if (rc < 0) {
        fail("volumes", rc);
        return status != 0 ? status : 1;
    }
    return status;
}

int main(int argc, char **argv)
{
    /* A CAS closing the connection mid-write must be an error return, not a silent death by
     * SIGPIPE (arcarun_exec gives the program the default disposition back). */
    signal(SIGPIPE, SIG_IGN);
    /* Before the configuration (secrets) arrives: no core file, no ptrace or /proc peeking by
     * other processes of the user. The program inherits the core limit 0 (execve keeps it). */
    if (arca_proc_no_dumps() < 0)
        return fail("start", ARCA_ERR_IO);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("arca-run %s\n", ARCA_VERSION);
        return 0;
    }
    /* No openssl.cnf or $OPENSSL_CONF: the host's, not ours (crypto.h). */
    if (arca_crypto_init_no_config() < 0)
        return fail("start", ARCA_ERR_CRYPTO);
    if (strcmp(argv[1], "--measure") == 0) {
        if (argc != 3) {
            usage(stderr);
            return 2;
        }
        return cmd_measure(argv[2]);
    }
    if (strcmp(argv[1], "--provide") == 0) {
        if (argc != 3) {
            usage(stderr);
            return 2;
        }
        arca_json_wipe_on_free();
        int prc = arcarun_cmd_provide(argv[2]);
        if (prc < 0)
            return fail("provide", prc);
        fprintf(stderr, "arca-run: provided the value of %.*s\n",
                (int)(strchr(argv[2], '=') - argv[2]), argv[2]);
        return 0;
    }
    struct arcarun_timing timing;
    int first = 1;
    arcarun_timing_start(&timing, strcmp(argv[1], "--timing") == 0);
    if (timing.on)
        first++;
    if (first < argc && strcmp(argv[first], "--") == 0)
        first++;
    if (first >= argc || argv[first][0] == '-') {
        usage(stderr);
        return 2;
    }
    const char *lvl = getenv("ARCA_LOG_LEVEL");
    if (lvl != NULL && arca_log_level_parse(lvl) >= 0)
        arca_log_set_level((enum arca_log_level)arca_log_level_parse(lvl));
    arca_json_wipe_on_free(); /* jansson holds the configuration and the access token */

    const char *addr = env2("ARCA_CAS_ADDR", "SCONE_CAS_ADDR");
    const char *config_id = env2("ARCA_CONFIG_ID", "SCONE_CONFIG_ID");
    const char *cas_key = getenv("ARCA_CAS_KEY");
    const char *token = env2("ARCA_SERVICE_ACCESS_TOKEN", "SCONE_SERVICE_ACCESS_TOKEN");
    if (addr == NULL) {
        fprintf(stderr, "arca-run: ARCA_CAS_ADDR (or SCONE_CAS_ADDR) is not set: HOST:PORT of "
                        "arcad's enclave API\n");
        return 1;
    }
    if (config_id == NULL) {
        fprintf(stderr, "arca-run: ARCA_CONFIG_ID (or SCONE_CONFIG_ID) is not set: "
                        "SESSION/SERVICE[@OTP]\n");
        return 1;
    }
    /* Checked here so that a typo names the variable instead of surfacing as a network or
     * policy error after a round trip. */
    const char *colon = strrchr(addr, ':');
    char *port_end = NULL;
    long port = colon != NULL ? strtol(colon + 1, &port_end, 10) : 0;
    if (colon == NULL || colon == addr || port_end == colon + 1 || *port_end != '\0' || port < 1 ||
        port > 65535) {
        fprintf(stderr,
                "arca-run: ARCA_CAS_ADDR '%.200s' is not HOST:PORT (port 1-65535) of arcad's "
                "enclave API\n",
                addr);
        return 1;
    }
    const char *slash = strchr(config_id, '/');
    const char *at = strchr(config_id, '@');
    size_t id_len = at != NULL ? (size_t)(at - config_id) : strlen(config_id);
    if (slash == NULL || slash == config_id || (size_t)(slash - config_id) >= id_len ||
        config_id[id_len - 1] == '/') {
        /* Up to the '@' only: what follows is a one-time password. */
        fprintf(stderr, "arca-run: ARCA_CONFIG_ID '%.*s' is not SESSION/SERVICE[@OTP]\n",
                (int)(id_len > 200 ? 200 : id_len), config_id);
        return 1;
    }
    uint8_t key_id[32];
    if (cas_key == NULL || arca_hex_decode_fixed(key_id, 32, cas_key, strlen(cas_key)) < 0) {
        fprintf(stderr, "arca-run: ARCA_CAS_KEY must be 64 hex digits: the SHA-256 of arcad's "
                        "public key (arca cas show / arcad's log)\n");
        return 1;
    }

    /* libcurl's libraries load on the other core while the program is read and measured and
     * the launch key made (curl_load.h); the first request waits for them. */
    struct arcarun_curl_loader curl = {0};
    arcarun_curl_preload(&curl);
    int fd = -1;
    char *resolved = NULL;
    int rc = arcarun_program_open(argv[first], &fd, &resolved);
    if (rc < 0) {
        arcarun_curl_done(&curl);
        return fail("program", rc);
    }
    rc = launch(argv + first, (size_t)(argc - first), addr, config_id, key_id, token, fd, resolved,
                &timing, &curl);
    arcarun_curl_done(&curl);
    free(resolved);
    close(fd);
    return rc;
}
