
/*
 * axon: Sign-In with Ethereum (EIP-4361) messages and RFC 3339 date-times.
 *
 * The message is read line by line with a cursor over the caller's buffer;
 * every check looks only at bytes inside [msg, msg + len).  The grammar
 * pieces borrowed from RFC 3986 (authority, URI, pchar) are checked by small
 * hand-written recognisers below.
 */


#include <string.h>

#include "axon_eth.h"
#include "axon_siwe.h"


#define AXON_SIWE_HEADER  " wants you to sign in with your Ethereum account:"

/* RFC 3986 character classes */
#define AXON_URI_UNRESERVED   0x01    /* ALPHA DIGIT - . _ ~ */
#define AXON_URI_SUB_DELIM    0x02    /* ! $ & ' ( ) * + , ; = */
#define AXON_URI_GEN_DELIM    0x04    /* : / ? # [ ] @ */
#define AXON_URI_PCT          0x08    /* "%" HEXDIG HEXDIG allowed */

#define AXON_URI_PCHAR_CLASSES                                               \
    (AXON_URI_UNRESERVED | AXON_URI_SUB_DELIM | AXON_URI_PCT)


/* the fields after the statement, in the order they must appear */

enum {
    AXON_SIWE_URI = 0,
    AXON_SIWE_VERSION,
    AXON_SIWE_CHAIN_ID,
    AXON_SIWE_NONCE,
    AXON_SIWE_ISSUED_AT,                /* the last required one */
    AXON_SIWE_EXPIRATION,
    AXON_SIWE_NOT_BEFORE,
    AXON_SIWE_REQUEST_ID,
    AXON_SIWE_RESOURCES,
    AXON_SIWE_NFIELDS
};


typedef struct {
    const char  *label;                 /* "Nonce: ", or "Resources:" */
    size_t       len;
    const char  *missing;
    const char  *duplicate;
    const char  *order;
    const char  *after;
} axon_siwe_field_t;


/* a line cursor: lines are split at LF; the last line has no LF */

typedef struct {
    const char  *p;
    const char  *end;
    unsigned     last;                  /* the line returned was the last */
} axon_siwe_lines_t;


static const char *axon_siwe_bytes(const char *msg, size_t len);
static int axon_siwe_head(axon_siwe_t *m, axon_siwe_lines_t *it,
    axon_str_t *line, const char **err);
static int axon_siwe_body(axon_siwe_t *m, axon_siwe_lines_t *it,
    axon_str_t *line, const char **err);
static int axon_siwe_next_line(axon_siwe_lines_t *it, axon_str_t *line);
static int axon_siwe_field_of(const axon_str_t *line);
static int axon_siwe_later(const axon_siwe_lines_t *it, int field);
static int axon_siwe_value(axon_siwe_t *m, int field, axon_str_t *v,
    const char **why);
static int axon_siwe_time(const axon_str_t *v, axon_str_t *field,
    int64_t *t, const char *bad, const char *early, const char **why);
static int axon_siwe_domain(axon_siwe_t *m, const char *p, size_t n,
    const char **why);
static int axon_siwe_address(axon_siwe_t *m, const axon_str_t *line,
    const char **why);
static unsigned axon_uri_class(unsigned char c);
static int axon_uri_hex(unsigned char c);
static int axon_uri_scheme(const char *p, size_t n);
static int axon_uri_pct(const char *p, size_t n, size_t *i);
static int axon_uri_chars(const char *p, size_t n, unsigned classes,
    const char *extra);
static int axon_uri_authority(const char *p, size_t n, int need_host);
static int axon_uri_ip_literal(const char *p, size_t n);
static int axon_uri_ipv6(const char *p, size_t n);
static int axon_uri_ipv4(const char *p, size_t n);
static int axon_uri_ok(const char *p, size_t n);
static int axon_digits(const char *p, size_t n, int *v);
static int64_t axon_days_from_civil(int64_t y, int m, int d);


static const int  axon_month_days[12] = {
    31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
};


#define axon_siwe_field(name, sep)                                           \
    { name sep, sizeof(name sep) - 1, "missing " name, "duplicate " name,    \
      name " is out of order", "unexpected line after " name }

