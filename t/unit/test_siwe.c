
/*
 * Unit tests for libaxon/axon_siwe.h: EIP-4361 messages and RFC 3339
 * date-times.
 *
 * usage: test_siwe [--vectors FILE] [--fuzz N]
 *
 * --vectors is what scripts/run-unit passes to every unit test; this one
 * has no use for it.  --fuzz sets the number of random mutations (300000
 * by default).  Every message is parsed from a heap copy of exactly its
 * length, so a sanitizer build catches any read past the end.  Each failed
 * check prints "file:line: FAIL case: detail"; the last line is
 * "N passed, N failed".
 */


#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "axon_eth.h"
#include "axon_siwe.h"
#include "check.h"


#define CHECK_STR(name, got, want)                                           \
    check_str(__FILE__, __LINE__, name, got, want)

#define CHECK_I64(name, got, want)                                           \
    check_i64(__FILE__, __LINE__, name, got, want)

#define ACCEPT(name, msg, len)                                               \
    accept(__FILE__, __LINE__, name, msg, len)

#define REFUSE(name, msg, len, why)                                          \
    refuse(__FILE__, __LINE__, name, msg, len, why)

#define REFUSE_SUB(name, from, to, why)                                      \
    refuse_sub(__FILE__, __LINE__, name, from, to, why)

#define TIME_OK(s, want)                                                     \
    time_ok(__FILE__, __LINE__, s, want)

#define TIME_BAD(s)                                                          \
    time_bad(__FILE__, __LINE__, s)


static int check_str(const char *file, int line, const char *name,
    axon_str_t got, const char *want);
static int check_i64(const char *file, int line, const char *name,
    int64_t got, int64_t want);
static const char *copy(const char *s, size_t len);
static int parse(axon_siwe_t *m, const char *s, size_t len, const char **why);
static int accept(const char *file, int line, const char *name,
    const char *msg, size_t len);
static int refuse(const char *file, int line, const char *name,
    const char *msg, size_t len, const char *why);
static int refuse_sub(const char *file, int line, const char *name,
    const char *from, const char *to, const char *why);
static char *subst(const char *s, const char *from, const char *to);
static void time_ok(const char *file, int line, const char *s, int64_t want);
static void time_bad(const char *file, int line, const char *s);
static int slice_in(axon_str_t s, const char *buf, size_t len);
static const char *invariants(const axon_siwe_t *m, const char *buf,
    size_t len);
static size_t rebuild(char *out, size_t size, const axon_siwe_t *m,
    int blank, int label);
static uint64_t rnd(void);

static void test_strerror(void);
static void test_rfc3339(void);
static void test_rfc3339_timegm(void);
static void test_full(void);
static void test_minimal(void);
static void test_module(void);
static void test_scheme(void);
static void test_optional(void);
static void test_refuse(void);
static void test_uris(void);
static void test_statement_check(void);
static void test_prefixes(void);
static void test_fuzz(unsigned long iters);


static uint64_t     rnd_state = 0x9e3779b97f4a7c15ULL;
static const char  *copied;            /* the last copy() */


#define HDR  " wants you to sign in with your Ethereum account:\n"
#define ADDR "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"

static const char  full_msg[] =
    "example.com" HDR
    ADDR "\n"
    "\n"
    "I accept the ExampleOrg Terms of Service: https://example.com/tos\n"
    "\n"
    "URI: https://example.com/login\n"
    "Version: 1\n"
    "Chain ID: 1\n"
    "Nonce: 32891756\n"
    "Issued At: 2021-09-30T16:25:24Z\n"
    "Expiration Time: 2021-10-01T16:25:24.123+02:00\n"
    "Not Before: 2021-09-30T16:00:00-00:30\n"
    "Request ID: some_id-1%20x@:~\n"
    "Resources:\n"
    "- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/\n"
    "- https://example.com/my-web2-claim.json";

/* no statement, no optional field, as the EIP's ABNF has it */

static const char  minimal_msg[] =
    "example.com" HDR
    ADDR "\n"
    "\n"
    "\n"
    "URI: https://example.com/login\n"
    "Version: 1\n"
    "Chain ID: 1\n"
    "Nonce: 32891756\n"
    "Issued At: 2021-09-30T16:25:24Z";

/* the same as viem writes it: one empty line */

static const char  minimal2_msg[] =
    "example.com" HDR
    ADDR "\n"
    "\n"
    "URI: https://example.com/login\n"
    "Version: 1\n"
    "Chain ID: 1\n"
    "Nonce: 32891756\n"
    "Issued At: 2021-09-30T16:25:24Z";

/* what ngx_http_axon_auth.c issues */

static const char  module_msg[] =
    "127.0.0.1:6080 wants you to sign in with your Ethereum account:\n"
    "0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1\n\n"
    "Sign in to the axon GPU gate.\n\n"
    "URI: http://127.0.0.1:6080/\n"
    "Version: 1\n"
    "Chain ID: 1337\n"
    "Nonce: 3110ea2233197f7c2e5c4cb7b1d4c85d\n"
    "Issued At: 2026-11-23T09:29:48Z\n"
    "Expiration Time: 2026-11-23T09:34:48Z";

static const uint8_t  addr_bin[20] = {
    0xc0, 0x2a, 0xaa, 0x39, 0xb2, 0x23, 0xfe, 0x8d, 0x0a, 0x0e,
    0x5c, 0x4f, 0x27, 0xea, 0xd9, 0x08, 0x3c, 0x75, 0x6c, 0xc2
};


int
main(int argc, char **argv)
{
    int            i;
    unsigned long  iters;

    iters = 300000;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--vectors") == 0 && i + 1 < argc) {
            i++;                        /* nothing to use it for */

        } else if (strcmp(argv[i], "--fuzz") == 0 && i + 1 < argc) {
            iters = strtoul(argv[++i], NULL, 10);

        } else {
            fprintf(stderr, "usage: %s [--vectors FILE] [--fuzz N]\n",
                    argv[0]);
            printf("0 passed, 1 failed\n");
            return 2;
        }
    }

    test_strerror();
    test_rfc3339();
    test_rfc3339_timegm();
    test_full();
    test_minimal();
    test_module();
    test_scheme();
    test_optional();
    test_refuse();
    test_uris();
    test_statement_check();
    test_prefixes();
    test_fuzz(iters);

    (void) copy(NULL, 0);

    printf("%u passed, %u failed\n", passed, failed);

    return failed ? 1 : 0;
}


static int
check_str(const char *file, int line, const char *name, axon_str_t got,
    const char *want)
{
    char  what[512];

    if (got.data != NULL && got.len == strlen(want)
        && memcmp(got.data, want, got.len) == 0)
    {
        passed++;
        return 1;
    }

    snprintf(what, sizeof(what), "got \"%.*s\"%s, want \"%s\"",
             (int) (got.len > 200 ? 200 : got.len),
             got.data ? got.data : "", got.data ? "" : " (NULL)", want);

    return check(file, line, name, 0, what);
}


static int
check_i64(const char *file, int line, const char *name, int64_t got,
    int64_t want)
{
    char  what[128];

    if (got == want) {
        passed++;
        return 1;
    }

    snprintf(what, sizeof(what), "got %" PRId64 ", want %" PRId64,
             got, want);

    return check(file, line, name, 0, what);
}


