/* arcad: the arca CAS server. See `arcad --help` and docs/arcad.md. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/json.h"
#include "api_owner.h"
#include "arcad_internal.h"
#include "arcad_witness.h"
#include "audit/audit.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/log.h"
#include "base/proc.h"
#include "config_file.h"
#include "crypto/tls.h"
#include "api_peer.h"
#include "enclave_api.h"
#include "join.h"
#include "attest/verify.h"
#include "evidence/dcap_verify.h"
#include "evidence/sim.h"
#include "govern/approval.h"
#include "policy/session_cache.h"
#include "limits/limits.h"
#include "owner/owner.h"
#include "secrets/secrets.h"
#include "reload.h"
#include "service.h"
#include "store/store.h"
#include "witness/witness.h"

static void usage(FILE *f)
{
    fprintf(
        f, "usage: arcad --data-dir DIR [--client-listen HOST:PORT] [--enclave-listen HOST:PORT]\n"
           "             [--allow-simulation] [--metrics-listen HOST:PORT] [options]\n\n"
           "  --config FILE             YAML file of flags (KEY: VALUE, KEY = a long flag name);\n"
           "                            flags on the command line win; SIGHUP re-reads it\n"
           "  --pidfile FILE            write arcad's process id to FILE once it is serving\n"
           "  --sealer sim|gramine      where the sealing key of the identity and store comes\n"
           "                            from: the simulation platform (default, INSECURE) or\n"
           "                            Gramine-SGX's /dev/attestation/keys/_sgx_mrenclave\n"
           "  --data-dir DIR            state directory (identity, sealed store, audit log)\n"
           "  --store URL               keep the sealed store in PostgreSQL (postgresql://...;\n"
           "                            several arcads may share it); default: SQLite in\n"
           "                            --data-dir, which keeps the key-store either way\n"
           "  --join HOST:PORT          first start on a shared --store: attest to the member\n"
           "                            at HOST:PORT (its --enclave-listen) and receive the\n"
           "                            store's key from it; ignored once a key-store exists\n"
           "  --client-listen HOST:PORT client API (mutual TLS); default 127.0.0.1:8081\n"
           "  --enclave-listen HOST:PORT enclave API (TLS); default 127.0.0.1:18765\n"
           "  --metrics-listen HOST:PORT Prometheus metrics (plain HTTP); default off\n"
           "  --allow-simulation        accept INSECURE simulated evidence from programs\n"
           "  --workers N               event-loop threads (default: number of cores)\n"
           "  --max-body BYTES          largest request body (default 1048576)\n"
           "  --max-header BYTES        largest request head (default 16384)\n"
           "  --timeout SECONDS         request read/write and idle timeout (default 30)\n"
           "  --max-connections N       connections per worker (default 1024)\n"
           "  --max-pending N           of those, without a complete request yet\n"
           "                            (default: half of --max-connections)\n"
           "  --max-pending-per-peer N  the same per peer address, per worker (default 32)\n"
           "  --handshake-timeout SECONDS  accept to end of TLS handshake, absolute (default 10)\n"
           "  --request-timeout SECONDS    handshake or last answer to a complete request,\n"
           "                               absolute (default 20)\n"
           "  --max-keys-per-session N  keys one session upload may generate (default 256)\n"
           "  --max-certs-per-session N certificates one upload may issue (default 256)\n"
           "  --max-keygen-ms MS        estimated generation time per upload (default 10000)\n"
           "  --max-sessions-per-client N  sessions one client key may create (default 1000)\n"
           "  --proposal-ttl SECONDS    how long a proposal stays open (default 604800 = 7\n"
           "                            days, at most 90 days)\n"
           "  --max-proposals N         open proposals in all (default 1000)\n"
           "  --max-proposals-per-client N  open proposals per client key (default 16)\n"
           "  --client-rate N           requests per second per client key (default 200,\n"
           "                            0 = off)\n"
           "  --client-burst N          burst per client key (default 2000)\n"
           "  --jobs N                  job threads for costly requests (secret generation,\n"
           "                            listing, evidence checks, durable writes); default:\n"
           "                            32 per core, at most 64\n"
           "  --max-queued-jobs N       such requests waiting for a job thread (default 256;\n"
           "                            more are answered 503)\n"
           "  --rate-limit RATE         unauthenticated requests (attest, challenge, values) per\n"
           "                            second and peer address (default 50)\n"
           "  --rate-burst N            the same, burst per peer address (default 100)\n"
           "  --global-rate-limit RATE  the same from all peers together (default 1000, 0: none)\n"
           "  --global-rate-burst N     burst of all peers together (default 2000)\n"
           "  --sim-dir DIR             simulation platform directory (default $ARCA_SIM_DIR)\n"
           "  --collateral DIR|FILE     Intel DCAP collateral, loaded at start and on SIGHUP\n"
           "                            (default $ARCA_COLLATERAL)\n"
           "  --pcs-url URL             Intel PCS/PCCS base URL for collateral that --collateral\n"
           "                            lacks (cached in DATA_DIR/collateral-cache); default off;\n"
           "                            --pcs-url, --kds-url, --snp-certs: SIGHUP applies them\n"
           "  --kds-url URL             AMD KDS base URL for SEV-SNP VCEKs (cached likewise);\n"
           "                            default off\n"
           "  --snp-certs DIR           SEV-SNP VCEK/ASK/ARK directory (default $ARCA_SNP_CERTS)\n"
           "  --attest-free-failures N  failed attestations per session/service before each\n"
           "                            further one must wait (1 s, doubling; default 3)\n"
           "  --attest-lockout-failures N  failed attestations that lock it out (default 10)\n"
           "  --attest-lockout-time SECONDS  how long a lockout lasts (default 900)\n"
           "  --witness SPEC            freshness witness of every commit (repeatable; a\n"
           "                            majority must answer): tpm, tpm:TCTI (default\n"
           "                            device:/dev/tpmrm0; e.g. swtpm:host=127.0.0.1,port=2321),\n"
           "                            arcad://HOST:PORT (a peer arcad's enclave port)\n"
           "                            or file:PATH (tests only). Default none\n"
           "  --witness-interval SECONDS  how often the witnesses are re-checked (default 30)\n"
           "  --audit-rotate-size BYTES  rotate DATA_DIR/audit.log when it reaches BYTES\n"
           "                            (default: only on SIGUSR1 / arca audit rotate)\n"
           "  --audit-syslog SOCKET     also send each audit line to this unix datagram\n"
           "                            socket (/dev/log: syslog or journald); default off\n"
           "  --log-level LEVEL         debug, info, warn, error (default info)\n"
           "  --log-json                log JSON lines\n"
           "Port 0 picks a free port; the chosen addresses are printed on stdout.\n");
}

static int parse_num(const char *flag, const char *v, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || n < lo || n > hi) {
        fprintf(stderr, "arcad: %s: expected a number from %ld to %ld, got '%s'\n", flag, lo, hi,
                v);
        return -1;
    }
    *out = n;
    return 0;
}

/* The store's sealer in simulation: HKDF over the platform secret and arcad's measurement, or
 * the keys a predecessor handed this build in its successor slot (owner/slot.h). */
