/*
 * Unit tests for libaxon/axon_x402.h: the check of an x402 payment, case
 * by case in the order the checks run, with authorizations signed here
 * (libsecp256k1) so each case can change one field and sign again.
 * Recovery itself is checked against ethers and the x402 SDK in
 * test_eip712.  The last line is "N passed, N failed".
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include "axon_x402.h"


#define NOW        1700000000ULL
#define NETWORK    "eip155:8453"
#define ASSET      "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
#define PAY_TO     "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
#define AMOUNT     "1000000"
#define NONCE      "0x" "f3746613c2d920b5fdabc0856f2aeb2d4f88ee6037b8cc5d04a71a4462f13480"

#define EXPECT(name, payload, want_rc, want_code, want_why)                  \
    expect(__LINE__, name, payload, want_rc, want_code, want_why)


typedef struct {
    const char   *scheme;
    const char   *network;
    const char   *amount;        /* accepted's */
    const char   *to;
    const char   *value;
    uint64_t      after;
    uint64_t      before;
    const char   *nonce;
    int           version;
    int           other_signer;
    int           bad_signature;
} pay_t;


static void expect(int line, const char *name, json_t *payload, int want_rc,
    const char *want_code, const char *want_why);
static json_t *payment(const pay_t *p);
static void sign(char *out, const uint8_t key[32],
    const axon_eip3009_auth_t *a);
static void test_checks(void);
static void test_read_exact(void);
static void v1_case(int line, const char *name, const char *scheme,
    const char *network, int drop_payload, const char *network_name,
    int want_rc, const char *want_code);
static void test_v1(void);
static void test_base64_form(void);
static void test_base64_decode(void);


