/*
 * GPU sessions, the gate's side.  The module knows nothing of GPUs: it
 * reads what axon-worker publishes in Redis and queues jobs for it.
 *
 *   axon:profiles          string, JSON: {"profiles": [{"name", "gpus",
 *                          "price", ...}], ...}, written by the worker
 *   axon:session:next      the last session id given out (INCR)
 *   axon:session:ID        hash: id wallet profile mode gpus state
 *                          created_at, then the worker's fields (position
 *                          reason upstream started_at ended_at end_reason
 *                          billed_minutes grace_until heartbeat connect_*)
 *   axon:wallet:ADDR       hash: balance (the worker's), session (the id of
 *                          the wallet's latest session)
 *
 * GET  /api/profiles           the profiles and what is free
 * POST /api/session            claim: 202 and a session.claim job
 * GET  /api/session            the latest session's state
 * DELETE /api/session/queue    leave the queue: a session.leave job
 * POST /api/session/heartbeat  the session is in use
 * POST /api/release            end it: a session.release job; the token
 *                              may also come as {"auth_token": ...}
 *
 * `axon_gate session`, which routes to the session: ngx_http_axon_route.c.
 */


#include "ngx_http_axon_module.h"

#include "axon_sshkey.h"


#define NGX_HTTP_AXON_PROFILE_MAX    32


static void ngx_http_axon_profiles_reply(ngx_http_request_t *r,
    redisReply *reply, void *data);
static void ngx_http_axon_claim_reply(ngx_http_request_t *r,
    redisReply *reply, void *data);
static void ngx_http_axon_status_reply(ngx_http_request_t *r,
    redisReply *reply, void *data);
static void ngx_http_axon_leave_reply(ngx_http_request_t *r,
    redisReply *reply, void *data);
static void ngx_http_axon_heartbeat_reply(ngx_http_request_t *r,
    redisReply *reply, void *data);
static ngx_int_t ngx_http_axon_release_body(ngx_http_request_t *r,
    json_t *body);
static void ngx_http_axon_release_resume(ngx_http_request_t *r);
static ngx_int_t ngx_http_axon_release_send(ngx_http_request_t *r);
static void ngx_http_axon_release_reply(ngx_http_request_t *r,
    redisReply *reply, void *data);
static json_t *ngx_http_axon_session_value(ngx_str_t *name,
    ngx_str_t *value);
static ngx_int_t ngx_http_axon_session_live(redisReply *reply,
    ngx_http_request_t *r, ngx_int_t *rc);
static ngx_int_t ngx_http_axon_session_job(ngx_http_request_t *r,
    const axon_script_t *script, ngx_http_axon_redis_handler_pt handler);
static void ngx_http_axon_session_accepted(ngx_http_request_t *r,
    redisReply *reply, const char *status);


/* GET /api/profiles */

ngx_int_t
ngx_http_axon_profiles_handler(ngx_http_request_t *r)
{
    const char  *argv[2];
    size_t       argvlen[2];

    argv[0] = "GET";
    argvlen[0] = 3;
    argv[1] = AXON_KEY_PROFILES;
    argvlen[1] = sizeof(AXON_KEY_PROFILES) - 1;

    return ngx_http_axon_redis_wait(r,
               ngx_http_axon_redis_command(r, ngx_http_axon_profiles_reply,
                                           NULL, 2, argv, argvlen));
}


static void
ngx_http_axon_profiles_reply(ngx_http_request_t *r, redisReply *reply,
    void *data)
{
    json_t     *v;
    ngx_int_t   rc;

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        ngx_http_axon_finalize(r, ngx_http_axon_redis_unavailable(r));
        return;
    }

    v = NULL;

    if (reply->type == REDIS_REPLY_STRING) {
        v = json_loadb(reply->str, reply->len, 0, NULL);

        if (!json_is_array(json_object_get(v, "profiles"))) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "axon: malformed " AXON_KEY_PROFILES
                          " in redis");
            json_decref(v);
            v = NULL;
        }
    }

    if (v == NULL) {
        rc = ngx_http_axon_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "worker_unavailable",
                                      "the worker has not published the "
                                      "GPU profiles yet");
        ngx_http_axon_finalize(r, rc);
        return;
    }

    ngx_http_axon_finalize(r, ngx_http_axon_send_json(r, NGX_HTTP_OK, v));
}


