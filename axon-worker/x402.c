/*
 * axon-worker: x402.pay, the settlement of an x402 payment the module
 * verified (docs/x402.md), and the SSH session it pays for.
 *
 * The module checked everything it can without the chain and recorded the
 * payment in axon:x402:pay:NONCE (pending).  Here, by the payment's row in
 * x402_payments (keyed by nonce and payer; docs/database.md),
 * each step idempotent, so that a job run again (a crash, a retry) picks up
 * where the last run stopped:
 *
 *   1. the row, and the payer's auth token, once;
 *   2. settlement, by x402_settle:
 *        facilitator  POST /verify, then /settle (row 'sent' first: a
 *                     /settle that timed out is asked again, which the
 *                     facilitator answers for the same authorization);
 *        self         transferWithAuthorization from the gas wallet:
 *                     signed with a nonce drawn under the gas account's
 *                     row lock and committed (row 'sent', raw bytes) BEFORE
 *                     it is broadcast; a retry sends the same bytes again
 *                     and looks for the receipt;
 *      a failure before anything could move money is final (row 'failed',
 *      no credit): the agent pays again with a new authorization; so is an
 *      authorization used on chain by a transaction that is not ours (one
 *      we signed, or the facilitator's answer to our /settle): paid by
 *      someone else's settlement, it is not a payment to this gate;
 *   3. the settlement's receipt read (either mode): the authorization's
 *      Transfer to payTo, and its index in the transaction;
 *   4. the credit, ledger key x402:NONCE:PAYER, with the row 'settled' and
 *      the claim of the transfer (chain_credits) in one
 *      transaction (axon_x402_settled): a deposit path that sees the same
 *      Transfer later credits nothing, and one that came first leaves
 *      nothing to credit here;
 *   5. the session: a new one claimed (its id drawn once, kept in the
 *      record), or a top-up's checked: its wallet's balance pays it; none
 *      for a credit_only payment (the original gate's settle);
 *   6. the outcome in axon:x402:pay:NONCE, which the module polls (the
 *      module refuses a nonce whose record exists, whoever paid; the
 *      worker writes only a record of the same payer).
 *
 * This file is the job's flow; step 2 is in x402_facilitator.c and
 * x402_self.c.  The chain calls are synchronous (eth.c, each bounded by
 * eth_rpc_timeout); the wait for a receipt is bounded by x402_receipt_wait,
 * after which the job is retried.
 */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "axon_eip712.h"
#include "axon_eth.h"
#include "axon_x402.h"
#include "job.h"
#include "log.h"
#include "worker.h"
#include "x402.h"


static int aw_x402_move(aw_job_t *job, aw_job_result_t *res);
static aw_x402_outcome_e aw_x402_settle(aw_x402_t *x);
static int aw_x402_failed(aw_x402_t *x, aw_job_result_t *res);
static int aw_x402_settled(aw_x402_t *x, aw_job_result_t *res);
static int aw_x402_parse(aw_x402_t *x, char *err, size_t errlen);
static int aw_x402_begin(aw_x402_t *x, aw_job_result_t *res);
static aw_x402_outcome_e aw_x402_precheck(aw_x402_t *x);
static int aw_x402_token(aw_x402_t *x, aw_job_result_t *res);
static int aw_x402_transferred(aw_x402_t *x, const aw_eth_receipt_t *r);
static aw_x402_outcome_e aw_x402_used_by(aw_x402_t *x);
static int aw_x402_session(aw_x402_t *x, aw_job_result_t *res,
    char *serr, size_t serrlen);
static int aw_x402_claim(aw_x402_t *x, aw_job_result_t *res);
static int aw_x402_record(aw_x402_t *x, int settled, int64_t paid_until,
    const char *session_error);


static aw_script_t  aw_x402_session_script = aw_script(X402_SESSION);
static aw_script_t  aw_x402_record_script = aw_script(X402_RECORD);


static aw_db_stmt_t  aw_x402_begin_stmt = aw_db_stmt("x402_begin",
    "SELECT state, coalesce(tx_hash, '') AS tx_hash,"
    " coalesce(raw_tx, ''::bytea) AS raw_tx,"
    " coalesce(session_id, 0) AS session_id,"
    " coalesce(gas_nonce, -1) AS gas_nonce,"
    " coalesce(error_reason, '') AS error_reason, settle_mode"
    " FROM axon_x402_begin($1, $2, $3, $4, $5, $6::numeric, $7, $8::int,"
    " $9::bigint, nullif($10, '')::bigint, $11, $12, $13::bytea,"
    " $14::bigint)");

static aw_db_stmt_t  aw_x402_settled_stmt = aw_db_stmt("x402_settled",
    "SELECT ledger_id, balance, applied FROM axon_x402_settled($1, $2, $3,"
    " $4::bigint, $5::int, $6)");

static aw_db_stmt_t  aw_x402_failed_stmt = aw_db_stmt("x402_failed",
    "UPDATE x402_payments SET state = 'failed', error_reason = $3,"
    " tx_hash = coalesce(nullif($4, ''), tx_hash)"
    " WHERE nonce = $1 AND payer = $2 AND state IN ('new', 'sent')");

/*
 * The payer's token, once settled: its row (as a sign-in's; revoked at
 * once if it was logged out before), and whether it is live.
 */
static aw_db_stmt_t  aw_x402_token_stmt = aw_db_stmt("x402_token",
    "WITH t AS (INSERT INTO auth_tokens (token_hash, wallet, issued_at,"
    " expires_at, revoked_at)"
    " SELECT $1::bytea, $2, now(),"
    " greatest(to_timestamp($3::bigint), now() + interval '1 second'),"
    " (SELECT r.revoked_at FROM auth_token_revocations r"
    " WHERE r.token_hash = $1::bytea)"
    " ON CONFLICT (token_hash) DO NOTHING"
    " RETURNING wallet, revoked_at, expires_at)"
    " SELECT wallet = $2 AND revoked_at IS NULL AND expires_at > now()"
    " AS live FROM t"
    " UNION ALL"
    " SELECT wallet = $2 AND revoked_at IS NULL AND expires_at > now()"
    " FROM auth_tokens WHERE token_hash = $1::bytea"
    " AND NOT EXISTS (SELECT 1 FROM t)");


