/*
 * axon-worker: deposits on chain (docs/worker.md, "Deposits").
 *
 *   deposit.verify   a job (queued by the module for a tx hash a wallet
 *                    submitted): checks the transaction and records the
 *                    deposits it carries, 'confirming'
 *   the indexer      a job source: scans the accepted tokens' Transfer
 *                    logs to the revenue wallet, a range at a time (from
 *                    deposit_index_range blocks, as the node allows:
 *                    scan_range.c), from its cursor in Postgres
 *                    (deposit_cursor), and records what it finds; range
 *                    after range while it catches up.  What it finds
 *                    deposit_confirmations deep already is credited at
 *                    once, as the confirmer would (aw_dep_credit_seen)
 *   the confirmer    the same source, after a scan that found deposits
 *                    and at the head: the block at each confirming
 *                    deposit's height is read again; one whose block left
 *                    the chain is 'orphaned' (its receipt says so), those
 *                    with deposit_confirmations are credited together
 *
 * Reorgs: the cursor only moves past blocks that are
 * deposit_confirmations deep, so the young blocks are scanned again at
 * each pass and a log that moved to another block is found there; nothing
 * is credited before N confirmations of the block it is in now.
 *
 * Money: axon_deposit_credit() (sql/functions/axon_deposit_credit.sql)
 * computes the minutes in numeric and posts the ledger row, key
 * deposit:CHAIN:TX:LOG, with the deposit's state change and the claim of
 * its chain event (the transaction and the log's index in it, which an
 * x402 settlement of the same transfer claims too) in one transaction:
 * credited once, whoever found it, however often, by whichever path.  The
 * confirmer's axon_deposits_credit() does the same for many deposits in
 * one transaction.
 *
 * What the module shows (GET /api/deposits) is published in Redis:
 * axon:deposits:ADDR, a hash of TXHASH:LOGINDEX (or TXHASH, for a
 * submission not yet resolved or rejected) -> JSON.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "axon_contract.h"
#include "axon_eth.h"
#include "axon_u256.h"
#include "job.h"
#include "sources.h"
#include "log.h"
#include "metrics.h"
#include "scan_range.h"
#include "wallet.h"
#include "worker.h"


#define AW_DEP_MAX_TOKENS   AW_CONF_MAX_TOKENS
#define AW_DEP_MAX_TIERS    AW_CONF_MAX_TIERS
#define AW_DEP_BATCH        1000

/* what a confirmation pass does with a confirming deposit */
#define AW_DEP_DONE         0       /* nothing more now (orphaned, moved) */
#define AW_DEP_YOUNG        1       /* its confirmations published */
#define AW_DEP_RIPE         2       /* credited if its block still is */
#define AW_DEP_CHECK        3       /* not in its block: the receipt says */


typedef struct {
    char            symbol[16];
    aw_addr_t       addr;
    char            text[43];           /* lowercase */
    int             decimals;
    int64_t         price;              /* minutes per whole token */
} aw_dep_token_t;


typedef struct {
    unsigned        enabled:1;
    unsigned        has_tier:1;

    aw_addr_t       revenue;
    char            revenue_text[43];
    aw_dep_token_t  tokens[AW_DEP_MAX_TOKENS];
    size_t          ntokens;
    int64_t         eth_price;

    aw_addr_t       tier_token;
    int             tier_decimals;
    uint64_t        tier_min[AW_DEP_MAX_TIERS];     /* whole tokens */
    int             tier_pct[AW_DEP_MAX_TIERS];
    size_t          ntiers;
} aw_dep_conf_t;


/* one deposit found in a receipt or a log */
typedef struct {
    int             log_index;          /* -1: native */
    aw_addr_t       payer;
    const aw_dep_token_t *token;        /* NULL: ETH */
    aw_u256_t       amount;
} aw_dep_found_t;


/* one confirmation pass over a batch of confirming deposits */
typedef struct {
    PGresult          *pg;              /* the rows (aw_dep_cols) */
    int                n;
    uint64_t           head;
    int               *acts;            /* per row: AW_DEP_* */
    int               *at;              /* per row: its height in heights */
    int               *txlogs;          /* per ripe row: index in its tx */
    uint64_t          *heights;         /* each row's height, once */
    size_t             nb;
    aw_eth_block_t    *blocks;          /* the block at each height */
    int               *brcs;
    aw_hash_t         *hashes;          /* the tx of each receipt read */
    aw_eth_receipt_t  *receipts;
    int               *rcs;
    size_t             nr;
    void              *mem;             /* all of the above arrays */
} aw_dep_pass_t;


static aw_dep_conf_t  aw_dep;
static unsigned       aw_dep_published;     /* axon:deposits:config */
static int64_t        aw_dep_confirm_after; /* the last id of a full batch */

/* the indexer's eth_getLogs range (scan_range.c) */
#define AW_DEP_RANGE_MAX    100000

static aw_scan_range_t  aw_dep_scan;

/*
 * One confirmation pass credits many deposits of a few wallets at one
 * head: each wallet's tier is read once per pass (its batches one after
 * another), not once per deposit.  On only during aw_dep_confirm(); the
 * admin's credit reads it afresh.
 */
#define AW_DEP_TIER_CACHE   32

static struct {
    unsigned        on:1;
    size_t          n;
    aw_addr_t       wallet[AW_DEP_TIER_CACHE];
    int             pct[AW_DEP_TIER_CACHE];
} aw_dep_tiers;

/*
 * The logs of a range's deep blocks, read while Postgres records the
 * range (aw_dep_prefetch): the scan's credit takes each block's from
 * here instead of asking the node after the INSERT.  Empty otherwise.
 * A block whose logs in the scan are its first ones, none left out, is
 * not read again: its chunk borrows the scan's logs, once its header has
 * the hash they carry (aw_dep_logs_prefix).
 */
typedef struct {
    uint64_t        from;
    uint64_t        to;
    int             ok;                 /* read: logs, nlogs */
    unsigned        borrowed:1;         /* logs are the scan's */
    aw_eth_log_t   *logs;
    size_t          nlogs;
} aw_dep_chunk_t;

static struct {
    aw_dep_chunk_t *chunks;
    size_t          n;
} aw_dep_pre;

/*
 * The range after a dense one, read from the node while Postgres credits
 * that one's deposits (aw_dep_read_ahead): the next scan takes its logs
 * from here if it starts where they do (its cursor moved) and the chain
 * still reaches their end; any other scan drops them.  Only the blocks
 * that were deposit_confirmations deep when they were asked for are taken
 * (final): the cursor moves past no block that was young then, since a
 * reorg may have replaced it before the next scan took them (the node
 * down meanwhile); the young ones are read again, as a scan reads them.
 */
static struct {
    unsigned        want:1;             /* from..to: read while crediting */
    unsigned        have:1;             /* read: logs, n */
    int64_t         from;
    int64_t         to;
    int64_t         final;              /* deposit_confirmations deep then */
    aw_eth_log_t   *logs;
    size_t          n;
} aw_dep_ahead;

static const char  aw_dep_transfer_topic[] =
    "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";


static int aw_deposits_init(void);
static aw_msec_t aw_deposits_run(aw_msec_t now);
static void aw_deposits_reload(void);
static int aw_dep_configure(void);
static void aw_dep_hex_addr(char out[43], const aw_addr_t *a);
static int aw_dep_record_logs(const aw_eth_log_t *logs, size_t n,
    uint64_t head);
static void aw_dep_credit_seen(PGresult *pg, uint64_t head);
static int aw_dep_pass_seen(aw_dep_pass_t *p);
static int aw_dep_logs_arrays(const aw_eth_log_t *logs, size_t n,
    char **text);
static void aw_dep_publish_seen(PGresult *pg, aw_dep_pass_t *p);
static int aw_dep_append_row(PGresult *pg, int row, uint64_t head);
static int aw_dep_append_credited(PGresult *pg, int row, PGresult *cr,
    int crow, int pct);
static int aw_dep_append_entry(PGresult *pg, int row, char *entry);
static void aw_dep_replies(size_t n);
static int aw_dep_record(uint64_t block, const aw_hash_t *block_hash,
    const aw_hash_t *tx, const aw_dep_found_t *f, char **entry);
static char *aw_dep_row_text(PGresult *pg, int row, uint64_t head,
    PGresult *cr, int crow, int pct);
static void aw_dep_json_str(FILE *f, const char *s);
static int aw_dep_publish(const char *wallet, const char *field,
    char *entry, const char *drop);
static int aw_dep_tier(const aw_addr_t *wallet, int *pct);
static int aw_dep_index(uint64_t head, int *found);
static int aw_dep_cursor(const char *chain, int64_t *cursor);
static int aw_dep_get_logs(int64_t from, int64_t to, aw_eth_log_t **logs,
    size_t *n);
static int aw_dep_ahead_take(int64_t from, uint64_t head, int64_t *to,
    aw_eth_log_t **logs, size_t *n);
static void aw_dep_read_ahead(void);
static void aw_dep_ahead_free(void);
static int aw_dep_scan_failed(int rc, int64_t blocks);
static int aw_dep_confirm(uint64_t head);
static int aw_dep_fetch(aw_job_t *job, aw_job_result_t *res, const char *wallet,
    const char *txh, const aw_hash_t *hash, aw_eth_receipt_t *receipt,
    aw_eth_tx_t *tx, int *rc);
static size_t aw_dep_found_in(const aw_eth_tx_t *tx,
    const aw_eth_receipt_t *receipt, aw_dep_found_t *found, size_t size,
    int *unaccepted);
static int aw_dep_record_found(const aw_eth_receipt_t *receipt,
    const aw_hash_t *hash, const char *txh, const char *wallet,
    const aw_dep_found_t *found, size_t n);
static int aw_dep_pending(PGresult *pg, int row);
static int aw_dep_confirm_row(PGresult *pg, int row, int rc,
    const aw_eth_receipt_t *r, uint64_t head);
static int aw_dep_pass_init(aw_dep_pass_t *p, PGresult *pg, int n,
    uint64_t head);
static int aw_dep_pass_blocks(aw_dep_pass_t *p);
static int aw_dep_pass_check(aw_dep_pass_t *p);
static void aw_dep_pass_txlogs(aw_dep_pass_t *p);
static void aw_dep_prefetch(const aw_eth_log_t *logs, size_t n,
    uint64_t head);
static void aw_dep_prefetch_free(void);
static int aw_dep_logs_prefix(const aw_eth_log_t *logs, size_t s, size_t e);
static const aw_dep_chunk_t *aw_dep_prefetched(uint64_t height);
static int aw_dep_height_wants(aw_dep_pass_t *p, size_t i);
static void aw_dep_block_txlogs(aw_dep_pass_t *p, size_t i, int ok,
    aw_eth_log_t *logs, size_t nlogs);
static void aw_dep_credit_ripe(aw_dep_pass_t *p);
static void aw_dep_publish_young(PGresult *pg, const int *acts, int n,
    uint64_t head);
static void aw_dep_orphan(PGresult *pg, int row, const char *reason,
    const char *why, uint64_t head);
static int aw_dep_log_in_tx(PGresult *pg, int row,
    const aw_eth_receipt_t *r);
static int aw_dep_credit_terms(PGresult *pg, int row, char price[24],
    char decimals[8], int *pct, aw_job_result_t *res);
static void aw_dep_credit_log(PGresult *pg, int row, PGresult *cr, int crow,
    int pct);
static int aw_dep_append_balance(const char *wallet, PGresult *cr, int crow);
static int aw_dep_credit_row(PGresult *pg, int row, int txlog,
    const char *actor, const char *job, const char *detail,
    aw_job_result_t *res);
static void aw_dep_credit_rows(PGresult *pg, const int *rows,
    const int *txlogs, size_t k);
static size_t aw_dep_append_wallets(PGresult *pg, const int *rows,
    const int *ok, const int *pcts, size_t k, PGresult *cr);
static int aw_dep_credited_all(PGresult *pg, const int *rows, const int *ok,
    size_t k, PGresult *cr);
static PGresult *aw_dep_rows_by_id(const char *ids);
static const aw_dep_token_t *aw_dep_token_by_asset(const char *asset);
static void aw_dep_publish_id(const char *id, uint64_t head);
static int aw_dep_publish_config(void);
static void aw_dep_publish_tier(const char *wallet, int pct);
static int aw_dep_append_tier(const char *wallet, int pct);


const aw_source_t  aw_deposits_source = {
    "deposits",
    aw_deposits_init,
    aw_deposits_run,
    aw_deposits_reload,
    NULL
};


static const char  aw_dep_cols[] =
    "id, tx_hash, log_index, block_number, block_hash, payer, asset, "
    "symbol, amount::text, state, reject_reason, credited_minutes, "
    "discount_pct";


static int
aw_deposits_init(void)
{
    aw_dep_configure();
    return AW_OK;
}


static void
aw_deposits_reload(void)
{
    aw_dep_configure();
}


/* takes the deposit_* keys, checked and parsed by the config's load */

