/*
 * axon-worker: the configuration table and the redis.conf-like parser.
 *
 *   # comment
 *   key value
 *   postgres "host=127.0.0.1 dbname=axon"     # quotes for spaces
 *
 * One key per line, one value per key, each key at most once.
 */


#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

#include "axon_eth.h"
#include "axon_tx.h"
#include "config.h"
#include "launcher.h"
#include "log.h"


#define AW_CONF_MAX_ARGS  8

#define aw_conf_field(conf, opt)  ((char *) (conf) + (opt)->offset)


static int aw_conf_split(const char *line, char **argv, int *argc,
    char *err, size_t errlen);
static void aw_conf_free_args(char **argv, int argc);
static int aw_conf_set(aw_conf_t *conf, const aw_conf_option_t *opt,
    const char *value, char *err, size_t errlen);
static int aw_conf_parse_msec(const char *s, aw_msec_t *ms);
static int aw_conf_check(aw_conf_t *conf, char *err, size_t errlen);
static int aw_conf_check_urls(aw_conf_t *conf, char *err, size_t errlen);
static int aw_conf_profiles(aw_conf_t *conf, char *err, size_t errlen);
static int aw_conf_gpu_hosts(aw_conf_t *conf, char *err, size_t errlen);
static int aw_conf_deposits(aw_conf_t *conf, char *err, size_t errlen);
static int aw_conf_x402(aw_conf_t *conf, char *err, size_t errlen);
static const aw_conf_option_t *aw_conf_find(const char *name);
static const char *aw_conf_range(const aw_conf_option_t *opt, char *buf,
    size_t size);
static const char *aw_conf_value(const aw_conf_t *conf,
    const aw_conf_option_t *opt, char *buf, size_t size);
static void aw_conf_quote(const char *s, char *buf, size_t size);
static void aw_conf_hide_password(const char *s, char *buf, size_t size);
static const char *aw_conf_location(const aw_conf_t *conf,
    const aw_conf_option_t *opt, char *buf, size_t size);
static void aw_conf_print_help(FILE *f, const char *text);


static const aw_conf_enum_t  aw_conf_log_levels[] = {
    { "debug",  AW_LOG_DEBUG },
    { "info",   AW_LOG_INFO },
    { "notice", AW_LOG_NOTICE },
    { "warn",   AW_LOG_WARN },
    { "error",  AW_LOG_ERR },
    { NULL, 0 }
};


static const aw_conf_enum_t  aw_conf_x402_modes[] = {
    { "none",        AW_X402_NONE },
    { "facilitator", AW_X402_FACILITATOR },
    { "self",        AW_X402_SELF },
    { NULL, 0 }
};


static const aw_conf_enum_t  aw_conf_launchers[] = {
    { "docker", AW_LAUNCHER_DOCKER },
    { NULL, 0 }
};


#define S   1000
#define M   (60 * S)
#define H   (60 * M)