/* keccak256 of the signatures, as selectors and topics */

static const uint8_t  aw_x402_sel_state[4] = { 0xe9, 0x4a, 0x01, 0x02 };
    /* authorizationState(address,bytes32) */

static const aw_hash_t  aw_x402_topic_transfer = { {
    0xdd, 0xf2, 0x52, 0xad, 0x1b, 0xe2, 0xc8, 0x9b, 0x69, 0xc2, 0xb0, 0x68,
    0xfc, 0x37, 0x8d, 0xaa, 0x95, 0x2b, 0xa7, 0xf1, 0x63, 0xc4, 0xa1, 0x16,
    0x28, 0xf5, 0x5a, 0x4d, 0xf5, 0x23, 0xb3, 0xef } };
    /* Transfer(address,address,uint256) */
static const aw_hash_t  aw_x402_topic_used = { {
    0x98, 0xde, 0x50, 0x35, 0x28, 0xee, 0x59, 0xb5, 0x75, 0xef, 0x0c, 0x0a,
    0x25, 0x76, 0xa8, 0x24, 0x97, 0xbf, 0xc0, 0x29, 0xa5, 0x68, 0x5b, 0x20,
    0x9e, 0x9e, 0xc3, 0x33, 0x47, 0x9b, 0x10, 0xa5 } };
    /* AuthorizationUsed(address,bytes32) */


int
aw_x402_pay(aw_job_t *job, aw_job_result_t *res)
{
    int                 rc;
    char                err[256];
    aw_conf_t          *conf;
    aw_x402_t           x;
    aw_x402_outcome_e   outcome;

    conf = aw_worker.conf;

    if (conf->x402_settle == AW_X402_NONE) {
        aw_job_fail(res, 1, "x402 settlement is off on this worker "
                    "(x402_settle none): the payment stays pending; replay "
                    "the job on a worker that settles");
        return AW_ERROR;
    }

    if (!aw_worker.x402) {
        /* put on axon:jobs by hand: settled where it cannot hold others up */
        return aw_x402_move(job, res);
    }

    memset(&x, 0, sizeof(x));
    x.job = job;

    rc = aw_x402_parse(&x, err, sizeof(err));

    if (rc != AW_OK) {
        /* the module wrote it: nothing can settle it; the agent is told */
        aw_job_fail(res, 1, "x402 payment %s: %s", x.nonce ? x.nonce : "?",
                    err);

        if (x.nonce) {
            snprintf(x.reason, sizeof(x.reason), "invalid_payload");
            aw_x402_record(&x, 0, 0, NULL);
        }

        json_decref(x.payload);
        json_decref(x.requirements);
        return AW_ERROR;
    }

    if (aw_x402_begin(&x, res) != AW_OK) {
        rc = AW_ERROR;

    } else {
        outcome = aw_x402_settle(&x);

        if (outcome == AW_X402_LATER) {
            aw_job_fail(res, 0, "%s", x.message);
            rc = AW_ERROR;

        } else if (outcome == AW_X402_FAILED) {
            rc = aw_x402_failed(&x, res);

        } else {
            rc = aw_x402_settled(&x, res);
        }
    }

    json_decref(x.payload);
    json_decref(x.requirements);

    return rc;
}


/*
 * Settlement, by the row's state: nothing more for a payment settled or
 * failed; a new one checked first and refused before any gas is spent; one
 * under way seen through the way it was begun.
 */

static aw_x402_outcome_e
aw_x402_settle(aw_x402_t *x)
{
    aw_x402_outcome_e   outcome;
    aw_conf_t          *conf;

    conf = aw_worker.conf;

    if (strcmp(x->state, "settled") == 0) {
        return AW_X402_SETTLED;
    }

    if (strcmp(x->state, "failed") == 0) {
        return AW_X402_FAILED;
    }

    if (strcmp(x->state, "new") == 0) {
        if (x->p == NULL) {
            return aw_x402_fail(x, "unknown_profile", "profile \"%s\" is "
                                "not sold by this worker", x->profile);
        }

        if (!conf->sessions || !conf->ssh_sessions) {
            return aw_x402_fail(x, "ssh_disabled", "this worker runs no SSH "
                                "sessions (keys sessions, ssh_sessions)");
        }

        outcome = aw_x402_precheck(x);

        if (outcome != AW_X402_SETTLED) {
            return outcome;
        }

    } else if (strcmp(x->state, "sent") == 0 && x->self && x->rawlen == 0) {
        return aw_x402_later(x, "the row is sent without its bytes");
    }

    if (strcmp(x->state, "sent") == 0 ? !x->self
        : conf->x402_settle == AW_X402_FACILITATOR)
    {
        return aw_x402_facilitator(x);
    }

    return aw_x402_self(x);
}


/* a payment that failed: the row, then the record the module polls */

