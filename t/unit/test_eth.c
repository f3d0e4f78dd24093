
/*
 * Unit tests for libaxon/axon_eth.h: hex, Keccak-256, EIP-55, EIP-191 and
 * signer recovery.
 *
 * usage: test_eth [--vectors FILE]
 *
 * FILE is the JSON array printed by t/js/ethers-vectors.mjs (signatures
 * made by ethers at test time).  Each failed check prints
 * "file:line: FAIL case: detail"; the last line is "N passed, N failed".
 */


#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <nettle/sha3.h>

#include "axon_eth.h"
#include "check.h"


#define CHECK_RC(name, got, want)                                            \
    check_rc(__FILE__, __LINE__, name, got, want)

#define CHECK_HEX(name, got, n, want)                                        \
    check_hex(__FILE__, __LINE__, name, got, n, want)


static int check_rc(const char *file, int line, const char *name, int got,
    int want);
static int check_hex(const char *file, int line, const char *name,
    const uint8_t *got, size_t n, const char *want);
static void unhex(uint8_t *dst, size_t n, const char *src);
static void flip_case(char *s, size_t len);
static void to_case(char out[42], const char *addr, int a);
static void sub_from_n(uint8_t out[32], const uint8_t s[32]);

static void test_strerror(void);
static void test_hex(void);
static void test_keccak(void);
static void test_eip55(void);
static void test_pubkey(void);
static void test_eip191(void);
static void test_recover(void);
static void test_memeq(void);
static void test_vectors(const char *path);
static void test_vector(json_t *v, size_t i, unsigned *nok, unsigned *npub);


/* the ganache/hardhat deterministic key 0x4f3edf98...15b23b1d */

static const char  fixed_address[] =
    "0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1";
static const char  fixed_pubkey[] =
    "04e68acfc0253a10620dff706b0a1b1f1f5833ea3beb3bde2250d5f271f3563606"
    "672ebc45e0b7ea2e816ecb70ca03137b1c9476eec63d4632e990020b7b6fba39";

/* ethers v6 Wallet(key).signMessage(fixed_message), RFC 6979 nonce */

static const char  fixed_message[] = "Sign in to axon\nnonce: 7f3c9a";
static const char  fixed_hash[] =
    "4d86a9c1925c70405192be6ca294d81a3311104dd9a0e951897abb553b351bee";
static const char  fixed_sig[] =
    "0x7ff8c5da0482ec5f359878a9cba430eda8a7f18894c46842c67e167a07c41d3b"
    "196cc25364d587638f9a7508bfc84295b1534a9000402bf41d4b708837f3a19f1b";


static int
check_rc(const char *file, int line, const char *name, int got, int want)
{
    char  what[128];

    if (got == want) {
        passed++;
        return 1;
    }

    snprintf(what, sizeof(what), "rc %d (%s), want %d (%s)",
             got, axon_strerror(got), want, axon_strerror(want));

    return check(file, line, name, 0, what);
}


static int
check_hex(const char *file, int line, const char *name, const uint8_t *got,
    size_t n, const char *want)
{
    char  buf[2 * 128 + 1], what[2 * 2 * 128 + 32];

    if (n > 128) {
        return check(file, line, name, 0, "check_hex: n > 128");
    }

    axon_hex_encode(buf, got, n);
    buf[2 * n] = '\0';

    if (strncmp(want, "0x", 2) == 0) {
        want += 2;
    }

    if (strcmp(buf, want) == 0) {
        passed++;
        return 1;
    }

    snprintf(what, sizeof(what), "got %s, want %s", buf, want);

    return check(file, line, name, 0, what);
}


/* decode known-good hex fixtures; a bad fixture is a bug in this file */

static void
unhex(uint8_t *dst, size_t n, const char *src)
{
    if (axon_hex_decode(dst, n, src, strlen(src)) != AXON_OK) {
        fprintf(stderr, "bad hex fixture: %s\n", src);
        abort();
    }
}


/*
 * swap the case of one hex letter after "0x" such that the text stays mixed
 * case (an all-lower or all-upper address carries no checksum); leaves s
 * unchanged if no letter will do
 */