static int
aw_dep_configure(void)
{
    int                        i;
    aw_dep_token_t            *t;
    const aw_conf_deposits_t  *d;

    d = &aw_worker.conf->deposit;
    aw_dep_ahead_free();
    memset(&aw_dep, 0, sizeof(aw_dep));
    aw_dep_published = 0;
    aw_scan_range_init(&aw_dep_scan, aw_worker.conf->deposit_index_range,
                       AW_DEP_RANGE_MAX);

    if (!d->enabled) {
        return AW_OK;
    }

    memcpy(aw_dep.revenue.b, d->revenue, 20);
    aw_dep_hex_addr(aw_dep.revenue_text, &aw_dep.revenue);
    aw_dep.eth_price = aw_worker.conf->deposit_eth_price;

    for (i = 0; i < d->ntokens; i++) {
        t = &aw_dep.tokens[aw_dep.ntokens++];
        snprintf(t->symbol, sizeof(t->symbol), "%s", d->token[i].symbol);
        memcpy(t->addr.b, d->token[i].addr, 20);
        aw_dep_hex_addr(t->text, &t->addr);
        t->decimals = d->token[i].decimals;
        t->price = d->token[i].price;
    }

    if (d->has_tier) {
        aw_dep.has_tier = 1;
        memcpy(aw_dep.tier_token.b, d->tier_token, 20);
        aw_dep.tier_decimals = d->tier_decimals;

        for (i = 0; i < d->ntiers; i++) {
            aw_dep.tier_min[i] = d->tier_min[i];
            aw_dep.tier_pct[i] = d->tier_pct[i];
        }

        aw_dep.ntiers = d->ntiers;
    }

    aw_dep.enabled = 1;

    aw_log(AW_LOG_INFO, "deposits: to %s, %zu token(s)%s, %d confirmations",
           aw_dep.revenue_text, aw_dep.ntokens,
           aw_dep.eth_price ? " and ETH" : "",
           aw_worker.conf->deposit_confirmations);

    return AW_OK;
}


static void
aw_dep_hex_addr(char out[43], const aw_addr_t *a)
{
    axon_address_format_lower(out, a->b);
    out[42] = '\0';
}


static const aw_dep_token_t *
aw_dep_token_of(const aw_addr_t *a)
{
    size_t  i;

    for (i = 0; i < aw_dep.ntokens; i++) {
        if (memcmp(aw_dep.tokens[i].addr.b, a->b, 20) == 0) {
            return &aw_dep.tokens[i];
        }
    }

    return NULL;
}


static const aw_dep_token_t *
aw_dep_token_by_asset(const char *asset)
{
    size_t  i;

    for (i = 0; i < aw_dep.ntokens; i++) {
        if (strcmp(aw_dep.tokens[i].text, asset) == 0) {
            return &aw_dep.tokens[i];
        }
    }

    return NULL;
}


/* is log a Transfer(from, to, amount) to the revenue wallet? */

static int
aw_dep_transfer_log(const aw_eth_log_t *log, aw_addr_t *from,
    aw_u256_t *amount)
{
    char  topic[67];

    if (log->ntopics != 3 || log->data_len != 32) {
        return 0;
    }

    aw_eth_hex(topic, log->topics[0].b, 32);

    if (strcmp(topic + 2, aw_dep_transfer_topic) != 0
        || memcmp(log->topics[2].b + 12, aw_dep.revenue.b, 20) != 0)
    {
        return 0;
    }

    memcpy(from->b, log->topics[1].b + 12, 20);
    memcpy(amount->b, log->data, 32);

    return 1;
}


/*
 * Records one deposit (axon_deposit_seen) and gives its entry for Redis
 * (*entry, NULL if the database failed).
 */

/*
 * The indexer's logs of one eth_getLogs range, recorded in one statement
 * (axon_deposits_seen: one INSERT, in log order, one round trip).  Those
 * in blocks deposit_confirmations deep at head (read before the logs) are
 * credited at once (aw_dep_credit_seen: no confirmation pass for them);
 * the others are published to their wallets' lists in one Redis pipeline
 * and left to the confirmer.  A log that is not an accepted token's
 * Transfer is skipped.
 */

static int
aw_dep_record_logs(const aw_eth_log_t *logs, size_t n, uint64_t head)
{
    int          rc, found;
    char        *text[8], chain[24], sql[512];
    aw_msec_t    t0, tp, t1;
    size_t       k;
    PGresult    *pg;
    const char  *params[9];

    for (k = 0; k < 8; k++) {
        text[k] = NULL;
    }

    found = aw_dep_logs_arrays(logs, n, text);

    if (found <= 0) {
        rc = found == 0 ? AW_OK : AW_ERROR;
        goto done;
    }

    snprintf(chain, sizeof(chain), "%d", aw_worker.conf->eth_chain_id);
    params[0] = chain;

    for (k = 0; k < 8; k++) {
        params[k + 1] = text[k];
    }

    t0 = aw_monotonic_msec();
    snprintf(sql, sizeof(sql), "SELECT %s FROM axon_deposits_seen($1,"
             " $2::text[], $3::int[], $4::bigint[], $5::text[], $6::text[],"
             " $7::text[], $8::text[], $9::numeric[])", aw_dep_cols);

    /* the node read while Postgres records: the two overlap */
    aw_dep_tiers.n = 0;
    aw_dep_tiers.on = 1;

    if (aw_db_query_send(&aw_worker.db, sql, 9, params) == AW_OK) {
        aw_dep_prefetch(logs, n, head);
    }

    tp = aw_monotonic_msec();
    pg = aw_db_query_result(&aw_worker.db);

    if (pg == NULL) {
        rc = AW_ERROR;
        goto done;
    }

    t1 = aw_monotonic_msec();
    aw_dep_credit_seen(pg, head);
    PQclear(pg);
    aw_log(AW_LOG_DEBUG, "deposits: %d recorded: Postgres %lld ms (the deep "
           "blocks' logs or headers read meanwhile, %lld ms), the "
           "confirmed-deep ones credited, the others published %lld ms",
           found,
           (long long) (t1 - t0), (long long) (tp - t0),
           (long long) (aw_monotonic_msec() - t1));

    rc = AW_OK;

done:

    aw_dep_prefetch_free();
    aw_dep_tiers.on = 0;
    aw_dep_tiers.n = 0;

    for (k = 0; k < 8; k++) {
        free(text[k]);
    }

    return rc;
}


/*
 * The Transfers of accepted tokens among logs as eight Postgres arrays
 * (tx, log index, block, block hash, payer, asset, symbol, amount), one
 * element per deposit: how many (-1: out of memory).  The caller frees
 * text[].
 */

static int
aw_dep_logs_arrays(const aw_eth_log_t *logs, size_t n, char **text)
{
    int              found;
    FILE            *col[8];
    char             buf[80];
    size_t           i, k, len[8];
    aw_dep_found_t   f;

    found = 0;

    for (k = 0; k < 8; k++) {
        col[k] = open_memstream(&text[k], &len[k]);

        if (col[k] == NULL) {
            while (k--) {
                fclose(col[k]);
            }

            return -1;
        }

        fputc('{', col[k]);
    }

    for (i = 0; i < n; i++) {
        if (logs[i].removed
            || !aw_dep_transfer_log(&logs[i], &f.payer, &f.amount))
        {
            continue;
        }

        f.token = aw_dep_token_of(&logs[i].address);
        if (f.token == NULL) {
            continue;
        }

        for (k = 0; found && k < 8; k++) {
            fputc(',', col[k]);
        }

        fputs(aw_eth_hex(buf, logs[i].tx_hash.b, 32), col[0]);
        fprintf(col[1], "%llu", (unsigned long long) logs[i].log_index);
        fprintf(col[2], "%llu", (unsigned long long) logs[i].block_number);
        fputs(aw_eth_hex(buf, logs[i].block_hash.b, 32), col[3]);
        aw_dep_hex_addr(buf, &f.payer);
        fputs(buf, col[4]);
        fputs(f.token->text, col[5]);
        fputs(f.token->symbol, col[6]);
        axon_uint256_format(buf, f.amount.b);
        fputs(buf, col[7]);
        found++;
    }

    for (k = 0; k < 8; k++) {
        fputc('}', col[k]);
        fclose(col[k]);
    }

    return found;
}


/*
 * The deposits just recorded (pg: axon_deposits_seen's rows) whose blocks
 * are deposit_confirmations deep at head, credited now as the confirmer
 * would credit them (their block hashes checked again by the logs of
 * their blocks, which give each one's index in its transaction:
 * aw_dep_pass_txlogs; or by the headers of those whose first logs the
 * scan holds: aw_dep_prefetch); the others that are confirming published.
 * Any left confirming (young, or its block or index to be found again) is
 * the confirmer's, which runs after a range that found deposits.
 */

static void
aw_dep_credit_seen(PGresult *pg, uint64_t head)
{
    int            n;
    aw_msec_t      t0, t1;
    aw_dep_pass_t  p;

    n = PQntuples(pg);

    if (n == 0 || aw_dep_pass_init(&p, pg, n, head) != AW_OK) {
        aw_dep_publish_seen(pg, NULL);
        return;
    }

    aw_dep_publish_seen(pg, &p);

    if (aw_dep_pass_seen(&p)) {
        t0 = aw_monotonic_msec();
        aw_dep_pass_txlogs(&p);
        t1 = aw_monotonic_msec();

        /* the tiers of this range's wallets: read once, by the prefetch */
        aw_dep_credit_ripe(&p);

        aw_log(AW_LOG_DEBUG, "deposits: %zu block(s) confirmed-deep at head "
               "%llu: their logs %lld ms, credited in %lld ms", p.nb,
               (unsigned long long) head, (long long) (t1 - t0),
               (long long) (aw_monotonic_msec() - t1));
    }

    free(p.mem);
}


/*
 * A confirmation pass over the rows just recorded, with no block read:
 * each confirming row whose block is deposit_confirmations deep at the
 * pass's head is ripe (the hash it was recorded with is checked again by
 * the logs of its block), the others young (left to the confirmer).
 * Returns 1 if any is ripe.
 */

static int
aw_dep_pass_seen(aw_dep_pass_t *p)
{
    int          row, ripe;
    char         bh[67];
    size_t       i;
    uint64_t     b;
    const char  *hash;

    ripe = 0;

    for (row = 0; row < p->n; row++) {
        if (p->acts[row] != AW_DEP_RIPE) {
            continue;
        }

        b = strtoull(aw_db_get(p->pg, row, "block_number"), NULL, 10);
        hash = aw_db_get(p->pg, row, "block_hash");

        /* logs come in block order */
        for (i = p->nb; i > 0 && p->heights[i - 1] != b; i--) {
            /* void */
        }

        if (i == 0) {
            p->heights[p->nb] = b;
            aw_eth_parse_bytes(hash, 32, p->blocks[p->nb].hash.b);
            i = ++p->nb;

        } else if (strcmp(aw_eth_hex(bh, p->blocks[i - 1].hash.b, 32), hash)
                   != 0)
        {
            /* two blocks at one height: the confirmer reads which is */
            p->acts[row] = AW_DEP_DONE;
            continue;
        }

        p->at[row] = (int) i - 1;
        ripe = 1;
    }

    return ripe;
}


/*
 * The deposits just seen that are confirming, shown in their payers'
 * lists at once, but for those deposit_confirmations deep at the pass's
 * head, credited now (acts, if not NULL: per row AW_DEP_RIPE for those,
 * AW_DEP_YOUNG for the published, AW_DEP_DONE for the others); a lost
 * reply only delays a wallet's list.
 */

static void
aw_dep_publish_seen(PGresult *pg, aw_dep_pass_t *p)
{
    int       row, rows;
    size_t    sent;
    uint64_t  b;

    rows = PQntuples(pg);
    sent = 0;

    for (row = 0; row < rows; row++) {
        if (strcmp(aw_db_get(pg, row, "state"), "confirming") != 0) {
            if (p) {
                p->acts[row] = AW_DEP_DONE;
            }
            continue;
        }

        b = strtoull(aw_db_get(pg, row, "block_number"), NULL, 10);

        if (p && p->head + 1 >= b + aw_worker.conf->deposit_confirmations) {
            p->acts[row] = AW_DEP_RIPE;
            continue;
        }

        if (p) {
            p->acts[row] = AW_DEP_YOUNG;
        }

        sent += aw_dep_append_row(pg, row, 0);
    }

    aw_dep_replies(sent);
}


/*
 * HSET of the deposits row (aw_dep_cols) at row in its wallet's list,
 * appended to the Redis pipeline: 1, or 0 if it could not be.
 */

static int
aw_dep_append_row(PGresult *pg, int row, uint64_t head)
{
    return aw_dep_append_entry(pg, row,
                               aw_dep_row_text(pg, row, head, NULL, 0, 0));
}


/*
 * The same for a deposit just credited by this worker (cr's row crow,
 * applied: a ledger row posted), from its row as pg holds it: the credit
 * changed only its state, its minutes and its discount (pct).
 */

static int
aw_dep_append_credited(PGresult *pg, int row, PGresult *cr, int crow,
    int pct)
{
    return aw_dep_append_entry(pg, row,
                               aw_dep_row_text(pg, row, 0, cr, crow, pct));
}


/* HSET of entry (JSON text, taken; NULL: none) as the deposit at pg's row */

static int
aw_dep_append_entry(PGresult *pg, int row, char *dump)
{
    int      rc;
    char     key[64], field[96];

    if (dump == NULL) {
        return 0;
    }

    snprintf(key, sizeof(key), AXON_KEY_DEPOSITS "%s",
             aw_db_get(pg, row, "payer"));
    snprintf(field, sizeof(field), "%s:%s", aw_db_get(pg, row, "tx_hash"),
             aw_db_get(pg, row, "log_index"));

    rc = aw_redis_append(&aw_worker.redis, "HSET %s %s %s", key, field, dump);
    free(dump);

    return rc == AW_OK;
}


/* the replies of n commands appended, read and dropped */

static void
aw_dep_replies(size_t n)
{
    redisReply  *reply;

    while (n--) {
        reply = aw_redis_get_reply(&aw_worker.redis);
        if (reply == NULL) {
            break;
        }
        freeReplyObject(reply);
    }
}