static const axon_siwe_field_t  axon_siwe_fields[AXON_SIWE_NFIELDS] = {
    axon_siwe_field("URI", ": "),
    axon_siwe_field("Version", ": "),
    axon_siwe_field("Chain ID", ": "),
    axon_siwe_field("Nonce", ": "),
    axon_siwe_field("Issued At", ": "),
    axon_siwe_field("Expiration Time", ": "),
    axon_siwe_field("Not Before", ": "),
    axon_siwe_field("Request ID", ": "),
    axon_siwe_field("Resources", ":")
};


int
axon_siwe_parse(axon_siwe_t *m, const char *msg, size_t len,
    const char **why)
{
    const char         *err;
    axon_str_t          line;
    axon_siwe_lines_t   it;

    memset(m, 0, sizeof(axon_siwe_t));
    m->expiration_unix = -1;
    m->not_before_unix = -1;

    err = axon_siwe_bytes(msg, len);

    if (err != NULL) {
        goto failed;
    }

    it.p = msg;
    it.end = msg + len;
    it.last = 0;

    if (axon_siwe_head(m, &it, &line, &err) != AXON_OK
        || axon_siwe_body(m, &it, &line, &err) != AXON_OK)
    {
        goto failed;
    }

    if (m->nresources) {
        m->resources.len = (size_t) (msg + len - m->resources.data);
    }

    return AXON_OK;

failed:

    if (why) {
        *why = err;
    }

    return AXON_ERR_SIWE;
}


/* the message's bytes: printable ASCII lines ending with LF; NULL: good */

static const char *
axon_siwe_bytes(const char *msg, size_t len)
{
    size_t         i;
    unsigned char  c;

    if (msg == NULL || len == 0) {
        return "the message is empty";
    }

    if (memchr(msg, '\0', len) != NULL) {
        return "the message contains a NUL byte";
    }

    if (memchr(msg, '\r', len) != NULL) {
        return "the message contains a CR: lines must end with LF alone";
    }

    for (i = 0; i < len; i++) {
        c = (unsigned char) msg[i];

        if ((c < 0x20 && c != '\n') || c > 0x7e) {
            return "the message contains a byte that is not printable ASCII";
        }
    }

    return NULL;
}


/*
 * The lines before the fields: the domain's line, the address, an empty
 * line and the statement if there is one.  *line is then the first field's.
 */

static int
axon_siwe_head(axon_siwe_t *m, axon_siwe_lines_t *it, axon_str_t *line,
    const char **err)
{
    axon_str_t         next;
    axon_siwe_lines_t  peek;

    /* line 1: [scheme "://"] domain " wants you to sign in ..." */

    (void) axon_siwe_next_line(it, line);

    if (line->len < sizeof(AXON_SIWE_HEADER) - 1
        || memcmp(line->data + line->len - (sizeof(AXON_SIWE_HEADER) - 1),
                  AXON_SIWE_HEADER, sizeof(AXON_SIWE_HEADER) - 1) != 0)
    {
        *err = "line 1: expected \"DOMAIN wants you to sign in with your "
               "Ethereum account:\"";
        return AXON_ERR_SIWE;
    }

    if (axon_siwe_domain(m, line->data,
                         line->len - (sizeof(AXON_SIWE_HEADER) - 1), err)
        != AXON_OK)
    {
        return AXON_ERR_SIWE;
    }

    /* line 2: the address; line 3: empty */

    if (!axon_siwe_next_line(it, line)) {
        *err = "missing address";
        return AXON_ERR_SIWE;
    }

    if (axon_siwe_address(m, line, err) != AXON_OK) {
        return AXON_ERR_SIWE;
    }

    if (!axon_siwe_next_line(it, line)) {
        *err = "missing URI";
        return AXON_ERR_SIWE;
    }

    if (line->len != 0) {
        *err = "line 3 must be empty";
        return AXON_ERR_SIWE;
    }

    /*
     * The statement: the next line when it is not empty and an empty line
     * that is not the last follows it.  Otherwise there is no statement and
     * the next line is either the empty line of the EIP's ABNF or already
     * "URI: " (as viem writes it).
     */

    if (!axon_siwe_next_line(it, line)) {
        *err = "missing URI";
        return AXON_ERR_SIWE;
    }

    peek = *it;

    if (line->len == 0) {
        if (!axon_siwe_next_line(it, line)) {
            *err = "missing URI";
            return AXON_ERR_SIWE;
        }

    } else if (axon_siwe_next_line(&peek, &next)
               && next.len == 0 && !peek.last)
    {
        if (axon_siwe_statement_check(line->data, line->len) != AXON_OK) {
            *err = "the statement contains a character that is not allowed";
            return AXON_ERR_SIWE;
        }

        m->statement = *line;
        *it = peek;

        /* the empty line was not the last: there is a next one */

        (void) axon_siwe_next_line(it, line);
    }

    return AXON_OK;
}


