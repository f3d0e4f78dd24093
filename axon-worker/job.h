/*
 * axon-worker: the job kinds, one table (job.c): name, handler, the fields
 * with their types and bounds, help.  Adding a kind is one entry there and
 * one handler function.
 *
 * A job is a Redis Streams entry of axon:jobs, its fields the entry's
 * field/value pairs; "kind" names the kind.  aw_job_parse() checks the
 * entry against the kind's fields (every required field present, none
 * unknown, none twice, each value of its type and within its bounds), so
 * that a handler only sees valid values; what it refuses is a permanent
 * failure with a message that names the field.
 *
 * A handler does the job's work, idempotently: run twice, it changes
 * nothing the second time.  It returns AW_OK (done) or AW_ERROR with
 * res->error set and res->permanent telling whether another attempt can
 * succeed.  It must not keep state between calls.  It runs one statement
 * on aw_worker.db (its transaction); a kind whose handler sends Redis
 * commands itself has AW_JOB_REDIS (the queue's pipeline is emptied first).
 */

#ifndef AW_JOB_H
#define AW_JOB_H


#include <jansson.h>

#include "core.h"


#define AW_JOB_MAX_FIELDS     16
#define AW_JOB_ERROR_LEN      512
#define AW_JOB_ID_LEN         48      /* "1700000000000-0", with room */


typedef enum {
    AW_JOB_ADDRESS,     /* 0x + 40 hex, any case (mixed: EIP-55); lowered */
    AW_JOB_INT,         /* decimal integer within [min, max] */
    AW_JOB_NONZERO,     /* decimal integer within [min, max], not 0 */
    AW_JOB_HEX,         /* lowercase hex, length within [min, max] */
    AW_JOB_REF,         /* [A-Za-z0-9._:/@-], length within [min, max] */
    AW_JOB_TEXT,        /* any bytes but NUL, length within [min, max] */
    AW_JOB_IP,          /* an IPv4 or IPv6 address */
    AW_JOB_STREAM_ID    /* a stream entry id: MS-SEQ */
} aw_job_type_e;


typedef struct {
    const char      *name;
    aw_job_type_e    type;
    int64_t          min;
    int64_t          max;
    unsigned         optional:1;
    const char      *help;
} aw_job_field_t;


typedef struct aw_job_s         aw_job_t;
typedef struct aw_job_result_s  aw_job_result_t;
typedef struct aw_job_kind_s    aw_job_kind_t;

typedef int (*aw_job_handler_pt)(aw_job_t *job, aw_job_result_t *res);


#define AW_JOB_ADMIN  0x01      /* enqueued by hand: audited as 'admin' */
#define AW_JOB_REDIS  0x02      /* the handler sends Redis commands itself */


struct aw_job_kind_s {
    const char              *name;
    aw_job_handler_pt        handler;
    const aw_job_field_t    *fields;    /* ends with { NULL } */
    unsigned                 flags;
    const char              *help;
};


struct aw_job_s {
    const char              *id;        /* the stream entry id */
    const aw_job_kind_t     *kind;

    /* by the index of the field in kind->fields; NULL: absent */
    const char              *value[AW_JOB_MAX_FIELDS];
    size_t                   len[AW_JOB_MAX_FIELDS];
    int64_t                  num[AW_JOB_MAX_FIELDS];    /* INT, NONZERO */
    char                     addr[AW_JOB_MAX_FIELDS][43];   /* ADDRESS */

    const char              *replay_of;  /* the job this one replays */
    int                      attempt;    /* 1, 2, ... */
};


struct aw_job_result_s {
    unsigned                 permanent:1;
    unsigned                 has_balance:1;     /* publish the wallet's */

    char                     wallet[43];
    int64_t                  balance;
    int64_t                  ledger_id;

    char                     note[256];         /* for the done log line */
    char                     error[AW_JOB_ERROR_LEN];
};


extern const aw_job_kind_t  aw_job_kinds[];


const aw_job_kind_t *aw_job_kind(const char *name, size_t len);
int aw_job_parse(aw_job_t *job, const aw_job_kind_t *kind,
    const char **names, const size_t *nlens, const char **values,
    const size_t *vlens, int n, char *err, size_t errlen);
int aw_job_field(const aw_job_kind_t *kind, const char *name);
int aw_job_stream_id(const char *name, const char *v, size_t len, char *err,
    size_t errlen);
void aw_job_kinds_list(char *buf, size_t size);
void aw_job_fail(aw_job_result_t *res, int permanent, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int aw_job_db_failed(aw_job_t *job, aw_job_result_t *res);
int aw_job_audit(aw_job_t *job, aw_job_result_t *res, const char *action,
    const char *target, json_t *detail);

/* a field's value by name (NULL, 0: absent); the name must be the kind's */
const char *aw_job_str(aw_job_t *job, const char *name);
int64_t aw_job_int(aw_job_t *job, const char *name);
const char *aw_job_addr(aw_job_t *job, const char *name);


/* the handlers, in the files of their concern */
int aw_credit_grant(aw_job_t *job, aw_job_result_t *res);
int aw_credit_adjust(aw_job_t *job, aw_job_result_t *res);
int aw_credit_revoke(aw_job_t *job, aw_job_result_t *res);
int aw_auth_signin(aw_job_t *job, aw_job_result_t *res);
int aw_auth_logout(aw_job_t *job, aw_job_result_t *res);
int aw_queue_replay(aw_job_t *job, aw_job_result_t *res);
int aw_deposit_verify(aw_job_t *job, aw_job_result_t *res);
int aw_deposit_credit(aw_job_t *job, aw_job_result_t *res);
int aw_deposit_reject(aw_job_t *job, aw_job_result_t *res);
int aw_deposit_rescan(aw_job_t *job, aw_job_result_t *res);
int aw_deposit_tier(aw_job_t *job, aw_job_result_t *res);
int aw_session_claim(aw_job_t *job, aw_job_result_t *res);
int aw_session_claim_for(aw_job_result_t *res, int64_t sid,
    const char *wallet, const char *profile, const char *mode,
    const char *key);
int aw_session_leave(aw_job_t *job, aw_job_result_t *res);
int aw_session_release(aw_job_t *job, aw_job_result_t *res);
int aw_session_end(aw_job_t *job, aw_job_result_t *res);
int aw_gpu_drain(aw_job_t *job, aw_job_result_t *res);
int aw_gpu_undrain(aw_job_t *job, aw_job_result_t *res);
int aw_home_delete(aw_job_t *job, aw_job_result_t *res);
int aw_x402_pay(aw_job_t *job, aw_job_result_t *res);


#endif /* AW_JOB_H */