static int
aw_x402_failed(aw_x402_t *x, aw_job_result_t *res)
{
    PGresult    *pg;
    const char  *params[4];

    if (strcmp(x->state, "failed") != 0) {
        params[0] = x->nonce;
        params[1] = x->payer;
        params[2] = x->reason;
        params[3] = x->tx;

        pg = aw_db_query_prepared(&aw_worker.db, &aw_x402_failed_stmt, 4,
                                  params);
        if (pg == NULL) {
            aw_job_db_failed(x->job, res);
            return AW_ERROR;
        }

        PQclear(pg);

        aw_log(AW_LOG_NOTICE, "payment %s of %s failed: %s: %s", x->nonce,
               x->payer, x->reason, x->message);
    }

    if (aw_x402_record(x, 0, 0, NULL) != AW_OK) {
        aw_job_fail(res, 0, "redis: the outcome was not written");
        return AW_ERROR;
    }

    snprintf(res->note, sizeof(res->note), "payment %s of %s failed "
             "(%s): no credit, no session", x->nonce, x->payer, x->reason);
    return AW_OK;
}


/*
 * A payment settled: the credit, once for the transfer whoever saw it;
 * the payer's token; the session it pays for; the record the module polls.
 */

static int
aw_x402_settled(aw_x402_t *x, aw_job_result_t *res)
{
    char         serr[64], chain[24], txlog[16];
    int64_t      paid_until, per_minute;
    PGresult    *pg;
    aw_conf_t   *conf;
    const char  *params[6];

    conf = aw_worker.conf;

    snprintf(chain, sizeof(chain), "%d", conf->eth_chain_id);
    snprintf(txlog, sizeof(txlog), "%d", x->txlog);

    params[0] = x->nonce;
    params[1] = x->payer;
    params[2] = x->tx;
    params[3] = chain;
    params[4] = txlog;
    params[5] = x->job->id;

    pg = aw_db_query_prepared(&aw_worker.db, &aw_x402_settled_stmt, 6,
                              params);
    if (pg == NULL) {
        aw_job_db_failed(x->job, res);
        return AW_ERROR;
    }

    res->has_balance = 1;
    snprintf(res->wallet, sizeof(res->wallet), "%s", x->payer);
    res->ledger_id = atoll(aw_db_get(pg, 0, "ledger_id"));
    res->balance = atoll(aw_db_get(pg, 0, "balance"));

    if (aw_db_get(pg, 0, "applied")[0] == 't') {
        aw_log(AW_LOG_NOTICE, "payment %s of %s settled by %s: %+lld "
               "minutes, balance %lld", x->nonce, x->payer, x->tx,
               (long long) x->credit, (long long) res->balance);

    } else {
        aw_log(AW_LOG_NOTICE, "payment %s of %s settled by %s, credited "
               "before (ledger id %lld): nothing credited now", x->nonce,
               x->payer, x->tx, (long long) res->ledger_id);
    }

    PQclear(pg);

    if (aw_x402_token(x, res) != AW_OK) {
        return AW_ERROR;
    }

    serr[0] = '\0';
    x->balance = res->balance;

    if (x->p && !x->credit_only
        && aw_x402_session(x, res, serr, sizeof(serr)) != AW_OK)
    {
        return AW_ERROR;
    }

    per_minute = x->p ? AXON_PRICE_PER_MINUTE((int64_t) x->p->gpus,
                                              x->p->price)
                      : 0;
    paid_until = (int64_t) time(NULL)
                 + (per_minute ? res->balance / per_minute * 60 : 0);

    if (x->p == NULL) {
        snprintf(serr, sizeof(serr), "unknown_profile");
    }

    if (aw_x402_record(x, 1, paid_until, serr[0] ? serr : NULL) != AW_OK) {
        aw_job_fail(res, 0, "redis: the outcome was not written");
        return AW_ERROR;
    }

    snprintf(res->note, sizeof(res->note), "payment %s of %s settled (%s): "
             "%lld minutes credited, session %lld%s%s", x->nonce, x->payer,
             x->tx, (long long) x->credit, (long long) x->session_id,
             serr[0] ? ": " : "", serr);

    return AW_OK;
}


/*
 * An x402.pay job the main process got (on axon:jobs, by hand): the same
 * fields, queued on axon:x402:jobs for the x402 process.
 */

static int
aw_x402_move(aw_job_t *job, aw_job_result_t *res)
{
    int                    argc;
    const char            *argv[4 + 2 * AW_JOB_MAX_FIELDS];
    redisReply            *reply;
    const aw_job_field_t  *f;

    argc = 0;
    argv[argc++] = "XADD";
    argv[argc++] = AXON_KEY_X402_JOBS;
    argv[argc++] = "*";
    argv[argc++] = AXON_JOB_KIND;
    argv[argc++] = AXON_JOB_X402_PAY;

    for (f = job->kind->fields; f->name && argc + 2 <= (int) aw_nelems(argv);
         f++)
    {
        if (job->value[f - job->kind->fields]) {
            argv[argc++] = f->name;
            argv[argc++] = job->value[f - job->kind->fields];
        }
    }

    reply = aw_redis_command_argv(&aw_worker.redis, argc, argv, NULL);

    if (reply == NULL || reply->type != REDIS_REPLY_STRING) {
        if (reply) {
            freeReplyObject(reply);
        }

        aw_job_fail(res, 0, "redis: moving the job to " AXON_KEY_X402_JOBS
                    " failed");
        return AW_ERROR;
    }

    snprintf(res->note, sizeof(res->note), "moved to " AXON_KEY_X402_JOBS
             " as job %s (the x402 process runs x402.pay)", reply->str);

    freeReplyObject(reply);

    return AW_OK;
}


static int
aw_x402_hexfield(json_t *obj, const char *name, uint8_t *out, size_t n)
{
    const char  *s;

    s = json_string_value(json_object_get(obj, name));

    return s && strlen(s) == 2 + 2 * n && s[0] == '0'
           && (s[1] == 'x' || s[1] == 'X')
           && axon_hex_decode(out, n, s + 2, 2 * n) == AXON_OK;
}


/*
 * The signature as bytes, for transferWithAuthorization: 0x, then 65
 * bytes (r, s, v) or more (a smart wallet's), at most what x->sig holds.
 */