static void
flip_case(char *s, size_t len)
{
    size_t  i, j;
    int     lower, upper;

    for (i = 2; i < len; i++) {
        if (!isxdigit((unsigned char) s[i]) || isdigit((unsigned char) s[i])) {
            continue;
        }

        s[i] ^= 0x20;
        lower = 0;
        upper = 0;

        for (j = 2; j < len; j++) {
            lower |= (s[j] >= 'a' && s[j] <= 'f');
            upper |= (s[j] >= 'A' && s[j] <= 'F');
        }

        if (lower && upper) {
            return;
        }

        s[i] ^= 0x20;
    }
}


/* copy a 42-char address with its hex letters in the case of a */

static void
to_case(char out[42], const char *addr, int a)
{
    size_t  i;

    memcpy(out, addr, 42);

    for (i = 2; i < 42; i++) {
        if ((out[i] >= 'a' && out[i] <= 'f')
            || (out[i] >= 'A' && out[i] <= 'F'))
        {
            out[i] = (char) ((out[i] & ~0x20) | (a & 0x20));
        }
    }
}


/* out = n - s, big-endian, for 0 < s < n */

static void
sub_from_n(uint8_t out[32], const uint8_t s[32])
{
    int                i, borrow, d;
    uint8_t            n[32];
    static const char  order[] =
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";

    unhex(n, 32, order);
    borrow = 0;

    for (i = 31; i >= 0; i--) {
        d = n[i] - s[i] - borrow;
        borrow = d < 0;
        out[i] = (uint8_t) (d + (borrow ? 256 : 0));
    }
}


static void
test_strerror(void)
{
    size_t       i, j;
    const char  *s[7];

    CHECK("strerror ok", strcmp(axon_strerror(AXON_OK), "ok") == 0);
    CHECK("strerror hex", strcmp(axon_strerror(AXON_ERR_HEX), "bad_hex") == 0);
    CHECK("strerror len",
          strcmp(axon_strerror(AXON_ERR_LEN), "bad_length") == 0);
    CHECK("strerror v",
          strcmp(axon_strerror(AXON_ERR_SIG_V), "bad_signature_v") == 0);
    CHECK("strerror high s",
          strcmp(axon_strerror(AXON_ERR_SIG_HIGH_S), "bad_signature_high_s")
          == 0);
    CHECK("strerror invalid",
          strcmp(axon_strerror(AXON_ERR_SIG_INVALID), "bad_signature") == 0);
    CHECK("strerror checksum",
          strcmp(axon_strerror(AXON_ERR_CHECKSUM), "bad_checksum") == 0);
    CHECK("strerror unknown",
          strcmp(axon_strerror(-1000), "unknown_error") == 0);

    for (i = 0; i < 7; i++) {
        s[i] = axon_strerror(-(int) i);
    }

    for (i = 0; i < 7; i++) {
        for (j = i + 1; j < 7; j++) {
            CHECK("strerror distinct", strcmp(s[i], s[j]) != 0);
        }
    }
}