static unsigned                    passed, failed;
static secp256k1_context          *ctx;
static uint8_t                     domain[32];
static axon_x402_terms_t           terms;
static const uint8_t               key[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
static const uint8_t               other[32] = { 9, 8, 7, 6, 5, 4, 3, 2, 1 };
static char                        payer[AXON_ADDR_TEXT_LEN + 1];


int
main(int argc, char **argv)
{
    uint8_t                    pub[65], addr[AXON_ADDR_LEN];
    size_t                     len;
    secp256k1_pubkey           pk;

    ctx = secp256k1_context_create(SECP256K1_CONTEXT_SIGN
                                   | SECP256K1_CONTEXT_VERIFY);

    if (!secp256k1_ec_pubkey_create(ctx, &pk, key)) {
        printf("0 passed, 1 failed\n");
        return 1;
    }

    len = sizeof(pub);
    secp256k1_ec_pubkey_serialize(ctx, pub, &len, &pk,
                                  SECP256K1_EC_UNCOMPRESSED);
    axon_address_from_pubkey(addr, pub + 1);
    axon_address_format(payer, addr);
    payer[AXON_ADDR_TEXT_LEN] = '\0';

    (void) axon_address_parse(addr, ASSET, sizeof(ASSET) - 1);
    axon_eip712_domain_separator(domain, "USD Coin", 8, "2", 1, 8453, addr);

    terms.network = NETWORK;
    terms.network_len = sizeof(NETWORK) - 1;
    (void) axon_address_parse(terms.asset, ASSET, sizeof(ASSET) - 1);
    (void) axon_address_parse(terms.pay_to, PAY_TO, sizeof(PAY_TO) - 1);
    terms.amount = AMOUNT;
    terms.domain = domain;
    terms.max_timeout = 300;

    test_checks();
    test_read_exact();
    test_v1();
    test_base64_form();
    test_base64_decode();

    secp256k1_context_destroy(ctx);

    printf("%u passed, %u failed\n", passed, failed);

    return failed ? 1 : 0;
}


static void
test_checks(void)
{
    pay_t                good = { "exact", NETWORK, AMOUNT, PAY_TO, AMOUNT,
                                  NOW - 10, NOW + 200, NONCE, 2, 0, 0 };
    pay_t                p;
    json_t              *j;
    const char          *code, *why;
    axon_x402_payment_t  out;

    j = payment(&good);

    if (axon_x402_check(&out, j, &terms, NOW, &code, &why) == AXON_X402_OK
        && strcmp(out.nonce, NONCE) == 0 && out.valid_before == NOW + 200
        && out.read)
    {
        passed++;

    } else {
        failed++;
        printf("%s:%d: FAIL good payment: %s %s\n", __FILE__, __LINE__,
               code ? code : "-", why ? why : "-");
    }

    json_decref(j);

    /* the reader alone: a payment past its time still reads */

    p = good; p.before = NOW - 100;
    j = payment(&p);

    if (axon_x402_read(&out, j, &code, &why) == AXON_X402_OK
        && out.read && out.siglen == AXON_SIG_TEXT_LEN
        && strncmp(out.sig, "0x", 2) == 0
        && json_is_object(out.accepted) && strcmp(out.nonce, NONCE) == 0)
    {
        passed++;

    } else {
        failed++;
        printf("%s:%d: FAIL read: %s\n", __FILE__, __LINE__,
               why ? why : "-");
    }

    json_decref(j);

    p = good; p.value = "1000001";
    EXPECT("more than the price", payment(&p), AXON_X402_OK, NULL, NULL);

    p = good; p.version = 1;
    EXPECT("version 1", payment(&p), AXON_X402_REFUSED,
           "invalid_x402_version", NULL);

    j = payment(&good);
    json_object_del(json_object_get(j, "payload"), "signature");
    EXPECT("no signature", j, AXON_X402_MALFORMED, NULL,
           "the payload needs \"accepted\" and \"payload\": "
           "{\"authorization\", \"signature\"}");

    j = payment(&good);
    json_object_del(j, "accepted");
    EXPECT("no accepted", j, AXON_X402_MALFORMED, NULL, NULL);

    j = payment(&good);
    json_object_set_new(json_object_get(json_object_get(j, "payload"),
                                        "authorization"),
                        "from", json_string("0x1234"));
    EXPECT("bad from", j, AXON_X402_MALFORMED, NULL,
           "authorization.from and .to must be addresses");

    j = payment(&good);
    json_object_set_new(json_object_get(json_object_get(j, "payload"),
                                        "authorization"),
                        "validAfter", json_integer(5));
    EXPECT("validAfter a number", j, AXON_X402_MALFORMED, NULL,
           "authorization.value, .validAfter and .validBefore must be "
           "decimal strings");

    p = good; p.nonce = "0x1234";
    EXPECT("short nonce", payment(&p), AXON_X402_MALFORMED, NULL,
           "authorization.nonce must be 0x and 64 hex digits");

    p = good; p.scheme = "upto";
    EXPECT("scheme", payment(&p), AXON_X402_REFUSED,
           "invalid_exact_evm_scheme", NULL);

    p = good; p.network = "eip155:1";
    EXPECT("network", payment(&p), AXON_X402_REFUSED,
           "invalid_exact_evm_network_mismatch", NULL);

    p = good; p.amount = "999999";
    EXPECT("accepted amount", payment(&p), AXON_X402_REFUSED,
           "no_matching_payment_requirements", NULL);

    p = good; p.to = ASSET;
    EXPECT("to", payment(&p), AXON_X402_REFUSED,
           "invalid_exact_evm_recipient_mismatch", NULL);

    p = good; p.value = "999999";
    EXPECT("value", payment(&p), AXON_X402_REFUSED,
           "invalid_exact_evm_payload_authorization_value_mismatch", NULL);

    p = good; p.after = NOW + 1;
    EXPECT("not valid yet", payment(&p), AXON_X402_REFUSED,
           "invalid_exact_evm_payload_authorization_valid_after", NULL);

    p = good; p.before = NOW + AXON_X402_MARGIN - 1;
    EXPECT("expires too soon", payment(&p), AXON_X402_REFUSED,
           "invalid_exact_evm_payload_authorization_valid_before",
           "the authorization has expired or expires too soon");

    p = good; p.before = NOW + AXON_X402_MARGIN;
    EXPECT("expires at the margin", payment(&p), AXON_X402_OK, NULL, NULL);

    p = good; p.before = NOW + 300 + AXON_X402_SKEW + 1;
    EXPECT("valid too long", payment(&p), AXON_X402_REFUSED,
           "invalid_exact_evm_payload_authorization_valid_before",
           "the authorization is valid for longer than maxTimeoutSeconds");

    p = good; p.before = NOW + 300 + AXON_X402_SKEW;
    EXPECT("valid for the longest", payment(&p), AXON_X402_OK, NULL, NULL);

    p = good; p.other_signer = 1;
    EXPECT("another signer", payment(&p), AXON_X402_REFUSED,
           "invalid_exact_evm_signature",
           "the signature is not by authorization.from");

    p = good; p.bad_signature = 1;
    EXPECT("malformed signature", payment(&p), AXON_X402_REFUSED,
           "invalid_exact_evm_signature", "the signature is malformed");
}


/*
 * The exact payload alone, as in version 1 as in 2: what it reads, and
 * which field failed with what code.
 */

static void
test_read_exact(void)
{
    static const struct {
        const char  *key;        /* the field removed; NULL: none */
        const char  *field;      /* the field named; NULL: it reads */
    } cases[] = {
        { NULL, NULL }, { "value", "value" }, { "to", "to" },
        { "from", "from" }, { "nonce", "nonce" }
    };

    pay_t                good = { "exact", NETWORK, AMOUNT, PAY_TO, AMOUNT,
                                  NOW - 10, NOW + 200, NONCE, 1, 0, 0 };
    size_t               i;
    json_t              *j, *exact, *auth;
    const char          *why;
    axon_x402_payment_t  out;

    static const struct {
        const char  *key;
        const char  *value;
        int          err;
    } bad[] = {
        { "from", "0x1234", AXON_ERR_LEN },
        { "to", "0X209693BC6AFC0C5328BA36FAF03C514EF312287C", AXON_ERR_HEX },
        { "to", "0x209693bc6afc0C5328bA36FaF03C514EF312287C",
          AXON_ERR_CHECKSUM },
        { "value", "0100", AXON_ERR_NUMBER },
        { "validAfter", "-1", AXON_ERR_NUMBER },
        { "validBefore", "1e9", AXON_ERR_NUMBER },
        { "nonce", "0x1234", AXON_ERR_LEN },
        { "nonce", "0X" "f3746613c2d920b5fdabc0856f2aeb2d4f88ee6037b8cc5d04a7"
                   "1a4462f13480", AXON_ERR_LEN },
        { "nonce", "0x" "g3746613c2d920b5fdabc0856f2aeb2d4f88ee6037b8cc5d04a7"
                   "1a4462f13480", AXON_ERR_HEX }
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        j = payment(&good);
        exact = json_object_get(j, "payload");
        auth = json_object_get(exact, "authorization");

        if (cases[i].key) {
            json_object_del(auth, cases[i].key);
        }

        memset(&out, 0, sizeof(out));

        if (axon_x402_read_exact(&out, exact, &why)
            == (cases[i].field ? AXON_X402_MALFORMED : AXON_X402_OK)
            && (cases[i].field
                ? out.field && strcmp(out.field, cases[i].field) == 0
                  && out.err == 0 && why != NULL && !out.read
                : out.field == NULL && out.read
                  && strcmp(out.nonce, NONCE) == 0
                  && out.siglen == AXON_SIG_TEXT_LEN))
        {
            passed++;

        } else {
            failed++;
            printf("%s:%d: FAIL read_exact without %s\n", __FILE__,
                   __LINE__, cases[i].key ? cases[i].key : "nothing");
        }

        json_decref(j);
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        j = payment(&good);
        exact = json_object_get(j, "payload");
        auth = json_object_get(exact, "authorization");
        json_object_set_new(auth, bad[i].key, json_string(bad[i].value));

        memset(&out, 0, sizeof(out));

        if (axon_x402_read_exact(&out, exact, &why) == AXON_X402_MALFORMED
            && out.field && strcmp(out.field, bad[i].key) == 0
            && out.err == bad[i].err && why != NULL)
        {
            passed++;

        } else {
            failed++;
            printf("%s:%d: FAIL read_exact %s \"%s\": field %s, err %d\n",
                   __FILE__, __LINE__, bad[i].key, bad[i].value,
                   out.field ? out.field : "-", out.err);
        }

        json_decref(j);
    }

    /* no signature: the shape, no field */

    j = payment(&good);
    exact = json_object_get(j, "payload");
    json_object_del(exact, "signature");

    if (axon_x402_read_exact(&out, exact, &why) == AXON_X402_MALFORMED
        && out.field == NULL && why != NULL)
    {
        passed++;

    } else {
        failed++;
        printf("%s:%d: FAIL read_exact without a signature\n", __FILE__,
               __LINE__);
    }

    json_decref(j);
}


/*
 * Version 1: X-PAYMENT {x402Version: 1, scheme, network (a name),
 * payload} in version 2's form with the offer it pays, then the one
 * check; and the network names both ways.
 */

static void
v1_case(int line, const char *name, const char *scheme, const char *network,
    int drop_payload, const char *network_name, int want_rc,
    const char *want_code)
{
    pay_t                good = { "exact", NETWORK, AMOUNT, PAY_TO, AMOUNT,
                                  NOW - 600, NOW + 200, NONCE, 2, 0, 0 };
    int                  rc;
    json_t              *j, *accepted, *v2;
    const char          *code, *why;
    axon_x402_payment_t  out;

    j = payment(&good);
    accepted = json_incref(json_object_get(j, "accepted"));
    json_object_del(j, "accepted");
    json_object_set_new(j, "x402Version", json_integer(1));
    json_object_set_new(j, "scheme", json_string(scheme));
    json_object_set_new(j, "network", json_string(network));

    if (drop_payload) {
        json_object_del(j, "payload");
    }

    rc = axon_x402_from_v1(&v2, j, accepted, network_name, &code, &why);

    if (rc == AXON_X402_OK) {
        rc = axon_x402_check(&out, v2, &terms, NOW, &code, &why);
        json_decref(v2);
    }

    if (rc == want_rc
        && (want_code == NULL ? code == NULL
                              : code && strcmp(code, want_code) == 0)
        && (rc == AXON_X402_OK ? strcmp(out.nonce, NONCE) == 0
                               : why != NULL))
    {
        passed++;

    } else {
        failed++;
        printf("%s:%d: FAIL v1 %s: rc %d, %s (%s)\n", __FILE__, line, name,
               rc, code ? code : "-", why ? why : "-");
    }

    json_decref(accepted);
    json_decref(j);
}


static void
test_v1(void)
{
    v1_case(__LINE__, "good", "exact", "base", 0, "base", AXON_X402_OK,
            NULL);
    v1_case(__LINE__, "scheme", "upto", "base", 0, "base",
            AXON_X402_REFUSED, "invalid_exact_evm_scheme");
    v1_case(__LINE__, "network", "exact", "base-sepolia", 0, "base",
            AXON_X402_REFUSED, "invalid_exact_evm_network_mismatch");
    v1_case(__LINE__, "CAIP-2 network", "exact", NETWORK, 0, "base",
            AXON_X402_REFUSED, "invalid_exact_evm_network_mismatch");
    v1_case(__LINE__, "unnamed chain", "exact", "base", 0, NULL,
            AXON_X402_REFUSED, "invalid_exact_evm_network_mismatch");
    v1_case(__LINE__, "no payload", "exact", "base", 1, "base",
            AXON_X402_MALFORMED, NULL);

    if (axon_x402_network_name(84532)
        && strcmp(axon_x402_network_name(84532), "base-sepolia") == 0
        && strcmp(axon_x402_network_name(8453), "base") == 0
        && axon_x402_network_name(1337) == NULL
        && axon_x402_network_chain("base", 4) == 8453
        && axon_x402_network_chain("polygon", 7) == 137
        && axon_x402_network_chain("base-sepolia", 12) == 84532
        && axon_x402_network_chain("bas", 3) == 0
        && axon_x402_network_chain("eip155:8453", 11) == 0)
    {
        passed++;

    } else {
        failed++;
        printf("%s:%d: FAIL network names\n", __FILE__, __LINE__);
    }
}


static void
test_base64_form(void)
{
    static const struct {
        const char  *s;
        int          ok;
    } cases[] = {
        { "eyJhIjoxfQ==", 1 }, { "YWJj", 1 }, { "YWI=", 1 },
        { "", 0 }, { "YWJ", 0 }, { "YW==x", 0 }, { "Y===", 0 },
        { "YW-_", 0 }, { "YW=b", 0 }, { "YWJj\n", 0 }
    };

    size_t  i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (axon_x402_base64_form(cases[i].s, strlen(cases[i].s))
            == cases[i].ok)
        {
            passed++;

        } else {
            failed++;
            printf("%s:%d: FAIL base64 form \"%s\": want %d\n", __FILE__,
                   __LINE__, cases[i].s, cases[i].ok);
        }
    }
}