/*
 * POST /api/session {"profile": NAME, "mode": "desktop"|"ssh",
 * "ssh_public_key": KEY (mode ssh)}.  The key is checked strictly here.  One
 * script checks and claims atomically: no live session for the wallet
 * (409), a known profile (400), SSH mode not turned off by the worker's
 * ssh_sessions ("ssh": false in axon:profiles: 400), a balance that pays
 * the first minute and the grace's reserve, gpus x price x (1 +
 * "grace_minutes" of axon:profiles) (402: every minute a session runs,
 * its grace included, is paid from the balance); then a new id, the
 * session's hash, and the session.claim job.
 */

static const axon_script_t  ngx_http_axon_claim_script =
    AXON_SCRIPT(SESSION_CLAIM);


ngx_int_t
ngx_http_axon_session_handler(ngx_http_request_t *r)
{
    static const axon_script_t  status = AXON_SCRIPT(SESSION_STATUS);

    ngx_http_axon_session_args_t  *a;

    if (r->method == NGX_HTTP_POST) {
        return ngx_http_axon_read_json(r, ngx_http_axon_claim_body);
    }

    a = ngx_http_axon_session_args(r);
    if (a == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_axon_redis_wait(r,
               ngx_http_axon_redis_script(r, ngx_http_axon_status_reply,
                   NULL, &status, 1, 1,
                   (const char *[]) { (const char *) a->wallet_key },
                   (const size_t[]) { sizeof(a->wallet_key) }));
}


ngx_int_t
ngx_http_axon_claim_body(ngx_http_request_t *r, json_t *body)
{
    u_char                        *p, *last;
    size_t                         len, keylen;
    json_t                        *jp, *jm, *jk;
    const char                    *profile, *mode, *key, *why;
    ngx_http_axon_session_args_t  *a;

    jp = json_object_get(body, "profile");
    jm = json_object_get(body, "mode");

    if (!json_is_string(jp)) {
        return ngx_http_axon_send_error(r, NGX_HTTP_BAD_REQUEST,
                                        "bad_request",
                                        "\"profile\" must be a string");
    }

    profile = json_string_value(jp);
    len = json_string_length(jp);

    last = (u_char *) profile + len;

    for (p = (u_char *) profile; p < last; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
              || *p == '-' || *p == '_'))
        {
            break;
        }
    }

    if (len == 0 || len > NGX_HTTP_AXON_PROFILE_MAX || p != last) {
        return ngx_http_axon_send_error(r, NGX_HTTP_BAD_REQUEST,
                                        "unknown_profile",
                                        "no such profile: see "
                                        "GET /api/profiles");
    }

    mode = "desktop";

    if (jm && !json_is_null(jm)) {
        if (!json_is_string(jm)
            || (ngx_strcmp(json_string_value(jm), "desktop") != 0
                && ngx_strcmp(json_string_value(jm), "ssh") != 0))
        {
            return ngx_http_axon_send_error(r, NGX_HTTP_BAD_REQUEST,
                                            "bad_request",
                                            "\"mode\" must be \"desktop\" "
                                            "or \"ssh\"");
        }

        mode = json_string_value(jm);
    }

    jk = json_object_get(body, "ssh_public_key");
    key = "";
    keylen = 0;

    if (ngx_strcmp(mode, "ssh") == 0) {
        if (!json_is_string(jk)) {
            return ngx_http_axon_send_error(r, NGX_HTTP_BAD_REQUEST,
                                            "bad_ssh_key",
                                            "an SSH session needs "
                                            "\"ssh_public_key\": one "
                                            "authorized_keys line");
        }

        key = json_string_value(jk);
        keylen = json_string_length(jk);

        if (axon_ssh_key_check(key, keylen, &why) != AXON_OK) {
            return ngx_http_axon_send_error(r, NGX_HTTP_BAD_REQUEST,
                                            "bad_ssh_key", why);
        }

    } else if (jk && !json_is_null(jk)) {
        return ngx_http_axon_send_error(r, NGX_HTTP_BAD_REQUEST,
                                        "bad_request",
                                        "\"ssh_public_key\" is for "
                                        "\"mode\": \"ssh\"");
    }

    a = ngx_http_axon_session_args(r);
    if (a == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_axon_redis_wait(r,
               ngx_http_axon_redis_script(r, ngx_http_axon_claim_reply,
                   NULL, &ngx_http_axon_claim_script, 4, 9,
                   (const char *[]) {
                       (const char *) a->wallet_key,
                       AXON_KEY_PROFILES, AXON_KEY_SESSION_NEXT,
                       AXON_KEY_JOBS, a->wallet, profile, mode,
                       (const char *) a->now, key },
                   (const size_t[]) {
                       sizeof(a->wallet_key),
                       sizeof(AXON_KEY_PROFILES) - 1,
                       sizeof(AXON_KEY_SESSION_NEXT) - 1,
                       sizeof(AXON_KEY_JOBS) - 1,
                       AXON_ADDR_TEXT_LEN, len, ngx_strlen(mode),
                       a->now_len, keylen }));
}


