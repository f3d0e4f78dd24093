/*
 * axon-worker: the Ethereum JSON-RPC client (see rpc.h).
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
#include "log.h"
#include "rpc.h"


#define AW_RPC_MAX_ANSWER  (64 * 1024 * 1024)


typedef struct {
    char    *data;
    size_t   len;
    size_t   size;
} aw_rpc_buf_t;


static int aw_rpc_exchange(aw_rpc_t *rpc, json_t *request, json_t **answer);
static int aw_rpc_post(aw_rpc_t *rpc, aw_rpc_url_t *u, const char *body,
    size_t len, json_t **answer);
static int aw_rpc_check_chain(aw_rpc_t *rpc, aw_rpc_url_t *u);
static void aw_rpc_url_down(aw_rpc_t *rpc, aw_rpc_url_t *u);
static size_t aw_rpc_write(char *p, size_t size, size_t n, void *data);
static json_t *aw_rpc_request(aw_rpc_t *rpc, const char *method,
    json_t *params, json_int_t *id);
static int aw_rpc_envelope(aw_rpc_t *rpc, json_t *answer, json_int_t id,
    const char *method, json_t **result);
static int aw_rpc_fail(aw_rpc_t *rpc, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void aw_rpc_url_name(char *buf, size_t size, const char *url);

static int aw_rpc_qty(aw_rpc_t *rpc, json_t *obj, const char *field,
    uint64_t *v);
static int aw_rpc_hash(aw_rpc_t *rpc, json_t *obj, const char *field,
    aw_hash_t *h);
static int aw_rpc_addr(aw_rpc_t *rpc, json_t *obj, const char *field,
    aw_addr_t *a, int nullable);
static int aw_rpc_parse_block(aw_rpc_t *rpc, json_t *j, aw_eth_block_t *b);
static int aw_rpc_parse_tx(aw_rpc_t *rpc, json_t *j, aw_eth_tx_t *tx);
static int aw_rpc_parse_receipt(aw_rpc_t *rpc, json_t *j,
    aw_eth_receipt_t *r);
static int aw_rpc_parse_log(aw_rpc_t *rpc, json_t *j, aw_eth_log_t *log);
static int aw_rpc_parse_logs(aw_rpc_t *rpc, json_t *j, aw_eth_log_t **logs,
    size_t *n);
static json_t *aw_rpc_hex_json(const uint8_t *p, size_t n);
static int aw_rpc_quantity(aw_rpc_t *rpc, const char *method,
    json_t *params, uint64_t *v);
static json_t *aw_rpc_qty_json(uint64_t v);


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
 * urls: a comma-separated list of http:// or https:// URLs, "" for none.
 * A new list starts over: every URL is tried again, the chain id checked
 * again.
 */

int
aw_rpc_configure(aw_rpc_t *rpc, const char *urls, aw_msec_t timeout,
    uint64_t chain_id, unsigned batch_max, aw_msec_t reconnect_min,
    aw_msec_t reconnect_max)
{
    char          *list, *p, *url, *save;
    size_t         len;
    unsigned       i, n;
    aw_rpc_url_t   parsed[AW_RPC_MAX_URLS];

    list = strdup(urls);
    if (list == NULL) {
        aw_log(AW_LOG_ERR, "%s: out of memory", rpc->name);
        return AW_ERROR;
    }

    memset(parsed, 0, sizeof(parsed));
    n = 0;

    for (p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        p += strspn(p, " \t");
        len = strlen(p);

        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t')) {
            p[--len] = '\0';
        }

        if (len == 0) {
            continue;
        }

        if (n == AW_RPC_MAX_URLS) {
            aw_log(AW_LOG_ERR, "%s: more than %d RPC URLs, the rest ignored",
                   rpc->name, AW_RPC_MAX_URLS);
            break;
        }

        url = strdup(p);
        if (url == NULL) {
            aw_log(AW_LOG_ERR, "%s: out of memory", rpc->name);

            for (i = 0; i < n; i++) {
                free(parsed[i].url);
            }

            free(list);
            return AW_ERROR;
        }

        parsed[n].url = url;
        aw_backoff_init(&parsed[n].backoff, reconnect_min, reconnect_max);

        /* a URL that never worked gets no immediate retry */
        parsed[n].backoff.ok_since = aw_monotonic_msec();
        n++;
    }

    free(list);

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
    json_t      *request, *answer, *one, *jid;
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

    json_decref(answer);

    return AW_RPC_OK;
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
        || aw_eth_parse_quantity(json_string_value(result), &id) != AW_OK)
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


