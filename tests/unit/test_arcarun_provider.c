/*
 * Evidence providers against directory trees that behave like the kernel / Gramine interfaces,
 * with the public test vectors' bytes as their outputs; and provider selection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arcarun.h"
#include "base/err.h"
#include "evidence/sim.h"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

static void put(const char *dir, const char *name, const void *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static void get(const char *dir, const char *name, uint8_t *out, size_t n)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(out, 1, n, f), n);
    fclose(f);
}

static void rm_tree(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void fill_rd(uint8_t rd[64])
{
    for (int i = 0; i < 64; i++)
        rd[i] = (uint8_t)(i * 7 + 1);
}

/* Gramine: user_report_data is written, quote is read. */
static void test_gramine_vector(void **state)
{
    (void)state;
    char dir[] = "/tmp/arcarun-gramine-XXXXXX";
    assert_non_null(mkdtemp(dir));
    size_t qlen;
    char *quote = slurp(ARCA_TESTVECTORS "/phala-dcap-qvl/sgx_quote", &qlen);
    put(dir, "attestation_type", "dcap", 4);
    put(dir, "user_report_data", "", 0);
    put(dir, "quote", quote, qlen);
    uint8_t rd[64], back[64];
    fill_rd(rd);
    struct arcarun_provider_opts o = {.gramine_dir = dir};
    struct arcarun_evidence ev;
    arcarun_evidence_init(&ev);
    assert_int_equal(arcarun_provider_gramine_evidence(&o, rd, &ev), 0);
    assert_int_equal(ev.type, ARCA_EVIDENCE_SGX_DCAP);
    assert_int_equal(ev.ev.len, qlen);
    assert_memory_equal(ev.ev.data, quote, qlen);
    get(dir, "user_report_data", back, 64);
    assert_memory_equal(back, rd, 64);
    arcarun_evidence_free(&ev);

    /* EPID enclaves are refused with a message naming the manifest setting. */
    put(dir, "attestation_type", "epid\n", 5);
    arcarun_evidence_init(&ev);
    assert_int_equal(arcarun_provider_gramine_evidence(&o, rd, &ev), ARCA_ERR_UNSUPPORTED);
    assert_non_null(strstr(arca_err_detail(), "dcap"));
    assert_int_equal(ev.ev.len, 0);
    arcarun_evidence_free(&ev);

    /* auto picks gramine when <dir>/quote exists. */
    const struct arcarun_provider *p = NULL;
    struct arcarun_provider_opts ao = {.gramine_dir = dir, .tsm_dir = "/nonexistent-tsm"};
    assert_int_equal(arcarun_provider_select("auto", &ao, &p), 0);
    assert_string_equal(p->name, "gramine");
    rm_tree(dir);
    free(quote);
}

static void fake_tsm_request(const char *dir, const char *provider, const char *vector)
{
    size_t n;
    char *blob = slurp(vector, &n);
    put(dir, "inblob", "", 0);
    put(dir, "provider", provider, strlen(provider));
    put(dir, "generation", "3\n", 2);
    put(dir, "outblob", blob, n);
    free(blob);
}

static void tsm_case(const char *provider, const char *vector, enum arca_evidence_type type)
{
    char dir[] = "/tmp/arcarun-tsm-XXXXXX";
    assert_non_null(mkdtemp(dir));
    fake_tsm_request(dir, provider, vector);
    int fd = open(dir, O_PATH | O_DIRECTORY);
    assert_true(fd >= 0);
    uint8_t rd[64], back[64];
    fill_rd(rd);
    struct arcarun_evidence ev;
    arcarun_evidence_init(&ev);
    assert_int_equal(arcarun_tsm_request(fd, dir, rd, &ev), 0);
    assert_int_equal(ev.type, type);
    size_t n;
    char *blob = slurp(vector, &n);
    assert_int_equal(ev.ev.len, n);
    assert_memory_equal(ev.ev.data, blob, n);
    get(dir, "inblob", back, 64);
    assert_memory_equal(back, rd, 64);
    arcarun_evidence_free(&ev);
    free(blob);
    close(fd);
    rm_tree(dir);
}

static void test_tsm_tdx_vector(void **state)
{
    (void)state;
    tsm_case("tdx_guest\n", ARCA_TESTVECTORS "/coco-trustee/tdx_quote_4.dat", ARCA_EVIDENCE_TDX);
}

