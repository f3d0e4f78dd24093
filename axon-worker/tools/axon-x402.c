/*
 * axon-x402: decode an x402 payment header and recover who signed its
 * EIP-3009 authorization with libaxon (axon_x402.h reads it as the gate
 * does, axon_eip712.h recovers the signer): for an operator to
 * look at what an agent sent, and for the tests, which check that the x402
 * SDK's payments and libaxon agree (docs/x402.md).
 *
 *   axon-x402 [-n NAME] [-v VERSION] [-i CHAIN_ID] [-a ASSET] [HEADER]
 *
 * HEADER is the value of PAYMENT-SIGNATURE (x402 version 2) or X-PAYMENT
 * (version 1): base64 of the payment payload's JSON; read from stdin when
 * absent.  The EIP-712 domain is the one the payload names (version 2:
 * accepted.extra.name and .version, accepted.network "eip155:N",
 * accepted.asset); -n, -v, -i and -a replace its parts, as a server puts
 * in its own token's domain rather than trust the client's.  Version 1
 * payloads name no asset nor domain: then -n, -v, -i and -a are needed.
 *
 * Prints one line of JSON:
 *   {"x402_version", "scheme", "network", "chain_id", "asset", "name",
 *    "version", "pay_to", "amount", "from", "to", "value", "valid_after",
 *    "valid_before", "nonce", "digest", "signer", "signed_by_from"}
 * addresses EIP-55, uint256 decimal strings, hashes 0x-hex; exit 0 when
 * the signer is `from`, 1 when it is someone else.  A header that cannot
 * be read is {"error": CODE, "message": TEXT}, exit 2 (CODE from
 * axon_strerror(), or "bad_base64", "bad_json", "bad_payload").
 */


#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "axon_x402.h"


#define AX_HEADER_MAX  65536


typedef struct {
    const char  *name;
    const char  *version;
    const char  *asset;
    uint64_t     chain_id;
    int          have_chain_id;
} ax_domain_opts_t;


/* what is read of the payment and worked out from it */

typedef struct {
    int                  version;
    const char          *scheme;
    const char          *network;
    uint64_t             chain_id;
    uint8_t              contract[20];
    uint8_t              digest[32];
    uint8_t              signer[20];
    json_t              *accepted;
    axon_x402_payment_t  p;
} ax_payment_t;


static json_t   *ax_root;
static char      ax_text[AX_HEADER_MAX + 1];
static uint8_t   ax_raw[AX_HEADER_MAX / 4 * 3 + 2];


static int ax_options(int argc, char **argv, ax_domain_opts_t *opt);
static int ax_header(int argc, char **argv);
static int ax_print(const ax_payment_t *x, const ax_domain_opts_t *opt);
static int ax_fail(const char *code, const char *fmt, const char *arg);
static int ax_chain_id(const char *network, uint64_t *id);
static const char *ax_str(json_t *o, const char *key);
static json_t *ax_hex(const uint8_t *p, size_t n);
static json_t *ax_addr(const uint8_t a[20]);
static json_t *ax_u256(const uint8_t v[32]);
static void ax_usage(void);


static int
ax_fail(const char *code, const char *fmt, const char *arg)
{
    char    msg[512];
    json_t  *o;

    snprintf(msg, sizeof(msg), fmt, arg ? arg : "");
    o = json_pack("{s:s, s:s}", "error", code, "message", msg);
    json_dumpf(o, stdout, JSON_COMPACT);
    putchar('\n');
    json_decref(o);
    json_decref(ax_root);
    ax_root = NULL;

    return 2;
}


/* "eip155:8453" -> 8453 */

static int
ax_chain_id(const char *network, uint64_t *id)
{
    char      *end;
    const char *p;

    if (network == NULL || strncmp(network, "eip155:", 7) != 0) {
        return -1;
    }

    p = network + 7;

    if (*p < '1' || *p > '9') {
        return -1;
    }

    errno = 0;
    *id = strtoull(p, &end, 10);

    return (errno != 0 || *end != '\0') ? -1 : 0;
}


static const char *
ax_str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}


static json_t *
ax_hex(const uint8_t *p, size_t n)
{
    char  buf[2 + 2 * 32 + 1];

    buf[0] = '0';
    buf[1] = 'x';
    axon_hex_encode(buf + 2, p, n);
    buf[2 + 2 * n] = '\0';

    return json_string(buf);
}


