/*
 * axon-worker: session containers through the Docker Engine HTTP API, the
 * API that dockerd and `podman system service` both serve, over a unix
 * socket (unix:///PATH) or HTTPS with a client certificate (docker's
 * --tlsverify model: launcher_tls_ca, launcher_tls_cert, launcher_tls_key).
 * The same operations as the docker CLI backend of launcher.c, and the
 * same containers, labels and volumes:
 *
 *   start    POST /volumes/create       (home_keep: the wallet's home,
 *                                        one that exists is kept)
 *            POST /containers/create?name=NAME
 *                {Image, Labels, Env, ExposedPorts, HostConfig:
 *                 {PortBindings, NetworkMode, Binds,
 *                  DeviceRequests: [{Driver: nvidia, DeviceIDs, gpu}]}}
 *            POST /containers/NAME/start
 *            GET  /containers/NAME/json  (only without a pool port: the
 *                                        port the engine chose)
 *   state    GET  /containers/NAME/json
 *   remove   POST /containers/NAME/stop?t=GRACE; DELETE /containers/NAME
 *   list     GET  /containers/json?all=1&filters={"label":[axon.session]}
 *   homes    GET  /volumes?filters={"label":[axon.home]}
 *   home_remove  DELETE /volumes/NAME  (409 while a container uses it)
 *
 * One call, one answer: list needs no second command as the CLI's ps and
 * inspect do, so no container vanishes between two.  The labels of
 * launcher_args' --label words go on containers and volumes alike (its
 * other words are the CLI's, which the configuration check refuses
 * here).  Every failure is the engine's own message ({"message": ...}),
 * with the HTTP status and the operation; every call is bounded by
 * launcher_timeout (a stop by launcher_timeout + launcher_stop_grace).
 * The VNC password travels in the request body, over the socket or TLS,
 * and is in no log.  The engine never pulls: the images must be on the
 * host (docker pull, podman pull, or scripts/session-image there).
 *
 * The API version in the paths is 1.41 (docker 20.10), which current
 * dockerd and podman 4 (its compat API) both accept.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "launcher.h"
#include "log.h"


#define AW_ENGINE_API        "/v1.41"
#define AW_ENGINE_MAX_ANSWER (16 * 1024 * 1024)


typedef struct {
    char    *data;
    size_t   len;
    size_t   size;
} aw_engine_buf_t;


static int aw_engine_start(aw_launcher_t *l, const aw_launch_t *req,
    aw_container_t *c);
static int aw_engine_state(aw_launcher_t *l, const char *name, char *state,
    size_t size);
static int aw_engine_remove(aw_launcher_t *l, const char *name);
static int aw_engine_list(aw_launcher_t *l, aw_container_t **list,
    size_t *n);
static int aw_engine_homes(aw_launcher_t *l, aw_home_t **list, size_t *n);
static int aw_engine_home_remove(aw_launcher_t *l, const char *wallet);

static int aw_engine_home_create(aw_launcher_t *l, const char *wallet,
    const char *home);
static json_t *aw_engine_create_body(aw_launcher_t *l,
    const aw_launch_t *req, const char *image, int port, const char *gpus,
    const char *home);
static json_t *aw_engine_labels(const aw_conf_t *conf);
static int aw_engine_port(aw_launcher_t *l, aw_container_t *c, int port);
static int aw_engine_inspect(aw_launcher_t *l, const char *name,
    json_t **answer);
static int aw_engine_call(aw_launcher_t *l, const char *what,
    const char *method, const char *path, json_t *body, aw_msec_t timeout,
    long *status, json_t **answer);
static int aw_engine_transfer(aw_launcher_t *l, const char *what,
    const char *method, const char *path, json_t *body, aw_msec_t timeout,
    long *status, aw_engine_buf_t *out);
static int aw_engine_setup(aw_launcher_t *l, const char *path,
    char *url, size_t size);
static void aw_engine_fail(aw_launcher_t *l, const char *what, long status,
    json_t *answer);
static char *aw_engine_filter(aw_launcher_t *l, const char *prefix,
    const char *label);
static size_t aw_engine_write(char *p, size_t size, size_t n, void *data);
static int aw_engine_exec(aw_launcher_t *l, int64_t session,
    const char *const *cmd, char **out);
static char *aw_engine_demux(const aw_engine_buf_t *b);
static void aw_engine_exec_fail(aw_launcher_t *l, const char *what,
    long status, json_t *answer);


const aw_launcher_ops_t  aw_engine_ops = {
    "engine",
    aw_engine_start,
    aw_engine_state,
    aw_engine_remove,
    aw_engine_list,
    aw_engine_homes,
    aw_engine_home_remove,
    aw_engine_exec
};


void
aw_launcher_free(aw_launcher_t *l)
{
    if (l->curl) {
        curl_easy_cleanup(l->curl);
        l->curl = NULL;
    }
}


/*
 * GET /_ping: whether the engine answers, for the worker's start and -t;
 * AW_ERROR with l->err naming the endpoint.  Does nothing for the CLI.
 */