/*
 * A heap copy of exactly len bytes (no NUL after it), kept until the next
 * call so that parsed slices stay valid; copy(NULL, 0) frees it.
 */

static const char *
copy(const char *s, size_t len)
{
    static char  *buf;

    free(buf);
    buf = NULL;
    copied = NULL;

    if (s == NULL) {
        return NULL;
    }

    buf = malloc(len ? len : 1);
    if (buf == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }

    memcpy(buf, s, len);
    copied = buf;

    return buf;
}


static int
parse(axon_siwe_t *m, const char *s, size_t len, const char **why)
{
    *why = "(why not set)";

    return axon_siwe_parse(m, copy(s, len), len, why);
}


static int
accept(const char *file, int line, const char *name, const char *msg,
    size_t len)
{
    int          rc;
    char         what[512];
    const char  *why, *bad;
    axon_siwe_t  m;

    rc = parse(&m, msg, len, &why);

    if (rc != AXON_OK) {
        snprintf(what, sizeof(what), "refused: %s", why);
        return check(file, line, name, 0, what);
    }

    bad = invariants(&m, copied, len);

    if (bad != NULL) {
        return check(file, line, name, 0, bad);
    }

    passed++;
    return 1;
}


static int
refuse(const char *file, int line, const char *name, const char *msg,
    size_t len, const char *want)
{
    int          rc;
    char         what[512];
    const char  *why;
    axon_siwe_t  m;

    rc = parse(&m, msg, len, &why);

    if (rc != AXON_ERR_SIWE) {
        snprintf(what, sizeof(what), "rc %d, want AXON_ERR_SIWE (\"%s\")",
                 rc, want);
        return check(file, line, name, 0, what);
    }

    if (why == NULL || strcmp(why, want) != 0) {
        snprintf(what, sizeof(what), "why \"%s\", want \"%s\"",
                 why ? why : "(NULL)", want);
        return check(file, line, name, 0, what);
    }

    passed++;
    return 1;
}


/* full_msg with the first "from" replaced by "to", which must be refused */

static int
refuse_sub(const char *file, int line, const char *name, const char *from,
    const char *to, const char *want)
{
    int    ok;
    char  *s;

    s = subst(full_msg, from, to);
    if (s == NULL) {
        return check(file, line, name, 0, "subst: pattern not found");
    }

    ok = refuse(file, line, name, s, strlen(s), want);
    free(s);

    return ok;
}


/* a malloc()ed copy of s with the first "from" replaced, or NULL */

static char *
subst(const char *s, const char *from, const char *to)
{
    char        *out;
    size_t       n, f, t;
    const char  *p;

    p = strstr(s, from);
    if (p == NULL) {
        return NULL;
    }

    n = strlen(s);
    f = strlen(from);
    t = strlen(to);

    out = malloc(n - f + t + 1);
    if (out == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }

    memcpy(out, s, (size_t) (p - s));
    memcpy(out + (p - s), to, t);
    memcpy(out + (p - s) + t, p + f, n - (size_t) (p - s) - f + 1);

    return out;
}


static void
time_ok(const char *file, int line, const char *s, int64_t want)
{
    int      rc;
    int64_t  t;
    char     what[256];

    t = 0x5a5a5a5a;
    rc = axon_rfc3339_parse(copy(s, strlen(s)), strlen(s), &t);

    if (rc != AXON_OK) {
        snprintf(what, sizeof(what), "\"%s\" refused", s);
        check(file, line, "rfc3339", 0, what);
        return;
    }

    snprintf(what, sizeof(what), "rfc3339 %s", s);
    check_i64(file, line, what, t, want);
}


static void
time_bad(const char *file, int line, const char *s)
{
    int      rc;
    int64_t  t;
    char     what[256];

    t = 12345;
    rc = axon_rfc3339_parse(copy(s, strlen(s)), strlen(s), &t);

    snprintf(what, sizeof(what), "rfc3339 \"%s\" must be refused", s);
    check(file, line, what, rc == AXON_ERR_SIWE && t == 12345,
          "rc == AXON_ERR_SIWE && t untouched");
}


static void
test_strerror(void)
{
    CHECK("strerror siwe", AXON_ERR_SIWE == -7);
    CHECK("strerror siwe",
          strcmp(axon_strerror(AXON_ERR_SIWE), "bad_message") == 0);
}


static void
test_rfc3339(void)
{
    int64_t  t;

    TIME_OK("1970-01-01T00:00:00Z", 0);
    TIME_OK("2000-02-29T12:00:00Z", 951825600);
    TIME_OK("2038-01-19T03:14:08Z", 2147483648LL);
    TIME_OK("2021-09-30T16:25:24Z", 1633019124);
    TIME_OK("2026-11-23T09:29:48Z", 1795426188);
    TIME_OK("9999-12-31T23:59:59Z", 253402300799LL);
    TIME_OK("0000-01-01T00:00:00Z", -62167219200LL);
    TIME_OK("1969-12-31T23:59:59Z", -1);
    TIME_OK("2024-02-29T00:00:00Z", 1709164800);
    TIME_OK("2400-02-29T00:00:00Z", 13574563200LL);

    /* offsets: local time minus offset */

    TIME_OK("2026-11-23T11:29:48+02:00", 1795426188);
    TIME_OK("2026-11-23T04:00:00-05:30", 1795426200);
    TIME_OK("2026-11-23T09:29:48-00:00", 1795426188);
    TIME_OK("2026-11-23T09:29:48+00:00", 1795426188);
    TIME_OK("1970-01-01T00:59:59+01:00", -1);
    TIME_OK("2021-10-01T16:25:24.123+02:00", 1633098324);
    TIME_OK("2026-11-23T23:59:00-23:59", 1795564680);

    /* fractions are dropped; lowercase t and z; a leap second */

    TIME_OK("2026-11-23T09:29:48.5Z", 1795426188);
    TIME_OK("2026-11-23T09:29:48.999999999999999999999Z", 1795426188);
    TIME_OK("2026-11-23T09:29:48.000+00:00", 1795426188);
    TIME_OK("2026-11-23t09:29:48z", 1795426188);
    TIME_OK("2016-12-31T23:59:60Z", 1483228800);

    /* refused */

    TIME_BAD("");
    TIME_BAD("garbage");
    TIME_BAD("2026-13-01T00:00:00Z");               /* month 13 */
    TIME_BAD("2026-00-01T00:00:00Z");
    TIME_BAD("2026-02-30T00:00:00Z");               /* Feb 30 */
    TIME_BAD("2023-02-29T00:00:00Z");               /* not a leap year */
    TIME_BAD("1900-02-29T00:00:00Z");
    TIME_BAD("2026-04-31T00:00:00Z");
    TIME_BAD("2026-01-00T00:00:00Z");
    TIME_BAD("2026-01-32T00:00:00Z");
    TIME_BAD("2026-11-23T24:00:00Z");               /* hour 24 */
    TIME_BAD("2026-11-23T23:60:00Z");
    TIME_BAD("2026-11-23T23:59:61Z");
    TIME_BAD("2026-11-23T09:29:48");                /* no Z or offset */
    TIME_BAD("2026-11-23T09:29:48.5");
    TIME_BAD("2026-11-23T09:29:48ZZ");
    TIME_BAD("2026-11-23T09:29:48Z ");
    TIME_BAD(" 2026-11-23T09:29:48Z");
    TIME_BAD("2026-11-23 09:29:48Z");
    TIME_BAD("2026-11-23T09:29:48.Z");
    TIME_BAD("2026-11-23T09:29:48.");
    TIME_BAD("2026-11-23T09:29:48+02");
    TIME_BAD("2026-11-23T09:29:48+0200");
    TIME_BAD("2026-11-23T09:29:48+02:0");
    TIME_BAD("2026-11-23T09:29:48+24:00");
    TIME_BAD("2026-11-23T09:29:48+02:60");
    TIME_BAD("2026-11-23T09:29:48+02:00Z");
    TIME_BAD("2026-11-23T09:29:48UTC");
    TIME_BAD("2026-11-23T9:29:48Z");
    TIME_BAD("2026-1-23T09:29:48Z");
    TIME_BAD("26-11-23T09:29:48Z");
    TIME_BAD("+2026-11-23T09:29:48Z");
    TIME_BAD("2026/11/23T09:29:48Z");
    TIME_BAD("2026-11-23T09-29-48Z");
    TIME_BAD("2026-11-23T09:29:4aZ");
    TIME_BAD("2026-11-23T09:29:48,5Z");
    TIME_BAD("2026-11-23");
    TIME_BAD("1795426188");

    t = 7;
    CHECK("rfc3339 NULL", axon_rfc3339_parse(NULL, 0, &t) == AXON_ERR_SIWE
                          && t == 7);
}


