/*
 * axon-worker: the JSON-RPC transport (see rpc.h): requests, batches, the
 * envelope of an answer, failover between URLs and the chain id check.
 * The Ethereum calls on top of it are in eth.c.
 *
 * One libcurl easy handle per client, reused so that the connection to a
 * provider stays open (keep-alive, one TLS handshake).  Every transfer is
 * bounded by eth_rpc_timeout (CURLOPT_TIMEOUT_MS, no signals).
 */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "axon_eth.h"
#include "axon_u256.h"
#include "config.h"
#include "log.h"
#include "rpc.h"


#define AW_RPC_MAX_ANSWER  (64 * 1024 * 1024)


typedef struct {
    char    *data;
    size_t   len;
    size_t   size;
} aw_rpc_buf_t;


static void aw_rpc_batch_match(aw_rpc_t *rpc, json_t *answer,
    json_int_t first, size_t n, const char **methods, json_t **results,
    int *rcs);
static int aw_rpc_exchange(aw_rpc_t *rpc, json_t *request, json_t **answer);
static int aw_rpc_exchange_failed(aw_rpc_t *rpc, int rc, unsigned tried,
    unsigned wrong, aw_msec_t next);
static int aw_rpc_post(aw_rpc_t *rpc, aw_rpc_url_t *u, const char *body,
    size_t len, json_t **answer);
static int aw_rpc_check_chain(aw_rpc_t *rpc, aw_rpc_url_t *u);
static void aw_rpc_url_down(aw_rpc_t *rpc, aw_rpc_url_t *u);
static size_t aw_rpc_write(char *p, size_t size, size_t n, void *data);
static json_t *aw_rpc_request(aw_rpc_t *rpc, const char *method,
    json_t *params, json_int_t *id);
static int aw_rpc_envelope(aw_rpc_t *rpc, json_t *answer, json_int_t id,
    const char *method, json_t **result);
static void aw_rpc_url_name(char *buf, size_t size, const char *url);


int
aw_rpc_global_init(void)
{
    CURLcode  rc;

    rc = curl_global_init(CURL_GLOBAL_DEFAULT);

    if (rc != CURLE_OK) {
        aw_log(AW_LOG_EMERG, "curl_global_init() failed: %s",
               curl_easy_strerror(rc));
        return AW_ERROR;
    }

    return AW_OK;
}


void
aw_rpc_global_cleanup(void)
{
    curl_global_cleanup();
}


void
aw_rpc_init(aw_rpc_t *rpc, const char *name)
{
    memset(rpc, 0, sizeof(aw_rpc_t));

    rpc->name = name;
    rpc->timeout = 5000;
    rpc->batch_max = 100;
    rpc->next_id = 1;
}


/*
 * urls: a list of http:// or https:// URLs (aw_conf_list_next), "" for none.
 * A new list starts over: every URL is tried again, the chain id checked
 * again.
 */

int
aw_rpc_configure(aw_rpc_t *rpc, const char *urls, aw_msec_t timeout,
    uint64_t chain_id, unsigned batch_max, aw_msec_t reconnect_min,
    aw_msec_t reconnect_max)
{
    char          *url;
    size_t         len;
    unsigned       i, n;
    const char    *p, *item;
    aw_rpc_url_t   parsed[AW_RPC_MAX_URLS];

    memset(parsed, 0, sizeof(parsed));
    n = 0;

    for (p = urls; aw_conf_list_next(&p, 0, &item, &len); ) {
        if (len == 0) {
            continue;
        }

        if (n == AW_RPC_MAX_URLS) {
            aw_log(AW_LOG_ERR, "%s: more than %d RPC URLs, the rest ignored",
                   rpc->name, AW_RPC_MAX_URLS);
            break;
        }

        url = strndup(item, len);
        if (url == NULL) {
            aw_log(AW_LOG_ERR, "%s: out of memory", rpc->name);

            for (i = 0; i < n; i++) {
                free(parsed[i].url);
            }

            return AW_ERROR;
        }

        parsed[n].url = url;
        aw_backoff_init(&parsed[n].backoff, reconnect_min, reconnect_max);

        /* a URL that never worked gets no immediate retry */
        parsed[n].backoff.ok_since = aw_monotonic_msec();
        n++;
    }

    for (i = 0; i < rpc->nurls; i++) {
        free(rpc->urls[i].url);
    }

    memcpy(rpc->urls, parsed, sizeof(parsed));
    rpc->nurls = n;
    rpc->current = 0;
    rpc->timeout = timeout;
    rpc->chain_id = chain_id;
    rpc->batch_max = batch_max ? batch_max : 1;

    if (n && rpc->curl == NULL) {
        rpc->curl = curl_easy_init();

        if (rpc->curl == NULL) {
            aw_log(AW_LOG_ERR, "%s: curl_easy_init() failed", rpc->name);
            return AW_ERROR;
        }
    }

    return AW_OK;
}