static int
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


/* ---- the typed calls ---------------------------------------------------- */


int
aw_rpc_chain_id(aw_rpc_t *rpc, uint64_t *id)
{
    return aw_rpc_quantity(rpc, "eth_chainId", NULL, id);
}


int
aw_rpc_block_number(aw_rpc_t *rpc, uint64_t *number)
{
    return aw_rpc_quantity(rpc, "eth_blockNumber", NULL, number);
}


/* a call whose result is one quantity ("0x..."), as a number */

static int
aw_rpc_quantity(aw_rpc_t *rpc, const char *method, json_t *params,
    uint64_t *v)
{
    int      rc;
    json_t  *r;

    rc = aw_rpc_call(rpc, method, params, &r);

    if (rc == AW_RPC_OK
        && (!json_is_string(r)
            || aw_eth_parse_quantity(json_string_value(r), v) != AW_OK))
    {
        rc = aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "%s: the result is not a "
                         "quantity", method);
    }

    json_decref(r);

    return rc;
}


int
aw_rpc_get_block(aw_rpc_t *rpc, uint64_t number, aw_eth_block_t *block)
{
    int  rc, one;

    rc = aw_rpc_get_blocks(rpc, number, 1, block, &one);

    return rc == AW_RPC_OK ? one : rc;
}


/*
 * Blocks first .. first + n - 1, in batches of at most eth_rpc_batch_max;
 * rcs[i]: AW_RPC_OK, AW_RPC_NOT_FOUND (not mined yet) or an error.
 */

int
aw_rpc_get_blocks(aw_rpc_t *rpc, uint64_t first, size_t n,
    aw_eth_block_t *blocks, int *rcs)
{
    int          rc, res[256];
    size_t       i, k, chunk;
    json_t      *params[256], *results[256];
    const char  *methods[256];

    for (i = 0; i < n; i += chunk) {
        chunk = aw_min(n - i, aw_min(rpc->batch_max, 256));

        for (k = 0; k < chunk; k++) {
            methods[k] = "eth_getBlockByNumber";
            params[k] = json_pack("[o, b]", aw_rpc_qty_json(first + i + k), 0);
        }

        rc = aw_rpc_batch(rpc, chunk, methods, params, results, res);

        if (rc != AW_RPC_OK) {
            return rc;
        }

        for (k = 0; k < chunk; k++) {
            rcs[i + k] = res[k];

            if (res[k] != AW_RPC_OK) {
                continue;
            }

            if (json_is_null(results[k])) {
                rcs[i + k] = AW_RPC_NOT_FOUND;

            } else {
                rcs[i + k] = aw_rpc_parse_block(rpc, results[k],
                                                &blocks[i + k]);
            }

            json_decref(results[k]);
        }
    }

    return AW_RPC_OK;
}


int
aw_rpc_get_transaction(aw_rpc_t *rpc, const aw_hash_t *hash, aw_eth_tx_t *tx)
{
    int      rc;
    json_t  *r;

    rc = aw_rpc_call(rpc, "eth_getTransactionByHash",
                     json_pack("[o]", aw_rpc_hex_json(hash->b, 32)), &r);

    if (rc == AW_RPC_OK) {
        rc = json_is_null(r) ? AW_RPC_NOT_FOUND
                             : aw_rpc_parse_tx(rpc, r, tx);
    }

    json_decref(r);

    return rc;
}


int
aw_rpc_get_receipt(aw_rpc_t *rpc, const aw_hash_t *hash,
    aw_eth_receipt_t *receipt)
{
    int  rc, one;

    rc = aw_rpc_get_receipts(rpc, hash, 1, receipt, &one);

    return rc == AW_RPC_OK ? one : rc;
}


/*
 * The receipts of n transactions, batched; rcs[i]: AW_RPC_OK,
 * AW_RPC_NOT_FOUND (unknown or pending) or an error.  Free each receipt
 * whose rc is AW_RPC_OK with aw_eth_receipt_free().
 */

