/*
 * axon: the check of an x402 payment (protocol version 2, the `exact`
 * scheme on EVM chains, docs/x402.md) before anything is recorded:
 * the payload's form, the offer it accepted against ours, the EIP-3009
 * authorization against our terms (payTo, the price, its times) and its
 * signer.  Pure code on jansson and axon_eip712.h: no I/O, no clock (the
 * caller gives "now").
 *
 * The answer follows the x402 SDK's error codes: a payment that is well
 * formed but not acceptable is refused with a code and a reason (HTTP 402
 * with the offer again); one that cannot be read is malformed (400).
 */


#ifndef AXON_X402_H_INCLUDED
#define AXON_X402_H_INCLUDED


#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "axon_eip712.h"


#define AXON_X402_VERSION      2
#define AXON_X402_NONCE_LEN    66      /* 0x + 64 hex */
#define AXON_X402_SKEW         60      /* s of clock skew */
#define AXON_X402_MARGIN       6       /* s before validBefore, as the SDK */


enum {
    AXON_X402_OK = 0,
    AXON_X402_REFUSED = 1,             /* code and why set */
    AXON_X402_MALFORMED = 2            /* why set */
};


/* the seller's terms, as the offer gave them */

typedef struct {
    const char           *network;     /* CAIP-2, e.g. "eip155:8453" */
    size_t                network_len;
    uint8_t               asset[AXON_ADDR_LEN];
    uint8_t               pay_to[AXON_ADDR_LEN];
    const char           *amount;      /* atomic units, decimal */
    const uint8_t        *domain;      /* the asset's EIP-712 separator */
    uint64_t              max_timeout; /* maxTimeoutSeconds */
} axon_x402_terms_t;


/* what a checked payment holds */

typedef struct {
    axon_eip3009_auth_t   auth;
    json_t               *accepted;    /* in the payload */
    const char           *sig;         /* in the payload: hex, 0x... */
    size_t                siglen;
    uint64_t              valid_before;
    char                  nonce[AXON_X402_NONCE_LEN + 1];  /* lowercase */
    int                   read;        /* auth's fields were read */

    /* malformed: the authorization's field that failed ("from", ...;
     * NULL when the payload's shape did) and what its parser said
     * (AXON_ERR_*; 0 when it is missing or not a string) */
    const char           *field;
    int                   err;
} axon_x402_payment_t;


/*
 * Checks the payload (the PAYMENT-SIGNATURE header, decoded: a JSON
 * object) in this order: x402Version, the payload's shape, the
 * authorization's fields, the accepted offer (scheme, network, then asset,
 * payTo and amount), then the authorization against the terms: its
 * recipient, its value, validAfter <= now, validBefore at least
 * AXON_X402_MARGIN away and at most max_timeout + AXON_X402_SKEW, and the
 * signer is authorization.from.  The first failure answers.
 *
 * AXON_X402_OK: p is filled.  AXON_X402_REFUSED: *code (the SDK's) and
 * *why.  AXON_X402_MALFORMED: *why.  Once the authorization's fields are
 * read (p->read), p->auth and p->nonce are set even when a later check
 * fails: the payer can be logged.
 */
int axon_x402_check(axon_x402_payment_t *p, json_t *payload,
    const axon_x402_terms_t *t, uint64_t now, const char **code,
    const char **why);

/*
 * The first steps of axon_x402_check() alone: x402Version, the payload's
 * shape and the authorization's fields, into p (auth, nonce, accepted,
 * sig; not valid_before).  For a reader of a payment already checked
 * (the worker reads the one the module queued).  Answers as
 * axon_x402_check().
 */
int axon_x402_read(axon_x402_payment_t *p, json_t *payload,
    const char **code, const char **why);

/*
 * The `exact` EVM scheme's payload, the object under "payload" in x402
 * versions 1 and 2 alike: {"authorization", "signature"}, into p (auth,
 * nonce, sig; p->field and p->err say what failed).  axon_x402_read()
 * reads it after the version and "accepted"; a reader of either version
 * (axon-x402) calls it alone.  AXON_X402_OK, or AXON_X402_MALFORMED and
 * *why.  p is not cleared first.
 */
int axon_x402_read_exact(axon_x402_payment_t *p, json_t *exact,
    const char **why);

/*
 * Version 1 (X-PAYMENT: {x402Version: 1, scheme, network, payload}) in
 * version 2's form, so that one check, one record and one settlement
 * serve both: *v2 = {x402Version: 2, accepted, payload}, where accepted
 * is the offer it pays (version 1 names no offer; its scheme and its
 * network, by version 1's name, must be the offer's).  The caller has
 * seen x402Version 1.  AXON_X402_OK: *v2 is new (the caller's to
 * decref); AXON_X402_REFUSED: *code and *why; AXON_X402_MALFORMED: *why.
 */
int axon_x402_from_v1(json_t **v2, json_t *v1, json_t *accepted,
    const char *network_name, const char **code, const char **why);

/*
 * Version 1's network names (the x402 package's EVM networks: "base",
 * "base-sepolia", "polygon", ...): the name of a chain id, NULL when it
 * has none; the chain id of a name, 0 when it is not one.
 */
const char *axon_x402_network_name(uint64_t chain_id);
uint64_t axon_x402_network_chain(const char *name, size_t len);

/*
 * The form of a base64 header as the SDK writes it: standard alphabet,
 * padded to a multiple of 4.  1: it is; 0: it is not.  (The decoder is
 * axon_base64_decode(), axon_eth.h.)
 */
int axon_x402_base64_form(const char *s, size_t len);


#endif /* AXON_X402_H_INCLUDED */
