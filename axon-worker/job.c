/*
 * axon-worker: the table of job kinds, and the check of a job's fields
 * against its kind's.
 */


#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon_eth.h"
#include "axon_contract.h"
#include "job.h"
#include "log.h"
#include "worker.h"


#define AW_MINUTES_MAX  10000000        /* 19 years of one GPU */
#define AW_UNIX_MAX     253402300799LL  /* 9999-12-31T23:59:59Z */


static const aw_job_field_t  aw_job_signin_fields[] = {
    { "wallet", AW_JOB_ADDRESS, 0, 0, 0, "the signed-in address" },
    { "token_hash", AW_JOB_HEX, 64, 64, 0, "SHA-256 of the token, hex" },
    { "issued_at", AW_JOB_INT, 0, AW_UNIX_MAX, 0, "unix seconds" },
    { "expires_at", AW_JOB_INT, 1, AW_UNIX_MAX, 0, "unix seconds" },
    { "nonce", AW_JOB_HEX, 1, 64, 0, "the challenge's nonce, hex" },
    { "ip", AW_JOB_IP, 0, 0, 0, "client address; empty: unknown" },
    { "user_agent", AW_JOB_TEXT, 0, 1024, 0, "may be empty" },
    { NULL, 0, 0, 0, 0, NULL }
};

static const aw_job_field_t  aw_job_logout_fields[] = {
    { "token_hash", AW_JOB_HEX, 64, 64, 0, "SHA-256 of the token, hex" },
    { "wallet", AW_JOB_ADDRESS, 0, 0, 0, "the token's address" },
    { "at", AW_JOB_INT, 0, AW_UNIX_MAX, 0, "unix seconds" },
    { NULL, 0, 0, 0, 0, NULL }
};

static const aw_job_field_t  aw_job_grant_fields[] = {
    { "wallet", AW_JOB_ADDRESS, 0, 0, 0, "0x + 40 hex, any case" },
    { "minutes", AW_JOB_INT, 1, AW_MINUTES_MAX, 0, "credit minutes" },
    { "ref", AW_JOB_REF, 1, 128, 0,
      "the grant's reference: the same ref is granted once" },
    { "note", AW_JOB_TEXT, 0, 500, 1, "free text for the audit row" },
    { NULL, 0, 0, 0, 0, NULL }
};

static const aw_job_field_t  aw_job_adjust_fields[] = {
    { "wallet", AW_JOB_ADDRESS, 0, 0, 0, "0x + 40 hex, any case" },
    { "minutes", AW_JOB_NONZERO, -AW_MINUTES_MAX, AW_MINUTES_MAX, 0,
      "signed, not 0" },
    { "ref", AW_JOB_REF, 1, 128, 0,
      "the adjustment's reference: applied once" },
    { "reason", AW_JOB_TEXT, 1, 500, 0, "why, for the audit row" },
    { NULL, 0, 0, 0, 0, NULL }
};

static const aw_job_field_t  aw_job_revoke_fields[] = {
    { "wallet", AW_JOB_ADDRESS, 0, 0, 0, "0x + 40 hex, any case" },
    { "minutes", AW_JOB_INT, 1, AW_MINUTES_MAX, 0, "minutes taken away" },
    { "ref", AW_JOB_REF, 1, 128, 0,
      "the revocation's reference: applied once" },
    { "reason", AW_JOB_TEXT, 1, 500, 0, "why, for the audit row" },
    { NULL, 0, 0, 0, 0, NULL }
};

static const aw_job_field_t  aw_job_replay_fields[] = {
    { "id", AW_JOB_STREAM_ID, 0, 0, 0,
      "the entry id in axon:jobs:dead" },
    { NULL, 0, 0, 0, 0, NULL }
};

static const aw_job_field_t  aw_job_deposit_verify_fields[] = {
    { "tx_hash", AW_JOB_REF, 66, 66, 0, "0x + 64 lowercase hex digits" },
    { "wallet", AW_JOB_ADDRESS, 0, 0, 0, "the wallet that submitted it" },
    { NULL, 0, 0, 0, 0, NULL }
};

