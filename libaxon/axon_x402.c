/*
 * axon: the check of an x402 payment before anything is recorded
 * (axon_x402.h).
 */


#include <stddef.h>
#include <string.h>

#include "axon_x402.h"


#define AXON_X402_SHAPE                                                      \
    "the payload needs \"accepted\" and \"payload\": "                        \
    "{\"authorization\", \"signature\"}"

#define AXON_X402_WHY_ADDRESS                                                \
    "authorization.from and .to must be addresses"
#define AXON_X402_WHY_DECIMAL                                                \
    "authorization.value, .validAfter and .validBefore must be decimal "     \
    "strings"


/* the authorization's fields: each a key, a place in the auth, a type */

enum {
    AXON_X402_ADDRESS,
    AXON_X402_DECIMAL,
    AXON_X402_BYTES32
};

typedef struct {
    const char  *key;
    size_t       offset;
    int          type;
    const char  *why;
} axon_x402_field_t;


static const axon_x402_field_t  axon_x402_fields[] = {
    { "from", offsetof(axon_eip3009_auth_t, from), AXON_X402_ADDRESS,
      AXON_X402_WHY_ADDRESS },
    { "to", offsetof(axon_eip3009_auth_t, to), AXON_X402_ADDRESS,
      AXON_X402_WHY_ADDRESS },
    { "value", offsetof(axon_eip3009_auth_t, value), AXON_X402_DECIMAL,
      AXON_X402_WHY_DECIMAL },
    { "validAfter", offsetof(axon_eip3009_auth_t, valid_after),
      AXON_X402_DECIMAL, AXON_X402_WHY_DECIMAL },
    { "validBefore", offsetof(axon_eip3009_auth_t, valid_before),
      AXON_X402_DECIMAL, AXON_X402_WHY_DECIMAL },
    { "nonce", offsetof(axon_eip3009_auth_t, nonce), AXON_X402_BYTES32,
      "authorization.nonce must be 0x and 64 hex digits" },
    { NULL, 0, 0, NULL }
};


/* version 1's EVM networks, as the x402 package (1.x) names them */

typedef struct {
    const char  *name;
    uint64_t     chain_id;
} axon_x402_named_t;


static const axon_x402_named_t  axon_x402_named[] = {
    { "abstract", 2741 },
    { "abstract-testnet", 11124 },
    { "base-sepolia", 84532 },
    { "base", 8453 },
    { "avalanche-fuji", 43113 },
    { "avalanche", 43114 },
    { "iotex", 4689 },
    { "sei", 1329 },
    { "sei-testnet", 1328 },
    { "polygon", 137 },
    { "polygon-amoy", 80002 },
    { "peaq", 3338 },
    { "story", 1514 },
    { "educhain", 41923 },
    { "skale-base-sepolia", 324705682 },
    { NULL, 0 }
};


static int axon_x402_string(json_t *o, const char *key, const char **s,
    size_t *len);
static int axon_x402_field(const axon_x402_field_t *f, uint8_t *out,
    const char *s, size_t len);
static int axon_x402_accepted(json_t *accepted, const axon_x402_terms_t *t,
    const char **code, const char **why);
static int axon_x402_terms(axon_x402_payment_t *p,
    const axon_x402_terms_t *t, uint64_t now, const char **code,
    const char **why);


int
axon_x402_check(axon_x402_payment_t *p, json_t *payload,
    const axon_x402_terms_t *t, uint64_t now, const char **code,
    const char **why)
{
    int  rc;

    rc = axon_x402_read(p, payload, code, why);
    if (rc != AXON_X402_OK) {
        return rc;
    }

    rc = axon_x402_accepted(p->accepted, t, code, why);
    if (rc != AXON_X402_OK) {
        return rc;
    }

    return axon_x402_terms(p, t, now, code, why);
}