static int
aw_dep_record(uint64_t block, const aw_hash_t *block_hash,
    const aw_hash_t *tx, const aw_dep_found_t *f, char **entry)
{
    char         chain[24], txh[67], bh[67], blk[24], li[16], payer[43];
    char         amount[80];
    PGresult    *pg;
    const char  *params[9];

    *entry = NULL;

    snprintf(chain, sizeof(chain), "%d", aw_worker.conf->eth_chain_id);
    aw_eth_hex(txh, tx->b, 32);
    aw_eth_hex(bh, block_hash->b, 32);
    snprintf(blk, sizeof(blk), "%llu", (unsigned long long) block);
    snprintf(li, sizeof(li), "%d", f->log_index);
    aw_dep_hex_addr(payer, &f->payer);
    axon_uint256_format(amount, f->amount.b);

    params[0] = chain;
    params[1] = txh;
    params[2] = li;
    params[3] = blk;
    params[4] = bh;
    params[5] = payer;
    params[6] = f->token ? f->token->text : "ETH";
    params[7] = f->token ? f->token->symbol : "ETH";
    params[8] = amount;

    pg = aw_db_query(&aw_worker.db,
                     "SELECT id, tx_hash, log_index, block_number, block_hash,"
                     " payer, asset, symbol, amount::text, state,"
                     " reject_reason, credited_minutes, discount_pct"
                     " FROM axon_deposit_seen($1, $2, $3, $4, $5, $6, $7,"
                     " $8, $9)", 9, params);

    if (pg == NULL) {
        return AW_ERROR;
    }

    *entry = aw_dep_row_text(pg, 0, 0, NULL, 0, 0);
    PQclear(pg);

    return AW_OK;
}


/*
 * A deposits row (aw_dep_cols) as the module shows it, JSON text
 * (malloc'd; NULL: out of memory); head 0: the confirmations are not known
 * here (0).  cr (NULL: none): a credit this worker has just applied to it
 * (axon_deposits_credit's row crow, at pct off), which changed only its
 * state, minutes and discount.  Written here, not built as a jansson
 * object and dumped: a range credits thousands at once.
 */

static char *
aw_dep_row_text(PGresult *pg, int row, uint64_t head, PGresult *cr,
    int crow, int pct)
{
    FILE         *f;
    char         *text;
    size_t        len;
    int64_t       confs;
    uint64_t      block;
    const char   *state;

    state = cr ? "credited" : aw_db_get(pg, row, "state");
    block = strtoull(aw_db_get(pg, row, "block_number"), NULL, 10);
    confs = 0;

    if (strcmp(state, "credited") == 0) {
        confs = aw_worker.conf->deposit_confirmations;

    } else if (head >= block && block) {
        confs = (int64_t) (head - block + 1);
    }

    text = NULL;
    f = open_memstream(&text, &len);

    if (f == NULL) {
        return NULL;
    }

    fputs("{\"tx_hash\":", f);
    aw_dep_json_str(f, aw_db_get(pg, row, "tx_hash"));
    fprintf(f, ",\"log_index\":%d,\"asset\":",
            atoi(aw_db_get(pg, row, "log_index")));
    aw_dep_json_str(f, aw_db_get(pg, row, "asset"));
    fputs(",\"symbol\":", f);
    aw_dep_json_str(f, aw_db_get(pg, row, "symbol"));
    fputs(",\"amount\":", f);
    aw_dep_json_str(f, aw_db_get(pg, row, "amount"));
    fputs(",\"status\":", f);
    aw_dep_json_str(f, state);
    fprintf(f, ",\"confirmations\":%lld,\"required\":%lld,"
            "\"block_number\":%llu,\"updated\":%lld,\"payer\":",
            (long long) confs,
            (long long) aw_worker.conf->deposit_confirmations,
            (unsigned long long) block, (long long) time(NULL));
    aw_dep_json_str(f, aw_db_get(pg, row, "payer"));

    if (!aw_db_isnull(pg, row, "reject_reason")) {
        fputs(",\"reason\":", f);
        aw_dep_json_str(f, aw_db_get(pg, row, "reject_reason"));
    }

    if (cr) {
        fprintf(f, ",\"minutes\":%lld,\"discount_pct\":%d",
                atoll(aw_db_get(cr, crow, "minutes")), pct);

    } else {
        if (!aw_db_isnull(pg, row, "credited_minutes")) {
            fprintf(f, ",\"minutes\":%lld",
                    atoll(aw_db_get(pg, row, "credited_minutes")));
        }

        if (!aw_db_isnull(pg, row, "discount_pct")) {
            fprintf(f, ",\"discount_pct\":%d",
                    atoi(aw_db_get(pg, row, "discount_pct")));
        }
    }

    fputc('}', f);

    if (ferror(f)) {
        fclose(f);
        free(text);
        return NULL;
    }

    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }

    return text;
}


/*
 * s as a JSON string: '"' and '\' escaped, the control characters as
 * \u00XX; the rest (UTF-8, as Postgres holds it) as it is, as jansson
 * writes it.
 */

static void
aw_dep_json_str(FILE *f, const char *s)
{
    size_t  n;

    /* what is escaped: '"', '\' and the control characters but NUL */
    static const char  esc[] = "\"\\"
        "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
        "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f";

    fputc('"', f);

    /* the runs between them written whole, not a character at a time */
    for ( ;; ) {
        n = strcspn(s, esc);
        fwrite(s, 1, n, f);
        s += n;

        if (*s == '\0') {
            break;
        }

        if (*s == '"' || *s == '\\') {
            fputc('\\', f);
            fputc(*s, f);

        } else {
            fprintf(f, "\\u%04x", (unsigned char) *s);
        }

        s++;
    }

    fputc('"', f);
}


/*
 * HSET axon:deposits:WALLET FIELD JSON (and HDEL drop); takes text (NULL:
 * none)
 */

static int
aw_dep_publish(const char *wallet, const char *field, char *text,
    const char *drop)
{
    char        key[64];
    redisReply *reply;

    if (text == NULL) {
        return AW_ERROR;
    }

    snprintf(key, sizeof(key), AXON_KEY_DEPOSITS "%s", wallet);

    reply = aw_redis_command(&aw_worker.redis, "HSET %s %s %s", key, field,
                             text);
    free(text);

    if (reply == NULL) {
        return AW_ERROR;
    }

    freeReplyObject(reply);

    if (drop) {
        reply = aw_redis_command(&aw_worker.redis, "HDEL %s %s", key, drop);
        if (reply) {
            freeReplyObject(reply);
        }
    }

    return AW_OK;
}


static int
aw_dep_publish_row(PGresult *pg, int row, uint64_t head, const char *drop)
{
    char  field[96];

    snprintf(field, sizeof(field), "%s:%s", aw_db_get(pg, row, "tx_hash"),
             aw_db_get(pg, row, "log_index"));

    return aw_dep_publish(aw_db_get(pg, row, "payer"), field,
                          aw_dep_row_text(pg, row, head, NULL, 0, 0), drop);
}


/* the deposits row by id, as it is now, for its wallet's list */

static void
aw_dep_publish_id(const char *id, uint64_t head)
{
    char         sql[512];
    PGresult    *pg;
    const char  *params[1];

    params[0] = id;
    snprintf(sql, sizeof(sql), "SELECT %s FROM deposits WHERE id = $1",
             aw_dep_cols);

    pg = aw_db_query(&aw_worker.db, sql, 1, params);

    if (pg && PQntuples(pg) == 1) {
        aw_dep_publish_row(pg, 0, head, NULL);
    }

    PQclear(pg);
}


static int
aw_dep_reject(aw_job_result_t *res, const char *wallet, const char *tx,
    const char *reason, const char *text)
{
    char    *dump;
    json_t  *o;

    o = json_pack("{s:s, s:s, s:s, s:s, s:I}", "tx_hash", tx,
                  "status", "rejected", "reason", reason, "message", text,
                  "updated", (json_int_t) time(NULL));
    dump = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);

    if (aw_dep_publish(wallet, tx, dump, NULL) != AW_OK) {
        aw_job_fail(res, 0, "redis: cannot publish the rejection");
        return AW_ERROR;
    }

    snprintf(res->note, sizeof(res->note), "%s rejected: %s (%s)", tx,
             reason, text);

    return AW_OK;
}


/*
 * deposit.verify tx_hash wallet: the transaction a wallet submitted.  It
 * must have succeeded and pay the revenue wallet (natively, or by a
 * Transfer log of an accepted token), from this wallet; what it pays is
 * recorded, 'confirming', and credited by the confirmer at N
 * confirmations.  Otherwise it is rejected with a reason (published for
 * the wallet only: the deposits table holds deposits, not refusals).
 */

int
aw_deposit_verify(aw_job_t *job, aw_job_result_t *res)
{
    int                rc, mine, unaccepted;
    size_t             n;
    aw_hash_t          hash;
    aw_eth_tx_t        tx;
    const char        *txh, *wallet;
    aw_dep_found_t     found[16];
    aw_eth_receipt_t   receipt;

    txh = aw_job_str(job, "tx_hash");
    wallet = aw_job_addr(job, "wallet");

    if (strlen(txh) != 66 || txh[0] != '0' || txh[1] != 'x'
        || strspn(txh + 2, "0123456789abcdef") != 64
        || aw_eth_parse_bytes(txh, 32, hash.b) != AW_OK)
    {
        aw_job_fail(res, 1, "field \"tx_hash\": \"%.70s\" is not 0x + 64 "
                    "lowercase hex digits", txh);
        return AW_ERROR;
    }

    if (!aw_dep.enabled || !aw_rpc_enabled(&aw_worker.rpc)) {
        aw_job_fail(res, 0, "deposits are off (no eth_rpc_url or "
                    "deposit_revenue_wallet): trying again later");
        return AW_ERROR;
    }

    if (!aw_dep_fetch(job, res, wallet, txh, &hash, &receipt, &tx, &rc)) {
        return rc;
    }

    n = aw_dep_found_in(&tx, &receipt, found, aw_nelems(found),
                        &unaccepted);

    if (n == 0) {
        aw_eth_receipt_free(&receipt);

        if (unaccepted) {
            return aw_dep_reject(res, wallet, txh, "token_not_accepted",
                                 "a transfer to the revenue wallet of a "
                                 "token that is not accepted");
        }

        return aw_dep_reject(res, wallet, txh, "not_a_deposit",
                             "the transaction pays nothing to the revenue "
                             "wallet");
    }

    mine = aw_dep_record_found(&receipt, &hash, txh, wallet, found, n);

    aw_eth_receipt_free(&receipt);

    if (mine < 0) {
        return aw_job_db_failed(job, res);
    }

    if (mine == 0) {
        return aw_dep_reject(res, wallet, txh, "not_your_deposit",
                             "the transaction was paid by another wallet");
    }

    snprintf(res->note, sizeof(res->note), "%s: %d deposit(s) of %s "
             "recorded at block %llu", txh, mine, wallet,
             (unsigned long long) receipt.block_number);

    return AW_OK;
}


/*
 * The transaction and its receipt, mined and successful: 1, or 0 with the
 * job's outcome in *rc (rejected, or tried again later).
 */

static int
aw_dep_fetch(aw_job_t *job, aw_job_result_t *res, const char *wallet,
    const char *txh, const aw_hash_t *hash, aw_eth_receipt_t *receipt,
    aw_eth_tx_t *tx, int *rc)
{
    int  r;

    r = aw_rpc_get_receipt(&aw_worker.rpc, hash, receipt);

    if (r == AW_RPC_NOT_FOUND) {
        r = aw_rpc_get_transaction(&aw_worker.rpc, hash, tx);

        if (r == AW_RPC_NOT_FOUND) {
            *rc = aw_dep_reject(res, wallet, txh, "tx_not_found",
                                "the node knows no such transaction");
            return 0;
        }

        if (r == AW_RPC_OK && job->attempt >= aw_worker.conf->job_max_attempts)
        {
            /* the last attempt: the payer told, not left "submitted" (no
             * scan finds a native payment; a token's the indexer will) */
            *rc = aw_dep_reject(res, wallet, txh, "tx_pending",
                                "the transaction is still pending: submit "
                                "its hash again once it is mined");
            return 0;
        }

        if (r == AW_RPC_OK) {
            aw_job_fail(res, 0, "%s is pending: trying again later", txh);
            *rc = AW_ERROR;
            return 0;
        }
    }

    if (r != AW_RPC_OK) {
        aw_job_fail(res, r == AW_RPC_EMALFORMED, "eth: %s",
                    aw_worker.rpc.error);
        *rc = AW_ERROR;
        return 0;
    }

    r = aw_rpc_get_transaction(&aw_worker.rpc, hash, tx);

    if (r != AW_RPC_OK) {
        aw_eth_receipt_free(receipt);
        aw_job_fail(res, 0, "eth: %s", r == AW_RPC_NOT_FOUND
                    ? "the transaction vanished" : aw_worker.rpc.error);
        *rc = AW_ERROR;
        return 0;
    }

    if (!receipt->status) {
        aw_eth_receipt_free(receipt);
        *rc = aw_dep_reject(res, wallet, txh, "tx_failed",
                            "the transaction reverted");
        return 0;
    }

    return 1;
}


/*
 * What a transaction pays the revenue wallet: its value (when ETH is
 * accepted), and each Transfer of an accepted token, at most size; the
 * transfers of other tokens are counted in *unaccepted.
 */

