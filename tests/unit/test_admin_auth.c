/*
 * test_admin_auth.c - SHA-256 against FIPS 180-4's examples and padding
 * boundaries (expected values from Python's hashlib), HMAC-SHA256 against
 * RFC 4231, and the admin session format: made and checked with the same
 * token, refused with another token, after expiry, or altered.
 */
#include "admin/auth.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

static void check_sha(const void *data, size_t len, const char *want)
{
    uint8_t d[32];
    char got[65];
    sl_sha256(data, len, d);
    hex(d, 32, got);
    cr_assert_str_eq(got, want, "sha256 of %zu bytes", len);
}

static void check_hmac(const void *key, size_t klen, const char *msg, const char *want)
{
    uint8_t d[32];
    char got[65];
    sl_hmac_sha256(key, klen, msg, strlen(msg), d);
    hex(d, 32, got);
    cr_assert_str_eq(got, want, "hmac with a %zu-byte key", klen);
}

Test(auth, sha256_vectors)
{
    check_sha("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check_sha("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    check_sha(two, strlen(two), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    char *million = malloc(1000000);
    memset(million, 'a', 1000000);
    check_sha(million, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(million);
}

Test(auth, sha256_padding_boundaries)
{
    static const struct {
        size_t n;
        const char *want;
    } v[] = {
        { 55, "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072" },
        { 56, "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e" },
        { 63, "75220b47218278e656f2013bb8f0c455a25eaf01e86c64924e9d48d89776d6f2" },
        { 64, "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c" },
        { 65, "9537c5fdf120482f7d58d25e9ed583f52c02b4e304ea814db1633ad565aed7e9" },
        { 119, "000b48d4edf0fa7bee3c6236ecd2785baa5db4eeb8bb54341b029e0d9fa5fb0c" },
        { 120, "13f05a0b594787f5ecd315edc96141bd3243203d1b7d4f0836f37308b276ba98" },
    };
    char buf[128];
    memset(buf, 'x', sizeof buf);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        check_sha(buf, v[i].n, v[i].want);
}

Test(auth, hmac_rfc4231)
{
    uint8_t key1[20];
    memset(key1, 0x0b, sizeof key1);
    check_hmac(key1, sizeof key1, "Hi There",
               "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    check_hmac("Jefe", 4, "what do ya want for nothing?",
               "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    uint8_t key6[131]; /* longer than a block: hashed first */
    memset(key6, 0xaa, sizeof key6);
    check_hmac(key6, sizeof key6, "Test Using Larger Than Block-Size Key - Hash Key First",
               "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

Test(auth, equal)
{
    cr_assert(sl_auth_equal("secret", 6, "secret", 6));
    cr_assert_not(sl_auth_equal("secret", 6, "secreT", 6));
    cr_assert_not(sl_auth_equal("secret", 6, "secret2", 7));
    cr_assert_not(sl_auth_equal("secre", 5, "secret", 6));
    cr_assert_not(sl_auth_equal("", 0, "secret", 6));
    cr_assert_not(sl_auth_equal("secret", 6, "", 0));
    cr_assert(sl_auth_equal("", 0, "", 0));
}

Test(auth, session)
{
    char s[SL_AUTH_SESSION_MAX];
    sl_auth_session_make("sluice-token", 1900000000, s);
    /* The MAC as Python's hmac module computes it. */
    cr_assert_str_eq(s, "v1.1900000000.5c9c77dff8824dcc138e839dc38f3e1ca6e00f1bf22df2cc43d70ccec6358308");
    cr_assert_null(strstr(s, "sluice-token"), "the session never holds the token");
    cr_assert(sl_auth_session_ok("sluice-token", s, 1800000000));
    cr_assert_not(sl_auth_session_ok("sluice-token", s, 1900000000), "expired");
    cr_assert_not(sl_auth_session_ok("another-token", s, 1800000000));
    cr_assert_not(sl_auth_session_ok("", s, 1800000000));
    cr_assert_not(sl_auth_session_ok(NULL, s, 1800000000));

    char bad[SL_AUTH_SESSION_MAX];
    strcpy(bad, s);
    bad[5] = '9'; /* a later expiry with the old MAC */
    cr_assert_not(sl_auth_session_ok("sluice-token", bad, 1800000000));
    strcpy(bad, s);
    bad[strlen(bad) - 1] ^= 1;
    cr_assert_not(sl_auth_session_ok("sluice-token", bad, 1800000000));
    bad[strlen(bad) - 1] = '\0';
    cr_assert_not(sl_auth_session_ok("sluice-token", bad, 1800000000));
    cr_assert_not(sl_auth_session_ok("sluice-token", "v1..", 0));
    cr_assert_not(sl_auth_session_ok("sluice-token", "v2.1900000000.00", 0));
    cr_assert_not(sl_auth_session_ok("sluice-token", "v1.99999999999999999999999.ab", 0));
    cr_assert_not(sl_auth_session_ok("sluice-token", "", 0));
}
