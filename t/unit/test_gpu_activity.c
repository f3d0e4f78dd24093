/*
 * Unit tests for axon-worker/gpu_activity.c: nvidia-smi's CSV as an
 * NVIDIA H200 printed it (t/fixtures/gpu-h200: idle, then under load, with
 * header and units), the same rows as --format=csv,noheader,nounits
 * prints them, what is no table, and the busy decision by index or UUID.
 * NVML itself is only tried: on a host without the driver it must say
 * no, not crash.
 *
 * usage: test_gpu_activity [--vectors FILE]   (the argument is ignored)
 * The last line is "N passed, N failed".
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "gpu_activity.h"
#include "log.h"
#include "check.h"


#ifndef GPU_FIXTURES
#define GPU_FIXTURES  "t/fixtures/gpu-h200"
#endif

#define H200_UUID  "GPU-366db770-2957-4105-20b5-59227776f17a"


static char *
slurp(const char *name)
{
    char    path[512], *buf;
    long    len;
    FILE   *f;

    snprintf(path, sizeof(path), "%s/%s", GPU_FIXTURES, name);

    f = fopen(path, "r");
    if (f == NULL) {
        printf("cannot open %s\n", path);
        exit(1);
    }

    fseek(f, 0, SEEK_END);
    len = ftell(f);
    rewind(f);

    buf = malloc((size_t) len + 1);
    if (buf == NULL || fread(buf, 1, (size_t) len, f) != (size_t) len) {
        exit(1);
    }

    buf[len] = '\0';
    fclose(f);

    return buf;
}


static void
test_fixtures(void)
{
    int             n;
    char           *text;
    aw_gpu_util_t   g[4];

    text = slurp("query-idle.csv");
    n = aw_gpu_parse_smi(text, g, 4);
    CHECK("idle: one GPU", n == 1);
    CHECK("idle: index", n == 1 && g[0].index == 0);
    CHECK("idle: uuid", n == 1 && strcmp(g[0].uuid, H200_UUID) == 0);
    CHECK("idle: 0 %", n == 1 && g[0].util == 0);
    CHECK("idle: not busy", aw_gpu_busy(g, n, "0", 10) == 0);
    free(text);

    /* the compute apps' table after a blank line is not read as GPUs */
    text = slurp("query-busy.csv");
    n = aw_gpu_parse_smi(text, g, 4);
    CHECK("busy: one GPU", n == 1);
    CHECK("busy: 100 %", n == 1 && g[0].util == 100);
    CHECK("busy by index", aw_gpu_busy(g, n, "0", 10) == 1);
    CHECK("busy by uuid", aw_gpu_busy(g, n, H200_UUID, 10) == 1);
    CHECK("busy at threshold 100", aw_gpu_busy(g, n, "0", 100) == 1);
    CHECK("another GPU: unknown", aw_gpu_busy(g, n, "1", 10) == AW_ERROR);
    CHECK("another uuid: unknown",
          aw_gpu_busy(g, n, "GPU-00000000-0000-0000-0000-000000000000", 10)
          == AW_ERROR);
    CHECK("one of two known", aw_gpu_busy(g, n, "3,0", 10) == 1);
    free(text);
}


/* what the worker asks for: AW_GPU_SMI_QUERY, AW_GPU_SMI_FORMAT */

static void
test_noheader(void)
{
    int             n;
    aw_gpu_util_t   g[8];

    n = aw_gpu_parse_smi("0, " H200_UUID ", 100\n", g, 8);
    CHECK("noheader: one", n == 1 && g[0].util == 100
          && strcmp(g[0].uuid, H200_UUID) == 0);

    n = aw_gpu_parse_smi("0, GPU-a, 3\r\n1, GPU-b, 97\r\n2, GPU-c, [N/A]\n"
                         "\n", g, 8);
    CHECK("noheader: three", n == 3);
    CHECK("noheader: CRLF", n == 3 && g[0].util == 3
          && strcmp(g[0].uuid, "GPU-a") == 0);
    CHECK("noheader: N/A is unknown", n == 3 && g[2].util == -1);
    CHECK("below threshold", aw_gpu_busy(g, n, "0", 10) == 0);
    CHECK("N/A is not busy", aw_gpu_busy(g, n, "2", 1) == 0);
    CHECK("any busy", aw_gpu_busy(g, n, "0,GPU-b", 10) == 1);
    CHECK("any of all busy", aw_gpu_busy(g, n, NULL, 10) == 1);
    CHECK("none of all busy", aw_gpu_busy(g, 1, NULL, 10) == 0);
    CHECK("all of none", aw_gpu_busy(g, 0, NULL, 10) == AW_ERROR);
    CHECK("max respected", aw_gpu_parse_smi("0, a, 1\n1, b, 2\n", g, 1)
          == 1);

    /* no GPU at all: a header only is an empty table, not an error */
    n = aw_gpu_parse_smi("index, uuid, utilization.gpu [%]\n", g, 8);
    CHECK("header only: 0", n == 0);
}


static void
test_refused(void)
{
    aw_gpu_util_t   g[4];

    CHECK("empty", aw_gpu_parse_smi("", g, 4) == AW_ERROR);
    CHECK("no devices",
          aw_gpu_parse_smi("No devices were found\n", g, 4) == AW_ERROR);
    CHECK("smi failed", aw_gpu_parse_smi(
          "NVIDIA-SMI has failed because it couldn't communicate with the "
          "NVIDIA driver.\n", g, 4) == AW_ERROR);
    CHECK("util too big", aw_gpu_parse_smi("0, GPU-a, 101\n", g, 4)
          == AW_ERROR);
    CHECK("util junk", aw_gpu_parse_smi("0, GPU-a, 5x\n", g, 4) == AW_ERROR);
    CHECK("too few columns", aw_gpu_parse_smi("0, GPU-a\n", g, 4)
          == AW_ERROR);
    CHECK("header without util", aw_gpu_parse_smi("index, uuid\n0, a\n",
                                                  g, 4) == AW_ERROR);
    CHECK("negative index", aw_gpu_parse_smi("-1, GPU-a, 5\n", g, 4)
          == AW_ERROR);
    CHECK("nothing named", aw_gpu_busy(g, 0, "", 10) == AW_ERROR);
}


/* NVML: loaded or not, a count or AW_ERROR, both said in the log */

static void
test_nvml(void)
{
    int             n;
    aw_gpu_util_t   g[AW_GPU_MAX];

    n = aw_gpu_nvml_read(g, AW_GPU_MAX);
    CHECK("nvml: a count or an error", n >= 0 || n == AW_ERROR);
    CHECK("nvml: tried once", aw_gpu_nvml_available() == (n != AW_ERROR));

    printf("nvml: %s", n == AW_ERROR ? "not available\n" : "");

    for (int i = 0; i < n; i++) {
        printf("nvml: GPU %d %s %d %%\n", g[i].index, g[i].uuid, g[i].util);
    }
}


int
main(void)
{
    aw_log_level = AW_LOG_INFO;

    test_fixtures();
    test_noheader();
    test_refused();
    test_nvml();

    printf("%u passed, %u failed\n", passed, failed);

    return failed != 0;
}
