/*
 * axon-worker: the checks of a loaded configuration that a single value's
 * type and bounds cannot make: keys that depend on each other, and the
 * lists (profiles, gpu_hosts, eth_rpc_url, deposit_*) parsed into
 * aw_conf_t.  Each error names the file and line of the key.
 */


#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "axon_eth.h"
#include "axon_tx.h"
#include "config.h"
#include "launcher.h"
#include "log.h"


static int aw_conf_check_timers(aw_conf_t *conf, char *err, size_t errlen);
static int aw_conf_check_launcher(aw_conf_t *conf, char *err,
    size_t errlen);
static int aw_conf_check_home(aw_conf_t *conf, char *err, size_t errlen);
static int aw_conf_check_engine(aw_conf_t *conf, char *err, size_t errlen);
static int aw_conf_check_tls(aw_conf_t *conf, const char *endpoint,
    char *err, size_t errlen);
static int aw_conf_worker_id(aw_conf_t *conf, char *err, size_t errlen);
static int aw_conf_check_urls(aw_conf_t *conf, char *err, size_t errlen);
static int aw_conf_check_hosts(aw_conf_t *conf, char *err, size_t errlen);
static int aw_conf_profiles(aw_conf_t *conf, char *err, size_t errlen);
static int aw_conf_gpu_hosts(aw_conf_t *conf, char *err, size_t errlen);
static int aw_conf_gpu_host_keys(aw_conf_t *conf, char *err, size_t errlen);
static int aw_conf_gpu_uuid(aw_conf_t *conf, aw_conf_gpu_host_t *h, char **q,
    const char *loc, char *err, size_t errlen);
static int aw_conf_deposits(aw_conf_t *conf, char *err, size_t errlen);
static int aw_conf_deposit_tokens(aw_conf_t *conf, char *err,
    size_t errlen);
static int aw_conf_deposit_tiers(aw_conf_t *conf, char *err, size_t errlen);
static int aw_conf_x402(aw_conf_t *conf, char *err, size_t errlen);
static int aw_conf_gas_key(aw_conf_t *conf, const char *loc, char *err,
    size_t errlen);


/*
 * Checks that involve several keys, and values computed from others.
 */