const aw_conf_option_t  aw_conf_options[] = {

    { "postgres", AW_CONF_STRING,
      "host=127.0.0.1 port=5432 dbname=axon user=axon", 0, 0, NULL,
      offsetof(aw_conf_t, postgres), AW_CONF_PG|AW_CONF_CONNINFO,
      "PostgreSQL connection string, in libpq's conninfo syntax (host, "
      "port, dbname, user, password, sslmode, ...).  The worker sets "
      "application_name=axon-worker." },

    { "postgres_connect_timeout", AW_CONF_MSEC, "2s", 100, 1 * M, NULL,
      offsetof(aw_conf_t, postgres_connect_timeout), 0,
      "How long one attempt to connect to PostgreSQL may take." },

    { "postgres_query_timeout", AW_CONF_MSEC, "10s", 100, 1 * H, NULL,
      offsetof(aw_conf_t, postgres_query_timeout), 0,
      "How long a query may wait for its answer before the worker drops "
      "the connection and reconnects.  The migrations of --migrate have "
      "no limit." },

    { "redis_host", AW_CONF_STRING, "127.0.0.1", 1, 255, NULL,
      offsetof(aw_conf_t, redis_host), AW_CONF_REDIS,
      "Redis host name or address." },

    { "redis_port", AW_CONF_INT, "6379", 1, 65535, NULL,
      offsetof(aw_conf_t, redis_port), AW_CONF_REDIS,
      "Redis TCP port." },

    { "redis_password", AW_CONF_STRING, "", 0, 0, NULL,
      offsetof(aw_conf_t, redis_password), AW_CONF_REDIS|AW_CONF_SECRET,
      "Password sent with AUTH after connecting to Redis; empty: no AUTH." },

    { "redis_timeout", AW_CONF_MSEC, "1s", 10, 1 * M, NULL,
      offsetof(aw_conf_t, redis_timeout), AW_CONF_REDIS,
      "Timeout of a connection attempt to Redis and of each command." },

    { "heartbeat_interval", AW_CONF_MSEC, "1s", 100, 1 * M, NULL,
      offsetof(aw_conf_t, heartbeat_interval), 0,
      "How often the worker checks PostgreSQL and, if it answers, "
      "refreshes axon:worker:heartbeat in Redis (else it sets "
      "axon:worker:postgres)." },

    { "heartbeat_ttl", AW_CONF_MSEC, "3s", 200, 10 * M, NULL,
      offsetof(aw_conf_t, heartbeat_ttl), 0,
      "Expiry of axon:worker:heartbeat and axon:worker:postgres; must be "
      "greater than heartbeat_interval." },

    { "reconnect_min", AW_CONF_MSEC, "100ms", 10, 1 * M, NULL,
      offsetof(aw_conf_t, reconnect_min), 0,
      "First delay between attempts to reconnect to PostgreSQL or Redis; "
      "it doubles after each failure, with jitter, up to reconnect_max." },

    { "reconnect_max", AW_CONF_MSEC, "5s", 10, 10 * M, NULL,
      offsetof(aw_conf_t, reconnect_max), 0,
      "Longest delay between reconnect attempts; at least reconnect_min." },

    { "eth_rpc_url", AW_CONF_STRING, "", 0, 4095, NULL,
      offsetof(aw_conf_t, eth_rpc_url), AW_CONF_ETH|AW_CONF_SECRET,
      "Ethereum JSON-RPC endpoints (http:// or https://), comma-separated, "
      "at most 8: the first is used until it fails (connect error, "
      "timeout, HTTP error, an answer that is not JSON-RPC), then the next.  "
      "Empty: no chain, deposits off.  Secret (URLs often hold an API key): "
      "--print-config hides it, the log names only scheme://host:port." },

    { "eth_rpc_timeout", AW_CONF_MSEC, "5s", 100, 1 * M, NULL,
      offsetof(aw_conf_t, eth_rpc_timeout), AW_CONF_ETH,
      "How long one JSON-RPC request to one URL may take, connect "
      "included; past it the next URL is tried." },

    { "eth_chain_id", AW_CONF_INT, "1", 1, INT32_MAX, NULL,
      offsetof(aw_conf_t, eth_chain_id), AW_CONF_ETH,
      "The chain the RPC URLs must serve (1: Ethereum mainnet; the local "
      "chain of `make run` is 1337).  Checked with eth_chainId before a "
      "URL is used: a URL on another chain is refused." },

    { "eth_rpc_batch_max", AW_CONF_INT, "100", 1, 1000, NULL,
      offsetof(aw_conf_t, eth_rpc_batch_max), AW_CONF_ETH,
      "Most calls in one JSON-RPC batch request (receipts, blocks); "
      "providers limit it." },

    { "log_level", AW_CONF_ENUM, "info", 0, 0, aw_conf_log_levels,
      offsetof(aw_conf_t, log_level), 0,
      "Lowest level logged: debug, info, notice, warn or error." },

    { "log_file", AW_CONF_STRING, "", 0, 4095, NULL,
      offsetof(aw_conf_t, log_file), 0,
      "Log file, reopened on SIGHUP (for logrotate); empty: stderr." },

    { "pid_file", AW_CONF_STRING, "", 0, 4095, NULL,
      offsetof(aw_conf_t, pid_file), 0,
      "File the worker writes its pid to at start and removes at exit; "
      "empty: none." },

    { "worker_id", AW_CONF_STRING, "", 0, 128, NULL,
      offsetof(aw_conf_t, worker_id), 0,
      "This worker's name in its heartbeat and logs; empty: hostname:pid." },

    { "queue_group", AW_CONF_STRING, "axon-workers", 1, 64, NULL,
      offsetof(aw_conf_t, queue_group), 0,
      "The consumer group of the job stream axon:jobs that the workers "
      "share; created (from the stream's first entry) if missing." },

    { "queue_consumer", AW_CONF_STRING, "", 0, 128, NULL,
      offsetof(aw_conf_t, queue_consumer), 0,
      "This worker's consumer name in the group; empty: worker_id.  A "
      "worker restarted under the same name takes its own pending jobs "
      "back at once; under a new name (the default hostname:pid), another "
      "worker reclaims them after job_claim_idle.  Two running workers "
      "must not share a name." },

    { "queue_batch", AW_CONF_INT, "64", 1, 1000, NULL,
      offsetof(aw_conf_t, queue_batch), 0,
      "Jobs read from the stream at once (XREADGROUP COUNT); they are run "
      "one after the other." },

    { "queue_block", AW_CONF_MSEC, "100ms", 1, 10 * S, NULL,
      offsetof(aw_conf_t, queue_block), 0,
      "How long a read of an empty stream waits for a job (XREADGROUP "
      "BLOCK); signals are handled between reads.  Must be less than "
      "redis_timeout." },

    { "job_max_attempts", AW_CONF_INT, "8", 1, 1000, NULL,
      offsetof(aw_conf_t, job_max_attempts), 0,
      "Attempts of a job that fails transiently (a lost connection, a "
      "lock timeout...) before it goes to the dead-letter stream "
      "axon:jobs:dead.  A job that fails permanently (bad fields, a "
      "refused change) goes there at the first attempt." },

    { "job_retry_min", AW_CONF_MSEC, "1s", 10, 1 * H, NULL,
      offsetof(aw_conf_t, job_retry_min), 0,
      "Delay before the first retry of a failed job; it doubles at each "
      "attempt, with jitter, up to job_retry_max." },

    { "job_retry_max", AW_CONF_MSEC, "1m", 10, 1 * H, NULL,
      offsetof(aw_conf_t, job_retry_max), 0,
      "Longest delay between two attempts of a job; at least "
      "job_retry_min, less than job_claim_idle." },

    { "job_claim_idle", AW_CONF_MSEC, "2m", 100, 24 * H, NULL,
      offsetof(aw_conf_t, job_claim_idle), 0,
      "A job that another consumer took and has not acknowledged for this "
      "long is reclaimed (XAUTOCLAIM): its worker is presumed dead.  Must "
      "exceed the longest a job can take." },

    { "job_state_ttl", AW_CONF_MSEC, "1h", 1 * S, 30 * 24 * (int64_t) H, NULL,
      offsetof(aw_conf_t, job_state_ttl), 0,
      "How long the state of a finished job (axon:job:ID) is kept; the "
      "state of a dead-lettered job is kept until it is replayed." },

    /* session containers: launcher.c */

    { "launcher", AW_CONF_ENUM, "docker", 0, 0, aw_conf_launchers,
      offsetof(aw_conf_t, launcher), 0,
      "How session containers are started and stopped: docker, through "
      "a docker-compatible command line (docker or podman) on this host." },

    { "launcher_docker", AW_CONF_STRING, "docker", 1, 4095, NULL,
      offsetof(aw_conf_t, launcher_docker), 0,
      "The container command: a path, or a name looked up in PATH "
      "(docker, podman).  It is run directly with its arguments, never "
      "through a shell." },

    { "containers_conf", AW_CONF_STRING, "", 0, 4095, NULL,
      offsetof(aw_conf_t, containers_conf), 0,
      "For podman: the containers.conf it reads (CONTAINERS_CONF in its "
      "environment; conf/podman/containers.conf suits hosts like the "
      "test machines); empty: the worker's own environment decides." },

    { "launcher_image", AW_CONF_STRING, "axon-session-desktop:latest",
      1, 1024, NULL,
      offsetof(aw_conf_t, launcher_image), 0,
      "Image of a desktop session (scripts/session-image desktop)." },

    { "launcher_port", AW_CONF_INT, "6080", 1, 65535, NULL,
      offsetof(aw_conf_t, launcher_port), 0,
      "Port a desktop container serves on (noVNC and its WebSocket); "
      "published on launcher_publish_addr, on a host port of the port "
      "pool (port_pool_start)." },

    { "launcher_ssh_image", AW_CONF_STRING, "axon-session-ssh:latest", 0,
      1024, NULL, offsetof(aw_conf_t, launcher_ssh_image), 0,
      "Image of an SSH session (scripts/session-image ssh: sshd only); "
      "empty: launcher_image." },

    { "launcher_ssh_port", AW_CONF_INT, "22", 1, 65535, NULL,
      offsetof(aw_conf_t, launcher_ssh_port), 0,
      "Port the sshd of an SSH session container listens on." },

    { "launcher_network", AW_CONF_STRING, "", 0, 255, NULL,
      offsetof(aw_conf_t, launcher_network), 0,
      "Network session containers join (--network); empty: the "
      "runtime's default." },

    { "launcher_gpu_args", AW_CONF_STRING, "--gpus \"device={gpus}\"",
      0, 1024, NULL,
      offsetof(aw_conf_t, launcher_gpu_args), 0,
      "Arguments that give a container its GPUs, split at blanks, with "
      "{gpus} replaced by the session's GPU indexes (0,2).  Left out for "
      "a session without GPUs; empty: never (hosts without GPUs).  The "
      "double quotes are docker's own syntax for a device list with a "
      "comma, passed as they are." },

    { "launcher_args", AW_CONF_STRING, "", 0, 4095, NULL,
      offsetof(aw_conf_t, launcher_args), 0,
      "More arguments for `run`, split at blanks (--shm-size 1g, "
      "--memory 32g); empty: none." },

    { "launcher_publish_addr", AW_CONF_STRING, "127.0.0.1", 1, 64, NULL,
      offsetof(aw_conf_t, launcher_publish_addr), 0,
      "Host address the session's port is published on; the worker "
      "waits for it there." },

    { "ssh_host", AW_CONF_STRING, "", 0, 255, NULL,
      offsetof(aw_conf_t, ssh_host), 0,
      "The host name or address SSH clients reach this worker's sessions "
      "at (ssh_host of GET /api/session, the ssh command); empty: "
      "launcher_publish_addr." },

    { "launcher_timeout", AW_CONF_MSEC, "30s", 1 * S, 10 * M, NULL,
      offsetof(aw_conf_t, launcher_timeout), 0,
      "How long one container command (run, port, stop, rm, ps, inspect) "
      "may take before it is killed and counted as failed." },

    { "launcher_ready_timeout", AW_CONF_MSEC, "1m", 0, 30 * M, NULL,
      offsetof(aw_conf_t, launcher_ready_timeout), 0,
      "How long a started container has to answer on its port before "
      "the launch counts as failed and the container is removed." },

    { "launcher_stop_grace", AW_CONF_MSEC, "10s", 0, 10 * M, NULL,
      offsetof(aw_conf_t, launcher_stop_grace), 0,
      "How long a container has between SIGTERM and SIGKILL when its "
      "session stops (`stop --time`, in whole seconds, rounded up)." },

    { "deposit_revenue_wallet", AW_CONF_STRING, "", 0, 42, NULL,
      offsetof(aw_conf_t, deposit_revenue_wallet), 0,
      "The operator's address that deposits are paid to (0x + 40 hex).  "
      "Empty: deposits off (with eth_rpc_url, both are needed)." },

    { "deposit_tokens", AW_CONF_STRING, "", 0, 4095, NULL,
      offsetof(aw_conf_t, deposit_tokens), 0,
      "The accepted ERC-20 tokens, comma-separated "
      "SYMBOL:ADDRESS:DECIMALS:PRICE, PRICE in credit minutes per whole "
      "token (10^DECIMALS atomic units), an integer: "
      "\"USDC:0xA0b8...eB48:6:60\"." },

    { "deposit_eth_price", AW_CONF_INT, "0", 0, INT32_MAX, NULL,
      offsetof(aw_conf_t, deposit_eth_price), 0,
      "Credit minutes per whole ETH (10^18 wei) paid natively; 0: native "
      "ETH is not accepted." },

    { "deposit_confirmations", AW_CONF_INT, "6", 1, 1000, NULL,
      offsetof(aw_conf_t, deposit_confirmations), 0,
      "Confirmations (the deposit's block counts as one) before a deposit "
      "is credited." },

    { "deposit_poll_interval", AW_CONF_MSEC, "2s", 10, 10 * M, NULL,
      offsetof(aw_conf_t, deposit_poll_interval), 0,
      "How often the indexer and the confirmation check look at the "
      "chain." },

    { "deposit_index_range", AW_CONF_INT, "1000", 1, 100000, NULL,
      offsetof(aw_conf_t, deposit_index_range), 0,
      "Most blocks of one eth_getLogs call of the indexer (providers "
      "limit it)." },

    { "deposit_start_block", AW_CONF_INT, "0", 0, INT32_MAX, NULL,
      offsetof(aw_conf_t, deposit_start_block), 0,
      "Where the indexer starts on a chain it has no cursor for." },

    { "deposit_tier_token", AW_CONF_STRING, "", 0, 64, NULL,
      offsetof(aw_conf_t, deposit_tier_token), 0,
      "The token whose balance gives the discount tier, ADDRESS:DECIMALS; "
      "empty: no tiers." },

    { "deposit_tiers", AW_CONF_STRING, "100:5,1000:10,10000:15,100000:25",
      0, 1023, NULL, offsetof(aw_conf_t, deposit_tiers), 0,
      "Discount tiers, comma-separated MIN:PERCENT, MIN in whole tier "
      "tokens held, ascending; below the first: no discount.  A tier's "
      "discount is on the price: a deposit buys 100/(100-PERCENT) times "
      "the minutes." },

    /* x402 settlement: x402.c */

    { "x402_settle", AW_CONF_ENUM, "none", 0, 0, aw_conf_x402_modes,
      offsetof(aw_conf_t, x402_settle), 0,
      "How the x402 payments the gate verified (x402.pay jobs) are "
      "settled: facilitator (its HTTP /verify and /settle, "
      "x402_facilitator_url; the settlement's receipt read over "
      "eth_rpc_url), self (this worker sends "
      "transferWithAuthorization from its gas wallet, x402_gas_key_file, "
      "over eth_rpc_url), or none (x402.pay jobs are refused and "
      "dead-lettered untouched: a worker that settles may replay them)." },

    { "x402_facilitator_url", AW_CONF_STRING, "", 0, 1024, NULL,
      offsetof(aw_conf_t, x402_facilitator_url), AW_CONF_SECRET,
      "The facilitator's base URL (http:// or https://); /verify and "
      "/settle are appended.  Needed with x402_settle facilitator." },

    { "x402_facilitator_timeout", AW_CONF_MSEC, "30s", 1 * S, 5 * M, NULL,
      offsetof(aw_conf_t, x402_facilitator_timeout), 0,
      "How long one request to the facilitator may take (its /settle "
      "waits for the chain), connect included." },

    { "x402_gas_key_file", AW_CONF_STRING, "", 0, 4095, NULL,
      offsetof(aw_conf_t, x402_gas_key_file), 0,
      "With x402_settle self: a file holding the gas wallet's secret key "
      "(64 hex, optionally 0x, one line), readable by the worker only "
      "(mode 0600 or 0400).  The wallet pays the gas of the "
      "settlements; it never holds the payments, which go to payTo." },

    { "x402_receipt_wait", AW_CONF_MSEC, "3s", 0, 1 * M, NULL,
      offsetof(aw_conf_t, x402_receipt_wait), 0,
      "How long one attempt of a job waits for its settlement's "
      "receipt; then the job is retried (job_retry_min "
      "...) and looks again, sending the same bytes." },

    { "launcher_prefix", AW_CONF_STRING, "axgt-session-", 1, 64, NULL,
      offsetof(aw_conf_t, launcher_prefix), 0,
      "Session containers are named PREFIX + session id; the reconcile "
      "sweep only touches containers named so (two deployments, or test "
      "stacks, on one container host use different prefixes)." },

    { "port_pool_start", AW_CONF_INT, "42000", 1024, 65535, NULL,
      offsetof(aw_conf_t, port_pool_start), 0,
      "The port pool: every session's container is published on "
      "launcher_publish_addr at a host port from port_pool_start to "
      "port_pool_start + port_pool_size - 1, taken with its GPUs and "
      "held until its container is removed; one pool per host of "
      "gpu_hosts.  An SSH session is reached there directly, a desktop "
      "through the gate.  Keep the range free of other listeners (and "
      "out of net.ipv4.ip_local_port_range where you can)." },

    { "port_pool_size", AW_CONF_INT, "1000", 1, 64512, NULL,
      offsetof(aw_conf_t, port_pool_size), 0,
      "How many ports the pool has per host: at most that many live "
      "sessions per host; when all are taken, claims wait in the queue "
      "(reason: waiting for a free port)." },

    /* GPU sessions: session.c, sched.c */

    { "sessions", AW_CONF_BOOL, "on", 0, 0, NULL,
      offsetof(aw_conf_t, sessions), 0,
      "Whether this worker runs GPU sessions: the session job kinds, the "
      "scheduler, billing and the reconcile sweep.  off: session jobs are "
      "refused (dead-lettered) and axon:profiles is not written." },

    { "ssh_sessions", AW_CONF_BOOL, "on", 0, 0, NULL,
      offsetof(aw_conf_t, ssh_sessions), 0,
      "Whether sessions in SSH mode may be claimed (a shell on a port of "
      "the port pool, no desktop).  Published as \"ssh\" in axon:profiles: "
      "the module then refuses an SSH claim (400 ssh_disabled) and the "
      "launch page offers no SSH option; a session.claim in SSH mode that "
      "gets through ends at once (ssh_disabled)." },

    { "profiles", AW_CONF_STRING, "small:1:1 medium:2:1 large:4:1 max:8:1",
      1, 1024, NULL,
      offsetof(aw_conf_t, profiles), 0,
      "The session profiles, NAME:GPUS:PRICE separated by blanks: NAME "
      "of 1 to 32 of a-z 0-9 _ -, GPUS 1 to 16, PRICE in credit minutes "
      "per GPU-minute (1 to 10000).  A minute of a session costs GPUS x "
      "PRICE credit minutes." },

    { "gpu_hosts", AW_CONF_STRING, "local=0,1,2,3,4,5,6,7", 0, 4095, NULL,
      offsetof(aw_conf_t, gpu_hosts), 0,
      "The GPU pool, NAME=INDEX,INDEX,... per host separated by blanks "
      "(local=0,1,2,3 gpu2=0,1).  A session's GPUs are all on one host. "
      "The docker launcher starts every container on this worker's host, "
      "so more than one host needs one worker per host, each listing its "
      "own (NAME is what gpu_assignments.host records).  Empty: no GPUs, "
      "every claim waits." },

    { "billing_minute", AW_CONF_MSEC, "1m", 1 * S, 1 * H, NULL,
      offsetof(aw_conf_t, billing_minute), 0,
      "The length of a billed minute.  1m in production; tests shorten "
      "it.  Minute K of a session is charged when it begins." },

    { "billing_tick", AW_CONF_MSEC, "10s", 100, 1 * H, NULL,
      offsetof(aw_conf_t, billing_tick), 0,
      "How often the billing tick charges the minutes that have begun, "
      "checks idle sessions and ends those past their grace; at most "
      "billing_minute." },

    { "session_idle_timeout", AW_CONF_MSEC, "30m", 0, 7 * 24 * (int64_t) H,
      NULL, offsetof(aw_conf_t, session_idle_timeout), 0,
      "A running session without a heartbeat (POST /api/session/"
      "heartbeat) for this long is stopped (end_reason idle); 0: never." },

    { "session_grace", AW_CONF_MSEC, "5m", 0, 24 * H, NULL,
      offsetof(aw_conf_t, session_grace), 0,
      "The warning time at zero balance, paid: a reserve of G = "
      "ceil(session_grace / billing_minute) minutes (axon:profiles' "
      "grace_minutes) that a claim must hold beyond its first minute, "
      "gpus x price x (1 + G) in all.  Once the balance above the reserve "
      "cannot pay a minute that began, the grace begins (grace_until: that "
      "minute's start + G minutes), its minutes billed from the reserve as "
      "they begin; the session stops at grace_until (end_reason "
      "out_of_credits).  Credits that make the reserve whole again end the "
      "grace.  0: no reserve, a session stops at the first minute the "
      "balance cannot pay.  A wallet never runs a minute it did not pay." },

    { "queue_reserve_after", AW_CONF_MSEC, "5m", 0, 24 * H, NULL,
      offsetof(aw_conf_t, queue_reserve_after), 0,
      "The fair queue: sessions are served first come, first served, and "
      "one that does not fit lets smaller ones behind it start "
      "(backfill) until it has waited this long; then GPUs are reserved "
      "for it: nothing behind it starts until it has." },

    { "reconcile_interval", AW_CONF_MSEC, "30s", 1 * S, 1 * H, NULL,
      offsetof(aw_conf_t, reconcile_interval), 0,
      "How often the reconcile sweep compares Postgres, Redis and the "
      "containers and repairs what differs." },

    { "session_connect_path", AW_CONF_STRING, "/desktop/", 1, 255, NULL,
      offsetof(aw_conf_t, session_connect_path), 0,
      "Where a running desktop session is reached through the gate (the "
      "location with `axon_gate session`), shown to the user as "
      "connect.path.  An SSH session shows connect.host, connect.port "
      "and connect.user instead." },

    { NULL, 0, NULL, 0, 0, NULL, 0, 0, NULL }
};

