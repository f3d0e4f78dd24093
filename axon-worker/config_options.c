/*
 * axon-worker: the configuration's keys: name, type, default, bounds and
 * help of each, in one table that the parser, the checks and the printers
 * (--print-config, --sample-config) all read.
 *
 * To add a key: a field in aw_conf_t, a row here.
 */


#include <stddef.h>

#include "config.h"
#include "gpu_activity.h"
#include "launcher.h"
#include "log.h"


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


static const aw_conf_enum_t  aw_conf_gpu_activity[] = {
    { "auto",       AW_GPU_ACTIVITY_AUTO },
    { "nvml",       AW_GPU_ACTIVITY_NVML },
    { "nvidia-smi", AW_GPU_ACTIVITY_SMI },
    { "off",        AW_GPU_ACTIVITY_OFF },
    { NULL, 0 }
};


static const aw_conf_enum_t  aw_conf_launchers[] = {
    { "docker", AW_LAUNCHER_DOCKER },
    { "engine", AW_LAUNCHER_ENGINE },
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
      "Ethereum JSON-RPC endpoints (http:// or https://), a list, at "
      "most 8: the first is used until it fails (connect error, "
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

    { "metrics_listen", AW_CONF_STRING, "", 0, 255, NULL,
      offsetof(aw_conf_t, metrics_listen), 0,
      "HOST:PORT where the worker serves Prometheus metrics (GET "
      "/metrics, docs/metrics.md), such as 127.0.0.1:9187; the x402 "
      "process serves its own at PORT + 1.  No authentication: keep it "
      "on the local machine or a private network.  Empty: off." },

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
      "a docker-compatible command line (docker or podman) on this host; "
      "engine, through the Docker Engine HTTP API at launcher_engine "
      "(dockerd, or `podman system service`)." },

    { "launcher_engine", AW_CONF_STRING, "unix:///var/run/docker.sock",
      1, 1024, NULL,
      offsetof(aw_conf_t, launcher_engine), 0,
      "The engine of launcher engine: unix:///PATH (a socket on this "
      "host) or https://HOST:PORT (docker's --tlsverify: the engine's "
      "certificate is checked against launcher_tls_ca, the worker's "
      "own is launcher_tls_cert with launcher_tls_key).  Every call "
      "takes at most launcher_timeout (a stop: plus launcher_stop_grace). "
      "The images must be on that host already: the engine never pulls "
      "them." },

    { "launcher_tls_ca", AW_CONF_STRING, "", 0, 4095, NULL,
      offsetof(aw_conf_t, launcher_tls_ca), 0,
      "For an https:// engine: the CA certificate (PEM) the engine's "
      "certificate is checked against; needed with https." },

    { "launcher_tls_cert", AW_CONF_STRING, "", 0, 4095, NULL,
      offsetof(aw_conf_t, launcher_tls_cert), 0,
      "For an https:// engine: the worker's client certificate (PEM); "
      "needed with https." },

    { "launcher_tls_key", AW_CONF_STRING, "", 0, 4095, NULL,
      offsetof(aw_conf_t, launcher_tls_key), 0,
      "For an https:// engine: the key of launcher_tls_cert (PEM, not "
      "encrypted); needed with https." },

    { "launcher_gpu_driver", AW_CONF_STRING, "nvidia", 0, 64, NULL,
      offsetof(aw_conf_t, launcher_gpu_driver), 0,
      "launcher engine: the driver of the DeviceRequests that give a "
      "container its GPUs (the session's indexes as DeviceIDs, "
      "capability gpu); empty: none (hosts without GPUs).  AXON_GPUS in "
      "the container's environment lists them either way." },

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

    { "launcher_gpu_args", AW_CONF_STRING,
      "--gpus \"device={gpus}\" -e NVIDIA_VISIBLE_DEVICES={gpus} "
      "-e NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics",
      0, 1024, NULL,
      offsetof(aw_conf_t, launcher_gpu_args), 0,
      "Arguments that give a container its GPUs, split at blanks, with "
      "{gpus} replaced by the session's GPUs as gpu_hosts names them "
      "(0,2, or UUIDs).  Left out for a session without GPUs; empty: "
      "never (hosts without GPUs).  The double quotes are docker's own "
      "syntax for a device list with a comma, passed as they are.  The "
      "NVIDIA container toolkit's variables say which GPUs and which of "
      "the host driver's parts come in: compute (CUDA, OpenCL), utility "
      "(nvidia-smi, NVML), graphics (OpenGL, EGL, Vulkan).  podman with "
      "CDI: --device nvidia.com/gpu={gpus} instead of --gpus." },

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
      "The accepted ERC-20 tokens, a list of "
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
      "Blocks of the indexer's first eth_getLogs call: the range doubles "
      "while logs are few and the node reads more blocks faster (up to "
      "100000) and halves on many, or at once on a call the node refuses "
      "(providers limit it)." },

    { "deposit_start_block", AW_CONF_INT, "0", 0, INT32_MAX, NULL,
      offsetof(aw_conf_t, deposit_start_block), 0,
      "Where the indexer starts on a chain it has no cursor for." },

    { "deposit_tier_token", AW_CONF_STRING, "", 0, 64, NULL,
      offsetof(aw_conf_t, deposit_tier_token), 0,
      "The token whose balance gives the discount tier, ADDRESS:DECIMALS; "
      "empty: no tiers." },

    { "deposit_tiers", AW_CONF_STRING, "100:5,1000:10,10000:15,100000:25",
      0, 1023, NULL, offsetof(aw_conf_t, deposit_tiers), 0,
      "Discount tiers, a list of MIN:PERCENT, MIN in whole tier "
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
      offsetof(aw_conf_t, launcher_prefix), AW_CONF_START,
      "Session containers are named PREFIX + session id; the reconcile "
      "sweep only touches containers named so (two deployments, or test "
      "stacks, on one container host use different prefixes).  Read at "
      "start only: a reload keeps the prefix the running sessions' "
      "containers have." },

    { "home_keep", AW_CONF_MSEC, "7d", 0, 3650 * 24 * (int64_t) H, NULL,
      offsetof(aw_conf_t, home_keep), 0,
      "Each wallet's home directory is a named volume of the container "
      "runtime, PREFIX + home- + the wallet's address (launcher_prefix's "
      "trailing session- dropped: axgt-home-0x...), mounted at home_path "
      "in every session of the wallet, desktop and SSH alike.  It is kept "
      "for home_keep after the end of the wallet's last session: a sweep "
      "every home_keep / 4 (at least reconcile_interval, at most 1h) "
      "removes it later (never while the wallet has a session that is "
      "not ended); home.delete removes one now.  0: no "
      "home volumes: sessions start with the image's home, and the sweep "
      "removes the volumes of wallets without a live session." },

    { "home_path", AW_CONF_STRING, "/home/aXonian", 2, 255, NULL,
      offsetof(aw_conf_t, home_path), 0,
      "Where the home volume is mounted in a session's container: the "
      "home of the images' user (uid 1000), the same path in the desktop, "
      "SSH and test images.  An empty volume gets that directory's "
      "content and owner from the image at its first mount." },

    { "home_size", AW_CONF_STRING, "", 0, 32, NULL,
      offsetof(aw_conf_t, home_size), 0,
      "A size limit of each home volume, a number and a unit (k, m, g, "
      "t: 20g), set when the volume is created (`volume create --opt "
      "o=size=20g`).  podman supports it where its volumes' directory "
      "is on XFS mounted with project quotas (prjquota); elsewhere (ext4, "
      "overlay, docker's local driver) the runtime refuses it and every "
      "launch fails, saying so.  Empty: no limit." },

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
      offsetof(aw_conf_t, sessions), AW_CONF_START,
      "Whether this worker runs GPU sessions: the session job kinds, the "
      "scheduler, billing and the reconcile sweep.  off: session jobs are "
      "refused (dead-lettered) and axon:profiles is not written.  Read at "
      "start only: a reload keeps it (turned off, the running sessions "
      "would go unbilled and their release be refused)." },

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
      "The session profiles, a list of NAME:GPUS:PRICE: NAME "
      "of 1 to 32 of a-z 0-9 _ -, GPUS 1 to 16, PRICE in credit minutes "
      "per GPU-minute (1 to 10000).  A minute of a session costs GPUS x "
      "PRICE credit minutes." },

    { "gpu_hosts", AW_CONF_STRING, "local=0,1,2,3,4,5,6,7", 0, 4095, NULL,
      offsetof(aw_conf_t, gpu_hosts), 0,
      "The GPU pool, NAME=INDEX,INDEX,...[@ENGINE] or "
      "NAME=UUID,UUID,...[@ENGINE] per host, the hosts separated by blanks "
      "(local=0,1,2,3 gpu2=0,1@https://gpu2:2376 gpu3=GPU-366db770-...,"
      "GPU-...).  UUIDs (GPU-..., MIG-...; nvidia-smi -L) name the same "
      "device after a reboot or a driver update, where indexes may not; "
      "a host's GPUs are all indexes or all UUIDs, and a host of UUIDs "
      "records their positions (0, 1, ...) as gpu_assignments.gpu_index "
      "and gives the container the UUIDs.  "
      "A session's GPUs are all on one host, and the session is bound to "
      "it (NAME is what sessions.host and gpu_assignments.host record): "
      "it is launched, stopped and reconciled there, only by workers that "
      "list the host.  @ENGINE (unix:///PATH or https://HOST:PORT, as "
      "launcher_engine) starts the host's containers through its Docker "
      "Engine API; without it, through the launcher key's backend.  Several "
      "workers may list one host.  Empty: no GPUs, every claim waits." },

    { "gpu_host_addrs", AW_CONF_STRING, "", 0, 4095, NULL,
      offsetof(aw_conf_t, gpu_host_addrs), 0,
      "Per host of gpu_hosts, NAME=ADDR separated by blanks (gpu2=10.0.0.12): "
      "the address its sessions' ports are published on, on that host, "
      "and reached at, by the worker's wait, the gate and SSH clients "
      "(ssh_host of its SSH sessions).  A host not listed: "
      "launcher_publish_addr, and ssh_host for SSH clients." },

    { "gpu_host_ports", AW_CONF_STRING, "", 0, 4095, NULL,
      offsetof(aw_conf_t, gpu_host_ports), 0,
      "Per host of gpu_hosts, NAME=START:SIZE separated by blanks "
      "(gpu2=43000:500): the host's own port pool.  A host not listed: "
      "port_pool_start and port_pool_size." },

    { "billing_minute", AW_CONF_MSEC, "1m", 1 * S, 1 * H, NULL,
      offsetof(aw_conf_t, billing_minute), AW_CONF_START,
      "The length of a billed minute.  1m in production; tests shorten "
      "it.  Minute K of a session is charged when it begins.  Read at "
      "start only: a reload keeps it (changed, the minutes running "
      "sessions were billed would be counted in the new length: time "
      "paid charged again, or time left unbilled)." },

    { "billing_tick", AW_CONF_MSEC, "10s", 100, 1 * H, NULL,
      offsetof(aw_conf_t, billing_tick), 0,
      "How often the billing tick charges the minutes that have begun, "
      "checks idle sessions and ends those past their grace; at most "
      "billing_minute." },

    { "session_idle_timeout", AW_CONF_MSEC, "30m", 0, 7 * 24 * (int64_t) H,
      NULL, offsetof(aw_conf_t, session_idle_timeout), 0,
      "A running session without a heartbeat (POST /api/session/"
      "heartbeat) for this long is stopped (end_reason idle); 0: never." },

    { "gpu_activity", AW_CONF_ENUM, "auto", 0, 0, aw_conf_gpu_activity,
      offsetof(aw_conf_t, gpu_activity), 0,
      "Whether a desktop's busy GPUs count as activity for "
      "session_idle_timeout, and how they are read: nvml (NVML of this "
      "host, libnvidia-ml.so.1 loaded at run time), nvidia-smi (`nvidia-smi "
      "--query-gpu` in the session's container, through the launcher), "
      "auto (nvml where it loads, else nvidia-smi), off.  A desktop without "
      "heartbeat or traffic for half the idle timeout is read at most once "
      "per half of it; a busy reading counts as activity then." },

    { "gpu_busy_threshold", AW_CONF_INT, "10", 1, 100, NULL,
      offsetof(aw_conf_t, gpu_busy_threshold), 0,
      "utilization.gpu (%) from which one of a session's GPUs reads "
      "busy." },

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