int
aw_launcher_ping(aw_launcher_t *l)
{
    long     status;
    json_t  *answer;

    if (l->ops != &aw_engine_ops) {
        return AW_OK;
    }

    /* /_ping answers "OK", not JSON: the status is what counts */
    if (aw_engine_call(l, "ping", "GET", "/_ping", NULL,
                       l->conf->launcher_timeout, &status, &answer)
        != AW_OK)
    {
        return AW_ERROR;
    }

    json_decref(answer);

    if (status != 200) {
        snprintf(l->err, sizeof(l->err), "engine %s: ping: HTTP %ld",
                 l->endpoint, status);
        return AW_ERROR;
    }

    return AW_OK;
}


static int
aw_engine_start(aw_launcher_t *l, const aw_launch_t *req, aw_container_t *c)
{
    int               port, rc, conflict;
    char              gpus[AW_LAUNCHER_MAX_GPUS * 72], home[160],
                      path[256], err[sizeof(l->err)];
    long              status;
    json_t           *body, *answer;
    const char       *image, *id, *msg;
    const aw_conf_t  *conf;

    conf = l->conf;

    if (aw_launch_prepare(l, req, c, &image, &port, gpus, sizeof(gpus),
                          home, sizeof(home))
        != AW_OK)
    {
        return AW_ERROR;
    }

    if (home[0]) {
        if (aw_engine_home_create(l, req->wallet, home) != AW_OK) {
            return AW_ERROR;
        }
    }

    body = aw_engine_create_body(l, req, image, port, gpus,
                                 home[0] ? home : NULL);
    if (body == NULL) {
        snprintf(l->err, sizeof(l->err), "out of memory");
        return AW_ERROR;
    }

    snprintf(path, sizeof(path), "/containers/create?name=%s", c->name);

    rc = aw_engine_call(l, "create", "POST", path, body,
                        conf->launcher_timeout, &status, &answer);

    json_decref(body);

    if (rc != AW_OK) {
        return AW_ERROR;
    }

    if (status != 201) {
        aw_engine_fail(l, "create", status, answer);

        /*
         * a container of that name is someone's session: leave it (docker
         * answers 409, podman 500 "... already in use")
         */
        msg = json_string_value(json_object_get(answer, "message"));
        conflict = status == 409
                   || (msg && strstr(msg, "already in use") != NULL);
        json_decref(answer);

        if (!conflict) {
            memcpy(err, l->err, sizeof(err));
            aw_engine_remove(l, c->name);
            memcpy(l->err, err, sizeof(err));
        }

        return AW_ERROR;
    }

    id = json_string_value(json_object_get(answer, "Id"));
    snprintf(c->id, sizeof(c->id), "%s", id ? id : "");
    json_decref(answer);

    snprintf(path, sizeof(path), "/containers/%s/start", c->name);

    if (aw_engine_call(l, "start", "POST", path, NULL,
                       conf->launcher_timeout, &status, &answer)
        != AW_OK
        || (status != 204 && status != 304))
    {
        if (l->err[0] == '\0') {
            aw_engine_fail(l, "start", status, answer);
        }

        json_decref(answer);
        memcpy(err, l->err, sizeof(err));
        aw_engine_remove(l, c->name);
        memcpy(l->err, err, sizeof(err));
        return AW_ERROR;
    }

    json_decref(answer);

    aw_log(AW_LOG_INFO, "launcher: session %lld: started %s (%s, %.12s) "
           "from %s, gpus \"%s\", engine %s", (long long) req->session,
           c->name, aw_session_modes[req->mode], c->id, image, gpus,
           l->endpoint);

    if (req->port > 0) {
        c->port = req->port;
        return AW_OK;
    }

    if (aw_engine_port(l, c, port) != AW_OK) {
        memcpy(err, l->err, sizeof(err));
        aw_engine_remove(l, c->name);
        memcpy(l->err, err, sizeof(err));
        return AW_ERROR;
    }

    return AW_OK;
}