#undef S
#undef M
#undef H


/*
 * Reads path (NULL: defaults only) into a new configuration.  On error
 * returns NULL with a message naming the file, line and key in err.
 */

aw_conf_t *
aw_conf_load(const char *path, char *err, size_t errlen)
{
    int                      argc, n;
    FILE                    *f;
    char                    *line, *p, *argv[AW_CONF_MAX_ARGS], msg[512];
    size_t                   size, len;
    ssize_t                  nread;
    unsigned                 lineno;
    aw_conf_t               *conf;
    const aw_conf_option_t  *opt;

    f = NULL;
    line = NULL;
    argc = 0;

    conf = calloc(1, sizeof(aw_conf_t));
    if (conf == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }

    for (opt = aw_conf_options; opt->name; opt++) {
        aw_assert(opt - aw_conf_options < AW_CONF_MAX_OPTIONS);

        if (aw_conf_set(conf, opt, opt->def, msg, sizeof(msg)) != AW_OK) {
            /* a bad default is a bug in the table */
            aw_log(AW_LOG_EMERG, "config: default of %s: %s", opt->name, msg);
            aw_assert(0);
        }
    }

    if (path == NULL) {
        goto check;
    }

    conf->path = strdup(path);
    if (conf->path == NULL) {
        snprintf(err, errlen, "out of memory");
        goto failed;
    }

    f = fopen(path, "re");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open configuration file \"%s\": %s",
                 path, strerror(errno));
        goto failed;
    }

    size = 0;
    lineno = 0;

    while ((nread = getline(&line, &size, f)) != -1) {
        lineno++;

        len = nread;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
            line[--len] = '\0';
        }

        if (strlen(line) != len) {
            snprintf(err, errlen, "%s:%u: NUL byte in line", path, lineno);
            goto file_failed;
        }

        if (aw_conf_split(line, argv, &argc, msg, sizeof(msg)) != AW_OK) {
            p = line + strspn(line, " \t");
            snprintf(err, errlen, "%s:%u: %.*s: %s", path, lineno,
                     (int) aw_min(strcspn(p, " \t"), 64), p, msg);
            goto file_failed;
        }

        if (argc == 0) {
            continue;
        }

        opt = aw_conf_find(argv[0]);

        if (opt == NULL) {
            snprintf(err, errlen, "%s:%u: unknown key \"%.64s\"",
                     path, lineno, argv[0]);
            goto args_failed;
        }

        if (argc != 2) {
            snprintf(err, errlen, "%s:%u: %s takes one value, not %d "
                     "(quote a value that contains spaces)",
                     path, lineno, opt->name, argc - 1);
            goto args_failed;
        }

        n = opt - aw_conf_options;

        if (conf->line[n]) {
            snprintf(err, errlen, "%s:%u: %s is already set on line %u",
                     path, lineno, opt->name, conf->line[n]);
            goto args_failed;
        }

        if (aw_conf_set(conf, opt, argv[1], msg, sizeof(msg)) != AW_OK) {
            snprintf(err, errlen, "%s:%u: %s", path, lineno, msg);
            goto args_failed;
        }

        conf->line[n] = lineno;

        aw_conf_free_args(argv, argc);
    }

    if (ferror(f)) {
        snprintf(err, errlen, "cannot read configuration file \"%s\": %s",
                 path, strerror(errno));
        goto file_failed;
    }

    free(line);
    fclose(f);