int
aw_rpc_get_receipts(aw_rpc_t *rpc, const aw_hash_t *hashes, size_t n,
    aw_eth_receipt_t *receipts, int *rcs)
{
    int          rc, res[256];
    size_t       i, k, chunk;
    json_t      *params[256], *results[256];
    const char  *methods[256];

    for (i = 0; i < n; i++) {
        memset(&receipts[i], 0, sizeof(aw_eth_receipt_t));
        rcs[i] = AW_RPC_ETRANSPORT;
    }

    for (i = 0; i < n; i += chunk) {
        chunk = aw_min(n - i, aw_min(rpc->batch_max, 256));

        for (k = 0; k < chunk; k++) {
            methods[k] = "eth_getTransactionReceipt";
            params[k] = json_pack("[o]", aw_rpc_hex_json(hashes[i + k].b, 32));
        }

        rc = aw_rpc_batch(rpc, chunk, methods, params, results, res);

        if (rc != AW_RPC_OK) {
            for (k = 0; k < i; k++) {
                if (rcs[k] == AW_RPC_OK) {
                    aw_eth_receipt_free(&receipts[k]);
                }

                rcs[k] = rc;
            }

            return rc;
        }

        for (k = 0; k < chunk; k++) {
            rcs[i + k] = res[k];

            if (res[k] != AW_RPC_OK) {
                continue;
            }

            if (json_is_null(results[k])) {
                rcs[i + k] = AW_RPC_NOT_FOUND;

            } else {
                rcs[i + k] = aw_rpc_parse_receipt(rpc, results[k],
                                                  &receipts[i + k]);
            }

            json_decref(results[k]);
        }
    }

    return AW_RPC_OK;
}


int
aw_rpc_get_logs(aw_rpc_t *rpc, const aw_eth_filter_t *f, aw_eth_log_t **logs,
    size_t *nlogs)
{
    int       rc;
    size_t    i;
    json_t   *filter, *addrs, *topics, *r;

    *logs = NULL;
    *nlogs = 0;

    filter = json_pack("{s:o, s:o}", "fromBlock",
                       aw_rpc_qty_json(f->from_block), "toBlock",
                       aw_rpc_qty_json(f->to_block));

    if (filter == NULL) {
        return aw_rpc_fail(rpc, AW_RPC_ENOMEM, "out of memory");
    }

    if (f->naddresses) {
        addrs = json_array();

        for (i = 0; i < f->naddresses; i++) {
            json_array_append_new(addrs,
                                  aw_rpc_hex_json(f->addresses[i].b, 20));
        }

        json_object_set_new(filter, "address", addrs);
    }

    if (f->ntopics) {
        topics = json_array();

        for (i = 0; i < f->ntopics && i < AW_RPC_MAX_TOPICS; i++) {
            json_array_append_new(topics, f->topics[i]
                                  ? aw_rpc_hex_json(f->topics[i]->b, 32)
                                  : json_null());
        }

        json_object_set_new(filter, "topics", topics);
    }

    rc = aw_rpc_call(rpc, "eth_getLogs", json_pack("[o]", filter), &r);

    if (rc == AW_RPC_OK) {
        rc = aw_rpc_parse_logs(rpc, r, logs, nlogs);
    }

    json_decref(r);

    return rc;
}


/*
 * balanceOf(owner) of an ERC-20 token, at the latest block.
 */

int
aw_rpc_erc20_balance(aw_rpc_t *rpc, const aw_addr_t *token,
    const aw_addr_t *owner, aw_u256_t *balance)
{
    uint8_t  data[4 + 32];

    /* keccak256("balanceOf(address)")[0..4], the owner as a 32-byte word */
    memcpy(data, "\x70\xa0\x82\x31", 4);
    memset(data + 4, 0, 12);
    memcpy(data + 16, owner->b, 20);

    return aw_rpc_call_word(rpc, token, data, sizeof(data), balance);
}


/* eth_call at "latest" of a view that returns one 32-byte word */

int
aw_rpc_call_word(aw_rpc_t *rpc, const aw_addr_t *to, const uint8_t *data,
    size_t len, aw_u256_t *word)
{
    int          rc;
    json_t      *r;
    const char  *s;

    rc = aw_rpc_call(rpc, "eth_call",
                     json_pack("[{s:o, s:o}, s]",
                               "to", aw_rpc_hex_json(to->b, 20),
                               "data", aw_rpc_hex_json(data, len),
                               "latest"), &r);

    if (rc != AW_RPC_OK) {
        return rc;
    }

    s = json_string_value(r);

    if (s == NULL || aw_eth_parse_bytes(s, 32, word->b) != AW_OK) {
        /* "0x" from an address without code, or anything but one word */
        rc = aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "eth_call: the result is "
                         "not one 32-byte word (is %s a contract of that "
                         "kind?)", s ? s : "?");
    }

    json_decref(r);

    return rc;
}