static const aw_job_field_t  aw_job_deposit_fields[] = {
    { "tx_hash", AW_JOB_REF, 66, 66, 0, "0x + 64 lowercase hex digits" },
    { "log_index", AW_JOB_INT, -1, INT32_MAX, 0,
      "the Transfer log's index; -1: native ETH" },
    { "reason", AW_JOB_TEXT, 1, 500, 0, "why, for the audit row" },
    { NULL, 0, 0, 0, 0, NULL }
};

static const aw_job_field_t  aw_job_deposit_tier_fields[] = {
    { "wallet", AW_JOB_ADDRESS, 0, 0, 0, "0x + 40 hex, any case" },
    { NULL, 0, 0, 0, 0, NULL }
};

static const aw_job_field_t  aw_job_deposit_rescan_fields[] = {
    { "from", AW_JOB_INT, 0, INT32_MAX, 0,
      "the first block the indexer scans again" },
    { NULL, 0, 0, 0, 0, NULL }
};


#define AW_SESSION_ID_FIELD                                                  \
    { "session_id", AW_JOB_INT, 1, INT64_MAX, 0,                             \
      "the session's id (the module's INCR axon:session:next)" }

static const aw_job_field_t  aw_job_claim_fields[] = {
    AW_SESSION_ID_FIELD,
    { "wallet", AW_JOB_ADDRESS, 0, 0, 0, "the claiming wallet" },
    { "profile", AW_JOB_REF, 1, 64, 0, "a profile of the profiles key" },
    { "mode", AW_JOB_REF, 1, 16, 0, "desktop or ssh" },
    { "ssh_key", AW_JOB_TEXT, 1, 8192, 1,
      "mode ssh: the user's public key, one authorized_keys line" },
    { NULL, 0, 0, 0, 0, NULL }
};

static const aw_job_field_t  aw_job_x402_fields[] = {
    { "nonce", AW_JOB_REF, 66, 66, 0,
      "the authorization's nonce, 0x + 64 hex: the payment's id" },
    { "payer", AW_JOB_ADDRESS, 0, 0, 0, "the authorization's from" },
    { "profile", AW_JOB_REF, 1, 64, 0, "a profile of the profiles key" },
    { "minutes", AW_JOB_NONZERO, 1, 10080, 0, "the minutes paid for" },
    { "ssh_key", AW_JOB_TEXT, 0, 8192, 0,
      "the payer's SSH public key (empty: a top-up without one)" },
    { "amount", AW_JOB_REF, 1, 78, 0, "atomic units of the asset, decimal" },
    { "payload", AW_JOB_TEXT, 2, 16384, 0,
      "the PaymentPayload as the client sent it, compact JSON" },
    { "requirements", AW_JOB_TEXT, 2, 8192, 0,
      "the offer it matched, compact JSON" },
    { "token_hash", AW_JOB_HEX, 64, 64, 0,
      "SHA-256 of the auth token given to the payer, stored once the "
      "payment settled" },
    { "token_exp", AW_JOB_INT, 1, AW_UNIX_MAX, 1,
      "unix seconds: the token's end (without: a day after settlement)" },
    { "session_id", AW_JOB_NONZERO, 1, INT64_MAX, 1,
      "a top-up: the session paid for" },
    { "credit_only", AW_JOB_INT, 1, 1, 1,
      "1: credited to the payer's wallet, no session (the original "
      "gate's /api/x402/settle)" },
    { NULL, 0, 0, 0, 0, NULL }
};

static const aw_job_field_t  aw_job_session_fields[] = {
    AW_SESSION_ID_FIELD,
    { "wallet", AW_JOB_ADDRESS, 0, 0, 0, "the session's wallet" },
    { NULL, 0, 0, 0, 0, NULL }
};

static const aw_job_field_t  aw_job_end_fields[] = {
    AW_SESSION_ID_FIELD,
    { "reason", AW_JOB_TEXT, 1, 500, 0, "why, for end_reason and the audit" },
    { NULL, 0, 0, 0, 0, NULL }
};