static void
ngx_http_axon_claim_reply(ngx_http_request_t *r, redisReply *reply,
    void *data)
{
    json_t                *body;
    ngx_int_t              rc, code;
    redisReply           **e;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements == 0
        || reply->element[0]->type != REDIS_REPLY_INTEGER)
    {
        ngx_http_axon_finalize(r, ngx_http_axon_redis_unavailable(r));
        return;
    }

    e = reply->element;
    code = (ngx_int_t) e[0]->integer;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "axon session: claim script answered %i", code);

    switch (code) {

    case AXON_CLAIM_OK:
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "axon: session %*s claimed", (size_t) e[1]->len,
                      e[1]->str);

        body = json_pack("{s:I, s:s}",
                         "session_id", (json_int_t) atoll(e[1]->str),
                         "status", "queued");

        /* what was claimed (the original's claim answer names it too) */
        if (body && reply->elements >= 4
            && e[2]->type == REDIS_REPLY_STRING
            && e[3]->type == REDIS_REPLY_STRING)
        {
            json_object_set_new(body, "profile",
                                json_stringn(e[2]->str, e[2]->len));
            json_object_set_new(body, "mode",
                                json_stringn(e[3]->str, e[3]->len));
        }

        rc = body ? ngx_http_axon_send_json(r, NGX_HTTP_ACCEPTED, body)
                  : NGX_HTTP_INTERNAL_SERVER_ERROR;
        break;

    case AXON_CLAIM_EXISTS:
        body = json_pack("{s:{s:s, s:s, s:I, s:s#}}", "error",
                         "code", "session_exists",
                         "message", "the wallet already has a session: "
                                    "release it first",
                         "session_id", (json_int_t) atoll(e[1]->str),
                         "status", e[2]->str, (size_t) e[2]->len);

        rc = body ? ngx_http_axon_send_json(r, NGX_HTTP_CONFLICT, body)
                  : NGX_HTTP_INTERNAL_SERVER_ERROR;
        break;

    case AXON_CLAIM_NO_PROFILE:
        rc = ngx_http_axon_send_error(r, NGX_HTTP_BAD_REQUEST,
                                      "unknown_profile",
                                      "no such profile: see "
                                      "GET /api/profiles");
        break;

    case AXON_CLAIM_SSH_OFF:
        rc = ngx_http_axon_send_error(r, NGX_HTTP_BAD_REQUEST,
                                      "ssh_disabled",
                                      "SSH sessions are off on this "
                                      "platform");
        break;

    case AXON_CLAIM_CREDITS:
        body = json_pack("{s:{s:s, s:s, s:I, s:I, s:I}}", "error",
                         "code", "insufficient_credits",
                         "message", "the balance does not pay for the "
                                    "first minute and the grace "
                                    "(needed_minutes): deposit first",
                         "balance_minutes", (json_int_t) atoll(e[1]->str),
                         "needed_minutes", (json_int_t) atoll(e[2]->str),
                         "grace_minutes", (json_int_t) atoll(e[3]->str));

        rc = body ? ngx_http_axon_send_json(r, 402,
                                            body)
                  : NGX_HTTP_INTERNAL_SERVER_ERROR;
        break;

    default:
        rc = ngx_http_axon_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "worker_unavailable",
                                      "the worker has not published the "
                                      "GPU profiles (or the session "
                                      "counter) yet");
    }

    ngx_http_axon_finalize(r, rc);
}


