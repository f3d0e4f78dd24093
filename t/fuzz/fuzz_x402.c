
/*
 * libFuzzer: the x402 payment header (PAYMENT-SIGNATURE, X-PAYMENT): base64,
 * then JSON, then the EIP-3009 authorization and its signature.
 *
 * Two readers of it, the same input to each:
 *
 *  - axon-x402 (axon-worker/tools/axon-x402.c), the whole tool, included
 *    here with its main() renamed: libaxon's base64 decoder (axon_base64_decode()), jansson, the
 *    domain it takes from the payload or its options, libaxon's reader of
 *    the payload and ecrecover.
 *
 *  - the module's steps that do not need nginx, in its order: the
 *    header's base64 form (axon_x402_base64_form()),
 *    json_loadb(JSON_REJECT_DUPLICATES), libaxon's axon_x402_check()
 *    under fixed terms, json_dumps() of the payload as the script gets
 *    it; and, since fixed terms rarely let a mutated payload reach the
 *    signature, the authorization's fields (axon_x402_read_exact()) and
 *    axon_eip3009_recover() under the same domain whatever the offer
 *    says.  nginx's own ngx_decode_base64() is not linked outside nginx:
 *    libaxon's decoder stands in for it, after the form check.
 */


#define main  axon_x402_main
#include "../../axon-worker/tools/axon-x402.c"
#undef main

#include "axon_x402.h"
#include "fuzz.h"


static uint8_t            fz_domain[32];
static axon_x402_terms_t  fz_terms;


static void
fz_module(const char *h, size_t hlen)
{
    char                 *text;
    size_t                n, k;
    json_t               *payload;
    uint8_t              *raw, signer[20];
    uint64_t              u;
    int                   rc;
    const char           *code, *why;
    axon_x402_payment_t   p;

    /* the module's form check: standard alphabet, padded to 4 */

    if (!axon_x402_base64_form(h, hlen)) {
        return;
    }

    raw = malloc(hlen / 4 * 3 + 2);
    FZ_ASSERT(raw != NULL);

    /* what passed the module's check is base64 the decoder reads */
    FZ_ASSERT(axon_base64_decode(raw, &n, h, hlen, 0) == AXON_OK);
    FZ_ASSERT(n <= hlen / 4 * 3);

    payload = json_loadb((char *) raw, n, JSON_REJECT_DUPLICATES, NULL);
    free(raw);

    if (!json_is_object(payload)) {
        json_decref(payload);
        return;
    }

    rc = axon_x402_check(&p, payload, &fz_terms, 1700000000, &code, &why);
    FZ_ASSERT(rc == AXON_X402_OK || why != NULL);
    FZ_ASSERT(rc != AXON_X402_REFUSED || code != NULL);

    memset(&p, 0, sizeof(p));
    rc = axon_x402_read_exact(&p, json_object_get(payload, "payload"), &why);
    FZ_ASSERT(rc == AXON_X402_OK ? p.read && p.field == NULL
                                 : why != NULL && !p.read);

    if (rc != AXON_X402_OK
        || !json_is_object(json_object_get(payload, "accepted")))
    {
        goto done;
    }

    (void) axon_uint256_to_u64(&u, p.auth.valid_after);
    (void) axon_uint256_to_u64(&u, p.auth.valid_before);

    if (axon_eip3009_recover(signer, fz_domain, AXON_EIP3009_TRANSFER,
                             &p.auth, p.sig, p.siglen)
        == AXON_OK)
    {
        (void) axon_memeq_ct(signer, p.auth.from, 20);
    }

    text = json_dumps(payload, JSON_COMPACT);
    FZ_ASSERT(text != NULL);
    k = strlen(text);
    FZ_ASSERT(k > 0);
    free(text);

done:

    json_decref(payload);
}


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    uint8_t  usdc[20];

    /* the tool writes one line of JSON a run */
    FZ_ASSERT(freopen("/dev/null", "w", stdout) != NULL);

    FZ_ASSERT(axon_address_parse(usdc,
                  "0xe78A0F7E598Cc8b0Bb87894B0F60dD2a88d6a8Ab", 42)
              == AXON_OK);
    axon_eip712_domain_separator(fz_domain, "USD Coin", 8, "2", 1, 1337,
                                 usdc);

    fz_terms.network = "eip155:1337";
    fz_terms.network_len = sizeof("eip155:1337") - 1;
    memcpy(fz_terms.asset, usdc, 20);
    memcpy(fz_terms.pay_to, usdc, 20);
    fz_terms.amount = "1000";
    fz_terms.domain = fz_domain;
    fz_terms.max_timeout = 300;

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int    rc;
    char  *h, *argv[12];

    h = malloc(size + 1);
    FZ_ASSERT(h != NULL);
    memcpy(h, data, size);
    h[size] = '\0';

    fz_module(h, size);

    /* the tool on the header; odd first bytes with a domain of options */

    if (size > 0 && memchr(h, '\0', size) == NULL) {
        argv[0] = (char *) "axon-x402";

        if (data[0] & 1) {
            argv[1] = (char *) "-n";
            argv[2] = (char *) "USD Coin";
            argv[3] = (char *) "-v";
            argv[4] = (char *) "2";
            argv[5] = (char *) "-i";
            argv[6] = (char *) "1337";
            argv[7] = (char *) "-a";
            argv[8] = (char *) "0xe78A0F7E598Cc8b0Bb87894B0F60dD2a88d6a8Ab";
            argv[9] = h;
            argv[10] = NULL;
            rc = 10;

        } else {
            argv[1] = h;
            argv[2] = NULL;
            rc = 2;
        }

        /* a run of the tool starts as a process would: getopt() over
         * (glibc: optind 0), no JSON left from the last run (the tool
         * frees it but keeps the pointer: once a process, no matter) */
        optind = 0;
        ax_root = NULL;
        rc = axon_x402_main(rc, argv);
        FZ_ASSERT(rc >= 0 && rc <= 2);
    }

    free(h);

    return 0;
}