void
aw_rpc_free(aw_rpc_t *rpc)
{
    unsigned  i;

    for (i = 0; i < rpc->nurls; i++) {
        free(rpc->urls[i].url);
    }

    rpc->nurls = 0;

    if (rpc->curl) {
        curl_easy_cleanup(rpc->curl);
        rpc->curl = NULL;
    }
}


/* the earliest time a URL that is down may be tried again */

aw_msec_t
aw_rpc_wakeup(aw_rpc_t *rpc)
{
    unsigned   i;
    aw_msec_t  next;

    next = AW_MSEC_NEVER;

    for (i = 0; i < rpc->nurls; i++) {
        if (rpc->urls[i].up) {
            return 0;
        }

        if (!rpc->urls[i].wrong_chain) {
            next = aw_min(next, rpc->urls[i].backoff.next);
        }
    }

    return next;
}


const char *
aw_rpc_strerror(aw_rpc_rc_e rc)
{
    switch (rc) {
    case AW_RPC_OK:          return "ok";
    case AW_RPC_NOT_FOUND:   return "not_found";
    case AW_RPC_ETRANSPORT:  return "transport";
    case AW_RPC_ERPC:        return "rpc_error";
    case AW_RPC_EMALFORMED:  return "malformed";
    case AW_RPC_ECHAIN:      return "wrong_chain";
    case AW_RPC_ENOMEM:      return "out_of_memory";
    case AW_RPC_EOFF:        return "off";
    }

    return "unknown";
}


/*
 * One call.  params (stolen) is a JSON array or NULL; on AW_RPC_OK *result
 * is a new reference (possibly JSON null).
 */

int
aw_rpc_call(aw_rpc_t *rpc, const char *method, json_t *params,
    json_t **result)
{
    int          rc;
    json_t      *request, *answer;
    json_int_t   id;

    *result = NULL;

    request = aw_rpc_request(rpc, method, params, &id);
    if (request == NULL) {
        return aw_rpc_fail(rpc, AW_RPC_ENOMEM, "out of memory");
    }

    rc = aw_rpc_exchange(rpc, request, &answer);
    json_decref(request);

    if (rc != AW_RPC_OK) {
        return rc;
    }

    if (!json_is_object(answer)) {
        json_decref(answer);
        return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "%s: the answer is not "
                           "a JSON object", method);
    }

    rc = aw_rpc_envelope(rpc, answer, id, method, result);
    json_decref(answer);

    return rc;
}


/*
 * n calls in one HTTP request (a JSON-RPC batch; a single call goes as a
 * plain request).  The answers may come in any order: they are matched by
 * id.  Returns the transport's result (or
 * AW_RPC_ERPC when the node refused the whole batch); rcs[i] and
 * results[i] are each call's.
 */

