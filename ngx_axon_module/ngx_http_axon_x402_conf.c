/*
 * x402: the axon_x402_* directives, checked when nginx reads them, and
 * their merge, which derives the EIP-712 domain and the offers' terms.
 */


#include "ngx_http_axon_x402.h"




/* ---- directives ---- */

char *
ngx_http_axon_x402_network(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_axon_loc_conf_t  *alcf = conf;

    u_char     *p;
    uint64_t    n;
    ngx_str_t  *value;

    if (alcf->x402_network.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    /* a version 1 name ("base-sepolia") is its chain's eip155:N */

    n = axon_x402_network_chain((const char *) value[1].data, value[1].len);

    if (n) {
        alcf->x402_network.data = ngx_pnalloc(cf->pool, 7 + NGX_INT64_LEN);
        if (alcf->x402_network.data == NULL) {
            return NGX_CONF_ERROR;
        }

        alcf->x402_network.len = ngx_sprintf(alcf->x402_network.data,
                                             "eip155:%uL", n)
                                 - alcf->x402_network.data;
        alcf->x402_chain_id = n;

        return NGX_CONF_OK;
    }

    if (value[1].len <= 7 || value[1].len > 7 + 16
        || ngx_strncmp(value[1].data, "eip155:", 7) != 0
        || value[1].data[7] == '0')
    {
        return "must be eip155:CHAIN_ID (eip155:8453 is Base) or a name "
               "of x402 version 1 (base, base-sepolia, polygon, ...)";
    }

    n = 0;

    for (p = value[1].data + 7; p < value[1].data + value[1].len; p++) {
        if (*p < '0' || *p > '9') {
            return "must be eip155:CHAIN_ID (eip155:8453 is Base) or a "
                   "name of x402 version 1 (base, base-sepolia, polygon, "
                   "...)";
        }

        n = n * 10 + (*p - '0');
    }

    if (n > 9007199254740991ULL) {
        return "has a chain id over 2^53 - 1";
    }

    alcf->x402_network = value[1];
    alcf->x402_chain_id = n;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_axon_x402_address(ngx_conf_t *cf, ngx_str_t *text, uint8_t *addr,
    ngx_str_t *out)
{
    static const uint8_t  zero[AXON_ADDR_LEN];

    if (axon_address_parse(addr, (const char *) text->data, text->len)
        != AXON_OK
        || ngx_memcmp(addr, zero, AXON_ADDR_LEN) == 0)
    {
        return NGX_ERROR;
    }

    out->data = ngx_pnalloc(cf->pool, AXON_ADDR_TEXT_LEN);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    axon_address_format((char *) out->data, addr);
    out->len = AXON_ADDR_TEXT_LEN;

    return NGX_OK;
}


static ngx_int_t
ngx_http_axon_x402_printable(ngx_str_t *s, size_t max)
{
    u_char  *p;

    if (s->len == 0 || s->len > max) {
        return NGX_ERROR;
    }

    for (p = s->data; p < s->data + s->len; p++) {
        if (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\') {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* axon_x402_asset ADDRESS NAME VERSION: the token and its EIP-712 domain */

char *
ngx_http_axon_x402_asset(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_axon_loc_conf_t  *alcf = conf;

    ngx_str_t  *value;

    if (alcf->x402_asset.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_axon_x402_address(cf, &value[1], alcf->x402_asset_addr,
                                   &alcf->x402_asset)
        != NGX_OK)
    {
        return "needs the token's address: 0x and 40 hex digits (a valid "
               "EIP-55 checksum if mixed case), then its EIP-712 name and "
               "version";
    }

    if (ngx_http_axon_x402_printable(&value[2], 64) != NGX_OK) {
        return "has a bad EIP-712 name: 1 to 64 printable characters "
               "(\"USD Coin\" for USDC)";
    }

    if (ngx_http_axon_x402_printable(&value[3], 32) != NGX_OK) {
        return "has a bad EIP-712 version: 1 to 32 printable characters "
               "(\"2\" for USDC)";
    }

    alcf->x402_name = value[2];
    alcf->x402_version = value[3];

    return NGX_CONF_OK;
}


char *
ngx_http_axon_x402_pay_to(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_axon_loc_conf_t  *alcf = conf;

    ngx_str_t  *value;

    if (alcf->x402_pay_to.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_axon_x402_address(cf, &value[1], alcf->x402_pay_to_addr,
                                   &alcf->x402_pay_to)
        != NGX_OK)
    {
        return "must be the revenue wallet: 0x and 40 hex digits, not the "
               "zero address (a valid EIP-55 checksum if mixed case)";
    }

    return NGX_CONF_OK;
}


char *
ngx_http_axon_x402_minutes(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_axon_loc_conf_t  *alcf = conf;

    ngx_int_t   n, *m, *all;
    ngx_str_t  *value;
    ngx_uint_t  i, k;

    if (alcf->x402_minutes != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts - 1 > 16) {
        return "takes at most 16 durations";
    }

    alcf->x402_minutes = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                          sizeof(ngx_int_t));
    if (alcf->x402_minutes == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {
        n = ngx_atoi(value[i].data, value[i].len);

        if (n == NGX_ERROR || n < 1 || n > NGX_HTTP_AXON_X402_MINUTES_MAX) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"axon_x402_minutes\": \"%V\" is not a "
                               "number of minutes from 1 to %d",
                               &value[i], NGX_HTTP_AXON_X402_MINUTES_MAX);
            return NGX_CONF_ERROR;
        }

        all = alcf->x402_minutes->elts;

        for (k = 0; k < alcf->x402_minutes->nelts; k++) {
            if (all[k] == n) {
                return "names a duration twice";
            }
        }

        m = ngx_array_push(alcf->x402_minutes);
        if (m == NULL) {
            return NGX_CONF_ERROR;
        }

        *m = n;
    }

    return NGX_CONF_OK;
}


/* axon_x402_price UNITS: atomic asset units per credit minute */

char *
ngx_http_axon_x402_price(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_axon_loc_conf_t  *alcf = conf;

    u_char     *p;
    uint64_t    n;
    ngx_str_t  *value;

    if (alcf->x402_price != (uint64_t) -1) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].len > 18 || value[1].data[0] == '0') {
        return "must be a positive integer: atomic units of the asset per "
               "credit minute (10000 is 0.01 USDC)";
    }

    n = 0;

    for (p = value[1].data; p < value[1].data + value[1].len; p++) {
        if (*p < '0' || *p > '9') {
            return "must be a positive integer: atomic units of the asset "
                   "per credit minute (10000 is 0.01 USDC)";
        }

        n = n * 10 + (*p - '0');
    }

    alcf->x402_price = n;

    return NGX_CONF_OK;
}


/*
 * axon_x402_pending MAX [PER_PAYER]: how many payments may wait for their
 * settlement at once, in all and per payer (past them: 503 and 429)
 */

char *
ngx_http_axon_x402_pending(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_axon_loc_conf_t  *alcf = conf;

    ngx_int_t   n, m;
    ngx_str_t  *value;

    if (alcf->x402_pending != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    n = ngx_atoi(value[1].data, value[1].len);
    m = cf->args->nelts == 3 ? ngx_atoi(value[2].data, value[2].len) : 4;

    if (n < 1 || n > 1000000 || m < 1 || m > n) {
        return "takes the most payments pending settlement in all (1 to "
               "1000000) and, optionally, per payer (1 to that; 4 if not "
               "given)";
    }

    alcf->x402_pending = n;
    alcf->x402_pending_payer = m;

    return NGX_CONF_OK;
}


/* axon_x402_discovery [PATH]: this location answers the offers */

char *
ngx_http_axon_x402_discovery(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_axon_loc_conf_t  *alcf = conf;

    char                       *rv;
    ngx_str_t                  *value;
    ngx_http_axon_main_conf_t  *amcf;

    if (alcf->x402_resource.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2) {
        if (value[1].len == 0 || value[1].data[0] != '/') {
            return "takes the path of POST x402/session, such as "
                   "/api/x402/session";
        }

        alcf->x402_resource = value[1];

    } else {
        ngx_str_set(&alcf->x402_resource, "/api/x402/session");
    }

    rv = ngx_http_axon_content_handler(cf,
                                       ngx_http_axon_x402_discovery_handler);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_axon_module);
    amcf->enabled = 1;

    return NGX_CONF_OK;
}


char *
ngx_http_axon_x402_merge(ngx_conf_t *cf, ngx_http_axon_loc_conf_t *prev,
    ngx_http_axon_loc_conf_t *conf)
{
    ngx_int_t  *m;

    if (conf->x402_network.data == NULL) {
        conf->x402_network = prev->x402_network;
        conf->x402_chain_id = prev->x402_chain_id;
    }

    if (conf->x402_asset.data == NULL) {
        conf->x402_asset = prev->x402_asset;
        conf->x402_name = prev->x402_name;
        conf->x402_version = prev->x402_version;
        ngx_memcpy(conf->x402_asset_addr, prev->x402_asset_addr,
                   AXON_ADDR_LEN);
    }

    if (conf->x402_pay_to.data == NULL) {
        conf->x402_pay_to = prev->x402_pay_to;
        ngx_memcpy(conf->x402_pay_to_addr, prev->x402_pay_to_addr,
                   AXON_ADDR_LEN);
    }

    if (conf->x402_price == (uint64_t) -1) {
        conf->x402_price = prev->x402_price;
    }

    ngx_conf_merge_ptr_value(conf->x402_minutes, prev->x402_minutes, NULL);
    ngx_conf_merge_value(conf->x402_max_timeout, prev->x402_max_timeout,
                         300);
    ngx_conf_merge_msec_value(conf->x402_wait, prev->x402_wait, 20000);
    ngx_conf_merge_uint_value(conf->x402_pending, prev->x402_pending, 1000);
    ngx_conf_merge_uint_value(conf->x402_pending_payer,
                              prev->x402_pending_payer, 4);

    if (conf->x402_resource.data == NULL) {
        conf->x402_resource = prev->x402_resource;
    }

    ngx_conf_merge_value(conf->x402_v1, prev->x402_v1, 0);

    if (conf->x402_network.data == NULL) {
        if (conf->x402_asset.data || conf->x402_pay_to.data
            || conf->x402_price != (uint64_t) -1
            || conf->x402_minutes != NULL || conf->x402_v1 == 1)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"axon_x402_asset\", \"axon_x402_pay_to\", "
                               "\"axon_x402_price\", \"axon_x402_minutes\" "
                               "and \"axon_x402_v1\" need "
                               "\"axon_x402_network\"");
            return NGX_CONF_ERROR;
        }

        ngx_str_null(&conf->x402_network);
        return NGX_CONF_OK;
    }

    if (conf->x402_asset.data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"axon_x402_network\" needs \"axon_x402_asset\"");
        return NGX_CONF_ERROR;
    }

    if (conf->x402_pay_to.data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"axon_x402_network\" needs \"axon_x402_pay_to\"");
        return NGX_CONF_ERROR;
    }

    if (conf->x402_price == (uint64_t) -1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"axon_x402_network\" needs \"axon_x402_price\"");
        return NGX_CONF_ERROR;
    }

    if (conf->x402_minutes == NULL) {
        conf->x402_minutes = ngx_array_create(cf->pool, 3, sizeof(ngx_int_t));
        if (conf->x402_minutes == NULL) {
            return NGX_CONF_ERROR;
        }

        m = ngx_array_push_n(conf->x402_minutes, 3);
        if (m == NULL) {
            return NGX_CONF_ERROR;
        }

        m[0] = 30;
        m[1] = 60;
        m[2] = 120;
    }

    if (conf->x402_v1
        && axon_x402_network_name(conf->x402_chain_id) == NULL)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"axon_x402_v1\" needs a network that x402 "
                           "version 1 names (base, base-sepolia, polygon, "
                           "...): %V has no name there",
                           &conf->x402_network);
        return NGX_CONF_ERROR;
    }

    axon_eip712_domain_separator(conf->x402_domain,
                                 (const char *) conf->x402_name.data,
                                 conf->x402_name.len,
                                 (const char *) conf->x402_version.data,
                                 conf->x402_version.len,
                                 conf->x402_chain_id, conf->x402_asset_addr);

    return NGX_CONF_OK;
}
