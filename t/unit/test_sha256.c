/*
 * Unit tests for recsys_sha256.c: FIPS 180-4 / NIST example vectors, the
 * padding boundaries (55, 56, 63, 64, 65, 119 bytes, checked against
 * coreutils' sha256sum), incremental updates in odd pieces, and the hex
 * helpers with bad input.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "recsys_sha256.h"


static void assert_digest(const void *data, size_t len, const char *hex);


static void
assert_digest(const void *data, size_t len, const char *hex)
{
    char     got[RECSYS_SHA256_HEX_LEN];
    uint8_t  digest[RECSYS_SHA256_LEN], want[RECSYS_SHA256_LEN];

    assert_int_equal(recsys_sha256_from_hex(hex, strlen(hex), want), 0);

    recsys_sha256(data, len, digest);
    assert_memory_equal(digest, want, RECSYS_SHA256_LEN);

    recsys_sha256_to_hex(digest, got);
    assert_memory_equal(got, hex, RECSYS_SHA256_HEX_LEN);
}


static void
test_nist_vectors(void **state)
{
    (void) state;

    assert_digest("", 0,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_digest("abc", 3,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
        56,
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    assert_digest("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                  "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
        112,
        "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}


static void
test_million_a(void **state)
{
    int              i;
    char             a[1000];
    uint8_t          digest[RECSYS_SHA256_LEN], want[RECSYS_SHA256_LEN];
    recsys_sha256_t  ctx;

    (void) state;

    memset(a, 'a', sizeof(a));

    recsys_sha256_init(&ctx);

    for (i = 0; i < 1000; i++) {
        recsys_sha256_update(&ctx, a, sizeof(a));
    }

    recsys_sha256_final(&ctx, digest);

    assert_int_equal(recsys_sha256_from_hex(
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
        64, want), 0);
    assert_memory_equal(digest, want, RECSYS_SHA256_LEN);
}


static void
test_padding_boundaries(void **state)
{
    size_t        i;
    char          a[119];
    static const struct {
        size_t       len;
        const char  *hex;
    } v[] = {
        { 55, "9f4390f8d30c2dd92ec9f095b65e2b9a"
              "e9b0a925a5258e241c9f1e910f734318" },
        { 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f"
              "590ce20f1bde7090ef7970686ec6738a" },
        { 63, "7d3e74a05d7db15bce4ad9ec0658ea98"
              "e3f06eeecf16b4c6fff2da457ddc2f34" },
        { 64, "ffe054fe7ae0cb6dc65c3af9b61d5209"
              "f439851db43d0ba5997337df154668eb" },
        { 65, "635361c48bb9eab14198e76ea8ab7f1a"
              "41685d6ad62aa9146d301d4f17eb0ae0" },
        { 119, "31eba51c313a5c08226adf18d4a359cf"
               "dfd8d2e816b13f4af952f7ea6584dcfb" },
    };

    (void) state;

    memset(a, 'a', sizeof(a));

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        assert_digest(a, v[i].len, v[i].hex);
    }
}


static void
test_incremental_pieces(void **state)
{
    size_t           i, off, step, len;
    uint8_t          buf[300], one[RECSYS_SHA256_LEN], inc[RECSYS_SHA256_LEN];
    recsys_sha256_t  ctx;

    (void) state;

    for (i = 0; i < sizeof(buf); i++) {
        buf[i] = (uint8_t) (i * 7 + 3);
    }

    recsys_sha256(buf, sizeof(buf), one);

    for (step = 1; step <= 130; step++) {
        recsys_sha256_init(&ctx);

        for (off = 0; off < sizeof(buf); off += len) {
            len = sizeof(buf) - off < step ? sizeof(buf) - off : step;
            recsys_sha256_update(&ctx, buf + off, len);
        }

        recsys_sha256_final(&ctx, inc);
        assert_memory_equal(one, inc, RECSYS_SHA256_LEN);
    }

    /* a key used by the rate-limit tests, as printed by sha256sum */
    assert_digest("secret-key-1", 12,
        "a6c1eaef9d5f23f4e13d9b574cbbe07ae877227d92be87d077005dc6776bcdcc");
}


static void
test_hex(void **state)
{
    char     hex[RECSYS_SHA256_HEX_LEN + 1];
    uint8_t  d[RECSYS_SHA256_LEN], e[RECSYS_SHA256_LEN];
    size_t   i;

    (void) state;

    for (i = 0; i < RECSYS_SHA256_HEX_LEN; i++) {
        hex[i] = "0123456789ABCDEFabcdef"[i % 22];
    }

    hex[RECSYS_SHA256_HEX_LEN] = '\0';

    assert_int_equal(recsys_sha256_from_hex(hex, 64, d), 0);
    assert_int_equal(d[0], 0x01);
    assert_int_equal(d[5], 0xab);
    assert_int_equal(d[6], 0xcd);

    recsys_sha256_to_hex(d, hex);
    assert_int_equal(recsys_sha256_from_hex(hex, 64, e), 0);
    assert_memory_equal(d, e, RECSYS_SHA256_LEN);

    for (i = 0; i < RECSYS_SHA256_HEX_LEN; i++) {
        assert_true((hex[i] >= '0' && hex[i] <= '9')
                    || (hex[i] >= 'a' && hex[i] <= 'f'));
    }

    /* wrong lengths and characters */
    assert_int_equal(recsys_sha256_from_hex(hex, 63, d), -1);
    assert_int_equal(recsys_sha256_from_hex(hex, 0, d), -1);
    assert_int_equal(recsys_sha256_from_hex(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8550",
        65, d), -1);
    assert_int_equal(recsys_sha256_from_hex(
        "g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        64, d), -1);
    assert_int_equal(recsys_sha256_from_hex(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85 ",
        64, d), -1);
    assert_int_equal(recsys_sha256_from_hex(
        "e3b0c44298fc1c149afbf4c8996fb924-7ae41e4649b934ca495991b7852b855",
        64, d), -1);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_nist_vectors),
        cmocka_unit_test(test_million_a),
        cmocka_unit_test(test_padding_boundaries),
        cmocka_unit_test(test_incremental_pieces),
        cmocka_unit_test(test_hex),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