static size_t
aw_dep_found_in(const aw_eth_tx_t *tx, const aw_eth_receipt_t *receipt,
    aw_dep_found_t *found, size_t size, int *unaccepted)
{
    size_t                 i, n;
    aw_addr_t              from;
    aw_u256_t              amount;
    const aw_dep_token_t  *token;

    n = 0;
    *unaccepted = 0;

    if (tx->has_to && memcmp(tx->to.b, aw_dep.revenue.b, 20) == 0
        && aw_dep.eth_price > 0)
    {
        for (i = 0; i < 32 && tx->value.b[i] == 0; i++) { /* void */ }

        if (i < 32) {
            found[n].log_index = -1;
            found[n].payer = tx->from;
            found[n].token = NULL;
            found[n].amount = tx->value;
            n++;
        }
    }

    for (i = 0; i < receipt->nlogs && n < size; i++) {
        if (!aw_dep_transfer_log(&receipt->logs[i], &from, &amount)) {
            continue;
        }

        token = aw_dep_token_of(&receipt->logs[i].address);

        if (token == NULL) {
            (*unaccepted)++;
            continue;
        }

        found[n].log_index = (int) receipt->logs[i].log_index;
        found[n].payer = from;
        found[n].token = token;
        found[n].amount = amount;
        n++;
    }

    return n;
}


/*
 * The deposits found, recorded and shown to their payers: how many are
 * the job's wallet's (-1: Postgres failed).
 */

static int
aw_dep_record_found(const aw_eth_receipt_t *receipt, const aw_hash_t *hash,
    const char *txh, const char *wallet, const aw_dep_found_t *found,
    size_t n)
{
    int      mine;
    char    *entry, field[96], payer[43];
    size_t   i;

    mine = 0;

    for (i = 0; i < n; i++) {
        if (aw_dep_record(receipt->block_number, &receipt->block_hash, hash,
                          &found[i], &entry)
            != AW_OK)
        {
            return -1;
        }

        aw_dep_hex_addr(payer, &found[i].payer);
        snprintf(field, sizeof(field), "%s:%d", txh, found[i].log_index);

        if (strcmp(payer, wallet) == 0) {
            mine++;
            aw_dep_publish(payer, field, entry, txh);

        } else {
            /* another wallet's deposit: still recorded, and shown to it */
            aw_dep_publish(payer, field, entry, NULL);
        }
    }

    return mine;
}


/* the discount tier of wallet, by its balance of the tier token */

static int
aw_dep_tier(const aw_addr_t *wallet, int *pct)
{
    int        rc;
    size_t     len, i;
    char       dec[80];
    uint64_t   whole;
    aw_u256_t  bal;

    *pct = 0;

    if (!aw_dep.has_tier) {
        return AW_OK;
    }

    for (i = 0; aw_dep_tiers.on && i < aw_dep_tiers.n; i++) {
        if (memcmp(aw_dep_tiers.wallet[i].b, wallet->b, 20) == 0) {
            *pct = aw_dep_tiers.pct[i];
            return AW_OK;
        }
    }

    rc = aw_rpc_erc20_balance(&aw_worker.rpc, &aw_dep.tier_token, wallet,
                              &bal);
    if (rc != AW_RPC_OK) {
        return AW_ERROR;
    }

    axon_uint256_format(dec, bal.b);
    len = strlen(dec);

    if (len <= (size_t) aw_dep.tier_decimals) {
        whole = 0;

    } else if (len - aw_dep.tier_decimals > 19) {
        whole = UINT64_MAX;

    } else {
        dec[len - aw_dep.tier_decimals] = '\0';
        whole = strtoull(dec, NULL, 10);
    }

    for (i = 0; i < aw_dep.ntiers; i++) {
        if (whole >= aw_dep.tier_min[i]) {
            *pct = aw_dep.tier_pct[i];
        }
    }

    if (aw_dep_tiers.on && aw_dep_tiers.n < AW_DEP_TIER_CACHE) {
        aw_dep_tiers.wallet[aw_dep_tiers.n] = *wallet;
        aw_dep_tiers.pct[aw_dep_tiers.n++] = *pct;
    }

    return AW_OK;
}


/*
 * The deposits row's log (aw_dep_cols) in its transaction's receipt r (of
 * the row's block): its index among the transaction's logs, the chain
 * event's key (a reorg that mines the transaction into another block
 * changes the block's log index, not this); -1: native ETH; -2: not found
 * (its transaction moved and holds several such transfers).  The log at
 * the row's index if it is the deposit's Transfer, else the one Transfer
 * of the same token, payer and amount (nodes that number the logs of a
 * receipt otherwise than those of eth_getLogs: ganache).
 */

static int
aw_dep_log_in_tx(PGresult *pg, int row, const aw_eth_receipt_t *r)
{
    int           found, n;
    char          payer[43], amount[80];
    size_t        i;
    uint64_t      li;
    aw_addr_t     from;
    aw_u256_t     value;
    const aw_dep_token_t  *token;

    if (strcmp(aw_db_get(pg, row, "log_index"), "-1") == 0) {
        return -1;
    }

    li = strtoull(aw_db_get(pg, row, "log_index"), NULL, 10);
    found = -2;
    n = 0;

    for (i = 0; i < r->nlogs; i++) {
        if (r->logs[i].removed
            || !aw_dep_transfer_log(&r->logs[i], &from, &value))
        {
            continue;
        }

        token = aw_dep_token_of(&r->logs[i].address);
        aw_dep_hex_addr(payer, &from);
        axon_uint256_format(amount, value.b);

        if (token == NULL
            || strcmp(token->text, aw_db_get(pg, row, "asset")) != 0
            || strcmp(payer, aw_db_get(pg, row, "payer")) != 0
            || strcmp(amount, aw_db_get(pg, row, "amount")) != 0)
        {
            continue;
        }

        if (r->logs[i].log_index == li) {
            return (int) i;
        }

        found = (int) i;
        n++;
    }

    return n == 1 ? found : -2;
}


/*
 * What the deposits row (aw_dep_cols) at row is credited at: the price
 * and decimals of its asset, its wallet's tier now (published for quotes).
 */

static int
aw_dep_credit_terms(PGresult *pg, int row, char price[24], char decimals[8],
    int *pct, aw_job_result_t *res)
{
    aw_addr_t              payer;
    const char            *asset;
    const aw_dep_token_t  *token;

    asset = aw_db_get(pg, row, "asset");

    if (strcmp(asset, "ETH") == 0) {
        snprintf(price, 24, "%lld", (long long) aw_dep.eth_price);
        snprintf(decimals, 8, "18");

    } else {
        token = aw_dep_token_by_asset(asset);

        if (token == NULL) {
            aw_log(AW_LOG_WARN, "deposits: %s:%s: token %s is no longer "
                   "accepted: not credited", aw_db_get(pg, row, "tx_hash"),
                   aw_db_get(pg, row, "log_index"), asset);
            if (res) {
                aw_job_fail(res, 1, "token %s is not accepted", asset);
            }
            return AW_ERROR;
        }

        snprintf(price, 24, "%lld", (long long) token->price);
        snprintf(decimals, 8, "%d", token->decimals);
    }

    if (axon_address_parse(payer.b, aw_db_get(pg, row, "payer"), 42) != AXON_OK
        || aw_dep_tier(&payer, pct) != AW_OK)
    {
        if (res) {
            aw_job_fail(res, 0, "eth: the tier: %s", aw_worker.rpc.error);
        }
        return AW_ERROR;
    }

    return AW_OK;
}


/* the log line of a deposit credited: cr (axon_deposit_credit's) at crow */

static void
aw_dep_credit_log(PGresult *pg, int row, PGresult *cr, int crow, int pct)
{
    const char  *minutes;

    minutes = aw_db_isnull(cr, crow, "minutes")
              ? "0" : aw_db_get(cr, crow, "minutes");

    aw_log(AW_LOG_INFO, "deposits: %s:%s of %s (%s %s): %s, %s minutes at "
           "%d%% off%s", aw_db_get(pg, row, "tx_hash"),
           aw_db_get(pg, row, "log_index"), aw_db_get(pg, row, "payer"),
           aw_db_get(pg, row, "amount"), aw_db_get(pg, row, "symbol"),
           aw_db_get(cr, crow, "new_state"), minutes, pct,
           aw_db_get(cr, crow, "applied")[0] == 't'
           ? "" : " (credited already)");
}


/*
 * The wallet's balance after a credit (cr at crow: its ledger row and
 * balance), appended to the Redis pipeline: 1, or 0.
 */

static int
aw_dep_append_balance(const char *wallet, PGresult *cr, int crow)
{
    char         key[64], bal[24], lid[24];
    const char  *argv[3];

    if (aw_db_isnull(cr, crow, "ledger_id")
        || aw_db_isnull(cr, crow, "balance"))
    {
        return 0;
    }

    snprintf(key, sizeof(key), AXON_KEY_WALLET "%s", wallet);
    snprintf(bal, sizeof(bal), "%s", aw_db_get(cr, crow, "balance"));
    snprintf(lid, sizeof(lid), "%s", aw_db_get(cr, crow, "ledger_id"));

    argv[0] = key;
    argv[1] = bal;
    argv[2] = lid;

    return aw_redis_append_script(&aw_worker.redis, &aw_wallet_balance_script,
                                  1, 3, argv, NULL) == AW_OK;
}


/*
 * Credits the deposits row (aw_dep_cols) at row, whose log is txlog in its
 * transaction (aw_dep_log_in_tx): its tier now, the ledger row, the
 * wallet's balance and the deposit published.
 */

static int
aw_dep_credit_row(PGresult *pg, int row, int txlog, const char *actor,
    const char *job, const char *detail, aw_job_result_t *res)
{
    int          pct;
    char         price[24], decimals[8], disc[8], txl[16];
    size_t       sent;
    PGresult    *cr;
    const char  *params[8], *minutes;

    if (aw_dep_credit_terms(pg, row, price, decimals, &pct, res) != AW_OK) {
        return AW_ERROR;
    }

    snprintf(disc, sizeof(disc), "%d", pct);
    snprintf(txl, sizeof(txl), "%d", txlog);

    /* sent with the first reply read, after the credit */
    sent = aw_dep_append_tier(aw_db_get(pg, row, "payer"), pct);

    params[0] = aw_db_get(pg, row, "id");
    params[1] = price;
    params[2] = decimals;
    params[3] = disc;
    params[4] = actor;
    params[5] = job;
    params[6] = detail;
    params[7] = txl;

    cr = aw_db_query(&aw_worker.db,
                     "SELECT new_state, minutes, ledger_id, balance, applied"
                     " FROM axon_deposit_credit($1, $2, $3, $4, $5, $6,"
                     " $7::jsonb, $8::int)", 8, params);

    if (cr == NULL) {
        aw_dep_replies(sent);

        if (res) {
            aw_job_db_failed(NULL, res);
        } else {
            aw_log(AW_LOG_WARN, "deposits: crediting %s: %s",
                   aw_db_get(pg, row, "tx_hash"), aw_worker.db.error);
        }
        return AW_ERROR;
    }

    aw_dep_credit_log(pg, row, cr, 0, pct);
    sent += aw_dep_append_balance(aw_db_get(pg, row, "payer"), cr, 0);

    if (res) {
        minutes = aw_db_isnull(cr, 0, "minutes")
                  ? "0" : aw_db_get(cr, 0, "minutes");
        snprintf(res->note, sizeof(res->note), "%s:%s %s, %s minutes",
                 aw_db_get(pg, row, "tx_hash"),
                 aw_db_get(pg, row, "log_index"),
                 aw_db_get(cr, 0, "new_state"), minutes);
    }

    aw_dep_replies(sent);
    PQclear(cr);

    aw_dep_publish_id(aw_db_get(pg, row, "id"), 0);

    return AW_OK;
}


/*
 * The k ripe deposits rows[] of pg (aw_dep_cols, in id order; their logs
 * in their transactions txlogs[]) credited in one statement,
 * axon_deposits_credit(): one transaction.  Should it fail (an x402
 * settlement claiming one of the transfers at that instant, a deadlock
 * with another worker), nothing of it stays and each is credited by
 * itself, as before.  The tiers, balances and deposits are then published
 * in one Redis pipeline.
 */

