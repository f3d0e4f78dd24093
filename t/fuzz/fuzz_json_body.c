
/*
 * libFuzzer: the module's JSON request bodies, as far as they are read
 * outside nginx: json_loadb() with JSON_REJECT_DUPLICATES (what
 * ngx_http_axon_body_ready() does with every body), then each handler's
 * checks of its fields, by the fields' JSON lengths:
 *
 *   verify-wallet   message (axon_siwe_parse), signature
 *                   (axon_personal_recover over the message)
 *   session, x402   profile, mode, minutes, session_id (types, ranges),
 *                   ssh_public_key (axon_ssh_key_check)
 *   verify-deposit  tx_hash (0x and 64 hex digits)
 *   release         auth_token (a string)
 *
 * and the payload dumped again (json_dumps(), as the x402 script and the
 * jobs get it), which must read back equal.
 */


#include <ctype.h>

#include <jansson.h>

#include "fuzz.h"

#include "axon_siwe.h"
#include "axon_sshkey.h"


static int
fz_string(json_t *o, const char *key, const char **s, size_t *len)
{
    json_t  *v;

    v = json_object_get(o, key);

    if (!json_is_string(v)) {
        return 0;
    }

    *s = json_string_value(v);
    *len = json_string_length(v);

    /* without JSON_ALLOW_NUL no string holds a NUL */
    FZ_ASSERT(strlen(*s) == *len);

    return 1;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char          *text, *dump;
    size_t         len, siglen, i;
    json_t        *body, *again, *v;
    uint8_t        signer[20];
    const char    *s, *sig, *why;
    axon_siwe_t    m;

    text = fz_dup(data, size);
    body = json_loadb(text, size, JSON_REJECT_DUPLICATES, NULL);
    free(text);

    if (!json_is_object(body)) {
        json_decref(body);
        return 0;
    }

    /* POST /api/auth/verify-wallet */

    if (fz_string(body, "message", &s, &len)
        && fz_string(body, "signature", &sig, &siglen))
    {
        if (axon_siwe_parse(&m, s, len, &why) == AXON_OK) {
            FZ_ASSERT(m.address.len == AXON_ADDR_TEXT_LEN);
        }

        (void) axon_personal_recover(signer, s, len, sig, siglen);
    }

    /* POST /api/session, /api/x402/session */

    if (fz_string(body, "ssh_public_key", &s, &len)) {
        why = NULL;

        if (axon_ssh_key_check(s, len, &why) != AXON_OK) {
            FZ_ASSERT(why != NULL);
        }
    }

    if (fz_string(body, "profile", &s, &len)) {
        for (i = 0; i < len; i++) {
            (void) isalnum((unsigned char) s[i]);
        }
    }

    v = json_object_get(body, "minutes");
    if (json_is_integer(v)) {
        (void) (json_integer_value(v) > 0);
    }

    v = json_object_get(body, "session_id");
    if (v && !json_is_null(v) && json_is_integer(v)) {
        (void) (json_integer_value(v) < 1);
    }

    /* POST /api/auth/verify-deposit */

    if (fz_string(body, "tx_hash", &s, &len) && len == 66
        && s[0] == '0' && s[1] == 'x')
    {
        for (i = 2; i < len && isxdigit((unsigned char) s[i]); i++) {
            /* void */
        }
    }

    /* the body written again reads back the same */

    dump = json_dumps(body, JSON_COMPACT);
    FZ_ASSERT(dump != NULL);

    again = json_loads(dump, JSON_REJECT_DUPLICATES, NULL);
    FZ_ASSERT(again != NULL && json_equal(body, again));

    json_decref(again);
    free(dump);
    json_decref(body);

    return 0;
}