/* the fields from *line on, one per line, in order, each at most once */

static int
axon_siwe_body(axon_siwe_t *m, axon_siwe_lines_t *it, axon_str_t *line,
    const char **err)
{
    int            k, idx;
    unsigned char  seen[AXON_SIWE_NFIELDS];

    memset(seen, 0, sizeof(seen));
    idx = 0;

    for ( ;; ) {

        if (line->len == 0) {
            *err = it->last ? "the message must not end with a newline"
                            : "unexpected empty line";
            return AXON_ERR_SIWE;
        }

        if (idx == AXON_SIWE_NFIELDS
            && line->len >= 2 && line->data[0] == '-' && line->data[1] == ' ')
        {
            if (!axon_uri_ok(line->data + 2, line->len - 2)) {
                *err = "a resource is not a valid RFC 3986 URI";
                return AXON_ERR_SIWE;
            }

            if (m->nresources++ == 0) {
                m->resources.data = line->data;
            }

            goto next_line;
        }

        k = axon_siwe_field_of(line);

        if (k < 0) {
            *err = (idx == 0)
                   ? "missing URI (a statement must be one line followed by "
                     "an empty line)"
                   : axon_siwe_fields[idx - 1].after;
            return AXON_ERR_SIWE;
        }

        if (seen[k]) {
            *err = axon_siwe_fields[k].duplicate;
            return AXON_ERR_SIWE;
        }

        if (k < idx) {
            *err = axon_siwe_fields[k].order;
            return AXON_ERR_SIWE;
        }

        /* skipped a required field: missing, or somewhere further down */

        if (idx < k && idx <= AXON_SIWE_ISSUED_AT) {
            *err = axon_siwe_later(it, idx) ? axon_siwe_fields[idx].order
                                            : axon_siwe_fields[idx].missing;
            return AXON_ERR_SIWE;
        }

        line->data += axon_siwe_fields[k].len;
        line->len -= axon_siwe_fields[k].len;

        if (axon_siwe_value(m, k, line, err) != AXON_OK) {
            return AXON_ERR_SIWE;
        }

        seen[k] = 1;
        idx = k + 1;

    next_line:

        if (!axon_siwe_next_line(it, line)) {
            break;
        }
    }

    if (idx <= AXON_SIWE_ISSUED_AT) {
        *err = axon_siwe_fields[idx].missing;
        return AXON_ERR_SIWE;
    }

    return AXON_OK;
}


int
axon_siwe_resource(const axon_siwe_t *m, size_t i, axon_str_t *uri)
{
    axon_str_t         line;
    axon_siwe_lines_t  it;

    if (i >= m->nresources || m->resources.data == NULL) {
        return AXON_ERR_SIWE;
    }

    it.p = m->resources.data;
    it.end = m->resources.data + m->resources.len;
    it.last = 0;

    do {
        if (!axon_siwe_next_line(&it, &line)) {
            return AXON_ERR_SIWE;
        }
    } while (i--);

    if (line.len < 2) {
        return AXON_ERR_SIWE;
    }

    uri->data = line.data + 2;
    uri->len = line.len - 2;

    return AXON_OK;
}


int
axon_siwe_statement_check(const char *s, size_t len)
{
    if (len == 0
        || !axon_uri_chars(s, len,
                           AXON_URI_UNRESERVED | AXON_URI_SUB_DELIM
                           | AXON_URI_GEN_DELIM, " "))
    {
        return AXON_ERR_SIWE;
    }

    return AXON_OK;
}


/*
 * Returns 0 after the last line.  A message that ends with LF has an empty
 * last line.
 */

static int
axon_siwe_next_line(axon_siwe_lines_t *it, axon_str_t *line)
{
    const char  *lf;

    if (it->last) {
        return 0;
    }

    lf = memchr(it->p, '\n', (size_t) (it->end - it->p));

    line->data = it->p;

    if (lf == NULL) {
        line->len = (size_t) (it->end - it->p);
        it->p = it->end;
        it->last = 1;

    } else {
        line->len = (size_t) (lf - it->p);
        it->p = lf + 1;
    }

    return 1;
}


