/*
 * The contract between ngx_axon_module and axon-worker: what one side
 * writes in Redis and the other reads.  Key names and prefixes, the hash
 * fields both sides touch, the job kinds and their fields, the scripts'
 * result codes, and the price formula.  docs/protocol.md says who writes
 * and who reads each; the scripts themselves are lua/NAME.lua, embedded at
 * build time (scripts/embed-lua: build/axon_lua.h) and run by EVALSHA.
 *
 * Plain macros: the module's C, the worker's C and the unit tests include
 * this header alone.  A Lua script cannot include it: the scripts that
 * build a key from an id spell the prefix themselves (AXON_KEY_SESSION in
 * session_*.lua and x402_*.lua, AXON_KEY_TOKEN in x402_status.lua).
 */

#ifndef AXON_CONTRACT_H
#define AXON_CONTRACT_H


#include <stddef.h>


/* ---- keys --------------------------------------------------------------- */

/* string, JSON {"profiles": [{"name", "gpus", "price", ...}], "ssh",
 * "grace_minutes", ...}: the worker publishes, the module reads */
#define AXON_KEY_PROFILES        "axon:profiles"

/* string, JSON {"sessions", "deposits", "wallets", "updated_at"}: the
 * figures of every wallet together, no wallet's own (the worker publishes
 * them each reconcile_interval; GET /api/public/telemetry/ shows them) */
#define AXON_KEY_TELEMETRY       "axon:telemetry"

/* strings: the worker's liveness, read by GET /api/health */
#define AXON_KEY_HEARTBEAT       "axon:worker:heartbeat"
#define AXON_KEY_POSTGRES        "axon:worker:postgres"

/* hash per wallet, + lowercase 0x address (AXON_WALLET_*) */
#define AXON_KEY_WALLET          "axon:wallet:"
/* set: the wallets whose balance the worker has written since its start */
#define AXON_KEY_WALLETS_SYNCED  "axon:wallets:synced"

/* string per token, + SHA-256 hex of the token: {"wallet", "exp"} */
#define AXON_KEY_TOKEN           "axon:token:"
/* string per sign-in challenge, + nonce: the address it was issued to */
#define AXON_KEY_CHALLENGE       "axon:challenge:"

/* the last session id given out (INCR), and a hash per session, + id */
#define AXON_KEY_SESSION_NEXT    "axon:session:next"
#define AXON_KEY_SESSION         "axon:session:"

/* ZSET per wallet, + lowercase address: its sessions' ids (score: the
 * id), the newest AXON_USAGE_KEEP; the worker adds, GET /api/usage reads */
#define AXON_KEY_USAGE           "axon:usage:"
#define AXON_USAGE_KEEP          "100"

/* hash per wallet, + lowercase address: tx hash -> JSON of that deposit;
 * AXON_KEY_DEPOSITS "config": the worker's deposit tokens and tiers */
#define AXON_KEY_DEPOSITS        "axon:deposits:"
#define AXON_KEY_DEPOSITS_CONFIG AXON_KEY_DEPOSITS "config"

/* the job streams (consumer groups of the worker), the dead letters,
 * and each job's state hash, + the stream id (ids are per stream) */
#define AXON_KEY_JOBS            "axon:jobs"
#define AXON_KEY_JOBS_DEAD       "axon:jobs:dead"
#define AXON_KEY_JOB             "axon:job:"
#define AXON_KEY_X402_JOBS       "axon:x402:jobs"
#define AXON_KEY_X402_JOB        "axon:x402:job:"
#define AXON_KEY_QUEUE_STATS     "axon:queue:stats:"

/* x402: hash per payment, + the authorization's nonce (0x + 64 hex);
 * ZSETs of the nonces not settled yet, everyone's and, + ":" + payer,
 * each payer's (score: the time past which an entry stops counting) */
#define AXON_KEY_X402_PAY        "axon:x402:pay:"
#define AXON_KEY_X402_PENDING    "axon:x402:pending"


/* ---- hash fields -------------------------------------------------------- */

