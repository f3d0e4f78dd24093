
/*
 * libFuzzer: the SIWE (EIP-4361) parser, the RFC 3339 times it reads, and
 * the signer recovery the module runs on the message.
 *
 * Input: MESSAGE [NUL SIGNATURE].  A message the parser takes must hold
 * together: every field a slice of the message, the address the one
 * decoded, the times the ones parsed again, every resource reachable.
 */


#include "fuzz.h"

#include "axon_siwe.h"


static void
fz_in(const char *buf, size_t len, axon_str_t s)
{
    if (s.data == NULL) {
        FZ_ASSERT(s.len == 0);
        return;
    }

    FZ_ASSERT(s.data >= buf && s.len <= len
              && (size_t) (s.data - buf) <= len - s.len);
}


static void
fz_time(const char *buf, size_t len, axon_str_t s, int64_t want)
{
    int64_t  t;

    if (s.data == NULL) {
        FZ_ASSERT(want == -1);
        return;
    }

    fz_in(buf, len, s);
    FZ_ASSERT(axon_rfc3339_parse(s.data, s.len, &t) == AXON_OK);
    FZ_ASSERT(t == want && t >= 0);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int             rc;
    char           *msg, *sig;
    size_t          len, siglen, i;
    int64_t         t;
    uint8_t         addr[20];
    axon_str_t      uri;
    axon_siwe_t     m;
    const uint8_t  *rest;
    const char     *why;

    fz_split(data, size, &rest, &len, &siglen);
    msg = fz_dup(data, len);
    sig = fz_dup(rest, siglen);

    why = NULL;
    rc = axon_siwe_parse(&m, msg, len, &why);

    if (rc == AXON_OK) {
        fz_in(msg, len, m.domain);
        fz_in(msg, len, m.address);
        fz_in(msg, len, m.statement);
        fz_in(msg, len, m.uri);
        fz_in(msg, len, m.version);
        fz_in(msg, len, m.nonce);
        fz_in(msg, len, m.request_id);
        fz_in(msg, len, m.scheme);
        fz_in(msg, len, m.resources);

        FZ_ASSERT(m.domain.len > 0 && m.uri.len > 0 && m.nonce.len >= 8);
        FZ_ASSERT(m.version.len == 1 && m.version.data[0] == '1');

        FZ_ASSERT(m.address.len == AXON_ADDR_TEXT_LEN);
        FZ_ASSERT(axon_address_parse(addr, m.address.data, m.address.len)
                  == AXON_OK);
        FZ_ASSERT(memcmp(addr, m.addr, 20) == 0);

        fz_time(msg, len, m.issued_at, m.issued_at_unix);
        fz_time(msg, len, m.expiration_time, m.expiration_unix);
        fz_time(msg, len, m.not_before, m.not_before_unix);

        for (i = 0; i < m.nresources; i++) {
            FZ_ASSERT(axon_siwe_resource(&m, i, &uri) == AXON_OK);
            fz_in(msg, len, uri);
            FZ_ASSERT(uri.len > 0);
        }

        FZ_ASSERT(axon_siwe_resource(&m, m.nresources, &uri)
                  == AXON_ERR_SIWE);

        if (m.statement.data) {
            FZ_ASSERT(axon_siwe_statement_check(m.statement.data,
                                                m.statement.len)
                      == AXON_OK);
        }

    } else {
        FZ_ASSERT(rc == AXON_ERR_SIWE);
        FZ_ASSERT(why != NULL && why[0] != '\0');
    }

    (void) axon_siwe_statement_check(msg, len);

    if (axon_rfc3339_parse(msg, len, &t) == AXON_OK) {
        FZ_ASSERT(t > INT64_MIN);
    }

    /* the module's next step: who signed it (personal_sign) */

    if (siglen) {
        (void) axon_personal_recover(addr, msg, len, sig, siglen);
    }

    free(msg);
    free(sig);

    return 0;
}