static int
aw_x402_signature(aw_x402_t *x, const char *s, size_t len)
{
    if (len < 2 || s[0] != '0' || s[1] != 'x' || len % 2 != 0
        || len - 2 < 2 * AXON_SIG_LEN || len - 2 > 2 * sizeof(x->sig)
        || axon_hex_decode(x->sig, (len - 2) / 2, s, len) != AXON_OK)
    {
        return 0;
    }

    x->siglen = (len - 2) / 2;

    return 1;
}


/*
 * The job's fields and what the module put in them; it checked all of it
 * (the payload with the same reader, axon_x402_read()), so a failure here
 * is a bug or a forged job.
 */

static int
aw_x402_parse(aw_x402_t *x, char *err, size_t errlen)
{
    int                   rc;
    char                  from[43];
    size_t                len;
    uint8_t               amount[32];
    aw_job_t             *job;
    const char           *code, *why;
    json_error_t          je;
    axon_x402_payment_t   p;

    job = x->job;

    x->nonce = aw_job_str(job, "nonce");
    x->payer = aw_job_addr(job, "payer");
    x->profile = aw_job_str(job, "profile");
    x->minutes = aw_job_int(job, "minutes");
    x->ssh_key = aw_job_str(job, "ssh_key");
    x->amount = aw_job_str(job, "amount");
    x->topup = aw_job_str(job, "session_id") ? aw_job_int(job, "session_id")
                                             : 0;
    x->credit_only = aw_job_str(job, "credit_only") != NULL;

    if (strlen(x->nonce) != 66 || strncmp(x->nonce, "0x", 2) != 0
        || strspn(x->nonce + 2, "0123456789abcdef") != 64)
    {
        x->nonce = NULL;
        snprintf(err, errlen, "field \"nonce\" is not 0x + 64 lowercase hex");
        return AW_ERROR;
    }

    len = strlen(x->amount);

    if (strspn(x->amount, "0123456789") != len
        || axon_uint256_parse_dec(amount, x->amount, len) != AXON_OK)
    {
        snprintf(err, errlen, "field \"amount\" is not a decimal uint256");
        return AW_ERROR;
    }

    x->payload = json_loads(aw_job_str(job, "payload"), JSON_REJECT_DUPLICATES,
                            &je);
    x->requirements = json_loads(aw_job_str(job, "requirements"),
                                 JSON_REJECT_DUPLICATES, &je);

    if (!json_is_object(x->payload) || !json_is_object(x->requirements)) {
        snprintf(err, errlen, "payload or requirements is not a JSON "
                 "object");
        return AW_ERROR;
    }

    rc = axon_x402_read(&p, x->payload, &code, &why);

    if (rc != AXON_X402_OK || !aw_x402_signature(x, p.sig, p.siglen)) {
        snprintf(err, errlen, "payload: the authorization or the signature "
                 "is malformed (%s)",
                 rc != AXON_X402_OK ? why : "payload.signature");
        return AW_ERROR;
    }

    x->auth = p.auth;

    if (!aw_x402_hexfield(x->requirements, "asset", x->asset.b, 20)
        || !aw_x402_hexfield(x->requirements, "payTo", x->pay_to.b, 20)
        || (x->network = json_string_value(json_object_get(x->requirements,
                                                           "network")))
           == NULL)
    {
        snprintf(err, errlen, "requirements: asset, payTo or network is "
                 "malformed");
        return AW_ERROR;
    }

    /* what the module matched: the authorization pays payTo the amount */

    aw_eth_hex(x->asset_s, x->asset.b, 20);
    aw_eth_hex(x->pay_to_s, x->pay_to.b, 20);
    aw_eth_hex(from, x->auth.from, 20);

    if (strcmp(from, x->payer) != 0 || strcmp(p.nonce, x->nonce) != 0
        || memcmp(x->auth.to, x->pay_to.b, 20) != 0
        || axon_uint256_cmp(x->auth.value, amount) < 0)
    {
        snprintf(err, errlen, "the authorization does not match the job "
                 "(from, nonce, to, value)");
        return AW_ERROR;
    }

    x->p = aw_conf_profile(aw_worker.conf, x->profile);
    x->credit = x->p ? x->minutes * AXON_PRICE_PER_MINUTE(x->p->gpus,
                                                          x->p->price)
                     : x->minutes;

    return AW_OK;
}


/* the row (once); x->state and the rest from it */

static int
aw_x402_begin(aw_x402_t *x, aw_job_result_t *res)
{
    char           amount[80], minutes[24], credit[24], topup[24];
    size_t         rawlen;
    PGresult      *pg;
    const char    *params[14], *v;
    unsigned char *raw;

    snprintf(amount, sizeof(amount), "%s", x->amount);
    snprintf(minutes, sizeof(minutes), "%lld", (long long) x->minutes);
    snprintf(credit, sizeof(credit), "%lld", (long long) x->credit);
    snprintf(topup, sizeof(topup), "%lld", (long long) x->topup);

    params[0] = x->nonce;
    params[1] = x->payer;
    params[2] = x->asset_s;
    params[3] = x->pay_to_s;
    params[4] = x->network;
    params[5] = amount;
    params[6] = x->profile;
    params[7] = minutes;
    params[8] = credit;
    params[9] = x->topup ? topup : "";
    params[10] = x->job->id;
    params[11] = aw_worker.conf->x402_settle == AW_X402_SELF ? "self"
                                                            : "facilitator";
    /* no token yet: it is issued once the payment settled */
    params[12] = NULL;
    params[13] = NULL;

    pg = aw_db_query_prepared(&aw_worker.db, &aw_x402_begin_stmt, 14,
                              params);
    if (pg == NULL) {
        return aw_job_db_failed(x->job, res);
    }

    snprintf(x->state, sizeof(x->state), "%s", aw_db_get(pg, 0, "state"));
    snprintf(x->tx, sizeof(x->tx), "%s", aw_db_get(pg, 0, "tx_hash"));
    x->session_id = atoll(aw_db_get(pg, 0, "session_id"));
    x->gas_nonce = atoll(aw_db_get(pg, 0, "gas_nonce"));
    snprintf(x->reason, sizeof(x->reason), "%s",
             aw_db_get(pg, 0, "error_reason"));
    x->self = strcmp(aw_db_get(pg, 0, "settle_mode"), "self") == 0;

    v = aw_db_get(pg, 0, "raw_tx");
    raw = PQunescapeBytea((const unsigned char *) v, &rawlen);

    if (raw && rawlen <= sizeof(x->raw)) {
        memcpy(x->raw, raw, rawlen);
        x->rawlen = rawlen;
    }

    PQfreemem(raw);
    PQclear(pg);

    return AW_OK;
}


