/*
 * arca status [-o json]: what the CAS says about itself (GET /v1/status, docs/api.md): version,
 * provisioning, store commit, session count, audit head, uptime, enclave API address.
 */
#include <stdio.h>
#include <string.h>

#include "api/client_api.h"
#include "base/err.h"
#include "base/time.h"
#include "client.h"

static void status_usage(FILE *f)
{
    fprintf(f, "usage: arca status [-o json]\n\n"
               "Shows the CAS (--cas, else the default): arcad's version, whether an owner is\n"
               "provisioned, the store's commit number, how many sessions it holds, the latest\n"
               "audit checkpoint, its uptime and its enclave API address. Needs `arca self\n"
               "keygen` and `arca cas attest`.\n"
               "Exit codes: 0 ok, 1 failed, 2 usage, 3 CAS unreachable or untrusted.\n");
}

int cmd_status(struct arca_cli *cli, int argc, char **argv)
{
    argc = cli_take_output_flag(cli, argc, argv);
    if (argc < 0)
        return ARCA_EXIT_USAGE;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            status_usage(stdout);
            return ARCA_EXIT_OK;
        }
    }
    int ex = cli_check_options("status", "", argc, argv);
    if (ex != ARCA_EXIT_OK)
        return ex;
    if (argc > 1) {
        status_usage(stderr);
        return cli_fail(ARCA_EXIT_USAGE, "status: unexpected argument '%s'", argv[1]);
    }
    struct arca_client *c = NULL;
    json_t *a = NULL;
    long code = 0;
    struct arca_api_status st;
    int rc = arca_client_open(cli, true, &c);
    if (rc == 0)
        rc = arca_client_json(c, "GET", "/v1/status", NULL, 0, &code, &a);
    char addr[512] = "";
    if (c != NULL)
        snprintf(addr, sizeof(addr), "%s", arca_client_addr(c));
    arca_client_free(c);
    if (rc == 0)
        rc = arca_api_status_from_json(a, &st);
    json_decref(a);
    if (rc < 0)
        return cli_fail(arca_client_exit_code(rc), "status: %s", arca_err_detail());
    if (cli->output == ARCA_OUTPUT_JSON) {
        json_t *j = arca_api_status_to_json(&st);
        json_object_set_new(j, "address", json_string(addr));
        cli_print_json(j);
        json_decref(j);
        return ARCA_EXIT_OK;
    }
    char t[ARCA_TIME_RFC3339_LEN] = "none yet";
    if (st.audit_seq > 0)
        arca_time_format_rfc3339(st.audit_time, t);
    unsigned long long up = (unsigned long long)st.uptime_s;
    printf("CAS:          %s\n"
           "version:      %s\n"
           "provisioned:  %s\n"
           "store:        commit %llu\n"
           "sessions:     %llu\n"
           "audit head:   seq %llu (%s)\n"
           "uptime:       %llud %02lluh %02llum %02llus\n"
           "enclave API:  %s\n",
           addr, st.version, st.provisioned ? "yes" : "no", (unsigned long long)st.store_commit,
           (unsigned long long)st.sessions, (unsigned long long)st.audit_seq, t, up / 86400,
           up / 3600 % 24, up / 60 % 60, up % 60, st.enclave_address);
    return ARCA_EXIT_OK;
}