/*
 * The body of POST /containers/create: what the CLI backend's "docker run"
 * says in words (launcher.c), as the API's JSON.
 */

static json_t *
aw_engine_create_body(aw_launcher_t *l, const aw_launch_t *req,
    const char *image, int port, const char *gpus, const char *home)
{
    char              key[32], hostport[16];
    size_t            i;
    json_t           *labels, *env, *hc, *binding, *ids, *dev;
    aw_launch_env_t   vars;
    const char       *s, *end;
    const aw_conf_t  *conf;

    conf = l->conf;

    labels = aw_engine_labels(conf);
    env = json_array();
    hc = json_object();

    if (labels == NULL || env == NULL || hc == NULL) {
        json_decref(labels);
        json_decref(env);
        json_decref(hc);
        return NULL;
    }

    snprintf(key, sizeof(key), "%lld", (long long) req->session);
    json_object_set_new(labels, "axon.session", json_string(key));
    json_object_set_new(labels, "axon.wallet", json_string(req->wallet));
    json_object_set_new(labels, "axon.mode",
                        json_string(aw_session_modes[req->mode]));

    if (aw_launch_env(&vars, req, gpus) != AW_OK) {
        aw_launch_env_free(&vars);
        json_decref(labels);
        json_decref(env);
        json_decref(hc);
        return NULL;
    }

    for (i = 0; i < vars.n; i++) {
        json_array_append_new(env, json_string(vars.v[i]));
    }

    aw_launch_env_free(&vars);

    if (req->vnc_password && req->vnc_password[0]) {
        json_array_append_new(env, json_sprintf("AXON_VNC_PASSWORD=%s",
                                                req->vnc_password));
    }

    /* "" lets the engine choose the host port */
    snprintf(key, sizeof(key), "%d/tcp", port);
    snprintf(hostport, sizeof(hostport), "%d", req->port);
    binding = json_pack("{s:[{s:s, s:s}]}", key, "HostIp", l->addr,
                        "HostPort",
                        req->port > 0 ? hostport : "");
    json_object_set_new(hc, "PortBindings", binding);

    if (conf->launcher_network[0]) {
        json_object_set_new(hc, "NetworkMode",
                            json_string(conf->launcher_network));
    }

    if (home) {
        json_object_set_new(hc, "Binds",
                            json_pack("[s++]", home, ":", conf->home_path));
    }

    if (req->ngpus > 0 && conf->launcher_gpu_driver[0]) {
        ids = json_array();

        for (s = gpus; *s; s = end + (*end == ',')) {
            end = s + strcspn(s, ",");
            json_array_append_new(ids, json_stringn(s, end - s));
        }

        dev = json_pack("{s:s, s:o, s:[[s]]}", "Driver",
                        conf->launcher_gpu_driver, "DeviceIDs", ids,
                        "Capabilities", "gpu");
        json_object_set_new(hc, "DeviceRequests", json_pack("[o]", dev));
    }

    return json_pack("{s:s, s:o, s:o, s:{s:{}}, s:o}", "Image", image,
                     "Labels", labels, "Env", env, "ExposedPorts", key,
                     "HostConfig", hc);
}


/* the --label words of launcher_args as an object */

static json_t *
aw_engine_labels(const aw_conf_t *conf)
{
    size_t       len, klen;
    json_t      *labels;
    const char  *s, *label, *eq;

    labels = json_object();
    if (labels == NULL) {
        return NULL;
    }

    s = conf->launcher_args;

    while (aw_launcher_arg_label(&s, &label, &len)) {
        eq = memchr(label, '=', len);
        klen = eq ? (size_t) (eq - label) : len;

        json_object_setn_new(labels, label, klen,
                             eq ? json_stringn(eq + 1, len - klen - 1)
                                : json_string(""));
    }

    return labels;
}


/* the host port the engine chose for port/tcp */