/*
 * Before anything is sent: an authorization past its validBefore; then
 * on the chain (read only): one already used or canceled, or a payer
 * holding less than its value, is refused here, before a facilitator is
 * asked or gas is spent.  Without
 * eth_rpc_url (a facilitator), the facilitator's /verify checks the same.
 * AW_X402_SETTLED: go on.
 */

static aw_x402_outcome_e
aw_x402_precheck(aw_x402_t *x)
{
    int         rc;
    uint8_t     data[4 + 64];
    uint64_t    before;
    aw_rpc_t   *rpc;
    aw_u256_t   word;
    aw_addr_t   from;

    rpc = &aw_worker.rpc;

    /* a job that waited past its authorization (no x402 process ran) */

    if (axon_uint256_to_u64(&before, x->auth.valid_before) != AXON_OK
        || before <= (uint64_t) time(NULL))
    {
        return aw_x402_fail(x, "invalid_exact_evm_payload_authorization_"
                            "valid_before", "the authorization expired "
                            "before it could be settled");
    }

    if (!aw_rpc_enabled(rpc)) {
        return AW_X402_SETTLED;
    }

    memcpy(data, aw_x402_sel_state, 4);
    memset(data + 4, 0, 12);
    memcpy(data + 16, x->auth.from, 20);
    memcpy(data + 36, x->auth.nonce, 32);

    rc = aw_rpc_call_word(rpc, &x->asset, data, sizeof(data), &word);

    if (rc == AW_RPC_OK && word.b[31] != 0) {
        /* nothing of ours was sent (the row is new): someone else's */
        return aw_x402_fail(x, "invalid_exact_evm_nonce_already_used",
                            "the authorization was used or canceled "
                            "before this gate settled it");
    }

    if (rc == AW_RPC_OK) {
        memcpy(from.b, x->auth.from, 20);
        rc = aw_rpc_erc20_balance(rpc, &x->asset, &from, &word);
    }

    if (rc == AW_RPC_OK && axon_uint256_cmp(word.b, x->auth.value) < 0) {
        return aw_x402_fail(x, "invalid_exact_evm_insufficient_balance",
                            "%s holds less than the authorization's value",
                            x->payer);
    }

    if (rc != AW_RPC_OK) {
        /* nothing was sent: final, the agent pays again later */
        return aw_x402_fail(x, "settlement_unavailable", "the chain node "
                            "failed: %s", rpc->error);
    }

    return AW_X402_SETTLED;
}


/*
 * Settled and credited: the payer's auth token (its hash came with the
 * job) is issued now, in Postgres; the outcome's script stores it in
 * Redis, where it works, unless it was revoked meanwhile.
 */

static int
aw_x402_token(aw_x402_t *x, aw_job_result_t *res)
{
    char         hash[2 + 64 + 1], exp[24];
    PGresult    *pg;
    const char  *params[3];

    x->token_exp = aw_job_str(x->job, "token_exp")
                   ? aw_job_int(x->job, "token_exp")
                   : (int64_t) time(NULL) + 86400;

    snprintf(hash, sizeof(hash), "\\x%s", aw_job_str(x->job, "token_hash"));
    snprintf(exp, sizeof(exp), "%lld", (long long) x->token_exp);

    params[0] = hash;
    params[1] = x->payer;
    params[2] = exp;

    pg = aw_db_query_prepared(&aw_worker.db, &aw_x402_token_stmt, 3, params);
    if (pg == NULL) {
        return aw_job_db_failed(x->job, res);
    }

    x->token = PQntuples(pg) == 1 && aw_db_get(pg, 0, "live")[0] == 't'
               && x->token_exp > (int64_t) time(NULL);

    PQclear(pg);

    return AW_OK;
}


aw_x402_outcome_e
aw_x402_fail(aw_x402_t *x, const char *reason, const char *fmt, ...)
{
    va_list  args;

    snprintf(x->reason, sizeof(x->reason), "%s", reason);

    va_start(args, fmt);
    vsnprintf(x->message, sizeof(x->message), fmt, args);
    va_end(args);

    return AW_X402_FAILED;
}


aw_x402_outcome_e
aw_x402_later(aw_x402_t *x, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    vsnprintf(x->message, sizeof(x->message), fmt, args);
    va_end(args);

    return AW_X402_LATER;
}


/* our transaction's receipt, waited for up to x402_receipt_wait */

