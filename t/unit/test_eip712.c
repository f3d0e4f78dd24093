
/*
 * Unit tests for libaxon/axon_eip712.h: EIP-712 hashing of EIP-3009
 * authorizations, signer recovery (uint256 decimal strings: test_u256).
 *
 * usage: test_eip712 [--vectors FILE]
 *
 * scripts/run-unit passes FILE = $BUILD/ethers-vectors.json (made for
 * test_eth); this test reads eip712-vectors.json next to it, the JSON array
 * printed by t/js/eip712-vectors.mjs (signatures made at test time by
 * ethers and by the x402 SDK's EVM client).  Each failed check prints
 * "file:line: FAIL case: detail"; the last line is "N passed, N failed".
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "axon_eip712.h"
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
static void unaddr(uint8_t dst[20], const char *src);

static void test_fixed(void);
static void test_vectors(const char *path);
static void test_vector(json_t *v, size_t i, unsigned *nok, unsigned *nsdk);


/*
 * mainnet USDC's DOMAIN_SEPARATOR() (name "USD Coin", version "2", chain 1,
 * 0xA0b8...eB48): what the contract itself answers, and ethers'
 * TypedDataEncoder.hashDomain()
 */

static const char  usdc_mainnet[] =
    "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48";
static const char  usdc_mainnet_domain[] =
    "06c37168a7db5138defc7866392bb87a741f9b3d104deb5094588ce041cae335";

/*
 * ethers v6 Wallet(0x4f3edf98...15b23b1d).signTypedData() of this
 * TransferWithAuthorization under {USD Coin, 2, 1337, 0xe78A...a8Ab} (the
 * local chain's test USDC as chain/deploy.mjs first deploys it; its
 * DOMAIN_SEPARATOR() answered the same separator)
 */

static const char  fixed_contract[] =
    "0xe78A0F7E598Cc8b0Bb87894B0F60dD2a88d6a8Ab";
static const char  fixed_from[] = "0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1";
static const char  fixed_to[] = "0xFFcf8FDEE72ac11b5c542428B35EEF5769C409f0";
static const char  fixed_nonce[] =
    "0xf3b7068659d531cbc18f36a0e843888a3926f85928de7c9136d39c5373bf5a07";
static const char  fixed_domain[] =
    "1d7ef952176eb45b512721223d2c5c7437de4d5196223b393bb4a4ebf439901a";
static const char  fixed_struct[] =
    "0e6ee4fdede02b0722ab0ea740fca2e838ff19473f3f937472195505388461a1";
static const char  fixed_digest[] =
    "192952aa51cbf842107acac4bdbe7008b54b80f96ea3fc7dfa94ae7dc414f403";
