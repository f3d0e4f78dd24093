/*
 * axon-worker: session containers.  One interface, an ops table as nginx
 * has for its event modules, and behind it a backend:
 *
 *   docker   a docker-compatible command line on this host (docker, or
 *            podman, which speaks the same CLI); launcher.c.  exec is
 *            `docker exec`: how the idle check reads nvidia-smi where
 *            the session's GPUs are
 *   engine   the Docker Engine HTTP API (docker, `podman system service`)
 *            over a unix socket or HTTPS with client certificates, through
 *            libcurl; launcher_engine.c
 *
 * A session's container is named axgt-session-ID and carries the labels
 * axon.session=ID, axon.wallet=ADDR and axon.mode=desktop|ssh, which is
 * how a reconcile sweep finds them all (list) without trusting anything
 * else.  With home_keep, the wallet's home volume, axgt-home-ADDR
 * (labelled axon.home=ADDR), is created if missing and mounted at
 * home_path; homes() lists them for the sweep of home.c.  Every call
 * blocks for at most launcher_timeout per container command (ready:
 * launcher_ready_timeout) and leaves why it failed in l->err, for the log
 * and for the session's record.
 */

#ifndef AW_LAUNCHER_H
#define AW_LAUNCHER_H


#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "core.h"


#define AW_LAUNCHER_DOCKER    0       /* the launcher key */
#define AW_LAUNCHER_ENGINE    1

#define AW_LAUNCHER_NAME_PREFIX  "axgt-session-"
#define AW_LAUNCHER_MAX_GPUS     16
#define AW_LAUNCHER_HOME_LABEL   "axon.home"


typedef enum {
    AW_SESSION_DESKTOP = 0,   /* launcher_image, launcher_port */
    AW_SESSION_SSH            /* launcher_ssh_image, launcher_ssh_port */
} aw_session_mode_e;


typedef struct {
    int64_t             session;      /* > 0 */
    const char         *wallet;
    aw_session_mode_e   mode;
    const int          *gpus;         /* host GPU indexes, exclusive */
    int                 ngpus;
    const char         *gpu_names;    /* what {gpus} and AXON_GPUS say:
                                         the UUIDs of a host of UUIDs;
                                         NULL: gpus, as indexes */
    const char         *ssh_key;      /* an authorized_keys line, or NULL */
    const char         *profile;      /* its name, or NULL (AXGT_*) */
    int                 port;         /* the host port of the port pool;
                                         0: the runtime chooses one */
    const char         *vnc_password; /* a desktop's, [A-Za-z0-9], or NULL:
                                         AXON_VNC_PASSWORD in the container,
                                         through run's environment, never
                                         its argv */
} aw_launch_t;


/*
 * A session's environment, "NAME=VALUE" each, as both backends give it to
 * the container: axon's own variables and the original gate's image's
 * (AXGT_*).  Not the VNC password: each backend keeps that secret its own
 * way.
 */

#define AW_LAUNCH_ENV_MAX  16

typedef struct {
    char    *v[AW_LAUNCH_ENV_MAX];
    size_t   n;
} aw_launch_env_t;

int aw_launch_env(aw_launch_env_t *e, const aw_launch_t *req,
    const char *gpus);
void aw_launch_env_free(aw_launch_env_t *e);


/* a container, as start() made it or list() found it */
typedef struct {
    char                name[96];     /* axgt-session-ID */
    char                id[80];       /* the runtime's id */
    int64_t             session;      /* the label; 0 if not a number */
    char                wallet[128];  /* the label */
    aw_session_mode_e   mode;
    char                state[32];    /* list: running, exited, created... */
    char                host[64];     /* start: where the port is published */
    int                 port;         /* start: the host port */
} aw_container_t;


/* a home volume, as homes() found it */
typedef struct {
    char                name[160];    /* aw_launcher_home_name() */
    char                wallet[64];   /* its address, from the name */
} aw_home_t;


typedef struct aw_launcher_s  aw_launcher_t;