int
aw_rpc_nonce(aw_rpc_t *rpc, const aw_addr_t *account, uint64_t *nonce)
{
    return aw_rpc_quantity(rpc, "eth_getTransactionCount",
                           json_pack("[o, s]",
                                     aw_rpc_hex_json(account->b, 20),
                                     "pending"), nonce);
}


int
aw_rpc_fees(aw_rpc_t *rpc, aw_u256_t *max_fee, aw_u256_t *tip)
{
    int          i, rc, carry;
    json_t      *r;
    aw_u256_t    base;
    const char  *s;

    rc = aw_rpc_call(rpc, "eth_getBlockByNumber",
                     json_pack("[s, b]", "latest", 0), &r);
    if (rc != AW_RPC_OK) {
        return rc;
    }

    s = json_string_value(json_object_get(r, "baseFeePerGas"));

    if (s == NULL || aw_eth_parse_u256(s, &base) != AW_OK
        || base.b[0] >= 0x40)
    {
        json_decref(r);
        return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "eth_getBlockByNumber: "
                           "no baseFeePerGas (is the chain past London?)");
    }

    json_decref(r);

    rc = aw_rpc_call(rpc, "eth_maxPriorityFeePerGas", NULL, &r);

    if (rc == AW_RPC_ERPC) {
        /* 1 gwei */
        memset(tip->b, 0, 32);
        tip->b[28] = 0x3b;
        tip->b[29] = 0x9a;
        tip->b[30] = 0xca;
        tip->b[31] = 0x00;

    } else if (rc != AW_RPC_OK) {
        return rc;

    } else {
        s = json_string_value(r);

        if (s == NULL || aw_eth_parse_u256(s, tip) != AW_OK
            || tip->b[0] >= 0x40)
        {
            json_decref(r);
            return aw_rpc_fail(rpc, AW_RPC_EMALFORMED,
                               "eth_maxPriorityFeePerGas: the result is not "
                               "a quantity");
        }

        json_decref(r);
    }

    /* max_fee = 2 * base + tip: both below 2^254, no overflow */
    carry = 0;

    for (i = 31; i >= 0; i--) {
        carry += 2 * base.b[i] + tip->b[i];
        max_fee->b[i] = (uint8_t) carry;
        carry >>= 8;
    }

    return AW_RPC_OK;
}


int
aw_rpc_estimate_gas(aw_rpc_t *rpc, const aw_addr_t *from,
    const aw_addr_t *to, const uint8_t *data, size_t len, uint64_t *gas)
{
    return aw_rpc_quantity(rpc, "eth_estimateGas",
                           json_pack("[{s:o, s:o, s:o}]",
                                     "from", aw_rpc_hex_json(from->b, 20),
                                     "to", aw_rpc_hex_json(to->b, 20),
                                     "data", aw_rpc_hex_json(data, len)),
                           gas);
}


int
aw_rpc_send_raw(aw_rpc_t *rpc, const uint8_t *raw, size_t len)
{
    int      rc;
    json_t  *r;

    rc = aw_rpc_call(rpc, "eth_sendRawTransaction",
                     json_pack("[o]", aw_rpc_hex_json(raw, len)), &r);

    if (rc == AW_RPC_ERPC
        && (strstr(rpc->error, "already known") != NULL
            || strstr(rpc->error, "known transaction") != NULL))
    {
        return AW_RPC_OK;
    }

    json_decref(r);

    return rc;
}


void
aw_eth_receipt_free(aw_eth_receipt_t *receipt)
{
    aw_eth_logs_free(receipt->logs, receipt->nlogs);
    receipt->logs = NULL;
    receipt->nlogs = 0;
}


void
aw_eth_logs_free(aw_eth_log_t *logs, size_t n)
{
    size_t  i;

    for (i = 0; logs && i < n; i++) {
        free(logs[i].data);
    }

    free(logs);
}