int
axon_x402_base64_form(const char *s, size_t len)
{
    size_t  n;

    for (n = 0; n < len; n++) {
        if (!((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z')
              || (s[n] >= '0' && s[n] <= '9') || s[n] == '+' || s[n] == '/'))
        {
            break;
        }
    }

    /* then at most "==" to the end */

    return !(len == 0 || len % 4 || len - n > 2
             || (n < len && s[n] != '=')
             || (n + 1 < len && s[n + 1] != '='));
}


static int
axon_x402_string(json_t *o, const char *key, const char **s, size_t *len)
{
    json_t  *v;

    v = json_object_get(o, key);

    if (!json_is_string(v)) {
        return 0;
    }

    *s = json_string_value(v);
    *len = json_string_length(v);

    return 1;
}


/* the version, the payload's shape, the authorization's fields */

int
axon_x402_read(axon_x402_payment_t *p, json_t *payload, const char **code,
    const char **why)
{
    json_t  *jv;

    memset(p, 0, sizeof(axon_x402_payment_t));

    *code = NULL;
    *why = NULL;

    jv = json_object_get(payload, "x402Version");

    if (!json_is_integer(jv) || json_integer_value(jv) != AXON_X402_VERSION)
    {
        *code = "invalid_x402_version";
        *why = "this gate speaks x402 version 2";
        return AXON_X402_REFUSED;
    }

    p->accepted = json_object_get(payload, "accepted");

    if (!json_is_object(p->accepted)) {
        *why = AXON_X402_SHAPE;
        return AXON_X402_MALFORMED;
    }

    return axon_x402_read_exact(p, json_object_get(payload, "payload"), why);
}


/* the exact payload's fields, in the order they are read */

int
axon_x402_read_exact(axon_x402_payment_t *p, json_t *exact, const char **why)
{
    size_t                   len;
    json_t                  *auth;
    const char              *s;
    const axon_x402_field_t *f;

    *why = NULL;

    p->field = NULL;
    p->err = 0;

    auth = json_object_get(exact, "authorization");

    if (!json_is_object(auth)
        || !axon_x402_string(exact, "signature", &p->sig, &p->siglen))
    {
        *why = AXON_X402_SHAPE;
        return AXON_X402_MALFORMED;
    }

    for (f = axon_x402_fields; f->key; f++) {
        p->field = f->key;

        if (!axon_x402_string(auth, f->key, &s, &len)) {
            *why = f->why;
            return AXON_X402_MALFORMED;
        }

        p->err = axon_x402_field(f, (uint8_t *) &p->auth + f->offset, s,
                                 len);

        if (p->err != AXON_OK) {
            *why = f->why;
            return AXON_X402_MALFORMED;
        }
    }

    p->field = NULL;

    p->nonce[0] = '0';
    p->nonce[1] = 'x';
    axon_hex_encode(p->nonce + 2, p->auth.nonce, 32);
    p->nonce[AXON_X402_NONCE_LEN] = '\0';
    p->read = 1;

    return AXON_X402_OK;
}


/* one field into out: an AXON_* code */

static int
axon_x402_field(const axon_x402_field_t *f, uint8_t *out, const char *s,
    size_t len)
{
    switch (f->type) {

    case AXON_X402_ADDRESS:
        return axon_address_parse(out, s, len);

    case AXON_X402_DECIMAL:
        return axon_uint256_parse_dec(out, s, len);

    default: /* AXON_X402_BYTES32 */
        if (len != AXON_X402_NONCE_LEN || s[0] != '0' || s[1] != 'x') {
            return AXON_ERR_LEN;
        }

        return axon_hex_decode(out, 32, s, len);
    }
}


/* the offer it accepted: ours, exactly */

static int
axon_x402_accepted(json_t *accepted, const axon_x402_terms_t *t,
    const char **code, const char **why)
{
    size_t       len;
    uint8_t      addr[AXON_ADDR_LEN];
    const char  *s;

    if (!axon_x402_string(accepted, "scheme", &s, &len)
        || len != 5 || memcmp(s, "exact", 5) != 0)
    {
        *code = "invalid_exact_evm_scheme";
        *why = "the scheme must be \"exact\"";
        return AXON_X402_REFUSED;
    }

    if (!axon_x402_string(accepted, "network", &s, &len)
        || len != t->network_len || memcmp(s, t->network, len) != 0)
    {
        *code = "invalid_exact_evm_network_mismatch";
        *why = "the payment is for another network";
        return AXON_X402_REFUSED;
    }

    if (!axon_x402_string(accepted, "asset", &s, &len)
        || axon_address_parse(addr, s, len) != AXON_OK
        || !axon_memeq_ct(addr, t->asset, AXON_ADDR_LEN)
        || !axon_x402_string(accepted, "payTo", &s, &len)
        || axon_address_parse(addr, s, len) != AXON_OK
        || !axon_memeq_ct(addr, t->pay_to, AXON_ADDR_LEN)
        || !axon_x402_string(accepted, "amount", &s, &len)
        || len != strlen(t->amount) || memcmp(s, t->amount, len) != 0)
    {
        *code = "no_matching_payment_requirements";
        *why = "\"accepted\" is not this offer (asset, amount or payTo)";
        return AXON_X402_REFUSED;
    }

    return AXON_X402_OK;
}


/* the authorization against our terms, then its signer */

static int
axon_x402_terms(axon_x402_payment_t *p, const axon_x402_terms_t *t,
    uint64_t now, const char **code, const char **why)
{
    int       rc;
    uint8_t   amount[32], signer[AXON_ADDR_LEN];
    uint64_t  after;

    if (!axon_memeq_ct(p->auth.to, t->pay_to, AXON_ADDR_LEN)) {
        *code = "invalid_exact_evm_recipient_mismatch";
        *why = "authorization.to is not this gate's payTo";
        return AXON_X402_REFUSED;
    }

    if (axon_uint256_parse_dec(amount, t->amount, strlen(t->amount))
        != AXON_OK
        || axon_uint256_cmp(p->auth.value, amount) < 0)
    {
        *code = "invalid_exact_evm_payload_authorization_value_mismatch";
        *why = "authorization.value is less than the price";
        return AXON_X402_REFUSED;
    }

    if (axon_uint256_to_u64(&after, p->auth.valid_after) != AXON_OK
        || after > now)
    {
        *code = "invalid_exact_evm_payload_authorization_valid_after";
        *why = "the authorization is not valid yet";
        return AXON_X402_REFUSED;
    }

    if (axon_uint256_to_u64(&p->valid_before, p->auth.valid_before)
        != AXON_OK
        || p->valid_before < now + AXON_X402_MARGIN)
    {
        *code = "invalid_exact_evm_payload_authorization_valid_before";
        *why = "the authorization has expired or expires too soon";
        return AXON_X402_REFUSED;
    }

    if (p->valid_before > now + t->max_timeout + AXON_X402_SKEW) {
        *code = "invalid_exact_evm_payload_authorization_valid_before";
        *why = "the authorization is valid for longer than "
               "maxTimeoutSeconds";
        return AXON_X402_REFUSED;
    }

    rc = axon_eip3009_recover(signer, t->domain, AXON_EIP3009_TRANSFER,
                              &p->auth, p->sig, p->siglen);

    if (rc != AXON_OK
        || !axon_memeq_ct(signer, p->auth.from, AXON_ADDR_LEN))
    {
        *code = "invalid_exact_evm_signature";
        *why = rc != AXON_OK ? "the signature is malformed"
                             : "the signature is not by authorization.from";
        return AXON_X402_REFUSED;
    }

    *code = NULL;

    return AXON_X402_OK;
}


const char *
axon_x402_network_name(uint64_t chain_id)
{
    const axon_x402_named_t  *n;

    for (n = axon_x402_named; n->name; n++) {
        if (n->chain_id == chain_id) {
            return n->name;
        }
    }

    return NULL;
}


uint64_t
axon_x402_network_chain(const char *name, size_t len)
{
    const axon_x402_named_t  *n;

    for (n = axon_x402_named; n->name; n++) {
        if (strlen(n->name) == len && memcmp(n->name, name, len) == 0) {
            return n->chain_id;
        }
    }

    return 0;
}


int
axon_x402_from_v1(json_t **v2, json_t *v1, json_t *accepted,
    const char *network_name, const char **code, const char **why)
{
    size_t       len;
    json_t      *exact;
    const char  *s;

    *v2 = NULL;
    *code = NULL;
    *why = NULL;

    if (!axon_x402_string(v1, "scheme", &s, &len)
        || len != 5 || memcmp(s, "exact", 5) != 0)
    {
        *code = "invalid_exact_evm_scheme";
        *why = "the scheme must be \"exact\"";
        return AXON_X402_REFUSED;
    }

    if (network_name == NULL
        || !axon_x402_string(v1, "network", &s, &len)
        || len != strlen(network_name) || memcmp(s, network_name, len) != 0)
    {
        *code = "invalid_exact_evm_network_mismatch";
        *why = "the payment is for another network";
        return AXON_X402_REFUSED;
    }

    exact = json_object_get(v1, "payload");

    if (!json_is_object(exact) || !json_is_object(accepted)) {
        *why = "a version 1 payment needs \"payload\": "
               "{\"authorization\", \"signature\"}";
        return AXON_X402_MALFORMED;
    }

    *v2 = json_pack("{s:i, s:O, s:O}", "x402Version", AXON_X402_VERSION,
                    "accepted", accepted, "payload", exact);

    if (*v2 == NULL) {
        *why = "out of memory";
        return AXON_X402_MALFORMED;
    }

    return AXON_X402_OK;
}