static const char  fixed_sig[] =
    "0xcdd563d0213fd16319fe5b116b6afeac43c0a51564ff3726fdaf2037c86fe384"
    "7df3b8a120fea877fc15bd088296c5c27f5942542096ad0292ea4a20e1de415e1b";


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
    char  buf[2 * 32 + 1], what[2 * 2 * 32 + 32];

    if (n > 32) {
        return check(file, line, name, 0, "check_hex: n > 32");
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


/* decode known-good fixtures; a bad fixture is a bug in this file */

static void
unhex(uint8_t *dst, size_t n, const char *src)
{
    if (axon_hex_decode(dst, n, src, strlen(src)) != AXON_OK) {
        fprintf(stderr, "bad hex fixture: %s\n", src);
        abort();
    }
}


static void
unaddr(uint8_t dst[20], const char *src)
{
    if (axon_address_parse(dst, src, strlen(src)) != AXON_OK) {
        fprintf(stderr, "bad address fixture: %s\n", src);
        abort();
    }
}


static void
test_fixed(void)
{
    uint8_t              contract[20], domain[32], h[32], got[20];
    axon_eip3009_auth_t  a;

    unaddr(contract, usdc_mainnet);
    axon_eip712_domain_separator(domain, "USD Coin", 8, "2", 1, 1, contract);
    CHECK_HEX("mainnet USDC domain", domain, 32, usdc_mainnet_domain);

    unaddr(contract, fixed_contract);
    axon_eip712_domain_separator(domain, "USD Coin", 8, "2", 1, 1337,
                                 contract);
    CHECK_HEX("fixed domain", domain, 32, fixed_domain);

    memset(&a, 0, sizeof(a));
    unaddr(a.from, fixed_from);
    unaddr(a.to, fixed_to);
    axon_uint256_parse_dec(a.value, "1500000", 7);
    axon_uint256_parse_dec(a.valid_after, "0", 1);
    axon_uint256_parse_dec(a.valid_before, "1795443584", 10);
    unhex(a.nonce, 32, fixed_nonce);

    axon_eip3009_struct_hash(h, AXON_EIP3009_TRANSFER, &a);
    CHECK_HEX("fixed struct", h, 32, fixed_struct);

    axon_eip3009_digest(h, domain, AXON_EIP3009_TRANSFER, &a);
    CHECK_HEX("fixed digest", h, 32, fixed_digest);

    if (CHECK_RC("fixed recover",
                 axon_eip3009_recover(got, domain, AXON_EIP3009_TRANSFER, &a,
                                      fixed_sig, strlen(fixed_sig)),
                 AXON_OK))
    {
        CHECK("fixed signer", memcmp(got, a.from, 20) == 0);
    }

    /* no prefix is fine; a ReceiveWithAuthorization reading is another
     * signer */

    if (CHECK_RC("no 0x", axon_eip3009_recover(got, domain,
                                               AXON_EIP3009_TRANSFER, &a,
                                               fixed_sig + 2,
                                               strlen(fixed_sig) - 2),
                 AXON_OK))
    {
        CHECK("no 0x signer", memcmp(got, a.from, 20) == 0);
    }

    if (CHECK_RC("as receive", axon_eip3009_recover(got, domain,
                                                    AXON_EIP3009_RECEIVE, &a,
                                                    fixed_sig,
                                                    strlen(fixed_sig)),
                 AXON_OK))
    {
        CHECK("as receive: another signer", memcmp(got, a.from, 20) != 0);
    }

    /* the nonce is signed: one bit off, another signer */

    a.nonce[31] ^= 1;

    if (CHECK_RC("nonce bit", axon_eip3009_recover(got, domain,
                                                   AXON_EIP3009_TRANSFER, &a,
                                                   fixed_sig,
                                                   strlen(fixed_sig)),
                 AXON_OK))
    {
        CHECK("nonce bit: another signer", memcmp(got, a.from, 20) != 0);
    }
}


static void
test_vector(json_t *v, size_t i, unsigned *nok, unsigned *nsdk)
{
    int                  rc, want;
    char                 name[160];
    size_t               len;
    uint8_t              contract[20], domain[32], h[32], signer[20],
                         got[20];
    json_t              *d, *m;
    const char          *s, *kind, *sig, *expect, *dname, *dversion;
    json_int_t           chain;
    axon_eip3009_auth_t  a;
    axon_eip3009_kind_e  k;

    s = json_string_value(json_object_get(v, "name"));
    snprintf(name, sizeof(name), "vector #%zu %s", i, s ? s : "");

    d = json_object_get(v, "domain");
    m = json_object_get(v, "message");
    kind = json_string_value(json_object_get(v, "kind"));
    sig = json_string_value(json_object_get(v, "signature"));
    expect = json_string_value(json_object_get(v, "expect"));
    dname = json_string_value(json_object_get(d, "name"));
    dversion = json_string_value(json_object_get(d, "version"));

    if (!CHECK(name, json_is_object(d) && json_is_object(m) && kind && sig
                     && expect && dname && dversion
                     && json_is_integer(json_object_get(d, "chainId"))))
    {
        return;
    }

    chain = json_integer_value(json_object_get(d, "chainId"));
    k = strcmp(kind, "receive") == 0 ? AXON_EIP3009_RECEIVE
                                     : AXON_EIP3009_TRANSFER;

    s = json_string_value(json_object_get(d, "verifyingContract"));
    if (!CHECK_RC(name, axon_address_parse(contract, s, s ? strlen(s) : 0),
                  AXON_OK))
    {
        return;
    }

    axon_eip712_domain_separator(domain, dname,
        json_string_length(json_object_get(d, "name")), dversion,
        json_string_length(json_object_get(d, "version")),
        (uint64_t) chain, contract);

    s = json_string_value(json_object_get(v, "domain_separator"));
    CHECK_HEX(name, domain, 32, s ? s : "");

    /* the message as x402 carries it: addresses, decimal strings, hex */

    rc = AXON_OK;

#define FIELD(key, parse, dst, n)                                            \
    s = json_string_value(json_object_get(m, key));                          \
    len = s ? strlen(s) : 0;                                                 \
    if (rc == AXON_OK) {                                                     \
        rc = parse(dst, n, s ? s : "", len);                                 \
    }

#define ADDR(dst, n, s, len)  axon_address_parse(dst, s, len)
#define DEC(dst, n, s, len)   axon_uint256_parse_dec(dst, s, len)

    FIELD("from", ADDR, a.from, 20)
    FIELD("to", ADDR, a.to, 20)
    FIELD("value", DEC, a.value, 32)
    FIELD("validAfter", DEC, a.valid_after, 32)
    FIELD("validBefore", DEC, a.valid_before, 32)
    FIELD("nonce", axon_hex_decode, a.nonce, 32)

#undef FIELD
#undef ADDR
#undef DEC

    if (!CHECK_RC(name, rc, AXON_OK)) {
        return;
    }

    axon_eip3009_struct_hash(h, k, &a);
    s = json_string_value(json_object_get(v, "struct_hash"));
    CHECK_HEX(name, h, 32, s ? s : "");

    axon_eip3009_digest(h, domain, k, &a);
    s = json_string_value(json_object_get(v, "digest"));
    CHECK_HEX(name, h, 32, s ? s : "");

    s = json_string_value(json_object_get(v, "signer"));
    if (!CHECK_RC(name, axon_address_parse(signer, s, s ? strlen(s) : 0),
                  AXON_OK))
    {
        return;
    }

    rc = axon_eip3009_recover(got, domain, k, &a, sig,
                              json_string_length(json_object_get(v,
                                                                 "signature")));

    if (strcmp(expect, "ok") == 0) {
        if (CHECK_RC(name, rc, AXON_OK)
            && CHECK(name, memcmp(got, signer, 20) == 0))
        {
            (*nok)++;

            if (strstr(name, "x402 sdk") != NULL) {
                (*nsdk)++;
            }
        }

    } else if (strcmp(expect, "mismatch") == 0) {
        if (CHECK_RC(name, rc, AXON_OK)) {
            CHECK(name, memcmp(got, signer, 20) != 0);
        }

    } else {
        for (want = 0; want > -100; want--) {
            if (strcmp(axon_strerror(want), expect) == 0) {
                break;
            }
        }

        if (CHECK(name, want > -100)) {
            CHECK_RC(name, rc, want);
        }
    }
}


static void
test_vectors(const char *path)
{
    char          file[4096];
    size_t        i, dir;
    json_t       *root;
    unsigned      nok, nsdk;
    const char   *slash;
    json_error_t  err;

    /* eip712-vectors.json in the directory of path */

    slash = strrchr(path, '/');
    dir = slash ? (size_t) (slash - path + 1) : 0;

    if (!CHECK("vectors path", dir + sizeof("eip712-vectors.json")
                               <= sizeof(file)))
    {
        return;
    }

    memcpy(file, path, dir);
    memcpy(file + dir, "eip712-vectors.json", sizeof("eip712-vectors.json"));

    root = json_load_file(file, 0, &err);

    if (!CHECK("vectors load", root != NULL)) {
        printf("    %s:%d: %s\n", file, err.line, err.text);
        return;
    }

    nok = 0;
    nsdk = 0;

    if (CHECK("vectors array", json_is_array(root))) {
        for (i = 0; i < json_array_size(root); i++) {
            test_vector(json_array_get(root, i), i, &nok, &nsdk);
        }
    }

    /* an empty or truncated file must not pass quietly */

    CHECK("vectors: at least 24 good signatures", nok >= 24);
    CHECK("vectors: at least 8 by the x402 SDK", nsdk >= 8);

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

    test_fixed();

    if (vectors != NULL) {
        test_vectors(vectors);
    }

    printf("%u passed, %u failed\n", passed, failed);

    return failed != 0;
}