static int
aw_engine_port(aw_launcher_t *l, aw_container_t *c, int port)
{
    char         key[32], state[64], *end;
    long         n;
    json_t      *answer, *ports, *b;
    size_t       i;
    const char  *hp;

    if (aw_engine_inspect(l, c->name, &answer) != AW_OK) {
        return AW_ERROR;
    }

    snprintf(key, sizeof(key), "%d/tcp", port);
    ports = json_object_get(json_object_get(json_object_get(answer,
                "NetworkSettings"), "Ports"), key);

    json_array_foreach(ports, i, b) {
        hp = json_string_value(json_object_get(b, "HostPort"));
        n = hp ? strtol(hp, &end, 10) : 0;

        if (hp && *end == '\0' && n > 0 && n < 65536) {
            c->port = (int) n;
            json_decref(answer);
            return AW_OK;
        }
    }

    json_decref(answer);

    /* an exited container has no ports: that is the news */
    if (aw_engine_state(l, c->name, state, sizeof(state)) == AW_OK
        && strncmp(state, "running", 7) != 0)
    {
        snprintf(l->err, sizeof(l->err), "%s is not running: %s", c->name,
                 state);

    } else {
        snprintf(l->err, sizeof(l->err), "%s: no host port for %s",
                 c->name, key);
    }

    aw_log(AW_LOG_ERR, "launcher: %s", l->err);

    return AW_ERROR;
}


/* GET /containers/NAME/json; 404 and the like are errors in l->err */

static int
aw_engine_inspect(aw_launcher_t *l, const char *name, json_t **answer)
{
    char  path[256];
    long  status;

    snprintf(path, sizeof(path), "/containers/%s/json", name);

    if (aw_engine_call(l, "inspect", "GET", path, NULL,
                       l->conf->launcher_timeout, &status, answer)
        != AW_OK)
    {
        return AW_ERROR;
    }

    if (status != 200 || !json_is_object(*answer)) {
        aw_engine_fail(l, "inspect", status, *answer);
        json_decref(*answer);
        *answer = NULL;
        return AW_ERROR;
    }

    return AW_OK;
}


/* as the CLI backend's: "running (exit code 0)", "exited (exit code 1)" */

static int
aw_engine_state(aw_launcher_t *l, const char *name, char *state,
    size_t size)
{
    char         err[sizeof(l->err)];
    json_t      *answer, *st;
    const char  *status;

    memcpy(err, l->err, sizeof(err));

    if (aw_engine_inspect(l, name, &answer) != AW_OK) {
        memcpy(l->err, err, sizeof(err));
        return AW_ERROR;            /* unknown: keep waiting */
    }

    st = json_object_get(answer, "State");
    status = json_string_value(json_object_get(st, "Status"));

    /* podman's "stopped" between the exit and its cleanup: docker's word */
    if (status && strcmp(status, "stopped") == 0) {
        status = "exited";
    }

    snprintf(state, size, "%s (exit code %lld)", status ? status : "unknown",
             (long long) json_integer_value(json_object_get(st,
                                                            "ExitCode")));
    json_decref(answer);

    return AW_OK;
}


static int
aw_engine_remove(aw_launcher_t *l, const char *name)
{
    char     path[256];
    long     status;
    json_t  *answer;

    l->err[0] = '\0';

    /* stop first, for the grace period; the call may take that long */
    snprintf(path, sizeof(path), "/containers/%s/stop?t=%lld", name,
             (long long) ((l->conf->launcher_stop_grace + 999) / 1000));

    if (aw_engine_call(l, "stop", "POST", path, NULL,
                       l->conf->launcher_timeout
                       + l->conf->launcher_stop_grace, &status, &answer)
        == AW_OK)
    {
        if (status == 404) {
            aw_log(AW_LOG_INFO, "launcher: %s: already gone", name);
            json_decref(answer);
            return AW_OK;
        }

        if (status != 204 && status != 304) {
            /* the removal may still do it */
            aw_engine_fail(l, "stop", status, answer);
        }

        json_decref(answer);
    }

    snprintf(path, sizeof(path), "/containers/%s?force=1", name);

    if (aw_engine_call(l, "remove", "DELETE", path, NULL,
                       l->conf->launcher_timeout, &status, &answer)
        != AW_OK)
    {
        return AW_ERROR;
    }

    if (status == 204 || status == 200 || status == 404) {
        aw_log(AW_LOG_INFO, "launcher: removed %s", name);
        json_decref(answer);
        l->err[0] = '\0';
        return AW_OK;
    }

    aw_engine_fail(l, "remove", status, answer);
    json_decref(answer);

    return AW_ERROR;
}