int
aw_rpc_batch(aw_rpc_t *rpc, size_t n, const char **methods, json_t **params,
    json_t **results, int *rcs)
{
    int          rc;
    size_t       i, k;
    json_t      *request, *answer, *one;
    json_int_t   first, id;

    for (i = 0; i < n; i++) {
        results[i] = NULL;
        rcs[i] = -1;        /* no answer yet */
    }

    if (n == 1) {
        /* one call goes as a plain request: some providers take no batch */
        rcs[0] = aw_rpc_call(rpc, methods[0], params[0], &results[0]);
        params[0] = NULL;

        return (rcs[0] == AW_RPC_ERPC || rcs[0] == AW_RPC_EMALFORMED)
               ? AW_RPC_OK : rcs[0];
    }

    request = json_array();
    first = (json_int_t) rpc->next_id;

    for (i = 0; i < n; i++) {
        one = aw_rpc_request(rpc, methods[i], params[i], &id);
        params[i] = NULL;

        if (one == NULL || request == NULL
            || json_array_append_new(request, one) != 0)
        {
            for (k = i + 1; k < n; k++) {
                json_decref(params[k]);
                params[k] = NULL;
            }

            json_decref(request);
            return aw_rpc_fail(rpc, AW_RPC_ENOMEM, "out of memory");
        }
    }

    if (n == 0) {
        json_decref(request);
        return AW_RPC_OK;
    }

    rc = aw_rpc_exchange(rpc, request, &answer);
    json_decref(request);

    if (rc != AW_RPC_OK) {
        for (i = 0; i < n; i++) {
            rcs[i] = rc;
        }

        return rc;
    }

    if (json_is_object(answer)) {
        /* a node that does not take batches answers with one error */
        rc = aw_rpc_envelope(rpc, answer, -1, "batch", &one);
        json_decref(one);
        json_decref(answer);

        if (rc == AW_RPC_OK) {
            rc = aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "batch: a single "
                             "answer to a batch");
        }

        for (i = 0; i < n; i++) {
            rcs[i] = rc;
        }

        return rc;
    }

    aw_rpc_batch_match(rpc, answer, first, n, methods, results, rcs);

    json_decref(answer);

    return AW_RPC_OK;
}


/*
 * Each answer of a batch to its call by id (the ids of the calls run from
 * first); a call without an answer, or with two, is malformed.
 */

static void
aw_rpc_batch_match(aw_rpc_t *rpc, json_t *answer, json_int_t first, size_t n,
    const char **methods, json_t **results, int *rcs)
{
    size_t       i, k;
    json_t      *one, *jid;
    json_int_t   id;

    json_array_foreach(answer, k, one) {
        jid = json_is_object(one) ? json_object_get(one, "id") : NULL;

        if (!json_is_integer(jid)) {
            continue;
        }

        id = json_integer_value(jid);

        if (id < first || id >= first + (json_int_t) n) {
            continue;
        }

        i = (size_t) (id - first);

        if (rcs[i] != -1) {
            /* a second answer with the same id: keep none */
            json_decref(results[i]);
            results[i] = NULL;
            rcs[i] = aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "%s: two answers "
                                 "with id %lld", methods[i], (long long) id);
            continue;
        }

        rcs[i] = aw_rpc_envelope(rpc, one, id, methods[i], &results[i]);
    }

    for (i = 0; i < n; i++) {
        if (rcs[i] == -1) {
            rcs[i] = aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "%s: no answer "
                                 "with id %lld in the batch", methods[i],
                                 (long long) (first + (json_int_t) i));
        }
    }
}


/*
 * Sends request to the URL in use, failing over to the next on transport
 * errors; checks the chain id of a URL before its first use.
 */