static const aw_job_field_t  aw_job_home_fields[] = {
    { "wallet", AW_JOB_ADDRESS, 0, 0, 0, "the wallet whose home goes" },
    { "reason", AW_JOB_TEXT, 1, 500, 0, "why, for the audit row" },
    { NULL, 0, 0, 0, 0, NULL }
};

static const aw_job_field_t  aw_job_drain_fields[] = {
    { "host", AW_JOB_REF, 1, 64, 0, "a host of gpu_hosts" },
    { "reason", AW_JOB_TEXT, 0, 500, 1, "why, for the audit row" },
    { NULL, 0, 0, 0, 0, NULL }
};


const aw_job_kind_t  aw_job_kinds[] = {

    { AXON_JOB_AUTH_SIGNIN, aw_auth_signin, aw_job_signin_fields, 0,
      "A sign-in the gate accepted (queued by the module): the wallet, its "
      "token (by hash) and the sign-in's audit row, once per nonce." },

    { AXON_JOB_AUTH_LOGOUT, aw_auth_logout, aw_job_logout_fields, 0,
      "A logout (queued by the module): the token is revoked; one that is "
      "not recorded yet is revoked when its sign-in job arrives." },

    { AXON_JOB_CREDIT_GRANT, aw_credit_grant, aw_job_grant_fields,
      AW_JOB_ADMIN,
      "Grants minutes to a wallet (ledger kind 'grant', idempotency key "
      "grant:REF)." },

    { AXON_JOB_CREDIT_ADJUST, aw_credit_adjust, aw_job_adjust_fields,
      AW_JOB_ADMIN,
      "Adds or takes minutes (ledger kind 'adjustment', key adjust:REF); "
      "one that would take the balance below zero is refused." },

    { AXON_JOB_CREDIT_REVOKE, aw_credit_revoke, aw_job_revoke_fields,
      AW_JOB_ADMIN,
      "Takes minutes away (ledger kind 'adjustment' with a negative "
      "amount, key revoke:REF); refused below zero." },

    { AXON_JOB_REPLAY, aw_queue_replay, aw_job_replay_fields,
      AW_JOB_ADMIN|AW_JOB_REDIS,
      "Queues a dead-lettered job again, as a new job with its fields, and "
      "removes it from axon:jobs:dead." },

    { AXON_JOB_DEPOSIT_VERIFY, aw_deposit_verify, aw_job_deposit_verify_fields,
      AW_JOB_REDIS,
      "A transaction a wallet submitted (queued by the module): its "
      "deposits are recorded, confirming, or it is rejected with a reason, "
      "in axon:deposits:WALLET." },

    { AXON_JOB_DEPOSIT_CREDIT, aw_deposit_credit, aw_job_deposit_fields,
      AW_JOB_ADMIN|AW_JOB_REDIS,
      "Credits a recorded deposit now, whatever its confirmations (once: "
      "ledger key deposit:CHAIN:TX:LOG)." },

    { AXON_JOB_DEPOSIT_REJECT, aw_deposit_reject, aw_job_deposit_fields,
      AW_JOB_ADMIN|AW_JOB_REDIS,
      "Rejects a recorded deposit that is not credited: it never will be." },

    { AXON_JOB_DEPOSIT_TIER, aw_deposit_tier, aw_job_deposit_tier_fields,
      AW_JOB_REDIS,
      "The wallet's discount tier now, by its balance of the tier token "
      "(queued by GET /api/quote when it is unknown or older than 5 "
      "minutes): axon:wallet:ADDR tier_pct, tier_at." },

    { AXON_JOB_DEPOSIT_RESCAN, aw_deposit_rescan, aw_job_deposit_rescan_fields,
      AW_JOB_ADMIN,
      "Moves the indexer's cursor back: it scans again from block FROM." },

    { AXON_JOB_SESSION_CLAIM, aw_session_claim, aw_job_claim_fields,
      AW_JOB_REDIS,
      "A claim (queued by the module): the session's row, queued for GPUs; "
      "or ended at once with the reason (unknown_profile, no_host_fits, "
      "session_exists, insufficient_credits)." },

    { AXON_JOB_SESSION_LEAVE, aw_session_leave, aw_job_session_fields, 0,
      "Leaves the queue (queued by the module): a queued session of that "
      "wallet ends (left_queue); one that already has GPUs is left alone." },

    { AXON_JOB_SESSION_RELEASE, aw_session_release, aw_job_session_fields, 0,
      "A release (queued by the module): a session of that wallet ends "
      "(released); billing stops now, the container is stopped and its "
      "GPUs freed." },

    { AXON_JOB_SESSION_END, aw_session_end, aw_job_end_fields,
      AW_JOB_ADMIN|AW_JOB_REDIS,
      "Ends any session (end_reason 'admin: REASON'), as a release does." },

    { AXON_JOB_X402_PAY, aw_x402_pay, aw_job_x402_fields, AW_JOB_REDIS,
      "An x402 payment the module verified: settled (x402_settle), "
      "credited once (ledger key x402:NONCE:PAYER; its Transfer claimed in "
      "chain_credits), and the SSH session it pays "
      "for claimed or topped up; the outcome in axon:x402:pay:NONCE." },

    { AXON_JOB_GPU_DRAIN, aw_gpu_drain, aw_job_drain_fields, AW_JOB_ADMIN,
      "No new session starts on that GPU host; its running sessions run "
      "on until they end." },

    { AXON_JOB_GPU_UNDRAIN, aw_gpu_undrain, aw_job_drain_fields, AW_JOB_ADMIN,
      "The GPU host takes sessions again." },

    { AXON_JOB_HOME_DELETE, aw_home_delete, aw_job_home_fields,
      AW_JOB_ADMIN|AW_JOB_REDIS,
      "Deletes the wallet's home volume (its files) now, instead of "
      "home_keep after its last session; refused while the wallet has a "
      "session that is not ended." },

    { NULL, NULL, NULL, 0, NULL }
};