static int
aw_engine_list(aw_launcher_t *l, aw_container_t **list, size_t *n)
{
    char            *path, *end;
    long             status;
    size_t           i, count;
    json_t          *answer, *item, *labels, *names;
    const char      *s;
    aw_container_t  *all, *c;

    *list = NULL;
    *n = 0;
    l->err[0] = '\0';

    path = aw_engine_filter(l, "/containers/json?all=1&filters=",
                            "axon.session");
    if (path == NULL) {
        return AW_ERROR;
    }

    if (aw_engine_call(l, "list", "GET", path, NULL,
                       l->conf->launcher_timeout, &status, &answer)
        != AW_OK)
    {
        free(path);
        return AW_ERROR;
    }

    free(path);

    if (status != 200 || !json_is_array(answer)) {
        aw_engine_fail(l, "list", status, answer);
        json_decref(answer);
        return AW_ERROR;
    }

    all = calloc(json_array_size(answer) + 1, sizeof(aw_container_t));
    if (all == NULL) {
        snprintf(l->err, sizeof(l->err), "out of memory");
        json_decref(answer);
        return AW_ERROR;
    }

    count = 0;

    json_array_foreach(answer, i, item) {
        c = &all[count++];
        labels = json_object_get(item, "Labels");
        names = json_object_get(item, "Names");

        s = json_string_value(json_object_get(item, "Id"));
        snprintf(c->id, sizeof(c->id), "%s", s ? s : "");

        s = json_string_value(json_array_get(names, 0));
        snprintf(c->name, sizeof(c->name), "%s",
                 s ? s + (s[0] == '/') : "");     /* "/name" */

        s = json_string_value(json_object_get(item, "State"));
        snprintf(c->state, sizeof(c->state), "%s",
                 s == NULL ? "" : strcmp(s, "stopped") == 0 ? "exited" : s);

        s = json_string_value(json_object_get(labels, "axon.session"));
        c->session = s ? strtoll(s, &end, 10) : 0;

        if (s == NULL || *end != '\0' || c->session < 0) {
            c->session = 0;
        }

        s = json_string_value(json_object_get(labels, "axon.wallet"));
        snprintf(c->wallet, sizeof(c->wallet), "%s", s ? s : "");

        s = json_string_value(json_object_get(labels, "axon.mode"));
        c->mode = (s && strcmp(s, "ssh") == 0) ? AW_SESSION_SSH
                                                : AW_SESSION_DESKTOP;
    }

    json_decref(answer);

    *list = all;
    *n = count;

    return AW_OK;
}


/* ---- home volumes ------------------------------------------------------ */


/* the wallet's home volume, made if missing; one that exists is kept */

static int
aw_engine_home_create(aw_launcher_t *l, const char *wallet,
    const char *home)
{
    int          rc;
    long         status;
    json_t      *body, *labels, *answer;
    const char  *msg;

    labels = aw_engine_labels(l->conf);
    if (labels == NULL) {
        snprintf(l->err, sizeof(l->err), "out of memory");
        return AW_ERROR;
    }

    json_object_set_new(labels, AW_LAUNCHER_HOME_LABEL, json_string(wallet));

    body = json_pack("{s:s, s:o}", "Name", home, "Labels", labels);
    if (body == NULL) {
        snprintf(l->err, sizeof(l->err), "out of memory");
        return AW_ERROR;
    }

    if (l->conf->home_size[0]) {
        json_object_set_new(body, "DriverOpts",
                            json_pack("{s:s+}", "o", "size=",
                                      l->conf->home_size));
    }

    rc = aw_engine_call(l, "volume create", "POST", "/volumes/create", body,
                        l->conf->launcher_timeout, &status, &answer);
    json_decref(body);

    if (rc != AW_OK) {
        return AW_ERROR;
    }

    /* docker answers 201 for one that exists; podman 409 or 500 saying
     * "already exists" */
    msg = json_string_value(json_object_get(answer, "message"));

    if (status == 201 || status == 200
        || (msg && strcasestr(msg, "already exists") != NULL))
    {
        json_decref(answer);
        return AW_OK;
    }

    aw_engine_fail(l, "volume create", status, answer);
    json_decref(answer);

    return AW_ERROR;
}