static int
aw_rpc_exchange(aw_rpc_t *rpc, json_t *request, json_t **answer)
{
    int            rc;
    char          *body, name[256];
    unsigned       i, k, tried, wrong;
    aw_msec_t      now, next;
    aw_rpc_url_t  *u;

    *answer = NULL;

    if (rpc->nurls == 0) {
        return aw_rpc_fail(rpc, AW_RPC_EOFF, "no eth_rpc_url configured");
    }

    if (rpc->curl == NULL) {
        return aw_rpc_fail(rpc, AW_RPC_ENOMEM, "no curl handle");
    }

    body = json_dumps(request, JSON_COMPACT);
    if (body == NULL) {
        return aw_rpc_fail(rpc, AW_RPC_ENOMEM, "out of memory");
    }

    tried = wrong = 0;
    rc = AW_RPC_ETRANSPORT;
    next = AW_MSEC_NEVER;

    for (k = 0; k < rpc->nurls; k++) {
        i = (rpc->current + k) % rpc->nurls;
        u = &rpc->urls[i];
        now = aw_monotonic_msec();

        if (u->wrong_chain) {
            wrong++;
            continue;
        }

        if (!u->up && !aw_backoff_due(&u->backoff, now)) {
            next = aw_min(next, u->backoff.next);
            continue;
        }

        tried++;

        if (rpc->chain_id && !u->chain_ok) {
            rc = aw_rpc_check_chain(rpc, u);

            if (rc == AW_RPC_ECHAIN) {
                wrong++;
                continue;
            }

            if (rc != AW_RPC_OK) {
                aw_rpc_url_down(rpc, u);
                continue;
            }
        }

        rc = aw_rpc_post(rpc, u, body, strlen(body), answer);

        if (rc == AW_RPC_OK
            && !json_is_object(*answer) && !json_is_array(*answer))
        {
            json_decref(*answer);
            *answer = NULL;
            rc = aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "the answer is "
                             "neither a JSON object nor an array");
        }

        if (rc != AW_RPC_OK) {
            aw_rpc_url_down(rpc, u);
            continue;
        }

        if (!u->up || i != rpc->current) {
            aw_rpc_url_name(name, sizeof(name), u->url);
            aw_log(AW_LOG_NOTICE, "%s: using %s", rpc->name, name);
        }

        u->up = 1;
        aw_backoff_reset(&u->backoff, aw_monotonic_msec());
        rpc->current = i;

        free(body);

        return AW_RPC_OK;
    }

    free(body);

    return aw_rpc_exchange_failed(rpc, rc, tried, wrong, next);
}


/*
 * Why no URL answered: all on another chain, all down and not yet due,
 * or the last one's failure (rc, already in rpc->error).
 */

static int
aw_rpc_exchange_failed(aw_rpc_t *rpc, int rc, unsigned tried, unsigned wrong,
    aw_msec_t next)
{
    aw_msec_t  now;

    if (wrong == rpc->nurls) {
        return aw_rpc_fail(rpc, AW_RPC_ECHAIN, "every RPC URL is on "
                           "another chain than eth_chain_id %llu",
                           (unsigned long long) rpc->chain_id);
    }

    if (tried == 0) {
        now = aw_monotonic_msec();

        return aw_rpc_fail(rpc, AW_RPC_ETRANSPORT, "every RPC URL is down; "
                           "next attempt in %lld ms",
                           (long long) aw_max(next - now, 0));
    }

    /* rpc->error has the last URL's failure */
    return rc;
}


/*
 * One HTTP POST to one URL; the answer parsed as JSON.
 */