static json_t *
ax_addr(const uint8_t a[20])
{
    char  buf[AXON_ADDR_TEXT_LEN + 1];

    axon_address_format(buf, a);
    buf[AXON_ADDR_TEXT_LEN] = '\0';

    return json_string(buf);
}


static json_t *
ax_u256(const uint8_t v[32])
{
    char  buf[AXON_UINT256_DEC_MAX + 1];

    axon_uint256_format(buf, v);

    return json_string(buf);
}


static void
ax_usage(void)
{
    fprintf(stderr,
        "usage: axon-x402 [-n NAME] [-v VERSION] [-i CHAIN_ID] [-a ASSET]"
        " [HEADER]\n"
        "  HEADER: a PAYMENT-SIGNATURE (or X-PAYMENT) value; stdin if"
        " absent\n");
}


/* the options; -1: go on, else the exit status */

static int
ax_options(int argc, char **argv, ax_domain_opts_t *opt)
{
    int    c;
    char  *end;

    memset(opt, 0, sizeof(ax_domain_opts_t));

    while ((c = getopt(argc, argv, "n:v:i:a:h")) != -1) {
        switch (c) {
        case 'n': opt->name = optarg; break;
        case 'v': opt->version = optarg; break;
        case 'a': opt->asset = optarg; break;
        case 'i':
            errno = 0;
            opt->chain_id = strtoull(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || end == optarg) {
                ax_usage();
                return 2;
            }
            opt->have_chain_id = 1;
            break;
        default: ax_usage(); return 2;
        }
    }

    if (optind + 1 < argc) {
        ax_usage();
        return 2;
    }

    return -1;
}


/* the header, from the argument or stdin, as JSON in ax_root; -1: go on */

static int
ax_header(int argc, char **argv)
{
    size_t        len, n;
    json_error_t  err;

    if (optind < argc) {
        len = strlen(argv[optind]);

        if (len > AX_HEADER_MAX) {
            return ax_fail("bad_length", "the header is over %s bytes",
                           "65536");
        }

        memcpy(ax_text, argv[optind], len);

    } else {
        len = fread(ax_text, 1, AX_HEADER_MAX + 1, stdin);

        if (len > AX_HEADER_MAX) {
            return ax_fail("bad_length", "the header is over %s bytes",
                           "65536");
        }
    }

    /* a line read from stdin ends there */

    while (len > 0 && (ax_text[len - 1] == '\n' || ax_text[len - 1] == '\r'))
    {
        len--;
    }

    if (axon_base64_decode(ax_raw, &n, ax_text, len, 0) != AXON_OK) {
        return ax_fail("bad_base64", "the header is not base64%s", NULL);
    }

    ax_root = json_loadb((const char *) ax_raw, n, JSON_REJECT_DUPLICATES,
                         &err);

    if (ax_root == NULL) {
        return ax_fail("bad_json", "%s", err.text);
    }

    return -1;
}


/* the line of JSON; 0: signed by from, 1: by someone else */

static int
ax_print(const ax_payment_t *x, const ax_domain_opts_t *opt)
{
    int          rc;
    json_t      *out;
    const char  *s;

    out = json_object();
    json_object_set_new(out, "x402_version", json_integer(x->version));
    json_object_set_new(out, "scheme", json_string(x->scheme));
    json_object_set_new(out, "network", x->network ? json_string(x->network)
                                                   : json_null());
    json_object_set_new(out, "chain_id",
                        json_integer((json_int_t) x->chain_id));
    json_object_set_new(out, "asset", ax_addr(x->contract));
    json_object_set_new(out, "name", json_string(opt->name));
    json_object_set_new(out, "version", json_string(opt->version));
    s = ax_str(x->accepted, "payTo");
    json_object_set_new(out, "pay_to", s ? json_string(s) : json_null());
    s = ax_str(x->accepted, "amount");
    json_object_set_new(out, "amount", s ? json_string(s) : json_null());
    json_object_set_new(out, "from", ax_addr(x->p.auth.from));
    json_object_set_new(out, "to", ax_addr(x->p.auth.to));
    json_object_set_new(out, "value", ax_u256(x->p.auth.value));
    json_object_set_new(out, "valid_after", ax_u256(x->p.auth.valid_after));
    json_object_set_new(out, "valid_before",
                        ax_u256(x->p.auth.valid_before));
    json_object_set_new(out, "nonce", json_string(x->p.nonce));
    json_object_set_new(out, "digest", ax_hex(x->digest, 32));
    json_object_set_new(out, "signer", ax_addr(x->signer));
    json_object_set_new(out, "signed_by_from",
                        json_boolean(axon_memeq_ct(x->signer, x->p.auth.from,
                                                   20)));

    json_dumpf(out, stdout, JSON_COMPACT);
    putchar('\n');

    rc = axon_memeq_ct(x->signer, x->p.auth.from, 20) ? 0 : 1;

    json_decref(out);

    return rc;
}