check:

    if (aw_conf_check(conf, err, errlen) != AW_OK) {
        goto failed;
    }

    return conf;

args_failed:

    aw_conf_free_args(argv, argc);

file_failed:

    free(line);

    if (f != NULL) {
        fclose(f);
    }

failed:

    aw_conf_free(conf);

    return NULL;
}


void
aw_conf_free(aw_conf_t *conf)
{
    const aw_conf_option_t  *opt;

    if (conf == NULL) {
        return;
    }

    for (opt = aw_conf_options; opt->name; opt++) {
        if (opt->type == AW_CONF_STRING) {
            free(*(char **) aw_conf_field(conf, opt));
        }
    }

    explicit_bzero(conf->x402_gas_key, sizeof(conf->x402_gas_key));

    free(conf->path);
    free(conf);
}


/*
 * Checks that involve several keys, and values computed from others.
 */

static int
aw_conf_check(aw_conf_t *conf, char *err, size_t errlen)
{
    char                    *id, loc[300], a[32], b[32], host[256];
    const aw_conf_option_t  *ttl, *max;

    ttl = aw_conf_find("heartbeat_ttl");
    max = aw_conf_find("reconnect_max");

    if (conf->heartbeat_ttl <= conf->heartbeat_interval) {
        snprintf(err, errlen, "%s: heartbeat_ttl (%s) must be greater than "
                 "heartbeat_interval (%s)",
                 aw_conf_location(conf, ttl, loc, sizeof(loc)),
                 aw_conf_format_msec(a, sizeof(a), conf->heartbeat_ttl),
                 aw_conf_format_msec(b, sizeof(b), conf->heartbeat_interval));
        return AW_ERROR;
    }

    if (conf->reconnect_max < conf->reconnect_min) {
        snprintf(err, errlen, "%s: reconnect_max (%s) must not be less than "
                 "reconnect_min (%s)",
                 aw_conf_location(conf, max, loc, sizeof(loc)),
                 aw_conf_format_msec(a, sizeof(a), conf->reconnect_max),
                 aw_conf_format_msec(b, sizeof(b), conf->reconnect_min));
        return AW_ERROR;
    }

    if (conf->queue_block >= conf->redis_timeout) {
        snprintf(err, errlen, "%s: queue_block (%s) must be less than "
                 "redis_timeout (%s)",
                 aw_conf_location(conf, aw_conf_find("queue_block"), loc,
                                  sizeof(loc)),
                 aw_conf_format_msec(a, sizeof(a), conf->queue_block),
                 aw_conf_format_msec(b, sizeof(b), conf->redis_timeout));
        return AW_ERROR;
    }

    if (conf->job_retry_max < conf->job_retry_min) {
        snprintf(err, errlen, "%s: job_retry_max (%s) must not be less than "
                 "job_retry_min (%s)",
                 aw_conf_location(conf, aw_conf_find("job_retry_max"), loc,
                                  sizeof(loc)),
                 aw_conf_format_msec(a, sizeof(a), conf->job_retry_max),
                 aw_conf_format_msec(b, sizeof(b), conf->job_retry_min));
        return AW_ERROR;
    }

    if (conf->job_claim_idle <= conf->job_retry_max) {
        snprintf(err, errlen, "%s: job_claim_idle (%s) must be greater than "
                 "job_retry_max (%s)",
                 aw_conf_location(conf, aw_conf_find("job_claim_idle"), loc,
                                  sizeof(loc)),
                 aw_conf_format_msec(a, sizeof(a), conf->job_claim_idle),
                 aw_conf_format_msec(b, sizeof(b), conf->job_retry_max));
        return AW_ERROR;
    }

    if (aw_conf_check_urls(conf, err, errlen) != AW_OK) {
        return AW_ERROR;
    }

    if (conf->billing_tick > conf->billing_minute) {
        snprintf(err, errlen, "%s: billing_tick (%s) must not be greater "
                 "than billing_minute (%s)",
                 aw_conf_location(conf, aw_conf_find("billing_tick"), loc,
                                  sizeof(loc)),
                 aw_conf_format_msec(a, sizeof(a), conf->billing_tick),
                 aw_conf_format_msec(b, sizeof(b), conf->billing_minute));
        return AW_ERROR;
    }

    if (strspn(conf->launcher_prefix, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
               "abcdefghijklmnopqrstuvwxyz0123456789_.-")
        != strlen(conf->launcher_prefix)
        || strchr("_.-", conf->launcher_prefix[0]) != NULL)
    {
        snprintf(err, errlen, "%s: launcher_prefix \"%s\": a container "
                 "name begins with a letter or digit and has only letters, "
                 "digits and _.-",
                 aw_conf_location(conf, aw_conf_find("launcher_prefix"), loc,
                                  sizeof(loc)), conf->launcher_prefix);
        return AW_ERROR;
    }

    if ((int64_t) conf->port_pool_start + conf->port_pool_size - 1 > 65535) {
        snprintf(err, errlen, "%s: the port pool, port_pool_start (%d) + "
                 "port_pool_size (%d), ends past port 65535",
                 aw_conf_location(conf, aw_conf_find(
                                      conf->line[aw_conf_find("port_pool_size")
                                                 - aw_conf_options]
                                      ? "port_pool_size" : "port_pool_start"),
                                  loc, sizeof(loc)),
                 conf->port_pool_start, conf->port_pool_size);
        return AW_ERROR;
    }

    if (strspn(conf->ssh_host, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
               "0123456789.-:") != strlen(conf->ssh_host))
    {
        snprintf(err, errlen, "%s: ssh_host \"%s\": a host name or an "
                 "address (letters, digits, . - :)",
                 aw_conf_location(conf, aw_conf_find("ssh_host"), loc,
                                  sizeof(loc)), conf->ssh_host);
        return AW_ERROR;
    }

    if (aw_conf_profiles(conf, err, errlen) != AW_OK
        || aw_conf_gpu_hosts(conf, err, errlen) != AW_OK
        || aw_conf_deposits(conf, err, errlen) != AW_OK
        || aw_conf_x402(conf, err, errlen) != AW_OK)
    {
        return AW_ERROR;
    }

    if (conf->worker_id[0] == '\0') {
        if (gethostname(host, sizeof(host)) == -1) {
            strcpy(host, "localhost");
        }

        host[sizeof(host) - 1] = '\0';

        if (asprintf(&id, "%s:%d", host, (int) getpid()) == -1) {
            snprintf(err, errlen, "out of memory");
            return AW_ERROR;
        }

        free(conf->worker_id);
        conf->worker_id = id;
    }

    if (conf->queue_consumer[0] == '\0') {
        id = strdup(conf->worker_id);
        if (id == NULL) {
            snprintf(err, errlen, "out of memory");
            return AW_ERROR;
        }

        free(conf->queue_consumer);
        conf->queue_consumer = id;
    }

    return AW_OK;
}


/*
 * eth_rpc_url: at most 8 http:// or https:// URLs, comma-separated.
 */

