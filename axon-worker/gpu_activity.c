/*
 * axon-worker: GPU utilization, from nvidia-smi's CSV or from NVML loaded
 * at run time.  See gpu_activity.h.
 *
 * NVML is called through the few entry points and structures the driver
 * has kept stable since CUDA 5 (the _v2 names where they exist):
 * nvmlUtilization_t is { unsigned gpu, memory }, a device handle an
 * opaque pointer, NVML_SUCCESS 0.
 */


#include <ctype.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_activity.h"
#include "log.h"


#define AW_GPU_NVML_LIB   "libnvidia-ml.so.1"
#define AW_GPU_COLS       3           /* index, uuid, utilization.gpu */


typedef struct {
    unsigned  gpu;
    unsigned  memory;
} aw_nvml_utilization_t;

typedef void  *aw_nvml_device_t;


static struct {
    int    state;                     /* 0 untried, 1 loaded, -1 failed */
    void  *lib;
    int  (*init)(void);
    int  (*count)(unsigned *n);
    int  (*handle)(unsigned i, aw_nvml_device_t *dev);
    int  (*uuid)(aw_nvml_device_t dev, char *buf, unsigned len);
    int  (*util)(aw_nvml_device_t dev, aw_nvml_utilization_t *u);
    const char *(*error)(int rc);
} aw_nvml;


static int aw_gpu_split(char *line, char **f, int max);
static int aw_gpu_header(char **f, int n, int *col);
static int aw_gpu_row(char **f, int n, const int *col, aw_gpu_util_t *g);
static int aw_gpu_nvml_load(void);


/* ---- nvidia-smi --------------------------------------------------------- */


int
aw_gpu_parse_smi(const char *text, aw_gpu_util_t *g, int max)
{
    int     n, nf, col[AW_GPU_COLS], header;
    char   *copy, *line, *next, *f[32];

    copy = strdup(text);
    if (copy == NULL) {
        return AW_ERROR;
    }

    /* without a header: the order of AW_GPU_SMI_QUERY */
    col[0] = 0;
    col[1] = 1;
    col[2] = 2;
    header = 0;
    n = 0;

    for (line = copy; line != NULL; line = next) {
        next = strchr(line, '\n');
        if (next != NULL) {
            *next++ = '\0';
        }

        nf = aw_gpu_split(line, f, 32);

        if (nf == 0) {
            if (n > 0 || header) {
                break;
            }

            continue;
        }

        if (!isdigit((unsigned char) f[0][0])) {
            if (n > 0 || header || aw_gpu_header(f, nf, col) != AW_OK) {
                break;
            }

            header = 1;
            continue;
        }

        if (n == max) {
            break;
        }

        if (aw_gpu_row(f, nf, col, &g[n]) != AW_OK) {
            free(copy);
            return AW_ERROR;
        }

        n++;
    }

    free(copy);

    return (n > 0 || header) ? n : AW_ERROR;
}


/* the fields of a CSV line, blanks around each trimmed; how many */

static int
aw_gpu_split(char *line, char **f, int max)
{
    int    n;
    char  *p, *end;

    n = 0;
    line[strcspn(line, "\r")] = '\0';

    if (line[strspn(line, " \t")] == '\0') {
        return 0;
    }

    for (p = line; p != NULL && n < max; ) {
        end = strchr(p, ',');
        if (end != NULL) {
            *end++ = '\0';
        }

        while (*p == ' ' || *p == '\t') {
            p++;
        }

        f[n] = p;
        p += strlen(p);

        while (p > f[n] && (p[-1] == ' ' || p[-1] == '\t')) {
            *--p = '\0';
        }

        n++;
        p = end;
    }

    return n;
}


/* the columns of index, uuid and utilization.gpu, by name ("... [%]") */

static int
aw_gpu_header(char **f, int n, int *col)
{
    int          i, j;
    size_t       len;
    const char  *names[AW_GPU_COLS] = { "index", "uuid", "utilization.gpu" };

    for (j = 0; j < AW_GPU_COLS; j++) {
        col[j] = -1;

        for (i = 0; i < n; i++) {
            len = strcspn(f[i], " [");

            if (len == strlen(names[j]) && strncmp(f[i], names[j], len) == 0) {
                col[j] = i;
                break;
            }
        }

        if (col[j] == -1) {
            return AW_ERROR;
        }
    }

    return AW_OK;
}


static int
aw_gpu_row(char **f, int n, const int *col, aw_gpu_util_t *g)
{
    long   v;
    char  *end;

    if (col[0] >= n || col[1] >= n || col[2] >= n) {
        return AW_ERROR;
    }

    v = strtol(f[col[0]], &end, 10);
    if (end == f[col[0]] || *end != '\0' || v < 0 || v > 1023) {
        return AW_ERROR;
    }

    g->index = (int) v;

    if (strlen(f[col[1]]) >= sizeof(g->uuid)) {
        return AW_ERROR;
    }

    strcpy(g->uuid, f[col[1]]);

    /* "100", "100 %", or "[N/A]" / "[Not Supported]" */
    v = strtol(f[col[2]], &end, 10);

    if (f[col[2]][0] == '[') {
        g->util = -1;

    } else if (end == f[col[2]] || v < 0 || v > 100
               || (*end != '\0' && strcmp(end, " %") != 0))
    {
        return AW_ERROR;

    } else {
        g->util = (int) v;
    }

    return AW_OK;
}