/* axon:wallet:ADDR */
#define AXON_WALLET_BALANCE      "balance"     /* worker: credit minutes */
#define AXON_WALLET_LEDGER_ID    "ledger_id"   /* worker: balance's row */
#define AXON_WALLET_SESSION      "session"     /* module: latest session */
#define AXON_WALLET_TIER_PCT     "tier_pct"    /* worker: discount */
#define AXON_WALLET_TIER_AT      "tier_at"     /* worker: unix s */
#define AXON_WALLET_TIER_ASKED   "tier_asked"  /* module: unix s */
#define AXON_WALLET_HOME_UNTIL   "home_until"  /* worker: unix s, the
                                                  home volume's end */

/*
 * axon:session:ID.  The module writes id wallet profile mode gpus state
 * created_at when it claims; the worker writes the rest, "" for a field
 * that does not apply now (and the module skips those).
 */
#define AXON_SESSION_ID          "id"
#define AXON_SESSION_WALLET      "wallet"
#define AXON_SESSION_PROFILE     "profile"
#define AXON_SESSION_MODE        "mode"        /* "desktop" | "ssh" */
#define AXON_SESSION_GPUS        "gpus"
#define AXON_SESSION_STATE       "state"       /* AXON_STATE_* */
#define AXON_SESSION_CREATED_AT  "created_at"
#define AXON_SESSION_UPSTREAM    "upstream"    /* host:port, running */
#define AXON_SESSION_HEARTBEAT   "heartbeat"   /* module: unix s */
#define AXON_SESSION_ACTIVITY    "activity"    /* module: unix s */
#define AXON_SESSION_GRACE_UNTIL "grace_until"
#define AXON_SESSION_CONNECT_    "connect_"    /* prefix: host port user */
#define AXON_SESSION_REV         "rev"         /* worker: its write's order */

#define AXON_STATE_QUEUED        "queued"
#define AXON_STATE_RUNNING       "running"
#define AXON_STATE_ENDED         "ended"

/*
 * axon:x402:pay:NONCE.  The module writes state=pending payer profile
 * minutes amount network valid_before created_at token_hash job_id
 * [session_id] [credit_only]; the worker state settled|failed,
 * transaction, error_reason, settled_at, session_id, paid_until, credit,
 * balance, session_error.
 */
#define AXON_X402_STATE          "state"
#define AXON_X402_PENDING_STATE  "pending"
#define AXON_X402_SETTLED        "settled"
#define AXON_X402_FAILED         "failed"
#define AXON_X402_PAYER          "payer"
#define AXON_X402_SESSION_ID     "session_id"

/* axon:job:ID and axon:x402:job:ID: the worker's, for inspection */
#define AXON_JOBSTATE_STATE      "state"       /* running done dead */
#define AXON_JOBSTATE_ATTEMPTS   "attempts"
#define AXON_JOBSTATE_ERROR      "error"


/* ---- job kinds ---------------------------------------------------------- */

/*
 * Every job is a stream entry: "kind", then its fields.  The worker's
 * aw_job_kinds[] (axon-worker/job.c) checks each kind's fields, types and
 * bounds; the module queues these from its scripts (lua/):
 *
 *   auth.signin      wallet token_hash issued_at expires_at nonce ip
 *                    user_agent                       lua/signin.lua
 *   auth.logout      token_hash wallet at             lua/logout.lua
 *   deposit.verify   tx_hash wallet                   lua/deposit_verify.lua
 *   deposit.tier     wallet                           lua/deposit_quote.lua
 *   session.claim    session_id wallet profile mode [ssh_key]
 *                                                     lua/session_claim.lua
 *   session.leave    session_id wallet                lua/session_leave.lua
 *   session.release  session_id wallet                lua/session_release.lua
 *   x402.pay         nonce payer profile minutes ssh_key amount payload
 *                    requirements token_hash token_exp [session_id]
 *                    [credit_only]
 *                    (on axon:x402:jobs)              lua/x402_pay.lua
 *
 * and an admin adds the others by hand (credit.*, deposit.credit|reject|
 * rescan, job.replay, session.end, gpu.drain|undrain, home.delete).
 */
#define AXON_JOB_KIND            "kind"