static int aw_job_check(const aw_job_field_t *f, const char *v, size_t len,
    int64_t *num, char *addr, char *err, size_t errlen);
static int aw_job_check_address(const aw_job_field_t *f, const char *v,
    size_t len, char *addr, char *err, size_t errlen);
static int aw_job_check_int(const aw_job_field_t *f, const char *v,
    size_t len, int64_t *num, char *err, size_t errlen);
static int aw_job_check_text(const aw_job_field_t *f, const char *v,
    size_t len, char *err, size_t errlen);
static int aw_job_check_ip(const aw_job_field_t *f, const char *v,
    size_t len, char *err, size_t errlen);
static int aw_job_parse_int(const char *v, size_t len, int64_t *n);


const aw_job_kind_t *
aw_job_kind(const char *name, size_t len)
{
    const aw_job_kind_t  *k;

    for (k = aw_job_kinds; k->name; k++) {
        if (strlen(k->name) == len && memcmp(k->name, name, len) == 0) {
            return k;
        }
    }

    return NULL;
}


int
aw_job_field(const aw_job_kind_t *kind, const char *name)
{
    int  i;

    for (i = 0; kind->fields[i].name; i++) {
        if (strcmp(kind->fields[i].name, name) == 0) {
            return i;
        }
    }

    return -1;
}


const char *
aw_job_str(aw_job_t *job, const char *name)
{
    int  i;

    i = aw_job_field(job->kind, name);
    aw_assert(i >= 0);

    return job->value[i];
}


int64_t
aw_job_int(aw_job_t *job, const char *name)
{
    int  i;

    i = aw_job_field(job->kind, name);
    aw_assert(i >= 0);

    return job->num[i];
}


const char *
aw_job_addr(aw_job_t *job, const char *name)
{
    int  i;

    i = aw_job_field(job->kind, name);
    aw_assert(i >= 0 && job->kind->fields[i].type == AW_JOB_ADDRESS);

    return job->value[i] ? job->addr[i] : NULL;
}


