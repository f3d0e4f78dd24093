
/*
 * axon: hex encoding and decoding; base64 decoding.
 */


#include "axon_eth.h"


static int axon_hex_digit(unsigned char c);
static int axon_base64_digit(unsigned char c);


static int
axon_hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


int
axon_hex_decode(uint8_t *dst, size_t dstlen, const char *src, size_t srclen)
{
    int                   hi, lo;
    size_t                i;
    const unsigned char  *p;

    p = (const unsigned char *) src;

    if (srclen >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        p += 2;
        srclen -= 2;
    }

    if (srclen / 2 != dstlen || srclen % 2 != 0) {
        return AXON_ERR_LEN;
    }

    for (i = 0; i < dstlen; i++) {
        hi = axon_hex_digit(p[2 * i]);
        lo = axon_hex_digit(p[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            return AXON_ERR_HEX;
        }

        dst[i] = (uint8_t) (hi << 4 | lo);
    }

    return AXON_OK;
}


void
axon_hex_encode(char *dst, const uint8_t *src, size_t n)
{
    size_t             i;
    static const char  digits[] = "0123456789abcdef";

    for (i = 0; i < n; i++) {
        dst[2 * i] = digits[src[i] >> 4];
        dst[2 * i + 1] = digits[src[i] & 0x0f];
    }
}


static int
axon_base64_digit(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }

    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }

    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }

    return c == '+' ? 62 : c == '/' ? 63 : -1;
}


int
axon_base64_decode(uint8_t *dst, size_t *n, const char *src, size_t len,
    int canonical)
{
    int       v;
    size_t    i, pad;
    uint32_t  acc;
    unsigned  bits;

    *n = 0;

    if (canonical && (len == 0 || len % 4 != 0)) {
        return AXON_ERR_LEN;
    }

    pad = 0;
    while (len > 0 && src[len - 1] == '=' && pad < 2) {
        len--;
        pad++;
    }

    /* padding to a multiple of 4 or none; a lone 6-bit group is no byte */

    if ((pad > 0 && (len + pad) % 4 != 0) || len % 4 == 1) {
        return AXON_ERR_LEN;
    }

    acc = 0;
    bits = 0;

    for (i = 0; i < len; i++) {
        v = axon_base64_digit((unsigned char) src[i]);

        if (v < 0) {
            return AXON_ERR_HEX;
        }

        acc = (acc << 6) | (uint32_t) v;
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            dst[(*n)++] = (uint8_t) (acc >> bits);
        }
    }

    /* canonical: the bits past the last byte are zero */

    if (canonical && (acc & ((1u << bits) - 1)) != 0) {
        return AXON_ERR_HEX;
    }

    return AXON_OK;
}
