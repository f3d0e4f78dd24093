/*
 * axon-worker: a desktop's busy GPUs count as activity for the idle check.
 *
 * A desktop nobody watches (no heartbeat, no traffic through the gate)
 * may still run a GPU job.  Once its last activity is half the idle
 * timeout old, the billing tick reads its GPUs, at most once per half of
 * it; a reading at gpu_busy_threshold or above on any of them is written
 * to its axon:session:ID as `gpu` (unix s) and counts as activity like a
 * heartbeat.  A desktop whose GPUs read idle is ended idle_timeout after
 * its last busy reading, as one without a heartbeat is.
 *
 * Where: NVML of this host (the docker launcher starts every container
 * here), the session's GPUs by index or UUID as gpu_hosts names them; or
 * nvidia-smi in the session's container, which sees only the session's
 * own GPUs (renumbered from 0), so that any of them busy is the session
 * busy.  A reading that fails changes nothing: the session is as idle as
 * its heartbeats say.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_activity.h"
#include "log.h"
#include "redis.h"
#include "scheduler.h"
#include "worker.h"


static int aw_sched_gpu_read(int64_t id, const char *gpus);


/* gpus: "HOST=0,2" of gpu_assignments, or "" */

long long
aw_sched_gpu_activity(int64_t id, const char *gpus, long long at)
{
    long long    now, half;
    const char  *names;
    aw_conf_t   *conf;

    conf = aw_worker.conf;
    names = strchr(gpus, '=');

    if (conf->gpu_activity == AW_GPU_ACTIVITY_OFF
        || conf->session_idle_timeout <= 0 || names == NULL)
    {
        return at;
    }

    now = (long long) (aw_unix_msec() / 1000);
    half = aw_max(1, conf->session_idle_timeout / 2000);

    if (now - at < half) {
        return at;
    }

    if (aw_sched_gpu_read(id, gpus) != 1) {
        return at;
    }

    if (aw_sched_redis_ok(aw_redis_command(&aw_worker.redis,
                              "HSET " AXON_KEY_SESSION "%lld "
                              AW_SCHED_GPU_FIELD " %lld",
                              (long long) id, now),
                          "gpu activity")
        != AW_OK)
    {
        return at;
    }

    aw_log(AW_LOG_INFO, "session %lld: GPUs %s busy: counted as activity",
           (long long) id, gpus);

    return now;
}


/* 1 busy, 0 not, AW_ERROR unknown (logged) */

static int
aw_sched_gpu_read(int64_t id, const char *gpus)
{
    int             n, busy;
    char           *out, host[72], names[AW_GPU_MAX * AW_CONF_GPU_UUID_LEN];
    size_t          len;
    aw_conf_t      *conf;
    aw_gpu_util_t   g[AW_GPU_MAX];
    aw_launcher_t  *l;

    static const char *const  smi[] = { "nvidia-smi", AW_GPU_SMI_QUERY,
                                        AW_GPU_SMI_FORMAT, NULL };

    conf = aw_worker.conf;

    if (conf->gpu_activity == AW_GPU_ACTIVITY_NVML
        || (conf->gpu_activity == AW_GPU_ACTIVITY_AUTO
            && aw_gpu_nvml_available()))
    {
        /* gpu_hosts' names: indexes or UUIDs of this host */
        len = strcspn(gpus, "=");
        snprintf(host, sizeof(host), "%.*s", (int) aw_min(len, 71), gpus);

        if (aw_conf_gpu_names(conf, host, gpus + len + 1, names,
                              sizeof(names))
            != AW_OK)
        {
            return AW_ERROR;
        }

        n = aw_gpu_nvml_read(g, AW_GPU_MAX);
        busy = n < 0 ? AW_ERROR
                     : aw_gpu_busy(g, n, names, conf->gpu_busy_threshold);

        if (n >= 0 && busy == AW_ERROR) {
            aw_log(AW_LOG_WARN, "session %lld: NVML does not show its GPUs "
                   "%s", (long long) id, names);
        }

        return busy;
    }

    /* inside the session's container, through its host's launcher */
    len = strcspn(gpus, "=");
    snprintf(host, sizeof(host), "%.*s", (int) aw_min(len, 71), gpus);
    l = aw_sched_launcher(host);

    if (l->ops->exec(l, id, smi, &out) != AW_OK) {
        aw_log(AW_LOG_INFO, "session %lld: GPU utilization not read: %s",
               (long long) id, l->err);
        return AW_ERROR;
    }

    n = aw_gpu_parse_smi(out, g, AW_GPU_MAX);

    if (n < 0) {
        aw_log(AW_LOG_INFO, "session %lld: nvidia-smi said no GPUs: %.200s",
               (long long) id, out);
        free(out);
        return AW_ERROR;
    }

    free(out);

    return aw_gpu_busy(g, n, NULL, conf->gpu_busy_threshold);
}