/* random instants against glibc's timegm() */

static void
test_rfc3339_timegm(void)
{
    int        i, ok, y, mo, d, h, mi, s, oh, om, sign;
    char       buf[64];
    int64_t    got, want;
    struct tm  tm;

    static const int  mdays[12] = {
        31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    };

    ok = 1;

    for (i = 0; i < 20000 && ok; i++) {
        y = 1970 + (int) (rnd() % 8030);
        mo = 1 + (int) (rnd() % 12);
        d = mdays[mo - 1];

        if (mo == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) {
            d = 29;
        }

        d = 1 + (int) (rnd() % (uint64_t) d);
        h = (int) (rnd() % 24);
        mi = (int) (rnd() % 60);
        s = (int) (rnd() % 60);
        oh = (int) (rnd() % 24);
        om = (int) (rnd() % 60);
        sign = (rnd() & 1) ? 1 : -1;

        snprintf(buf, sizeof(buf),
                 "%04d-%02d-%02dT%02d:%02d:%02d.%d%c%02d:%02d",
                 y, mo, d, h, mi, s, i, sign > 0 ? '+' : '-', oh, om);

        memset(&tm, 0, sizeof(tm));
        tm.tm_year = y - 1900;
        tm.tm_mon = mo - 1;
        tm.tm_mday = d;
        tm.tm_hour = h;
        tm.tm_min = mi;
        tm.tm_sec = s;

        want = (int64_t) timegm(&tm) - sign * (oh * 3600 + om * 60);

        if (axon_rfc3339_parse(copy(buf, strlen(buf)), strlen(buf), &got)
            != AXON_OK)
        {
            ok = check(__FILE__, __LINE__, "rfc3339 vs timegm", 0, buf);
            break;
        }

        if (got != want) {
            ok = check_i64(__FILE__, __LINE__, buf, got, want);
        }
    }

    if (ok) {
        CHECK("rfc3339 vs timegm, 20000 random instants", 1);
    }
}


static void
test_full(void)
{
    int          rc;
    const char  *why;
    axon_siwe_t  m;
    axon_str_t   r;

    rc = parse(&m, full_msg, sizeof(full_msg) - 1, &why);

    if (!CHECK("full parses", rc == AXON_OK)) {
        printf("    why: %s\n", why);
        return;
    }

    CHECK("full scheme absent", m.scheme.data == NULL && m.scheme.len == 0);
    CHECK_STR("full domain", m.domain, "example.com");
    CHECK_STR("full address", m.address, ADDR);
    CHECK("full addr", memcmp(m.addr, addr_bin, 20) == 0);
    CHECK_STR("full statement", m.statement,
              "I accept the ExampleOrg Terms of Service: "
              "https://example.com/tos");
    CHECK_STR("full uri", m.uri, "https://example.com/login");
    CHECK_STR("full version", m.version, "1");
    CHECK("full chain id", m.chain_id == 1);
    CHECK_STR("full nonce", m.nonce, "32891756");
    CHECK_STR("full issued at", m.issued_at, "2021-09-30T16:25:24Z");
    CHECK_I64("full issued at unix", m.issued_at_unix, 1633019124);
    CHECK_STR("full expiration", m.expiration_time,
              "2021-10-01T16:25:24.123+02:00");
    CHECK_I64("full expiration unix", m.expiration_unix, 1633098324);
    CHECK_STR("full not before", m.not_before, "2021-09-30T16:00:00-00:30");
    CHECK_I64("full not before unix", m.not_before_unix, 1633019400);
    CHECK_STR("full request id", m.request_id, "some_id-1%20x@:~");
    CHECK("full nresources", m.nresources == 2);
    CHECK_STR("full resources", m.resources,
              "- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3ev"
              "fyavhwq/\n- https://example.com/my-web2-claim.json");

    CHECK("full resource 0", axon_siwe_resource(&m, 0, &r) == AXON_OK);
    CHECK_STR("full resource 0", r,
              "ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3ev"
              "fyavhwq/");
    CHECK("full resource 1", axon_siwe_resource(&m, 1, &r) == AXON_OK);
    CHECK_STR("full resource 1", r, "https://example.com/my-web2-claim.json");
    CHECK("full resource 2", axon_siwe_resource(&m, 2, &r) == AXON_ERR_SIWE);

    ACCEPT("full invariants", full_msg, sizeof(full_msg) - 1);

    /* why may be NULL */

    CHECK("full why NULL",
          axon_siwe_parse(&m, copy(full_msg, 3), 3, NULL) == AXON_ERR_SIWE);
}


static void
test_minimal(void)
{
    int          i, rc;
    const char  *why, *msg;
    axon_siwe_t  m;

    for (i = 0; i < 2; i++) {
        msg = i == 0 ? minimal_msg : minimal2_msg;

        rc = parse(&m, msg, strlen(msg), &why);

        if (!CHECK(i == 0 ? "minimal parses" : "minimal (viem form) parses",
                   rc == AXON_OK))
        {
            printf("    why: %s\n", why);
            continue;
        }

        CHECK_STR("minimal domain", m.domain, "example.com");
        CHECK_STR("minimal address", m.address, ADDR);
        CHECK("minimal no statement",
              m.statement.data == NULL && m.statement.len == 0);
        CHECK_STR("minimal uri", m.uri, "https://example.com/login");
        CHECK_STR("minimal version", m.version, "1");
        CHECK("minimal chain id", m.chain_id == 1);
        CHECK_STR("minimal nonce", m.nonce, "32891756");
        CHECK_I64("minimal issued at", m.issued_at_unix, 1633019124);
        CHECK("minimal no expiration",
              m.expiration_unix == -1 && m.expiration_time.data == NULL);
        CHECK("minimal no not before",
              m.not_before_unix == -1 && m.not_before.data == NULL);
        CHECK("minimal no request id", m.request_id.data == NULL);
        CHECK("minimal no resources",
              m.nresources == 0 && m.resources.data == NULL);

        ACCEPT("minimal invariants", msg, strlen(msg));
    }
}