static int
aw_rpc_post(aw_rpc_t *rpc, aw_rpc_url_t *u, const char *body, size_t len,
    json_t **answer)
{
    long                 status;
    char                 errbuf[CURL_ERROR_SIZE], name[256];
    CURL                *c;
    CURLcode             rc;
    json_error_t         jerr;
    aw_rpc_buf_t         buf;
    struct curl_slist   *headers;

    *answer = NULL;
    c = rpc->curl;

    aw_rpc_url_name(name, sizeof(name), u->url);

    headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (headers == NULL) {
        return aw_rpc_fail(rpc, AW_RPC_ENOMEM, "out of memory");
    }

    memset(&buf, 0, sizeof(buf));
    errbuf[0] = '\0';

    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, u->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long) rpc->timeout);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long) rpc->timeout);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long) len);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "axon-worker/" AXON_VERSION);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, aw_rpc_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &buf);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);

    rc = curl_easy_perform(c);

    curl_slist_free_all(headers);

    if (rc != CURLE_OK) {
        free(buf.data);

        if (rc == CURLE_WRITE_ERROR && buf.len > AW_RPC_MAX_ANSWER) {
            return aw_rpc_fail(rpc, AW_RPC_ETRANSPORT, "%s: answer larger "
                               "than %d bytes", name, AW_RPC_MAX_ANSWER);
        }

        return aw_rpc_fail(rpc, AW_RPC_ETRANSPORT, "%s: %s", name,
                           errbuf[0] ? errbuf : curl_easy_strerror(rc));
    }

    status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);

    if (status != 200) {
        rc = aw_rpc_fail(rpc, AW_RPC_ETRANSPORT, "%s: HTTP %ld: %.*s", name,
                         status, (int) aw_min(buf.len, 100),
                         buf.data ? buf.data : "");
        free(buf.data);
        return rc;
    }

    *answer = json_loadb(buf.data ? buf.data : "", buf.len,
                         JSON_REJECT_DUPLICATES, &jerr);
    free(buf.data);

    if (*answer == NULL) {
        return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "%s: the answer is not "
                           "JSON: %s", name, jerr.text);
    }

    return AW_RPC_OK;
}


static size_t
aw_rpc_write(char *p, size_t size, size_t n, void *data)
{
    char          *d;
    size_t         len, want;
    aw_rpc_buf_t  *buf;

    buf = data;
    len = size * n;

    if (buf->len + len > AW_RPC_MAX_ANSWER) {
        buf->len += len;
        return 0;
    }

    if (buf->len + len > buf->size) {
        want = aw_max(buf->size * 2, buf->len + len);
        want = aw_max(want, 4096);

        d = realloc(buf->data, want);
        if (d == NULL) {
            return 0;
        }

        buf->data = d;
        buf->size = want;
    }

    memcpy(buf->data + buf->len, p, len);
    buf->len += len;

    return len;
}


static int
aw_rpc_check_chain(aw_rpc_t *rpc, aw_rpc_url_t *u)
{
    int          rc;
    char        *body, name[256];
    json_t      *request, *answer, *result;
    uint64_t     id;
    json_int_t   rid;

    request = aw_rpc_request(rpc, "eth_chainId", NULL, &rid);
    body = request ? json_dumps(request, JSON_COMPACT) : NULL;
    json_decref(request);

    if (body == NULL) {
        return aw_rpc_fail(rpc, AW_RPC_ENOMEM, "out of memory");
    }

    rc = aw_rpc_post(rpc, u, body, strlen(body), &answer);
    free(body);

    if (rc != AW_RPC_OK) {
        return rc;
    }

    rc = json_is_object(answer)
         ? aw_rpc_envelope(rpc, answer, rid, "eth_chainId", &result)
         : aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "eth_chainId: the answer "
                       "is not a JSON object");
    json_decref(answer);

    if (rc != AW_RPC_OK) {
        return rc;
    }

    if (!json_is_string(result)
        || axon_quantity_parse_u64(&id, json_string_value(result)) != AXON_OK)
    {
        json_decref(result);
        return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "eth_chainId: the "
                           "result is not a quantity");
    }

    json_decref(result);

    aw_rpc_url_name(name, sizeof(name), u->url);

    if (id != rpc->chain_id) {
        u->wrong_chain = 1;
        aw_log(AW_LOG_EMERG, "%s: %s is on chain %llu, not eth_chain_id "
               "%llu: refusing it", rpc->name, name, (unsigned long long) id,
               (unsigned long long) rpc->chain_id);
        return aw_rpc_fail(rpc, AW_RPC_ECHAIN, "%s is on chain %llu, not "
                           "eth_chain_id %llu", name, (unsigned long long) id,
                           (unsigned long long) rpc->chain_id);
    }

    u->chain_ok = 1;

    aw_log(AW_LOG_INFO, "%s: %s is on chain %llu", rpc->name, name,
           (unsigned long long) id);

    return AW_RPC_OK;
}