static void
ngx_http_axon_status_reply(ngx_http_request_t *r, redisReply *reply,
    void *data)
{
    json_t  *body;

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        ngx_http_axon_finalize(r, ngx_http_axon_redis_unavailable(r));
        return;
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) {
        ngx_http_axon_finalize(r,
            ngx_http_axon_send_error(r, NGX_HTTP_NOT_FOUND, "no_session",
                                     "no session yet: claim one with "
                                     "POST /api/session"));
        return;
    }

    body = ngx_http_axon_session_json(reply);

    ngx_http_axon_finalize(r, body
                              ? ngx_http_axon_send_json(r, NGX_HTTP_OK, body)
                              : NGX_HTTP_INTERNAL_SERVER_ERROR);
}


/*
 * The session's hash as JSON: "id" is "session_id" and "state" "status";
 * counts are numbers, unix times ISO 8601 strings, connect_* fields go in
 * "connect"; upstream and heartbeat stay inside.
 */

/*
 * A running SSH session: ssh_host, ssh_port, ssh_user and the command to
 * paste, from its connect_* fields (host, port, user), set in o.  The one
 * builder of ssh_command: GET /api/session (beside "connect") and x402's
 * answer.  The worker checked the host's characters (ssh_host, or the
 * publish address) and the user is its own; the port must be a number.
 * NGX_DECLINED: not coordinates one can connect to, nothing set.
 */