static void
test_module(void)
{
    int          rc;
    const char  *why;
    axon_siwe_t  m;

    static const uint8_t  ganache[20] = {
        0x90, 0xf8, 0xbf, 0x6a, 0x47, 0x9f, 0x32, 0x0e, 0xad, 0x07,
        0x44, 0x11, 0xa4, 0xb0, 0xe7, 0x94, 0x4e, 0xa8, 0xc9, 0xc1
    };

    rc = parse(&m, module_msg, sizeof(module_msg) - 1, &why);

    if (!CHECK("module message parses", rc == AXON_OK)) {
        printf("    why: %s\n", why);
        return;
    }

    CHECK_STR("module domain", m.domain, "127.0.0.1:6080");
    CHECK("module no scheme", m.scheme.data == NULL);
    CHECK_STR("module address", m.address,
              "0x90F8bf6A479f320ead074411a4B0e7944Ea8c9C1");
    CHECK("module addr", memcmp(m.addr, ganache, 20) == 0);
    CHECK_STR("module statement", m.statement,
              "Sign in to the axon GPU gate.");
    CHECK_STR("module uri", m.uri, "http://127.0.0.1:6080/");
    CHECK("module chain id", m.chain_id == 1337);
    CHECK_STR("module nonce", m.nonce, "3110ea2233197f7c2e5c4cb7b1d4c85d");
    CHECK_STR("module issued at", m.issued_at, "2026-11-23T09:29:48Z");
    CHECK_I64("module issued at unix", m.issued_at_unix, 1795426188);
    CHECK_STR("module expiration", m.expiration_time, "2026-11-23T09:34:48Z");
    CHECK_I64("module expiration unix", m.expiration_unix, 1795426488);
    CHECK_I64("module not before", m.not_before_unix, -1);
    CHECK("module no request id", m.request_id.data == NULL);
    CHECK("module no resources", m.nresources == 0);

    ACCEPT("module invariants", module_msg, sizeof(module_msg) - 1);
}


static void
test_scheme(void)
{
    int          rc;
    char        *s;
    const char  *why;
    axon_siwe_t  m;

    s = subst(full_msg, "example.com wants", "https://example.com wants");
    rc = parse(&m, s, strlen(s), &why);

    if (CHECK("scheme parses", rc == AXON_OK)) {
        CHECK_STR("scheme scheme", m.scheme, "https");
        CHECK_STR("scheme domain", m.domain, "example.com");
    }

    free(s);

    s = subst(full_msg, "example.com wants",
              "git+ssh://user:pw@[::1]:8443 wants");
    rc = parse(&m, s, strlen(s), &why);

    if (CHECK("scheme, userinfo, IPv6", rc == AXON_OK)) {
        CHECK_STR("scheme scheme 2", m.scheme, "git+ssh");
        CHECK_STR("scheme domain 2", m.domain, "user:pw@[::1]:8443");
    }

    free(s);

    REFUSE_SUB("scheme empty", "example.com wants", "://example.com wants",
               "line 1: the scheme is not a valid RFC 3986 scheme");
    REFUSE_SUB("scheme digit", "example.com wants",
               "1http://example.com wants",
               "line 1: the scheme is not a valid RFC 3986 scheme");
    REFUSE_SUB("scheme no domain", "example.com wants", "https:// wants",
               "line 1: the domain is not a valid RFC 3986 authority");
}


static void
test_optional(void)
{
    int          rc;
    char        *s, *t;
    const char  *why;
    axon_siwe_t  m;
    axon_str_t   r;

    /* an empty Request ID; "Resources:" without resources */

    s = subst(minimal_msg, "16:25:24Z",
              "16:25:24Z\nRequest ID: \nResources:");
    rc = parse(&m, s, strlen(s), &why);

    if (CHECK("empty request id, no resources", rc == AXON_OK)) {
        CHECK("empty request id",
              m.request_id.data != NULL && m.request_id.len == 0);
        CHECK("no resources", m.nresources == 0 && m.resources.data == NULL);
        CHECK("no resource 0",
              axon_siwe_resource(&m, 0, &r) == AXON_ERR_SIWE);
    }

    ACCEPT("empty request id invariants", s, strlen(s));
    free(s);

    /* Not Before without Expiration Time */

    s = subst(minimal2_msg, "16:25:24Z",
              "16:25:24Z\nNot Before: 2021-09-30T16:25:24Z");
    rc = parse(&m, s, strlen(s), &why);

    if (CHECK("not before alone", rc == AXON_OK)) {
        CHECK_I64("not before alone", m.not_before_unix, 1633019124);
        CHECK_I64("not before alone, no expiration", m.expiration_unix, -1);
    }

    free(s);

    /* chain ids: 0, the largest */

    s = subst(full_msg, "Chain ID: 1\n", "Chain ID: 18446744073709551615\n");
    rc = parse(&m, s, strlen(s), &why);
    CHECK("chain id 2^64 - 1", rc == AXON_OK && m.chain_id == UINT64_MAX);
    free(s);

    s = subst(full_msg, "Chain ID: 1\n", "Chain ID: 0\n");
    rc = parse(&m, s, strlen(s), &why);
    CHECK("chain id 0", rc == AXON_OK && m.chain_id == 0);
    free(s);

    /* a statement that looks like a field is still the statement */

    s = subst(full_msg, "I accept the ExampleOrg Terms of Service: "
              "https://example.com/tos", "URI: https://evil.example/");
    rc = parse(&m, s, strlen(s), &why);

    if (CHECK("statement like a field", rc == AXON_OK)) {
        CHECK_STR("statement like a field", m.statement,
                  "URI: https://evil.example/");
        CHECK_STR("statement like a field, uri", m.uri,
                  "https://example.com/login");
    }

    free(s);

    /* an address without letters has one form only */

    s = subst(minimal_msg, ADDR, "0x0000000000000000000000000000000000000000");
    ACCEPT("address without letters", s, strlen(s));
    free(s);

    /* the statement in the viem form equals the EIP form */

    s = subst(minimal2_msg, ADDR "\n\n", ADDR "\n\nHello, world!\n\n");
    t = subst(minimal_msg, ADDR "\n\n\n", ADDR "\n\nHello, world!\n\n");
    CHECK("statement forms", strcmp(s, t) == 0);
    rc = parse(&m, s, strlen(s), &why);
    CHECK("statement", rc == AXON_OK);
    CHECK_STR("statement", m.statement, "Hello, world!");
    free(s);
    free(t);
}