static void
aw_rpc_url_down(aw_rpc_t *rpc, aw_rpc_url_t *u)
{
    aw_msec_t  delay;

    /* from the end of the failed request, which may have timed out */
    delay = aw_backoff_fail(&u->backoff, aw_monotonic_msec());

    /* once when it goes down, then quietly while it stays down */
    aw_log(u->up || u->backoff.failures == 1 ? AW_LOG_WARN : AW_LOG_DEBUG,
           "%s: %s; retrying this URL in %lld ms%s", rpc->name, rpc->error,
           (long long) delay, rpc->nurls > 1 ? ", failing over" : "");

    u->up = 0;
    u->chain_ok = 0;
    u->errors++;
}


static json_t *
aw_rpc_request(aw_rpc_t *rpc, const char *method, json_t *params,
    json_int_t *id)
{
    json_t  *r;

    if (params == NULL) {
        params = json_array();
    }

    *id = (json_int_t) rpc->next_id++;

    r = json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "2.0", "id", *id,
                  "method", method, "params", params);

    return r;
}


/*
 * Checks a JSON-RPC 2.0 answer object: "jsonrpc": "2.0", the id (unless
 * id is -1), exactly one of result and error.
 */

static int
aw_rpc_envelope(aw_rpc_t *rpc, json_t *answer, json_int_t id,
    const char *method, json_t **result)
{
    json_t      *v, *res, *err, *code, *msg;
    const char  *s;

    *result = NULL;

    if (!json_is_object(answer)) {
        return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "%s: an answer is not a "
                           "JSON object", method);
    }

    v = json_object_get(answer, "jsonrpc");
    s = json_string_value(v);

    if (s == NULL || strcmp(s, "2.0") != 0) {
        return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "%s: \"jsonrpc\" is not "
                           "\"2.0\"", method);
    }

    res = json_object_get(answer, "result");
    err = json_object_get(answer, "error");

    if ((res == NULL) == (err == NULL)) {
        return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "%s: the answer must "
                           "have exactly one of \"result\" and \"error\"",
                           method);
    }

    if (err) {
        code = json_object_get(err, "code");
        msg = json_object_get(err, "message");

        if (!json_is_integer(code) || !json_is_string(msg)) {
            return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "%s: a malformed "
                               "error object", method);
        }

        rpc->rpc_code = (long) json_integer_value(code);

        return aw_rpc_fail(rpc, AW_RPC_ERPC, "%s: error %lld: %.300s",
                           method, (long long) json_integer_value(code),
                           json_string_value(msg));
    }

    v = json_object_get(answer, "id");

    if (id != -1 && (!json_is_integer(v) || json_integer_value(v) != id)) {
        return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "%s: the answer's id is "
                           "not the request's (%lld)", method,
                           (long long) id);
    }

    *result = json_incref(res);

    return AW_RPC_OK;
}


int
aw_rpc_fail(aw_rpc_t *rpc, int rc, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    vsnprintf(rpc->error, sizeof(rpc->error), fmt, args);
    va_end(args);

    rpc->rc = rc;

    return rc;
}


/*
 * A URL as logged: scheme://host[:port], and "/..." for a path, which often
 * holds a provider's API key.
 */

static void
aw_rpc_url_name(char *buf, size_t size, const char *url)
{
    size_t       scheme, hostlen, i;
    const char  *host, *rest;

    host = strstr(url, "://");
    host = host ? host + 3 : url;
    scheme = host - url;
    hostlen = strcspn(host, "/?#");
    rest = host + hostlen;

    /* user:password@ is dropped too */
    for (i = hostlen; i > 0; i--) {
        if (host[i - 1] == '@') {
            hostlen -= i;
            host += i;
            break;
        }
    }

    snprintf(buf, size, "%.*s%.*s%s", (int) scheme, url, (int) hostlen, host,
             rest[0] && strcmp(rest, "/") != 0 ? "/..." : "");
}