static int
aw_engine_homes(aw_launcher_t *l, aw_home_t **list, size_t *n)
{
    char        *path;
    long         status;
    size_t       i, count;
    json_t      *answer, *vols, *v;
    aw_home_t   *all;
    const char  *name;

    *list = NULL;
    *n = 0;
    l->err[0] = '\0';

    path = aw_engine_filter(l, "/volumes?filters=", AW_LAUNCHER_HOME_LABEL);
    if (path == NULL) {
        return AW_ERROR;
    }

    if (aw_engine_call(l, "volume list", "GET", path, NULL,
                       l->conf->launcher_timeout, &status, &answer)
        != AW_OK)
    {
        free(path);
        return AW_ERROR;
    }

    free(path);

    vols = json_object_get(answer, "Volumes");

    if (status != 200 || !(json_is_array(vols) || json_is_null(vols))) {
        aw_engine_fail(l, "volume list", status, answer);
        json_decref(answer);
        return AW_ERROR;
    }

    all = calloc(json_array_size(vols) + 1, sizeof(aw_home_t));
    if (all == NULL) {
        snprintf(l->err, sizeof(l->err), "out of memory");
        json_decref(answer);
        return AW_ERROR;
    }

    count = 0;

    json_array_foreach(vols, i, v) {
        name = json_string_value(json_object_get(v, "Name"));

        if (name && aw_launcher_home_match(l->conf, name, &all[count])
                    == AW_OK)
        {
            count++;
        }
    }

    json_decref(answer);

    *list = all;
    *n = count;

    return AW_OK;
}


static int
aw_engine_home_remove(aw_launcher_t *l, const char *wallet)
{
    char     home[160], path[256];
    long     status;
    json_t  *answer;

    l->err[0] = '\0';

    if (aw_launcher_home_name(l->conf, wallet, home, sizeof(home)) != AW_OK)
    {
        snprintf(l->err, sizeof(l->err), "wallet \"%.64s\" names no home "
                 "volume", wallet);
        return AW_ERROR;
    }

    snprintf(path, sizeof(path), "/volumes/%s", home);

    if (aw_engine_call(l, "volume remove", "DELETE", path, NULL,
                       l->conf->launcher_timeout, &status, &answer)
        != AW_OK)
    {
        return AW_ERROR;
    }

    if (status == 204 || status == 200 || status == 404) {
        json_decref(answer);
        return AW_OK;
    }

    /* 409: a container uses it; the engine's words say so */
    aw_engine_fail(l, "volume remove", status, answer);
    json_decref(answer);

    return AW_ERROR;
}


/* ---- HTTP -------------------------------------------------------------- */


/*
 * One request: AW_OK when the engine answered (any status, in *status;
 * its JSON in *answer, or NULL), AW_ERROR when it did not (l->err says
 * why: unreachable, timed out, bad TLS).  body: JSON to send, or NULL.
 */

static int
aw_engine_call(aw_launcher_t *l, const char *what, const char *method,
    const char *path, json_t *body, aw_msec_t timeout, long *status,
    json_t **answer)
{
    aw_engine_buf_t  buf;

    *answer = NULL;

    if (aw_engine_transfer(l, what, method, path, body, timeout, status,
                           &buf)
        != AW_OK)
    {
        return AW_ERROR;
    }

    if (buf.len > 0) {
        *answer = json_loadb(buf.data, buf.len, 0, NULL);
    }

    free(buf.data);

    return AW_OK;
}


/* the same, the answer's bytes in *buf as they came (free() buf->data) */

static int
aw_engine_transfer(aw_launcher_t *l, const char *what, const char *method,
    const char *path, json_t *body, aw_msec_t timeout, long *status,
    aw_engine_buf_t *out)
{
    char                 url[1024], errbuf[CURL_ERROR_SIZE], *data;
    long                 oserr;
    CURL                *c;
    CURLcode             rc;
    aw_msec_t            start;
    aw_engine_buf_t      buf;
    struct curl_slist   *headers;

    *status = 0;
    memset(out, 0, sizeof(*out));

    if (aw_engine_setup(l, path, url, sizeof(url)) != AW_OK) {
        return AW_ERROR;
    }

    c = l->curl;
    data = NULL;
    headers = NULL;
    memset(&buf, 0, sizeof(buf));
    errbuf[0] = '\0';

    if (body) {
        data = json_dumps(body, JSON_COMPACT);
        if (data == NULL) {
            snprintf(l->err, sizeof(l->err), "out of memory");
            return AW_ERROR;
        }

        headers = curl_slist_append(NULL, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, data);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long) strlen(data));

    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
    }

    if (strcmp(method, "POST") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }

    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long) timeout);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long) timeout);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, aw_engine_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &buf);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);

    aw_log(AW_LOG_DEBUG, "launcher: %s %s %s", l->endpoint, method, path);

    start = aw_monotonic_msec();
    rc = curl_easy_perform(c);

    curl_slist_free_all(headers);

    if (data) {
        explicit_bzero(data, strlen(data));     /* a VNC password */
        free(data);
    }

    if (rc == CURLE_COULDNT_CONNECT && strncmp(l->endpoint, "unix:", 5) == 0
        && curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &oserr) == CURLE_OK
        && oserr != 0)
    {
        /* curl speaks of "localhost port 80": the socket is the news */
        snprintf(errbuf, sizeof(errbuf), "cannot connect to the socket: %s",
                 strerror((int) oserr));
    }

    if (rc != CURLE_OK) {
        snprintf(l->err, sizeof(l->err), "engine %s: %s: %s", l->endpoint,
                 what, errbuf[0] ? errbuf : curl_easy_strerror(rc));
        aw_log(AW_LOG_ERR, "launcher: %s", l->err);
        free(buf.data);
        return AW_ERROR;
    }

    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);

    aw_log(*status < 300 ? AW_LOG_DEBUG : AW_LOG_INFO,
           "launcher: %s %s: HTTP %ld after %lld ms", l->endpoint, what,
           *status, (long long) (aw_monotonic_msec() - start));

    *out = buf;

    return AW_OK;
}