static void
test_refuse(void)
{
    char         *s;
    char          buf[2048];
    size_t        i, n;
    axon_siwe_t   m;

    REFUSE("empty", "", 0, "the message is empty");
    CHECK("NULL", axon_siwe_parse(&m, NULL, 5, NULL) == AXON_ERR_SIWE);

    /* NUL inside the statement */

    memcpy(buf, full_msg, sizeof(full_msg));
    buf[strstr(full_msg, "accept") - full_msg] = '\0';
    REFUSE("NUL", buf, sizeof(full_msg) - 1,
           "the message contains a NUL byte");

    /* CR LF */

    s = malloc(2 * sizeof(full_msg));
    if (s == NULL) {
        exit(2);
    }

    for (i = 0, n = 0; full_msg[i]; i++) {
        if (full_msg[i] == '\n') {
            s[n++] = '\r';
        }

        s[n++] = full_msg[i];
    }

    REFUSE("CR LF", s, n,
           "the message contains a CR: lines must end with LF alone");

    free(s);

    REFUSE_SUB("non-ASCII", "I accept", "I acc\xc3\xa9pt",
               "the message contains a byte that is not printable ASCII");
    REFUSE_SUB("tab", "I accept", "I\taccept",
               "the message contains a byte that is not printable ASCII");
    REFUSE_SUB("DEL", "I accept", "I\x7f" "accept",
               "the message contains a byte that is not printable ASCII");

    /* line 1 */

    REFUSE_SUB("header", "wants you to", "want you to",
               "line 1: expected \"DOMAIN wants you to sign in with your "
               "Ethereum account:\"");
    REFUSE_SUB("header case", "Ethereum account:", "ethereum account:",
               "line 1: expected \"DOMAIN wants you to sign in with your "
               "Ethereum account:\"");
    REFUSE_SUB("empty domain", "example.com wants", " wants",
               "line 1: the domain is not a valid RFC 3986 authority");
    REFUSE_SUB("domain with a space", "example.com wants",
               "exa mple.com wants",
               "line 1: the domain is not a valid RFC 3986 authority");
    REFUSE_SUB("domain with a path", "example.com wants",
               "example.com/x wants",
               "line 1: the domain is not a valid RFC 3986 authority");
    REFUSE_SUB("domain bad port", "example.com wants", "example.com:80a wants",
               "line 1: the domain is not a valid RFC 3986 authority");
    REFUSE_SUB("domain no host", "example.com wants", ":8080 wants",
               "line 1: the domain is not a valid RFC 3986 authority");
    REFUSE_SUB("domain bad IPv6", "example.com wants", "[::1::2] wants",
               "line 1: the domain is not a valid RFC 3986 authority");
    REFUSE("header only", "example.com" HDR, sizeof("example.com" HDR) - 2,
           "missing address");

    /* line 2 */

    REFUSE_SUB("lowercase address", ADDR,
               "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2",
               "line 2: the address is not EIP-55 checksummed");
    REFUSE_SUB("uppercase address", ADDR,
               "0xC02AAA39B223FE8D0A0E5C4F27EAD9083C756CC2",
               "line 2: the address is not EIP-55 checksummed");
    REFUSE_SUB("wrong checksum", ADDR,
               "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756cC2",
               "line 2: the address has a wrong EIP-55 checksum");
    REFUSE_SUB("short address", ADDR,
               "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc",
               "line 2: the address must be 0x followed by 40 hex digits");
    REFUSE_SUB("0X address", ADDR,
               "0XC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2",
               "line 2: the address must be 0x followed by 40 hex digits");
    REFUSE_SUB("address not hex", ADDR,
               "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cg2",
               "line 2: the address must be 0x followed by 40 hex digits");
    REFUSE_SUB("address with a space", ADDR "\n", ADDR " \n",
               "line 2: the address must be 0x followed by 40 hex digits");

    /* line 3, the statement */

    REFUSE_SUB("line 3", ADDR "\n\n", ADDR "\nx\n",
               "line 3 must be empty");
    REFUSE("ends after the address", "example.com" HDR ADDR,
           sizeof("example.com" HDR ADDR) - 1, "missing URI");
    REFUSE("ends after line 3", "example.com" HDR ADDR "\n",
           sizeof("example.com" HDR ADDR "\n") - 1, "missing URI");
    REFUSE_SUB("statement with a newline",
               "I accept the ExampleOrg",
               "I accept\nURI: https://evil.example/\nthe ExampleOrg",
               "missing URI (a statement must be one line followed by an "
               "empty line)");
    REFUSE_SUB("statement shifting fields",
               "Terms of Service: https://example.com/tos\n",
               "Terms of Service: https://example.com/tos\n"
               "URI: https://evil.example/\n",
               "missing URI (a statement must be one line followed by an "
               "empty line)");
    REFUSE_SUB("statement with %", "I accept", "I 100% accept",
               "the statement contains a character that is not allowed");
    REFUSE_SUB("statement with quotes", "I accept", "I \"accept\"",
               "the statement contains a character that is not allowed");
    REFUSE_SUB("statement after two empty lines", ADDR "\n\n",
               ADDR "\n\n\n",
               "missing URI (a statement must be one line followed by an "
               "empty line)");
    REFUSE_SUB("three empty lines", "tos\n\n", "tos\n\n\n",
               "unexpected empty line");

    /* the fields: missing, order, duplicates */

    REFUSE_SUB("missing URI", "URI: https://example.com/login\n", "",
               "missing URI");
    REFUSE_SUB("missing Version", "Version: 1\n", "", "missing Version");
    REFUSE_SUB("missing Chain ID", "Chain ID: 1\n", "", "missing Chain ID");
    REFUSE_SUB("missing Nonce", "Nonce: 32891756\n", "", "missing Nonce");
    REFUSE_SUB("missing Issued At", "Issued At: 2021-09-30T16:25:24Z\n", "",
               "missing Issued At");

    s = subst(minimal_msg, "\nIssued At: 2021-09-30T16:25:24Z", "");
    REFUSE("missing Issued At, last", s, strlen(s), "missing Issued At");
    free(s);

    REFUSE_SUB("Version after Chain ID", "Version: 1\nChain ID: 1\n",
               "Chain ID: 1\nVersion: 1\n", "Version is out of order");
    REFUSE_SUB("Issued At first", "URI: https://example.com/login\n",
               "Issued At: 2021-09-30T16:25:24Z\n"
               "URI: https://example.com/login\n",
               "URI is out of order");
    REFUSE_SUB("Not Before before Expiration Time",
               "Expiration Time: 2021-10-01T16:25:24.123+02:00\n"
               "Not Before: 2021-09-30T16:00:00-00:30\n",
               "Not Before: 2021-09-30T16:00:00-00:30\n"
               "Expiration Time: 2021-10-01T16:25:24.123+02:00\n",
               "Expiration Time is out of order");
    REFUSE_SUB("Resources before Request ID",
               "Request ID: some_id-1%20x@:~\nResources:\n"
               "- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3ev"
               "fyavhwq/\n- https://example.com/my-web2-claim.json",
               "Resources:\n- https://example.com/my-web2-claim.json\n"
               "Request ID: x",
               "Request ID is out of order");
    REFUSE_SUB("duplicate Nonce", "Nonce: 32891756\n",
               "Nonce: 32891756\nNonce: 32891757\n", "duplicate Nonce");
    REFUSE_SUB("duplicate URI", "Version: 1\n",
               "URI: https://example.com/login\nVersion: 1\n",
               "duplicate URI");
    REFUSE_SUB("duplicate Expiration Time", "Not Before:",
               "Expiration Time: 2021-10-01T16:25:24Z\nNot Before:",
               "duplicate Expiration Time");
    REFUSE_SUB("duplicate Resources", "\n- https://example.com/my",
               "\nResources:\n- https://example.com/my",
               "duplicate Resources");
    REFUSE_SUB("unknown field", "Nonce: 32891756\n",
               "Nonce: 32891756\nColor: blue\n",
               "unexpected line after Nonce");
    REFUSE_SUB("lowercase label", "Nonce: 32891756\n", "nonce: 32891756\n",
               "unexpected line after Chain ID");
    REFUSE_SUB("label without space", "Nonce: 32891756\n",
               "Nonce:32891756\n", "unexpected line after Chain ID");
    REFUSE_SUB("empty line among fields", "Version: 1\n", "Version: 1\n\n",
               "unexpected empty line");

    /* the end of the message */

    s = subst(full_msg, "claim.json", "claim.json\n");
    REFUSE("trailing newline", s, strlen(s),
           "the message must not end with a newline");
    free(s);

    s = subst(minimal_msg, "16:25:24Z", "16:25:24Z\n");
    REFUSE("trailing newline, minimal", s, strlen(s),
           "the message must not end with a newline");
    free(s);

    s = subst(minimal_msg, "16:25:24Z", "16:25:24Z\n\n");
    REFUSE("two trailing newlines", s, strlen(s), "unexpected empty line");
    free(s);

    s = subst(full_msg, "claim.json", "claim.json\nthanks");
    REFUSE("text after the resources", s, strlen(s),
           "unexpected line after Resources");
    free(s);

    s = subst(minimal_msg, "16:25:24Z", "16:25:24Z\nP.S. hi");
    REFUSE("text after Issued At", s, strlen(s),
           "unexpected line after Issued At");
    free(s);

    s = subst(minimal_msg, "16:25:24Z", "16:25:24Z and more");
    REFUSE("text after the time", s, strlen(s),
           "Issued At is not an RFC 3339 date-time");
    free(s);

    REFUSE("ends after the URI", "example.com" HDR ADDR "\n\nURI: http://x/\n",
           sizeof("example.com" HDR ADDR "\n\nURI: http://x/\n") - 1,
           "the message must not end with a newline");
    REFUSE("ends after the statement", "example.com" HDR ADDR "\n\nHi\n\n",
           sizeof("example.com" HDR ADDR "\n\nHi\n\n") - 1,
           "the message must not end with a newline");

    s = subst(module_msg, "09:34:48Z", "09:34:48Z\n");
    REFUSE("module message + newline", s, strlen(s),
           "the message must not end with a newline");
    free(s);

    /* values */

    REFUSE_SUB("version 2", "Version: 1\n", "Version: 2\n",
               "Version must be 1");
    REFUSE_SUB("version 1.0", "Version: 1\n", "Version: 1.0\n",
               "Version must be 1");
    REFUSE_SUB("version empty", "Version: 1\n", "Version: \n",
               "Version must be 1");
    REFUSE_SUB("chain id leading zero", "Chain ID: 1\n", "Chain ID: 01\n",
               "Chain ID must be decimal digits without leading zeros");
    REFUSE_SUB("chain id 00", "Chain ID: 1\n", "Chain ID: 00\n",
               "Chain ID must be decimal digits without leading zeros");
    REFUSE_SUB("chain id letters", "Chain ID: 1\n", "Chain ID: 1a\n",
               "Chain ID must be decimal digits without leading zeros");
    REFUSE_SUB("chain id hex", "Chain ID: 1\n", "Chain ID: 0x1\n",
               "Chain ID must be decimal digits without leading zeros");
    REFUSE_SUB("chain id negative", "Chain ID: 1\n", "Chain ID: -1\n",
               "Chain ID must be decimal digits without leading zeros");
    REFUSE_SUB("chain id empty", "Chain ID: 1\n", "Chain ID: \n",
               "Chain ID must be decimal digits without leading zeros");
    REFUSE_SUB("chain id 2^64", "Chain ID: 1\n",
               "Chain ID: 18446744073709551616\n",
               "Chain ID does not fit in 64 bits");
    REFUSE_SUB("chain id huge", "Chain ID: 1\n",
               "Chain ID: 99999999999999999999999999\n",
               "Chain ID does not fit in 64 bits");
    REFUSE_SUB("short nonce", "Nonce: 32891756", "Nonce: 3289175",
               "Nonce must be at least 8 characters");
    REFUSE_SUB("empty nonce", "Nonce: 32891756", "Nonce: ",
               "Nonce must be at least 8 characters");
    REFUSE_SUB("nonce with a dash", "Nonce: 32891756", "Nonce: 3289-1756",
               "Nonce must be letters and digits only");
    REFUSE_SUB("nonce with a space", "Nonce: 32891756", "Nonce: 32891756 ",
               "Nonce must be letters and digits only");
    REFUSE_SUB("uri not a uri", "URI: https://example.com/login",
               "URI: example dot com", "URI is not a valid RFC 3986 URI");
    REFUSE_SUB("uri empty", "URI: https://example.com/login", "URI: ",
               "URI is not a valid RFC 3986 URI");
    REFUSE_SUB("request id with a space", "Request ID: some_id",
               "Request ID: some id",
               "Request ID contains a character that is not allowed");
    REFUSE_SUB("request id with /", "Request ID: some_id",
               "Request ID: some/id",
               "Request ID contains a character that is not allowed");
    REFUSE_SUB("resource not a uri", "- https://example.com/my-web2",
               "- not a uri/my-web2",
               "a resource is not a valid RFC 3986 URI");
    REFUSE_SUB("resource without space", "- https://example.com/my-web2",
               "-https://example.com/my-web2",
               "unexpected line after Resources");

    /* times inside a message */

    REFUSE_SUB("issued at month 13", "2021-09-30T16:25:24Z",
               "2021-13-30T16:25:24Z",
               "Issued At is not an RFC 3339 date-time");
    REFUSE_SUB("issued at Feb 30", "2021-09-30T16:25:24Z",
               "2024-02-30T16:25:24Z",
               "Issued At is not an RFC 3339 date-time");
    REFUSE_SUB("issued at hour 24", "2021-09-30T16:25:24Z",
               "2021-09-30T24:00:00Z",
               "Issued At is not an RFC 3339 date-time");
    REFUSE_SUB("issued at without zone", "2021-09-30T16:25:24Z",
               "2021-09-30T16:25:24",
               "Issued At is not an RFC 3339 date-time");
    REFUSE_SUB("issued at garbage", "2021-09-30T16:25:24Z", "yesterday",
               "Issued At is not an RFC 3339 date-time");
    REFUSE_SUB("issued at unix", "2021-09-30T16:25:24Z", "1633019124",
               "Issued At is not an RFC 3339 date-time");
    REFUSE_SUB("issued at before 1970", "2021-09-30T16:25:24Z",
               "1969-12-31T23:59:59Z", "Issued At is before 1970");
    REFUSE_SUB("expiration garbage", "2021-10-01T16:25:24.123+02:00",
               "2021-10-01T16:25:24.123+2:00",
               "Expiration Time is not an RFC 3339 date-time");
    REFUSE_SUB("expiration before 1970", "2021-10-01T16:25:24.123+02:00",
               "1970-01-01T00:00:00+00:01",
               "Expiration Time is before 1970");
    REFUSE_SUB("not before garbage", "2021-09-30T16:00:00-00:30",
               "2021-09-31T16:00:00-00:30",
               "Not Before is not an RFC 3339 date-time");
    REFUSE_SUB("not before before 1970", "2021-09-30T16:00:00-00:30",
               "1900-01-01T00:00:00Z", "Not Before is before 1970");

    s = subst(full_msg, "2021-10-01T16:25:24.123+02:00",
              "1970-01-01T00:00:00Z");
    ACCEPT("expiration at the epoch", s, strlen(s));
    free(s);
}