static void
test_hex(void)
{
    char     enc[8];
    uint8_t  b[4];

    CHECK_RC("hex plain", axon_hex_decode(b, 4, "deadBEEF", 8), AXON_OK);
    CHECK_HEX("hex plain bytes", b, 4, "deadbeef");
    CHECK_RC("hex 0x", axon_hex_decode(b, 4, "0x01020a0F", 10), AXON_OK);
    CHECK_HEX("hex 0x bytes", b, 4, "01020a0f");
    CHECK_RC("hex 0X", axon_hex_decode(b, 4, "0X01020a0F", 10), AXON_OK);
    CHECK_HEX("hex 0X bytes", b, 4, "01020a0f");

    CHECK_RC("hex short", axon_hex_decode(b, 4, "0x010203", 8), AXON_ERR_LEN);
    CHECK_RC("hex long", axon_hex_decode(b, 4, "0102030405", 10),
             AXON_ERR_LEN);
    CHECK_RC("hex odd", axon_hex_decode(b, 4, "010203040", 9), AXON_ERR_LEN);
    CHECK_RC("hex empty", axon_hex_decode(b, 4, "", 0), AXON_ERR_LEN);
    CHECK_RC("hex empty 0", axon_hex_decode(b, 0, "", 0), AXON_OK);
    CHECK_RC("hex empty 0x", axon_hex_decode(b, 0, "0x", 2), AXON_OK);
    CHECK_RC("hex 0x only", axon_hex_decode(b, 1, "0x", 2), AXON_ERR_LEN);

    CHECK_RC("hex g", axon_hex_decode(b, 4, "0102030g", 8), AXON_ERR_HEX);
    CHECK_RC("hex space", axon_hex_decode(b, 4, "01 20304", 8), AXON_ERR_HEX);
    CHECK_RC("hex colon", axon_hex_decode(b, 1, "0:", 2), AXON_ERR_HEX);
    CHECK_RC("hex at", axon_hex_decode(b, 1, "@1", 2), AXON_ERR_HEX);
    CHECK_RC("hex G", axon_hex_decode(b, 1, "G1", 2), AXON_ERR_HEX);
    CHECK_RC("hex nul", axon_hex_decode(b, 1, "1\0", 2), AXON_ERR_HEX);
    CHECK_RC("hex 0x0x", axon_hex_decode(b, 2, "0x0x00", 6), AXON_ERR_HEX);
    CHECK_RC("hex high bit", axon_hex_decode(b, 1, "\xc3\xa9", 2),
             AXON_ERR_HEX);

    b[0] = 0x00;
    b[1] = 0x9f;
    b[2] = 0xa0;
    b[3] = 0xff;
    memset(enc, 'X', sizeof(enc));
    axon_hex_encode(enc, b, 3);
    CHECK("hex encode", memcmp(enc, "009fa0XX", 8) == 0);
}