static void
aw_dep_credit_rows(PGresult *pg, const int *rows, const int *txlogs,
    size_t k)
{
    int          *pcts, *ok, crow;
    FILE         *col[5], *again;
    char         *text[5], *atext, price[24], decimals[8];
    size_t        i, c, len[5], sent, n, nagain, alen;
    PGresult     *cr, *now;
    aw_msec_t     t0, t1;
    const char   *params[5];

    pcts = calloc(k, sizeof(int));
    ok = calloc(k, sizeof(int));
    atext = NULL;
    n = 0;

    for (c = 0; c < 5; c++) {
        text[c] = NULL;
        col[c] = pcts && ok ? open_memstream(&text[c], &len[c]) : NULL;
    }

    if (pcts == NULL || ok == NULL || col[0] == NULL || col[1] == NULL
        || col[2] == NULL || col[3] == NULL || col[4] == NULL)
    {
        goto done;
    }

    for (c = 0; c < 5; c++) {
        fputc('{', col[c]);
    }

    for (i = 0; i < k; i++) {
        if (aw_dep_credit_terms(pg, rows[i], price, decimals, &pcts[i], NULL)
            != AW_OK)
        {
            continue;
        }

        for (c = 0; n && c < 5; c++) {
            fputc(',', col[c]);
        }

        fputs(aw_db_get(pg, rows[i], "id"), col[0]);
        fputs(price, col[1]);
        fputs(decimals, col[2]);
        fprintf(col[3], "%d", pcts[i]);
        fprintf(col[4], "%d", txlogs[i]);
        ok[i] = 1;
        n++;
    }

    for (c = 0; c < 5; c++) {
        fputc('}', col[c]);
        fclose(col[c]);
        col[c] = NULL;
        params[c] = text[c];
    }

    if (n == 0) {
        goto done;
    }

    t0 = aw_monotonic_msec();

    /* the scan's next range read from the node meanwhile, if it wants */
    if (aw_db_query_send(&aw_worker.db,
                         "SELECT id, new_state, minutes, ledger_id, balance,"
                         " applied FROM axon_deposits_credit($1::bigint[],"
                         " $2::bigint[], $3::int[], $4::int[], $5::int[])"
                         " ORDER BY id", 5, params)
        == AW_OK)
    {
        aw_dep_read_ahead();
    }

    cr = aw_db_query_result(&aw_worker.db);
    t1 = aw_monotonic_msec();

    if (cr == NULL || !aw_dep_credited_all(pg, rows, ok, k, cr)) {
        /* undone, or (a row short) done again: credited once either way */
        aw_log(AW_LOG_NOTICE, "deposits: crediting %zu deposits together: "
               "%s: one by one", n, cr ? "a row short" : aw_worker.db.error);
        PQclear(cr);

        for (i = 0; i < k; i++) {
            if (ok[i]) {
                aw_dep_credit_row(pg, rows[i], txlogs[i], "worker", NULL,
                                  NULL, NULL);
            }
        }

        goto done;
    }

    sent = aw_dep_append_wallets(pg, rows, ok, pcts, k, cr);

    /*
     * A line each, and the deposits as they are now for their wallets'
     * lists: those this call credited from their rows here, any other
     * read again.
     */
    again = open_memstream(&atext, &alen);
    nagain = 0;
    crow = 0;
    aw_log_hold();

    for (i = 0; i < k; i++) {
        if (!ok[i]) {
            continue;
        }

        aw_dep_credit_log(pg, rows[i], cr, crow, pcts[i]);

        if (aw_db_get(cr, crow, "applied")[0] == 't'
            && strcmp(aw_db_get(cr, crow, "new_state"), "credited") == 0)
        {
            sent += aw_dep_append_credited(pg, rows[i], cr, crow, pcts[i]);

        } else if (again) {
            fprintf(again, "%s%s", nagain++ ? "," : "{",
                    aw_db_get(pg, rows[i], "id"));
        }

        crow++;
    }

    aw_log_release();
    PQclear(cr);

    if (again) {
        fputs(nagain ? "}" : "{}", again);
        fclose(again);
    }

    now = nagain && again ? aw_dep_rows_by_id(atext) : NULL;

    for (crow = 0; now && crow < PQntuples(now); crow++) {
        sent += aw_dep_append_row(now, crow, 0);
    }

    PQclear(now);
    aw_dep_replies(sent);

    aw_log(AW_LOG_DEBUG, "deposits: %zu credited: Postgres %lld ms, "
           "published %lld ms", n, (long long) (t1 - t0),
           (long long) (aw_monotonic_msec() - t1));

done:

    for (c = 0; c < 5; c++) {
        if (col[c]) {
            fclose(col[c]);
        }
        free(text[c]);
    }

    free(atext);
    free(pcts);
    free(ok);
}


/*
 * The tier and the balance of each wallet credited (cr: the results for
 * rows[i] with ok[i], in order), appended to the Redis pipeline once a
 * wallet: its result of the greatest ledger id, the one the balance script
 * would keep of them all.  Returns how many commands were appended.
 */

static size_t
aw_dep_append_wallets(PGresult *pg, const int *rows, const int *ok,
    const int *pcts, size_t k, PGresult *cr)
{
    int          crow, *best, *at;
    size_t       i, w, nw, sent;
    const char  *payer;

    best = calloc(k, sizeof(int));
    at = calloc(k, sizeof(int));
    nw = 0;
    sent = 0;

    if (best == NULL || at == NULL) {
        goto done;
    }

    crow = 0;

    for (i = 0; i < k; i++) {
        if (!ok[i]) {
            continue;
        }

        payer = aw_db_get(pg, rows[i], "payer");

        for (w = 0; w < nw; w++) {
            if (strcmp(payer, aw_db_get(pg, rows[at[w]], "payer")) == 0) {
                break;
            }
        }

        if (w == nw) {
            at[nw] = i;
            best[nw++] = crow;

        } else if (!aw_db_isnull(cr, crow, "ledger_id")
                   && (aw_db_isnull(cr, best[w], "ledger_id")
                       || atoll(aw_db_get(cr, crow, "ledger_id"))
                          > atoll(aw_db_get(cr, best[w], "ledger_id"))))
        {
            at[w] = i;
            best[w] = crow;
        }

        crow++;
    }

    for (w = 0; w < nw; w++) {
        payer = aw_db_get(pg, rows[at[w]], "payer");
        sent += aw_dep_append_tier(payer, pcts[at[w]]);
        sent += aw_dep_append_balance(payer, cr, best[w]);
    }

done:

    free(best);
    free(at);

    return sent;
}


/* does cr hold a result for each rows[i] with ok[i], in that order? */

static int
aw_dep_credited_all(PGresult *pg, const int *rows, const int *ok, size_t k,
    PGresult *cr)
{
    int     crow;
    size_t  i;

    crow = 0;

    for (i = 0; i < k; i++) {
        if (!ok[i]) {
            continue;
        }

        if (crow >= PQntuples(cr)
            || strcmp(aw_db_get(cr, crow, "id"),
                      aw_db_get(pg, rows[i], "id")) != 0)
        {
            return 0;
        }

        crow++;
    }

    return crow == PQntuples(cr);
}


/* the deposits rows of ids (a Postgres array), as they are now */

static PGresult *
aw_dep_rows_by_id(const char *ids)
{
    char         sql[512];
    const char  *params[1];

    params[0] = ids;
    snprintf(sql, sizeof(sql), "SELECT %s FROM deposits"
             " WHERE id = ANY($1::bigint[]) ORDER BY id", aw_dep_cols);

    return aw_db_query(&aw_worker.db, sql, 1, params);
}


static aw_msec_t
aw_deposits_run(aw_msec_t now)
{
    int        rc, more, found;
    uint64_t   head;
    aw_conf_t *conf;

    conf = aw_worker.conf;

    if (!aw_dep.enabled || !aw_rpc_enabled(&aw_worker.rpc)) {
        return now + 5000;
    }

    if (aw_db_ready(&aw_worker.db, now) != AW_OK
        || aw_redis_ready(&aw_worker.redis, now) != AW_OK)
    {
        return now + conf->deposit_poll_interval;
    }

    rc = aw_rpc_block_number(&aw_worker.rpc, &head);

    if (rc != AW_RPC_OK) {
        aw_log(AW_LOG_DEBUG, "deposits: eth: %s", aw_worker.rpc.error);
        return now + conf->deposit_poll_interval;
    }

    aw_metrics.chain_head = head;

    if (!aw_dep_published && aw_dep_publish_config() == AW_OK) {
        aw_dep_published = 1;
    }

    /*
     * Catching up, range after range: the confirmer runs when a range
     * found deposits, when a batch of it is left, and once at the head.
     */
    more = aw_dep_index(head, &found);

    if (found || !more || aw_dep_confirm_after) {
        more |= aw_dep_confirm(head);
    }

    return more ? now : now + conf->deposit_poll_interval;
}


/*
 * One scan of the indexer: the Transfer logs to the revenue wallet of the
 * accepted tokens from the cursor + 1, aw_dep_scan.range blocks at most.
 * The cursor moves only past blocks deposit_confirmations deep: younger
 * blocks are scanned again at the next pass, so a log that a reorg moved
 * is found in its new block.  Returns 1 when blocks are left to scan now
 * (catching up); *found: deposits were recorded.
 */

static int
aw_dep_index(uint64_t head, int *found)
{
    int               rc, ahead;
    char              chain[24], blk[24];
    size_t            n;
    int64_t           cursor, from, to, final;
    int64_t           t_logs, t_record, usec, ceiling;
    aw_conf_t        *conf;
    const char       *params[2];
    aw_eth_log_t     *logs;

    conf = aw_worker.conf;
    *found = 0;

    if (aw_dep.ntokens == 0) {
        return 0;
    }

    snprintf(chain, sizeof(chain), "%d", conf->eth_chain_id);
    params[0] = chain;

    if (aw_dep_cursor(chain, &cursor) != AW_OK) {
        return 0;
    }

    aw_metrics.indexer_next = (uint64_t) aw_max(cursor + 1, 0);

    from = cursor + 1;
    to = aw_min((int64_t) head, from + aw_dep_scan.range - 1);

    if (from > (int64_t) head) {
        return 0;
    }

    t_logs = aw_monotonic_usec();
    ahead = aw_dep_ahead_take(from, head, &to, &logs, &n);

    rc = ahead ? AW_RPC_OK : aw_dep_get_logs(from, to, &logs, &n);

    t_record = aw_monotonic_usec();

    /* a range read while Postgres worked is not timed */
    usec = ahead ? 0 : t_record - t_logs;

    if (rc != AW_RPC_OK) {
        aw_log(AW_LOG_WARN, "deposits: eth_getLogs %lld..%lld: %s",
               (long long) from, (long long) to, aw_worker.rpc.error);
        return aw_dep_scan_failed(rc, to - from + 1);
    }

    ceiling = aw_dep_scan.ceiling;
    aw_scan_range_done(&aw_dep_scan, to - from + 1, n, usec);

    if (aw_dep_scan.ceiling < ceiling) {
        aw_log(AW_LOG_DEBUG, "deposits: eth_getLogs of %lld blocks read "
               "them more slowly than one of %lld: ranges of %lld blocks "
               "at most", (long long) (to - from + 1),
               (long long) aw_dep_scan.ceiling,
               (long long) aw_dep_scan.ceiling);
    }

    final = (int64_t) head - conf->deposit_confirmations + 1;
    final = aw_min(final, to);

    /* the cursor moves past this range: the next one is read ahead */
    if (n && final == to && to < (int64_t) head) {
        aw_dep_ahead.want = 1;
        aw_dep_ahead.from = to + 1;
        aw_dep_ahead.to = aw_min((int64_t) head, to + aw_dep_scan.range);
        aw_dep_ahead.final = (int64_t) head - conf->deposit_confirmations
                             + 1;
    }

    rc = n ? aw_dep_record_logs(logs, n, head) : AW_OK;
    aw_dep_ahead.want = 0;
    aw_eth_logs_free(logs, n);

    if (rc != AW_OK) {
        aw_log(AW_LOG_WARN, "deposits: recording blocks %lld..%lld: %s",
               (long long) from, (long long) to, aw_worker.db.error);
        return 0;
    }

    *found = n > 0;

    if (final > cursor) {
        snprintf(blk, sizeof(blk), "%lld", (long long) final);
        params[1] = blk;

        if (aw_db_exec(&aw_worker.db,
                       "INSERT INTO deposit_cursor (chain_id, block)"
                       " VALUES ($1, $2) ON CONFLICT (chain_id) DO UPDATE"
                       " SET block = EXCLUDED.block, updated_at = now()",
                       2, params)
            != AW_OK)
        {
            aw_log(AW_LOG_WARN, "deposits: the cursor: %s",
                   aw_worker.db.error);
            return 0;
        }
    }

    if (n) {
        aw_log(AW_LOG_DEBUG, "deposits: blocks %lld..%lld: %zu log(s): "
               "eth_getLogs %lld ms, recorded in %lld ms%s",
               (long long) from, (long long) to, n,
               (long long) (t_record - t_logs) / 1000,
               (long long) (aw_monotonic_usec() - t_record) / 1000,
               aw_dep_ahead.have ? " (the next range read meanwhile)" : "");
    }

    /* on at once while the cursor moves, not over the young blocks */
    return final > cursor && to < (int64_t) head;
}


/*
 * eth_getLogs of from..to: the Transfers to the revenue wallet of the
 * accepted tokens.
 */

static int
aw_dep_get_logs(int64_t from, int64_t to, aw_eth_log_t **logs, size_t *n)
{
    size_t            i;
    aw_addr_t         addrs[AW_DEP_MAX_TOKENS];
    aw_hash_t         t0, t2;
    aw_eth_filter_t   filter;

    for (i = 0; i < aw_dep.ntokens; i++) {
        addrs[i] = aw_dep.tokens[i].addr;
    }

    (void) axon_hex_decode(t0.b, 32, aw_dep_transfer_topic,
                           sizeof(aw_dep_transfer_topic) - 1);
    memset(t2.b, 0, 12);
    memcpy(t2.b + 12, aw_dep.revenue.b, 20);

    memset(&filter, 0, sizeof(filter));
    filter.from_block = (uint64_t) from;
    filter.to_block = (uint64_t) to;
    filter.addresses = addrs;
    filter.naddresses = aw_dep.ntokens;
    filter.topics[0] = &t0;
    filter.topics[1] = NULL;
    filter.topics[2] = &t2;
    filter.ntopics = 3;

    return aw_rpc_get_logs(&aw_worker.rpc, &filter, logs, n);
}


/* the range read ahead, if the scan from from at head is it: 1 */

