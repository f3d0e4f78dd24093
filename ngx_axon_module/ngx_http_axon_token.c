/*
 * The token a sign-in or a payment gives, and the times the API shows.
 * A token is 256 random bits, base64url without padding; everything that
 * keeps it (Redis, Postgres, the token cache) keeps its SHA-256 only.
 */


#include "ngx_http_axon_module.h"

#include <openssl/evp.h>
#include <openssl/rand.h>


/*
 * A new token: 256 random bits, base64url without padding into token
 * (NGX_HTTP_AXON_TOKEN_LEN characters and a NUL), and its SHA-256 in md.
 */

ngx_int_t
ngx_http_axon_token_new(ngx_log_t *log, u_char *token, u_char md[32])
{
    uint8_t    rnd[NGX_HTTP_AXON_TOKEN_BYTES];
    ngx_str_t  src, dst;

    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        ngx_log_error(NGX_LOG_ALERT, log, 0, "axon: RAND_bytes() failed");
        return NGX_ERROR;
    }

    src.data = rnd;
    src.len = sizeof(rnd);
    dst.data = token;
    ngx_encode_base64url(&dst, &src);
    token[dst.len] = '\0';

    ngx_explicit_memzero(rnd, sizeof(rnd));

    return ngx_http_axon_token_digest(md, token, dst.len);
}


/* A token is kept (in Redis, in Postgres, in the cache) as its SHA-256. */

ngx_int_t
ngx_http_axon_token_digest(u_char md[32], const u_char *token, size_t len)
{
    unsigned int  mdlen;

    if (EVP_Digest(token, len, md, &mdlen, EVP_sha256(), NULL) != 1
        || mdlen != 32)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* unix seconds as 1970-01-01T00:00:00Z, NGX_HTTP_AXON_ISO8601_LEN bytes */

u_char *
ngx_http_axon_iso8601(u_char *p, time_t t)
{
    ngx_tm_t  tm;

    ngx_gmtime(t, &tm);

    return ngx_sprintf(p, "%4d-%02d-%02dT%02d:%02d:%02dZ",
                       tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                       tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);
}
