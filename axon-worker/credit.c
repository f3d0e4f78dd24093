/*
 * axon-worker: the admin jobs of the credit ledger: credit.grant,
 * credit.adjust, credit.revoke.
 *
 * Each is one call of axon_credit_post()
 * (sql/functions/axon_credit_post.sql): the ledger row by idempotency key
 * (KIND:REF), the admin's audit row (once per job),
 * and the wallet's balance afterwards, which the queue publishes for the
 * gate.  The same ref twice is applied once; the same ref with another
 * wallet or amount is refused.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "job.h"
#include "log.h"
#include "worker.h"


static int aw_credit_post(aw_job_t *job, aw_job_result_t *res,
    const char *kind, int64_t delta, const char *prefix, const char *text);


static aw_db_stmt_t  aw_credit_post_stmt = aw_db_stmt("credit_post",
    "SELECT ledger_id, balance, applied FROM axon_credit_post"
    "($1, $2, $3::bigint, $4, $5, $6, $7, $8, $9::jsonb)");


int
aw_credit_grant(aw_job_t *job, aw_job_result_t *res)
{
    return aw_credit_post(job, res, "grant", aw_job_int(job, "minutes"),
                          "grant", aw_job_str(job, "note"));
}


int
aw_credit_adjust(aw_job_t *job, aw_job_result_t *res)
{
    return aw_credit_post(job, res, "adjustment", aw_job_int(job, "minutes"),
                          "adjust", aw_job_str(job, "reason"));
}


int
aw_credit_revoke(aw_job_t *job, aw_job_result_t *res)
{
    return aw_credit_post(job, res, "adjustment",
                          -aw_job_int(job, "minutes"), "revoke",
                          aw_job_str(job, "reason"));
}


static int
aw_credit_post(aw_job_t *job, aw_job_result_t *res, const char *kind,
    int64_t delta, const char *prefix, const char *text)
{
    int          applied;
    char         ikey[160], amount[32], *detail;
    json_t      *j;
    PGresult    *pg;
    const char  *wallet, *ref, *params[9];

    wallet = aw_job_addr(job, "wallet");
    ref = aw_job_str(job, "ref");

    snprintf(ikey, sizeof(ikey), "%s:%s", prefix, ref);
    snprintf(amount, sizeof(amount), "%lld", (long long) delta);

    j = json_pack("{s:s, s:I, s:s, s:s?, s:s?}",
                  "via", "redis", "minutes", (json_int_t) delta, "ref", ref,
                  strcmp(prefix, "grant") == 0 ? "note" : "reason", text,
                  "replay_of", job->replay_of);
    detail = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);

    if (detail == NULL) {
        /* the text is not UTF-8, or no memory */
        aw_job_fail(res, 1, "%s: cannot be written as JSON (is it UTF-8?)",
                    strcmp(prefix, "grant") == 0 ? "note" : "reason");
        return AW_ERROR;
    }

    params[0] = wallet;
    params[1] = kind;
    params[2] = amount;
    params[3] = ref;
    params[4] = ikey;
    params[5] = (job->kind->flags & AW_JOB_ADMIN) ? "admin" : "worker";
    params[6] = job->id;
    params[7] = job->kind->name;
    params[8] = detail;

    pg = aw_db_query_prepared(&aw_worker.db, &aw_credit_post_stmt, 9, params);
    free(detail);

    if (pg == NULL) {
        aw_job_db_failed(job, res);

        if (strcmp(aw_worker.db.sqlstate, "23505") == 0
            && strstr(aw_worker.db.error, "credit_ledger_idempotency_key_key"))
        {
            /* the same key posted at the same time (this job run twice) */
            aw_job_fail(res, 0, "%s: posted at the same time by another "
                        "run; trying again", ikey);
        }

        if (strcmp(aw_worker.db.sqlstate, "23514") == 0
            && strstr(aw_worker.db.error, "balance_never_negative"))
        {
            pg = aw_db_query(&aw_worker.db,
                             "SELECT coalesce((SELECT balance"
                             " FROM wallet_balances WHERE wallet = $1), 0)"
                             " AS balance", 1, params);

            aw_job_fail(res, 1, "refused: %lld minutes would take the "
                        "balance of %s (%s) below zero "
                        "(balance_never_negative)", (long long) delta,
                        wallet, pg ? aw_db_get(pg, 0, "balance") : "?");
            PQclear(pg);
        }

        return AW_ERROR;
    }

    applied = (aw_db_get(pg, 0, "applied")[0] == 't');

    res->has_balance = 1;
    snprintf(res->wallet, sizeof(res->wallet), "%s", wallet);
    res->ledger_id = atoll(aw_db_get(pg, 0, "ledger_id"));
    res->balance = atoll(aw_db_get(pg, 0, "balance"));

    if (applied) {
        snprintf(res->note, sizeof(res->note), "%+lld minutes to %s "
                 "(%s), balance %lld, ledger id %lld", (long long) delta,
                 wallet, ikey, (long long) res->balance,
                 (long long) res->ledger_id);

    } else {
        snprintf(res->note, sizeof(res->note), "%s was applied already: "
                 "nothing changed; balance of %s %lld", ikey, wallet,
                 (long long) res->balance);
    }

    PQclear(pg);

    return AW_OK;
}