void
aw_job_kinds_list(char *buf, size_t size)
{
    size_t                len;
    const aw_job_kind_t  *k;

    buf[0] = '\0';
    len = 0;

    for (k = aw_job_kinds; k->name && len < size; k++) {
        len += snprintf(buf + len, size - len, "%s%s",
                        k == aw_job_kinds ? "" : ", ", k->name);
    }
}


/*
 * Checks the n field/value pairs of an entry (without "kind" and the meta
 * field "replay_of", which the caller took out) against kind.  The values
 * must live as long as job.
 */

int
aw_job_parse(aw_job_t *job, const aw_job_kind_t *kind, const char **names,
    const size_t *nlens, const char **values, const size_t *vlens, int n,
    char *err, size_t errlen)
{
    int                    i, f, nf;
    char                   list[256];
    size_t                 len;
    const aw_job_field_t  *fd;

    job->kind = kind;

    for (nf = 0; kind->fields[nf].name; nf++) {
        aw_assert(nf < AW_JOB_MAX_FIELDS);
        job->value[nf] = NULL;
        job->len[nf] = 0;
        job->num[nf] = 0;
        job->addr[nf][0] = '\0';
    }

    for (i = 0; i < n; i++) {

        for (f = 0; f < nf; f++) {
            if (strlen(kind->fields[f].name) == nlens[i]
                && memcmp(kind->fields[f].name, names[i], nlens[i]) == 0)
            {
                break;
            }
        }

        if (f == nf) {
            list[0] = '\0';
            len = 0;

            for (fd = kind->fields; fd->name && len < sizeof(list); fd++) {
                len += snprintf(list + len, sizeof(list) - len, "%s%s%s",
                                fd == kind->fields ? "" : ", ", fd->name,
                                fd->optional ? " (optional)" : "");
            }

            snprintf(err, errlen, "unknown field \"%.*s\" (%s takes: %s)",
                     (int) aw_min(nlens[i], 64), names[i], kind->name, list);
            return AW_ERROR;
        }

        if (job->value[f]) {
            snprintf(err, errlen, "field \"%s\" is given twice",
                     kind->fields[f].name);
            return AW_ERROR;
        }

        if (aw_job_check(&kind->fields[f], values[i], vlens[i], &job->num[f],
                         job->addr[f], err, errlen)
            != AW_OK)
        {
            return AW_ERROR;
        }

        job->value[f] = values[i];
        job->len[f] = vlens[i];
    }

    for (f = 0; f < nf; f++) {
        if (job->value[f] == NULL && !kind->fields[f].optional) {
            snprintf(err, errlen, "missing field \"%s\" (%s)",
                     kind->fields[f].name, kind->fields[f].help);
            return AW_ERROR;
        }
    }

    return AW_OK;
}


static int
aw_job_check(const aw_job_field_t *f, const char *v, size_t len,
    int64_t *num, char *addr, char *err, size_t errlen)
{
    if (memchr(v, '\0', len) != NULL) {
        snprintf(err, errlen, "field \"%s\" has a NUL byte", f->name);
        return AW_ERROR;
    }

    switch (f->type) {

    case AW_JOB_ADDRESS:
        return aw_job_check_address(f, v, len, addr, err, errlen);

    case AW_JOB_INT:
    case AW_JOB_NONZERO:
        return aw_job_check_int(f, v, len, num, err, errlen);

    case AW_JOB_HEX:
    case AW_JOB_REF:
    case AW_JOB_TEXT:
        return aw_job_check_text(f, v, len, err, errlen);

    case AW_JOB_IP:
        return aw_job_check_ip(f, v, len, err, errlen);

    case AW_JOB_STREAM_ID:
        return aw_job_stream_id(f->name, v, len, err, errlen);
    }

    snprintf(err, errlen, "field \"%s\": unknown type", f->name);

    return AW_ERROR;
}