static void
test_uris(void)
{
    size_t       i;
    char        *s, line[256];
    const char  *why;
    axon_siwe_t  m;

    static const char  *good[] = {
        "http://127.0.0.1:6080/",
        "https://example.com",
        "https://example.com:",
        "https://user:pass@example.com:443/a/b;c=d?q=1&r=%2F#frag/x?y",
        "http://[::1]:8080/x",
        "http://[2001:db8::7]/",
        "http://[2001:db8:0:0:0:0:0:7]/",
        "http://[::ffff:192.0.2.1]/",
        "http://[1:2:3:4:5:6:7::]/",
        "http://[::]/",
        "http://[v1.fe80::a+en1]/",
        "http:",
        "file:///etc/hosts",
        "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
        "mailto:someone@example.com",
        "ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/",
        "did:pkh:eip155:1:0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2",
        "a+b-c.d:x",
        "http://h/%41%4a%4A",
        "http://h?#",
    };

    static const char  *bad[] = {
        "",
        "example.com",
        "/relative/path",
        "1http://example.com/",
        ":no-scheme",
        "http://exa mple.com/",
        "http://example.com/a b",
        "http://example.com/%zz",
        "http://example.com/%4",
        "http://example.com/%",
        "http://example.com/#a#b",
        "http://example.com/<x>",
        "http://example.com/\"",
        "http://example.com/{x}",
        "http://example.com/a|b",
        "http://example.com/a\\b",
        "http://example.com/^",
        "http://example.com/`",
        "http://[::1/",
        "http://[::1]x/",
        "http://[1::2::3]/",
        "http://[1:2:3:4:5:6:7:8:9]/",
        "http://[1:2:3:4:5:6:7]/",
        "http://[12345::]/",
        "http://[:1]/",
        "http://[1:]/",
        "http://[1:::2]/",
        "http://[::ffff:1.2.3.256]/",
        "http://[::ffff:1.2.3]/",
        "http://[::ffff:01.2.3.4]/",
        "http://[::1.2.3.4:5]/",
        "http://[]/",
        "http://[v.x]/",
        "http://[v1.]/",
        "http://[vz.x]/",
        "http://a@b@c/",
        "http://h:8o/",
        "http://h]/",
    };

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        snprintf(line, sizeof(line), "URI: %s\n", good[i]);
        s = subst(minimal_msg, "URI: https://example.com/login\n", line);

        if (!CHECK(good[i], parse(&m, s, strlen(s), &why) == AXON_OK)) {
            printf("    why: %s\n", why);

        } else {
            CHECK_STR(good[i], m.uri, good[i]);
        }

        free(s);

        snprintf(line, sizeof(line), "- %s", good[i]);
        s = subst(full_msg, "- https://example.com/my-web2-claim.json", line);
        ACCEPT(good[i], s, strlen(s));
        free(s);
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(line, sizeof(line), "URI: %s\n", bad[i]);
        s = subst(minimal_msg, "URI: https://example.com/login\n", line);
        REFUSE(bad[i], s, strlen(s), "URI is not a valid RFC 3986 URI");
        free(s);
    }
}