struct sim_sealer {
    struct arca_sim_platform *p;
    const uint8_t *measurement;
    bool inherited;
    struct arca_seal_keys keys; /* secret, when inherited */
};

static int sim_get_key(void *vctx, const char *purpose, uint8_t key[ARCA_STORE_KEY_LEN])
{
    struct sim_sealer *s = vctx;
    if (s->inherited) {
        struct arca_store_sealer k;
        arca_seal_keys_sealer(&s->keys, &k);
        return k.get_key(k.ctx, purpose, key);
    }
    return arca_sim_seal_key(s->p, s->measurement, purpose, key);
}

/* Successor-slot keys: only the platform derives them for a measurement (slot.h). */
static int sim_slot_key(void *vctx, const uint8_t m[32], uint8_t key[ARCA_STORE_KEY_LEN])
{
    struct sim_sealer *s = vctx;
    return arca_sim_seal_key(s->p, m, ARCA_SLOT_PURPOSE, key);
}

/* Opens the data directory with the keys of a predecessor build if the owner registered this
 * one (a slot for its measurement exists); otherwise this build's own keys are used. */
static int adopt_slot(const char *data_dir, struct sim_sealer *s)
{
    int rc = arca_slot_read(data_dir, s->measurement, sim_slot_key, s, &s->keys);
    if (rc == ARCA_ERR_NOT_FOUND)
        return 0;
    ARCA_TRY(rc);
    s->inherited = true;
    arca_info("arcad", "opening a data directory sealed by an earlier arcad build through the "
                       "successor slot registered for this build");
    return 0;
}

/* The refusal of a data directory sealed by another build, saying what to do. */
static int refuse_foreign_seal(const char *data_dir, const uint8_t m[32])
{
    char hex[65];
    arca_hex_fmt(hex, m, 32);
    return arca_err_set(
        ARCA_ERR_TAMPERED,
        "data dir %s was sealed by another arcad build or platform (this arcad's "
        "measurement is %s). If this arcad is an upgrade, let the owner register "
        "it on the running previous version (arca cas register-upgrade "
        "--measurement %s), then start this one again (another machine: restore as a backup)",
        data_dir, hex, hex);
}

/*
 * The refusal of a foreign seal is audited as `upgrade_refused` in this build's own log,
 * DATA_DIR/refused-builds/<measurement>/audit.log, signed with an identity sealed to this build
 * (created there on the first refusal): the data directory's log is signed with a key this build
 * cannot unseal, and nothing of the data directory's own files is touched. A failure to write
 * the event is logged; the refusal (the error detail set by refuse_foreign_seal) stands either
 * way.
 */
static void upgrade_refused_event(const char *data_dir, const struct arca_store_sealer *own,
                                  const uint8_t m[32])
{
    char why[ARCA_ERR_DETAIL_MAX], hex[65], dir[4200], path[4300];
    snprintf(why, sizeof(why), "%s", arca_err_detail());
    arca_hex_fmt(hex, m, 32);
    int w = snprintf(dir, sizeof(dir), "%s/refused-builds", data_dir);
    if (w > 0 && (size_t)w < sizeof(dir) && (mkdir(dir, 0700) == 0 || errno == EEXIST)) {
        snprintf(dir, sizeof(dir), "%s/refused-builds/%s", data_dir, hex);
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            w = -1;
    } else {
        w = -1;
    }
    struct arcad_identity me;
    memset(&me, 0, sizeof(me));
    struct arca_audit *a = NULL;
    json_t *f = json_pack("{s:s,s:s}", "measurement", hex, "reason", why);
    snprintf(path, sizeof(path), "%s/audit.log", dir);
    struct arca_audit_options aopt = {.path = path};
    int rc = w < 0 || f == NULL ? ARCA_ERR_IO : arcad_identity_load_or_create(dir, own, &me, NULL);
    if (rc == 0) {
        aopt.key = me.key;
        rc = arca_audit_open(&aopt, &a);
    }
    if (rc == 0)
        rc = arca_audit_append_durable(a, "upgrade_refused", f, NULL);
    if (rc < 0)
        arca_warn("arcad", "refused build not audited in %s: %s", dir, arca_err_detail());
    else
        arca_info("arcad", "refusal audited as upgrade_refused in %s (arca audit verify %s)", path,
                  path);
    json_decref(f);
    arca_audit_close(a);
    arcad_identity_free(&me);
    arca_err_set(ARCA_ERR_TAMPERED, "%s", why);
}

/* A refusal by the witnesses goes to the audit log too, without the store (it must not move:
 * every refused start would otherwise bring a rolled-back state one commit closer). */
static void witness_refused_event(const char *logpath, struct arca_key *key)
{
    char why[ARCA_ERR_DETAIL_MAX];
    snprintf(why, sizeof(why), "%s", arca_err_detail());
    struct arca_audit_options aopt = {.path = logpath, .key = key};
    struct arca_audit *a = NULL;
    if (arca_audit_open(&aopt, &a) == 0) {
        json_t *f = json_pack("{s:s}", "reason", why);
        (void)arca_audit_append(a, "witness_refused", f, NULL);
        json_decref(f);
        arca_audit_close(a);
    }
    arca_err_set(ARCA_ERR_TAMPERED, "%s", why);
}

/* arcad's flags; the configuration file's keys are their long names (config_file.h). */
enum {
    O_DATA = 256,
    O_CL,
    O_EN,
    O_ME,
    O_SIM,
    O_W,
    O_MB,
    O_MH,
    O_TO,
    O_MC,
    O_SD,
    O_LL,
    O_LJ,
    O_COL,
    O_PCS,
    O_KDS,
    O_SNP,
    O_MP,
    O_MPP,
    O_HT,
    O_RT,
    O_AFF,
    O_ALF,
    O_ALT,
    O_MKS,
    O_MCS,
    O_MKG,
    O_MSC,
    O_CR,
    O_CB,
    O_JOBS,
    O_MQJ,
    O_RL,
    O_RB,
    O_GRL,
    O_GRB,
    O_CONF,
    O_PID,
    O_SEAL,
    O_WIT,
    O_WITI,
    O_PTTL,
    O_MPROP,
    O_MPC,
    O_ARS,
    O_ASL,
    O_STORE,
    O_JOIN
};
/* Start order with arcad:// witnesses (docs/internals/witness.md): the store's open checks the
 * state against the witnesses, which are other arcads that may be starting too, waiting for
 * theirs. So a start-up server answers peers meanwhile, and the open is retried while too few
 * witnesses answer (never when they refuse the state), at most START_TRIES times. The start-up
 * server runs until arcad_serve is about to take over: the commits of the start (audit log,
 * owner record) are witnessed by peers that may still be starting too. */