/* addr: the address in lowercase */

static int
aw_job_check_address(const aw_job_field_t *f, const char *v, size_t len,
    char *addr, char *err, size_t errlen)
{
    int      rc;
    uint8_t  a[AXON_ADDR_LEN];

    rc = axon_address_parse(a, v, len);

    if (rc == AXON_ERR_CHECKSUM) {
        snprintf(err, errlen, "field \"%s\": \"%.*s\" is a mixed-case "
                 "address with a wrong EIP-55 checksum", f->name,
                 (int) aw_min(len, 64), v);
        return AW_ERROR;
    }

    if (rc != AXON_OK) {
        snprintf(err, errlen, "field \"%s\": \"%.*s\" is not an address "
                 "(0x and 40 hex digits)", f->name, (int) aw_min(len, 64),
                 v);
        return AW_ERROR;
    }

    axon_address_format_lower(addr, a);
    addr[AXON_ADDR_TEXT_LEN] = '\0';

    return AW_OK;
}


static int
aw_job_check_int(const aw_job_field_t *f, const char *v, size_t len,
    int64_t *num, char *err, size_t errlen)
{
    if (aw_job_parse_int(v, len, num) != AW_OK) {
        snprintf(err, errlen, "field \"%s\": \"%.*s\" is not an integer",
                 f->name, (int) aw_min(len, 64), v);
        return AW_ERROR;
    }

    if (*num < f->min || *num > f->max) {
        snprintf(err, errlen, "field \"%s\": %lld is out of range "
                 "(%lld .. %lld)", f->name, (long long) *num,
                 (long long) f->min, (long long) f->max);
        return AW_ERROR;
    }

    if (f->type == AW_JOB_NONZERO && *num == 0) {
        snprintf(err, errlen, "field \"%s\" must not be 0", f->name);
        return AW_ERROR;
    }

    return AW_OK;
}


/* hex, a reference or free text: length bounds, then the characters */

static int
aw_job_check_text(const aw_job_field_t *f, const char *v, size_t len,
    char *err, size_t errlen)
{
    size_t       i;
    const char  *p;

    if ((int64_t) len < f->min || (int64_t) len > f->max) {
        if (f->min == f->max) {
            snprintf(err, errlen, "field \"%s\" must be %lld characters "
                     "long, not %zu", f->name, (long long) f->min, len);

        } else {
            snprintf(err, errlen, "field \"%s\" must be %lld to %lld "
                     "characters long, not %zu", f->name,
                     (long long) f->min, (long long) f->max, len);
        }

        return AW_ERROR;
    }

    for (i = 0; i < len && f->type != AW_JOB_TEXT; i++) {
        p = (f->type == AW_JOB_HEX) ? "0123456789abcdef"
            : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
              "0123456789._:/@-";

        if (strchr(p, v[i]) == NULL) {
            snprintf(err, errlen, "field \"%s\": \"%.*s\" is not %s",
                     f->name, (int) aw_min(len, 64), v,
                     f->type == AW_JOB_HEX ? "lowercase hex"
                     : "a reference (letters, digits and ._:/@-)");
            return AW_ERROR;
        }
    }

    return AW_OK;
}


/* empty, or an IPv4 or IPv6 address */

static int
aw_job_check_ip(const aw_job_field_t *f, const char *v, size_t len,
    char *err, size_t errlen)
{
    unsigned char  ip[16];
    char           buf[64];

    if (len == 0) {
        return AW_OK;
    }

    if (len < sizeof(buf)) {
        memcpy(buf, v, len);
        buf[len] = '\0';

        if (inet_pton(AF_INET, buf, ip) == 1
            || inet_pton(AF_INET6, buf, ip) == 1)
        {
            return AW_OK;
        }
    }

    snprintf(err, errlen, "field \"%s\": \"%.*s\" is not an IPv4 or IPv6 "
             "address", f->name, (int) aw_min(len, 64), v);
    return AW_ERROR;
}