aw_x402_outcome_e
aw_x402_receipt(aw_x402_t *x)
{
    int                rc, paid;
    aw_rpc_t          *rpc;
    aw_hash_t          hash;
    aw_msec_t          until;
    aw_eth_receipt_t   r;

    rpc = &aw_worker.rpc;

    if (aw_eth_parse_bytes(x->tx, 32, hash.b) != AW_OK) {
        return aw_x402_later(x, "the recorded transaction hash \"%s\" is "
                             "malformed", x->tx);
    }

    until = aw_monotonic_msec() + aw_worker.conf->x402_receipt_wait;

    for ( ;; ) {
        memset(&r, 0, sizeof(r));
        rc = aw_rpc_get_receipt(rpc, &hash, &r);

        if (rc == AW_RPC_OK) {
            break;
        }

        if (rc != AW_RPC_NOT_FOUND || aw_monotonic_msec() >= until) {
            return aw_x402_later(x, "waiting for the receipt of %s (%s)",
                                 x->tx, rc == AW_RPC_NOT_FOUND
                                        ? "not mined yet" : rpc->error);
        }

        aw_sleep_msec(100);
    }

    paid = r.status && aw_x402_transferred(x, &r);
    aw_eth_receipt_free(&r);

    if (paid) {
        return AW_X402_SETTLED;
    }

    if (r.status) {
        aw_log(AW_LOG_ERR, "%s succeeded without the transfer of the "
               "authorization: is %s the token?", x->tx, x->asset_s);
        return aw_x402_fail(x, "invalid_exact_evm_transfer_event_mismatch",
                            "%s has no Transfer of the authorization", x->tx);
    }

    /* reverted: taken by someone else's transaction first? */
    return aw_x402_diagnose(x, "reverted");
}


/*
 * In a receipt: the token's AuthorizationUsed(payer, nonce) and its
 * Transfer(payer, payTo, value) of at least the amount, whose index among
 * the transaction's logs goes to x->txlog (the chain event credited).
 */

static int
aw_x402_transferred(aw_x402_t *x, const aw_eth_receipt_t *r)
{
    int                  used, paid;
    size_t               i;
    uint8_t              word[32];
    const aw_eth_log_t  *l;

    used = 0;
    paid = 0;

    for (i = 0; i < r->nlogs; i++) {
        l = &r->logs[i];

        if (memcmp(l->address.b, x->asset.b, 20) != 0 || l->removed) {
            continue;
        }

        if (l->ntopics == 3
            && memcmp(l->topics[0].b, aw_x402_topic_used.b, 32) == 0
            && memcmp(l->topics[1].b + 12, x->auth.from, 20) == 0
            && memcmp(l->topics[2].b, x->auth.nonce, 32) == 0)
        {
            used = 1;
        }

        if (!paid && l->ntopics == 3 && l->data_len == 32
            && memcmp(l->topics[0].b, aw_x402_topic_transfer.b, 32) == 0
            && memcmp(l->topics[1].b + 12, x->auth.from, 20) == 0
            && memcmp(l->topics[2].b + 12, x->pay_to.b, 20) == 0)
        {
            memcpy(word, l->data, 32);
            paid = axon_uint256_cmp(word, x->auth.value) >= 0;
            x->txlog = (int) i;
        }
    }

    return used && paid;
}


/*
 * Why the authorization cannot be (or was not) settled by us: already
 * used (perhaps by someone else's transaction, which then is the
 * settlement), the payer's balance, or the simulation's own message.
 */

aw_x402_outcome_e
aw_x402_diagnose(aw_x402_t *x, const char *what)
{
    int         rc;
    uint8_t     data[4 + 64];
    aw_rpc_t   *rpc;
    aw_u256_t   word;
    aw_addr_t   from;

    rpc = &aw_worker.rpc;

    memcpy(data, aw_x402_sel_state, 4);
    memset(data + 4, 0, 12);
    memcpy(data + 16, x->auth.from, 20);
    memcpy(data + 36, x->auth.nonce, 32);

    rc = aw_rpc_call_word(rpc, &x->asset, data, sizeof(data), &word);

    if (rc != AW_RPC_OK) {
        return aw_x402_later(x, "%s; authorizationState: %s", what,
                             rpc->error);
    }

    if (word.b[31] == 1) {
        return aw_x402_used_by(x);
    }

    memcpy(from.b, x->auth.from, 20);

    rc = aw_rpc_erc20_balance(rpc, &x->asset, &from, &word);

    if (rc == AW_RPC_OK && axon_uint256_cmp(word.b, x->auth.value) < 0) {
        return aw_x402_fail(x, "invalid_exact_evm_insufficient_balance",
                            "%s holds less than the authorization's value",
                            x->payer);
    }

    return aw_x402_fail(x, "invalid_exact_evm_transaction_simulation_failed",
                        "transferWithAuthorization: %s", what);
}


/*
 * The authorization is used.  Only a transaction of ours settles it: one
 * we signed (recorded before it was sent) or the facilitator's answer to
 * our /settle, both in the row's sent_txs.  Anyone else's (the payer's
 * own, another service's, an observer's replay): refused, whatever it
 * paid, so that one authorization never buys here what it paid elsewhere.
 */

