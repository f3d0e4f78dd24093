/*
 * x402, inside the module: what its three files share.
 *   ngx_http_axon_x402_offers.c  the offers: discovery, the 402 answers,
 *                                PAYMENT-REQUIRED, the request's reading
 *   ngx_http_axon_x402_pay.c     a payment: checked, recorded, waited for;
 *                                GET /api/x402/payment/NONCE
 *   ngx_http_axon_x402_conf.c    the axon_x402_* directives
 */

#ifndef _NGX_HTTP_AXON_X402_H_INCLUDED_
#define _NGX_HTTP_AXON_X402_H_INCLUDED_


#include "ngx_http_axon_module.h"

#include "axon_eip712.h"
#include "axon_x402.h"


#define NGX_HTTP_AXON_X402_HEADER_MAX  6144
#define NGX_HTTP_AXON_X402_POLL        250         /* ms between polls */
#define NGX_HTTP_AXON_X402_KEEP        86400       /* s past validBefore */
#define NGX_HTTP_AXON_X402_MINUTES_MAX 10080       /* a week */


/* one request's x402 state, from its reading to the payment's answer */

typedef struct {
    /* the request */
    ngx_str_t                 profile;
    ngx_int_t                 minutes;            /* 0: every offer */
    ngx_str_t                 ssh_key;
    ngx_int_t                 session_id;         /* top-up; 0: none */
    ngx_str_t                 header;             /* PAYMENT-SIGNATURE
                                                     or X-PAYMENT */

    /* the matched offer */
    json_t                   *requirement;
    char                      amount[AXON_UINT256_DEC_MAX + 1];

    /* the verified payment */
    char                      nonce[AXON_X402_NONCE_LEN + 1];
    char                      payer[AXON_ADDR_TEXT_LEN + 1];    /* EIP-55 */
    char                      payer_lower[AXON_ADDR_TEXT_LEN + 1];
    u_char                    token[NGX_HTTP_AXON_TOKEN_LEN + 1];
    u_char                    pay_key[sizeof(AXON_KEY_X402_PAY)
                                      + AXON_X402_NONCE_LEN];
    size_t                    pay_key_len;
    ngx_msec_t                until;              /* the wait's end */
    unsigned                  v1:1;               /* X-PAYMENT */
    unsigned                  discovery:1;        /* GET /.well-known */
    unsigned                  credit_only:1;      /* no session: the
                                                     original's settle */
    ngx_event_t               timer;
    ngx_http_request_t       *request;
} ngx_http_axon_x402_ctx_t;


/* ngx_http_axon_x402_offers.c */
ngx_http_axon_x402_ctx_t *ngx_http_axon_x402_ctx(ngx_http_request_t *r);
ngx_int_t ngx_http_axon_x402_off(ngx_http_request_t *r);
ngx_int_t ngx_http_axon_x402_header(ngx_http_request_t *r,
    const char *name, json_t *v);
ngx_int_t ngx_http_axon_x402_refuse(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x, const char *code, const char *message);
ngx_int_t ngx_http_axon_x402_malformed(ngx_http_request_t *r,
    const char *message);

/* ngx_http_axon_x402_pay.c */
ngx_int_t ngx_http_axon_x402_pay(ngx_http_request_t *r,
    ngx_http_axon_x402_ctx_t *x);


#endif /* _NGX_HTTP_AXON_X402_H_INCLUDED_ */