static int
aw_dep_ahead_take(int64_t from, uint64_t head, int64_t *to,
    aw_eth_log_t **logs, size_t *n)
{
    size_t  k;

    if (!aw_dep_ahead.have || aw_dep_ahead.from != from
        || aw_dep_ahead.to > (int64_t) head
        || aw_dep_ahead.final < from)
    {
        aw_dep_ahead_free();
        return 0;
    }

    if (aw_dep_ahead.to > aw_dep_ahead.final) {
        /* young when read: left to a scan of its own (logs in block order) */
        for (k = aw_dep_ahead.n;
             k > 0
             && (int64_t) aw_dep_ahead.logs[k - 1].block_number
                > aw_dep_ahead.final;
             k--)
        {
            free(aw_dep_ahead.logs[k - 1].data);
        }

        aw_dep_ahead.n = k;
        aw_dep_ahead.to = aw_dep_ahead.final;
    }

    *to = aw_dep_ahead.to;
    *logs = aw_dep_ahead.logs;
    *n = aw_dep_ahead.n;

    aw_dep_ahead.have = 0;
    aw_dep_ahead.logs = NULL;
    aw_dep_ahead.n = 0;

    return 1;
}


/* while Postgres credits a range: the next one, if the scan wants it */

static void
aw_dep_read_ahead(void)
{
    if (!aw_dep_ahead.want || aw_dep_ahead.have) {
        return;
    }

    aw_dep_ahead.want = 0;

    if (aw_dep_get_logs(aw_dep_ahead.from, aw_dep_ahead.to,
                        &aw_dep_ahead.logs, &aw_dep_ahead.n)
        != AW_RPC_OK)
    {
        /* read again by the next scan, which sees the error */
        aw_log(AW_LOG_DEBUG, "deposits: reading %lld..%lld ahead: %s",
               (long long) aw_dep_ahead.from, (long long) aw_dep_ahead.to,
               aw_worker.rpc.error);
        aw_dep_ahead.logs = NULL;
        aw_dep_ahead.n = 0;
        return;
    }

    aw_dep_ahead.have = 1;
}


static void
aw_dep_ahead_free(void)
{
    if (aw_dep_ahead.have) {
        aw_eth_logs_free(aw_dep_ahead.logs, aw_dep_ahead.n);
    }

    aw_dep_ahead.want = 0;
    aw_dep_ahead.have = 0;
    aw_dep_ahead.logs = NULL;
    aw_dep_ahead.n = 0;
}


/*
 * The range of the next eth_getLogs is scan_range.c's.  A range the node
 * refused (an error answer) is tried again at once, smaller; a node that
 * refuses a range of one block, or cannot be reached, is waited for
 * (deposit_poll_interval).
 */

static int
aw_dep_scan_failed(int rc, int64_t blocks)
{
    if (rc != AW_RPC_ERPC) {
        aw_scan_range_failed(&aw_dep_scan, blocks);
        return 0;
    }

    return aw_scan_range_refused(&aw_dep_scan, blocks);
}


/*
 * The confirming deposits, AW_DEP_BATCH at a time in id order.  The block
 * at each one's height is read (each height once, in one batch): still
 * the deposit's block, the deposit is on the chain as it was recorded (a
 * block's hash commits to its transactions and their logs), young or
 * ripe by its confirmations.  Another block there (or none): its receipt
 * decides, orphaned or moved to another block (aw_dep_confirm_row).  The
 * ripe ones' index in their transactions is read from their blocks' logs
 * (one eth_getLogs a block, not a receipt a deposit) and they are
 * credited, all of them in one statement.  The young ones' confirmations
 * are published.  Returns 1 when a full batch was done (more are due now).
 */

static int
aw_dep_confirm(uint64_t head)
{
    int              row, n, more;
    char             chain[24], after[24], sql[512];
    aw_msec_t        t0, t1, t2, t3;
    PGresult        *pg;
    const char      *params[2];
    aw_dep_pass_t    p;

    snprintf(chain, sizeof(chain), "%d", aw_worker.conf->eth_chain_id);
    snprintf(after, sizeof(after), "%lld", (long long) aw_dep_confirm_after);
    params[0] = chain;
    params[1] = after;

    snprintf(sql, sizeof(sql), "SELECT %s FROM deposits WHERE chain_id = $1"
             " AND state = 'confirming' AND id > $2 ORDER BY id LIMIT %d",
             aw_dep_cols, AW_DEP_BATCH);

    if (aw_dep_confirm_after == 0) {
        /* a new round over the confirming deposits: the tiers read afresh */
        aw_dep_tiers.n = 0;
    }

    aw_dep_confirm_after = 0;

    pg = aw_db_query(&aw_worker.db, sql, 2, params);
    if (pg == NULL) {
        return 0;
    }

    n = PQntuples(pg);
    more = 0;

    if (n == 0 || aw_dep_pass_init(&p, pg, n, head) != AW_OK) {
        PQclear(pg);
        return 0;
    }

    t0 = aw_monotonic_msec();

    if (aw_dep_pass_blocks(&p) != AW_OK || aw_dep_pass_check(&p) != AW_OK) {
        goto done;
    }

    t1 = aw_monotonic_msec();

    aw_dep_pass_txlogs(&p);

    t2 = aw_monotonic_msec();
    aw_dep_tiers.on = 1;

    aw_dep_credit_ripe(&p);
    t3 = aw_monotonic_msec();
    aw_dep_publish_young(pg, p.acts, n, head);

    aw_log(AW_LOG_DEBUG, "deposits: %d confirming at head %llu: %zu "
           "block(s), %zu receipt(s) %lld ms, the ripe ones' logs %lld ms, "
           "credited in %lld ms, the young ones %lld ms", n,
           (unsigned long long) head, p.nb, p.nr, (long long) (t1 - t0),
           (long long) (t2 - t1), (long long) (t3 - t2),
           (long long) (aw_monotonic_msec() - t3));

    if (n == AW_DEP_BATCH) {
        aw_dep_confirm_after = atoll(aw_db_get(pg, n - 1, "id"));
        more = 1;
    }

done:

    aw_dep_tiers.on = 0;

    for (row = 0; (size_t) row < p.nr; row++) {
        if (p.rcs[row] == AW_RPC_OK) {
            aw_eth_receipt_free(&p.receipts[row]);
        }
    }

    free(p.mem);
    PQclear(pg);

    return more;
}


/* the arrays of a confirmation pass over the n rows of pg, in one block */

static int
aw_dep_pass_init(aw_dep_pass_t *p, PGresult *pg, int n, uint64_t head)
{
    size_t   sz;
    uint8_t *m;

    memset(p, 0, sizeof(*p));

    sz = n * (5 * sizeof(int) + sizeof(uint64_t) + sizeof(aw_eth_block_t)
              + sizeof(aw_eth_receipt_t) + sizeof(aw_hash_t));

    p->mem = calloc(1, sz + 8 * sizeof(uint64_t));
    if (p->mem == NULL) {
        return AW_ERROR;
    }

    /* the widest first, each array aligned for its type */
    m = p->mem;
    p->blocks = (aw_eth_block_t *) m;
    m += n * sizeof(aw_eth_block_t);
    p->receipts = (aw_eth_receipt_t *) m;
    m += n * sizeof(aw_eth_receipt_t);
    p->heights = (uint64_t *) m;
    m += n * sizeof(uint64_t);
    p->hashes = (aw_hash_t *) m;
    m += n * sizeof(aw_hash_t);
    p->acts = (int *) m;
    p->brcs = p->acts + n;
    p->rcs = p->brcs + n;
    p->at = p->rcs + n;
    p->txlogs = p->at + n;

    p->pg = pg;
    p->n = n;
    p->head = head;

    return AW_OK;
}


/*
 * The block at each row's height (each height once, in one batch), and
 * what it says of the row: young or ripe if it is the row's block, else
 * AW_DEP_CHECK (its receipt decides).
 */

static int
aw_dep_pass_blocks(aw_dep_pass_t *p)
{
    int        row;
    char       bh[67];
    size_t     i;
    uint64_t   b;

    for (row = 0; row < p->n; row++) {
        b = strtoull(aw_db_get(p->pg, row, "block_number"), NULL, 10);

        /* deposits come mostly in block order */
        for (i = p->nb; i > 0 && p->heights[i - 1] != b; i--) {
            /* void */
        }

        if (i == 0) {
            p->heights[p->nb++] = b;
            i = p->nb;
        }

        p->at[row] = (int) i - 1;
    }

    if (aw_rpc_get_blocks_at(&aw_worker.rpc, p->heights, p->nb, p->blocks,
                             p->brcs)
        != AW_RPC_OK)
    {
        aw_log(AW_LOG_DEBUG, "deposits: blocks: %s", aw_worker.rpc.error);
        return AW_ERROR;
    }

    for (row = 0; row < p->n; row++) {
        i = p->at[row];

        if (p->brcs[i] != AW_RPC_OK
            || strcmp(aw_eth_hex(bh, p->blocks[i].hash.b, 32),
                      aw_db_get(p->pg, row, "block_hash")) != 0)
        {
            p->acts[row] = AW_DEP_CHECK;

        } else if (p->head + 1 < p->heights[i]
                                 + aw_worker.conf->deposit_confirmations)
        {
            p->acts[row] = AW_DEP_YOUNG;

        } else {
            p->acts[row] = AW_DEP_RIPE;
        }
    }

    return AW_OK;
}


/*
 * The rows whose block is not the one at their height now: their
 * receipts (one batch) say whether they left the chain (orphaned) or
 * moved (followed); one still in its block but not at that height now
 * waits for the next pass.
 */

static int
aw_dep_pass_check(aw_dep_pass_t *p)
{
    int     row, act;
    size_t  j;

    for (row = 0; row < p->n; row++) {
        if (p->acts[row] == AW_DEP_CHECK) {
            aw_eth_parse_bytes(aw_db_get(p->pg, row, "tx_hash"), 32,
                               p->hashes[p->nr++].b);
        }
    }

    if (p->nr == 0) {
        return AW_OK;
    }

    if (aw_rpc_get_receipts(&aw_worker.rpc, p->hashes, p->nr, p->receipts,
                            p->rcs)
        != AW_RPC_OK)
    {
        aw_log(AW_LOG_DEBUG, "deposits: receipts: %s", aw_worker.rpc.error);
        p->nr = 0;
        return AW_ERROR;
    }

    j = 0;

    for (row = 0; row < p->n; row++) {
        if (p->acts[row] != AW_DEP_CHECK) {
            continue;
        }

        act = aw_dep_confirm_row(p->pg, row, p->rcs[j], &p->receipts[j],
                                 p->head);
        j++;

        p->acts[row] = act == AW_DEP_RIPE ? AW_DEP_DONE : act;
    }

    return AW_OK;
}


/*
 * One confirming deposit against its receipt (rc: how it was read):
 * orphaned or moved to another block (AW_DEP_DONE), still confirming
 * (AW_DEP_YOUNG) or with its confirmations (AW_DEP_RIPE).
 */

static int
aw_dep_confirm_row(PGresult *pg, int row, int rc, const aw_eth_receipt_t *r,
    uint64_t head)
{
    int          pending;
    char         bh[67], blk[24];
    const char  *mp[3];

    if (rc != AW_RPC_OK && rc != AW_RPC_NOT_FOUND) {
        return AW_DEP_DONE;
    }

    pending = rc == AW_RPC_NOT_FOUND ? aw_dep_pending(pg, row) : 0;

    if (pending) {
        /* its block left the chain, the tx went back to the mempool (or
         * the node could not say): it stays confirming, and is followed
         * into the block it is mined in (nothing finds a native one
         * again once orphaned) */
        if (pending == 1) {
            aw_log(AW_LOG_NOTICE, "deposits: %s:%s: its block left the "
                   "chain, its transaction is pending again: confirming "
                   "on", aw_db_get(pg, row, "tx_hash"),
                   aw_db_get(pg, row, "log_index"));
        }

        return AW_DEP_DONE;
    }

    if (rc == AW_RPC_NOT_FOUND || !r->status) {
        /* the block left the chain, and the tx with it */
        aw_dep_orphan(pg, row, "reorg: the transaction left the chain",
                      "its transaction is no longer on the chain", head);
        return AW_DEP_DONE;
    }

    aw_eth_hex(bh, r->block_hash.b, 32);

    if (strcmp(bh, aw_db_get(pg, row, "block_hash")) != 0) {
        /* mined again in another block: follow it */
        snprintf(blk, sizeof(blk), "%llu",
                 (unsigned long long) r->block_number);

        mp[0] = aw_db_get(pg, row, "id");
        mp[1] = blk;
        mp[2] = bh;

        if (aw_db_exec(&aw_worker.db,
                       "UPDATE deposits SET block_number = $2,"
                       " block_hash = $3, updated_at = now()"
                       " WHERE id = $1 AND state = 'confirming'",
                       3, mp) == AW_OK)
        {
            aw_log(AW_LOG_NOTICE, "deposits: %s:%s moved to block %s",
                   aw_db_get(pg, row, "tx_hash"),
                   aw_db_get(pg, row, "log_index"), blk);
        }

        return AW_DEP_DONE;
    }

    if (head + 1 < r->block_number + aw_worker.conf->deposit_confirmations) {
        return AW_DEP_YOUNG;
    }

    return AW_DEP_RIPE;
}


/*
 * 1 if the transaction of the deposit at row is pending (in the mempool),
 * 0 if the node knows it nowhere, -1 if it could not be asked
 */

static int
aw_dep_pending(PGresult *pg, int row)
{
    int          rc;
    aw_hash_t    hash;
    aw_eth_tx_t  tx;

    if (aw_eth_parse_bytes(aw_db_get(pg, row, "tx_hash"), 32, hash.b)
        != AW_OK)
    {
        return 0;
    }

    memset(&tx, 0, sizeof(tx));
    rc = aw_rpc_get_transaction(&aw_worker.rpc, &hash, &tx);

    return rc == AW_RPC_OK ? tx.pending : rc == AW_RPC_NOT_FOUND ? 0 : -1;
}


/*
 * The ripe deposits among the rows (their blocks checked, their index in
 * their transactions found: aw_dep_block_txlogs), credited together.
 */

