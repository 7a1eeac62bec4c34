/*
 * The configuration answer parser of arca-run (untrusted input): accepted shapes, and each
 * kind of bad input refused with a message naming the member.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arcarun.h"
#include "base/err.h"

static int parse(const char *json, struct arcarun_config *c)
{
    return arcarun_config_parse(json, strlen(json), c);
}

static void test_good(void **state)
{
    (void)state;
    struct arcarun_config c;
    const char *j = "{\"argv\":[\"/bin/sh\",\"-c\",\"echo $A\"],"
                    "\"env\":{\"A\":\"s3cret\",\"EMPTY\":\"\"},\"pwd\":\"/tmp\","
                    "\"files\":[{\"path\":\"/etc/app/x.conf\",\"mode\":384,"
                    "\"content\":\"aGVsbG8AYmluYXJ5\"}]}";
    assert_int_equal(parse(j, &c), 0);
    assert_int_equal(c.argc, 3);
    assert_string_equal(c.argv[0], "/bin/sh");
    assert_string_equal(c.argv[2], "echo $A");
    assert_null(c.argv[3]);
    assert_int_equal(c.envc, 2);
    assert_string_equal(c.envp[0], "A=s3cret");
    assert_string_equal(c.envp[1], "EMPTY=");
    assert_null(c.envp[2]);
    assert_string_equal(c.pwd, "/tmp");
    assert_int_equal(c.nfiles, 1);
    assert_string_equal(c.files[0].path, "/etc/app/x.conf");
    assert_int_equal(c.files[0].mode, 0600);
    assert_int_equal(c.files[0].len, 12);
    assert_memory_equal(c.files[0].content, "hello\0binary", 12);
    arcarun_config_free(&c);

    /* files is optional; env may be empty. */
    assert_int_equal(parse("{\"argv\":[\"p\"],\"env\":{},\"pwd\":\"/\"}", &c), 0);
    assert_int_equal(c.nfiles, 0);
    assert_int_equal(c.envc, 0);
    arcarun_config_free(&c);
}

struct bad {
    const char *json;
    int code;
    const char *needle; /* must appear in the detail */
};