ngx_int_t
ngx_http_axon_session_ssh(json_t *o, const char *host, const char *port,
    const char *user)
{
    char       cmd[384];
    ngx_int_t  n;

    if (host == NULL || port == NULL || user == NULL) {
        return NGX_DECLINED;
    }

    n = ngx_atoi((u_char *) port, ngx_strlen(port));

    if (n < 1 || n > 65535 || *host == '\0' || ngx_strlen(host) > 255
        || *user == '\0' || ngx_strlen(user) > 32)
    {
        return NGX_DECLINED;
    }

    ngx_snprintf((u_char *) cmd, sizeof(cmd) - 1,
                 "ssh -p %i -o StrictHostKeyChecking=accept-new %s@%s%Z",
                 n, user, host);

    if (json_object_set_new(o, "ssh_host", json_string(host)) != 0
        || json_object_set_new(o, "ssh_port", json_integer(n)) != 0
        || json_object_set_new(o, "ssh_user", json_string(user)) != 0
        || json_object_set_new(o, "ssh_command", json_string(cmd)) != 0)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * A field of the session's hash as the API gives it: the name it has there
 * (id is session_id, state is status) and its value typed (times as ISO
 * 8601, counts as numbers).
 */

static json_t *
ngx_http_axon_session_value(ngx_str_t *name, ngx_str_t *value)
{
    size_t   n;
    u_char   iso[NGX_HTTP_AXON_ISO8601_LEN + 1];

    static const char  *numbers[] = {
        "gpus", "position", "billed_minutes", "queued", NULL
    };

    if (name->len == 2 && ngx_strncmp(name->data, "id", 2) == 0) {
        ngx_str_set(name, "session_id");
        return json_integer(ngx_atoi(value->data, value->len));
    }

    if (name->len == 5 && ngx_strncmp(name->data, "state", 5) == 0) {
        ngx_str_set(name, "status");
        return json_stringn((char *) value->data, value->len);
    }

    if ((name->len > 3
         && ngx_strncmp(name->data + name->len - 3, "_at", 3) == 0)
        || (name->len == 11
            && ngx_strncmp(name->data, "grace_until", 11) == 0))
    {
        *ngx_http_axon_iso8601(iso, (time_t) ngx_atotm(value->data,
                                                       value->len))
            = '\0';
        return json_string((char *) iso);
    }

    for (n = 0; numbers[n]; n++) {
        if (name->len == ngx_strlen(numbers[n])
            && ngx_strncmp(name->data, numbers[n], name->len) == 0)
        {
            return json_integer(ngx_atoi(value->data, value->len));
        }
    }

    return json_stringn((char *) value->data, value->len);
}


json_t *
ngx_http_axon_session_json(redisReply *fields)
{
    size_t       i;
    json_t      *o, *connect, *v;
    const char  *mode;
    ngx_str_t    name, value;
    redisReply  *k, *val;

    o = json_object();
    connect = json_object();

    if (o == NULL || connect == NULL) {
        goto failed;
    }

    for (i = 0; i + 1 < fields->elements; i += 2) {
        k = fields->element[i];
        val = fields->element[i + 1];

        if (k->type != REDIS_REPLY_STRING || val->type != REDIS_REPLY_STRING
            || val->len == 0)
        {
            /* the worker writes "" for a field that does not apply now */
            continue;
        }

        name.data = (u_char *) k->str;
        name.len = k->len;
        value.data = (u_char *) val->str;
        value.len = val->len;

        if ((name.len == sizeof(AXON_SESSION_UPSTREAM) - 1
             && ngx_strncmp(name.data, AXON_SESSION_UPSTREAM, name.len) == 0)
            || (name.len == sizeof(AXON_SESSION_HEARTBEAT) - 1
                && ngx_strncmp(name.data, AXON_SESSION_HEARTBEAT, name.len)
                   == 0))
        {
            continue;
        }

        v = ngx_http_axon_session_value(&name, &value);

        if (v == NULL) {
            goto failed;
        }

        if (name.len > 8 && ngx_strncmp(name.data, "connect_", 8) == 0) {
            if (json_object_setn_new(connect, (char *) name.data + 8,
                                     name.len - 8, v)
                != 0)
            {
                goto failed;
            }

            continue;
        }

        if (json_object_setn_new(o, (char *) name.data, name.len, v) != 0) {
            goto failed;
        }
    }

    mode = json_string_value(json_object_get(o, "mode"));

    if (mode && ngx_strcmp(mode, "ssh") == 0
        && ngx_http_axon_session_ssh(o,
               json_string_value(json_object_get(connect, "host")),
               json_string_value(json_object_get(connect, "port")),
               json_string_value(json_object_get(connect, "user")))
           == NGX_ERROR)
    {
        goto failed;
    }

    if (json_object_size(connect)) {
        if (json_object_set_new(o, "connect", connect) != 0) {
            connect = NULL;
            goto failed;
        }

    } else {
        json_decref(connect);
    }

    return o;

failed:

    json_decref(o);
    json_decref(connect);

    return NULL;
}


/* DELETE /api/session/queue */

ngx_int_t
ngx_http_axon_leave_handler(ngx_http_request_t *r)
{
    static const axon_script_t  leave = AXON_SCRIPT(SESSION_LEAVE);

    return ngx_http_axon_session_job(r, &leave, ngx_http_axon_leave_reply);
}


static void
ngx_http_axon_leave_reply(ngx_http_request_t *r, redisReply *reply,
    void *data)
{
    json_t     *body;
    ngx_int_t   rc;

    if (ngx_http_axon_session_live(reply, r, &rc) != NGX_OK) {
        ngx_http_axon_finalize(r, rc);
        return;
    }

    if (reply->element[0]->integer == AXON_LIVE_NOT_QUEUED) {
        body = json_pack("{s:{s:s, s:s, s:s#}}", "error",
                         "code", "not_queued",
                         "message", "the session is not in the queue "
                                    "any more: release it instead",
                         "status", reply->element[2]->str,
                         (size_t) reply->element[2]->len);
        rc = body ? ngx_http_axon_send_json(r, NGX_HTTP_CONFLICT, body)
                  : NGX_HTTP_INTERNAL_SERVER_ERROR;
        ngx_http_axon_finalize(r, rc);
        return;
    }

    ngx_http_axon_session_accepted(r, reply, "leaving");
}


/* POST /api/session/heartbeat: the worker's idle check reads heartbeat */

ngx_int_t
ngx_http_axon_heartbeat_handler(ngx_http_request_t *r)
{
    static const axon_script_t  heartbeat = AXON_SCRIPT(SESSION_HEARTBEAT);

    ngx_http_axon_session_args_t  *a;

    a = ngx_http_axon_session_args(r);
    if (a == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_axon_redis_wait(r,
               ngx_http_axon_redis_script(r, ngx_http_axon_heartbeat_reply,
                   NULL, &heartbeat, 1, 2,
                   (const char *[]) { (const char *) a->wallet_key,
                                      (const char *) a->now },
                   (const size_t[]) { sizeof(a->wallet_key),
                                      a->now_len }));
}


static void
ngx_http_axon_heartbeat_reply(ngx_http_request_t *r, redisReply *reply,
    void *data)
{
    u_char       iso[NGX_HTTP_AXON_ISO8601_LEN + 1];
    json_t      *body;
    ngx_int_t    rc;
    redisReply **e;

    if (ngx_http_axon_session_live(reply, r, &rc) != NGX_OK) {
        ngx_http_axon_finalize(r, rc);
        return;
    }

    e = reply->element;

    body = json_pack("{s:I, s:s#, s:I}",
                     "session_id", (json_int_t) atoll(e[1]->str),
                     "status", e[2]->str, (size_t) e[2]->len,
                     "balance_minutes", (json_int_t) atoll(e[3]->str));

    if (body && e[4]->len) {
        *ngx_http_axon_iso8601(iso, (time_t) atoll(e[4]->str)) = '\0';
        json_object_set_new(body, "grace_until", json_string((char *) iso));
    }

    ngx_http_axon_finalize(r, body
                              ? ngx_http_axon_send_json(r, NGX_HTTP_OK, body)
                              : NGX_HTTP_INTERNAL_SERVER_ERROR);
}


/*
 * POST /api/release: the token as the gate takes it, or (as the platform
 * this replaces accepted) in the body: {"auth_token": TOKEN}.
 */

ngx_int_t
ngx_http_axon_release_handler(ngx_http_request_t *r)
{
    ngx_http_axon_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_axon_module);

    if (ctx && ctx->has_wallet) {
        return ngx_http_axon_release_send(r);
    }

    return ngx_http_axon_read_json(r, ngx_http_axon_release_body);
}


static ngx_int_t
ngx_http_axon_release_body(ngx_http_request_t *r, json_t *body)
{
    json_t               *jt;
    ngx_int_t             rc;
    ngx_str_t             token;
    ngx_http_axon_ctx_t  *ctx;

    ctx = ngx_http_axon_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    jt = json_object_get(body, "auth_token");

    /* the request stays ours until release_resume finalizes it */
    r->main->count++;

    if (!json_is_string(jt) || json_string_length(jt) == 0) {
        ctx->gate_code = "no_token";
        ngx_http_axon_release_resume(r);
        return NGX_DONE;
    }

    token.len = json_string_length(jt);
    token.data = ngx_pnalloc(r->pool, token.len);
    if (token.data == NULL) {
        r->main->count--;
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(token.data, json_string_value(jt), token.len);

    ctx->resume = ngx_http_axon_release_resume;

    rc = ngx_http_axon_token_check(r, ctx, &token);

    if (rc == NGX_ERROR) {
        r->main->count--;
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_OK) {
        ngx_http_axon_release_resume(r);
    }

    return NGX_DONE;
}


/* the body's token is checked: finish as a request that waited for Redis */

static void
ngx_http_axon_release_resume(ngx_http_request_t *r)
{
    ngx_int_t             rc;
    ngx_http_axon_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_axon_module);

    if (ctx->gate_code) {
        if (ngx_strcmp(ctx->gate_code, "redis_unavailable") == 0) {
            rc = ngx_http_axon_redis_unavailable(r);

        } else {
            rc = ngx_http_axon_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                          ctx->gate_code,
                                          "sign in first: a valid token as "
                                          "Bearer, cookie, token argument "
                                          "or \"auth_token\"");
        }

        ngx_http_axon_finalize(r, rc);
        return;
    }

    rc = ngx_http_axon_release_send(r);

    if (rc != NGX_DONE) {
        ngx_http_axon_finalize(r, rc);
        return;
    }

    /* release_send took its own reference */
    r->main->count--;
}


