
/*
 * axon-worker: x402 settlement by a facilitator (x402_settle facilitator):
 * POST /verify, then /settle, over libcurl (see x402.c for the flow).  The
 * row is marked 'sent' before /settle, so that a /settle that timed out is
 * asked again, which the facilitator answers for the same authorization.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "log.h"
#include "worker.h"
#include "x402.h"


static const char *aw_x402_str(json_t *obj, const char *name);
static int aw_x402_verify(aw_x402_t *x, json_t *body, aw_x402_outcome_e *out);
static aw_x402_outcome_e aw_x402_settled(aw_x402_t *x, json_t *answer,
    long status);
static int aw_x402_http(const char *path, json_t *body, long *status,
    json_t **answer, char *err, size_t errlen);


static aw_db_stmt_t  aw_x402_state_stmt = aw_db_stmt("x402_state",
    "UPDATE x402_payments SET state = $3"
    " WHERE nonce = $1 AND payer = $2 AND state = $4");


/* a string field of an answer, "" when absent */

static const char *
aw_x402_str(json_t *obj, const char *name)
{
    const char  *s;

    s = json_string_value(json_object_get(obj, name));

    return s ? s : "";
}


/* settlement by the facilitator: /verify, then /settle */

aw_x402_outcome_e
aw_x402_facilitator(aw_x402_t *x)
{
    int                rc;
    long               status;
    char               err[256];
    json_t            *body, *answer;
    aw_x402_outcome_e  out;

    body = json_pack("{s:i, s:O, s:O}", "x402Version", 2,
                     "paymentPayload", x->payload,
                     "paymentRequirements", x->requirements);
    if (body == NULL) {
        return aw_x402_later(x, "out of memory");
    }

    if (strcmp(x->state, "new") == 0
        && aw_x402_verify(x, body, &out) != AW_OK)
    {
        return out;
    }

    rc = aw_x402_http("/settle", body, &status, &answer, err, sizeof(err));
    json_decref(body);

    if (rc != AW_OK) {
        /* it may have settled: ask again later, it answers for the same */
        return aw_x402_later(x, "/settle: %s; asking again", err);
    }

    return aw_x402_settled(x, answer, status);
}


/*
 * /verify, then the row marked 'sent': from here the facilitator may move
 * the money.  AW_ERROR with the outcome in *out, and body freed.
 */

static int
aw_x402_verify(aw_x402_t *x, json_t *body, aw_x402_outcome_e *out)
{
    int          rc;
    long         status;
    char         err[256];
    json_t      *answer, *v;
    PGresult    *pg;
    const char  *params[4], *s;

    rc = aw_x402_http("/verify", body, &status, &answer, err,
                      sizeof(err));

    if (rc != AW_OK) {
        json_decref(body);
        *out = aw_x402_fail(x, "facilitator_unavailable", "/verify: %s",
                            err);
        return AW_ERROR;
    }

    v = json_object_get(answer, "isValid");

    if (!json_is_true(v)) {
        if (!json_is_boolean(v)) {
            aw_x402_fail(x, "facilitator_error", "/verify answered "
                         "HTTP %ld without isValid", status);
        } else {
            s = json_string_value(json_object_get(answer,
                                                  "invalidReason"));
            aw_x402_fail(x, s ? s : "invalid_payment", "/verify: %s",
                         aw_x402_str(answer, "invalidMessage"));
        }

        json_decref(answer);
        json_decref(body);
        *out = AW_X402_FAILED;
        return AW_ERROR;
    }

    json_decref(answer);

    /* from here the facilitator may move the money: 'sent' first */

    params[0] = x->nonce;
    params[1] = x->payer;
    params[2] = "sent";
    params[3] = "new";

    pg = aw_db_query_prepared(&aw_worker.db, &aw_x402_state_stmt, 4,
                              params);
    if (pg == NULL) {
        json_decref(body);
        *out = aw_x402_later(x, "postgres: %s", aw_worker.db.error);
        return AW_ERROR;
    }

    PQclear(pg);
    strcpy(x->state, "sent");

    return AW_OK;
}


/* what /settle answered; answer is freed */

