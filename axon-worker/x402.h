/*
 * axon-worker: what the three parts of x402.pay share: the job flow
 * (x402.c), settlement by a facilitator (x402_facilitator.c) and
 * self-settlement from the gas wallet (x402_self.c).
 */

#ifndef AW_X402_H
#define AW_X402_H


#include <jansson.h>

#include "axon_contract.h"
#include "axon_eip712.h"
#include "job.h"


#define AW_X402_RAW_MAX      1024
#define AW_X402_HTTP_MAX     (64 * 1024)
#define AW_X402_LOG_BACK     4096        /* blocks searched for a used nonce */
#define AW_X402_KEEP         86400       /* s: a record the worker creates */


typedef enum {
    AW_X402_SETTLED = 0,
    AW_X402_FAILED,
    AW_X402_LATER
} aw_x402_outcome_e;


typedef struct {
    aw_job_t            *job;

    /* the job's fields */
    const char          *nonce;             /* 0x + 64 lowercase hex */
    const char          *payer;             /* lowercase */
    const char          *profile;
    int64_t              minutes;
    const char          *ssh_key;
    const char          *amount;
    int64_t              topup;             /* 0: a new session */
    unsigned             credit_only:1;     /* no session at all */
    json_t              *payload;
    json_t              *requirements;

    /* parsed from them */
    axon_eip3009_auth_t  auth;
    uint8_t              sig[256];
    size_t               siglen;
    aw_addr_t            asset;
    aw_addr_t            pay_to;
    char                 asset_s[43];
    char                 pay_to_s[43];
    const char          *network;
    const aw_conf_profile_t  *p;
    int64_t              credit;
    int64_t              balance;           /* the wallet's, once credited */

    /* the row */
    char                 state[16];
    char                 tx[67];
    uint8_t              raw[AW_X402_RAW_MAX];
    size_t               rawlen;
    int64_t              session_id;
    int64_t              gas_nonce;
    int                  txlog;             /* the Transfer's index in tx */
    unsigned             self:1;            /* the row's settle_mode */

    /* the payer's auth token, issued once settled */
    int64_t              token_exp;
    unsigned             token:1;           /* store it with the outcome */

    /* the outcome */
    char                 reason[80];
    char                 message[300];
} aw_x402_t;


/* settlement, either way; then the receipt, which both modes read */
aw_x402_outcome_e aw_x402_facilitator(aw_x402_t *x);
aw_x402_outcome_e aw_x402_self(aw_x402_t *x);
aw_x402_outcome_e aw_x402_receipt(aw_x402_t *x);
aw_x402_outcome_e aw_x402_diagnose(aw_x402_t *x, const char *what);

/* the outcome of a step: final failure (reason, message), or retry later */
aw_x402_outcome_e aw_x402_fail(aw_x402_t *x, const char *reason,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
aw_x402_outcome_e aw_x402_later(aw_x402_t *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));


#endif /* AW_X402_H */