/* the field a line starts with, or -1 */

static int
axon_siwe_field_of(const axon_str_t *line)
{
    int                       k;
    const axon_siwe_field_t  *f;

    for (k = 0; k < AXON_SIWE_NFIELDS; k++) {
        f = &axon_siwe_fields[k];

        if (line->len < f->len || memcmp(line->data, f->label, f->len) != 0)
        {
            continue;
        }

        if (k == AXON_SIWE_RESOURCES && line->len != f->len) {
            return -1;
        }

        return k;
    }

    return -1;
}


/* 1 if a line after the cursor starts with the field's label */

static int
axon_siwe_later(const axon_siwe_lines_t *it, int field)
{
    axon_str_t         line;
    axon_siwe_lines_t  c;

    c = *it;

    while (axon_siwe_next_line(&c, &line)) {
        if (axon_siwe_field_of(&line) == field) {
            return 1;
        }
    }

    return 0;
}


static int
axon_siwe_value(axon_siwe_t *m, int field, axon_str_t *v, const char **why)
{
    size_t          i;
    uint64_t        n, d;
    unsigned char   c;

    switch (field) {

    case AXON_SIWE_URI:
        if (!axon_uri_ok(v->data, v->len)) {
            *why = "URI is not a valid RFC 3986 URI";
            return AXON_ERR_SIWE;
        }

        m->uri = *v;
        return AXON_OK;

    case AXON_SIWE_VERSION:
        if (v->len != 1 || v->data[0] != '1') {
            *why = "Version must be 1";
            return AXON_ERR_SIWE;
        }

        m->version = *v;
        return AXON_OK;

    case AXON_SIWE_CHAIN_ID:
        if (v->len == 0 || (v->data[0] == '0' && v->len > 1)) {
            *why = "Chain ID must be decimal digits without leading zeros";
            return AXON_ERR_SIWE;
        }

        n = 0;

        for (i = 0; i < v->len; i++) {
            c = (unsigned char) v->data[i];

            if (c < '0' || c > '9') {
                *why = "Chain ID must be decimal digits without leading "
                       "zeros";
                return AXON_ERR_SIWE;
            }

            d = c - '0';

            if (n > (UINT64_MAX - d) / 10) {
                *why = "Chain ID does not fit in 64 bits";
                return AXON_ERR_SIWE;
            }

            n = n * 10 + d;
        }

        m->chain_id = n;
        return AXON_OK;

    case AXON_SIWE_NONCE:
        for (i = 0; i < v->len; i++) {
            c = (unsigned char) v->data[i];

            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
                  || (c >= 'A' && c <= 'Z')))
            {
                *why = "Nonce must be letters and digits only";
                return AXON_ERR_SIWE;
            }
        }

        if (v->len < 8) {
            *why = "Nonce must be at least 8 characters";
            return AXON_ERR_SIWE;
        }

        m->nonce = *v;
        return AXON_OK;

    case AXON_SIWE_ISSUED_AT:
        return axon_siwe_time(v, &m->issued_at, &m->issued_at_unix,
                              "Issued At is not an RFC 3339 date-time",
                              "Issued At is before 1970", why);

    case AXON_SIWE_EXPIRATION:
        return axon_siwe_time(v, &m->expiration_time, &m->expiration_unix,
                              "Expiration Time is not an RFC 3339 date-time",
                              "Expiration Time is before 1970", why);

    case AXON_SIWE_NOT_BEFORE:
        return axon_siwe_time(v, &m->not_before, &m->not_before_unix,
                              "Not Before is not an RFC 3339 date-time",
                              "Not Before is before 1970", why);

    case AXON_SIWE_REQUEST_ID:

        /* *pchar: may be empty */

        if (!axon_uri_chars(v->data, v->len, AXON_URI_PCHAR_CLASSES, ":@")) {
            *why = "Request ID contains a character that is not allowed";
            return AXON_ERR_SIWE;
        }

        m->request_id = *v;
        return AXON_OK;

    default: /* AXON_SIWE_RESOURCES: the label is the whole line */
        return AXON_OK;
    }
}


/* a date-time field: RFC 3339, not before 1970 (so -1 means absent) */