/* the handle, made once and reset for each call, and the URL */

static int
aw_engine_setup(aw_launcher_t *l, const char *path, char *url, size_t size)
{
    CURL             *c;
    const aw_conf_t  *conf;

    conf = l->conf;

    if (l->curl == NULL) {
        l->curl = curl_easy_init();

        if (l->curl == NULL) {
            snprintf(l->err, sizeof(l->err), "curl_easy_init() failed");
            return AW_ERROR;
        }
    }

    c = l->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "axon-worker/" AXON_VERSION);

    if (strncmp(l->endpoint, "unix://", 7) == 0) {
        /* the host name is the socket's: any will do */
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, l->endpoint + 7);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
        snprintf(url, size, "http://localhost" AW_ENGINE_API "%s", path);
        return AW_OK;
    }

    if (strncmp(l->endpoint, "https://", 8) == 0) {
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
        curl_easy_setopt(c, CURLOPT_CAINFO, conf->launcher_tls_ca);
        curl_easy_setopt(c, CURLOPT_SSLCERT, conf->launcher_tls_cert);
        curl_easy_setopt(c, CURLOPT_SSLKEY, conf->launcher_tls_key);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
        snprintf(url, size, "%.*s" AW_ENGINE_API "%s",
                 (int) strcspn(l->endpoint + 8, "/") + 8, l->endpoint,
                 path);
        return AW_OK;
    }

    snprintf(l->err, sizeof(l->err), "engine \"%s\": neither unix:// nor "
             "https://", l->endpoint);

    return AW_ERROR;
}


/* l->err from an answer that is an error: the engine's own message */

static void
aw_engine_fail(aw_launcher_t *l, const char *what, long status,
    json_t *answer)
{
    const char  *msg;

    msg = json_string_value(json_object_get(answer, "message"));

    snprintf(l->err, sizeof(l->err), "engine %s: %s: HTTP %ld: %s",
             l->endpoint, what, status, msg ? msg : "(no message)");
    aw_log(AW_LOG_ERR, "launcher: %s", l->err);
}


/* prefix + the URL-encoded {"label":["LABEL"]}; malloc()ed */

static char *
aw_engine_filter(aw_launcher_t *l, const char *prefix, const char *label)
{
    char  filter[128], *f, *path;

    snprintf(filter, sizeof(filter), "{\"label\":[\"%s\"]}", label);

    path = NULL;
    f = curl_easy_escape(NULL, filter, 0);

    if (f == NULL || asprintf(&path, "%s%s", prefix, f) == -1) {
        path = NULL;
        snprintf(l->err, sizeof(l->err), "out of memory");
    }

    curl_free(f);

    return path;
}


static size_t
aw_engine_write(char *p, size_t size, size_t n, void *data)
{
    size_t            len, want;
    char             *d;
    aw_engine_buf_t  *buf;

    buf = data;
    len = size * n;

    if (buf->len + len > AW_ENGINE_MAX_ANSWER) {
        return 0;                   /* the transfer fails: too large */
    }

    if (buf->len + len + 1 > buf->size) {
        want = aw_max(buf->size * 2, buf->len + len + 1);

        d = realloc(buf->data, want);
        if (d == NULL) {
            return 0;
        }

        buf->data = d;
        buf->size = want;
    }

    memcpy(buf->data + buf->len, p, len);
    buf->len += len;
    buf->data[buf->len] = '\0';

    return len;
}


