/*
 * The POST /v1/provided body (api/attest_wire_provided.c): round trip with a value that needs
 * escaping, strict decoding naming the member, no NUL in a value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "api/attest_wire.h"
#include "base/err.h"

static void test_upload_codec(void **state)
{
    (void)state;
    struct arca_provided_upload u, d;
    memset(&u, 0, sizeof(u));
    u.config_id = strdup("org/app/importer");
    u.secret = strdup("db");
    memset(u.token, 0x5a, sizeof(u.token));
    arca_buf_init_secret(&u.value, 0);
    assert_int_equal(arca_buf_put(&u.value, "a \"quoted\"\nvalue", 16), 0);
    struct arca_buf j;
    arca_buf_init_secret(&j, 0);
    assert_int_equal(arca_provided_upload_encode(&u, &j), 0);
    json_t *root = json_loadb((const char *)j.data, j.len, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(root);
    assert_int_equal(arca_provided_upload_decode_json(root, &d), 0);
    assert_string_equal(d.config_id, u.config_id);
    assert_string_equal(d.secret, "db");
    assert_memory_equal(d.token, u.token, sizeof(u.token));
    assert_int_equal(d.value.len, u.value.len);
    assert_memory_equal(d.value.data, u.value.data, u.value.len);
    arca_provided_upload_free(&d);
    /* Unknown member, bad token, empty value: refused, naming the member. */
    json_object_set_new(root, "extra", json_true());
    assert_int_equal(arca_provided_upload_decode_json(root, &d), ARCA_ERR_FORMAT);
    json_object_del(root, "extra");
    json_object_set_new(root, "token", json_string("00"));
    assert_int_equal(arca_provided_upload_decode_json(root, &d), ARCA_ERR_FORMAT);
    assert_non_null(strstr(arca_err_detail(), "token"));
    json_decref(root);
    /* A NUL in the value cannot be sent. */
    arca_buf_reset(&j);
    assert_int_equal(arca_buf_put_u8(&u.value, 0), 0);
    assert_int_equal(arca_provided_upload_encode(&u, &j), ARCA_ERR_INVALID_ARG);
    arca_buf_free(&j);
    arca_provided_upload_free(&u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upload_codec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