static int
axon_siwe_time(const axon_str_t *v, axon_str_t *field, int64_t *t,
    const char *bad, const char *early, const char **why)
{
    int64_t  s;

    if (axon_rfc3339_parse(v->data, v->len, &s) != AXON_OK) {
        *why = bad;
        return AXON_ERR_SIWE;
    }

    if (s < 0) {
        *why = early;
        return AXON_ERR_SIWE;
    }

    *field = *v;
    *t = s;

    return AXON_OK;
}


/* line 1 before the header text: [scheme "://"] authority */

static int
axon_siwe_domain(axon_siwe_t *m, const char *p, size_t n, const char **why)
{
    size_t  i;

    for (i = 0; i < n && p[i] != ':'; i++) {
        /* void */
    }

    if (i + 2 < n && p[i + 1] == '/' && p[i + 2] == '/') {

        if (!axon_uri_scheme(p, i)) {
            *why = "line 1: the scheme is not a valid RFC 3986 scheme";
            return AXON_ERR_SIWE;
        }

        m->scheme.data = p;
        m->scheme.len = i;

        p += i + 3;
        n -= i + 3;
    }

    if (!axon_uri_authority(p, n, 1)) {
        *why = "line 1: the domain is not a valid RFC 3986 authority";
        return AXON_ERR_SIWE;
    }

    m->domain.data = p;
    m->domain.len = n;

    return AXON_OK;
}


/*
 * EIP-4361 requires the EIP-55 form: axon_address_parse() alone also takes
 * all-lowercase and all-uppercase addresses, so compare with the formatted
 * checksum too.
 */

static int
axon_siwe_address(axon_siwe_t *m, const axon_str_t *line, const char **why)
{
    int   rc;
    char  sum[AXON_ADDR_TEXT_LEN];

    rc = axon_address_parse(m->addr, line->data, line->len);

    if (rc == AXON_ERR_CHECKSUM) {
        *why = "line 2: the address has a wrong EIP-55 checksum";
        return AXON_ERR_SIWE;
    }

    if (rc != AXON_OK) {
        *why = "line 2: the address must be 0x followed by 40 hex digits";
        return AXON_ERR_SIWE;
    }

    axon_address_format(sum, m->addr);

    if (memcmp(sum, line->data, AXON_ADDR_TEXT_LEN) != 0) {
        *why = "line 2: the address is not EIP-55 checksummed";
        return AXON_ERR_SIWE;
    }

    m->address = *line;

    return AXON_OK;
}


/* RFC 3986 */

static unsigned
axon_uri_class(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9'))
    {
        return AXON_URI_UNRESERVED;
    }

    switch (c) {

    case '-': case '.': case '_': case '~':
        return AXON_URI_UNRESERVED;

    case '!': case '$': case '&': case '\'': case '(': case ')':
    case '*': case '+': case ',': case ';': case '=':
        return AXON_URI_SUB_DELIM;

    case ':': case '/': case '?': case '#': case '[': case ']': case '@':
        return AXON_URI_GEN_DELIM;

    default:
        return 0;
    }
}


static int
axon_uri_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
           || (c >= 'A' && c <= 'F');
}


/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */

static int
axon_uri_scheme(const char *p, size_t n)
{
    size_t         i;
    unsigned char  c;

    if (n == 0) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        c = (unsigned char) p[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
            continue;
        }

        if (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-'
                      || c == '.'))
        {
            continue;
        }

        return 0;
    }

    return 1;
}


/* pct-encoded at p[*i] ('%' HEXDIG HEXDIG): advance *i past it */

static int
axon_uri_pct(const char *p, size_t n, size_t *i)
{
    if (p[*i] != '%' || n - *i < 3
        || !axon_uri_hex((unsigned char) p[*i + 1])
        || !axon_uri_hex((unsigned char) p[*i + 2]))
    {
        return 0;
    }

    *i += 3;

    return 1;
}


/*
 * 1 if p[0 .. n) is *( classes / extra ), where AXON_URI_PCT in classes
 * admits pct-encoded triplets
 */

static int
axon_uri_chars(const char *p, size_t n, unsigned classes, const char *extra)
{
    size_t         i;
    unsigned char  c;

    i = 0;

    while (i < n) {
        c = (unsigned char) p[i];

        if (c == '%' && (classes & AXON_URI_PCT)) {
            if (!axon_uri_pct(p, n, &i)) {
                return 0;
            }

            continue;
        }

        if ((axon_uri_class(c) & classes) == 0
            && (c == '\0' || strchr(extra, c) == NULL))
        {
            return 0;
        }

        i++;
    }

    return 1;
}