/*
 * v, field name's value, a Redis stream entry id: MS-SEQ, each of at most
 * 20 digits.  AW_OK, or AW_ERROR with the reason in err.
 */

int
aw_job_stream_id(const char *name, const char *v, size_t len, char *err,
    size_t errlen)
{
    size_t       i;
    const char  *p;

    i = 0;

    while (i < len && v[i] >= '0' && v[i] <= '9') {
        i++;
    }

    if (i > 0 && i < 21 && i < len && v[i] == '-') {
        p = v + i + 1;

        while (p < v + len && *p >= '0' && *p <= '9') {
            p++;
        }

        if (p == v + len && len - i - 1 > 0 && len - i - 1 < 21) {
            return AW_OK;
        }
    }

    snprintf(err, errlen, "field \"%s\": \"%.*s\" is not a stream entry "
             "id (as 1700000000000-0)", name, (int) aw_min(len, 64), v);
    return AW_ERROR;
}


/* a decimal integer: an optional '-', digits, nothing else */

static int
aw_job_parse_int(const char *v, size_t len, int64_t *n)
{
    int       neg;
    size_t    i;
    uint64_t  u;

    neg = (len > 0 && v[0] == '-');
    i = neg;

    if (i == len || len - i > 19) {
        return AW_ERROR;
    }

    u = 0;

    for ( /* void */ ; i < len; i++) {
        if (v[i] < '0' || v[i] > '9') {
            return AW_ERROR;
        }

        u = u * 10 + (v[i] - '0');
    }

    if (u > (uint64_t) INT64_MAX) {
        return AW_ERROR;
    }

    *n = neg ? -(int64_t) u : (int64_t) u;

    return AW_OK;
}


void
aw_job_fail(aw_job_result_t *res, int permanent, const char *fmt, ...)
{
    va_list  args;

    res->permanent = permanent;

    va_start(args, fmt);
    vsnprintf(res->error, sizeof(res->error), fmt, args);
    va_end(args);
}


/*
 * After a failed query: the error in res, and whether it is permanent.
 * Data and constraint errors (SQLSTATE classes 22, 23), a refused or
 * unknown statement (42, P0) are permanent: the same job fails again.  A
 * lost connection, a timeout, a serialization failure, a lock or resource
 * shortage, an operator's intervention are transient.
 */

int
aw_job_db_failed(aw_job_t *job, aw_job_result_t *res)
{
    int          permanent;
    aw_db_t     *db;
    const char  *s;

    db = &aw_worker.db;
    s = db->sqlstate;

    permanent = db->conn != NULL
                && (strncmp(s, "22", 2) == 0 || strncmp(s, "23", 2) == 0
                    || strncmp(s, "42", 2) == 0 || strncmp(s, "P0", 2) == 0);

    if (s[0]) {
        aw_job_fail(res, permanent, "postgres: %s (SQLSTATE %s)", db->error,
                    s);

    } else {
        aw_job_fail(res, permanent, "postgres: %s", db->error);
    }

    return AW_ERROR;
}


/*
 * The audit row of an admin job: ACTION on TARGET ("session:12") with
 * DETAIL, which this takes (NULL: the caller's json_pack failed, out of
 * memory).  AW_OK, or AW_ERROR with the failure in res.
 */

int
aw_job_audit(aw_job_t *job, aw_job_result_t *res, const char *action,
    const char *target, json_t *detail)
{
    char        *text;
    PGresult    *pg;
    const char  *params[5];

    text = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
    json_decref(detail);

    if (text == NULL) {
        aw_job_fail(res, 0, "audit of %s: out of memory", action);
        return AW_ERROR;
    }

    params[0] = "admin";
    params[1] = action;
    params[2] = target;
    params[3] = text;
    params[4] = job->id;

    pg = aw_db_query(&aw_worker.db,
                     "SELECT axon_admin_audit($1, $2, $3, $4::jsonb, $5)",
                     5, params);
    free(text);

    if (pg == NULL) {
        return aw_job_db_failed(job, res);
    }

    PQclear(pg);

    return AW_OK;
}