/* ---- NVML --------------------------------------------------------------- */


int
aw_gpu_nvml_available(void)
{
    return aw_gpu_nvml_load() == AW_OK;
}


int
aw_gpu_nvml_read(aw_gpu_util_t *g, int max)
{
    int                    rc;
    unsigned               i, n;
    aw_nvml_device_t       dev;
    aw_nvml_utilization_t  u;

    if (aw_gpu_nvml_load() != AW_OK) {
        return AW_ERROR;
    }

    rc = aw_nvml.count(&n);
    if (rc != 0) {
        aw_log(AW_LOG_ERR, "gpu activity: nvmlDeviceGetCount: %s",
               aw_nvml.error(rc));
        return AW_ERROR;
    }

    for (i = 0; i < n && (int) i < max; i++) {
        g[i].index = (int) i;
        g[i].util = -1;
        g[i].uuid[0] = '\0';

        rc = aw_nvml.handle(i, &dev);
        if (rc != 0) {
            aw_log(AW_LOG_WARN, "gpu activity: GPU %u: %s", i,
                   aw_nvml.error(rc));
            continue;
        }

        if (aw_nvml.uuid(dev, g[i].uuid, sizeof(g[i].uuid)) != 0) {
            g[i].uuid[0] = '\0';
        }

        /* NOT_SUPPORTED and the like: unknown, which is not busy */
        if (aw_nvml.util(dev, &u) == 0) {
            g[i].util = (int) u.gpu;
        }
    }

    return (int) i;
}


static int
aw_gpu_nvml_load(void)
{
    int    rc;
    void  *lib;

    if (aw_nvml.state != 0) {
        return aw_nvml.state == 1 ? AW_OK : AW_ERROR;
    }

    aw_nvml.state = -1;

    lib = dlopen(AW_GPU_NVML_LIB, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        aw_log(AW_LOG_NOTICE, "gpu activity: NVML not available on this "
               "host (%s): GPU utilization is read with nvidia-smi in the "
               "session's container", dlerror());
        return AW_ERROR;
    }

    *(void **) &aw_nvml.init = dlsym(lib, "nvmlInit_v2");
    *(void **) &aw_nvml.count = dlsym(lib, "nvmlDeviceGetCount_v2");
    *(void **) &aw_nvml.handle = dlsym(lib, "nvmlDeviceGetHandleByIndex_v2");
    *(void **) &aw_nvml.uuid = dlsym(lib, "nvmlDeviceGetUUID");
    *(void **) &aw_nvml.util = dlsym(lib, "nvmlDeviceGetUtilizationRates");
    *(void **) &aw_nvml.error = dlsym(lib, "nvmlErrorString");

    if (aw_nvml.init == NULL || aw_nvml.count == NULL
        || aw_nvml.handle == NULL || aw_nvml.uuid == NULL
        || aw_nvml.util == NULL || aw_nvml.error == NULL)
    {
        aw_log(AW_LOG_ERR, "gpu activity: %s lacks an NVML function "
               "(driver too old?)", AW_GPU_NVML_LIB);
        dlclose(lib);
        return AW_ERROR;
    }

    rc = aw_nvml.init();
    if (rc != 0) {
        aw_log(AW_LOG_ERR, "gpu activity: nvmlInit: %s", aw_nvml.error(rc));
        dlclose(lib);
        return AW_ERROR;
    }

    aw_nvml.lib = lib;
    aw_nvml.state = 1;
    aw_log(AW_LOG_NOTICE, "gpu activity: NVML loaded (%s)", AW_GPU_NVML_LIB);

    return AW_OK;
}


/* ---- the decision ------------------------------------------------------- */


int
aw_gpu_busy(const aw_gpu_util_t *g, int n, const char *names, int threshold)
{
    int          i, known, busy;
    char         name[AW_GPU_UUID_LEN], idx[16];
    size_t       len;
    const char  *p;

    known = busy = 0;

    if (names == NULL) {
        for (i = 0; i < n; i++) {
            busy |= g[i].util >= threshold;
        }

        return n > 0 ? busy : AW_ERROR;
    }

    for (p = names; *p != '\0'; p += len + (p[len] == ',')) {
        len = strcspn(p, ",");

        if (len == 0 || len >= sizeof(name)) {
            continue;
        }

        memcpy(name, p, len);
        name[len] = '\0';

        for (i = 0; i < n; i++) {
            snprintf(idx, sizeof(idx), "%d", g[i].index);

            if (strcmp(name, isdigit((unsigned char) name[0]) ? idx
                                                              : g[i].uuid)
                != 0)
            {
                continue;
            }

            known = 1;
            busy |= g[i].util >= threshold;
        }
    }

    return known ? busy : AW_ERROR;
}
