/*
 * axon-worker: what the gate reads of a wallet, kept in Redis (the module
 * never reads Postgres):
 *
 *   axon:wallet:ADDR     hash (ADDR lowercase 0x + 40 hex): balance (credit
 *                        minutes) and ledger_id (the newest credit_ledger
 *                        row it reflects).  Written after each commit that
 *                        changes a balance, by a script that writes only a
 *                        greater ledger_id, so two workers finishing out of
 *                        order leave the newest.  No key: balance 0.
 *   axon:wallets:synced  string: unix ms of the last full rebuild.  Absent
 *                        (Redis flushed, or new): a worker rebuilds every
 *                        wallet's hash from Postgres, in chunks between
 *                        jobs, then sets it.  Checked at start and every
 *                        heartbeat_interval.
 */

#ifndef AW_WALLET_H
#define AW_WALLET_H


#include "axon_contract.h"
#include "core.h"
#include "redis.h"


/* lua/wallet_balance.lua: a balance, written only over an older one */
extern aw_script_t  aw_wallet_balance_script;


void aw_wallet_reset(void);
void aw_wallet_check(int exists);
int aw_wallet_rebuilding(void);
int aw_wallet_rebuild_step(void);


#endif /* AW_WALLET_H */