int
aw_conf_check(aw_conf_t *conf, char *err, size_t errlen)
{
    char  loc[300], a[32], b[32];

    if (aw_conf_check_timers(conf, err, errlen) != AW_OK) {
        return AW_ERROR;
    }

    if (aw_conf_check_urls(conf, err, errlen) != AW_OK
        || aw_conf_check_hosts(conf, err, errlen) != AW_OK)
    {
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

    if (aw_conf_check_launcher(conf, err, errlen) != AW_OK) {
        return AW_ERROR;
    }

    if (aw_conf_profiles(conf, err, errlen) != AW_OK
        || aw_conf_gpu_hosts(conf, err, errlen) != AW_OK
        || aw_conf_deposits(conf, err, errlen) != AW_OK
        || aw_conf_x402(conf, err, errlen) != AW_OK)
    {
        return AW_ERROR;
    }

    return aw_conf_worker_id(conf, err, errlen);
}


/* the timers that bound one another */

static int
aw_conf_check_timers(aw_conf_t *conf, char *err, size_t errlen)
{
    char                    loc[300], a[32], b[32];
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

    return AW_OK;
}


/* container names, the port pool and the host that ssh users are given */

static int
aw_conf_check_launcher(aw_conf_t *conf, char *err, size_t errlen)
{
    char  loc[300];

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

    if (aw_conf_check_home(conf, err, errlen) != AW_OK
        || aw_conf_check_engine(conf, err, errlen) != AW_OK)
    {
        return AW_ERROR;
    }

    if (conf->ssh_host[0] != '\0'
        && !aw_conf_host_name(conf->ssh_host, strlen(conf->ssh_host)))
    {
        snprintf(err, errlen, "%s: ssh_host \"%s\": a host name or an "
                 "address (letters, digits, . - :)",
                 aw_conf_location(conf, aw_conf_find("ssh_host"), loc,
                                  sizeof(loc)), conf->ssh_host);
        return AW_ERROR;
    }

    return AW_OK;
}


/*
 * launcher engine: launcher_engine's syntax, the TLS files an https://
 * engine needs, and launcher_args without the CLI's words.  Whether the
 * engine answers is asked at the worker's start (aw_launcher_ping).
 */

static int
aw_conf_check_engine(aw_conf_t *conf, char *err, size_t errlen)
{
    char          loc[300], why[1200];
    size_t        len;
    const char   *s;

    if (conf->launcher != AW_LAUNCHER_ENGINE) {
        return AW_OK;
    }

    if (aw_conf_endpoint(conf->launcher_engine, why, sizeof(why))
        != AW_OK)
    {
        snprintf(err, errlen, "%s: launcher_engine %s",
                 aw_conf_location(conf, aw_conf_find("launcher_engine"),
                                  loc, sizeof(loc)), why);
        return AW_ERROR;
    }

    if (strncmp(conf->launcher_engine, "https://", 8) == 0
        && aw_conf_check_tls(conf, conf->launcher_engine, err, errlen)
           != AW_OK)
    {
        return AW_ERROR;
    }

    /* the engine takes labels; the CLI's other words mean nothing there */
    for (s = conf->launcher_args; *s; ) {
        s += strspn(s, " \t");

        if (*s == '\0') {
            break;
        }

        len = strcspn(s, " \t");

        if (strncmp(s, "--label=", 8) == 0) {
            s += len;
            continue;
        }

        if ((len == 7 && strncmp(s, "--label", 7) == 0)
            || (len == 2 && strncmp(s, "-l", 2) == 0))
        {
            s += len;
            s += strspn(s, " \t");
            s += strcspn(s, " \t");
            continue;
        }

        snprintf(err, errlen, "%s: launcher_args: \"%.*s\" is a word of "
                 "the docker CLI; with launcher engine only --label K=V",
                 aw_conf_location(conf, aw_conf_find("launcher_args"), loc,
                                  sizeof(loc)), (int) len, s);
        return AW_ERROR;
    }

    return AW_OK;
}


/*
 * gpu_host_addrs NAME=ADDR ... and gpu_host_ports NAME=START:SIZE ...:
 * each NAME a host of gpu_hosts, once
 */

static int
aw_conf_gpu_host_keys(aw_conf_t *conf, char *err, size_t errlen)
{
    int                  k, i, n;
    char                 loc[300], item[256], name[65], val[80];
    size_t               len;
    long long            start, size;
    const char          *p, *s, *key;
    aw_conf_gpu_host_t  *h;

    for (k = 0; k < 2; k++) {
        key = k ? "gpu_host_ports" : "gpu_host_addrs";
        p = *(char **) aw_conf_field(conf, aw_conf_find(key));
        aw_conf_location(conf, aw_conf_find(key), loc, sizeof(loc));

        while (aw_conf_list_next(&p, 1, &s, &len)) {
            snprintf(item, sizeof(item), "%.*s", (int) aw_min(len, 255), s);
            n = 0;

            if (len > 255
                || sscanf(item, "%64[^=]=%79s%n", name, val, &n) != 2
                || item[n] != '\0')
            {
                snprintf(err, errlen, "%s: %s: \"%s\" is not NAME=%s", loc,
                         key, item, k ? "START:SIZE" : "ADDR");
                return AW_ERROR;
            }

            h = NULL;

            for (i = 0; i < conf->nhosts; i++) {
                if (strcmp(conf->host[i].name, name) == 0) {
                    h = &conf->host[i];
                }
            }

            if (h == NULL) {
                snprintf(err, errlen, "%s: %s: \"%s\" is no host of "
                         "gpu_hosts", loc, key, name);
                return AW_ERROR;
            }

            if (k == 0) {
                if (h->addr[0] || strlen(val) > 64
                    || !aw_conf_host_name(val, strlen(val)))
                {
                    snprintf(err, errlen, "%s: %s: host \"%s\": \"%s\" is "
                             "not one host name or address (or is given "
                             "twice)", loc, key, name, val);
                    return AW_ERROR;
                }

                strcpy(h->addr, val);
                continue;
            }

            n = 0;

            if (sscanf(val, "%lld:%lld%n", &start, &size, &n) != 2
                || val[n] != '\0' || start < 1024 || size < 1
                || start + size - 1 > 65535)
            {
                snprintf(err, errlen, "%s: %s: host \"%s\": \"%s\" is not "
                         "START:SIZE within 1024 to 65535", loc, key, name,
                         val);
                return AW_ERROR;
            }

            h->port_start = (int) start;
            h->port_size = (int) size;
        }
    }

    return AW_OK;
}


/* the files an https:// engine needs, readable */

static int
aw_conf_check_tls(aw_conf_t *conf, const char *endpoint, char *err,
    size_t errlen)
{
    int          i;
    char         loc[300];
    const char  *p;

    static const char  *tls[] = {
        "launcher_tls_ca", "launcher_tls_cert", "launcher_tls_key"
    };

    for (i = 0; i < 3; i++) {
        p = *(char **) aw_conf_field(conf, aw_conf_find(tls[i]));

        if (p[0] == '\0' || access(p, R_OK) != 0) {
            snprintf(err, errlen, "%s: %s \"%s\": %s (needed for the "
                     "engine %s)",
                     aw_conf_location(conf, aw_conf_find(tls[i]), loc,
                                      sizeof(loc)), tls[i], p,
                     p[0] ? strerror(errno) : "not set", endpoint);
            return AW_ERROR;
        }
    }

    return AW_OK;
}


/*
 * An engine's endpoint: unix:///ABSOLUTE/PATH or https://HOST:PORT (no
 * path).  AW_ERROR with err saying what is wrong, naming the endpoint.
 */

int
aw_conf_endpoint(const char *e, char *err, size_t errlen)
{
    char        *end;
    long         port;
    const char  *host, *colon;

    if (strncmp(e, "unix:///", 8) == 0 && e[8] != '\0') {
        return AW_OK;
    }

    if (strncmp(e, "https://", 8) == 0) {
        host = e + 8;
        colon = strrchr(host, ':');

        if (colon && colon > host && strchr(host, '/') == NULL) {
            port = strtol(colon + 1, &end, 10);

            if (*end == '\0' && port > 0 && port < 65536) {
                return AW_OK;
            }
        }
    }

    snprintf(err, errlen, "\"%.1024s\": neither unix:///PATH nor "
             "https://HOST:PORT", e);

    return AW_ERROR;
}


/* home_path goes into -v NAME:PATH, home_size into --opt o=size=SIZE */

static int
aw_conf_check_home(aw_conf_t *conf, char *err, size_t errlen)
{
    char         loc[300];
    size_t       n;
    const char  *p;

    p = conf->home_path;

    if (p[0] != '/' || strcmp(p, "/") == 0
        || strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789_.-/") != strlen(p))
    {
        snprintf(err, errlen, "%s: home_path \"%s\": an absolute path "
                 "below / of letters, digits and _.-/",
                 aw_conf_location(conf, aw_conf_find("home_path"), loc,
                                  sizeof(loc)), p);
        return AW_ERROR;
    }

    p = conf->home_size;
    n = strspn(p, "0123456789");

    if (p[0] != '\0'
        && (n == 0 || p[0] == '0' || strlen(p) != n + 1
            || strchr("kKmMgGtT", p[n]) == NULL))
    {
        snprintf(err, errlen, "%s: home_size \"%s\": a number and a unit "
                 "(k, m, g or t), as in 20g",
                 aw_conf_location(conf, aw_conf_find("home_size"), loc,
                                  sizeof(loc)), p);
        return AW_ERROR;
    }

    return AW_OK;
}


/* worker_id defaults to host:pid, queue_consumer to worker_id */

static int
aw_conf_worker_id(aw_conf_t *conf, char *err, size_t errlen)
{
    char  *id, host[256];

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
 * eth_rpc_url: a list of at most 8 http:// or https:// URLs.
 */

static int
aw_conf_check_urls(aw_conf_t *conf, char *err, size_t errlen)
{
    int                      n;
    char                     loc[300];
    size_t                   len;
    const char              *p, *url;
    const aw_conf_option_t  *opt;

    opt = aw_conf_find("eth_rpc_url");
    n = 0;

    for (p = conf->eth_rpc_url; aw_conf_list_next(&p, 0, &url, &len); ) {
        if (!(len >= 7 && strncmp(url, "http://", 7) == 0)
            && !(len >= 8 && strncmp(url, "https://", 8) == 0))
        {
            snprintf(err, errlen, "%s: eth_rpc_url: \"%.*s\" is not an "
                     "http:// or https:// URL",
                     aw_conf_location(conf, opt, loc, sizeof(loc)),
                     (int) aw_min(len, 64), url);
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
 * One host name or address (IPv6 too), as gpu_host_addrs takes it: what
 * a resolver would refuse at run time (a blank, a slash) is refused here.
 */

int
aw_conf_host_name(const char *s, size_t len)
{
    /* past len too, if s goes on: no NUL within len */
    return len > 0 && len <= 255
           && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        "abcdefghijklmnopqrstuvwxyz0123456789.-:")
              >= len;
}


/*
 * HOST:PORT or [V6]:PORT, as metrics_listen takes it: HOST (brackets
 * off) into host, PORT (1 to 65535 - plus) into *port.
 */

int
aw_conf_host_port(const char *addr, int plus, char *host, size_t hostlen,
    int *port)
{
    long         n;
    char        *end;
    size_t       hlen;
    const char  *colon;

    colon = strrchr(addr, ':');

    if (colon == NULL || colon == addr || colon[1] < '0' || colon[1] > '9') {
        return AW_ERROR;
    }

    errno = 0;
    n = strtol(colon + 1, &end, 10);

    if (errno || *end != '\0' || n < 1 || n + plus > 65535) {
        return AW_ERROR;
    }

    hlen = (size_t) (colon - addr);

    if (addr[0] == '[') {
        if (hlen < 3 || addr[hlen - 1] != ']') {
            return AW_ERROR;
        }

        addr++;
        hlen -= 2;

    } else if (memchr(addr, ':', hlen) != NULL) {
        /* an IPv6 address goes in brackets */
        return AW_ERROR;
    }

    if (hlen >= hostlen || !aw_conf_host_name(addr, hlen)) {
        return AW_ERROR;
    }

    memcpy(host, addr, hlen);
    host[hlen] = '\0';
    *port = (int) n;

    return AW_OK;
}


/*
 * redis_host: one host name or address; metrics_listen: HOST:PORT, PORT + 1
 * a port too when the x402 process serves its own there
 */

static int
aw_conf_check_hosts(aw_conf_t *conf, char *err, size_t errlen)
{
    int   port;
    char  loc[300], host[256];

    if (!aw_conf_host_name(conf->redis_host, strlen(conf->redis_host))) {
        snprintf(err, errlen, "%s: redis_host \"%.64s\" is not one host "
                 "name or address",
                 aw_conf_location(conf, aw_conf_find("redis_host"), loc,
                                  sizeof(loc)),
                 conf->redis_host);
        return AW_ERROR;
    }

    if (conf->metrics_listen[0] != '\0'
        && aw_conf_host_port(conf->metrics_listen,
                             conf->x402_settle != AW_X402_NONE, host, sizeof(host),
                             &port)
           != AW_OK)
    {
        snprintf(err, errlen, "%s: metrics_listen \"%.64s\" is not HOST:PORT "
                 "(an IPv6 address in brackets; the port 1 to %d)",
                 aw_conf_location(conf, aw_conf_find("metrics_listen"), loc,
                                  sizeof(loc)),
                 conf->metrics_listen, conf->x402_settle != AW_X402_NONE ? 65534 : 65535);
        return AW_ERROR;
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
    char                loc[300], name[64], item[128];
    long                gpus, price;
    size_t              len;
    const char         *p, *s;
    aw_conf_profile_t  *pr;

    aw_conf_location(conf, aw_conf_find("profiles"), loc, sizeof(loc));

    conf->nprofiles = 0;

    for (p = conf->profiles; aw_conf_list_next(&p, 0, &s, &len); ) {
        snprintf(item, sizeof(item), "%.*s", (int) aw_min(len, 127), s);
        used = 0;
        n = sscanf(item, "%63[a-z0-9_-]:%ld:%ld%n", name, &gpus, &price,
                   &used);

        if (len > 127 || n != 3 || item[used] != '\0') {
            snprintf(err, errlen, "%s: profiles: \"%.*s\" is not "
                     "NAME:GPUS:PRICE (NAME of a-z 0-9 _ -, e.g. small:1:1)",
                     loc, (int) aw_min(len, 64), s);
            return AW_ERROR;
        }

        if (strlen(name) > 32 || gpus < 1 || gpus > AW_LAUNCHER_MAX_GPUS
            || price < 1 || price > 10000)
        {
            snprintf(err, errlen, "%s: profiles: \"%s\": NAME is 1 to 32 "
                     "characters, GPUS 1 to %d, PRICE 1 to 10000", loc,
                     item, AW_LAUNCHER_MAX_GPUS);
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
    char  loc[300], at[300];

    explicit_bzero(conf->x402_gas_key, sizeof(conf->x402_gas_key));

    /* what a mode needs is missing where the mode is set; a bad value is
     * where the value is */
    aw_conf_location(conf, aw_conf_find("x402_settle"), at, sizeof(at));

    if (conf->x402_settle == AW_X402_FACILITATOR) {
        if (conf->x402_facilitator_url[0] != '\0') {
            aw_conf_location(conf, aw_conf_find("x402_facilitator_url"), loc,
                             sizeof(loc));
        }

        if (strncmp(conf->x402_facilitator_url, "http://", 7) != 0
            && strncmp(conf->x402_facilitator_url, "https://", 8) != 0)
        {
            snprintf(err, errlen, "%s: x402_settle facilitator needs "
                     "x402_facilitator_url, an http:// or https:// URL",
                     conf->x402_facilitator_url[0] ? loc : at);
            return AW_ERROR;
        }

        if (conf->eth_rpc_url[0] == '\0') {
            snprintf(err, errlen, "%s: x402_settle facilitator needs "
                     "eth_rpc_url: the worker reads each settlement's "
                     "receipt before it credits it", at);
            return AW_ERROR;
        }
    }

    if (conf->x402_settle != AW_X402_SELF) {
        return AW_OK;
    }

    if (conf->eth_rpc_url[0] == '\0') {
        snprintf(err, errlen, "%s: x402_settle self needs eth_rpc_url: the "
                 "worker sends the settlements itself", at);
        return AW_ERROR;
    }

    if (conf->x402_gas_key_file[0] == '\0') {
        snprintf(err, errlen, "%s: x402_settle self needs x402_gas_key_file",
                 at);
        return AW_ERROR;
    }

    aw_conf_location(conf, aw_conf_find("x402_gas_key_file"), loc,
                     sizeof(loc));

    return aw_conf_gas_key(conf, loc, err, errlen);
}


/*
 * x402_gas_key_file: owner-only, 64 hex digits (0x allowed), a valid
 * secp256k1 key; kept in conf->x402_gas_key.  loc names the key.
 */

static int
aw_conf_gas_key(aw_conf_t *conf, const char *loc, char *err, size_t errlen)
{
    int             fd, n;
    char            buf[130], *p, *e;
    ssize_t         len;
    struct stat     st;
    axon_signer_t  *signer;

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
    int                  n;
    char                 loc[300], addr[64];
    long long            dec;
    const char          *p, *what;
    aw_conf_deposits_t  *d;

    d = &conf->deposit;
    memset(d, 0, sizeof(*d));

    what = "deposit_revenue_wallet";
    p = conf->deposit_revenue_wallet;

    if (*p) {
        if (axon_address_parse(d->revenue, p, strlen(p)) != AXON_OK) {
            snprintf(err, errlen, "%s: deposit_revenue_wallet \"%s\" is not "
                     "an address (0x and 40 hex digits, all lowercase or in "
                     "their EIP-55 checksum case)",
                     aw_conf_location(conf, aw_conf_find(what), loc,
                                      sizeof(loc)), p);
            return AW_ERROR;
        }

        d->enabled = 1;
    }

    if (aw_conf_deposit_tokens(conf, err, errlen) != AW_OK) {
        return AW_ERROR;
    }

    /* checked with or without a tier token: a reload to one must not be
     * where a bad list is found first */
    if (aw_conf_deposit_tiers(conf, err, errlen) != AW_OK) {
        return AW_ERROR;
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
    d->has_tier = 1;

    return AW_OK;
}


/* deposit_tokens: SYMBOL:ADDRESS:DECIMALS:PRICE, ... */

static int
aw_conf_deposit_tokens(aw_conf_t *conf, char *err, size_t errlen)
{
    int                  n, i;
    char                 loc[300], sym[32], addr[64], item[128];
    size_t               len;
    long long            dec, price;
    const char          *p, *s, *what;
    aw_conf_token_t     *t;
    aw_conf_deposits_t  *d;

    d = &conf->deposit;

    what = "deposit_tokens";
    aw_conf_location(conf, aw_conf_find(what), loc, sizeof(loc));

    for (p = conf->deposit_tokens; aw_conf_list_next(&p, 0, &s, &len); ) {
        if (len == 0) {
            snprintf(err, errlen, "%s: deposit_tokens: an empty item", loc);
            return AW_ERROR;
        }

        snprintf(item, sizeof(item), "%.*s", (int) aw_min(len, 127), s);
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
            || strspn(sym, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                           "abcdefghijklmnopqrstuvwxyz0123456789.-_")
               != strlen(sym))
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

    return AW_OK;
}


/* deposit_tiers: MIN:PERCENT, ..., MIN ascending */

static int
aw_conf_deposit_tiers(aw_conf_t *conf, char *err, size_t errlen)
{
    int                  n;
    char                 loc[300], item[128];
    size_t               len;
    long long            min, pct;
    const char          *p, *s, *what;
    aw_conf_deposits_t  *d;

    d = &conf->deposit;

    what = "deposit_tiers";
    aw_conf_location(conf, aw_conf_find(what), loc, sizeof(loc));

    for (p = conf->deposit_tiers; aw_conf_list_next(&p, 0, &s, &len); ) {
        snprintf(item, sizeof(item), "%.*s", (int) aw_min(len, 127), s);
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

    return AW_OK;
}


/*
 * gpu_hosts: NAME=INDEX,INDEX,...[@ENDPOINT] or NAME=UUID,UUID,...[@ENDPOINT]
 * ...; an https:// endpoint needs the launcher_tls_* files
 */

static int
aw_conf_gpu_hosts(aw_conf_t *conf, char *err, size_t errlen)
{
    int                  i, j, used;
    char                 loc[300], *end, item[4096], *q, why[1200];
    long                 idx;
    size_t               len, wlen;
    const char          *p, *word;
    aw_conf_gpu_host_t  *h;

    aw_conf_location(conf, aw_conf_find("gpu_hosts"), loc, sizeof(loc));

    conf->nhosts = 0;

    for (p = conf->gpu_hosts; aw_conf_list_next(&p, 1, &word, &wlen); ) {
        snprintf(item, sizeof(item), "%.*s", (int) wlen, word);
        q = item;
        len = strcspn(q, "=");

        if (len == 0 || len > 64 || q[len] != '='
            || strspn(q, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
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
        memcpy(h->name, q, len);
        h->name[len] = '\0';
        h->ngpus = 0;
        h->endpoint[0] = '\0';
        h->addr[0] = '\0';
        h->port_start = conf->port_pool_start;
        h->port_size = conf->port_pool_size;

        for (i = 0; i < conf->nhosts; i++) {
            if (strcmp(conf->host[i].name, h->name) == 0) {
                snprintf(err, errlen, "%s: gpu_hosts: host \"%s\" is given "
                         "twice", loc, h->name);
                return AW_ERROR;
            }
        }

        q += len + 1;
        h->uuids = (strncmp(q, "GPU-", 4) == 0 || strncmp(q, "MIG-", 4) == 0);

        for ( ;; ) {
            if (h->ngpus == AW_CONF_MAX_HOST_GPUS) {
                snprintf(err, errlen, "%s: gpu_hosts: at most %d GPUs per "
                         "host", loc, AW_CONF_MAX_HOST_GPUS);
                return AW_ERROR;
            }

            if (h->uuids) {
                if (aw_conf_gpu_uuid(conf, h, &q, loc, err, errlen)
                    != AW_OK)
                {
                    return AW_ERROR;
                }

            } else {
                if (strncmp(q, "GPU-", 4) == 0 || strncmp(q, "MIG-", 4) == 0) {
                    snprintf(err, errlen, "%s: gpu_hosts: host \"%s\": a "
                             "host's GPUs are all indexes or all UUIDs", loc,
                             h->name);
                    return AW_ERROR;
                }

                if (*q < '0' || *q > '9') {
                    goto bad;
                }

                idx = strtol(q, &end, 10);
                used = (int) (end - q);

                if (idx > 1023 || used > 4) {
                    goto bad;
                }

                for (j = 0; j < h->ngpus; j++) {
                    if (h->gpus[j] == idx) {
                        snprintf(err, errlen, "%s: gpu_hosts: GPU %ld of "
                                 "host \"%s\" is given twice", loc, idx,
                                 h->name);
                        return AW_ERROR;
                    }
                }

                h->gpus[h->ngpus++] = (int) idx;
                q = end;
            }

            if (*q != ',') {
                break;
            }

            q++;
        }

        if (*q == '@') {
            if (aw_conf_endpoint(q + 1, why, sizeof(why)) != AW_OK
                || strlen(q + 1) >= sizeof(h->endpoint))
            {
                snprintf(err, errlen, "%s: gpu_hosts: host \"%s\": engine "
                         "%s", loc, h->name, why);
                return AW_ERROR;
            }

            strcpy(h->endpoint, q + 1);

            if (strncmp(h->endpoint, "https://", 8) == 0
                && aw_conf_check_tls(conf, h->endpoint, err, errlen)
                   != AW_OK)
            {
                return AW_ERROR;
            }

            q += strlen(q);
        }

        if (*q != '\0') {
            goto bad;
        }

        conf->nhosts++;
    }

    return aw_conf_gpu_host_keys(conf, err, errlen);

bad:

    snprintf(err, errlen, "%s: gpu_hosts: \"%.*s\" is not "
             "NAME=INDEX,...[@ENGINE] or NAME=UUID,...[@ENGINE] (e.g. "
             "local=0,1,2,3, gpu2=0,1@https://gpu2:2376 or "
             "local=GPU-366db770-2957-4105-20b5-59227776f17a)", loc,
             (int) aw_min(wlen, 64),
             word);

    return AW_ERROR;
}


/*
 * One UUID of a gpu_hosts host of UUIDs at *q: GPU-... or MIG-... of
 * [A-Za-z0-9-/], not given twice; its slot is its position.  Indexes
 * among UUIDs are refused: a slot must name one device.
 */

static int
aw_conf_gpu_uuid(aw_conf_t *conf, aw_conf_gpu_host_t *h, char **q,
    const char *loc, char *err, size_t errlen)
{
    int     j;
    size_t  len;

    len = strspn(*q, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789-/");

    if ((strncmp(*q, "GPU-", 4) != 0 && strncmp(*q, "MIG-", 4) != 0)
        || len < 5 || len >= AW_CONF_GPU_UUID_LEN)
    {
        snprintf(err, errlen, "%s: gpu_hosts: host \"%s\": \"%.*s\" is not "
                 "a GPU UUID (GPU-... or MIG-...); a host's GPUs are all "
                 "indexes or all UUIDs", loc, h->name,
                 (int) aw_min(strcspn(*q, ","), 64), *q);
        return AW_ERROR;
    }

    for (j = 0; j < h->ngpus; j++) {
        if (strlen(h->uuid[j]) == len && strncmp(h->uuid[j], *q, len) == 0) {
            snprintf(err, errlen, "%s: gpu_hosts: GPU %.*s of host \"%s\" "
                     "is given twice", loc, (int) len, *q, h->name);
            return AW_ERROR;
        }
    }

    memcpy(h->uuid[h->ngpus], *q, len);
    h->uuid[h->ngpus][len] = '\0';
    h->gpus[h->ngpus] = h->ngpus;
    h->ngpus++;
    *q += len;

    return AW_OK;
}