static void test_bad(void **state)
{
    (void)state;
    static const struct bad cases[] = {
        {"", ARCA_ERR_FORMAT, "not JSON"},
        {"[]", ARCA_ERR_FORMAT, "not a JSON object"},
        {"{\"argv\":[\"p\"],\"env\":{},\"pwd\":\"/\",\"x\":1}", ARCA_ERR_FORMAT, "\"x\""},
        {"{\"env\":{},\"pwd\":\"/\"}", ARCA_ERR_FORMAT, "argv: missing"},
        {"{\"argv\":[],\"env\":{},\"pwd\":\"/\"}", ARCA_ERR_FORMAT, "argv: empty"},
        {"{\"argv\":[1],\"env\":{},\"pwd\":\"/\"}", ARCA_ERR_FORMAT, "argv[0]"},
        {"{\"argv\":[\"a\\u0000b\"],\"env\":{},\"pwd\":\"/\"}", ARCA_ERR_FORMAT, "NUL"},
        {"{\"argv\":[\"p\"],\"pwd\":\"/\"}", ARCA_ERR_FORMAT, "env: missing"},
        {"{\"argv\":[\"p\"],\"env\":[],\"pwd\":\"/\"}", ARCA_ERR_FORMAT, "env: not an object"},
        {"{\"argv\":[\"p\"],\"env\":{\"A=B\":\"x\"},\"pwd\":\"/\"}", ARCA_ERR_FORMAT, "'='"},
        {"{\"argv\":[\"p\"],\"env\":{\"\":\"x\"},\"pwd\":\"/\"}", ARCA_ERR_FORMAT, "empty"},
        {"{\"argv\":[\"p\"],\"env\":{\"A\":1},\"pwd\":\"/\"}", ARCA_ERR_FORMAT, "env.A"},
        {"{\"argv\":[\"p\"],\"env\":{\"A\":\"x\\u0000\"},\"pwd\":\"/\"}", ARCA_ERR_FORMAT, "NUL"},
        {"{\"argv\":[\"p\"],\"env\":{\"A\":\"1\",\"A\":\"2\"},\"pwd\":\"/\"}", ARCA_ERR_FORMAT,
         "not JSON"},
        {"{\"argv\":[\"p\"],\"env\":{}}", ARCA_ERR_FORMAT, "pwd"},
        {"{\"argv\":[\"p\"],\"env\":{},\"pwd\":\"tmp\"}", ARCA_ERR_FORMAT, "pwd"},
        {"{\"argv\":[\"p\"],\"env\":{},\"pwd\":\"/a/../b\"}", ARCA_ERR_FORMAT, "pwd"},
        {"{\"argv\":[\"p\"],\"env\":{},\"pwd\":\"/\",\"files\":{}}", ARCA_ERR_FORMAT, "files"},
        {"{\"argv\":[\"p\"],\"env\":{},\"pwd\":\"/\",\"files\":[{\"path\":\"etc/x\",\"mode\":1,"
         "\"content\":\"\"}]}",
         ARCA_ERR_FORMAT, "files[0].path"},
        {"{\"argv\":[\"p\"],\"env\":{},\"pwd\":\"/\",\"files\":[{\"path\":\"/etc//x\",\"mode\":1,"
         "\"content\":\"\"}]}",
         ARCA_ERR_FORMAT, "files[0].path"},
        {"{\"argv\":[\"p\"],\"env\":{},\"pwd\":\"/\",\"files\":[{\"path\":\"/etc/x/\",\"mode\":1,"
         "\"content\":\"\"}]}",
         ARCA_ERR_FORMAT, "files[0].path"},
        {"{\"argv\":[\"p\"],\"env\":{},\"pwd\":\"/\",\"files\":[{\"path\":\"/\",\"mode\":1,"
         "\"content\":\"\"}]}",
         ARCA_ERR_FORMAT, "files[0].path"},
        {"{\"argv\":[\"p\"],\"env\":{},\"pwd\":\"/\",\"files\":[{\"path\":\"/x\",\"mode\":4096,"
         "\"content\":\"\"}]}",
         ARCA_ERR_FORMAT, "files[0].mode"},
        {"{\"argv\":[\"p\"],\"env\":{},\"pwd\":\"/\",\"files\":[{\"path\":\"/x\",\"mode\":-1,"
         "\"content\":\"\"}]}",
         ARCA_ERR_FORMAT, "files[0].mode"},
        {"{\"argv\":[\"p\"],\"env\":{},\"pwd\":\"/\",\"files\":[{\"path\":\"/x\",\"mode\":1}]}",
         ARCA_ERR_FORMAT, "files[0].content"},
        {"{\"argv\":[\"p\"],\"env\":{},\"pwd\":\"/\",\"files\":[{\"path\":\"/x\",\"mode\":1,"
         "\"content\":\"!!\"}]}",
         ARCA_ERR_FORMAT, "files[0].content"},
        {"{\"argv\":[\"p\"],\"env\":{},\"pwd\":\"/\",\"files\":[{\"path\":\"/x\",\"mode\":1,"
         "\"content\":\"\",\"owner\":0}]}",
         ARCA_ERR_FORMAT, "owner"},
        {"{\"argv\":[\"p\"],\"env\":{},\"pwd\":\"/\",\"files\":[{\"path\":\"/x\",\"mode\":1,"
         "\"content\":\"\"},{\"path\":\"/x\",\"mode\":1,\"content\":\"\"}]}",
         ARCA_ERR_FORMAT, "files[1].path"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct arcarun_config c;
        int rc = parse(cases[i].json, &c);
        if (rc != cases[i].code || strstr(arca_err_detail(), cases[i].needle) == NULL)
            fail_msg("case %zu: rc %d detail \"%s\" (wanted %d, \"%s\")", i, rc, arca_err_detail(),
                     cases[i].code, cases[i].needle);
        assert_null(c.argv);
        assert_null(c.envp);
        assert_null(c.files);
    }
}

static void test_limits(void **state)
{
    (void)state;
    struct arcarun_config c;
    /* Too many arguments. */
    size_t cap = 16 * (ARCARUN_CONFIG_MAX_ARGS + 2) + 64;
    char *j = malloc(cap);
    assert_non_null(j);
    size_t n = (size_t)sprintf(j, "{\"argv\":[");
    for (int i = 0; i <= ARCARUN_CONFIG_MAX_ARGS; i++)
        n += (size_t)sprintf(j + n, "%s\"a\"", i ? "," : "");
    sprintf(j + n, "],\"env\":{},\"pwd\":\"/\"}");
    assert_int_equal(parse(j, &c), ARCA_ERR_TOO_LARGE);
    assert_non_null(strstr(arca_err_detail(), "argv"));
    free(j);
}

static void test_volumes(void **state)
{
    (void)state;
    struct arcarun_config c;
    char key[65], tok[97];
    memset(key, 'a', 64);
    key[64] = '\0';
    memset(tok, '0', 96);
    tok[96] = '\0';
    char j[1024];
    snprintf(j, sizeof(j),
             "{\"argv\":[\"x\"],\"env\":{},\"pwd\":\"/\",\"volumes\":["
             "{\"name\":\"code\",\"path\":\"/app\",\"key\":\"%s\",\"tag\":\"%032x\","
             "\"update_policy\":\"ephemeral\"},"
             "{\"name\":\"data\",\"path\":\"/data\",\"key\":\"%s\","
             "\"update_policy\":\"rollback_protected\"}],\"volume_token\":\"%s\"}",
             key, 7, key, tok);
    assert_int_equal(parse(j, &c), 0);
    assert_int_equal(c.nvolumes, 2);
    assert_string_equal(c.volumes[0].path, "/app");
    assert_true(c.volumes[0].has_key && c.volumes[0].has_tag);
    assert_int_equal(c.volumes[0].tag[15], 7);
    assert_int_equal(c.volumes[0].policy, ARCA_LAUNCH_VOLUME_EPHEMERAL);
    assert_false(c.volumes[1].has_tag);
    assert_true(c.has_volume_token);
    /* Encoding gives the same configuration back. */
    struct arca_buf out;
    arca_buf_init_secret(&out, 0);
    assert_int_equal(arca_launch_config_encode(&c, &out), 0);
    struct arcarun_config d;
    assert_int_equal(arcarun_config_parse(out.data, out.len, &d), 0);
    assert_int_equal(d.nvolumes, 2);
    assert_memory_equal(d.volumes[1].key, c.volumes[1].key, 32);
    assert_string_equal(d.volumes[1].name, "data");
    arca_buf_free(&out);
    arcarun_config_free(&d);
    arcarun_config_free(&c);

    static const struct {
        const char *vol;
        const char *why;
    } bad[] = {
        {"{\"name\":\"a\",\"path\":\"app\",\"key\":\"K\",\"update_policy\":\"ephemeral\"}",
         "volumes[0].path"},
        {"{\"name\":\"a\",\"path\":\"/app\",\"key\":\"00\",\"update_policy\":\"ephemeral\"}",
         "volumes[0].key"},
        {"{\"name\":\"a\",\"path\":\"/app\",\"key\":\"K\",\"update_policy\":\"sometimes\"}",
         "volumes[0].update_policy"},
        {"{\"name\":\"a\",\"path\":\"/app\",\"key\":\"K\",\"update_policy\":\"ephemeral\","
         "\"extra\":1}",
         "unknown member"},
        {"{\"name\":\"a\",\"path\":\"/app\",\"key\":\"K\",\"update_policy\":\"ephemeral\"},"
         "{\"name\":\"b\",\"path\":\"/app/sub\",\"key\":\"K\",\"update_policy\":\"ephemeral\"}",
         "nested"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char v[512], *k;
        snprintf(v, sizeof(v), "%s", bad[i].vol);
        while ((k = strstr(v, "\"K\"")) != NULL) { /* the good key in place of K */
            char rest[512];
            snprintf(rest, sizeof(rest), "%s", k + 3);
            snprintf(k, sizeof(v) - (size_t)(k - v), "\"%s\"%s", key, rest);
        }
        snprintf(j, sizeof(j), "{\"argv\":[\"x\"],\"env\":{},\"pwd\":\"/\",\"volumes\":[%s]}", v);
        assert_true(parse(j, &c) < 0);
        assert_non_null(strstr(arca_err_detail(), bad[i].why));
        assert_int_equal(c.nvolumes, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_volumes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
