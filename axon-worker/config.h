/*
 * axon-worker: the configuration, one table (config.c) of every key with
 * its type, default, bounds and help.  The same table parses the file,
 * checks the values, prints the effective configuration and the sample
 * conf/axon-worker.conf, and tells a reload what changed.
 *
 * To add a key: a field in aw_conf_t, a row in aw_conf_options[].
 */

#ifndef AW_CONFIG_H
#define AW_CONFIG_H


#include <stdio.h>

#include "core.h"


#define AW_CONF_MAX_OPTIONS  128


typedef enum {
    AW_CONF_STRING,     /* char *; min/max bound the length, max 0: none */
    AW_CONF_INT,        /* int */
    AW_CONF_MSEC,       /* aw_msec_t; "500ms", "2s", "1m", "1h", "7d",
                           "1m30s" */
    AW_CONF_BOOL,       /* int; yes/no, on/off, true/false */
    AW_CONF_ENUM        /* int: the value of the matching aw_conf_enum_t */
} aw_conf_type_e;


/* what a change on reload requires */
#define AW_CONF_PG        0x01  /* reconnect to PostgreSQL */
#define AW_CONF_REDIS     0x02  /* reconnect to Redis */
#define AW_CONF_SECRET    0x04  /* printed as "********" */
#define AW_CONF_CONNINFO  0x08  /* printed with its password hidden */
#define AW_CONF_ETH       0x10  /* reconfigure the Ethereum RPC client */
#define AW_CONF_START     0x20  /* read at start only: a reload keeps the
                                   value in force, and says so */


#define AW_CONF_MAX_TOKENS     8
#define AW_CONF_MAX_TIERS      8


typedef struct {
    char                 symbol[16];
    uint8_t              addr[20];
    int                  decimals;
    int64_t              price;             /* minutes per whole token */
} aw_conf_token_t;


typedef struct {
    unsigned             enabled:1;         /* a revenue wallet is set */
    unsigned             has_tier:1;
    uint8_t              revenue[20];
    int                  ntokens;
    aw_conf_token_t      token[AW_CONF_MAX_TOKENS];
    uint8_t              tier_token[20];
    int                  tier_decimals;
    int                  ntiers;
    uint64_t             tier_min[AW_CONF_MAX_TIERS];   /* whole tokens */
    int                  tier_pct[AW_CONF_MAX_TIERS];
} aw_conf_deposits_t;


typedef struct {
    const char   *name;
    int           value;
} aw_conf_enum_t;


#define AW_X402_NONE         0
#define AW_X402_FACILITATOR  1
#define AW_X402_SELF         2


typedef struct {
    const char             *name;
    aw_conf_type_e          type;
    const char             *def;        /* parsed like a value in the file */
    int64_t                 min;
    int64_t                 max;
    const aw_conf_enum_t   *values;     /* AW_CONF_ENUM, ends with NULL */
    size_t                  offset;     /* into aw_conf_t */
    unsigned                flags;
    const char             *help;
} aw_conf_option_t;


#define AW_CONF_MAX_PROFILES   16
#define AW_CONF_MAX_HOSTS      16
#define AW_CONF_MAX_HOST_GPUS  64


/* a profile of the profiles key: NAME:GPUS:PRICE */
typedef struct {
    char          name[33];
    int           gpus;
    int           price;        /* credit minutes per GPU-minute */
} aw_conf_profile_t;


#define AW_CONF_GPU_UUID_LEN   64


/*
 * a host of the gpu_hosts key: NAME=INDEX,INDEX...[@ENDPOINT] or
 * NAME=UUID,UUID...[@ENDPOINT] (GPU-..., MIG-...: the runtime's and NVML's
 * names, stable where indexes are not).  A host of UUIDs has slots 0, 1,
 * ... in their order, which is what gpu_assignments.gpu_index records;
 * uuid[slot] is the device.
 */
typedef struct {
    char          name[65];
    int           ngpus;
    int           gpus[AW_CONF_MAX_HOST_GPUS];
    char          endpoint[512];    /* its engine; "": the launcher key's */
    char          addr[65];         /* gpu_host_addrs; "": the keys' */
    int           port_start;       /* gpu_host_ports, or port_pool_* */
    int           port_size;
    unsigned      uuids:1;
    char          uuid[AW_CONF_MAX_HOST_GPUS][AW_CONF_GPU_UUID_LEN];
} aw_conf_gpu_host_t;


