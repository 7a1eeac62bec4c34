/* arcad's configuration file parser: entries become "--key value" arguments checked against a
 * getopt table; every refusal names file, line and key, and leaves the arguments as they were. */
#include <getopt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/err.h"
#include "config_file.h"

static const struct option opts[] = {
    {"data-dir", required_argument, NULL, 1},   {"workers", required_argument, NULL, 2},
    {"allow-simulation", no_argument, NULL, 3}, {"log-json", no_argument, NULL, 4},
    {"config", required_argument, NULL, 5},     {NULL, 0, NULL, 0},
};
static const char *const refused[] = {"config", NULL};

static int parse(const char *text, struct arcad_args *out)
{
    return arcad_config_parse("t.yaml", text, strlen(text), opts, refused, out);
}

static void test_entries_become_arguments(void **state)
{
    (void)state;
    struct arcad_args a = {0};
    assert_int_equal(arcad_args_push(&a, "arcad"), 0);
    assert_int_equal(parse("# c\ndata-dir: /var/lib/arca\nworkers: \"4\"\nallow-simulation: true\n"
                           "log-json: false\n",
                           &a),
                     0);
    const char *want[] = {"arcad",     "--data-dir", "/var/lib/arca",
                          "--workers", "4",          "--allow-simulation"};
    assert_int_equal(a.argc, 6);
    for (int i = 0; i < 6; i++)
        assert_string_equal(a.argv[i], want[i]);
    assert_null(a.argv[6]);
    arcad_args_free(&a);
    /* Empty and comment-only files are no arguments. */
    assert_int_equal(parse("", &a), 0);
    assert_int_equal(parse("# nothing\n", &a), 0);
    assert_int_equal(a.argc, 0);
    arcad_args_free(&a);
}

static void test_refusals_name_line_and_key(void **state)
{
    (void)state;
    static const struct {
        const char *text, *detail;
    } cases[] = {
        {"workers: 2\nnope: 1\n", "t.yaml:2: unknown key 'nope'"},
        {"workers: 2\nworkers: 3\n", "t.yaml:2: key 'workers' is given twice"},
        {"log-json: false\nlog-json: true\n", "t.yaml:2: key 'log-json' is given twice"},
        {"config: x\n", "t.yaml:1: 'config' cannot be set"},
        {"workers: {a: 1}\n", "t.yaml:1: 'workers': a mapping is not allowed"},
        {"data-dir: &a x\nworkers: *a\n", "t.yaml:2: 'workers': an alias is not allowed"},
        {"allow-simulation: \"true\"\n", "'allow-simulation' is a switch"},
        {"allow-simulation: yes\n", "'allow-simulation' is a switch"},
        {"workers: ''\n", "t.yaml:1: 'workers' needs a value"},
        {"[workers]: 1\n", "t.yaml:1: a list cannot be a key"},
        {"just text\n", "t.yaml:1: the file must be a mapping"},
        {"workers: 1\n---\nworkers: 2\n", "only one YAML document"},
        {"workers: [1\n", "t.yaml:"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct arcad_args a = {0};
        assert_int_equal(arcad_args_push(&a, "arcad"), 0);
        int rc = parse(cases[i].text, &a);
        if (rc != ARCA_ERR_FORMAT || strstr(arca_err_detail(), cases[i].detail) == NULL)
            fail_msg("case %zu: rc %d, detail '%s'", i, rc, arca_err_detail());
        assert_int_equal(a.argc, 1); /* as it was */
        arcad_args_free(&a);
    }
    struct arcad_args a = {0};
    char nul[] = "workers: 1\0\n";
    assert_int_equal(arcad_config_parse("t.yaml", nul, sizeof(nul) - 1, opts, NULL, &a),
                     ARCA_ERR_FORMAT);
    assert_int_equal(arcad_config_file_args("/nonexistent/arcad.yaml", opts, NULL, &a),
                     ARCA_ERR_NOT_FOUND);
    assert_int_equal(a.argc, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entries_become_arguments),
        cmocka_unit_test(test_refusals_name_line_and_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
