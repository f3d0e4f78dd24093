/*
 * axon-worker: the jobs the gate queues when a wallet signs in or out:
 * auth.signin, auth.logout.  The module has done every check (signature,
 * nonce); the worker records the outcome in Postgres, idempotently
 * (sql/functions/axon_signin.sql, axon_logout.sql).
 */


#include <stdio.h>
#include <string.h>

#include "job.h"
#include "log.h"
#include "worker.h"


static void aw_auth_utf8(char *dst, size_t size, const char *s, size_t len);


static aw_db_stmt_t  aw_auth_signin_stmt = aw_db_stmt("signin",
    "SELECT axon_signin($1, $2::bytea, $3::bigint, $4::bigint, $5,"
    " $6::inet, $7)");

static aw_db_stmt_t  aw_auth_logout_stmt = aw_db_stmt("logout",
    "SELECT axon_logout($1::bytea, $2, $3::bigint) AS revoked");


int
aw_auth_signin(aw_job_t *job, aw_job_result_t *res)
{
    char          hash[2 + 64 + 1], issued[32], expires[32], ua[1024 * 3 + 1];
    PGresult     *pg;
    const char   *params[7], *ip, *agent;

    if (aw_job_int(job, "expires_at") <= aw_job_int(job, "issued_at")) {
        aw_job_fail(res, 1, "expires_at (%lld) must be after issued_at "
                    "(%lld)", (long long) aw_job_int(job, "expires_at"),
                    (long long) aw_job_int(job, "issued_at"));
        return AW_ERROR;
    }

    snprintf(hash, sizeof(hash), "\\x%s", aw_job_str(job, "token_hash"));
    snprintf(issued, sizeof(issued), "%lld",
             (long long) aw_job_int(job, "issued_at"));
    snprintf(expires, sizeof(expires), "%lld",
             (long long) aw_job_int(job, "expires_at"));

    ip = aw_job_str(job, "ip");
    agent = aw_job_str(job, "user_agent");

    /* the user agent is the client's: kept, with bad UTF-8 replaced */
    aw_auth_utf8(ua, sizeof(ua), agent, strlen(agent));

    params[0] = aw_job_addr(job, "wallet");
    params[1] = hash;
    params[2] = issued;
    params[3] = expires;
    params[4] = aw_job_str(job, "nonce");
    params[5] = ip[0] ? ip : NULL;
    params[6] = ua;

    pg = aw_db_query_prepared(&aw_worker.db, &aw_auth_signin_stmt, 7, params);
    if (pg == NULL) {
        return aw_job_db_failed(job, res);
    }

    PQclear(pg);

    snprintf(res->note, sizeof(res->note), "sign-in of %s recorded",
             params[0]);

    return AW_OK;
}


int
aw_auth_logout(aw_job_t *job, aw_job_result_t *res)
{
    char          hash[2 + 64 + 1], at[32];
    PGresult     *pg;
    const char   *params[3];

    snprintf(hash, sizeof(hash), "\\x%s", aw_job_str(job, "token_hash"));
    snprintf(at, sizeof(at), "%lld", (long long) aw_job_int(job, "at"));

    params[0] = hash;
    params[1] = aw_job_addr(job, "wallet");
    params[2] = at;

    pg = aw_db_query_prepared(&aw_worker.db, &aw_auth_logout_stmt, 3, params);
    if (pg == NULL) {
        return aw_job_db_failed(job, res);
    }

    if (aw_db_get(pg, 0, "revoked")[0] != 't') {
        PQclear(pg);
        aw_job_fail(res, 1, "the token is recorded for another wallet than "
                    "%s: not revoked", params[1]);
        return AW_ERROR;
    }

    PQclear(pg);

    snprintf(res->note, sizeof(res->note), "token of %s revoked", params[1]);

    return AW_OK;
}


/*
 * Copies s, replacing each byte that does not start a valid UTF-8
 * sequence with U+FFFD, and control characters with a space.
 */

static void
aw_auth_utf8(char *dst, size_t size, const char *s, size_t len)
{
    size_t          i, n, k, o;
    unsigned char   c;
    uint32_t        cp;

    o = 0;

    for (i = 0; i < len && o + 4 < size; /* void */ ) {
        c = (unsigned char) s[i];

        if (c < 0x80) {
            dst[o++] = (c < 0x20 || c == 0x7f) ? ' ' : (char) c;
            i++;
            continue;
        }

        n = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
            : (c & 0xf8) == 0xf0 ? 4 : 0;

        cp = n == 2 ? (c & 0x1f) : n == 3 ? (c & 0x0f) : (c & 0x07);

        for (k = 1; n && k < n; k++) {
            if (i + k >= len || ((unsigned char) s[i + k] & 0xc0) != 0x80) {
                n = 0;
                break;
            }

            cp = (cp << 6) | ((unsigned char) s[i + k] & 0x3f);
        }

        if (n == 0 || (n == 2 && cp < 0x80) || (n == 3 && cp < 0x800)
            || (n == 4 && (cp < 0x10000 || cp > 0x10ffff))
            || (cp >= 0xd800 && cp <= 0xdfff))
        {
            memcpy(dst + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
            continue;
        }

        memcpy(dst + o, s + i, n);
        o += n;
        i += n;
    }

    dst[o] = '\0';
}