static void
test_statement_check(void)
{
    CHECK("statement check ok",
          axon_siwe_statement_check("Sign in to the axon GPU gate.", 29)
          == AXON_OK);
    CHECK("statement check all",
          axon_siwe_statement_check("aZ09-._~:/?#[]@!$&'()*+,;= ", 27)
          == AXON_OK);
    CHECK("statement check empty",
          axon_siwe_statement_check("", 0) == AXON_ERR_SIWE);
    CHECK("statement check LF",
          axon_siwe_statement_check("a\nb", 3) == AXON_ERR_SIWE);
    CHECK("statement check %",
          axon_siwe_statement_check("100%", 4) == AXON_ERR_SIWE);
    CHECK("statement check %41",
          axon_siwe_statement_check("%41", 3) == AXON_ERR_SIWE);
    CHECK("statement check NUL",
          axon_siwe_statement_check("a\0b", 3) == AXON_ERR_SIWE);
    CHECK("statement check UTF-8",
          axon_siwe_statement_check("caf\xc3\xa9", 5) == AXON_ERR_SIWE);
}


/* every prefix of the samples: no crash, and valid only where it can be */

static void
test_prefixes(void)
{
    int           ok, rc;
    size_t        i, n, k;
    const char   *why, *bad, *msg;
    axon_siwe_t   m;

    static const char  *msgs[] = { full_msg, minimal_msg, minimal2_msg,
                                   module_msg };

    ok = 1;

    for (k = 0; k < sizeof(msgs) / sizeof(msgs[0]); k++) {
        msg = msgs[k];
        n = strlen(msg);

        for (i = 0; i <= n; i++) {
            rc = parse(&m, msg, i, &why);

            if (rc == AXON_OK) {
                bad = invariants(&m, copied, i);

                if (bad != NULL) {
                    ok = check(__FILE__, __LINE__, "prefix", 0, bad);
                }

            } else if (rc != AXON_ERR_SIWE || why == NULL || why[0] == '\0') {
                ok = check(__FILE__, __LINE__, "prefix", 0, "no why");
            }
        }
    }

    if (ok) {
        CHECK("every prefix of the samples", 1);
    }
}


/*
 * Random mutations of the samples.  Whatever the parser accepts must
 * satisfy the invariants, in particular rebuild to the same bytes.
 */

static void
test_fuzz(unsigned long iters)
{
    int            rc, nmut, j, k, ok;
    char           buf[4096], first[8192];
    size_t         len, pos, n, src;
    uint64_t       r;
    const char    *why, *bad, *p;
    unsigned long  it, naccepted;
    axon_siwe_t    m;
    int64_t        t;

    static const char  *msgs[] = {
        full_msg, minimal_msg, minimal2_msg, module_msg,
        "https://example.com:8443" HDR ADDR "\n\nHi\n\n"
        "URI: https://example.com/\nVersion: 1\nChain ID: 10\n"
        "Nonce: abcdefgh\nIssued At: 2026-01-01T00:00:00+01:00\n"
        "Request ID: \nResources:"
    };

    static const char  interesting[] = "\n\r\0 :-0123456789Zz.+T@[]/%#?x";

    ok = 1;
    naccepted = 0;

    for (it = 0; it < iters; it++) {
        p = msgs[rnd() % (sizeof(msgs) / sizeof(msgs[0]))];
        len = strlen(p);
        memcpy(buf, p, len);

        nmut = 1 + (int) (rnd() % 4);

        for (j = 0; j < nmut; j++) {
            r = rnd();
            pos = len ? (size_t) (rnd() % len) : 0;

            switch (r % 8) {

            case 0:                     /* overwrite a byte */
            case 1:
                if (len) {
                    buf[pos] = (r & 0x100)
                               ? interesting[(r >> 9)
                                             % (sizeof(interesting) - 1)]
                               : (char) (r >> 16);
                }
                break;

            case 2:                     /* insert a byte */
                if (len < sizeof(buf) - 1) {
                    memmove(buf + pos + 1, buf + pos, len - pos);
                    buf[pos] = interesting[(r >> 9)
                                           % (sizeof(interesting) - 1)];
                    len++;
                }
                break;

            case 3:                     /* delete a run */
                n = 1 + (size_t) ((r >> 8) % 8);
                if (pos + n <= len) {
                    memmove(buf + pos, buf + pos + n, len - pos - n);
                    len -= n;
                }
                break;

            case 4:                     /* truncate */
                len = pos;
                break;

            case 5:                     /* duplicate a run */
                n = 1 + (size_t) ((r >> 8) % 64);
                if (pos + n <= len && len + n < sizeof(buf)) {
                    memmove(buf + pos + n, buf + pos, len - pos);
                    len += n;
                }
                break;

            case 6:                     /* swap two bytes */
                src = len ? (size_t) ((r >> 8) % len) : 0;
                if (len) {
                    k = buf[pos];
                    buf[pos] = buf[src];
                    buf[src] = (char) k;
                }
                break;

            default:                    /* flip a letter's case */
                if (len && ((buf[pos] | 0x20) >= 'a'
                            && (buf[pos] | 0x20) <= 'z'))
                {
                    buf[pos] ^= 0x20;
                }
                break;
            }
        }

        rc = parse(&m, buf, len, &why);

        if (rc == AXON_OK) {
            naccepted++;
            bad = invariants(&m, copied, len);

        } else if (rc != AXON_ERR_SIWE || why == NULL || why[0] == '\0') {
            bad = "refused without a why";

        } else {
            bad = NULL;
        }

        /* the date-time parser alone, on a piece of the message */

        if (len >= 20) {
            pos = (size_t) (rnd() % (len - 19));
            n = 20 + (size_t) (rnd() % 16);
            n = pos + n > len ? len - pos : n;
            (void) axon_rfc3339_parse(copy(buf + pos, n), n, &t);
        }

        if (bad != NULL && ok) {
            snprintf(first, sizeof(first), "%s, on:\n%.*s\n", bad,
                     (int) len, buf);
            ok = check(__FILE__, __LINE__, "fuzz", 0, first);
        }
    }

    printf("fuzz: %lu mutations, %lu accepted\n", iters, naccepted);
    CHECK("fuzz invariants", ok);
}