int
main(int argc, char **argv)
{
    int                rc, read;
    uint8_t            domain[32];
    json_t            *payload, *extra;
    const char        *why;
    ax_payment_t       x;
    ax_domain_opts_t   opt;

    rc = ax_options(argc, argv, &opt);
    if (rc >= 0) {
        return rc;
    }

    rc = ax_header(argc, argv);
    if (rc >= 0) {
        return rc;
    }

    /* version 2: {x402Version, accepted: {...}, payload: {...}};
     * version 1: {x402Version, scheme, network, payload: {...}} */

    memset(&x, 0, sizeof(x));

    x.version = (int) json_integer_value(json_object_get(ax_root,
                                                         "x402Version"));
    payload = json_object_get(ax_root, "payload");
    x.accepted = json_object_get(ax_root, "accepted");
    extra = json_object_get(x.accepted, "extra");

    /* the payload as the gate reads it; a bad field is told below */

    read = axon_x402_read_exact(&x.p, payload, &why);

    if ((x.version != 1 && x.version != 2)
        || (read != AXON_X402_OK && x.p.field == NULL)
        || (x.version == 2 && !json_is_object(x.accepted)))
    {
        return ax_fail("bad_payload", "not an x402 exact EVM payment%s",
                       NULL);
    }

    x.scheme = ax_str(x.version == 2 ? x.accepted : ax_root, "scheme");
    x.network = ax_str(x.version == 2 ? x.accepted : ax_root, "network");

    if (x.scheme == NULL || strcmp(x.scheme, "exact") != 0) {
        return ax_fail("bad_payload", "scheme %s is not exact",
                       x.scheme ? x.scheme : "(none)");
    }

    /* the domain: the options, else what the payload names */

    if (opt.name == NULL) {
        opt.name = ax_str(extra, "name");
    }

    if (opt.version == NULL) {
        opt.version = ax_str(extra, "version");
    }

    if (opt.asset == NULL) {
        opt.asset = ax_str(x.accepted, "asset");
    }

    if (opt.have_chain_id) {
        x.chain_id = opt.chain_id;

    } else if (ax_chain_id(x.network, &x.chain_id) != 0) {
        return ax_fail("bad_payload", "network %s is not eip155:N (use -i)",
                       x.network ? x.network : "(none)");
    }

    if (opt.name == NULL || opt.version == NULL || opt.asset == NULL) {
        return ax_fail("bad_payload",
                       "no EIP-712 domain name, version or asset%s"
                       " (use -n, -v, -a)", NULL);
    }

    rc = axon_address_parse(x.contract, opt.asset, strlen(opt.asset));
    if (rc != AXON_OK) {
        return ax_fail(axon_strerror(rc), "asset %s", opt.asset);
    }

    /* the authorization, strictly */

    if (read != AXON_X402_OK) {
        return ax_fail(x.p.err ? axon_strerror(x.p.err) : "bad_payload",
                       x.p.err ? "authorization.%s"
                               : "authorization.%s missing",
                       x.p.field);
    }

    axon_eip712_domain_separator(domain, opt.name, strlen(opt.name),
                                 opt.version, strlen(opt.version),
                                 x.chain_id, x.contract);
    axon_eip3009_digest(x.digest, domain, AXON_EIP3009_TRANSFER, &x.p.auth);

    rc = axon_eip3009_recover(x.signer, domain, AXON_EIP3009_TRANSFER,
                              &x.p.auth, x.p.sig, x.p.siglen);
    if (rc != AXON_OK) {
        return ax_fail(axon_strerror(rc), "payload.signature%s", NULL);
    }

    rc = ax_print(&x, &opt);

    json_decref(ax_root);

    return rc;
}