/* ---- parsing -------------------------------------------------------------- */


/*
 * s is "0x" and 1 to 64 bits of hex digits (leading zeros tolerated):
 * the encoding of a QUANTITY.
 */

int
aw_eth_parse_quantity(const char *s, uint64_t *v)
{
    uint64_t     n;
    unsigned     digits;
    const char  *p;

    if (s[0] != '0' || s[1] != 'x' || s[2] == '\0') {
        return AW_ERROR;
    }

    n = 0;
    digits = 0;

    for (p = s + 2; *p; p++) {
        int  d;

        if (*p >= '0' && *p <= '9') {
            d = *p - '0';
        } else if (*p >= 'a' && *p <= 'f') {
            d = *p - 'a' + 10;
        } else if (*p >= 'A' && *p <= 'F') {
            d = *p - 'A' + 10;
        } else {
            return AW_ERROR;
        }

        if (n == 0 && d == 0) {
            continue;
        }

        if (++digits > 16) {
            return AW_ERROR;
        }

        n = n << 4 | (uint64_t) d;
    }

    *v = n;

    return AW_OK;
}


/* a QUANTITY of up to 256 bits, as 32 big-endian bytes */

int
aw_eth_parse_u256(const char *s, aw_u256_t *v)
{
    size_t       len, i;
    const char  *p;
    char         padded[65];

    if (s[0] != '0' || s[1] != 'x' || s[2] == '\0') {
        return AW_ERROR;
    }

    p = s + 2;

    while (*p == '0' && p[1]) {
        p++;
    }

    len = strlen(p);

    if (len > 64) {
        return AW_ERROR;
    }

    for (i = 0; i < 64 - len; i++) {
        padded[i] = '0';
    }

    memcpy(padded + 64 - len, p, len);
    padded[64] = '\0';

    return axon_hex_decode(v->b, 32, padded, 64) == AXON_OK ? AW_OK : AW_ERROR;
}


/* DATA of exactly len bytes: "0x" and 2 * len hex digits */

int
aw_eth_parse_bytes(const char *s, size_t len, uint8_t *out)
{
    if (s[0] != '0' || s[1] != 'x') {
        return AW_ERROR;
    }

    return axon_hex_decode(out, len, s, strlen(s)) == AXON_OK
           ? AW_OK : AW_ERROR;
}


char *
aw_u256_to_decimal(const aw_u256_t *v, char buf[80])
{
    int       i, all_zero;
    char      digits[80];
    size_t    n, k;
    uint8_t   x[32];
    unsigned  rem;

    memcpy(x, v->b, 32);
    n = 0;

    do {
        /* x /= 10, the remainder is the next digit */
        rem = 0;
        all_zero = 1;

        for (i = 0; i < 32; i++) {
            unsigned  cur = rem << 8 | x[i];

            x[i] = (uint8_t) (cur / 10);
            rem = cur % 10;

            if (x[i]) {
                all_zero = 0;
            }
        }

        digits[n++] = (char) ('0' + rem);

    } while (!all_zero);

    for (k = 0; k < n; k++) {
        buf[k] = digits[n - 1 - k];
    }

    buf[n] = '\0';

    return buf;
}


char *
aw_eth_hex(char *buf, const uint8_t *p, size_t n)
{
    buf[0] = '0';
    buf[1] = 'x';
    axon_hex_encode(buf + 2, p, n);
    buf[2 + 2 * n] = '\0';

    return buf;
}


static json_t *
aw_rpc_hex_json(const uint8_t *p, size_t n)
{
    char    *buf;
    json_t  *j;

    buf = malloc(3 + 2 * n);
    if (buf == NULL) {
        return NULL;
    }

    j = json_string(aw_eth_hex(buf, p, n));
    free(buf);

    return j;
}


static json_t *
aw_rpc_qty_json(uint64_t v)
{
    char  buf[24];

    snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long) v);

    return json_string(buf);
}


static int
aw_rpc_qty(aw_rpc_t *rpc, json_t *obj, const char *field, uint64_t *v)
{
    const char  *s;

    s = json_string_value(json_object_get(obj, field));

    if (s == NULL || aw_eth_parse_quantity(s, v) != AW_OK) {
        return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "\"%s\" is not a "
                           "quantity", field);
    }

    return AW_RPC_OK;
}