static int
aw_conf_check_urls(aw_conf_t *conf, char *err, size_t errlen)
{
    int                      n;
    char                     loc[300];
    size_t                   len;
    const char              *p;
    const aw_conf_option_t  *opt;

    opt = aw_conf_find("eth_rpc_url");
    n = 0;

    for (p = conf->eth_rpc_url; *p; p += len + (p[len] == ',')) {
        p += strspn(p, " \t");
        len = strcspn(p, ",");

        if (len == 0 && *p == '\0') {
            break;
        }

        if (strncmp(p, "http://", 7) != 0 && strncmp(p, "https://", 8) != 0) {
            snprintf(err, errlen, "%s: eth_rpc_url: \"%.*s\" is not an "
                     "http:// or https:// URL",
                     aw_conf_location(conf, opt, loc, sizeof(loc)),
                     (int) aw_min(len, 64), p);
            return AW_ERROR;
        }

        if (++n > 8) {
            snprintf(err, errlen, "%s: eth_rpc_url: more than 8 URLs",
                     aw_conf_location(conf, opt, loc, sizeof(loc)));
            return AW_ERROR;
        }
    }

    return AW_OK;
}


/*
 * profiles: NAME:GPUS:PRICE ...
 */

static int
aw_conf_profiles(aw_conf_t *conf, char *err, size_t errlen)
{
    int                 i, n, used;
    char                loc[300], name[64];
    long                gpus, price;
    const char         *p;
    aw_conf_profile_t  *pr;

    aw_conf_location(conf, aw_conf_find("profiles"), loc, sizeof(loc));

    conf->nprofiles = 0;
    p = conf->profiles;

    for ( ;; ) {
        p += strspn(p, " \t");

        if (*p == '\0') {
            break;
        }

        used = 0;
        n = sscanf(p, "%63[a-z0-9_-]:%ld:%ld%n", name, &gpus, &price, &used);

        if (n != 3 || (p[used] != '\0' && p[used] != ' ' && p[used] != '\t'))
        {
            snprintf(err, errlen, "%s: profiles: \"%.*s\" is not "
                     "NAME:GPUS:PRICE (NAME of a-z 0-9 _ -, e.g. small:1:1)",
                     loc, (int) aw_min(strcspn(p, " \t"), 64), p);
            return AW_ERROR;
        }

        if (strlen(name) > 32 || gpus < 1 || gpus > AW_LAUNCHER_MAX_GPUS
            || price < 1 || price > 10000)
        {
            snprintf(err, errlen, "%s: profiles: \"%.*s\": NAME is 1 to 32 "
                     "characters, GPUS 1 to %d, PRICE 1 to 10000", loc,
                     used, p, AW_LAUNCHER_MAX_GPUS);
            return AW_ERROR;
        }

        for (i = 0; i < conf->nprofiles; i++) {
            if (strcmp(conf->profile[i].name, name) == 0) {
                snprintf(err, errlen, "%s: profiles: \"%s\" is given twice",
                         loc, name);
                return AW_ERROR;
            }
        }

        if (conf->nprofiles == AW_CONF_MAX_PROFILES) {
            snprintf(err, errlen, "%s: profiles: at most %d", loc,
                     AW_CONF_MAX_PROFILES);
            return AW_ERROR;
        }

        pr = &conf->profile[conf->nprofiles++];
        strcpy(pr->name, name);
        pr->gpus = (int) gpus;
        pr->price = (int) price;

        p += used;
    }

    if (conf->nprofiles == 0) {
        snprintf(err, errlen, "%s: profiles: at least one", loc);
        return AW_ERROR;
    }

    return AW_OK;
}


/*
 * x402_settle and what its mode needs: the facilitator's URL, or the gas
 * wallet's key file (owner-only, 64 hex, a valid secp256k1 key) and a
 * chain to send on.
 */

static int
aw_conf_x402(aw_conf_t *conf, char *err, size_t errlen)
{
    int             fd, n;
    char            loc[300], buf[130], *p, *e;
    ssize_t         len;
    struct stat     st;
    axon_signer_t  *signer;

    explicit_bzero(conf->x402_gas_key, sizeof(conf->x402_gas_key));

    if (conf->x402_settle == AW_X402_FACILITATOR) {
        aw_conf_location(conf, aw_conf_find("x402_facilitator_url"), loc,
                         sizeof(loc));

        if (strncmp(conf->x402_facilitator_url, "http://", 7) != 0
            && strncmp(conf->x402_facilitator_url, "https://", 8) != 0)
        {
            snprintf(err, errlen, "%s: x402_settle facilitator needs "
                     "x402_facilitator_url, an http:// or https:// URL",
                     loc);
            return AW_ERROR;
        }

        if (conf->eth_rpc_url[0] == '\0') {
            snprintf(err, errlen, "%s: x402_settle facilitator needs "
                     "eth_rpc_url: the worker reads each settlement's "
                     "receipt before it credits it", loc);
            return AW_ERROR;
        }
    }

    if (conf->x402_settle != AW_X402_SELF) {
        return AW_OK;
    }

    aw_conf_location(conf, aw_conf_find("x402_gas_key_file"), loc,
                     sizeof(loc));

    if (conf->eth_rpc_url[0] == '\0') {
        snprintf(err, errlen, "%s: x402_settle self needs eth_rpc_url: the "
                 "worker sends the settlements itself", loc);
        return AW_ERROR;
    }

    if (conf->x402_gas_key_file[0] == '\0') {
        snprintf(err, errlen, "%s: x402_settle self needs x402_gas_key_file",
                 loc);
        return AW_ERROR;
    }

    fd = open(conf->x402_gas_key_file, O_RDONLY | O_CLOEXEC);

    if (fd == -1 || fstat(fd, &st) == -1) {
        snprintf(err, errlen, "%s: x402_gas_key_file \"%s\": %s", loc,
                 conf->x402_gas_key_file, strerror(errno));
        if (fd != -1) {
            close(fd);
        }
        return AW_ERROR;
    }

    if (!S_ISREG(st.st_mode) || (st.st_mode & 077)) {
        close(fd);
        snprintf(err, errlen, "%s: x402_gas_key_file \"%s\" must be a file "
                 "only its owner can read (chmod 600)", loc,
                 conf->x402_gas_key_file);
        return AW_ERROR;
    }

    len = read(fd, buf, sizeof(buf) - 1);
    close(fd);

    if (len < 0) {
        len = 0;
    }

    buf[len] = '\0';

    p = buf;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        p += 2;
    }

    for (e = p; *e && strchr("0123456789abcdefABCDEF", *e); e++) {
        /* void */
    }

    n = (int) (e - p);

    while (*e == '\n' || *e == '\r' || *e == ' ' || *e == '\t') {
        e++;
    }

    signer = NULL;

    if (n == 64 && *e == '\0'
        && axon_hex_decode(conf->x402_gas_key, 32, p, 64) == AXON_OK)
    {
        signer = axon_signer_create(conf->x402_gas_key);
    }

    explicit_bzero(buf, sizeof(buf));

    if (signer == NULL) {
        explicit_bzero(conf->x402_gas_key, sizeof(conf->x402_gas_key));
        snprintf(err, errlen, "%s: x402_gas_key_file \"%s\" does not hold "
                 "a secp256k1 secret key (64 hex digits, one line)", loc,
                 conf->x402_gas_key_file);
        return AW_ERROR;
    }

    axon_signer_destroy(signer);

    return AW_OK;
}


/*
 * deposit_revenue_wallet, deposit_tokens (SYMBOL:ADDRESS:DECIMALS:PRICE,...),
 * deposit_tier_token (ADDRESS:DECIMALS) and deposit_tiers (MIN:PERCENT,...):
 * checked whether deposits are on or not, so `-t` finds a typo before the
 * day the operator sets the revenue wallet.
 */