/*
 * exec: POST /containers/NAME/exec (stdout only, no TTY), POST
 * /exec/ID/start, whose answer is docker's multiplexed stream (frames of
 * an 8-byte header, the stream in byte 0 and the length big-endian in
 * bytes 4-7, then the bytes), then GET /exec/ID/json for the exit code.
 * AW_OK when it exited 0, stdout in *out.  Failures are the caller's to
 * log (an image without the command is no error of the launcher's).
 */

static int
aw_engine_exec(aw_launcher_t *l, int64_t session, const char *const *cmd,
    char **out)
{
    int               rc;
    char              path[300], id[80];
    long              status, code;
    json_t           *body, *args, *answer;
    aw_engine_buf_t   stream;

    *out = NULL;
    l->err[0] = '\0';

    args = json_array();

    for ( /* void */ ; args && *cmd != NULL; cmd++) {
        json_array_append_new(args, json_string(*cmd));
    }

    body = json_pack("{s:b, s:b, s:b, s:o}", "AttachStdout", 1,
                     "AttachStderr", 0, "Tty", 0, "Cmd", args);
    if (body == NULL) {
        snprintf(l->err, sizeof(l->err), "out of memory");
        return AW_ERROR;
    }

    snprintf(path, sizeof(path), "/containers/%s%lld/exec",
             l->conf->launcher_prefix, (long long) session);

    rc = aw_engine_call(l, "exec", "POST", path, body,
                        l->conf->launcher_timeout, &status, &answer);
    json_decref(body);

    if (rc != AW_OK) {
        return AW_ERROR;
    }

    if (status != 201 || !json_is_string(json_object_get(answer, "Id"))) {
        aw_engine_exec_fail(l, "exec", status, answer);
        json_decref(answer);
        return AW_ERROR;
    }

    snprintf(id, sizeof(id), "%s",
             json_string_value(json_object_get(answer, "Id")));
    json_decref(answer);

    body = json_pack("{s:b, s:b}", "Detach", 0, "Tty", 0);
    snprintf(path, sizeof(path), "/exec/%s/start", id);

    rc = aw_engine_transfer(l, "exec start", "POST", path, body,
                            l->conf->launcher_timeout, &status, &stream);
    json_decref(body);

    if (rc != AW_OK) {
        return AW_ERROR;
    }

    if (status != 200) {
        snprintf(l->err, sizeof(l->err), "engine %s: exec start: HTTP %ld",
                 l->endpoint, status);
        free(stream.data);
        return AW_ERROR;
    }

    *out = aw_engine_demux(&stream);
    free(stream.data);

    snprintf(path, sizeof(path), "/exec/%s/json", id);

    if (*out == NULL
        || aw_engine_call(l, "exec inspect", "GET", path, NULL,
                          l->conf->launcher_timeout, &status, &answer)
           != AW_OK)
    {
        if (*out == NULL) {
            snprintf(l->err, sizeof(l->err), "out of memory");
        }
        free(*out);
        *out = NULL;
        return AW_ERROR;
    }

    code = json_integer_value(json_object_get(answer, "ExitCode"));
    json_decref(answer);

    if (status != 200 || code != 0) {
        snprintf(l->err, sizeof(l->err), "engine %s: exec: exit %ld",
                 l->endpoint, status != 200 ? -1L : code);
        free(*out);
        *out = NULL;
        return AW_ERROR;
    }

    return AW_OK;
}


/* the stdout frames of a multiplexed stream, as one string (malloc()ed) */

static char *
aw_engine_demux(const aw_engine_buf_t *b)
{
    char           *text;
    size_t          i, n, len;
    const u_char   *p;

    text = malloc(b->len + 1);
    if (text == NULL) {
        return NULL;
    }

    p = (const u_char *) b->data;
    len = 0;

    for (i = 0; i + 8 <= b->len; i += 8 + n) {
        n = ((size_t) p[i + 4] << 24) | ((size_t) p[i + 5] << 16)
            | ((size_t) p[i + 6] << 8) | p[i + 7];
        n = aw_min(n, b->len - i - 8);

        if (p[i] == 1) {
            memcpy(text + len, p + i + 8, n);
            len += n;
        }
    }

    text[len] = '\0';

    return text;
}


/* a refused exec in the engine's words, not logged (see above) */

static void
aw_engine_exec_fail(aw_launcher_t *l, const char *what, long status,
    json_t *answer)
{
    const char  *msg;

    msg = json_string_value(json_object_get(answer, "message"));

    snprintf(l->err, sizeof(l->err), "engine %s: %s: HTTP %ld: %s",
             l->endpoint, what, status, msg ? msg : "(no message)");
}
