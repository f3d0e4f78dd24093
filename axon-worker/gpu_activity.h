/*
 * axon-worker: how busy a session's GPUs are, for the idle check.  Two
 * sources, both read at run time only:
 *
 *   nvml        NVML of this host, loaded with dlopen("libnvidia-ml.so.1")
 *               at first use: nothing of NVIDIA's is needed to build the
 *               worker, and a host without the driver says so once
 *   nvidia-smi  `nvidia-smi --query-gpu=index,uuid,utilization.gpu
 *               --format=csv,noheader,nounits`, run where the GPUs are
 *               (in the session's container, through the launcher);
 *               aw_gpu_parse_smi() reads its output
 *
 * A GPU is named by its index (0) or its UUID (GPU-366db770-...), as
 * gpu_hosts names it.
 */

#ifndef AW_GPU_ACTIVITY_H
#define AW_GPU_ACTIVITY_H


#include "core.h"


#define AW_GPU_MAX         64

/* gpu_activity: where utilization is read */
#define AW_GPU_ACTIVITY_AUTO   0
#define AW_GPU_ACTIVITY_NVML   1
#define AW_GPU_ACTIVITY_SMI    2
#define AW_GPU_ACTIVITY_OFF    3
#define AW_GPU_UUID_LEN    96
#define AW_GPU_SMI_QUERY   "--query-gpu=index,uuid,utilization.gpu"
#define AW_GPU_SMI_FORMAT  "--format=csv,noheader,nounits"


typedef struct {
    int     index;
    int     util;                   /* utilization.gpu, %; -1: unknown */
    char    uuid[AW_GPU_UUID_LEN];
} aw_gpu_util_t;


/*
 * The GPUs in nvidia-smi's CSV: with or without the header line and the
 * units (csv or csv,noheader,nounits), the columns found by the header's
 * names, else index, uuid, utilization.gpu.  Stops at a blank line or a
 * second header (--query-compute-apps after it).  "[N/A]" reads as
 * unknown.  Returns how many GPUs (at most max), or AW_ERROR when the text
 * is no such table (nvidia-smi's "No devices were found", an error).
 */
int aw_gpu_parse_smi(const char *text, aw_gpu_util_t *g, int max);

/*
 * This host's GPUs through NVML: how many (at most max), or AW_ERROR when
 * NVML cannot be used (the first failure logged, the library tried once
 * per process).
 */
int aw_gpu_nvml_read(aw_gpu_util_t *g, int max);

/* whether NVML loaded (it is tried now if it was not yet) */
int aw_gpu_nvml_available(void);

/*
 * Whether any GPU of names ("0,2" or "GPU-...,GPU-...", comma-separated;
 * NULL: any of the n) reads at least threshold %: 1 busy, 0 not, AW_ERROR
 * when none of names is among the n read (nothing known of them).
 */
int aw_gpu_busy(const aw_gpu_util_t *g, int n, const char *names,
    int threshold);


#endif /* AW_GPU_ACTIVITY_H */
