/*
 * axon-launch: the worker's launcher (launcher.c) from the command line,
 * for tests and for an operator: what the scheduler and the reconcile
 * sweep will call, one operation per run, with the worker's configuration
 * file.  Built from the same sources as axon-worker; no PostgreSQL, no
 * Redis.
 *
 *   axon-launch -c FILE start SESSION WALLET [--ssh KEY] [--gpus 0,1]
 *   axon-launch -c FILE stop SESSION
 *   axon-launch -c FILE list
 *   axon-launch -c FILE homes
 *   axon-launch -c FILE home-rm WALLET
 *   axon-launch -c FILE exec SESSION -- CMD [ARG...]
 *
 * start waits until the container answers, as a launch does.  A desktop
 * gets the VNC password in $AXON_VNC_PASSWORD if set (from the
 * environment, as the worker passes it: never in an argv).  Each prints
 * JSON on stdout (start: the container; list, homes: an array; home-rm:
 * nothing, the wallet's home volume is gone, or was; exec: the command's
 * stdout as it came, as the idle check reads nvidia-smi); errors go to
 * stderr with exit 1; a bad configuration exits 78.
 */


#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "launcher.h"
#include "log.h"


static int aw_launch_start(aw_launcher_t *l, char **argv,
    const char *ssh_key, int *gpus, int ngpus);
static int aw_launch_list(aw_launcher_t *l);
static int aw_launch_homes(aw_launcher_t *l);
static void aw_print_json(json_t *j);
static json_t *aw_container_json(const aw_container_t *c);
static int aw_parse_gpus(const char *s, int *gpus, int *n);


static const char  *aw_modes[] = { "desktop", "ssh" };