static int
aw_rpc_hash(aw_rpc_t *rpc, json_t *obj, const char *field, aw_hash_t *h)
{
    const char  *s;

    s = json_string_value(json_object_get(obj, field));

    if (s == NULL || aw_eth_parse_bytes(s, 32, h->b) != AW_OK) {
        return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "\"%s\" is not a 32-byte "
                           "hash", field);
    }

    return AW_RPC_OK;
}


/* returns AW_RPC_NOT_FOUND for a null the field may be */

static int
aw_rpc_addr(aw_rpc_t *rpc, json_t *obj, const char *field, aw_addr_t *a,
    int nullable)
{
    json_t      *v;
    const char  *s;

    v = json_object_get(obj, field);

    if (nullable && (v == NULL || json_is_null(v))) {
        memset(a, 0, sizeof(aw_addr_t));
        return AW_RPC_NOT_FOUND;
    }

    s = json_string_value(v);

    if (s == NULL || aw_eth_parse_bytes(s, 20, a->b) != AW_OK) {
        return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "\"%s\" is not an "
                           "address", field);
    }

    return AW_RPC_OK;
}


static int
aw_rpc_parse_block(aw_rpc_t *rpc, json_t *j, aw_eth_block_t *b)
{
    if (!json_is_object(j)) {
        return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "a block is not an "
                           "object");
    }

    if (aw_rpc_qty(rpc, j, "number", &b->number) != AW_RPC_OK
        || aw_rpc_qty(rpc, j, "timestamp", &b->timestamp) != AW_RPC_OK
        || aw_rpc_hash(rpc, j, "hash", &b->hash) != AW_RPC_OK
        || aw_rpc_hash(rpc, j, "parentHash", &b->parent_hash) != AW_RPC_OK)
    {
        return AW_RPC_EMALFORMED;
    }

    return AW_RPC_OK;
}


static int
aw_rpc_parse_tx(aw_rpc_t *rpc, json_t *j, aw_eth_tx_t *tx)
{
    int          rc;
    json_t      *bn;
    const char  *s;

    memset(tx, 0, sizeof(aw_eth_tx_t));

    if (!json_is_object(j)) {
        return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "a transaction is not an "
                           "object");
    }

    if (aw_rpc_hash(rpc, j, "hash", &tx->hash) != AW_RPC_OK
        || aw_rpc_addr(rpc, j, "from", &tx->from, 0) != AW_RPC_OK
        || aw_rpc_qty(rpc, j, "nonce", &tx->nonce) != AW_RPC_OK)
    {
        return AW_RPC_EMALFORMED;
    }

    rc = aw_rpc_addr(rpc, j, "to", &tx->to, 1);

    if (rc == AW_RPC_EMALFORMED) {
        return rc;
    }

    tx->has_to = (rc == AW_RPC_OK);

    s = json_string_value(json_object_get(j, "value"));

    if (s == NULL || aw_eth_parse_u256(s, &tx->value) != AW_OK) {
        return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "\"value\" is not a "
                           "256-bit quantity");
    }

    bn = json_object_get(j, "blockNumber");

    if (bn == NULL || json_is_null(bn)) {
        tx->pending = 1;
        return AW_RPC_OK;
    }

    if (aw_rpc_qty(rpc, j, "blockNumber", &tx->block_number) != AW_RPC_OK
        || aw_rpc_hash(rpc, j, "blockHash", &tx->block_hash) != AW_RPC_OK
        || aw_rpc_qty(rpc, j, "transactionIndex", &tx->index) != AW_RPC_OK)
    {
        return AW_RPC_EMALFORMED;
    }

    return AW_RPC_OK;
}


