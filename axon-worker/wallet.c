/*
 * axon-worker: rebuilding the gate's wallet hashes from Postgres (see
 * wallet.h).  Reconcile, don't trust events: a Redis that lost its data
 * (flushed, restarted without its append-only file) gets every balance
 * back, whatever jobs ran meanwhile.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "session.h"
#include "wallet.h"
#include "worker.h"


#define AW_WALLET_CHUNK       500
#define AW_WALLET_CHUNK_TEXT  "500"


aw_script_t  aw_wallet_balance_script = aw_script(WALLET_BALANCE);


static struct {
    unsigned     rebuilding:1;
    unsigned     started:1;         /* one rebuild done since the start */
    char         from[43];          /* the last wallet done */
    int64_t      count;
    aw_msec_t    start;
} aw_wallet;


void
aw_wallet_reset(void)
{
    aw_wallet.rebuilding = 0;
}


/*
 * After a look at axon:wallets:synced: if it is missing, rebuild.  And
 * once after the start: a worker killed between a commit and the Redis
 * write after it (a billing tick's balances, a release's last minute)
 * left a balance in Redis behind Postgres's, which nothing else writes
 * until the wallet's next ledger row; the rebuild's guarded writes only
 * move a balance forward.
 */

void
aw_wallet_check(int exists)
{
    /* the main process rebuilds (the x402 process's loop runs no step) */
    if ((exists && (aw_wallet.started || aw_worker.x402))
        || aw_wallet.rebuilding)
    {
        return;
    }

    if (exists) {
        aw_log(AW_LOG_INFO, "wallets: at the start, every wallet's balance "
               "in Redis brought up to Postgres's");

    } else {
        aw_log(AW_LOG_NOTICE, "wallets: " AXON_KEY_WALLETS_SYNCED " is "
               "missing: rebuilding every wallet's balance in Redis from "
               "Postgres");

        /* and the sessions, their counter, the profiles */
        aw_sched_redis_lost();
    }

    aw_wallet.rebuilding = 1;
    aw_wallet.from[0] = '\0';
    aw_wallet.count = 0;
    aw_wallet.start = aw_monotonic_msec();
}


int
aw_wallet_rebuilding(void)
{
    return aw_wallet.rebuilding;
}


/*
 * One chunk: AW_WALLET_CHUNK wallets, in one snapshot, written with the
 * guarded script (a job that committed a newer balance meanwhile wins).
 * Returns AW_OK, or AW_ERROR if a connection failed (tried again later).
 */

int
aw_wallet_rebuild_step(void)
{
    int           i, n, wallet, balance, ledger_id;
    char          key[64], ms[32];
    PGresult     *res;
    aw_redis_t   *r;
    redisReply   *reply;
    const char   *params[1], *argv[3];

    r = &aw_worker.redis;
    params[0] = aw_wallet.from;

    res = aw_db_query(&aw_worker.db,
                      "SELECT b.wallet, b.balance,"
                      " (SELECT max(l.id) FROM credit_ledger l"
                      "   WHERE l.wallet = b.wallet) AS ledger_id"
                      " FROM wallet_balances b WHERE b.wallet::text > $1"
                      " ORDER BY b.wallet::text"
                      " LIMIT " AW_WALLET_CHUNK_TEXT, 1, params);
    if (res == NULL) {
        return AW_ERROR;
    }

    n = PQntuples(res);
    wallet = aw_db_col(res, "wallet");
    balance = aw_db_col(res, "balance");
    ledger_id = aw_db_col(res, "ledger_id");

    for (i = 0; i < n; i++) {
        snprintf(key, sizeof(key), AXON_KEY_WALLET "%s",
                 PQgetvalue(res, i, wallet));

        argv[0] = key;
        argv[1] = PQgetvalue(res, i, balance);
        argv[2] = PQgetisnull(res, i, ledger_id)
                  ? "0" : PQgetvalue(res, i, ledger_id);

        if (aw_redis_append_script(r, &aw_wallet_balance_script, 1, 3, argv,
                                   NULL)
            != AW_OK)
        {
            PQclear(res);
            return AW_ERROR;
        }
    }

    for (i = 0; i < n; i++) {
        reply = aw_redis_get_reply(r);
        if (reply == NULL) {
            PQclear(res);
            return AW_ERROR;
        }

        if (reply->type == REDIS_REPLY_ERROR) {
            aw_log(AW_LOG_ERR, "wallets: rebuilding %s: %s",
                   PQgetvalue(res, i, wallet), reply->str);
        }

        freeReplyObject(reply);
    }

    if (n > 0) {
        snprintf(aw_wallet.from, sizeof(aw_wallet.from), "%s",
                 PQgetvalue(res, n - 1, wallet));
    }

    PQclear(res);

    aw_wallet.count += n;

    if (n == AW_WALLET_CHUNK) {
        return AW_OK;
    }

    snprintf(ms, sizeof(ms), "%lld", (long long) aw_unix_msec());

    reply = aw_redis_command(r, "SET %s %s", AXON_KEY_WALLETS_SYNCED, ms);
    if (reply == NULL) {
        return AW_ERROR;
    }

    freeReplyObject(reply);

    aw_wallet.rebuilding = 0;
    aw_wallet.started = 1;

    aw_log(AW_LOG_NOTICE, "wallets: rebuilt the balances of %lld wallets in "
           "Redis in %lld ms", (long long) aw_wallet.count,
           (long long) (aw_monotonic_msec() - aw_wallet.start));

    return AW_OK;
}