/*
 * axon_base64_decode() (axon_eth.h) as the tool reads a header: the
 * padding optional; then canonical, as an SSH key's must be.
 */

static void
test_base64_decode(void)
{
    static const struct {
        const char  *s;
        const char  *out;        /* NULL: not base64 */
        int          canonical;
    } cases[] = {
        { "eyJhIjoxfQ==", "{\"a\":1}", 0 }, { "eyJhIjoxfQ", "{\"a\":1}", 0 },
        { "YWJj", "abc", 0 }, { "YWI=", "ab", 0 }, { "YWI", "ab", 0 },
        { "YQ==", "a", 0 }, { "YQ", "a", 0 }, { "", "", 0 },
        { "Pz8+Pw==", "?\?>?", 0 }, { "YR==", "a", 0 }, { "YWJ=", "ab", 0 },
        { "Pz8_Pw==", NULL, 0 }, { "YWJj=", NULL, 0 }, { "YQ=", NULL, 0 },
        { "Y", NULL, 0 }, { "YWJjZ", NULL, 0 }, { "Y===", NULL, 0 },
        { "YW==x", NULL, 0 }, { "YWJj\n", NULL, 0 }, { "YW Jj", NULL, 0 },
        { "YQ==", "a", 1 }, { "YWI=", "ab", 1 }, { "YWJj", "abc", 1 },
        { "YQ", NULL, 1 }, { "YWI", NULL, 1 }, { "", NULL, 1 },
        { "YR==", NULL, 1 }, { "YWJ=", NULL, 1 }, { "====", NULL, 1 }
    };

    size_t   i, n;
    uint8_t  out[16];

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (cases[i].out == NULL
            ? axon_base64_decode(out, &n, cases[i].s, strlen(cases[i].s),
                                 cases[i].canonical) != AXON_OK
            : axon_base64_decode(out, &n, cases[i].s, strlen(cases[i].s),
                                 cases[i].canonical) == AXON_OK
              && n == strlen(cases[i].out)
              && memcmp(out, cases[i].out, n) == 0)
        {
            passed++;

        } else {
            failed++;
            printf("%s:%d: FAIL base64 decode \"%s\" (canonical %d)\n",
                   __FILE__, __LINE__, cases[i].s, cases[i].canonical);
        }
    }
}