#define START_TRIES 30
#define START_RETRY_S 2

static int open_store_witnessed(struct arcad_ctx *ctx, const struct arca_store_options *sopt,
                                struct arcad_witness *witness, struct arcad_peer_early **early,
                                struct arca_store **out)
{
    if (!arcad_witness_has_peers(witness))
        return arca_store_open(sopt, out);
    /* Only the start-up server's signal wait takes SIGTERM/SIGINT now (arcad_serve blocks
     * them for good later anyway); a stop request ends the wait below. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    ARCA_TRY(arcad_peer_early_start(ctx, early));
    const char *why = NULL;
    for (int i = 1;; i++) {
        int rc = arca_store_open(sopt, out);
        if (rc == 0 || !arcad_witness_waiting(witness))
            return rc;
        if (i == START_TRIES)
            return arca_err_set(ARCA_ERR_NETWORK, "witnesses: no majority answered in %d tries: %s",
                                START_TRIES, arcad_witness_why(witness));
        arca_warn("witness", "start check %d of %d: %s; retrying in %d s", i, START_TRIES,
                  arcad_witness_why(witness), START_RETRY_S);
        sleep(START_RETRY_S);
        if (arcad_peer_early_done(*early, &why))
            return arca_err_set(ARCA_ERR_NETWORK, "while waiting for the witnesses: %s", why);
    }
}

static const struct option opts[] = {
    {"config", required_argument, NULL, O_CONF},
    {"pidfile", required_argument, NULL, O_PID},
    {"sealer", required_argument, NULL, O_SEAL},
    {"data-dir", required_argument, NULL, O_DATA},
    {"client-listen", required_argument, NULL, O_CL},
    {"enclave-listen", required_argument, NULL, O_EN},
    {"metrics-listen", required_argument, NULL, O_ME},
    {"allow-simulation", no_argument, NULL, O_SIM},
    {"workers", required_argument, NULL, O_W},
    {"max-body", required_argument, NULL, O_MB},
    {"max-header", required_argument, NULL, O_MH},
    {"timeout", required_argument, NULL, O_TO},
    {"max-connections", required_argument, NULL, O_MC},
    {"sim-dir", required_argument, NULL, O_SD},
    {"log-level", required_argument, NULL, O_LL},
    {"log-json", no_argument, NULL, O_LJ},
    {"collateral", required_argument, NULL, O_COL},
    {"pcs-url", required_argument, NULL, O_PCS},
    {"kds-url", required_argument, NULL, O_KDS},
    {"snp-certs", required_argument, NULL, O_SNP},
    {"max-pending", required_argument, NULL, O_MP},
    {"max-pending-per-peer", required_argument, NULL, O_MPP},
    {"handshake-timeout", required_argument, NULL, O_HT},
    {"request-timeout", required_argument, NULL, O_RT},
    {"attest-free-failures", required_argument, NULL, O_AFF},
    {"attest-lockout-failures", required_argument, NULL, O_ALF},
    {"attest-lockout-time", required_argument, NULL, O_ALT},
    {"max-keys-per-session", required_argument, NULL, O_MKS},
    {"max-certs-per-session", required_argument, NULL, O_MCS},
    {"max-keygen-ms", required_argument, NULL, O_MKG},
    {"max-sessions-per-client", required_argument, NULL, O_MSC},
    {"client-rate", required_argument, NULL, O_CR},
    {"client-burst", required_argument, NULL, O_CB},
    {"jobs", required_argument, NULL, O_JOBS},
    {"max-queued-jobs", required_argument, NULL, O_MQJ},
    {"rate-limit", required_argument, NULL, O_RL},
    {"rate-burst", required_argument, NULL, O_RB},
    {"global-rate-limit", required_argument, NULL, O_GRL},
    {"global-rate-burst", required_argument, NULL, O_GRB},
    {"witness", required_argument, NULL, O_WIT},
    {"witness-interval", required_argument, NULL, O_WITI},
    {"proposal-ttl", required_argument, NULL, O_PTTL},
    {"max-proposals", required_argument, NULL, O_MPROP},
    {"max-proposals-per-client", required_argument, NULL, O_MPC},
    {"audit-rotate-size", required_argument, NULL, O_ARS},
    {"audit-syslog", required_argument, NULL, O_ASL},
    {"store", required_argument, NULL, O_STORE},
    {"join", required_argument, NULL, O_JOIN},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

/* Keys the configuration file may not hold. */
static const char *const not_in_file[] = {"config", "help", "version", NULL};

/* Flags that SIGHUP applies to a running arcad; a change of any other is logged as needing a
 * restart. The limits are read per request from ctx->cfg with relaxed atomics (api.c). */
static const char *const reloadable[] = {"collateral",
                                         "pcs-url",
                                         "kds-url",
                                         "snp-certs",
                                         "log-level",
                                         "log-json",
                                         "max-keys-per-session",
                                         "max-certs-per-session",
                                         "max-keygen-ms",
                                         "max-sessions-per-client",
                                         NULL};

/* The parsed flags: arcad's configuration and what main applies itself. */
struct arcad_opts {
    struct arcad_config cfg;
    const char *sim_dir;
    int log_level;
    bool log_json;
    const char *config;  /* --config FILE or NULL */
    const char *pidfile; /* --pidfile FILE or NULL */
    bool gramine_sealer; /* --sealer gramine: the store and identity key from Gramine-SGX */
    const char *witness_specs[ARCA_WITNESS_MAX]; /* --witness SPEC (witness/witness.h) */
    size_t n_witness;
    unsigned witness_interval; /* --witness-interval SECONDS */
    long audit_rotate_size;    /* --audit-rotate-size BYTES (0: only on SIGUSR1) */
    const char *audit_syslog;  /* --audit-syslog SOCKET (e.g. /dev/log) or NULL */
    const char *store_url;     /* --store postgresql://... or NULL (SQLite in data_dir) */
    const char *join;          /* --join HOST:PORT (a member of store_url) or NULL */
    /* The value each option was last given (index into opts; "" for a switch), or NULL. */
    const char *given[NOPTS];
};

static void opts_defaults(struct arcad_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->witness_interval = 30;
    struct arcad_config *cfg = &o->cfg;
    cfg->client_listen = "127.0.0.1:8081";
    cfg->enclave_listen = "127.0.0.1:18765";
    cfg->max_header_bytes = 16 * 1024;
    cfg->max_body_bytes = 1024 * 1024;
    cfg->request_timeout_s = 30;
    cfg->max_conns_per_worker = 1024;
    cfg->max_pending = 0; /* half of --max-connections unless given */
    cfg->max_pending_per_peer = 32;
    cfg->handshake_timeout_s = 10;
    cfg->request_deadline_s = 20;
    struct arca_secrets_limits slim;
    arca_secrets_limits_default(&slim);
    cfg->max_keys_per_session = slim.max_keys;
    cfg->max_certs_per_session = slim.max_certificates;
    cfg->max_keygen_ms = slim.max_cost_ms;
    cfg->max_sessions_per_client = 1000;
    cfg->client_rate = 200;
    cfg->client_burst = 2000;
    cfg->jobs = 0; /* number of cores unless given */
    cfg->max_queued_jobs = 256;
    cfg->rate_per_peer = 50;
    cfg->rate_burst_per_peer = 100;
    cfg->rate_global = 1000;
    cfg->rate_burst_global = 2000;
    o->sim_dir = getenv("ARCA_SIM_DIR");
    o->log_level = ARCA_LOG_INFO;
    /* The environment variables of the first release stay as fallbacks of the flags. */
    cfg->collateral = getenv("ARCA_COLLATERAL");
    cfg->snp_certs = getenv("ARCA_SNP_CERTS");
}

/*
 * Parses the command line argv, preceded by the entries of the --config file if one is given,
 * into o (defaults first). The strings o borrows are copied into *args (the caller frees it with
 * arcad_args_free once o is no longer used, also on failure). Returns -1 to go on, or the exit
 * code: 0 after --help or --version, 2 after a usage error (printed).
 */
static int parse_options(int argc, char **argv, struct arcad_opts *o, struct arcad_args *args)
{
    opts_defaults(o);
    struct arcad_config *cfg = &o->cfg;
    /* Pass 1, silent: only where the configuration file is (pass 2 reports every error). */
    const char *config = NULL;
    int c;
    opterr = 0;
    optind = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1)
        if (c == O_CONF)
            config = optarg;
    opterr = 1;
    if (arcad_args_push(args, argv[0]) < 0) {
        fprintf(stderr, "arcad: %s\n", arca_err_detail());
        return 1;
    }
    if (config != NULL && arcad_config_file_args(config, opts, not_in_file, args) < 0) {
        fprintf(stderr, "arcad: --config: %s\n", arca_err_detail());
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if (arcad_args_push(args, argv[i]) < 0) {
            fprintf(stderr, "arcad: %s\n", arca_err_detail());
            return 1;
        }
    }
    argc = args->argc;
    argv = args->argv;
    optind = 0;
    int li = -1;
    long n;
    while ((c = getopt_long(argc, argv, "h", opts, &li)) != -1) {
        if (li >= 0 && (size_t)li < NOPTS)
            o->given[li] = optarg != NULL ? optarg : "";
        li = -1;
        switch (c) {
        case O_DATA:
            cfg->data_dir = optarg;
            break;
        case O_CL:
            cfg->client_listen = optarg;
            break;
        case O_EN:
            cfg->enclave_listen = optarg;
            break;
        case O_ME:
            cfg->metrics_listen = optarg;
            break;
        case O_SIM:
            cfg->allow_simulation = true;
            break;
        case O_W:
            if (parse_num("--workers", optarg, 1, 256, &n) < 0)
                return 2;
            cfg->workers = (int)n;
            break;
        case O_MB:
            if (parse_num("--max-body", optarg, 1024, 64L << 20, &n) < 0)
                return 2;
            cfg->max_body_bytes = (size_t)n;
            break;
        case O_MH:
            if (parse_num("--max-header", optarg, 1024, 1L << 20, &n) < 0)
                return 2;
            cfg->max_header_bytes = (size_t)n;
            break;
        case O_TO:
            if (parse_num("--timeout", optarg, 1, 3600, &n) < 0)
                return 2;
            cfg->request_timeout_s = (int)n;
            break;
        case O_MC:
            if (parse_num("--max-connections", optarg, 1, 1000000, &n) < 0)
                return 2;
            cfg->max_conns_per_worker = (int)n;
            break;
        case O_MP:
            if (parse_num("--max-pending", optarg, 1, ARCAD_MAX_PENDING_LIMIT, &n) < 0)
                return 2;
            cfg->max_pending = (int)n;
            break;
        case O_MPP:
            if (parse_num("--max-pending-per-peer", optarg, 1, ARCAD_MAX_PENDING_LIMIT, &n) < 0)
                return 2;
            cfg->max_pending_per_peer = (int)n;
            break;
        case O_HT:
            if (parse_num("--handshake-timeout", optarg, 1, 3600, &n) < 0)
                return 2;
            cfg->handshake_timeout_s = (int)n;
            break;
        case O_RT:
            if (parse_num("--request-timeout", optarg, 1, 3600, &n) < 0)
                return 2;
            cfg->request_deadline_s = (int)n;
            break;
        case O_AFF:
            if (parse_num("--attest-free-failures", optarg, 1, 1000, &n) < 0)
                return 2;
            cfg->attest_free_failures = (int)n;
            break;
        case O_ALF:
            if (parse_num("--attest-lockout-failures", optarg, 2, 1000, &n) < 0)
                return 2;
            cfg->attest_lockout_failures = (int)n;
            break;
        case O_ALT:
            if (parse_num("--attest-lockout-time", optarg, 1, 7 * 86400, &n) < 0)
                return 2;
            cfg->attest_lockout_s = (int)n;
            break;
        case O_MKS:
            if (parse_num("--max-keys-per-session", optarg, 0, 1000000, &n) < 0)
                return 2;
            cfg->max_keys_per_session = (size_t)n;
            break;
        case O_MCS:
            if (parse_num("--max-certs-per-session", optarg, 0, 1000000, &n) < 0)
                return 2;
            cfg->max_certs_per_session = (size_t)n;
            break;
        case O_MKG:
            if (parse_num("--max-keygen-ms", optarg, 0, 86400000L, &n) < 0)
                return 2;
            cfg->max_keygen_ms = (uint64_t)n;
            break;
        case O_MSC:
            if (parse_num("--max-sessions-per-client", optarg, 0, 1000000000L, &n) < 0)
                return 2;
            cfg->max_sessions_per_client = (uint64_t)n;
            break;
        case O_CR:
            if (parse_num("--client-rate", optarg, 0, 1000000, &n) < 0)
                return 2;
            cfg->client_rate = (double)n;
            break;
        case O_CB:
            if (parse_num("--client-burst", optarg, 1, 1000000, &n) < 0)
                return 2;
            cfg->client_burst = (double)n;
            break;
        case O_JOBS:
            if (parse_num("--jobs", optarg, 1, 256, &n) < 0)
                return 2;
            cfg->jobs = (int)n;
            break;
        case O_MQJ:
            if (parse_num("--max-queued-jobs", optarg, 1, 1000000, &n) < 0)
                return 2;
            cfg->max_queued_jobs = (size_t)n;
            break;
        case O_RL:
            if (parse_num("--rate-limit", optarg, 1, 1000000, &n) < 0)
                return 2;
            cfg->rate_per_peer = (double)n;
            break;
        case O_RB:
            if (parse_num("--rate-burst", optarg, 1, 1000000, &n) < 0)
                return 2;
            cfg->rate_burst_per_peer = (double)n;
            break;
        case O_GRL:
            if (parse_num("--global-rate-limit", optarg, 0, 10000000, &n) < 0)
                return 2;
            cfg->rate_global = (double)n;
            break;
        case O_GRB:
            if (parse_num("--global-rate-burst", optarg, 1, 10000000, &n) < 0)
                return 2;
            cfg->rate_burst_global = (double)n;
            break;
        case O_WIT:
            if (o->n_witness == ARCA_WITNESS_MAX) {
                fprintf(stderr, "arcad: --witness: at most %d witnesses\n", ARCA_WITNESS_MAX);
                return 2;
            }
            o->witness_specs[o->n_witness++] = optarg;
            break;
        case O_WITI:
            if (parse_num("--witness-interval", optarg, 1, 86400, &n) < 0)
                return 2;
            o->witness_interval = (unsigned)n;
            break;
        case O_PTTL:
            if (parse_num("--proposal-ttl", optarg, 1, 90L * 24 * 3600, &n) < 0)
                return 2;
            cfg->proposal_ttl_s = n;
            break;
        case O_MPROP:
            if (parse_num("--max-proposals", optarg, 1, 1000000, &n) < 0)
                return 2;
            cfg->max_proposals = (uint32_t)n;
            break;
        case O_MPC:
            if (parse_num("--max-proposals-per-client", optarg, 1, 1000000, &n) < 0)
                return 2;
            cfg->max_proposals_per_client = (uint32_t)n;
            break;
        case O_ARS:
            if (parse_num("--audit-rotate-size", optarg, 4096, 1L << 40, &n) < 0)
                return 2;
            o->audit_rotate_size = n;
            break;
        case O_ASL:
            o->audit_syslog = optarg;
            break;
        case O_CONF:
            o->config = optarg;
            break;
        case O_PID:
            o->pidfile = optarg;
            break;
        case O_STORE:
            if (!arca_store_path_is_pg(optarg)) {
                fprintf(stderr, "arcad: --store: a postgresql:// connection URI expected\n");
                return 2;
            }
            o->store_url = optarg;
            break;
        case O_JOIN:
            o->join = optarg;
            break;
        case O_SEAL:
            if (strcmp(optarg, "sim") != 0 && strcmp(optarg, "gramine") != 0) {
                fprintf(stderr, "arcad: --sealer: 'sim' or 'gramine', got '%s'\n", optarg);
                return 2;
            }
            o->gramine_sealer = strcmp(optarg, "gramine") == 0;
            break;
        case O_SD:
            o->sim_dir = optarg;
            break;
        case O_LL: {
            int lvl = arca_log_level_parse(optarg);
            if (lvl < 0) {
                fprintf(stderr, "arcad: --log-level: unknown level '%s'\n", optarg);
                return 2;
            }
            o->log_level = lvl;
            break;
        }
        case O_LJ:
            o->log_json = true;
            break;
        case O_COL:
            cfg->collateral = optarg;
            break;
        case O_PCS:
            cfg->pcs_url = optarg;
            break;
        case O_KDS:
            cfg->kds_url = optarg;
            break;
        case O_SNP:
            cfg->snp_certs = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("arcad %s\n", ARCA_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "arcad: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (cfg->data_dir == NULL) {
        fprintf(stderr, "arcad: --data-dir DIR is required\n");
        usage(stderr);
        return 2;
    }
    if (o->join != NULL && o->store_url == NULL) {
        fprintf(stderr, "arcad: --join: joins a shared store, so --store postgresql://... is "
                        "required\n");
        return 2;
    }
    if (cfg->max_pending == 0) {
        int half = cfg->max_conns_per_worker / 2;
        cfg->max_pending = half < 1                         ? 1
                           : half > ARCAD_MAX_PENDING_LIMIT ? ARCAD_MAX_PENDING_LIMIT
                                                            : half;
    } else if (cfg->max_pending > cfg->max_conns_per_worker) {
        fprintf(stderr, "arcad: --max-pending %d: at most --max-connections (%d)\n",
                cfg->max_pending, cfg->max_conns_per_worker);
        return 2;
    }
    if ((cfg->attest_lockout_failures > 0 ? cfg->attest_lockout_failures : 10) <=
        (cfg->attest_free_failures > 0 ? cfg->attest_free_failures : 3)) {
        fprintf(stderr, "arcad: --attest-lockout-failures must be more than "
                        "--attest-free-failures\n");
        return 2;
    }
    if (cfg->collateral != NULL && cfg->collateral[0] == '\0')
        cfg->collateral = NULL;
    if (cfg->snp_certs != NULL && cfg->snp_certs[0] == '\0')
        cfg->snp_certs = NULL;
    if (cfg->snp_certs != NULL) {
        struct stat st;
        const char *why = NULL;
        if (stat(cfg->snp_certs, &st) != 0)
            why = strerror(errno);
        else if (!S_ISDIR(st.st_mode))
            why = "not a directory";
        if (why != NULL) {
            fprintf(stderr, "arcad: --snp-certs %s: %s\n", cfg->snp_certs, why);
            return 2;
        }
    }
    return -1;
}

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

static bool is_reloadable(const char *name)
{
    for (size_t i = 0; reloadable[i] != NULL; i++)
        if (strcmp(reloadable[i], name) == 0)
            return true;
    return false;
}

/* What main keeps for SIGHUP: its command line and the flags arcad started with. */
struct reload_state {
    int argc;
    char **argv;
    const struct arcad_opts *running;
};

/*
 * SIGHUP (called by arcad_serve on the thread that waits for signals): re-reads the command
 * line and the --config file, applies the reloadable flags, and logs every other change as
 * needing a restart. A file that does not parse changes nothing.
 */
static void reload(struct arcad_ctx *ctx, void *arg)
{
    struct reload_state *rs = arg;
    struct arcad_opts *o = calloc(1, sizeof(*o));
    struct arcad_args args = {0};
    if (o == NULL) {
        arca_error("arcad", "SIGHUP: out of memory; configuration not reloaded");
        return;
    }
    int ex = parse_options(rs->argc, rs->argv, o, &args);
    if (ex >= 0) {
        arca_error("arcad",
                   "SIGHUP: configuration not reloaded (%s); arcad keeps running with "
                   "the previous one",
                   o->config != NULL || rs->running->config != NULL ? "see the error above"
                                                                    : "bad flags");
        goto out;
    }
    for (size_t i = 0; i + 1 < NOPTS; i++) {
        const char *was = rs->running->given[i], *now = o->given[i];
        bool same =
            (was == NULL && now == NULL) || (was != NULL && now != NULL && strcmp(was, now) == 0);
        if (!same && !is_reloadable(opts[i].name))
            arca_warn("arcad", "SIGHUP: --%s changed; it takes effect only after a restart",
                      opts[i].name);
    }
    struct arcad_config *cfg = &ctx->cfg;
    __atomic_store_n(&cfg->max_keys_per_session, o->cfg.max_keys_per_session, __ATOMIC_RELAXED);
    __atomic_store_n(&cfg->max_certs_per_session, o->cfg.max_certs_per_session, __ATOMIC_RELAXED);
    __atomic_store_n(&cfg->max_keygen_ms, o->cfg.max_keygen_ms, __ATOMIC_RELAXED);
    __atomic_store_n(&cfg->max_sessions_per_client, o->cfg.max_sessions_per_client,
                     __ATOMIC_RELAXED);
    /* Logged at the old level, so that lowering it still shows the reload. */
    arca_info("arcad",
              "SIGHUP: configuration reloaded%s%s: log level %s, max-keys-per-session %zu, "
              "max-certs-per-session %zu, max-keygen-ms %llu, max-sessions-per-client %llu",
              o->config != NULL ? " from " : "", o->config != NULL ? o->config : "",
              level_names[o->log_level], o->cfg.max_keys_per_session, o->cfg.max_certs_per_session,
              (unsigned long long)o->cfg.max_keygen_ms,
              (unsigned long long)o->cfg.max_sessions_per_client);
    arca_log_set_level((enum arca_log_level)o->log_level);
    arca_log_set_json(o->log_json);
    const struct arcad_sources want = {o->cfg.collateral, o->cfg.pcs_url, o->cfg.kds_url,
                                       o->cfg.snp_certs};
    arcad_sources_reload(ctx, &want); /* reload.c: logs what changed */
out:
    arcad_args_free(&args);
    free(o);
}

int main(int argc, char **argv)
{
    arca_json_wipe_on_free(); /* before any JSON: bodies and answers may hold secrets */
    struct arcad_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    /* A peer that resets a TLS connection mid-handshake or mid-answer makes the next write
     * raise SIGPIPE, whose default action would kill arcad: ignore it from the very start
     * (writes then fail with EPIPE, which the connection code handles). */
    signal(SIGPIPE, SIG_IGN);
    /* Before the identity key, the store key and secret values are in memory: no core file,
     * no ptrace attach or /proc/PID/mem reads by other processes of the same user. */
    if (arca_proc_no_dumps() < 0) {
        fprintf(stderr, "arcad: %s\n", arca_err_detail());
        return 1;
    }
    /* SIGHUP (reload) is taken by arcad_serve's signal wait; until then it stays pending instead
     * of killing arcad with its default action. */
    sigset_t hup;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    sigaddset(&hup, SIGUSR1); /* audit log rotation (reload.c) */
    sigprocmask(SIG_BLOCK, &hup, NULL);

    struct arcad_opts o;
    struct arcad_args args = {0};
    int ex = parse_options(argc, argv, &o, &args);
    if (ex >= 0) {
        arcad_args_free(&args);
        return ex;
    }
    ctx.cfg = o.cfg;
    struct arcad_config *cfg = &ctx.cfg;
    const char *sim_dir = o.sim_dir;
    arca_log_set_level((enum arca_log_level)o.log_level);
    arca_log_set_json(o.log_json);
    struct reload_state rs = {.argc = argc, .argv = argv, .running = &o};
    ctx.reload = reload;
    ctx.reload_arg = &rs;
    /* Before any state exists: a typo in an address is a usage error, a taken port a failure. */
    int lrc = arcad_listen_check(cfg);
    if (lrc < 0) {
        fprintf(stderr, "arcad: %s\n", arca_err_detail());
        ex = lrc == ARCA_ERR_INVALID_ARG ? 2 : 1;
        goto out_args;
    }
    if (cfg->workers == 0 || cfg->jobs == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        int def = cores > 0 ? (int)(cores > 64 ? 64 : cores) : 1;
        if (cfg->workers == 0)
            cfg->workers = def;
        /* Job threads mostly wait for fsync (store commits, durable audit lines), and
         * commits and audit lines that wait together share one fsync (group commit): with
         * one thread per core at most that many could ever share it. */
        if (cfg->jobs == 0)
            cfg->jobs = def * 32 > 64 ? 64 : def * 32;
    }

    int rc = 0, exit_code = 0;
    bool created = false, pidfile_written = false;
    struct arcad_witness *witness = NULL;
    struct arcad_peer_early *early = NULL; /* the start-up server (arcad:// witnesses) */
    struct arca_audit_sink *audit_sink = NULL;
    struct sim_sealer sealer_ctx = {0};
    struct arca_store_sealer sealer = {sim_get_key, &sealer_ctx};
    if (o.gramine_sealer)
        sealer = (struct arca_store_sealer){arca_store_gramine_get_key, NULL};
    if (mkdir(cfg->data_dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "arcad: --data-dir %s: %s\n", cfg->data_dir, strerror(errno));
        ex = 1;
        goto out_args;
    }
    if (cfg->pcs_url != NULL || cfg->kds_url != NULL) {
        /* The fetchers' caches live below it (collateral-cache/pcs, collateral-cache/kds). */
        char cdir[4096];
        snprintf(cdir, sizeof(cdir), "%s/collateral-cache", cfg->data_dir);
        if (mkdir(cdir, 0700) != 0 && errno != EEXIST) {
            fprintf(stderr, "arcad: %s: %s\n", cdir, strerror(errno));
            ex = 1;
            goto out_args;
        }
    }
    /* Collateral once, before the workers start: from then on it is only read. */
    if (cfg->collateral != NULL) {
        rc = arca_attest_collateral_load(cfg->collateral, &ctx.collateral);
        if (rc < 0) {
            fprintf(stderr, "arcad: --collateral: %s\n",
                    arca_err_detail()[0] ? arca_err_detail() : arca_strerror(rc));
            ex = 2;
            goto out_args;
        }
    }
    ARCA_GUARD(rc, arcad_reload_new(&ctx.reloader), fail);
    ARCA_GUARD(rc, arca_dcap_cache_new(0, &ctx.dcap_cache), fail);
    ARCA_GUARD(rc, arca_key_cache_new(16, &ctx.sim_keys), fail);
    ARCA_GUARD(rc, arca_approval_cache_new(1024, &ctx.approvals), fail);
    ARCA_GUARD(rc,
               arca_session_cache_new(ARCA_SESSION_CACHE_COUNT_DEFAULT,
                                      ARCA_SESSION_CACHE_BYTES_DEFAULT, &ctx.sessions),
               fail);
    if (cfg->client_rate > 0) {
        struct arca_ratelimit_cfg qc = {
            .per_key_rate = cfg->client_rate, .per_key_burst = cfg->client_burst, .capacity = 4096};
        ARCA_GUARD(rc, arca_ratelimit_new(&qc, &ctx.client_quota), fail);
    }
    /* Peers tracked: far more than the connections one arcad holds (a fresh peer gets a burst). */
    const struct arca_ratelimit_cfg rl_cfg = {.per_key_rate = cfg->rate_per_peer,
                                              .per_key_burst = cfg->rate_burst_per_peer,
                                              .global_rate = cfg->rate_global,
                                              .global_burst = cfg->rate_burst_global,
                                              .capacity = 16384};
    ARCA_GUARD(rc, arca_ratelimit_new(&rl_cfg, &ctx.ratelimit), fail);
    ARCA_GUARD(rc, arca_sim_platform_open(sim_dir, &ctx.sim), fail);
    ARCA_GUARD(rc, arca_sim_measure_path("/proc/self/exe", ctx.measurement), fail);
    sealer_ctx.p = ctx.sim;
    sealer_ctx.measurement = ctx.measurement;
    ARCA_GUARD(rc, adopt_slot(cfg->data_dir, &sealer_ctx), fail);
    if (!sealer_ctx.inherited && !o.gramine_sealer)
        ARCA_GUARD(rc,
                   arcad_owner_adopt_backup(cfg->data_dir, &sealer, &sealer_ctx.keys,
                                            &sealer_ctx.inherited),
                   fail);
    rc = arcad_identity_load_or_create(cfg->data_dir, &sealer, &ctx.id, &created);
    if (rc == ARCA_ERR_TAMPERED && !sealer_ctx.inherited) {
        rc = refuse_foreign_seal(cfg->data_dir, ctx.measurement);
        upgrade_refused_event(cfg->data_dir, &sealer, ctx.measurement);
    }
    if (rc < 0)
        goto fail;

    ARCA_GUARD(rc, arcad_witness_held_open(cfg->data_dir, &sealer, &ctx.witness_held), fail);
    /* Before the store: arcad:// witnesses talk over the peer channel, and the start-up server
     * (which needs the TLS contexts) answers peers while the store waits for its witnesses. */
    ARCA_GUARD(rc, arcad_peer_new(&ctx), fail);
    const struct arca_x509 *chain[1] = {ctx.id.ca};
    ARCA_GUARD(rc,
               arca_tls_server_ctx_new(ctx.id.cert, ctx.id.key, chain, 1,
                                       ARCA_TLS_CLIENT_CERT_OPTIONAL, &ctx.client_tls),
               fail);
    ARCA_GUARD(rc,
               arca_tls_server_ctx_new(ctx.id.cert, ctx.id.key, chain, 1,
                                       ARCA_TLS_CLIENT_CERT_OPTIONAL, &ctx.enclave_tls),
               fail);
    arca_tls_ctx_no_resumption(ctx.enclave_tls); /* one fresh key per launch: nothing to resume */
    /* Peers are their keys: a chain check of their certificates would decide nothing. */
    arca_tls_ctx_skip_client_chain(ctx.client_tls);
    arca_tls_ctx_skip_client_chain(ctx.enclave_tls);
    char dbpath[4096];
    snprintf(dbpath, sizeof(dbpath), "%s/arca.db", cfg->data_dir);
    char kspath[4096];
    snprintf(kspath, sizeof(kspath), "%s/arca.db.key-store", cfg->data_dir);
    struct arca_store_options sopt = {.path = o.store_url != NULL ? o.store_url : dbpath,
                                      .keystore_path = kspath,
                                      .sealer = &sealer,
                                      .create = true};
    char member[33];
    if (o.store_url != NULL) {
        ARCA_GUARD(rc, arca_store_member_name(cfg->data_dir, member), fail);
        sopt.member = member;
    }
    char logpath[4096];
    snprintf(logpath, sizeof(logpath), "%s/audit.log", cfg->data_dir);
    if (o.n_witness > 0) {
        const struct arca_witness_peers peers = {arcad_peer_self(&ctx), ctx.measurement};
        rc = arcad_witness_new(o.witness_specs, o.n_witness, &sealer, ctx.id.key_id, &peers,
                               &witness);
        if (rc < 0) {
            fprintf(stderr, "arcad: --witness: %s\n", arca_err_detail());
            rc = 0;
            exit_code = 2;
            goto fail;
        }
        sopt.hook = arcad_witness_hook(witness);
    }
    if (o.join != NULL)
        ARCA_GUARD(rc, arcad_join(&ctx, o.join, &sopt), fail);
    rc = open_store_witnessed(&ctx, &sopt, witness, &early, &ctx.store);
    if (rc < 0 && arcad_witness_refused(witness, NULL)) {
        witness_refused_event(logpath, ctx.id.key);
        goto fail;
    }
    ARCA_GUARD(rc, rc, fail);

    /* With witnesses every audit line is checkpointed, i.e. is a witnessed commit: a cut tail
     * is then refused like a rolled-back state (docs/state-protection.md). */
    unsigned cp_every = witness != NULL ? 1 : 128;
    struct arca_owner_config owner_cfg; /* ctx.cfg may point into it: lives until the end */
    if (arca_owner_stored_config(ctx.store, &owner_cfg) == 0)
        ARCA_GUARD(rc, arcad_owner_settings(&ctx, &owner_cfg, &cp_every), fail);
    struct arca_audit_options aopt = {.path = logpath,
                                      .key = ctx.id.key,
                                      .store = ctx.store,
                                      .checkpoint_every = cp_every,
                                      .rotate_size = (uint64_t)o.audit_rotate_size};
    if (o.audit_syslog != NULL) {
        rc = arca_audit_sink_open(o.audit_syslog, "arcad-audit", &audit_sink);
        if (rc < 0) {
            fprintf(stderr, "arcad: --audit-syslog: %s\n", arca_err_detail());
            rc = 0;
            exit_code = 2;
            goto fail;
        }
        aopt.sink = audit_sink;
    }
    ARCA_GUARD(rc, arca_audit_open(&aopt, &ctx.audit), fail);
    char token[ARCA_OWNER_TOKEN_HEX_LEN + 1];
    struct arca_owner_opts oopt = {.store = ctx.store,
                                   .audit = ctx.audit,
                                   .data_dir = cfg->data_dir,
                                   .sealer = &sealer,
                                   .slot_key = sim_slot_key,
                                   .slot_key_ctx = &sealer_ctx,
                                   .measurement = ctx.measurement,
                                   .cas_key = ctx.id.key_id,
                                   .witness_specs = o.witness_specs,
                                   .n_witness = o.n_witness};
    ARCA_GUARD(rc, arca_owner_open(&oopt, &ctx.owner, token), fail);
    if (witness != NULL)
        ARCA_GUARD(rc, arcad_witness_start(witness, ctx.store, ctx.audit, o.witness_interval),
                   fail);

    ARCA_GUARD_ENSURE(rc, (ctx.metrics = arcad_metrics_new()) != NULL, fail, ARCA_ERR_ALLOC,
                      "out of memory");
    ctx.client_router = arcad_router_new();
    ctx.enclave_router = arcad_router_new();
    ARCA_GUARD_ENSURE(rc, ctx.client_router != NULL && ctx.enclave_router != NULL, fail,
                      ARCA_ERR_ALLOC, "out of memory");
    ARCA_GUARD(rc, arcad_api_register(ctx.client_router, &ctx), fail);
    ARCA_GUARD(rc, arcad_peer_register(ctx.enclave_router, &ctx), fail);
    ARCA_GUARD(rc, arcad_owner_api_register(ctx.client_router, &ctx), fail);
    ARCA_GUARD(rc, enclave_api_register(ctx.enclave_router, &ctx), fail);

    printf("CAS key: %s\nCAS key (base58check): %s\n%s\n", ctx.id.key_hex, ctx.id.key_b58,
           created ? "identity created" : "identity loaded");
    if (cfg->allow_simulation)
        printf("WARNING: --allow-simulation: INSECURE simulated evidence is accepted\n");
    if (token[0] != '\0')
        printf("unprovisioned: provisioning token %s (single use, valid until arcad stops; "
               "arca cas provision)\n",
               token);
    arca_wipe(token, sizeof(token));
    fflush(stdout);
    arca_info("arcad", "CAS key %s (%s)%s", ctx.id.key_hex, ctx.id.key_b58,
              cfg->allow_simulation ? "; INSECURE simulation allowed" : "");
    json_t *f = json_pack("{s:s, s:s, s:b}", "cas_key", ctx.id.key_hex, "version", ARCA_VERSION,
                          "allow_simulation", cfg->allow_simulation);
    arca_audit_append(ctx.audit, ARCA_AUDIT_STARTED, f, NULL);
    json_decref(f);

    /* After the store is open (its lock makes this the only arcad on DATA_DIR). */
    if (o.pidfile != NULL) {
        ARCA_GUARD(rc, arcad_pidfile_write(o.pidfile), fail);
        pidfile_written = true;
    }
    const char *early_end = NULL;
    ARCA_GUARD_ENSURE(rc, !arcad_peer_early_done(early, &early_end), fail, ARCA_ERR_NETWORK,
                      "start-up server: %s", early_end);
    arcad_peer_early_stop(early);
    early = NULL;
    rc = arcad_serve(&ctx);
    if (rc == 0)
        arca_audit_append(ctx.audit, ARCA_AUDIT_STOPPED, NULL, NULL);

fail:
    if (rc < 0)
        fprintf(stderr, "arcad: %s\n",
                arca_err_detail()[0] ? arca_err_detail() : arca_strerror(rc));
    arcad_peer_early_stop(early);
    if (ctx.enclave_state != NULL && ctx.enclave_state_free != NULL)
        ctx.enclave_state_free(ctx.enclave_state);
    arca_owner_free(ctx.owner);
    arcad_witness_stop(witness);
    arca_audit_close(ctx.audit);
    arca_audit_sink_free(audit_sink);
    arca_store_close(ctx.store);
    arcad_witness_free(witness);
    /* After the witnesses: an arcad:// witness's worker may still be finishing a record (a
     * round returns at a majority) over a channel whose verifier lives in the peer state. */
    if (ctx.peer_state != NULL && ctx.peer_state_free != NULL)
        ctx.peer_state_free(ctx.peer_state);
    arca_witness_held_free(ctx.witness_held);
    arcad_router_free(ctx.client_router);
    arcad_router_free(ctx.enclave_router);
    arca_tls_ctx_free(ctx.client_tls);
    arca_tls_ctx_free(ctx.enclave_tls);
    arcad_metrics_free(ctx.metrics);
    arcad_identity_free(&ctx.id);
    arca_sim_platform_free(ctx.sim);
    arca_wipe(&sealer_ctx, sizeof(sealer_ctx));
    arca_dcap_cache_free(ctx.dcap_cache);
    arca_key_cache_free(ctx.sim_keys);
    arca_approval_cache_free(ctx.approvals);
    arca_session_cache_free(ctx.sessions);
    arca_ratelimit_free(ctx.client_quota);
    arca_ratelimit_free(ctx.ratelimit);
    arca_attest_collateral_free(ctx.collateral);
    arcad_reload_free(ctx.reloader);
    if (pidfile_written)
        unlink(o.pidfile);
    if (rc == 0 && exit_code == 0)
        arca_info("arcad", "stopped");
    ex = rc < 0 ? 1 : exit_code;
out_args:
    arcad_args_free(&args);
    return ex;
}