static void
aw_dep_credit_ripe(aw_dep_pass_t *p)
{
    int      row, *rows, *txlogs;
    size_t   k;

    rows = calloc(p->n, sizeof(int));
    txlogs = calloc(p->n, sizeof(int));

    if (rows == NULL || txlogs == NULL) {
        goto done;
    }

    k = 0;

    for (row = 0; row < p->n; row++) {
        if (p->acts[row] == AW_DEP_RIPE) {
            rows[k] = row;
            txlogs[k++] = p->txlogs[row];
        }
    }

    if (k) {
        aw_dep_credit_rows(p->pg, rows, txlogs, k);
    }

done:

    free(rows);
    free(txlogs);
}


/*
 * The index in its transaction (txlogs[row], as aw_dep_log_in_tx finds it
 * in a receipt) of each ripe token deposit: the logs of its block hold
 * each transaction's logs in a run, in the order of its receipt.  One
 * eth_getLogs for the blocks of a run of consecutive heights (a dense
 * range's batch: one call), AW_DEP_LOGS_BLOCKS blocks at most.
 */

#define AW_DEP_LOGS_BLOCKS  16

static void
aw_dep_pass_txlogs(aw_dep_pass_t *p)
{
    int                    rc;
    size_t                 i, j, nlogs;
    aw_eth_log_t          *logs;
    aw_eth_filter_t        filter;
    const aw_dep_chunk_t  *c;

    for (i = 0; i < p->nb; i = j) {
        j = i + 1;

        if (!aw_dep_height_wants(p, i)) {
            continue;
        }

        c = aw_dep_prefetched(p->heights[i]);

        if (c) {
            aw_dep_block_txlogs(p, i, c->ok, c->logs, c->nlogs);
            continue;
        }

        while (j < p->nb && j - i < AW_DEP_LOGS_BLOCKS
               && p->heights[j] == p->heights[j - 1] + 1
               && aw_dep_prefetched(p->heights[j]) == NULL
               && aw_dep_height_wants(p, j))
        {
            j++;
        }

        memset(&filter, 0, sizeof(filter));
        filter.from_block = p->heights[i];
        filter.to_block = p->heights[j - 1];

        rc = aw_rpc_get_logs(&aw_worker.rpc, &filter, &logs, &nlogs);

        if (rc != AW_RPC_OK) {
            aw_log(AW_LOG_DEBUG, "deposits: the logs of blocks %llu..%llu: "
                   "%s", (unsigned long long) filter.from_block,
                   (unsigned long long) filter.to_block, aw_worker.rpc.error);
            logs = NULL;
            nlogs = 0;
        }

        for ( /* void */ ; i < j; i++) {
            aw_dep_block_txlogs(p, i, rc == AW_RPC_OK, logs, nlogs);
        }

        if (nlogs) {
            aw_eth_logs_free(logs, nlogs);
        }
    }
}


/*
 * While Postgres records a range (the INSERT sent, its result not read):
 * the logs of the blocks whose accepted Transfers are deposit_confirmations
 * deep at head, in runs of consecutive heights as aw_dep_pass_txlogs reads
 * them, and their payers' tiers (into aw_dep_tiers).  A block whose logs
 * in the scan are its first ones is not read again: the scan's logs
 * serve, once its header (one batch for all such blocks) has their hash
 * (aw_dep_logs_prefix).  The scan's credit then finds them here; what it
 * does not find (a failed read, a hash changed, a height not read) it
 * reads itself.  Only the node is asked: Postgres is busy.
 */

static void
aw_dep_prefetch(const aw_eth_log_t *logs, size_t n, uint64_t head)
{
    int               pct, rc, *brcs;
    size_t            i, k, s, e, nh;
    uint64_t          b, *hs;
    aw_addr_t         payer;
    aw_u256_t         amount;
    aw_dep_chunk_t   *c;
    aw_eth_block_t   *blocks;
    aw_eth_filter_t   filter;

    hs = malloc(n * sizeof(uint64_t));
    aw_dep_pre.chunks = calloc(n, sizeof(aw_dep_chunk_t));
    aw_dep_pre.n = 0;

    if (hs == NULL || aw_dep_pre.chunks == NULL) {
        free(hs);
        aw_dep_prefetch_free();
        return;
    }

    k = 0;

    for (i = 0; i < n; i++) {
        b = logs[i].block_number;

        if (logs[i].removed
            || head + 1 < b + aw_worker.conf->deposit_confirmations
            || !aw_dep_transfer_log(&logs[i], &payer, &amount)
            || aw_dep_token_of(&logs[i].address) == NULL)
        {
            continue;
        }

        /* the cache warmed only: past it, the credit reads each tier */
        if (aw_dep_tiers.n < AW_DEP_TIER_CACHE) {
            (void) aw_dep_tier(&payer, &pct);
        }

        /* logs come in block order */
        if (k == 0 || hs[k - 1] != b) {
            hs[k++] = b;
        }
    }

    nh = 0;
    s = 0;

    for (i = 0; i < k; i++) {
        for ( /* void */ ; s < n && logs[s].block_number != hs[i]; s++) {
            /* void */
        }

        for (e = s; e < n && logs[e].block_number == hs[i]; e++) {
            /* void */
        }

        if (aw_dep_logs_prefix(logs, s, e)) {
            c = &aw_dep_pre.chunks[aw_dep_pre.n++];
            c->from = hs[i];
            c->to = hs[i];
            c->borrowed = 1;
            /* read only, as a chunk's own logs */
            c->logs = (aw_eth_log_t *) &logs[s];
            c->nlogs = e - s;
            /* hs[0..nh): these heights, for the headers (nh <= i) */
            hs[nh++] = hs[i];
            continue;
        }

        c = aw_dep_pre.n ? &aw_dep_pre.chunks[aw_dep_pre.n - 1] : NULL;

        if (c && !c->borrowed && hs[i] == c->to + 1
            && c->to - c->from + 1 < AW_DEP_LOGS_BLOCKS)
        {
            c->to = hs[i];
            continue;
        }

        c = &aw_dep_pre.chunks[aw_dep_pre.n++];
        c->from = hs[i];
        c->to = hs[i];
    }

    /* the borrowing blocks' hashes, by their headers: one batch */
    blocks = nh ? calloc(nh, sizeof(aw_eth_block_t)) : NULL;
    brcs = nh ? calloc(nh, sizeof(int)) : NULL;
    rc = AW_RPC_ENOMEM;

    if (blocks && brcs) {
        rc = aw_rpc_get_blocks_at(&aw_worker.rpc, hs, nh, blocks, brcs);

        if (rc != AW_RPC_OK) {
            aw_log(AW_LOG_DEBUG, "deposits: blocks: %s", aw_worker.rpc.error);
        }
    }

    k = 0;

    for (i = 0; i < aw_dep_pre.n; i++) {
        c = &aw_dep_pre.chunks[i];

        if (c->borrowed) {
            c->ok = rc == AW_RPC_OK && brcs[k] == AW_RPC_OK
                    && memcmp(blocks[k].hash.b, c->logs[0].block_hash.b, 32)
                       == 0;
            k++;

            if (!c->ok) {
                /* read, after the INSERT, by aw_dep_pass_txlogs */
                c->logs = NULL;
                c->nlogs = 0;
            }

            continue;
        }

        memset(&filter, 0, sizeof(filter));
        filter.from_block = c->from;
        filter.to_block = c->to;

        c->ok = aw_rpc_get_logs(&aw_worker.rpc, &filter, &c->logs, &c->nlogs)
                == AW_RPC_OK;

        if (!c->ok) {
            /* read again, after the INSERT, by aw_dep_pass_txlogs */
            aw_log(AW_LOG_DEBUG, "deposits: the logs of blocks %llu..%llu: "
                   "%s", (unsigned long long) c->from,
                   (unsigned long long) c->to, aw_worker.rpc.error);
            c->logs = NULL;
            c->nlogs = 0;
        }
    }

    free(hs);
    free(blocks);
    free(brcs);
}


/*
 * Are the scan's logs of one block, logs[s..e), its first ones, none left
 * out (log indexes 0, 1, 2...)?  Then they hold all that its logs read
 * again would show of each deposit among them: a deposit's index in its
 * transaction counts only the logs of that transaction before it, and
 * those are all here.  What the read adds, the block hash seen again, the
 * block's header gives (aw_dep_prefetch).
 */

static int
aw_dep_logs_prefix(const aw_eth_log_t *logs, size_t s, size_t e)
{
    size_t  j;

    for (j = s; j < e; j++) {
        if (logs[j].removed || logs[j].log_index != j - s
            || memcmp(logs[j].block_hash.b, logs[s].block_hash.b, 32) != 0)
        {
            return 0;
        }
    }

    return s < e;
}


static const aw_dep_chunk_t *
aw_dep_prefetched(uint64_t height)
{
    size_t  i;

    for (i = 0; i < aw_dep_pre.n; i++) {
        if (aw_dep_pre.chunks[i].ok && aw_dep_pre.chunks[i].from <= height
            && height <= aw_dep_pre.chunks[i].to)
        {
            return &aw_dep_pre.chunks[i];
        }
    }

    return NULL;
}


static void
aw_dep_prefetch_free(void)
{
    size_t  i;

    for (i = 0; i < aw_dep_pre.n; i++) {
        if (aw_dep_pre.chunks[i].nlogs && !aw_dep_pre.chunks[i].borrowed) {
            aw_eth_logs_free(aw_dep_pre.chunks[i].logs,
                             aw_dep_pre.chunks[i].nlogs);
        }
    }

    free(aw_dep_pre.chunks);
    aw_dep_pre.chunks = NULL;
    aw_dep_pre.n = 0;
}


/*
 * Has the pass's height i ripe token deposits (their index to find)?  Its
 * ripe native ones are at -1.
 */

static int
aw_dep_height_wants(aw_dep_pass_t *p, size_t i)
{
    int  row, want;

    want = 0;

    for (row = 0; row < p->n; row++) {
        if (p->at[row] == (int) i && p->acts[row] == AW_DEP_RIPE) {
            if (strcmp(aw_db_get(p->pg, row, "log_index"), "-1") == 0) {
                p->txlogs[row] = -1;
            } else {
                want = 1;
            }
        }
    }

    return want;
}


/*
 * The ripe token deposits at the pass's height i, their block's logs
 * among logs (ok: they were read).  The block hash checked on each log:
 * a block that changed since is left for the next pass (AW_DEP_DONE), as
 * is a deposit whose transaction is not among the logs (a node's fault).
 */

static void
aw_dep_block_txlogs(aw_dep_pass_t *p, size_t i, int ok,
    aw_eth_log_t *logs, size_t nlogs)
{
    int               row;
    size_t            s, e, first, end;
    aw_hash_t         tx;
    aw_eth_receipt_t  r;

    for (s = 0; s < nlogs && logs[s].block_number != p->heights[i]; s++) {
        /* void */
    }

    for (e = s; e < nlogs && logs[e].block_number == p->heights[i]; e++) {
        if (logs[e].removed
            || memcmp(logs[e].block_hash.b, p->blocks[i].hash.b, 32) != 0)
        {
            ok = 0;
        }
    }

    for (row = 0; row < p->n; row++) {
        if (p->at[row] != (int) i || p->acts[row] != AW_DEP_RIPE
            || p->txlogs[row] == -1)
        {
            continue;
        }

        if (!ok) {
            p->acts[row] = AW_DEP_DONE;
            continue;
        }

        aw_eth_parse_bytes(aw_db_get(p->pg, row, "tx_hash"), 32, tx.b);

        for (first = s; first < e
             && memcmp(logs[first].tx_hash.b, tx.b, 32) != 0; first++)
        { /* void */ }

        for (end = first; end < e
             && memcmp(logs[end].tx_hash.b, tx.b, 32) == 0; end++)
        { /* void */ }

        if (first == e) {
            aw_log(AW_LOG_WARN, "deposits: %s:%s: its transaction is not "
                   "in the logs of block %llu: tried again later",
                   aw_db_get(p->pg, row, "tx_hash"),
                   aw_db_get(p->pg, row, "log_index"),
                   (unsigned long long) p->heights[i]);
            p->acts[row] = AW_DEP_DONE;
            continue;
        }

        memset(&r, 0, sizeof(r));
        r.logs = &logs[first];
        r.nlogs = end - first;

        p->txlogs[row] = aw_dep_log_in_tx(p->pg, row, &r);

        if (p->txlogs[row] < -1) {
            /* moved with its transaction: found again at its new index */
            aw_dep_orphan(p->pg, row, "reorg: the log moved",
                          "its log is no longer at that index", p->head);
            p->acts[row] = AW_DEP_DONE;
        }
    }

}


/* the confirmations of the young deposits, in one pipeline */

static void
aw_dep_publish_young(PGresult *pg, const int *acts, int n, uint64_t head)
{
    int     row;
    size_t  sent;

    sent = 0;

    for (row = 0; row < n; row++) {
        if (acts[row] == AW_DEP_YOUNG) {
            sent += aw_dep_append_row(pg, row, head);
        }
    }

    aw_dep_replies(sent);
}


/* a confirming deposit that left the chain: orphaned, for reason */

static void
aw_dep_orphan(PGresult *pg, int row, const char *reason, const char *why,
    uint64_t head)
{
    const char  *params[2];

    params[0] = aw_db_get(pg, row, "id");
    params[1] = reason;

    if (aw_db_exec(&aw_worker.db,
                   "UPDATE deposits SET state = 'orphaned',"
                   " reject_reason = $2, updated_at = now()"
                   " WHERE id = $1 AND state = 'confirming'",
                   2, params) == AW_OK)
    {
        aw_log(AW_LOG_NOTICE, "deposits: %s:%s orphaned: %s",
               aw_db_get(pg, row, "tx_hash"),
               aw_db_get(pg, row, "log_index"), why);
        aw_dep_publish_id(params[0], head);
    }
}