/* authority = [ userinfo "@" ] host [ ":" port ] */

static int
axon_uri_authority(const char *p, size_t n, int need_host)
{
    size_t       i, host;
    const char  *at, *rb;

    at = memchr(p, '@', n);

    if (at != NULL) {
        if (!axon_uri_chars(p, (size_t) (at - p), AXON_URI_PCHAR_CLASSES,
                            ":"))
        {
            return 0;
        }

        n -= (size_t) (at + 1 - p);
        p = at + 1;
    }

    if (n > 0 && p[0] == '[') {
        rb = memchr(p, ']', n);

        if (rb == NULL || !axon_uri_ip_literal(p + 1, (size_t) (rb - p - 1)))
        {
            return 0;
        }

        host = (size_t) (rb + 1 - p);

    } else {
        for (host = 0; host < n && p[host] != ':'; host++) {
            /* void */
        }

        /* reg-name; an IPv4address is one too */

        if (!axon_uri_chars(p, host, AXON_URI_PCHAR_CLASSES, "")) {
            return 0;
        }
    }

    if (need_host && host == 0) {
        return 0;
    }

    if (host == n) {
        return 1;
    }

    if (p[host] != ':') {
        return 0;
    }

    for (i = host + 1; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return 0;
        }
    }

    return 1;
}


/* IP-literal without the brackets: IPv6address / IPvFuture */

static int
axon_uri_ip_literal(const char *p, size_t n)
{
    size_t  i;

    if (n == 0 || (p[0] != 'v' && p[0] != 'V')) {
        return axon_uri_ipv6(p, n);
    }

    /* "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ) */

    for (i = 1; i < n && axon_uri_hex((unsigned char) p[i]); i++) {
        /* void */
    }

    if (i == 1 || i + 1 >= n || p[i] != '.') {
        return 0;
    }

    i++;

    return axon_uri_chars(p + i, n - i,
                          AXON_URI_UNRESERVED | AXON_URI_SUB_DELIM, ":");
}


/*
 * IPv6address of RFC 3986: eight h16 groups, or fewer with one "::", the
 * last two groups possibly an IPv4address.
 */

static int
axon_uri_ipv6(const char *p, size_t n)
{
    size_t  i, start, groups;
    int     dcolon;

    i = 0;
    groups = 0;
    dcolon = 0;

    if (n >= 2 && p[0] == ':' && p[1] == ':') {
        dcolon = 1;
        i = 2;

        if (i == n) {
            return 1;
        }

    } else if (n == 0 || p[0] == ':') {
        return 0;
    }

    for ( ;; ) {
        start = i;

        while (i < n && axon_uri_hex((unsigned char) p[i])) {
            i++;
        }

        if (i < n && p[i] == '.') {
            if (!axon_uri_ipv4(p + start, n - start)) {
                return 0;
            }

            groups += 2;
            break;
        }

        if (i == start || i - start > 4) {
            return 0;
        }

        groups++;

        if (i == n) {
            break;
        }

        if (p[i] != ':') {
            return 0;
        }

        i++;

        if (i < n && p[i] == ':') {
            if (dcolon) {
                return 0;
            }

            dcolon = 1;
            i++;

            if (i == n) {
                break;
            }

        } else if (i == n) {
            return 0;
        }
    }

    return dcolon ? groups <= 7 : groups == 8;
}


/* dec-octet "." dec-octet "." dec-octet "." dec-octet, all of p[0 .. n) */

static int
axon_uri_ipv4(const char *p, size_t n)
{
    size_t  i, k, start;
    int     v;

    i = 0;

    for (k = 0; k < 4; k++) {
        if (k > 0) {
            if (i >= n || p[i] != '.') {
                return 0;
            }

            i++;
        }

        start = i;
        v = 0;

        while (i < n && i - start < 3 && p[i] >= '0' && p[i] <= '9') {
            v = v * 10 + (p[i] - '0');
            i++;
        }

        if (i == start || v > 255 || (p[start] == '0' && i - start > 1)) {
            return 0;
        }
    }

    return i == n;
}


/* URI = scheme ":" hier-part [ "?" query ] [ "#" fragment ] */