static int
aw_conf_deposits(aw_conf_t *conf, char *err, size_t errlen)
{
    int                  n, i;
    char                 loc[300], sym[32], addr[64], item[128];
    size_t               len;
    long long            dec, price, min, pct;
    const char          *p, *what;
    aw_conf_token_t     *t;
    aw_conf_deposits_t  *d;

    d = &conf->deposit;
    memset(d, 0, sizeof(*d));

    what = "deposit_revenue_wallet";
    p = conf->deposit_revenue_wallet;

    if (*p) {
        if (axon_address_parse(d->revenue, p, strlen(p)) != AXON_OK) {
            snprintf(err, errlen, "%s: deposit_revenue_wallet \"%s\" is not "
                     "an address (0x and 40 hex digits)",
                     aw_conf_location(conf, aw_conf_find(what), loc,
                                      sizeof(loc)), p);
            return AW_ERROR;
        }

        d->enabled = 1;
    }

    what = "deposit_tokens";
    aw_conf_location(conf, aw_conf_find(what), loc, sizeof(loc));

    for (p = conf->deposit_tokens; *p; p += len + (p[len] == ',')) {
        p += strspn(p, " \t");
        len = strcspn(p, ",");

        if (len == 0) {
            if (*p == '\0') {
                break;
            }

            snprintf(err, errlen, "%s: deposit_tokens: an empty item", loc);
            return AW_ERROR;
        }

        snprintf(item, sizeof(item), "%.*s", (int) aw_min(len, 127), p);
        n = 0;

        if (len > 127
            || sscanf(item, "%31[^:]:%63[^:]:%lld:%lld %n", sym, addr, &dec,
                      &price, &n) != 4
            || item[n] != '\0')
        {
            snprintf(err, errlen, "%s: deposit_tokens: \"%.64s\" is not "
                     "SYMBOL:ADDRESS:DECIMALS:PRICE", loc, item);
            return AW_ERROR;
        }

        if (d->ntokens == AW_CONF_MAX_TOKENS) {
            snprintf(err, errlen, "%s: deposit_tokens: at most %d tokens",
                     loc, AW_CONF_MAX_TOKENS);
            return AW_ERROR;
        }

        t = &d->token[d->ntokens];

        if (strlen(sym) > 15
            || strspn(sym, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                      "0123456789.-_") != strlen(sym))
        {
            snprintf(err, errlen, "%s: deposit_tokens: \"%s\": SYMBOL is 1 "
                     "to 15 letters, digits, . - _", loc, sym);
            return AW_ERROR;
        }

        if (axon_address_parse(t->addr, addr, strlen(addr)) != AXON_OK) {
            snprintf(err, errlen, "%s: deposit_tokens: \"%s\": \"%s\" is not "
                     "an address", loc, sym, addr);
            return AW_ERROR;
        }

        if (dec < 0 || dec > 36 || price < 1 || price > INT32_MAX) {
            snprintf(err, errlen, "%s: deposit_tokens: \"%s\": DECIMALS is 0 "
                     "to 36, PRICE (credit minutes per whole token) 1 to %d",
                     loc, sym, INT32_MAX);
            return AW_ERROR;
        }

        for (i = 0; i < d->ntokens; i++) {
            if (strcmp(d->token[i].symbol, sym) == 0
                || memcmp(d->token[i].addr, t->addr, 20) == 0)
            {
                snprintf(err, errlen, "%s: deposit_tokens: \"%s\" is given "
                         "twice", loc, sym);
                return AW_ERROR;
            }
        }

        strcpy(t->symbol, sym);
        t->decimals = (int) dec;
        t->price = price;
        d->ntokens++;
    }

    what = "deposit_tier_token";
    p = conf->deposit_tier_token;

    if (*p == '\0') {
        return AW_OK;
    }

    n = 0;

    if (sscanf(p, "%63[^:]:%lld %n", addr, &dec, &n) != 2 || p[n] != '\0'
        || dec < 0 || dec > 36
        || axon_address_parse(d->tier_token, addr, strlen(addr)) != AXON_OK)
    {
        snprintf(err, errlen, "%s: deposit_tier_token \"%s\" is not "
                 "ADDRESS:DECIMALS (DECIMALS 0 to 36)",
                 aw_conf_location(conf, aw_conf_find(what), loc, sizeof(loc)),
                 p);
        return AW_ERROR;
    }

    d->tier_decimals = (int) dec;

    what = "deposit_tiers";
    aw_conf_location(conf, aw_conf_find(what), loc, sizeof(loc));

    for (p = conf->deposit_tiers; *p; p += len + (p[len] == ',')) {
        p += strspn(p, " \t");
        len = strcspn(p, ",");

        if (len == 0 && *p == '\0') {
            break;
        }

        snprintf(item, sizeof(item), "%.*s", (int) aw_min(len, 127), p);
        n = 0;

        if (len == 0 || len > 127
            || sscanf(item, "%lld:%lld %n", &min, &pct, &n) != 2
            || item[n] != '\0' || min < 0 || pct < 0 || pct > 99)
        {
            snprintf(err, errlen, "%s: deposit_tiers: \"%.64s\" is not "
                     "MIN:PERCENT (MIN whole tokens, PERCENT 0 to 99)", loc,
                     item);
            return AW_ERROR;
        }

        if (d->ntiers == AW_CONF_MAX_TIERS) {
            snprintf(err, errlen, "%s: deposit_tiers: at most %d tiers", loc,
                     AW_CONF_MAX_TIERS);
            return AW_ERROR;
        }

        if (d->ntiers && (uint64_t) min <= d->tier_min[d->ntiers - 1]) {
            snprintf(err, errlen, "%s: deposit_tiers: \"%s\": MIN must be "
                     "greater than the tier before", loc, item);
            return AW_ERROR;
        }

        d->tier_min[d->ntiers] = (uint64_t) min;
        d->tier_pct[d->ntiers] = (int) pct;
        d->ntiers++;
    }

    d->has_tier = 1;

    return AW_OK;
}


/*
 * gpu_hosts: NAME=INDEX,INDEX,... ...
 */

static int
aw_conf_gpu_hosts(aw_conf_t *conf, char *err, size_t errlen)
{
    int                  i, j, used;
    char                 loc[300], *end;
    long                 idx;
    size_t               len;
    const char          *p, *word;
    aw_conf_gpu_host_t  *h;

    aw_conf_location(conf, aw_conf_find("gpu_hosts"), loc, sizeof(loc));

    conf->nhosts = 0;
    p = conf->gpu_hosts;

    for ( ;; ) {
        p += strspn(p, " \t");

        if (*p == '\0') {
            break;
        }

        word = p;
        len = strcspn(p, "= \t");

        if (len == 0 || len > 64 || p[len] != '='
            || strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                      "0123456789._-") < len)
        {
            goto bad;
        }

        if (conf->nhosts == AW_CONF_MAX_HOSTS) {
            snprintf(err, errlen, "%s: gpu_hosts: at most %d hosts", loc,
                     AW_CONF_MAX_HOSTS);
            return AW_ERROR;
        }

        h = &conf->host[conf->nhosts];
        memcpy(h->name, p, len);
        h->name[len] = '\0';
        h->ngpus = 0;

        for (i = 0; i < conf->nhosts; i++) {
            if (strcmp(conf->host[i].name, h->name) == 0) {
                snprintf(err, errlen, "%s: gpu_hosts: host \"%s\" is given "
                         "twice", loc, h->name);
                return AW_ERROR;
            }
        }

        p += len + 1;

        for ( ;; ) {
            if (*p < '0' || *p > '9') {
                goto bad;
            }

            idx = strtol(p, &end, 10);
            used = (int) (end - p);

            if (idx > 1023 || used > 4) {
                goto bad;
            }

            for (j = 0; j < h->ngpus; j++) {
                if (h->gpus[j] == idx) {
                    snprintf(err, errlen, "%s: gpu_hosts: GPU %ld of host "
                             "\"%s\" is given twice", loc, idx, h->name);
                    return AW_ERROR;
                }
            }

            if (h->ngpus == AW_CONF_MAX_HOST_GPUS) {
                snprintf(err, errlen, "%s: gpu_hosts: at most %d GPUs per "
                         "host", loc, AW_CONF_MAX_HOST_GPUS);
                return AW_ERROR;
            }

            h->gpus[h->ngpus++] = (int) idx;
            p = end;

            if (*p != ',') {
                break;
            }

            p++;
        }

        if (*p != '\0' && *p != ' ' && *p != '\t') {
            goto bad;
        }

        conf->nhosts++;
    }

    return AW_OK;

bad:

    snprintf(err, errlen, "%s: gpu_hosts: \"%.*s\" is not NAME=INDEX,... "
             "(e.g. local=0,1,2,3)", loc,
             (int) aw_min(strcspn(word, " \t"), 64), word);

    return AW_ERROR;
}


const aw_conf_profile_t *
aw_conf_profile(const aw_conf_t *conf, const char *name)
{
    int  i;

    for (i = 0; i < conf->nprofiles; i++) {
        if (strcmp(conf->profile[i].name, name) == 0) {
            return &conf->profile[i];
        }
    }

    return NULL;
}


/*
 * Splits a line into words: blanks separate them; "..." may hold blanks
 * and the escapes \" \\ \n \r \t \xHH; '...' is taken as is but for \';
 * a word that starts with # begins a comment.
 */

static int
aw_conf_split(const char *line, char **argv, int *argc, char *err,
    size_t errlen)
{
    int          n, hex;
    char        *word, quote;
    size_t       len;
    const char  *p;

    *argc = 0;
    p = line;

    for ( ;; ) {
        while (*p == ' ' || *p == '\t') {
            p++;
        }

        if (*p == '\0' || *p == '#') {
            return AW_OK;
        }

        if (*argc == AW_CONF_MAX_ARGS) {
            snprintf(err, errlen, "too many words in line");
            goto failed;
        }

        word = malloc(strlen(p) + 1);
        if (word == NULL) {
            snprintf(err, errlen, "out of memory");
            goto failed;
        }

        argv[(*argc)++] = word;
        len = 0;

        if (*p != '"' && *p != '\'') {
            while (*p && *p != ' ' && *p != '\t') {
                word[len++] = *p++;
            }

            word[len] = '\0';
            continue;
        }

        quote = *p++;

        for ( ;; ) {
            if (*p == '\0') {
                snprintf(err, errlen, "unbalanced quotes");
                goto failed;
            }

            if (*p == quote) {
                p++;
                break;
            }

            if (*p != '\\' || p[1] == '\0') {
                word[len++] = *p++;
                continue;
            }

            if (quote == '\'') {
                if (p[1] == '\'') {
                    p++;
                }

                word[len++] = *p++;
                continue;
            }

            p++;

            switch (*p) {
            case 'n':  word[len++] = '\n'; p++; break;
            case 'r':  word[len++] = '\r'; p++; break;
            case 't':  word[len++] = '\t'; p++; break;

            case 'x':
                if (sscanf(p + 1, "%2x%n", &hex, &n) == 1 && n == 2) {
                    word[len++] = (char) hex;
                    p += 3;
                    break;
                }

                snprintf(err, errlen, "bad \\x escape in quotes");
                goto failed;

            default:
                word[len++] = *p++;
            }
        }

        word[len] = '\0';

        if (*p != '\0' && *p != ' ' && *p != '\t') {
            snprintf(err, errlen, "a closing quote must be followed by "
                     "a blank");
            goto failed;
        }

        if (memchr(word, '\0', len) != NULL) {
            snprintf(err, errlen, "NUL byte in quotes");
            goto failed;
        }
    }

failed:

    aw_conf_free_args(argv, *argc);
    *argc = 0;

    return AW_ERROR;
}