static aw_x402_outcome_e
aw_x402_settled(aw_x402_t *x, json_t *answer, long status)
{
    PGresult    *pg;
    aw_hash_t    hash;
    const char  *params[3], *s;

    /* the hash, lowercase as we keep it; anything else: none */
    s = json_string_value(json_object_get(answer, "transaction"));
    x->tx[0] = '\0';

    if (s && aw_eth_parse_bytes(s, 32, hash.b) == AW_OK) {
        aw_eth_hex(x->tx, hash.b, 32);
    }

    if (json_is_true(json_object_get(answer, "success"))) {
        json_decref(answer);

        if (x->tx[0] == '\0') {
            return aw_x402_later(x, "/settle succeeded without a "
                                 "transaction hash; asking again");
        }

        params[0] = x->nonce;
        params[1] = x->payer;
        params[2] = x->tx;

        pg = aw_db_query(&aw_worker.db, "UPDATE x402_payments"
                         " SET sent_txs = array_append(sent_txs, $3::text)"
                         " WHERE nonce = $1 AND payer = $2"
                         " AND NOT $3::text = ANY (sent_txs)", 3, params);
        if (pg == NULL) {
            return aw_x402_later(x, "postgres: %s", aw_worker.db.error);
        }

        PQclear(pg);

        /* its transfer seen on chain, and where it is in the transaction */
        return aw_x402_receipt(x);
    }

    s = json_string_value(json_object_get(answer, "errorReason"));

    if (s && strcmp(s, "settlement_pending") == 0) {
        json_decref(answer);
        return aw_x402_later(x, "/settle: settlement_pending (%s); asking "
                             "again", x->tx);
    }

    if (!json_is_false(json_object_get(answer, "success"))) {
        json_decref(answer);
        return aw_x402_later(x, "/settle answered HTTP %ld without "
                             "success; asking again", status);
    }

    aw_x402_fail(x, s ? s : "settlement_failed", "/settle: %s",
                 aw_x402_str(answer, "errorMessage"));
    json_decref(answer);

    return AW_X402_FAILED;
}


typedef struct {
    char    *buf;
    size_t   len;
} aw_x402_buf_t;


static size_t
aw_x402_write(char *p, size_t size, size_t n, void *data)
{
    aw_x402_buf_t  *b = data;

    char    *nb;
    size_t   len;

    len = size * n;

    if (b->len + len > AW_X402_HTTP_MAX) {
        return 0;
    }

    nb = realloc(b->buf, b->len + len + 1);
    if (nb == NULL) {
        return 0;
    }

    memcpy(nb + b->len, p, len);
    b->buf = nb;
    b->len += len;
    b->buf[b->len] = '\0';

    return len;
}


/*
 * POST x402_facilitator_url + path with a JSON body: AW_OK with the HTTP
 * status and the JSON answer (an object), else AW_ERROR with why.
 */

static int
aw_x402_http(const char *path, json_t *body, long *status, json_t **answer,
    char *err, size_t errlen)
{
    char               *text, url[1100];
    CURL               *c;
    CURLcode            rc;
    aw_conf_t          *conf;
    json_error_t        je;
    aw_x402_buf_t       b;
    struct curl_slist  *h;

    conf = aw_worker.conf;
    *answer = NULL;

    snprintf(url, sizeof(url), "%s%s", conf->x402_facilitator_url, path);

    /* "https://f.example/" + "/settle" */
    if (strlen(conf->x402_facilitator_url) > 0
        && conf->x402_facilitator_url[strlen(conf->x402_facilitator_url) - 1]
           == '/')
    {
        snprintf(url, sizeof(url), "%s%s", conf->x402_facilitator_url,
                 path + 1);
    }

    text = json_dumps(body, JSON_COMPACT);
    c = curl_easy_init();
    h = curl_slist_append(NULL, "Content-Type: application/json");

    if (text == NULL || c == NULL || h == NULL) {
        free(text);
        curl_slist_free_all(h);
        if (c) {
            curl_easy_cleanup(c);
        }
        snprintf(err, errlen, "out of memory");
        return AW_ERROR;
    }

    memset(&b, 0, sizeof(b));

    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
                     (long) conf->x402_facilitator_timeout);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, aw_x402_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);

    rc = curl_easy_perform(c);

    *status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);

    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    free(text);

    if (rc != CURLE_OK) {
        free(b.buf);
        snprintf(err, errlen, "the facilitator did not answer: %s",
                 curl_easy_strerror(rc));
        return AW_ERROR;
    }

    *answer = b.buf ? json_loads(b.buf, 0, &je) : NULL;
    free(b.buf);

    if (!json_is_object(*answer)) {
        json_decref(*answer);
        *answer = NULL;
        snprintf(err, errlen, "the facilitator answered HTTP %ld without a "
                 "JSON object", *status);
        return AW_ERROR;
    }

    return AW_OK;
}