static int
slice_in(axon_str_t s, const char *buf, size_t len)
{
    if (s.data == NULL) {
        return s.len == 0;
    }

    return s.data >= buf && s.len <= len
           && (size_t) (s.data - buf) <= len - s.len;
}


/*
 * What must hold for every accepted message buf[0 .. len): NULL if it
 * does, else a description.
 */

static const char *
invariants(const axon_siwe_t *m, const char *buf, size_t len)
{
    int          blank, label;
    char         out[8192];
    size_t       i, n;
    int64_t      t;
    axon_str_t   r;
    uint8_t      a[20];

    const axon_str_t  *all[] = {
        &m->domain, &m->address, &m->statement, &m->uri, &m->version,
        &m->nonce, &m->issued_at, &m->expiration_time, &m->not_before,
        &m->request_id, &m->scheme, &m->resources
    };

    for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (!slice_in(*all[i], buf, len)) {
            return "a slice is outside the message";
        }
    }

    if (m->domain.len == 0 || m->uri.len == 0 || m->issued_at.len < 20) {
        return "a required field is empty";
    }

    if (m->address.len != 42
        || axon_address_parse(a, m->address.data, 42) != AXON_OK
        || memcmp(a, m->addr, 20) != 0)
    {
        return "addr does not match the address";
    }

    if (m->version.len != 1 || m->version.data[0] != '1') {
        return "version is not 1";
    }

    if (m->nonce.len < 8) {
        return "short nonce accepted";
    }

    if (axon_rfc3339_parse(m->issued_at.data, m->issued_at.len, &t)
        != AXON_OK || t != m->issued_at_unix || t < 0)
    {
        return "issued_at_unix does not match issued_at";
    }

    if (m->expiration_time.data
        ? (axon_rfc3339_parse(m->expiration_time.data,
                              m->expiration_time.len, &t) != AXON_OK
           || t != m->expiration_unix || t < 0)
        : m->expiration_unix != -1)
    {
        return "expiration_unix does not match expiration_time";
    }

    if (m->not_before.data
        ? (axon_rfc3339_parse(m->not_before.data, m->not_before.len, &t)
           != AXON_OK || t != m->not_before_unix || t < 0)
        : m->not_before_unix != -1)
    {
        return "not_before_unix does not match not_before";
    }

    for (i = 0; i < m->nresources; i++) {
        if (axon_siwe_resource(m, i, &r) != AXON_OK || !slice_in(r, buf, len))
        {
            return "a resource cannot be read";
        }
    }

    if (axon_siwe_resource(m, m->nresources, &r) != AXON_ERR_SIWE) {
        return "a resource too many";
    }

    /* the fields rebuild the very bytes that were parsed */

    for (blank = 0; blank < 2; blank++) {
        for (label = 0; label < 2; label++) {
            n = rebuild(out, sizeof(out), m, blank, label);

            if (n == len && memcmp(out, buf, len) == 0) {
                return NULL;
            }
        }
    }

    return "the fields do not rebuild the message";
}


/*
 * The message from the fields: blank picks the EIP form (an empty line for
 * the missing statement) or viem's; label writes "Resources:" when there
 * are no resources.
 */

static size_t
rebuild(char *out, size_t size, const axon_siwe_t *m, int blank, int label)
{
    int  n;

    n = snprintf(out, size,
                 "%.*s%s%.*s wants you to sign in with your Ethereum "
                 "account:\n%.*s\n\n",
                 (int) m->scheme.len, m->scheme.data ? m->scheme.data : "",
                 m->scheme.data ? "://" : "",
                 (int) m->domain.len, m->domain.data,
                 (int) m->address.len, m->address.data);

    if (m->statement.data) {
        n += snprintf(out + n, size - (size_t) n, "%.*s\n\n",
                      (int) m->statement.len, m->statement.data);

    } else if (blank) {
        n += snprintf(out + n, size - (size_t) n, "\n");
    }

    n += snprintf(out + n, size - (size_t) n,
                  "URI: %.*s\nVersion: %.*s\nChain ID: %" PRIu64 "\n"
                  "Nonce: %.*s\nIssued At: %.*s",
                  (int) m->uri.len, m->uri.data,
                  (int) m->version.len, m->version.data,
                  m->chain_id,
                  (int) m->nonce.len, m->nonce.data,
                  (int) m->issued_at.len, m->issued_at.data);

    if (m->expiration_time.data) {
        n += snprintf(out + n, size - (size_t) n, "\nExpiration Time: %.*s",
                      (int) m->expiration_time.len, m->expiration_time.data);
    }

    if (m->not_before.data) {
        n += snprintf(out + n, size - (size_t) n, "\nNot Before: %.*s",
                      (int) m->not_before.len, m->not_before.data);
    }

    if (m->request_id.data) {
        n += snprintf(out + n, size - (size_t) n, "\nRequest ID: %.*s",
                      (int) m->request_id.len, m->request_id.data);
    }

    if (m->nresources) {
        n += snprintf(out + n, size - (size_t) n, "\nResources:\n%.*s",
                      (int) m->resources.len, m->resources.data);

    } else if (label) {
        n += snprintf(out + n, size - (size_t) n, "\nResources:");
    }

    return n < 0 || (size_t) n >= size ? 0 : (size_t) n;
}


/* xorshift64*: the same sequence on every run */

static uint64_t
rnd(void)
{
    rnd_state ^= rnd_state >> 12;
    rnd_state ^= rnd_state << 25;
    rnd_state ^= rnd_state >> 27;

    return rnd_state * 0x2545f4914f6cdd1dULL;
}