static int
axon_uri_ok(const char *p, size_t n)
{
    size_t  i, start;

    for (i = 0; i < n && p[i] != ':'; i++) {
        /* void */
    }

    if (i == n || !axon_uri_scheme(p, i)) {
        return 0;
    }

    i++;

    /* "//" authority path-abempty, or a path without an authority */

    if (n - i >= 2 && p[i] == '/' && p[i + 1] == '/') {
        i += 2;
        start = i;

        while (i < n && p[i] != '/' && p[i] != '?' && p[i] != '#') {
            i++;
        }

        if (!axon_uri_authority(p + start, i - start, 0)) {
            return 0;
        }
    }

    start = i;

    while (i < n && p[i] != '?' && p[i] != '#') {
        i++;
    }

    /* pchar / "/" */

    if (!axon_uri_chars(p + start, i - start, AXON_URI_PCHAR_CLASSES,
                        ":@/"))
    {
        return 0;
    }

    if (i < n && p[i] == '?') {
        start = ++i;

        while (i < n && p[i] != '#') {
            i++;
        }

        if (!axon_uri_chars(p + start, i - start, AXON_URI_PCHAR_CLASSES,
                            ":@/?"))
        {
            return 0;
        }
    }

    if (i < n) {

        /* '#': the fragment runs to the end; a second '#' is not allowed */

        i++;

        return axon_uri_chars(p + i, n - i, AXON_URI_PCHAR_CLASSES, ":@/?");
    }

    return 1;
}


/* RFC 3339 */

int
axon_rfc3339_parse(const char *s, size_t len, int64_t *unix_seconds)
{
    int      year, month, day, hour, min, sec, oh, om, mdays;
    size_t   i;
    int64_t  t, off;

    /* YYYY-MM-DDThh:mm:ss */

    if (s == NULL || len < 20
        || !axon_digits(s, 4, &year) || s[4] != '-'
        || !axon_digits(s + 5, 2, &month) || s[7] != '-'
        || !axon_digits(s + 8, 2, &day)
        || (s[10] != 'T' && s[10] != 't')
        || !axon_digits(s + 11, 2, &hour) || s[13] != ':'
        || !axon_digits(s + 14, 2, &min) || s[16] != ':'
        || !axon_digits(s + 17, 2, &sec))
    {
        return AXON_ERR_SIWE;
    }

    if (month < 1 || month > 12) {
        return AXON_ERR_SIWE;
    }

    mdays = axon_month_days[month - 1];

    if (month == 2
        && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))
    {
        mdays = 29;
    }

    if (day < 1 || day > mdays || hour > 23 || min > 59 || sec > 60) {
        return AXON_ERR_SIWE;
    }

    i = 19;

    /* time-secfrac = "." 1*DIGIT, dropped */

    if (s[i] == '.') {
        i++;

        if (i == len || s[i] < '0' || s[i] > '9') {
            return AXON_ERR_SIWE;
        }

        while (i < len && s[i] >= '0' && s[i] <= '9') {
            i++;
        }

        if (i == len) {
            return AXON_ERR_SIWE;
        }
    }

    /* time-offset = "Z" / ( "+" / "-" ) hh ":" mm */

    if (s[i] == 'Z' || s[i] == 'z') {
        off = 0;
        i++;

    } else if (s[i] == '+' || s[i] == '-') {
        if (len - i < 6
            || !axon_digits(s + i + 1, 2, &oh) || s[i + 3] != ':'
            || !axon_digits(s + i + 4, 2, &om)
            || oh > 23 || om > 59)
        {
            return AXON_ERR_SIWE;
        }

        off = (int64_t) oh * 3600 + om * 60;

        if (s[i] == '-') {
            off = -off;
        }

        i += 6;

    } else {
        return AXON_ERR_SIWE;
    }

    if (i != len) {
        return AXON_ERR_SIWE;
    }

    t = axon_days_from_civil(year, month, day) * 86400
        + (int64_t) hour * 3600 + min * 60 + sec;

    *unix_seconds = t - off;

    return AXON_OK;
}


/* exactly n ASCII digits */

static int
axon_digits(const char *p, size_t n, int *v)
{
    size_t  i;

    *v = 0;

    for (i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return 0;
        }

        *v = *v * 10 + (p[i] - '0');
    }

    return 1;
}


/*
 * Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar
 * (H. Hinnant's days_from_civil).
 */

static int64_t
axon_days_from_civil(int64_t y, int m, int d)
{
    int64_t  era, yoe, doy, doe;

    y -= (m <= 2);
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}