static aw_x402_outcome_e
aw_x402_used_by(aw_x402_t *x)
{
    int                rc, ours;
    char               tx[67];
    size_t             n;
    uint64_t           latest;
    PGresult          *pg;
    aw_rpc_t          *rpc;
    aw_hash_t          payer, nonce, hash;
    aw_eth_log_t      *logs;
    aw_eth_filter_t    f;
    aw_eth_receipt_t   r;
    const char        *params[3];

    rpc = &aw_worker.rpc;

    rc = aw_rpc_block_number(rpc, &latest);
    if (rc != AW_RPC_OK) {
        return aw_x402_later(x, "the authorization is used; looking for "
                             "its transaction: %s", rpc->error);
    }

    memset(&payer, 0, sizeof(payer));
    memcpy(payer.b + 12, x->auth.from, 20);
    memcpy(nonce.b, x->auth.nonce, 32);

    memset(&f, 0, sizeof(f));
    f.from_block = latest > AW_X402_LOG_BACK ? latest - AW_X402_LOG_BACK : 0;
    f.to_block = latest;
    f.addresses = &x->asset;
    f.naddresses = 1;
    f.topics[0] = &aw_x402_topic_used;
    f.topics[1] = &payer;
    f.topics[2] = &nonce;
    f.ntopics = 3;

    rc = aw_rpc_get_logs(rpc, &f, &logs, &n);
    if (rc != AW_RPC_OK) {
        return aw_x402_later(x, "the authorization is used; looking for "
                             "its transaction: %s", rpc->error);
    }

    if (n == 0) {
        aw_eth_logs_free(logs, n);
        return aw_x402_fail(x, "invalid_exact_evm_nonce_already_used",
                            "the authorization was used or canceled "
                            "elsewhere");
    }

    hash = logs[0].tx_hash;
    aw_eth_hex(tx, hash.b, 32);
    aw_eth_logs_free(logs, n);

    params[0] = x->nonce;
    params[1] = x->payer;
    params[2] = tx;

    pg = aw_db_query(&aw_worker.db, "SELECT count(*) AS n FROM x402_payments"
                     " WHERE nonce = $1 AND payer = $2"
                     " AND $3::text = ANY (sent_txs)", 3, params);
    if (pg == NULL) {
        return aw_x402_later(x, "postgres: %s", aw_worker.db.error);
    }

    ours = atoi(aw_db_get(pg, 0, "n")) > 0;
    PQclear(pg);

    if (!ours) {
        aw_log(AW_LOG_NOTICE, "payment %s of %s: the authorization was used "
               "by %s, not ours: refused", x->nonce, x->payer, tx);
        return aw_x402_fail(x, "invalid_exact_evm_nonce_already_used",
                            "the authorization was used on chain by %s, "
                            "which this gate did not send", tx);
    }

    memset(&r, 0, sizeof(r));

    if (aw_rpc_get_receipt(rpc, &hash, &r) != AW_RPC_OK) {
        return aw_x402_later(x, "the receipt of %s: %s", tx, rpc->error);
    }

    strcpy(x->tx, tx);

    if (r.status && aw_x402_transferred(x, &r)) {
        aw_eth_receipt_free(&r);
        aw_log(AW_LOG_NOTICE, "the authorization was settled by %s, an "
               "earlier transaction of ours", x->tx);
        return AW_X402_SETTLED;
    }

    aw_eth_receipt_free(&r);

    return aw_x402_fail(x, "invalid_exact_evm_nonce_already_used",
                        "%s used the authorization without paying %s",
                        x->tx, x->pay_to_s);
}


/*
 * The session paid for: a top-up's must be the payer's and live (its
 * wallet's balance pays its minutes); a new one is claimed under an id
 * drawn once (kept in the record, then in the row).  serr: why there is
 * no session, for the record.
 */

static int
aw_x402_session(aw_x402_t *x, aw_job_result_t *res, char *serr,
    size_t serrlen)
{
    char         id[24], pay[96], wallet[64], now[24], gpus[16];
    PGresult    *pg;
    redisReply  *reply;
    const char  *params[3], *argv[10];

    if (x->topup) {
        snprintf(id, sizeof(id), "%lld", (long long) x->topup);
        params[0] = id;

        pg = aw_db_query(&aw_worker.db, "SELECT wallet, state FROM sessions"
                         " WHERE id = $1::bigint", 1, params);
        if (pg == NULL) {
            return aw_job_db_failed(x->job, res);
        }

        if (PQntuples(pg) == 0
            || strcmp(aw_db_get(pg, 0, "wallet"), x->payer) != 0)
        {
            snprintf(serr, serrlen, "unknown_session");

        } else if (strcmp(aw_db_get(pg, 0, "state"), "ended") == 0
                   || strcmp(aw_db_get(pg, 0, "state"), "ending") == 0)
        {
            /* released (its container stopping): no minute of it left */
            snprintf(serr, serrlen, "session_ended");
        }

        PQclear(pg);

        x->session_id = x->topup;

        return AW_OK;
    }

    if (x->session_id == 0) {
        snprintf(pay, sizeof(pay), AXON_KEY_X402_PAY "%s", x->nonce);
        snprintf(wallet, sizeof(wallet), AXON_KEY_WALLET "%s", x->payer);
        snprintf(now, sizeof(now), "%lld", (long long) time(NULL));
        snprintf(gpus, sizeof(gpus), "%d", x->p->gpus);

        argv[0] = pay;
        argv[1] = wallet;
        argv[2] = AXON_KEY_SESSION_NEXT;
        argv[3] = x->payer;
        argv[4] = x->profile;
        argv[5] = now;
        argv[6] = gpus;

        reply = aw_redis_script(&aw_worker.redis, &aw_x402_session_script, 3,
                                7, argv, NULL);

        if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
            || reply->elements != 2
            || reply->element[0]->type != REDIS_REPLY_INTEGER
            || reply->element[1]->type != REDIS_REPLY_STRING)
        {
            if (reply) {
                freeReplyObject(reply);
            }
            aw_job_fail(res, 0, "redis: drawing the session id failed");
            return AW_ERROR;
        }

        if (reply->element[0]->integer < 0) {
            /* the payer has a live session (the module refuses this) */
            snprintf(serr, serrlen, "session_exists");
            x->session_id = atoll(reply->element[1]->str);
            freeReplyObject(reply);
            return AW_OK;
        }

        snprintf(id, sizeof(id), "%s", reply->element[1]->str);
        freeReplyObject(reply);

        params[0] = x->nonce;
        params[1] = id;
        params[2] = x->payer;

        pg = aw_db_query(&aw_worker.db, "UPDATE x402_payments"
                         " SET session_id = coalesce(session_id, $2::bigint)"
                         " WHERE nonce = $1 AND payer = $3"
                         " RETURNING session_id", 3, params);
        if (pg == NULL) {
            return aw_job_db_failed(x->job, res);
        }

        x->session_id = PQntuples(pg)
                        ? atoll(aw_db_get(pg, 0, "session_id")) : 0;
        PQclear(pg);
    }

    return aw_x402_claim(x, res);
}