static void
expect(int line, const char *name, json_t *payload, int want_rc,
    const char *want_code, const char *want_why)
{
    int                  rc;
    const char          *code, *why;
    axon_x402_payment_t  out;

    rc = axon_x402_check(&out, payload, &terms, NOW, &code, &why);
    json_decref(payload);

    if (rc == want_rc
        && (want_code == NULL || (code && strcmp(code, want_code) == 0))
        && (want_why == NULL || (why && strcmp(why, want_why) == 0))
        && (rc == AXON_X402_OK || why != NULL))
    {
        passed++;
        return;
    }

    failed++;
    printf("%s:%d: FAIL %s: rc %d (want %d), code %s, why %s\n", __FILE__,
           line, name, rc, want_rc, code ? code : "-", why ? why : "-");
}


/* a version 2 payload as the SDK sends it, signed by key (or other) */

static json_t *
payment(const pay_t *p)
{
    char                 sig[AXON_SIG_TEXT_LEN + 1], after[24], before[24];
    axon_eip3009_auth_t  a;

    snprintf(after, sizeof(after), "%llu", (unsigned long long) p->after);
    snprintf(before, sizeof(before), "%llu", (unsigned long long) p->before);

    memset(&a, 0, sizeof(a));
    (void) axon_address_parse(a.from, payer, strlen(payer));
    (void) axon_address_parse(a.to, p->to, strlen(p->to));
    (void) axon_uint256_parse_dec(a.value, p->value, strlen(p->value));
    axon_uint256_from_u64(a.valid_after, p->after);
    axon_uint256_from_u64(a.valid_before, p->before);
    (void) axon_hex_decode(a.nonce, 32, p->nonce, strlen(p->nonce));

    sign(sig, p->other_signer ? other : key, &a);

    if (p->bad_signature) {
        sig[AXON_SIG_TEXT_LEN - 2] = '0';        /* v = 0x?0: not 27/28 */
        sig[AXON_SIG_TEXT_LEN - 1] = '5';
    }

    return json_pack("{s:i, s:{s:s, s:s, s:s, s:s, s:s, s:i}, "
                     "s:{s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s}}}",
                     "x402Version", p->version,
                     "accepted",
                       "scheme", p->scheme, "network", p->network,
                       "asset", ASSET, "payTo", PAY_TO,
                       "amount", p->amount, "maxTimeoutSeconds", 300,
                     "payload",
                       "signature", sig,
                       "authorization",
                         "from", payer, "to", p->to, "value", p->value,
                         "validAfter", after, "validBefore", before,
                         "nonce", p->nonce);
}


static void
sign(char *out, const uint8_t k[32], const axon_eip3009_auth_t *a)
{
    int                                  recid;
    uint8_t                              digest[32], rs[65];
    secp256k1_ecdsa_recoverable_signature  s;

    axon_eip3009_digest(digest, domain, AXON_EIP3009_TRANSFER, a);

    (void) secp256k1_ecdsa_sign_recoverable(ctx, &s, digest, k, NULL, NULL);
    (void) secp256k1_ecdsa_recoverable_signature_serialize_compact(ctx, rs,
                                                                   &recid, &s);
    rs[64] = (uint8_t) (27 + recid);

    out[0] = '0';
    out[1] = 'x';
    axon_hex_encode(out + 2, rs, 65);
    out[AXON_SIG_TEXT_LEN] = '\0';
}