typedef struct {
    char         *postgres;
    aw_msec_t     postgres_connect_timeout;
    aw_msec_t     postgres_query_timeout;

    char         *redis_host;
    int           redis_port;
    char         *redis_password;
    aw_msec_t     redis_timeout;

    aw_msec_t     heartbeat_interval;
    aw_msec_t     heartbeat_ttl;
    aw_msec_t     reconnect_min;
    aw_msec_t     reconnect_max;

    char         *eth_rpc_url;
    aw_msec_t     eth_rpc_timeout;
    int           eth_chain_id;
    int           eth_rpc_batch_max;

    int           log_level;
    char         *log_file;
    char         *pid_file;
    char         *worker_id;

    char         *metrics_listen;

    char         *queue_group;
    char         *queue_consumer;
    int           queue_batch;
    aw_msec_t     queue_block;
    int           job_max_attempts;
    aw_msec_t     job_retry_min;
    aw_msec_t     job_retry_max;
    aw_msec_t     job_claim_idle;
    aw_msec_t     job_state_ttl;
    int           launcher;                 /* AW_LAUNCHER_* */
    char         *launcher_docker;
    char         *launcher_engine;
    char         *launcher_tls_ca;
    char         *launcher_tls_cert;
    char         *launcher_tls_key;
    char         *launcher_gpu_driver;
    char         *containers_conf;
    char         *launcher_image;
    int           launcher_port;
    char         *launcher_ssh_image;
    int           launcher_ssh_port;
    char         *launcher_network;
    char         *launcher_gpu_args;
    char         *launcher_args;
    char         *launcher_publish_addr;
    char         *ssh_host;
    aw_msec_t     launcher_timeout;
    aw_msec_t     launcher_ready_timeout;
    aw_msec_t     launcher_stop_grace;
    char         *launcher_prefix;
    aw_msec_t     home_keep;
    char         *home_path;
    char         *home_size;
    int           port_pool_start;
    int           port_pool_size;

    int           sessions;
    int           ssh_sessions;
    char         *profiles;
    char         *gpu_hosts;
    char         *gpu_host_addrs;
    char         *gpu_host_ports;
    aw_msec_t     billing_minute;
    aw_msec_t     billing_tick;
    aw_msec_t     session_idle_timeout;
    int           gpu_activity;       /* AW_GPU_ACTIVITY_* */
    int           gpu_busy_threshold; /* utilization.gpu, % */
    aw_msec_t     session_grace;
    aw_msec_t     queue_reserve_after;
    aw_msec_t     reconcile_interval;
    char         *session_connect_path;

    /* parsed from profiles and gpu_hosts */
    int                  nprofiles;
    aw_conf_profile_t    profile[AW_CONF_MAX_PROFILES];
    int                  nhosts;
    aw_conf_gpu_host_t   host[AW_CONF_MAX_HOSTS];

    char         *deposit_revenue_wallet;
    char         *deposit_tokens;
    int           deposit_eth_price;
    int           deposit_confirmations;
    aw_msec_t     deposit_poll_interval;
    int           deposit_index_range;
    int           deposit_start_block;
    char         *deposit_tier_token;
    char         *deposit_tiers;

    /* parsed from the deposit_* keys */
    aw_conf_deposits_t   deposit;

    int           x402_settle;              /* AW_X402_* */
    char         *x402_facilitator_url;
    aw_msec_t     x402_facilitator_timeout;
    char         *x402_gas_key_file;
    aw_msec_t     x402_receipt_wait;

    /* read from x402_gas_key_file; wiped by aw_conf_free() */
    uint8_t       x402_gas_key[32];

    /* where each value came from */
    char         *path;                         /* NULL: defaults only */
    unsigned      line[AW_CONF_MAX_OPTIONS];    /* 0: the default */
} aw_conf_t;


extern const aw_conf_option_t  aw_conf_options[];


aw_conf_t *aw_conf_load(const char *path, char *err, size_t errlen);
void aw_conf_free(aw_conf_t *conf);
unsigned aw_conf_changes(const aw_conf_t *old, aw_conf_t *conf);
void aw_conf_print(FILE *f, const aw_conf_t *conf);
void aw_conf_print_sample(FILE *f);
const char *aw_conf_format_msec(char *buf, size_t size, aw_msec_t ms);
/*
 * The devices of a session's GPUs on host, slots as gpu_assignments has
 * them ("0,2"): a host of UUIDs' UUIDs, else the indexes as they are.
 * AW_ERROR when a slot is not the host's, or buf is too small.
 */
int aw_conf_gpu_names(const aw_conf_t *conf, const char *host,
    const char *slots, char *buf, size_t size);
const aw_conf_profile_t *aw_conf_profile(const aw_conf_t *conf,
    const char *name);


/*
 * The one list syntax of the configuration (profiles, eth_rpc_url,
 * deposit_tokens, deposit_tiers, gpu_hosts): items separated by commas or
 * blanks or both ("a,b", "a b", "a, b"), an item's fields by ':'.  Two
 * commas in a row leave an empty item, which each list refuses.  gpu_hosts'
 * items hold commas themselves (NAME=INDEX,INDEX), so blanks_only: blanks
 * alone separate them.  Returns 0 at the end, else 1 with the next item in
 * *item and *len (not NUL-terminated); *p moves past it.
 */
int aw_conf_list_next(const char **p, int blanks_only, const char **item,
    size_t *len);


/* shared by the configuration's files: config.c, config_check.c, ... */

#define aw_conf_field(conf, opt)  ((char *) (conf) + (opt)->offset)

const aw_conf_option_t *aw_conf_find(const char *name);
int aw_conf_check(aw_conf_t *conf, char *err, size_t errlen);

/* an engine's address: unix:///PATH or https://HOST:PORT */
int aw_conf_endpoint(const char *endpoint, char *err, size_t errlen);

/* one host name or address: letters, digits, '.', '-', ':' */
int aw_conf_host_name(const char *s, size_t len);

/* HOST:PORT or [V6]:PORT (the port 1 to 65535 - plus): AW_OK or AW_ERROR */
int aw_conf_host_port(const char *addr, int plus, char *host,
    size_t hostlen, int *port);

/* the values an option takes, as its errors and the sample print them */
const char *aw_conf_range(const aw_conf_option_t *opt, char *buf,
    size_t size);

/* "FILE:LINE" of the key's line, or "default" (in buf) */
const char *aw_conf_location(const aw_conf_t *conf,
    const aw_conf_option_t *opt, char *buf, size_t size);


#endif /* AW_CONFIG_H */