static void test_tsm_snp_vector(void **state)
{
    (void)state;
    tsm_case("sev_guest\n", ARCA_TESTVECTORS "/google-go-sev-guest/attestation.bin",
             ARCA_EVIDENCE_SNP);
}

static void test_tsm_unknown_provider(void **state)
{
    (void)state;
    char dir[] = "/tmp/arcarun-tsm-XXXXXX";
    assert_non_null(mkdtemp(dir));
    fake_tsm_request(dir, "arm_cca_guest\n", ARCA_TESTVECTORS "/coco-trustee/tdx_quote_4.dat");
    int fd = open(dir, O_PATH | O_DIRECTORY);
    uint8_t rd[64];
    fill_rd(rd);
    struct arcarun_evidence ev;
    arcarun_evidence_init(&ev);
    assert_int_equal(arcarun_tsm_request(fd, dir, rd, &ev), ARCA_ERR_UNSUPPORTED);
    assert_non_null(strstr(arca_err_detail(), "provider"));
    assert_int_equal(ev.ev.len, 0);
    arcarun_evidence_free(&ev);
    close(fd);
    rm_tree(dir);
}

/* The full configfs path: mkdir of a request directory in a tree that is not configfs fails
 * to produce an outblob; the error names the file and the request directory is removed. */
static void test_tsm_full_cleans_up(void **state)
{
    (void)state;
    char dir[] = "/tmp/arcarun-tsmroot-XXXXXX";
    assert_non_null(mkdtemp(dir));
    uint8_t rd[64];
    fill_rd(rd);
    struct arcarun_provider_opts o = {.tsm_dir = dir};
    struct arcarun_evidence ev;
    arcarun_evidence_init(&ev);
    assert_int_equal(arcarun_provider_tsm_evidence(&o, rd, &ev), ARCA_ERR_IO);
    assert_non_null(strstr(arca_err_detail(), "inblob"));
    assert_int_equal(rmdir(dir), 0); /* empty again */
    arcarun_evidence_free(&ev);
}

static void test_sim_provider(void **state)
{
    (void)state;
    char dir[] = "/tmp/arcarun-sim-XXXXXX";
    assert_non_null(mkdtemp(dir));
    uint8_t m[32], rd[64];
    memset(m, 0xab, sizeof(m));
    fill_rd(rd);
    struct arcarun_provider_opts o = {.sim_dir = dir, .measurement = m};
    struct arcarun_evidence ev;
    arcarun_evidence_init(&ev);
    assert_int_equal(arcarun_provider_sim_evidence(&o, rd, &ev), 0);
    assert_int_equal(ev.type, ARCA_EVIDENCE_SIM);
    struct arca_claims cl;
    assert_int_equal(arca_sim_evidence_verify(ev.ev.data, ev.ev.len, &cl), 0);
    assert_memory_equal(cl.mrenclave, m, 32);
    assert_memory_equal(cl.report_data, rd, 64);
    arcarun_evidence_free(&ev);
    rm_tree(dir);
}

static void test_select(void **state)
{
    (void)state;
    struct arcarun_provider_opts o = {.gramine_dir = "/nonexistent-g", .tsm_dir = "/nonexistent-t"};
    const struct arcarun_provider *p = NULL;
    assert_int_equal(arcarun_provider_select("sim", &o, &p), 0);
    assert_string_equal(p->name, "sim");
    assert_int_equal(arcarun_provider_select("tsm", &o, &p), 0);
    assert_string_equal(p->name, "tsm");
    assert_int_equal(arcarun_provider_select("gramine", &o, &p), 0);
    assert_string_equal(p->name, "gramine");
    assert_int_equal(arcarun_provider_select("sgx", &o, &p), ARCA_ERR_INVALID_ARG);
    assert_non_null(strstr(arca_err_detail(), "ARCA_TEE"));
    /* auto with no TEE never falls back to the simulation. */
    assert_int_equal(arcarun_provider_select(NULL, &o, &p), ARCA_ERR_NOT_FOUND);
    assert_non_null(strstr(arca_err_detail(), "INSECURE"));
    o.tsm_dir = "/tmp";
    assert_int_equal(arcarun_provider_select("auto", &o, &p), 0);
    assert_string_equal(p->name, "tsm");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gramine_vector),
        cmocka_unit_test(test_tsm_tdx_vector),
        cmocka_unit_test(test_tsm_snp_vector),
        cmocka_unit_test(test_tsm_unknown_provider),
        cmocka_unit_test(test_tsm_full_cleans_up),
        cmocka_unit_test(test_sim_provider),
        cmocka_unit_test(test_select),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