#define AXON_JOB_AUTH_SIGNIN     "auth.signin"
#define AXON_JOB_AUTH_LOGOUT     "auth.logout"
#define AXON_JOB_CREDIT_GRANT    "credit.grant"
#define AXON_JOB_CREDIT_ADJUST   "credit.adjust"
#define AXON_JOB_CREDIT_REVOKE   "credit.revoke"
#define AXON_JOB_REPLAY          "job.replay"
#define AXON_JOB_DEPOSIT_VERIFY  "deposit.verify"
#define AXON_JOB_DEPOSIT_CREDIT  "deposit.credit"
#define AXON_JOB_DEPOSIT_REJECT  "deposit.reject"
#define AXON_JOB_DEPOSIT_TIER    "deposit.tier"
#define AXON_JOB_DEPOSIT_RESCAN  "deposit.rescan"
#define AXON_JOB_SESSION_CLAIM   "session.claim"
#define AXON_JOB_SESSION_LEAVE   "session.leave"
#define AXON_JOB_SESSION_RELEASE "session.release"
#define AXON_JOB_SESSION_END     "session.end"
#define AXON_JOB_X402_PAY        "x402.pay"
#define AXON_JOB_GPU_DRAIN       "gpu.drain"
#define AXON_JOB_GPU_UNDRAIN     "gpu.undrain"
#define AXON_JOB_HOME_DELETE     "home.delete"


/* ---- scripts ------------------------------------------------------------ */

/*
 * A script of lua/, as embedded: AXON_SCRIPT(SIGNIN) for lua/signin.lua.
 * Sent as EVALSHA sha1; on NOSCRIPT (a Redis that restarted, or SCRIPT
 * FLUSH) as EVAL with the text, which caches it again.
 */
typedef struct {
    const char   *name;
    const char   *src;
    size_t        len;
    const char   *sha1;                        /* 40 hex digits */
} axon_script_t;

#define AXON_SCRIPT(NAME)                                                    \
    { AXON_LUA_##NAME##_NAME, AXON_LUA_##NAME,                                \
      sizeof(AXON_LUA_##NAME) - 1, AXON_LUA_##NAME##_SHA1 }

#define AXON_SHA1_HEX_LEN        40

/* lua/signin.lua */
#define AXON_SIGNIN_OK           1
#define AXON_SIGNIN_NO_NONCE     0             /* unknown, used or expired */
#define AXON_SIGNIN_OTHER_WALLET (-1)          /* issued to another address */

/* lua/session_claim.lua */
#define AXON_CLAIM_OK            1             /* {1, id, profile, mode} */
#define AXON_CLAIM_EXISTS        (-1)          /* {-1, id, state} */
#define AXON_CLAIM_NO_PROFILES   (-2)          /* none published, 0 GPUs, no counter */
#define AXON_CLAIM_NO_PROFILE    (-3)
#define AXON_CLAIM_CREDITS       (-4)          /* {-4, balance, need, grace} */
#define AXON_CLAIM_SSH_OFF       (-5)

/* lua/session_{leave,heartbeat,release,route}.lua: {code, id, state, ...} */
#define AXON_LIVE_OK             1
#define AXON_LIVE_NONE           0             /* no live session: {0} */
#define AXON_LIVE_NOT_QUEUED     (-1)          /* leave: it has GPUs */

/* lua/x402_pay.lua */
#define AXON_X402_PAY_QUEUED     1
#define AXON_X402_PAY_USED       0             /* the nonce was used */
#define AXON_X402_PAY_LIVE       (-1)          /* {-1, id, state} */
#define AXON_X402_PAY_NO_SESSION (-2)          /* top-up: not the payer's */
#define AXON_X402_PAY_ENDED      (-3)
#define AXON_X402_PAY_DESKTOP    (-4)
#define AXON_X402_PAY_PAYER_MAX  (-5)          /* the payer's pending bound */
#define AXON_X402_PAY_ALL_MAX    (-6)          /* everyone's */


/* ---- the price ---------------------------------------------------------- */

/*
 * Credit minutes one minute of a profile costs: each of its GPUs at the
 * profile's price per GPU-minute.  Any integer type; callers that take
 * untrusted sizes check overflow around it.  lua/session_claim.lua
 * computes the same in Lua (it cannot include this).
 */
#define AXON_PRICE_PER_MINUTE(gpus, price)  ((gpus) * (price))


#endif /* AXON_CONTRACT_H */