typedef struct {
    const char  *name;

    /* creates and starts the container; fills c's name, id, host, port */
    int  (*start)(aw_launcher_t *l, const aw_launch_t *req,
                  aw_container_t *c);

    /* "running (exit code 0)", "exited (exit code 1)" and the like;
     * AW_ERROR: not known now (aw_launcher_ready keeps waiting) */
    int  (*state)(aw_launcher_t *l, const char *name, char *state,
                  size_t size);

    /* stops and removes a container by name or id; one already gone is
     * AW_OK (the caller wanted it gone) */
    int  (*remove)(aw_launcher_t *l, const char *name);

    /* every container labelled axon.session, in any state; *list is
     * malloc()ed, free() it */
    int  (*list)(aw_launcher_t *l, aw_container_t **list, size_t *n);

    /* the home volumes of this launcher_prefix; *list is malloc()ed */
    int  (*homes)(aw_launcher_t *l, aw_home_t **list, size_t *n);

    /* removes a wallet's home volume: one already gone is AW_OK, one a
     * container uses is refused (the runtime's "in use") */
    int  (*home_remove)(aw_launcher_t *l, const char *wallet);

    /* runs cmd (NULL-terminated) in a session's container; AW_OK when it
     * exited 0, with its stdout in *out (malloc()ed, free() it) */
    int  (*exec)(aw_launcher_t *l, int64_t session, const char *const *cmd,
                 char **out);
} aw_launcher_ops_t;


struct aw_launcher_s {
    const aw_launcher_ops_t  *ops;
    const aw_conf_t          *conf;
    const char               *endpoint;   /* engine: unix:///..., https:// */
    const char               *addr;       /* where ports are published */
    void                     *curl;       /* engine: one handle, reused */
    char                      err[1024];  /* why the last call failed */
};


/*
 * conf must outlive l: after a reload, free and init again with the new
 * one.  host: a host of gpu_hosts: its engine (@ENDPOINT, for the engine
 * backend whatever the launcher key says) and its address
 * (gpu_host_addrs); NULL, or a host without them: the launcher key's
 * backend (engine: at launcher_engine) and launcher_publish_addr.
 */
void aw_launcher_init(aw_launcher_t *l, const aw_conf_t *conf);
void aw_launcher_init_host(aw_launcher_t *l, const aw_conf_t *conf,
    const aw_conf_gpu_host_t *host);
void aw_launcher_free(aw_launcher_t *l);

/* whether the engine answers (GET /_ping); AW_OK for the CLI backend */
int aw_launcher_ping(aw_launcher_t *l);

/*
 * What the scheduler calls: start, then wait until the port answers; a
 * container that never answers is removed again.  On AW_ERROR nothing of
 * the session is left running and l->err says why.
 */
int aw_launcher_launch(aw_launcher_t *l, const aw_launch_t *req,
    aw_container_t *c);
int aw_launcher_stop(aw_launcher_t *l, int64_t session);

/*
 * The name of a wallet's home volume: launcher_prefix without a trailing
 * "session-", then "home-" and the wallet (axgt-session- gives
 * axgt-home-0x...; a test stack's axgt-T- gives axgt-T-home-0x...).
 * AW_ERROR if the wallet is not 0x + 40 lowercase hex.
 */
int aw_launcher_home_name(const aw_conf_t *conf, const char *wallet,
    char *buf, size_t size);

/* one TCP probe of host:port, see launcher.c; AW_OK if it answers */
int aw_launcher_probe(const char *host, int port, aw_msec_t timeout);


/* shared by the backends */

extern const aw_launcher_ops_t  aw_engine_ops;
extern const char              *aw_session_modes[];

/* waits until c's port answers, checking its state now and then */
int aw_launcher_ready(aw_launcher_t *l, const aw_container_t *c,
    aw_msec_t timeout);

/* AW_OK if req is one a backend may run; else l->err says why */
int aw_launcher_check(aw_launcher_t *l, const aw_launch_t *req);

/* AW_OK if a volume's name is a home volume of this launcher_prefix;
 * fills h */
int aw_launcher_home_match(const aw_conf_t *conf, const char *name,
    aw_home_t *h);

/* the labels of launcher_args' --label K=V (-l, --label=K=V) words, one
 * a call: 1 with the next K=V in *label, *len long (a pointer into *s,
 * which moves past it), 0 at the end */
int aw_launcher_arg_label(const char **s, const char **label, size_t *len);


int aw_launch_prepare(aw_launcher_t *l, const aw_launch_t *req,
    aw_container_t *c, const char **image, int *port, char *gpus,
    size_t gsize, char *home, size_t hsize);


#endif /* AW_LAUNCHER_H */