static void
aw_conf_free_args(char **argv, int argc)
{
    int  i;

    for (i = 0; i < argc; i++) {
        free(argv[i]);
    }
}


static const aw_conf_option_t *
aw_conf_find(const char *name)
{
    const aw_conf_option_t  *opt;

    for (opt = aw_conf_options; opt->name; opt++) {
        if (strcmp(opt->name, name) == 0) {
            return opt;
        }
    }

    return NULL;
}


/*
 * Parses value for opt into conf; on error err reads
 * "KEY: \"VALUE\" is ... (RANGE)".
 */

static int
aw_conf_set(aw_conf_t *conf, const aw_conf_option_t *opt, const char *value,
    char *err, size_t errlen)
{
    char                  *end, *copy, range[128];
    size_t                 len;
    int64_t                n;
    aw_msec_t              ms;
    const aw_conf_enum_t  *e;

    switch (opt->type) {

    case AW_CONF_STRING:
        len = strlen(value);

        if ((int64_t) len < opt->min || (opt->max && (int64_t) len > opt->max))
        {
            snprintf(err, errlen, "%s: \"%.64s\" must be %s characters long",
                     opt->name, value, aw_conf_range(opt, range,
                                                     sizeof(range)));
            return AW_ERROR;
        }

        copy = strdup(value);
        if (copy == NULL) {
            snprintf(err, errlen, "out of memory");
            return AW_ERROR;
        }

        free(*(char **) aw_conf_field(conf, opt));
        *(char **) aw_conf_field(conf, opt) = copy;

        return AW_OK;

    case AW_CONF_INT:
        errno = 0;
        n = strtoll(value, &end, 10);

        if (errno || end == value || *end != '\0') {
            snprintf(err, errlen, "%s: \"%.64s\" is not an integer (%s)",
                     opt->name, value, aw_conf_range(opt, range,
                                                     sizeof(range)));
            return AW_ERROR;
        }

        if (n < opt->min || n > opt->max) {
            snprintf(err, errlen, "%s: %.64s is out of range (%s)",
                     opt->name, value, aw_conf_range(opt, range,
                                                     sizeof(range)));
            return AW_ERROR;
        }

        *(int *) aw_conf_field(conf, opt) = (int) n;

        return AW_OK;

    case AW_CONF_MSEC:
        if (aw_conf_parse_msec(value, &ms) != AW_OK) {
            snprintf(err, errlen, "%s: \"%.64s\" is not a duration "
                     "(a number and a unit: ms, s, m or h, as in 500ms, 2s, "
                     "1m30s; %s)", opt->name, value,
                     aw_conf_range(opt, range, sizeof(range)));
            return AW_ERROR;
        }

        if (ms < opt->min || ms > opt->max) {
            snprintf(err, errlen, "%s: %.64s is out of range (%s)",
                     opt->name, value, aw_conf_range(opt, range,
                                                     sizeof(range)));
            return AW_ERROR;
        }

        *(aw_msec_t *) aw_conf_field(conf, opt) = ms;

        return AW_OK;

    case AW_CONF_BOOL:
        if (strcasecmp(value, "yes") == 0 || strcasecmp(value, "on") == 0
            || strcasecmp(value, "true") == 0)
        {
            *(int *) aw_conf_field(conf, opt) = 1;
            return AW_OK;
        }

        if (strcasecmp(value, "no") == 0 || strcasecmp(value, "off") == 0
            || strcasecmp(value, "false") == 0)
        {
            *(int *) aw_conf_field(conf, opt) = 0;
            return AW_OK;
        }

        snprintf(err, errlen, "%s: \"%.64s\" is not yes/no, on/off or "
                 "true/false", opt->name, value);
        return AW_ERROR;

    case AW_CONF_ENUM:
        for (e = opt->values; e->name; e++) {
            if (strcmp(e->name, value) == 0) {
                *(int *) aw_conf_field(conf, opt) = e->value;
                return AW_OK;
            }
        }

        snprintf(err, errlen, "%s: \"%.64s\" is not one of %s",
                 opt->name, value, aw_conf_range(opt, range, sizeof(range)));
        return AW_ERROR;
    }

    snprintf(err, errlen, "%s: unknown type", opt->name);

    return AW_ERROR;
}


/*
 * "0", or numbers each followed by a unit: "500ms", "2s", "1m30s", "1h".
 */

static int
aw_conf_parse_msec(const char *s, aw_msec_t *ms)
{
    int64_t      n, unit, total;
    const char  *p;

    if (strcmp(s, "0") == 0) {
        *ms = 0;
        return AW_OK;
    }

    p = s;
    total = 0;

    do {
        if (*p < '0' || *p > '9') {
            return AW_ERROR;
        }

        n = 0;

        while (*p >= '0' && *p <= '9') {
            if (n > (INT64_MAX - 9) / 10) {
                return AW_ERROR;
            }

            n = n * 10 + (*p++ - '0');
        }

        if (p[0] == 'm' && p[1] == 's') {
            unit = 1;
            p += 2;

        } else if (*p == 's') {
            unit = 1000;
            p++;

        } else if (*p == 'm') {
            unit = 60 * 1000;
            p++;

        } else if (*p == 'h') {
            unit = 60 * 60 * 1000;
            p++;

        } else {
            return AW_ERROR;
        }

        if (n > (INT64_MAX - total) / unit) {
            return AW_ERROR;
        }

        total += n * unit;

    } while (*p);

    *ms = total;

    return AW_OK;
}


const char *
aw_conf_format_msec(char *buf, size_t size, aw_msec_t ms)
{
    if (ms == 0) {
        snprintf(buf, size, "0");

    } else if (ms % (60 * 60 * 1000) == 0) {
        snprintf(buf, size, "%lldh", (long long) (ms / (60 * 60 * 1000)));

    } else if (ms % (60 * 1000) == 0) {
        snprintf(buf, size, "%lldm", (long long) (ms / (60 * 1000)));

    } else if (ms % 1000 == 0) {
        snprintf(buf, size, "%llds", (long long) (ms / 1000));

    } else {
        snprintf(buf, size, "%lldms", (long long) ms);
    }

    return buf;
}


static const char *
aw_conf_range(const aw_conf_option_t *opt, char *buf, size_t size)
{
    char                   a[32], b[32];
    size_t                 len;
    const aw_conf_enum_t  *e;

    switch (opt->type) {

    case AW_CONF_INT:
        snprintf(buf, size, "%lld .. %lld",
                 (long long) opt->min, (long long) opt->max);
        break;

    case AW_CONF_MSEC:
        snprintf(buf, size, "%s .. %s",
                 aw_conf_format_msec(a, sizeof(a), opt->min),
                 aw_conf_format_msec(b, sizeof(b), opt->max));
        break;

    case AW_CONF_STRING:
        if (opt->max) {
            snprintf(buf, size, "%lld .. %lld",
                     (long long) opt->min, (long long) opt->max);
        } else {
            snprintf(buf, size, "at least %lld", (long long) opt->min);
        }
        break;

    case AW_CONF_BOOL:
        snprintf(buf, size, "yes or no");
        break;

    case AW_CONF_ENUM:
        buf[0] = '\0';
        len = 0;

        for (e = opt->values; e->name && len < size; e++) {
            len += snprintf(buf + len, size - len, "%s%s",
                            e == opt->values ? "" :
                                (e[1].name ? ", " : " or "), e->name);
        }
        break;
    }

    return buf;
}


/*
 * The value of opt in conf as it would be written in the file.
 */

static const char *
aw_conf_value(const aw_conf_t *conf, const aw_conf_option_t *opt, char *buf,
    size_t size)
{
    char                   conninfo[1024];
    const char            *s;
    const aw_conf_enum_t  *e;

    switch (opt->type) {

    case AW_CONF_STRING:
        s = *(char **) aw_conf_field(conf, opt);

        if ((opt->flags & AW_CONF_SECRET) && s[0]) {
            s = "********";
        }

        if (opt->flags & AW_CONF_CONNINFO) {
            aw_conf_hide_password(s, conninfo, sizeof(conninfo));
            s = conninfo;
        }

        aw_conf_quote(s, buf, size);
        break;

    case AW_CONF_INT:
        snprintf(buf, size, "%d", *(int *) aw_conf_field(conf, opt));
        break;

    case AW_CONF_MSEC:
        aw_conf_format_msec(buf, size,
                            *(aw_msec_t *) aw_conf_field(conf, opt));
        break;

    case AW_CONF_BOOL:
        snprintf(buf, size, "%s",
                 *(int *) aw_conf_field(conf, opt) ? "yes" : "no");
        break;

    case AW_CONF_ENUM:
        snprintf(buf, size, "?");

        for (e = opt->values; e->name; e++) {
            if (e->value == *(int *) aw_conf_field(conf, opt)) {
                snprintf(buf, size, "%s", e->name);
                break;
            }
        }
        break;
    }

    return buf;
}