/*
 * The new session's claim, as a session.claim job on axon:jobs: the
 * session worker runs it (and schedules it) beside every other claim,
 * whatever this process is waiting for on the chain.  Idempotent by the
 * session id: a job run again queues a claim that finds it recorded.
 */

static int
aw_x402_claim(aw_x402_t *x, aw_job_result_t *res)
{
    int          argc;
    char         id[24];
    redisReply  *reply;
    const char  *argv[16];

    snprintf(id, sizeof(id), "%lld", (long long) x->session_id);

    argc = 0;
    argv[argc++] = "XADD";
    argv[argc++] = AXON_KEY_JOBS;
    argv[argc++] = "*";
    argv[argc++] = AXON_JOB_KIND;
    argv[argc++] = AXON_JOB_SESSION_CLAIM;
    argv[argc++] = "session_id";
    argv[argc++] = id;
    argv[argc++] = "wallet";
    argv[argc++] = x->payer;
    argv[argc++] = "profile";
    argv[argc++] = x->profile;
    argv[argc++] = "mode";
    argv[argc++] = "ssh";

    if (x->ssh_key[0]) {
        argv[argc++] = "ssh_key";
        argv[argc++] = x->ssh_key;
    }

    reply = aw_redis_command_argv(&aw_worker.redis, argc, argv, NULL);

    if (reply == NULL || reply->type != REDIS_REPLY_STRING) {
        if (reply) {
            freeReplyObject(reply);
        }

        aw_job_fail(res, 0, "redis: queueing the claim of session %s "
                    "failed", id);
        return AW_ERROR;
    }

    aw_log(AW_LOG_INFO, "session %s of %s: claim queued as job %s", id,
           x->payer, reply->str);

    freeReplyObject(reply);

    return AW_OK;
}


/*
 * The outcome into axon:x402:pay:NONCE, which the module polls; a record
 * that expired meanwhile is written again, kept a day; a failed one is
 * kept 10 minutes (the Postgres row stays: sent again, the nonce fails at
 * once).  The payment leaves the pending sets, and on its first
 * settlement the payer's token is stored: it works from now on.  Another
 * payer's record of the same nonce is left alone (-1): only this payer's
 * pending set is told.
 *   KEYS: the record, the token's key
 *   ARGV: token value ('': none), its end (unix s), nonce, payer, failed
 *         (1|0), then the record's fields and values
 */

static int
aw_x402_record(aw_x402_t *x, int settled, int64_t paid_until,
    const char *session_error)
{
    int          argc;
    char         key[96], now[24], sid[24], until[24], credit[24];
    char         balance[24];
    char         tkey[96], tval[128], texp[24], pending[96];
    redisReply  *reply;
    const char  *argv[40];

    snprintf(key, sizeof(key), AXON_KEY_X402_PAY "%s", x->nonce);
    snprintf(tkey, sizeof(tkey), AXON_KEY_TOKEN "%s",
             aw_job_str(x->job, "token_hash"));
    snprintf(now, sizeof(now), "%lld", (long long) time(NULL));

    tval[0] = '\0';

    if (settled && x->token) {
        snprintf(tval, sizeof(tval), "{\"wallet\":\"%s\",\"exp\":%lld}",
                 x->payer, (long long) x->token_exp);
    }

    snprintf(texp, sizeof(texp), "%lld", (long long) x->token_exp);

    snprintf(pending, sizeof(pending), AXON_KEY_X402_PENDING ":%s",
             x->payer ? x->payer : "");

    argc = 0;
    argv[argc++] = key;
    argv[argc++] = tkey;
    argv[argc++] = AXON_KEY_X402_PENDING;
    argv[argc++] = pending;
    argv[argc++] = tval;
    argv[argc++] = texp;
    argv[argc++] = x->nonce;
    argv[argc++] = x->payer ? x->payer : "";
    argv[argc++] = settled ? "0" : "1";
    argv[argc++] = AXON_X402_PAYER;
    argv[argc++] = x->payer ? x->payer : "";

    if (x->tx[0]) {
        argv[argc++] = "transaction";
        argv[argc++] = x->tx;
    }

    if (!settled) {
        argv[argc++] = AXON_X402_STATE;
        argv[argc++] = AXON_X402_FAILED;
        argv[argc++] = "error_reason";
        argv[argc++] = x->reason[0] ? x->reason : "settlement_failed";

    } else {
        snprintf(sid, sizeof(sid), "%lld", (long long) x->session_id);
        snprintf(until, sizeof(until), "%lld", (long long) paid_until);
        snprintf(credit, sizeof(credit), "%lld", (long long) x->credit);

        argv[argc++] = AXON_X402_STATE;
        argv[argc++] = AXON_X402_SETTLED;
        argv[argc++] = "settled_at";
        argv[argc++] = now;
        argv[argc++] = "paid_until";
        argv[argc++] = until;
        argv[argc++] = "credit";
        argv[argc++] = credit;

        snprintf(balance, sizeof(balance), "%lld", (long long) x->balance);
        argv[argc++] = "balance";
        argv[argc++] = balance;

        if (x->session_id) {
            argv[argc++] = AXON_X402_SESSION_ID;
            argv[argc++] = sid;
        }

        if (session_error) {
            argv[argc++] = "session_error";
            argv[argc++] = session_error;
        }
    }

    reply = aw_redis_script(&aw_worker.redis, &aw_x402_record_script, 4,
                            argc, argv, NULL);

    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
        if (reply) {
            freeReplyObject(reply);
        }
        return AW_ERROR;
    }

    freeReplyObject(reply);

    return AW_OK;
}