static ngx_int_t
ngx_http_axon_release_send(ngx_http_request_t *r)
{
    static const axon_script_t  release = AXON_SCRIPT(SESSION_RELEASE);

    return ngx_http_axon_session_job(r, &release,
                                     ngx_http_axon_release_reply);
}


static void
ngx_http_axon_release_reply(ngx_http_request_t *r, redisReply *reply,
    void *data)
{
    ngx_int_t  rc;

    if (ngx_http_axon_session_live(reply, r, &rc) != NGX_OK) {
        ngx_http_axon_finalize(r, rc);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "axon: session %*s: release asked",
                  (size_t) reply->element[1]->len, reply->element[1]->str);

    ngx_http_axon_session_accepted(r, reply, "ending");
}


/*
 * A reply of a script of the live session (lua/session_*.lua): NGX_OK
 * when it is an array {code, id, state, ...} of a live session; otherwise
 * *rc is the answer (503 for Redis, 404 no_session).
 */

static ngx_int_t
ngx_http_axon_session_live(redisReply *reply, ngx_http_request_t *r,
    ngx_int_t *rc)
{
    size_t  i;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements == 0
        || reply->element[0]->type != REDIS_REPLY_INTEGER)
    {
        *rc = ngx_http_axon_redis_unavailable(r);
        return NGX_ERROR;
    }

    if (reply->element[0]->integer == AXON_LIVE_NONE) {
        *rc = ngx_http_axon_send_error(r, NGX_HTTP_NOT_FOUND, "no_session",
                                       "no live session: claim one with "
                                       "POST /api/session");
        return NGX_ERROR;
    }

    for (i = 1; i < reply->elements; i++) {
        if (reply->element[i]->type != REDIS_REPLY_STRING) {
            *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            return NGX_ERROR;
        }
    }

    if (reply->elements < 3) {
        *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * A script that queues a job for the wallet's live session (leave,
 * release): its keys are the wallet's and the queue, its argument the
 * wallet.
 */