int
main(int argc, char **argv)
{
    int              c, rc, ngpus, gpus[AW_LAUNCHER_MAX_GPUS];
    char             err[1024], *out;
    aw_conf_t       *conf;
    const char      *path, *cmd, *ssh_key;
    aw_launcher_t    l;

    static const struct option  options[] = {
        { "config", required_argument, NULL, 'c' },
        { "ssh",    required_argument, NULL, 's' },
        { "gpus",   required_argument, NULL, 'g' },
        { "help",   no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };

    path = NULL;
    ssh_key = NULL;
    ngpus = 0;

    while ((c = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
        switch (c) {

        case 'c':
            path = optarg;
            break;

        case 's':
            ssh_key = optarg;
            break;

        case 'g':
            if (aw_parse_gpus(optarg, gpus, &ngpus) != AW_OK) {
                fprintf(stderr, "axon-launch: bad --gpus \"%s\"\n", optarg);
                return AW_EXIT_CONFIG;
            }
            break;

        case 'h':
            printf("usage: axon-launch -c FILE start SESSION WALLET "
                   "[--ssh KEY] [--gpus 0,1]\n"
                   "       axon-launch -c FILE stop SESSION\n"
                   "       axon-launch -c FILE list\n"
                   "       axon-launch -c FILE homes\n"
                   "       axon-launch -c FILE home-rm WALLET\n"
                   "       axon-launch -c FILE exec SESSION -- CMD "
                   "[ARG...]\n");
            return AW_EXIT_OK;

        default:
            return AW_EXIT_CONFIG;
        }
    }

    if (optind >= argc) {
        fprintf(stderr, "axon-launch: start, stop or list? (-h)\n");
        return AW_EXIT_CONFIG;
    }

    conf = aw_conf_load(path, err, sizeof(err));
    if (conf == NULL) {
        fprintf(stderr, "axon-launch: %s\n", err);
        return AW_EXIT_CONFIG;
    }

    aw_log_level = conf->log_level;
    aw_launcher_init(&l, conf);

    cmd = argv[optind];
    rc = AW_EXIT_FAILURE;

    if (strcmp(cmd, "start") == 0 && argc - optind == 3) {
        rc = aw_launch_start(&l, argv + optind, ssh_key, gpus, ngpus);

    } else if (strcmp(cmd, "stop") == 0 && argc - optind == 2) {
        if (aw_launcher_stop(&l, strtoll(argv[optind + 1], NULL, 10))
            == AW_OK)
        {
            rc = AW_EXIT_OK;
        }

    } else if (strcmp(cmd, "list") == 0 && argc - optind == 1) {
        rc = aw_launch_list(&l);

    } else if (strcmp(cmd, "homes") == 0 && argc - optind == 1) {
        rc = aw_launch_homes(&l);

    } else if (strcmp(cmd, "home-rm") == 0 && argc - optind == 2) {
        if (l.ops->home_remove(&l, argv[optind + 1]) == AW_OK) {
            rc = AW_EXIT_OK;
        }

    } else if (strcmp(cmd, "exec") == 0 && argc - optind >= 3) {
        if (l.ops->exec(&l, strtoll(argv[optind + 1], NULL, 10),
                        (const char *const *) argv + optind + 2, &out)
            == AW_OK)
        {
            fputs(out, stdout);
            free(out);
            rc = AW_EXIT_OK;
        }

    } else {
        fprintf(stderr, "axon-launch: bad command line (-h)\n");
        aw_conf_free(conf);
        return AW_EXIT_CONFIG;
    }

    if (rc != AW_EXIT_OK) {
        fprintf(stderr, "axon-launch: %s\n", l.err);
    }

    aw_launcher_free(&l);
    aw_conf_free(conf);

    return rc;
}


/* start SESSION WALLET: ARGV from "start" on */

static int
aw_launch_start(aw_launcher_t *l, char **argv, const char *ssh_key,
    int *gpus, int ngpus)
{
    char            *end;
    aw_launch_t      req;
    aw_container_t   ct;

    memset(&req, 0, sizeof(req));
    req.session = strtoll(argv[1], &end, 10);
    req.wallet = argv[2];
    req.mode = ssh_key ? AW_SESSION_SSH : AW_SESSION_DESKTOP;
    req.ssh_key = ssh_key;
    req.gpus = gpus;
    req.ngpus = ngpus;

    if (req.mode == AW_SESSION_DESKTOP) {
        req.vnc_password = getenv("AXON_VNC_PASSWORD");
    }

    if (*end != '\0') {
        req.session = 0;
    }

    if (aw_launcher_launch(l, &req, &ct) != AW_OK) {
        return AW_EXIT_FAILURE;
    }

    aw_print_json(aw_container_json(&ct));

    return AW_EXIT_OK;
}


static int
aw_launch_list(aw_launcher_t *l)
{
    size_t           i, n;
    json_t          *j;
    aw_container_t  *list;

    if (l->ops->list(l, &list, &n) != AW_OK) {
        return AW_EXIT_FAILURE;
    }

    j = json_array();

    for (i = 0; i < n; i++) {
        json_array_append_new(j, aw_container_json(&list[i]));
    }

    aw_print_json(j);
    free(list);

    return AW_EXIT_OK;
}


static int
aw_launch_homes(aw_launcher_t *l)
{
    size_t      i, n;
    json_t     *j;
    aw_home_t  *list;

    if (l->ops->homes(l, &list, &n) != AW_OK) {
        return AW_EXIT_FAILURE;
    }

    j = json_array();

    for (i = 0; i < n; i++) {
        json_array_append_new(j, json_pack("{s:s, s:s}", "name",
                                           list[i].name, "wallet",
                                           list[i].wallet));
    }

    aw_print_json(j);
    free(list);

    return AW_EXIT_OK;
}


/* one line of JSON on stdout; takes J's reference */

static void
aw_print_json(json_t *j)
{
    json_dumpf(j, stdout, JSON_COMPACT);
    putchar('\n');
    json_decref(j);
}


static json_t *
aw_container_json(const aw_container_t *c)
{
    json_t  *j;

    j = json_pack("{s:s, s:s, s:I, s:s, s:s}", "name", c->name, "id", c->id,
                  "session", (json_int_t) c->session, "wallet", c->wallet,
                  "mode", aw_modes[c->mode]);

    if (c->state[0]) {
        json_object_set_new(j, "state", json_string(c->state));
    }

    if (c->port) {
        json_object_set_new(j, "host", json_string(c->host));
        json_object_set_new(j, "port", json_integer(c->port));
    }

    return j;
}


static int
aw_parse_gpus(const char *s, int *gpus, int *n)
{
    long   v;
    char  *end;

    *n = 0;

    for ( ;; ) {
        v = strtol(s, &end, 10);

        if (end == s || v < 0 || v > 1024 || *n == AW_LAUNCHER_MAX_GPUS) {
            return AW_ERROR;
        }

        gpus[(*n)++] = (int) v;

        if (*end == '\0') {
            return AW_OK;
        }

        if (*end != ',') {
            return AW_ERROR;
        }

        s = end + 1;
    }
}