static int
aw_rpc_parse_receipt(aw_rpc_t *rpc, json_t *j, aw_eth_receipt_t *r)
{
    int       rc;
    uint64_t  status;

    memset(r, 0, sizeof(aw_eth_receipt_t));

    if (!json_is_object(j)) {
        return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "a receipt is not an "
                           "object");
    }

    if (aw_rpc_hash(rpc, j, "transactionHash", &r->tx_hash) != AW_RPC_OK
        || aw_rpc_hash(rpc, j, "blockHash", &r->block_hash) != AW_RPC_OK
        || aw_rpc_qty(rpc, j, "blockNumber", &r->block_number) != AW_RPC_OK
        || aw_rpc_qty(rpc, j, "transactionIndex", &r->tx_index) != AW_RPC_OK
        || aw_rpc_addr(rpc, j, "from", &r->from, 0) != AW_RPC_OK
        || aw_rpc_qty(rpc, j, "status", &status) != AW_RPC_OK)
    {
        return AW_RPC_EMALFORMED;
    }

    if (status > 1) {
        return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "\"status\" is neither "
                           "0x0 nor 0x1");
    }

    r->status = (unsigned) status;

    rc = aw_rpc_addr(rpc, j, "to", &r->to, 1);

    if (rc == AW_RPC_EMALFORMED) {
        return rc;
    }

    r->has_to = (rc == AW_RPC_OK);

    return aw_rpc_parse_logs(rpc, json_object_get(j, "logs"), &r->logs,
                             &r->nlogs);
}


static int
aw_rpc_parse_logs(aw_rpc_t *rpc, json_t *j, aw_eth_log_t **logs, size_t *n)
{
    size_t         i;
    aw_eth_log_t  *l;

    *logs = NULL;
    *n = 0;

    if (!json_is_array(j)) {
        return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "\"logs\" is not an "
                           "array");
    }

    if (json_array_size(j) == 0) {
        return AW_RPC_OK;
    }

    l = calloc(json_array_size(j), sizeof(aw_eth_log_t));
    if (l == NULL) {
        return aw_rpc_fail(rpc, AW_RPC_ENOMEM, "out of memory");
    }

    for (i = 0; i < json_array_size(j); i++) {
        if (aw_rpc_parse_log(rpc, json_array_get(j, i), &l[i]) != AW_RPC_OK) {
            aw_eth_logs_free(l, i + 1);
            return rpc->rc;
        }
    }

    *logs = l;
    *n = i;

    return AW_RPC_OK;
}


static int
aw_rpc_parse_log(aw_rpc_t *rpc, json_t *j, aw_eth_log_t *log)
{
    size_t       i, len;
    json_t      *topics, *removed;
    const char  *s;

    if (!json_is_object(j)) {
        return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "a log is not an object");
    }

    if (aw_rpc_addr(rpc, j, "address", &log->address, 0) != AW_RPC_OK
        || aw_rpc_qty(rpc, j, "blockNumber", &log->block_number) != AW_RPC_OK
        || aw_rpc_hash(rpc, j, "blockHash", &log->block_hash) != AW_RPC_OK
        || aw_rpc_hash(rpc, j, "transactionHash", &log->tx_hash) != AW_RPC_OK
        || aw_rpc_qty(rpc, j, "transactionIndex", &log->tx_index)
           != AW_RPC_OK
        || aw_rpc_qty(rpc, j, "logIndex", &log->log_index) != AW_RPC_OK)
    {
        return AW_RPC_EMALFORMED;
    }

    topics = json_object_get(j, "topics");

    if (!json_is_array(topics) || json_array_size(topics) > AW_RPC_MAX_TOPICS)
    {
        return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "\"topics\" is not an "
                           "array of at most %d", AW_RPC_MAX_TOPICS);
    }

    for (i = 0; i < json_array_size(topics); i++) {
        s = json_string_value(json_array_get(topics, i));

        if (s == NULL || aw_eth_parse_bytes(s, 32, log->topics[i].b) != AW_OK)
        {
            return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "a topic is not a "
                               "32-byte hash");
        }
    }

    log->ntopics = (unsigned) i;

    s = json_string_value(json_object_get(j, "data"));
    len = s ? strlen(s) : 0;

    if (s == NULL || len < 2 || len % 2) {
        return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "\"data\" is not hex "
                           "bytes");
    }

    log->data_len = (len - 2) / 2;

    if (log->data_len) {
        log->data = malloc(log->data_len);

        if (log->data == NULL) {
            return aw_rpc_fail(rpc, AW_RPC_ENOMEM, "out of memory");
        }

        if (aw_eth_parse_bytes(s, log->data_len, log->data) != AW_OK) {
            return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "\"data\" is not hex "
                               "bytes");
        }
    }

    removed = json_object_get(j, "removed");

    if (removed && !json_is_boolean(removed)) {
        return aw_rpc_fail(rpc, AW_RPC_EMALFORMED, "\"removed\" is not a "
                           "boolean");
    }

    log->removed = json_is_true(removed);

    return AW_RPC_OK;
}