static void
aw_conf_quote(const char *s, char *buf, size_t size)
{
    size_t  len;

    aw_assert(size > 8);

    len = 0;
    buf[len++] = '"';

    for ( /* void */ ; *s && len < size - 6; s++) {
        switch (*s) {
        case '"':   len += sprintf(buf + len, "\\\""); break;
        case '\\':  len += sprintf(buf + len, "\\\\"); break;
        case '\n':  len += sprintf(buf + len, "\\n"); break;
        case '\r':  len += sprintf(buf + len, "\\r"); break;
        case '\t':  len += sprintf(buf + len, "\\t"); break;

        default:
            if ((unsigned char) *s < 0x20 || *s == 0x7f) {
                len += sprintf(buf + len, "\\x%02x", (unsigned char) *s);
            } else {
                buf[len++] = *s;
            }
        }
    }

    buf[len++] = '"';
    buf[len] = '\0';
}


/*
 * A libpq conninfo with its passwords replaced by ********: the value of
 * password= (as a keyword, or in the query of a URI), and the password of
 * a postgresql://user:password@host URI.
 */

static void
aw_conf_hide_password(const char *s, char *buf, size_t size)
{
    char         tmp[1024];
    size_t       len;
    const char  *p, *at, *colon, *end;

    p = strstr(s, "://");

    if (p) {
        p += 3;
        at = p + strcspn(p, "/@?");
        colon = memchr(p, ':', at - p);

        if (*at == '@' && colon) {
            snprintf(tmp, sizeof(tmp), "%.*s********%s",
                     (int) (colon + 1 - s), s, at);
            s = tmp;
        }
    }

    len = 0;

    for (p = s; *p && len < size - 1; /* void */ ) {

        if (strncmp(p, "password", 8) == 0
            && (p == s || strchr(" \t?&", p[-1]) != NULL))
        {
            end = p + 8 + strspn(p + 8, " \t");

            if (*end == '=') {
                end++;
                end += strspn(end, " \t");

                if (*end == '\'') {
                    for (end++; *end && *end != '\''; end++) {
                        if (*end == '\\' && end[1]) {
                            end++;
                        }
                    }

                    if (*end) {
                        end++;
                    }

                } else {
                    end += strcspn(end, " \t&");
                }

                len += snprintf(buf + len, size - len, "password=********");
                len = aw_min(len, size - 1);
                p = end;
                continue;
            }
        }

        buf[len++] = *p++;
    }

    buf[len] = '\0';
}


static const char *
aw_conf_location(const aw_conf_t *conf, const aw_conf_option_t *opt,
    char *buf, size_t size)
{
    unsigned  line;

    line = conf->line[opt - aw_conf_options];

    if (line == 0) {
        snprintf(buf, size, "default");
    } else {
        snprintf(buf, size, "%.255s:%u", conf->path, line);
    }

    return buf;
}


/*
 * Logs each key whose value differs between old and conf, and returns the
 * flags of those keys (what the change requires: AW_CONF_PG, ...).
 */

unsigned
aw_conf_changes(const aw_conf_t *old, const aw_conf_t *conf)
{
    char                     a[512], b[512];
    unsigned                 flags;
    const aw_conf_option_t  *opt;

    flags = 0;

    for (opt = aw_conf_options; opt->name; opt++) {

        if (opt->type == AW_CONF_STRING) {
            if (strcmp(*(char **) aw_conf_field(old, opt),
                       *(char **) aw_conf_field(conf, opt)) == 0)
            {
                continue;
            }

        } else if (opt->type == AW_CONF_MSEC) {
            if (*(aw_msec_t *) aw_conf_field(old, opt)
                == *(aw_msec_t *) aw_conf_field(conf, opt))
            {
                continue;
            }

        } else if (*(int *) aw_conf_field(old, opt)
                   == *(int *) aw_conf_field(conf, opt))
        {
            continue;
        }

        if (opt->flags & AW_CONF_SECRET) {
            aw_log(AW_LOG_NOTICE, "config: %s changed", opt->name);

        } else {
            aw_log(AW_LOG_NOTICE, "config: %s changed from %s to %s",
                   opt->name, aw_conf_value(old, opt, a, sizeof(a)),
                   aw_conf_value(conf, opt, b, sizeof(b)));
        }

        flags |= opt->flags;
    }

    return flags;
}


/*
 * --print-config: every key with its effective value and where it came
 * from; the output is itself a valid configuration file.
 */

void
aw_conf_print(FILE *f, const aw_conf_t *conf)
{
    char                     value[1024], loc[300];
    const aw_conf_option_t  *opt;

    fprintf(f, "# axon-worker %s: effective configuration (%s%s)\n",
            AXON_VERSION, conf->path ? "file " : "no file, defaults only",
            conf->path ? conf->path : "");

    for (opt = aw_conf_options; opt->name; opt++) {
        aw_conf_value(conf, opt, value, sizeof(value));
        aw_conf_location(conf, opt, loc, sizeof(loc));

        if (strcmp(opt->name, "worker_id") == 0 && strcmp(loc, "default") == 0)
        {
            snprintf(loc, sizeof(loc), "default (hostname:pid)");
        }

        if (strcmp(opt->name, "queue_consumer") == 0
            && strcmp(loc, "default") == 0)
        {
            snprintf(loc, sizeof(loc), "default (worker_id)");
        }

        fprintf(f, "%-25s %-48s # %s\n", opt->name, value, loc);
    }
}


/*
 * --sample-config: conf/axon-worker.conf, every key commented out with its
 * default and its help.
 */

void
aw_conf_print_sample(FILE *f)
{
    char                     value[1024], range[128], help[1024];
    const aw_conf_option_t  *opt;

    fprintf(f,
"# axon-worker configuration.\n"
"#\n"
"# Generated by `axon-worker --sample-config` from the table in\n"
"# axon-worker/config.c: every key, commented out, with its default.\n"
"#\n"
"# One `key value` per line; # starts a comment.  Quote a value that holds\n"
"# blanks: \"...\" (escapes \\\" \\\\ \\n \\t \\xHH) or '...'.\n"
"# Durations take a unit: ms, s, m or h (500ms, 2s, 1m30s).  Each key may\n"
"# appear once; an unknown key or a bad value stops the worker (exit 78).\n"
"#\n"
"# kill -HUP re-reads this file (a bad file is logged and the old\n"
"# configuration kept) and reopens log_file.  `axon-worker -c FILE -t`\n"
"# checks it, `--print-config` shows the effective values.\n");

    for (opt = aw_conf_options; opt->name; opt++) {
        value[0] = '\0';

        switch (opt->type) {
        case AW_CONF_STRING:
            aw_conf_quote(opt->def, value, sizeof(value));
            break;

        default:
            snprintf(value, sizeof(value), "%s", opt->def);
        }

        snprintf(help, sizeof(help), "%s", opt->help);

        if (opt->flags & (AW_CONF_PG|AW_CONF_REDIS)) {
            snprintf(help + strlen(help), sizeof(help) - strlen(help),
                     "  A change on reload reconnects%s%s%s.",
                     (opt->flags & AW_CONF_PG) ? " to PostgreSQL" : "",
                     (opt->flags & AW_CONF_PG) && (opt->flags & AW_CONF_REDIS)
                         ? " and" : "",
                     (opt->flags & AW_CONF_REDIS) ? " to Redis" : "");
        }

        if (opt->flags & AW_CONF_ETH) {
            snprintf(help + strlen(help), sizeof(help) - strlen(help),
                     "  A change on reload starts the RPC client over.");
        }

        fprintf(f, "\n");
        aw_conf_print_help(f, help);

        if (opt->type == AW_CONF_INT || opt->type == AW_CONF_MSEC) {
            fprintf(f, "# Range: %s.\n",
                    aw_conf_range(opt, range, sizeof(range)));
        }

        fprintf(f, "#\n# %s %s\n", opt->name, value);
    }
}


static void
aw_conf_print_help(FILE *f, const char *text)
{
    int          space;
    size_t       len, col;
    const char  *p, *word;

    col = 0;
    p = text;

    while (*p) {
        while (*p == ' ') {
            p++;
        }

        word = p;

        while (*p && *p != ' ') {
            p++;
        }

        len = p - word;

        if (len == 0) {
            break;
        }

        /* two spaces after a sentence, as in the rest of the tree */
        space = (col > 1 && word[-1] == ' ' && word[-2] == ' ');

        if (col == 0) {
            fprintf(f, "#");
            col = 1;

        } else if (col + space + 1 + len > 76) {
            fprintf(f, "\n#");
            col = 1;
            space = 0;
        }

        fprintf(f, " %s%.*s", space ? " " : "", (int) len, word);
        col += space + 1 + len;
    }

    if (col) {
        fprintf(f, "\n");
    }
}
