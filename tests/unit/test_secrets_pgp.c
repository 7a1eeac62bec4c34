/*
 * kind: pgp-key secrets: generation, the six placeholder formats (binary packets of the secret
 * and public key, base64, ASCII armor with its CRC-24 line), migration on update, the
 * sealed-store codec. gpg's acceptance of the keys is checked in e2e (test_pgp_secrets.py).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/enc.h"
#include "base/err.h"
#include "crypto/pgp.h"
#include "secrets/secrets.h"

#define NOW ((int64_t)1790000000)

static void render(const struct arca_secret_set *s, const char *fmt, struct arca_buf *out)
{
    arca_buf_reset(out);
    int rc = arca_secret_set_render((void *)s, "pk", 2, fmt, out);
    if (rc != 0)
        print_error("render %s: %s\n", fmt, arca_err_detail());
    assert_int_equal(rc, 0);
}

static void test_formats(void **state)
{
    (void)state;
    struct arca_secret_spec spec = {.name = "pk", .kind = ARCA_SECRET_PGP_KEY};
    struct arca_secret_set *s;
    assert_int_equal(arca_secret_set_new(&s), 0);
    assert_int_equal(arca_secrets_generate(&spec, 1, NULL, NOW, s), 0);

    struct arca_buf sec, pub, b, x;
    arca_buf_init_secret(&sec, 0);
    arca_buf_init(&pub, 0);
    arca_buf_init_secret(&b, 0);
    arca_buf_init_secret(&x, 0);
    render(s, "privatekey:binary", &sec);
    render(s, "publickey:binary", &pub);
    /* new-format packets: secret-key (tag 5) / public-key (tag 6), v4, the creation time, EdDSA */
    assert_int_equal(sec.data[0], 0xC5);
    assert_int_equal(pub.data[0], 0xC6);
    assert_int_equal(pub.data[2], 4);
    assert_int_equal(((uint32_t)pub.data[3] << 24 | (uint32_t)pub.data[4] << 16 |
                      (uint32_t)pub.data[5] << 8 | pub.data[6]),
                     (uint32_t)NOW);
    assert_int_equal(pub.data[7], 22);
    assert_true(sec.len > pub.len);
    /* the user id is the secret's name */
    assert_non_null(memmem(pub.data, pub.len, "\xCD\x02pk", 4));

    render(s, "privatekey:base64", &b);
    arca_buf_reset(&x);
    assert_int_equal(arca_base64_decode(&x, (const char *)b.data, b.len), 0);
    assert_int_equal(x.len, sec.len);
    assert_memory_equal(x.data, sec.data, sec.len);

    render(s, "publickey:asciiarmored", &b);
    const char *a = arca_buf_cstr(&b);
    assert_true(strncmp(a, "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n", 38) == 0);
    assert_non_null(strstr(a, "\n-----END PGP PUBLIC KEY BLOCK-----\n"));
    assert_non_null(strstr(a, "\n="));
    arca_buf_reset(&x);
    assert_int_equal(arca_pgp_armor(pub.data, pub.len, false, &x), 0);
    assert_string_equal(arca_buf_cstr(&x), a);
    /* the bare name is the public key, never the secret part */
    render(s, "", &x);
    assert_string_equal(arca_buf_cstr(&x), a);
    render(s, "privatekey:asciiarmored", &b);
    assert_true(strncmp(arca_buf_cstr(&b), "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n", 39) == 0);
    arca_buf_reset(&x);
    assert_int_equal(arca_secret_set_render((void *)s, "pk", 2, "pem", &x), ARCA_ERR_FORMAT);

    /* kept on update; survives the codec */
    struct arca_secret_set *s2;
    assert_int_equal(arca_secret_set_new(&s2), 0);
    assert_int_equal(arca_secrets_generate(&spec, 1, s, NOW + 100, s2), 0);
    render(s2, "privatekey:binary", &x);
    assert_int_equal(x.len, sec.len);
    assert_memory_equal(x.data, sec.data, sec.len);
    struct arca_buf enc;
    arca_buf_init_secret(&enc, 0);
    assert_int_equal(arca_secret_set_encode(s2, &enc), 0);
    struct arca_secret_set *d;
    assert_int_equal(arca_secret_set_decode(enc.data, enc.len, &d), 0);
    render(d, "publickey:binary", &x);
    assert_int_equal(x.len, pub.len);
    assert_memory_equal(x.data, pub.data, pub.len);
    arca_secret_set_free(d);
    arca_buf_free(&enc);
    arca_secret_set_free(s2);

    /* a fresh generation is another key */
    struct arca_secret_set *s3;
    assert_int_equal(arca_secret_set_new(&s3), 0);
    assert_int_equal(arca_secrets_generate(&spec, 1, NULL, NOW, s3), 0);
    render(s3, "publickey:binary", &x);
    assert_memory_not_equal(x.data + 10, pub.data + 10, 32);
    arca_secret_set_free(s3);

    arca_buf_free(&sec);
    arca_buf_free(&pub);
    arca_buf_free(&b);
    arca_buf_free(&x);
    arca_secret_set_free(s);
}

/* RFC 4880 §6.1's CRC-24 of a known input, through the armor's checksum line. */
static void test_armor_crc(void **state)
{
    (void)state;
    struct arca_buf out;
    arca_buf_init(&out, 0);
    assert_int_equal(arca_pgp_armor("123456789", 9, false, &out), 0);
    /* CRC-24/OPENPGP("123456789") = 0x21CF02 -> base64 "Ic8C" */
    assert_non_null(strstr(arca_buf_cstr(&out), "\nMTIzNDU2Nzg5\n=Ic8C\n"));
    arca_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_armor_crc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