static void
test_keccak(void)
{
    size_t               i, j, step;
    uint8_t              out[32], one[32], buf[1000];
    axon_keccak_t        k;
    struct sha3_256_ctx  sha3;

    axon_keccak256(out, "", 0);
    CHECK_HEX("keccak empty", out, 32,
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");

    axon_keccak256(out, NULL, 0);
    CHECK_HEX("keccak NULL empty", out, 32,
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");

    axon_keccak256(out, "abc", 3);
    CHECK_HEX("keccak abc", out, 32,
        "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");

    /* not SHA3-256: nettle's FIPS 202 digest of "" differs in padding */

    nettle_sha3_256_init(&sha3);
    nettle_sha3_256_digest(&sha3, 32, one);
    CHECK_HEX("sha3-256 empty", one, 32,
        "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a");

    /* 135 bytes: both padding bits in the last byte of one block (0x81) */

    memset(buf, 'a', 135);
    axon_keccak256(out, buf, 135);
    CHECK_HEX("keccak 135", out, 32,
        "34367dc248bbd832f4e3e69dfaac2f92638bd0bbd18f2912ba4ef454919cf446");

    /* exactly the rate: padding takes a whole second block */

    for (i = 0; i < 200; i++) {
        buf[i] = (uint8_t) i;
    }

    axon_keccak256(out, buf, 136);
    CHECK_HEX("keccak 136", out, 32,
        "7ce759f1ab7f9ce437719970c26b0a66ff11fe3e38e17df89cf5d29c7d7f807e");

    axon_keccak256(out, buf, 200);
    CHECK_HEX("keccak 200", out, 32,
        "bfb0aa97863e797943cf7c33bb7e880bb4543f3d2703c0923c6901c2af57b890");

    /* every split point of the 200 bytes, streamed in two parts */

    for (i = 0; i <= 200; i++) {
        axon_keccak_init(&k);
        axon_keccak_update(&k, buf, i);
        axon_keccak_update(&k, buf + i, 200 - i);
        axon_keccak_final(&k, one);

        if (!CHECK("keccak 200 split", memcmp(one, out, 32) == 0)) {
            printf("    split at %zu\n", i);
        }
    }

    for (i = 0; i < 1000; i++) {
        buf[i] = (uint8_t) (i * 7);
    }

    axon_keccak256(out, buf, 1000);
    CHECK_HEX("keccak 1000", out, 32,
        "82bc59cea7b5eac6d5e84cfabd1450ecba233bc6c0b375bda57dd7848a088ce6");

    /* odd chunk sizes, growing, and one byte at a time */

    for (step = 1; step <= 277; step += 2) {
        axon_keccak_init(&k);

        for (i = 0, j = 1; i < 1000; i += j, j = (j + step) % 301 + 1) {
            axon_keccak_update(&k, buf + i, (i + j > 1000) ? 1000 - i : j);
        }

        axon_keccak_final(&k, one);

        if (!CHECK("keccak 1000 streamed", memcmp(one, out, 32) == 0)) {
            printf("    step %zu\n", step);
        }
    }

    axon_keccak_init(&k);

    for (i = 0; i < 1000; i++) {
        axon_keccak_update(&k, buf + i, 1);
        axon_keccak_update(&k, buf + i, 0);
    }

    axon_keccak_final(&k, one);
    CHECK("keccak 1000 bytewise", memcmp(one, out, 32) == 0);

    /* a context is reusable after init */

    axon_keccak_init(&k);
    axon_keccak_update(&k, "abc", 3);
    axon_keccak_final(&k, one);
    CHECK_HEX("keccak reinit", one, 32,
        "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
}


static void
test_eip55(void)
{
    char         text[42], low[42], up[42], want[42], bad[42];
    size_t       i;
    uint8_t      addr[20], again[20];
    const char  *s;
    static const char  *examples[] = {
        /* all caps */
        "0x52908400098527886E0F7030069857D2E4169EE7",
        "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
        /* all lower */
        "0xde709f2102306220921060314715629080e2fb77",
        "0x27b1fdb04752bbc536007a920d24acb045561c26",
        /* normal */
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"
    };

    for (i = 0; i < sizeof(examples) / sizeof(examples[0]); i++) {
        s = examples[i];

        if (!CHECK_RC(s, axon_address_parse(addr, s, 42), AXON_OK)) {
            continue;
        }

        axon_address_format(text, addr);
        CHECK(s, memcmp(text, s, 42) == 0);

        axon_address_format_lower(low, addr);
        to_case(want, s, 'a');
        CHECK(s, memcmp(low, want, 42) == 0);
        to_case(up, s, 'A');

        /* the lowercase and the uppercase form both parse, to the same */

        CHECK_RC(s, axon_address_parse(again, low, 42), AXON_OK);
        CHECK(s, memcmp(again, addr, 20) == 0);
        CHECK_RC(s, axon_address_parse(again, up, 42), AXON_OK);
        CHECK(s, memcmp(again, addr, 20) == 0);

        /* one letter of the wrong case breaks the checksum */

        memcpy(bad, text, 42);
        flip_case(bad, 42);

        if (memcmp(bad, text, 42) != 0) {
            CHECK_RC(s, axon_address_parse(again, bad, 42),
                     AXON_ERR_CHECKSUM);
        }
    }

    /* one letter's case changed, or one digit: valid hex, bad checksums */

    s = "0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
    CHECK_RC("eip55 bad 1", axon_address_parse(addr, s, 42),
             AXON_ERR_CHECKSUM);
    s = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d35a";
    CHECK_RC("eip55 bad 2", axon_address_parse(addr, s, 42),
             AXON_ERR_CHECKSUM);
    s = "0xd1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb";
    CHECK_RC("eip55 bad 3", axon_address_parse(addr, s, 42),
             AXON_ERR_CHECKSUM);

    /* digits only: no case to check */

    s = "0x0000000000000000000000000000000000000000";
    CHECK_RC("eip55 zero", axon_address_parse(addr, s, 42), AXON_OK);
    axon_address_format(text, addr);
    CHECK("eip55 zero format", memcmp(text, s, 42) == 0);

    /* lengths, prefix and characters */

    s = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
    CHECK_RC("addr len 41", axon_address_parse(addr, s, 41), AXON_ERR_LEN);
    CHECK_RC("addr len 0", axon_address_parse(addr, s, 0), AXON_ERR_LEN);
    CHECK_RC("addr len 43",
             axon_address_parse(addr,
                 "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed0", 43),
             AXON_ERR_LEN);
    CHECK_RC("addr no 0x",
             axon_address_parse(addr,
                 "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", 40),
             AXON_ERR_LEN);
    CHECK_RC("addr no 0x 42",
             axon_address_parse(addr,
                 "005aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", 42),
             AXON_ERR_HEX);
    CHECK_RC("addr 0X",
             axon_address_parse(addr,
                 "0X5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", 42),
             AXON_ERR_HEX);
    CHECK_RC("addr g",
             axon_address_parse(addr,
                 "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg", 42),
             AXON_ERR_HEX);
    CHECK_RC("addr space",
             axon_address_parse(addr,
                 "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe ", 42),
             AXON_ERR_HEX);
    CHECK_RC("addr nul",
             axon_address_parse(addr,
                 "0x5aAeb6053F3E94C9\0b9A09f33669435E7Ef1BeAe", 42),
             AXON_ERR_HEX);
}


static void
test_pubkey(void)
{
    char     text[42];
    uint8_t  pub[65], addr[20];

    unhex(pub, 65, fixed_pubkey);
    CHECK("pubkey tag", pub[0] == 0x04);

    axon_address_from_pubkey(addr, pub + 1);
    axon_address_format(text, addr);
    CHECK("pubkey address", memcmp(text, fixed_address, 42) == 0);
}


static void
test_eip191(void)
{
    uint8_t  out[32];

    axon_eip191_hash(out, fixed_message, sizeof(fixed_message) - 1);
    CHECK_HEX("eip191 fixed", out, 32, fixed_hash);

    /* ethers hashMessage("") and hashMessage("hello world") */

    axon_eip191_hash(out, "", 0);
    CHECK_HEX("eip191 empty", out, 32,
        "5f35dce98ba4fba25530a026ed80b2cecdaa31091ba4958b99b52ea1d068adad");

    axon_eip191_hash(out, "hello world", 11);
    CHECK_HEX("eip191 hello", out, 32,
        "d9eba16ed0ecae432b71fe008c98cc872bb4cc214d3220a36f365326cf807d68");
}


static void
test_recover(void)
{
    int      rc;
    char     text[2 + 130], longer[2 + 132], hex[42];
    size_t   i;
    uint8_t  sig[65], mangled[65], hash[32], addr[20], want[20], other[20];

    unhex(sig, 65, fixed_sig);
    unhex(want, 20, fixed_address);
    axon_eip191_hash(hash, fixed_message, sizeof(fixed_message) - 1);

    CHECK_RC("selftest", axon_eth_selftest(), AXON_OK);

    /* the known vector, as text and as bytes, v = 27/28 and 0/1 */

    memset(addr, 0, 20);
    rc = axon_personal_recover(addr, fixed_message, sizeof(fixed_message) - 1,
                               fixed_sig, sizeof(fixed_sig) - 1);
    CHECK_RC("recover fixed", rc, AXON_OK);
    CHECK_HEX("recover fixed address", addr, 20,
              "90f8bf6a479f320ead074411a4b0e7944ea8c9c1");
    axon_address_format(hex, addr);
    CHECK("recover fixed eip55", memcmp(hex, fixed_address, 42) == 0);

    rc = axon_personal_recover(addr, fixed_message, sizeof(fixed_message) - 1,
                               fixed_sig + 2, sizeof(fixed_sig) - 3);
    CHECK_RC("recover fixed no 0x", rc, AXON_OK);
    CHECK("recover fixed no 0x address", axon_memeq_ct(addr, want, 20));

    memset(addr, 0, 20);
    CHECK_RC("ecrecover fixed", axon_ecrecover(addr, hash, sig), AXON_OK);
    CHECK("ecrecover fixed address", axon_memeq_ct(addr, want, 20));

    memcpy(mangled, sig, 65);
    mangled[64] = (uint8_t) (sig[64] - 27);
    memset(addr, 0, 20);
    CHECK_RC("ecrecover v01", axon_ecrecover(addr, hash, mangled), AXON_OK);
    CHECK("ecrecover v01 address", axon_memeq_ct(addr, want, 20));

    text[0] = '0';
    text[1] = 'x';
    axon_hex_encode(text + 2, mangled, 65);
    rc = axon_personal_recover(addr, fixed_message, sizeof(fixed_message) - 1,
                               text, sizeof(text));
    CHECK_RC("recover v01 text", rc, AXON_OK);
    CHECK("recover v01 text address", axon_memeq_ct(addr, want, 20));

    /* the other parity, or another message: someone else */

    mangled[64] = (sig[64] == 27) ? 28 : 27;
    CHECK_RC("ecrecover parity", axon_ecrecover(other, hash, mangled),
             AXON_OK);
    CHECK("ecrecover parity address", !axon_memeq_ct(other, want, 20));

    rc = axon_personal_recover(other, fixed_message, sizeof(fixed_message) - 2,
                               fixed_sig, sizeof(fixed_sig) - 1);
    CHECK_RC("recover other message", rc, AXON_OK);
    CHECK("recover other message address", !axon_memeq_ct(other, want, 20));

    hash[31] ^= 1;
    CHECK_RC("ecrecover other hash", axon_ecrecover(other, hash, sig),
             AXON_OK);
    CHECK("ecrecover other hash address", !axon_memeq_ct(other, want, 20));
    hash[31] ^= 1;

    /* v */

    for (i = 0; i < 256; i++) {
        memcpy(mangled, sig, 65);
        mangled[64] = (uint8_t) i;
        rc = axon_ecrecover(addr, hash, mangled);

        if (i == 0 || i == 1 || i == 27 || i == 28) {
            CHECK_RC("ecrecover v valid", rc, AXON_OK);

        } else if (!CHECK_RC("ecrecover v invalid", rc, AXON_ERR_SIG_V)) {
            printf("    v = %zu\n", i);
        }
    }

    memcpy(text, fixed_sig, sizeof(text));
    text[130] = '1';
    text[131] = 'd';
    rc = axon_personal_recover(addr, fixed_message, sizeof(fixed_message) - 1,
                               text, sizeof(text));
    CHECK_RC("recover v=29", rc, AXON_ERR_SIG_V);
    text[130] = '1';
    text[131] = 'a';
    rc = axon_personal_recover(addr, fixed_message, sizeof(fixed_message) - 1,
                               text, sizeof(text));
    CHECK_RC("recover v=26", rc, AXON_ERR_SIG_V);

    /* EIP-2 high s: (r, n - s) with the other parity is the same key */

    memcpy(mangled, sig, 65);
    sub_from_n(mangled + 32, sig + 32);
    mangled[64] = (sig[64] == 27) ? 28 : 27;
    CHECK_RC("ecrecover high s", axon_ecrecover(addr, hash, mangled),
             AXON_ERR_SIG_HIGH_S);
    mangled[64] = (sig[64] == 27) ? 1 : 0;
    CHECK_RC("ecrecover high s v01", axon_ecrecover(addr, hash, mangled),
             AXON_ERR_SIG_HIGH_S);

    text[0] = '0';
    text[1] = 'x';
    axon_hex_encode(text + 2, mangled, 65);
    rc = axon_personal_recover(addr, fixed_message, sizeof(fixed_message) - 1,
                               text, sizeof(text));
    CHECK_RC("recover high s", rc, AXON_ERR_SIG_HIGH_S);

    /* n/2 itself is still low, n/2 + 1 is high */

    memcpy(mangled, sig, 65);
    unhex(mangled + 32, 32,
        "7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0");
    rc = axon_ecrecover(addr, hash, mangled);
    CHECK("ecrecover s = n/2", rc == AXON_OK || rc == AXON_ERR_SIG_INVALID);
    mangled[63]++;
    CHECK_RC("ecrecover s = n/2 + 1", axon_ecrecover(addr, hash, mangled),
             AXON_ERR_SIG_HIGH_S);

    /* r and s out of range */

    memcpy(mangled, sig, 65);
    memset(mangled, 0, 32);
    CHECK_RC("ecrecover r=0", axon_ecrecover(addr, hash, mangled),
             AXON_ERR_SIG_INVALID);

    memcpy(mangled, sig, 65);
    memset(mangled + 32, 0, 32);
    CHECK_RC("ecrecover s=0", axon_ecrecover(addr, hash, mangled),
             AXON_ERR_SIG_INVALID);

    memcpy(mangled, sig, 65);
    unhex(mangled, 32,
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
    CHECK_RC("ecrecover r=n", axon_ecrecover(addr, hash, mangled),
             AXON_ERR_SIG_INVALID);

    memcpy(mangled, sig, 65);
    unhex(mangled + 32, 32,
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
    CHECK_RC("ecrecover s=n", axon_ecrecover(addr, hash, mangled),
             AXON_ERR_SIG_INVALID);

    /* 5^3 + 7 is not a square mod p: no point has x = 5 */

    memcpy(mangled, sig, 65);
    memset(mangled, 0, 32);
    mangled[31] = 5;
    CHECK_RC("ecrecover r off curve", axon_ecrecover(addr, hash, mangled),
             AXON_ERR_SIG_INVALID);

    /* garbage */

    memset(mangled, 0xff, 65);
    CHECK_RC("ecrecover all ff", axon_ecrecover(addr, hash, mangled),
             AXON_ERR_SIG_V);
    mangled[64] = 27;
    CHECK_RC("ecrecover ff v27", axon_ecrecover(addr, hash, mangled),
             AXON_ERR_SIG_INVALID);
    memset(mangled, 0, 65);
    CHECK_RC("ecrecover all 0", axon_ecrecover(addr, hash, mangled),
             AXON_ERR_SIG_INVALID);

    memset(text, 'z', sizeof(text));
    text[0] = '0';
    text[1] = 'x';
    rc = axon_personal_recover(addr, "x", 1, text, sizeof(text));
    CHECK_RC("recover garbage hex", rc, AXON_ERR_HEX);

    /* lengths */

    rc = axon_personal_recover(addr, fixed_message, sizeof(fixed_message) - 1,
                               fixed_sig, sizeof(fixed_sig) - 2);
    CHECK_RC("recover len 131", rc, AXON_ERR_LEN);
    rc = axon_personal_recover(addr, fixed_message, sizeof(fixed_message) - 1,
                               fixed_sig, sizeof(fixed_sig) - 3);
    CHECK_RC("recover len 130 with 0x", rc, AXON_ERR_LEN);
    rc = axon_personal_recover(addr, fixed_message, sizeof(fixed_message) - 1,
                               fixed_sig, 0);
    CHECK_RC("recover len 0", rc, AXON_ERR_LEN);
    rc = axon_personal_recover(addr, fixed_message, sizeof(fixed_message) - 1,
                               "0x", 2);
    CHECK_RC("recover 0x only", rc, AXON_ERR_LEN);
    memset(longer, '0', sizeof(longer));
    longer[1] = 'x';
    rc = axon_personal_recover(addr, fixed_message, sizeof(fixed_message) - 1,
                               longer, sizeof(longer));
    CHECK_RC("recover len 134", rc, AXON_ERR_LEN);
}


static void
test_memeq(void)
{
    uint8_t  a[33], b[33];

    memset(a, 0x5a, sizeof(a));
    memset(b, 0x5a, sizeof(b));

    CHECK("memeq equal", axon_memeq_ct(a, b, 33) == 1);
    CHECK("memeq empty", axon_memeq_ct(a, b, 0) == 1);

    b[0] ^= 0x80;
    CHECK("memeq first", axon_memeq_ct(a, b, 33) == 0);
    CHECK("memeq first n=0", axon_memeq_ct(a, b, 0) == 1);
    b[0] ^= 0x80;

    b[32] ^= 0x01;
    CHECK("memeq last", axon_memeq_ct(a, b, 33) == 0);
    CHECK("memeq prefix", axon_memeq_ct(a, b, 32) == 1);
    b[32] = 0xff;
    a[32] = 0x00;
    CHECK("memeq ff/00", axon_memeq_ct(a, b, 33) == 0);
}


static void
test_vector(json_t *v, size_t i, unsigned *nok, unsigned *npub)
{
    int          rc;
    char         name[160], text[42], low[42], want[42], bad[42];
    size_t       mlen, slen, alen;
    uint8_t      addr[20], got[20], hash[32], pub[65], *mbuf;
    const char  *s, *sig, *address, *expect, *msg;
    json_t      *m;

    s = json_string_value(json_object_get(v, "name"));
    snprintf(name, sizeof(name), "vector #%zu %s", i, s ? s : "");

    sig = json_string_value(json_object_get(v, "signature"));
    address = json_string_value(json_object_get(v, "address"));
    expect = json_string_value(json_object_get(v, "expect"));

    if (!CHECK(name, json_is_object(v) && sig && address && expect)) {
        return;
    }

    slen = json_string_length(json_object_get(v, "signature"));
    alen = json_string_length(json_object_get(v, "address"));

    /* the message: UTF-8 text, or raw bytes as hex */

    mbuf = NULL;
    m = json_object_get(v, "message");

    if (json_is_string(m)) {
        msg = json_string_value(m);
        mlen = json_string_length(m);

    } else {
        m = json_object_get(v, "message_hex");
        s = json_string_value(m);

        if (!CHECK(name, s != NULL && strncmp(s, "0x", 2) == 0)) {
            return;
        }

        mlen = (json_string_length(m) - 2) / 2;
        mbuf = malloc(mlen + 1);

        if (mbuf == NULL) {
            abort();
        }

        if (!CHECK_RC(name, axon_hex_decode(mbuf, mlen, s, 2 + 2 * mlen),
                      AXON_OK))
        {
            free(mbuf);
            return;
        }

        msg = (const char *) mbuf;
    }

    /* ethers' EIP-55 spelling of the signer is ours, both ways */

    if (CHECK_RC(name, axon_address_parse(addr, address, alen), AXON_OK)) {
        axon_address_format(text, addr);
        CHECK(name, alen == 42 && memcmp(text, address, 42) == 0);

        axon_address_format_lower(low, addr);
        to_case(want, address, 'a');
        CHECK(name, memcmp(low, want, 42) == 0);

        memcpy(bad, text, 42);
        flip_case(bad, 42);

        if (memcmp(bad, text, 42) != 0) {
            CHECK_RC(name, axon_address_parse(got, bad, 42),
                     AXON_ERR_CHECKSUM);
        }
    }

    s = json_string_value(json_object_get(v, "hash"));

    if (s != NULL) {
        axon_eip191_hash(hash, msg, mlen);
        CHECK_HEX(name, hash, 32, s);
    }

    /* computeAddress(pubkey) == address */

    s = json_string_value(json_object_get(v, "pubkey"));

    if (s != NULL) {
        (*npub)++;

        if (CHECK_RC(name, axon_hex_decode(pub, 65, s, strlen(s)), AXON_OK)
            && CHECK(name, pub[0] == 0x04))
        {
            axon_address_from_pubkey(got, pub + 1);
            CHECK(name, memcmp(got, addr, 20) == 0);
        }
    }

    memset(got, 0, sizeof(got));
    rc = axon_personal_recover(got, msg, mlen, sig, slen);

    if (strcmp(expect, "ok") == 0) {
        (*nok)++;
        CHECK_RC(name, rc, AXON_OK);
        CHECK(name, axon_memeq_ct(got, addr, 20));

    } else if (strcmp(expect, "mismatch") == 0) {
        CHECK_RC(name, rc, AXON_OK);
        CHECK(name, !axon_memeq_ct(got, addr, 20));

    } else if (!CHECK(name, strcmp(axon_strerror(rc), expect) == 0)) {
        printf("    got %s, want %s\n", axon_strerror(rc), expect);
    }

    free(mbuf);
}


static void
test_vectors(const char *path)
{
    size_t        i;
    json_t       *root;
    unsigned      nok, npub;
    json_error_t  err;

    root = json_load_file(path, JSON_ALLOW_NUL, &err);

    if (!CHECK("vectors load", root != NULL)) {
        printf("    %s:%d: %s\n", path, err.line, err.text);
        return;
    }

    nok = 0;
    npub = 0;

    if (CHECK("vectors array", json_is_array(root))) {
        for (i = 0; i < json_array_size(root); i++) {
            test_vector(json_array_get(root, i), i, &nok, &npub);
        }
    }

    /* an empty or truncated file must not pass quietly */

    CHECK("vectors: at least 40 good signatures", nok >= 40);
    CHECK("vectors: at least 20 public keys", npub >= 20);

    json_decref(root);
}


int
main(int argc, char **argv)
{
    int          i;
    const char  *vectors;

    vectors = NULL;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--vectors") == 0 && i + 1 < argc) {
            vectors = argv[++i];

        } else {
            fprintf(stderr, "usage: %s [--vectors FILE]\n", argv[0]);
            return 2;
        }
    }

    test_strerror();
    test_hex();
    test_keccak();
    test_eip55();
    test_pubkey();
    test_eip191();
    test_recover();
    test_memeq();

    if (vectors != NULL) {
        test_vectors(vectors);
    }

    printf("%u passed, %u failed\n", passed, failed);

    return failed ? 1 : 0;
}