static ngx_int_t
ngx_http_axon_session_job(ngx_http_request_t *r,
    const axon_script_t *script, ngx_http_axon_redis_handler_pt handler)
{
    ngx_http_axon_session_args_t  *a;

    a = ngx_http_axon_session_args(r);
    if (a == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_axon_redis_wait(r,
               ngx_http_axon_redis_script(r, handler, NULL, script, 2, 3,
                   (const char *[]) { (const char *) a->wallet_key,
                                      AXON_KEY_JOBS, a->wallet },
                   (const size_t[]) { sizeof(a->wallet_key),
                                      sizeof(AXON_KEY_JOBS) - 1,
                                      AXON_ADDR_TEXT_LEN }));
}


/* 202 {session_id, status}: the job is queued, the worker does the rest */

static void
ngx_http_axon_session_accepted(ngx_http_request_t *r, redisReply *reply,
    const char *status)
{
    json_t  *body;

    body = json_pack("{s:I, s:s}",
                     "session_id",
                     (json_int_t) atoll(reply->element[1]->str),
                     "status", status);

    ngx_http_axon_finalize(r, body
                              ? ngx_http_axon_send_json(r, NGX_HTTP_ACCEPTED,
                                                        body)
                              : NGX_HTTP_INTERNAL_SERVER_ERROR);
}


/* the wallet's key, the wallet, now: what most scripts of a session take */

ngx_http_axon_session_args_t *
ngx_http_axon_session_args(ngx_http_request_t *r)
{
    ngx_http_axon_ctx_t           *ctx;
    ngx_http_axon_session_args_t  *a;

    ctx = ngx_http_get_module_ctx(r, ngx_http_axon_module);

    if (ctx == NULL || !ctx->has_wallet) {
        return NULL;
    }

    a = ngx_palloc(r->pool, sizeof(ngx_http_axon_session_args_t));
    if (a == NULL) {
        return NULL;
    }

    ngx_memcpy(a->wallet_key, AXON_KEY_WALLET,
               sizeof(AXON_KEY_WALLET) - 1);
    axon_address_format_lower((char *) a->wallet_key
                              + sizeof(AXON_KEY_WALLET) - 1,
                              ctx->wallet);

    axon_address_format_lower(a->wallet, ctx->wallet);
    a->wallet[AXON_ADDR_TEXT_LEN] = '\0';

    a->now_len = ngx_sprintf(a->now, "%T", ngx_time()) - a->now;

    return a;
}