/*
 * Admin: deposit.credit tx_hash log_index reason: credits a recorded
 * deposit now, whatever its confirmations (audited, actor admin);
 * deposit.reject tx_hash log_index reason: a deposit not credited yet is
 * never credited; deposit.rescan from: the indexer scans again from block
 * FROM.
 */

static PGresult *
aw_dep_find(aw_job_t *job, aw_job_result_t *res)
{
    char         chain[24], li[24], sql[512];
    PGresult    *pg;
    const char  *params[3];

    snprintf(chain, sizeof(chain), "%d", aw_worker.conf->eth_chain_id);
    snprintf(li, sizeof(li), "%lld", (long long) aw_job_int(job, "log_index"));

    params[0] = chain;
    params[1] = aw_job_str(job, "tx_hash");
    params[2] = li;

    snprintf(sql, sizeof(sql), "SELECT %s FROM deposits WHERE chain_id = $1"
             " AND tx_hash = $2 AND log_index = $3", aw_dep_cols);

    pg = aw_db_query(&aw_worker.db, sql, 3, params);

    if (pg == NULL) {
        aw_job_db_failed(job, res);
        return NULL;
    }

    if (PQntuples(pg) != 1) {
        PQclear(pg);
        aw_job_fail(res, 1, "no deposit %s:%s on chain %s is recorded "
                    "(deposit.verify or deposit.rescan finds it)", params[1],
                    li, chain);
        return NULL;
    }

    return pg;
}


/*
 * The chain event of a recorded deposit (row 0), by its receipt now: the
 * log's index in its transaction, -1 for a native one (its transaction on
 * the chain and not reverted), below -1 when it cannot be credited (the
 * job failed: res).
 */

static int
aw_dep_txlog(PGresult *pg, aw_job_result_t *res)
{
    int                rc, native;
    aw_hash_t          hash;
    aw_eth_receipt_t   r;

    native = strcmp(aw_db_get(pg, 0, "log_index"), "-1") == 0;

    if (!aw_rpc_enabled(&aw_worker.rpc)
        || aw_eth_parse_bytes(aw_db_get(pg, 0, "tx_hash"), 32, hash.b)
           != AW_OK)
    {
        aw_job_fail(res, 0, "eth: no node to read the receipt from");
        return -2;
    }

    memset(&r, 0, sizeof(r));
    rc = aw_rpc_get_receipt(&aw_worker.rpc, &hash, &r);

    if (rc != AW_RPC_OK) {
        aw_job_fail(res, rc == AW_RPC_NOT_FOUND, "eth: the receipt of %s: %s",
                    aw_db_get(pg, 0, "tx_hash"), rc == AW_RPC_NOT_FOUND
                    ? "not on the chain" : aw_worker.rpc.error);
        return -2;
    }

    if (native) {
        /* the same hash is the same signed transaction (from, to, value):
         * on the chain now, and not reverted, it paid what was recorded */
        rc = r.status ? -1 : -2;
        aw_eth_receipt_free(&r);

        if (rc == -2) {
            aw_job_fail(res, 1, "eth: %s reverted: it paid nothing",
                        aw_db_get(pg, 0, "tx_hash"));
        }

        return rc;
    }

    rc = aw_dep_log_in_tx(pg, 0, &r);
    aw_eth_receipt_free(&r);

    if (rc < -1) {
        aw_job_fail(res, 1, "%s:%s: the log at that index is not this "
                    "deposit (a reorg moved it: deposit.rescan)",
                    aw_db_get(pg, 0, "tx_hash"),
                    aw_db_get(pg, 0, "log_index"));
    }

    return rc;
}


int
aw_deposit_credit(aw_job_t *job, aw_job_result_t *res)
{
    int        rc, txlog;
    char      *detail;
    json_t    *j;
    PGresult  *pg;

    if (!aw_dep.enabled) {
        aw_job_fail(res, 0, "deposits are off: trying again later");
        return AW_ERROR;
    }

    pg = aw_dep_find(job, res);
    if (pg == NULL) {
        return AW_ERROR;
    }

    j = json_pack("{s:s, s:s, s:s?}", "via", "redis", "reason",
                  aw_job_str(job, "reason"), "replay_of", job->replay_of);
    detail = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);

    if (detail == NULL) {
        PQclear(pg);
        aw_job_fail(res, 1, "reason: cannot be written as JSON");
        return AW_ERROR;
    }

    txlog = aw_dep_txlog(pg, res);

    rc = txlog < -1 ? AW_ERROR
                    : aw_dep_credit_row(pg, 0, txlog, "admin", job->id,
                                        detail, res);

    free(detail);
    PQclear(pg);

    return rc;
}


int
aw_deposit_reject(aw_job_t *job, aw_job_result_t *res)
{
    char        *detail;
    json_t      *j;
    PGresult    *pg, *up;
    const char  *params[5];

    pg = aw_dep_find(job, res);
    if (pg == NULL) {
        return AW_ERROR;
    }

    if (strcmp(aw_db_get(pg, 0, "state"), "credited") == 0) {
        aw_job_fail(res, 1, "%s:%s is credited already: take the minutes "
                    "back with credit.revoke", aw_db_get(pg, 0, "tx_hash"),
                    aw_db_get(pg, 0, "log_index"));
        PQclear(pg);
        return AW_ERROR;
    }

    j = json_pack("{s:s, s:s, s:s, s:s?}", "via", "redis", "reason",
                  aw_job_str(job, "reason"),
                  "tx_hash", aw_db_get(pg, 0, "tx_hash"),
                  "replay_of", job->replay_of);
    detail = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);

    if (detail == NULL) {
        PQclear(pg);
        aw_job_fail(res, 1, "reason: cannot be written as JSON");
        return AW_ERROR;
    }

    params[0] = aw_db_get(pg, 0, "id");
    params[1] = aw_job_str(job, "reason");
    params[2] = job->id;
    params[3] = detail;
    params[4] = aw_db_get(pg, 0, "payer");

    up = aw_db_query(&aw_worker.db,
                     "WITH u AS (UPDATE deposits SET state = 'rejected',"
                     " reject_reason = $2, updated_at = now()"
                     " WHERE id = $1 AND state <> 'credited' RETURNING id)"
                     " SELECT axon_admin_audit('admin', 'deposit.reject', $5,"
                     " $4::jsonb, $3), (SELECT count(*) FROM u)",
                     5, params);
    free(detail);

    if (up == NULL) {
        PQclear(pg);
        return aw_job_db_failed(job, res);
    }

    PQclear(up);

    snprintf(res->note, sizeof(res->note), "%s:%s rejected",
             aw_db_get(pg, 0, "tx_hash"), aw_db_get(pg, 0, "log_index"));

    PQclear(pg);

    pg = aw_dep_find(job, res);
    if (pg) {
        aw_dep_publish_row(pg, 0, 0, NULL);
        PQclear(pg);
    }

    return AW_OK;
}


/*
 * The indexer's cursor of chain (its id, as text): every block up to
 * *cursor is scanned (none yet: deposit_start_block - 1).
 */

static int
aw_dep_cursor(const char *chain, int64_t *cursor)
{
    PGresult    *pg;
    const char  *params[1];

    params[0] = chain;

    pg = aw_db_query(&aw_worker.db, "SELECT block FROM deposit_cursor"
                     " WHERE chain_id = $1", 1, params);
    if (pg == NULL) {
        return AW_ERROR;
    }

    *cursor = PQntuples(pg)
              ? atoll(aw_db_get(pg, 0, "block"))
              : (int64_t) aw_worker.conf->deposit_start_block - 1;
    PQclear(pg);

    return AW_OK;
}


/*
 * deposit.rescan: the indexer's cursor moved back to just before block
 * from.  Never forward: the blocks skipped would never be scanned (their
 * deposits never credited), and the lag would read 0.  (The indexer may
 * move the cursor on meanwhile: set back after it, it scans again.)
 */

int
aw_deposit_rescan(aw_job_t *job, aw_job_result_t *res)
{
    char         chain[24], blk[24], detail[128];
    int64_t      cursor;
    PGresult    *pg;
    const char  *params[4];

    snprintf(chain, sizeof(chain), "%d", aw_worker.conf->eth_chain_id);
    snprintf(blk, sizeof(blk), "%lld",
             (long long) aw_job_int(job, "from") - 1);

    if (aw_dep_cursor(chain, &cursor) != AW_OK) {
        return aw_job_db_failed(job, res);
    }

    if (aw_job_int(job, "from") - 1 > cursor) {
        aw_job_fail(res, 1, "refused: from %lld is past the indexer's "
                    "cursor (every block up to %lld is scanned): "
                    "deposit.rescan only moves it back",
                    (long long) aw_job_int(job, "from"), (long long) cursor);
        return AW_ERROR;
    }
    snprintf(detail, sizeof(detail), "{\"via\": \"redis\", \"from\": %lld}",
             (long long) aw_job_int(job, "from"));

    params[0] = chain;
    params[1] = blk;
    params[2] = job->id;
    params[3] = detail;

    pg = aw_db_query(&aw_worker.db,
                     "WITH u AS (INSERT INTO deposit_cursor (chain_id, block)"
                     " VALUES ($1, $2)"
                     " ON CONFLICT (chain_id) DO UPDATE"
                     " SET block = EXCLUDED.block, updated_at = now()"
                     " RETURNING 1)"
                     " SELECT axon_admin_audit('admin', 'deposit.rescan',"
                     " 'chain:' || $1, $4::jsonb, $3), (SELECT count(*)"
                     " FROM u)", 4, params);

    if (pg == NULL) {
        return aw_job_db_failed(job, res);
    }

    PQclear(pg);

    snprintf(res->note, sizeof(res->note), "the indexer scans chain %s "
             "again from block %lld", chain,
             (long long) aw_job_int(job, "from"));

    return AW_OK;
}


/*
 * axon:deposits:config, for GET /api/quote: {"tokens": [{"symbol",
 * "asset", "decimals", "price"}], "tiers": [{"min", "discount_pct"}],
 * "confirmations", "revenue_wallet", "chain_id"}; ETH is a token with
 * asset "ETH".
 */

static int
aw_dep_publish_config(void)
{
    char         *text;
    size_t        i;
    json_t       *o, *tokens, *tiers;
    redisReply   *reply;

    tokens = json_array();
    tiers = json_array();

    for (i = 0; i < aw_dep.ntokens; i++) {
        json_array_append_new(tokens, json_pack("{s:s, s:s, s:i, s:I}",
            "symbol", aw_dep.tokens[i].symbol, "asset", aw_dep.tokens[i].text,
            "decimals", aw_dep.tokens[i].decimals,
            "price", (json_int_t) aw_dep.tokens[i].price));
    }

    if (aw_dep.eth_price) {
        json_array_append_new(tokens, json_pack("{s:s, s:s, s:i, s:I}",
            "symbol", "ETH", "asset", "ETH", "decimals", 18,
            "price", (json_int_t) aw_dep.eth_price));
    }

    for (i = 0; i < aw_dep.ntiers; i++) {
        json_array_append_new(tiers, json_pack("{s:I, s:i}",
            "min", (json_int_t) aw_dep.tier_min[i],
            "discount_pct", aw_dep.tier_pct[i]));
    }

    o = json_pack("{s:o, s:o, s:i, s:s, s:i}", "tokens", tokens,
                  "tiers", tiers, "confirmations",
                  aw_worker.conf->deposit_confirmations, "revenue_wallet",
                  aw_dep.revenue_text, "chain_id",
                  aw_worker.conf->eth_chain_id);

    text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);

    if (text == NULL) {
        return AW_ERROR;
    }

    reply = aw_redis_command(&aw_worker.redis, "SET %s %s",
                             AXON_KEY_DEPOSITS_CONFIG, text);
    free(text);

    if (reply == NULL) {
        return AW_ERROR;
    }

    freeReplyObject(reply);

    return AW_OK;
}


/* axon:wallet:ADDR tier_pct, tier_at (unix s): what a quote applies */

static void
aw_dep_publish_tier(const char *wallet, int pct)
{
    aw_dep_replies(aw_dep_append_tier(wallet, pct));
}


/* that HSET appended to the Redis pipeline: 1, or 0 */

static int
aw_dep_append_tier(const char *wallet, int pct)
{
    return aw_redis_append(&aw_worker.redis, "HSET " AXON_KEY_WALLET "%s "
                           "tier_pct %d tier_at %lld", wallet, pct,
                           (long long) time(NULL)) == AW_OK;
}


/* deposit.tier wallet: the wallet's discount tier now, for quotes */

int
aw_deposit_tier(aw_job_t *job, aw_job_result_t *res)
{
    int          pct;
    aw_addr_t    a;
    const char  *wallet;

    wallet = aw_job_addr(job, "wallet");

    if (!aw_dep.enabled || !aw_rpc_enabled(&aw_worker.rpc)) {
        aw_job_fail(res, 1, "deposits are off");
        return AW_ERROR;
    }

    axon_address_parse(a.b, wallet, 42);

    if (aw_dep_tier(&a, &pct) != AW_OK) {
        aw_job_fail(res, 0, "eth: %s", aw_worker.rpc.error);
        return AW_ERROR;
    }

    aw_dep_publish_tier(wallet, pct);

    snprintf(res->note, sizeof(res->note), "%s: tier %d%%", wallet, pct);

    return AW_OK;
}
