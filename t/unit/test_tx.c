
/*
 * Unit tests for libaxon/axon_tx.h: RLP against the encodings of the
 * Ethereum wiki, and EIP-1559 transactions signed here against the same
 * transactions signed by ethers (t/unit/tx_vectors.h): byte for byte equal,
 * with the same hash, and recovering to the signer.  The last line is
 * "N passed, N failed".
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "axon_eth.h"
#include "axon_tx.h"

#include "tx_vectors.h"


static int  passed, failed;


static void
check(const char *name, int ok, const char *detail)
{
    if (ok) {
        passed++;
        return;
    }

    failed++;
    printf("test_tx: FAIL %s: %s\n", name, detail);
}


static void
check_hex(const char *name, const uint8_t *got, size_t n, const char *want)
{
    char  *hex;

    hex = malloc(2 * n + 3);
    hex[0] = '0';
    hex[1] = 'x';
    axon_hex_encode(hex + 2, got, n);
    hex[2 * n + 2] = '\0';

    if (strcmp(hex, want) == 0) {
        passed++;

    } else {
        failed++;
        printf("test_tx: FAIL %s:\n  got  %s\n  want %s\n", name, hex, want);
    }

    free(hex);
}


/* a big-endian 32-byte number from "0x..." of any length up to 64 digits */
static void
be32(uint8_t out[32], const char *hex)
{
    char    pad[65];
    size_t  n;

    hex += 2;
    n = strlen(hex);
    memset(pad, '0', 64 - n);
    memcpy(pad + 64 - n, hex, n + 1);
    axon_hex_decode(out, 32, pad, 64);
}


static uint64_t
num(json_t *v)
{
    if (json_is_integer(v)) {
        return (uint64_t) json_integer_value(v);
    }

    return strtoull(json_string_value(v), NULL, 16);
}


static void
rlp_cases(void)
{
    uint8_t      buf[2048], big[1024];
    size_t       l1, l2;
    axon_rlp_t   r;

    axon_rlp_init(&r, buf, sizeof(buf));
    axon_rlp_bytes(&r, (const uint8_t *) "dog", 3);
    check_hex("rlp \"dog\"", buf, r.len, "0x83646f67");

    axon_rlp_init(&r, buf, sizeof(buf));
    l1 = axon_rlp_list_begin(&r);
    axon_rlp_bytes(&r, (const uint8_t *) "cat", 3);
    axon_rlp_bytes(&r, (const uint8_t *) "dog", 3);
    axon_rlp_list_end(&r, l1);
    check_hex("rlp [cat, dog]", buf, r.len, "0xc88363617483646f67");

    axon_rlp_init(&r, buf, sizeof(buf));
    axon_rlp_bytes(&r, NULL, 0);
    check_hex("rlp \"\"", buf, r.len, "0x80");

    axon_rlp_init(&r, buf, sizeof(buf));
    l1 = axon_rlp_list_begin(&r);
    axon_rlp_list_end(&r, l1);
    check_hex("rlp []", buf, r.len, "0xc0");

    axon_rlp_init(&r, buf, sizeof(buf));
    axon_rlp_uint(&r, 0);
    axon_rlp_uint(&r, 15);
    axon_rlp_uint(&r, 1024);
    axon_rlp_uint(&r, 0x7f);
    axon_rlp_uint(&r, 0x80);
    check_hex("rlp 0, 15, 1024, 127, 128", buf, r.len,
              "0x800f820400" "7f" "8180");

    /* [ [], [[]], [ [], [[]] ] ] */
    axon_rlp_init(&r, buf, sizeof(buf));
    l1 = axon_rlp_list_begin(&r);
    l2 = axon_rlp_list_begin(&r);
    axon_rlp_list_end(&r, l2);
    l2 = axon_rlp_list_begin(&r);
    {
        size_t  l3 = axon_rlp_list_begin(&r);
        axon_rlp_list_end(&r, l3);
    }
    axon_rlp_list_end(&r, l2);
    l2 = axon_rlp_list_begin(&r);
    {
        size_t  l3 = axon_rlp_list_begin(&r), l4;
        axon_rlp_list_end(&r, l3);
        l3 = axon_rlp_list_begin(&r);
        l4 = axon_rlp_list_begin(&r);
        axon_rlp_list_end(&r, l4);
        axon_rlp_list_end(&r, l3);
    }
    axon_rlp_list_end(&r, l2);
    axon_rlp_list_end(&r, l1);
    check_hex("rlp set theory", buf, r.len, "0xc7c0c1c0c3c0c1c0");

    axon_rlp_init(&r, buf, sizeof(buf));
    axon_rlp_bytes(&r, (const uint8_t *)
        "Lorem ipsum dolor sit amet, consectetur adipisicing elit", 56);
    check_hex("rlp 56 bytes", buf, r.len,
              "0xb838" "4c6f72656d20697073756d20646f6c6f722073697420616d65"
              "742c20636f6e7365637465747572206164697069736963696e6720656c"
              "6974");

    /* a 1024-byte string: a two-byte length */
    memset(big, 0xaa, sizeof(big));
    axon_rlp_init(&r, buf, sizeof(buf));
    axon_rlp_bytes(&r, big, sizeof(big));
    check("rlp 1024 bytes: header b9 04 00",
          r.len == 1027 && buf[0] == 0xb9 && buf[1] == 0x04 && buf[2] == 0,
          "wrong header");

    /* a list of 1024 + 3 bytes */
    axon_rlp_init(&r, buf, sizeof(buf));
    l1 = axon_rlp_list_begin(&r);
    axon_rlp_bytes(&r, big, sizeof(big));
    axon_rlp_list_end(&r, l1);
    check("rlp list of 1027 bytes: header f9 04 03",
          r.len == 1030 && buf[0] == 0xf9 && buf[1] == 0x04 && buf[2] == 0x03
          && buf[3] == 0xb9, "wrong header");

    /* no room: err, never a write past cap */
    memset(buf, 0x55, sizeof(buf));
    axon_rlp_init(&r, buf, 8);
    axon_rlp_bytes(&r, big, 8);
    check("rlp overflow: err", r.err == 1, "err not set");
    check("rlp overflow: nothing past cap", buf[8] == 0x55, "wrote past cap");

    axon_rlp_init(&r, buf, 4);
    l1 = axon_rlp_list_begin(&r);
    axon_rlp_bytes(&r, (const uint8_t *) "dog", 3);
    axon_rlp_list_end(&r, l1);
    check("rlp list header without room: err", r.err == 1, "err not set");
}


static void
tx_cases(void)
{
    int             n, rc;
    char            name[64], addr[43];
    size_t          i, len;
    json_t         *all, *v;
    uint8_t         key[32], out[1024], hash[32], signer[20], *data, sig[65];
    axon_signer_t  *s;
    axon_tx1559_t   tx;
    json_error_t    jerr;
    const char     *d;

    all = json_loads(tx_vectors, 0, &jerr);
    check("vectors parse", json_is_array(all), jerr.text);
    if (!json_is_array(all)) {
        return;
    }

    json_array_foreach(all, i, v) {
        snprintf(name, sizeof(name), "tx %zu (chain %llu)", i,
                 (unsigned long long) num(json_object_get(v, "chainId")));

        axon_hex_decode(key, 32, json_string_value(json_object_get(v, "key")),
                        66);
        s = axon_signer_create(key);
        check(name, s != NULL, "no signer");
        if (s == NULL) {
            continue;
        }

        axon_address_format(addr, axon_signer_address(s));
        addr[42] = '\0';
        check(name, strcmp(addr, json_string_value(json_object_get(v,
                                                            "address"))) == 0,
              "signer address differs");

        memset(&tx, 0, sizeof(tx));
        tx.chain_id = num(json_object_get(v, "chainId"));
        tx.nonce = num(json_object_get(v, "nonce"));
        tx.gas_limit = num(json_object_get(v, "gasLimit"));
        be32(tx.max_priority_fee,
             json_string_value(json_object_get(v, "maxPriorityFeePerGas")));
        be32(tx.max_fee, json_string_value(json_object_get(v,
                                                           "maxFeePerGas")));
        be32(tx.value, json_string_value(json_object_get(v, "value")));
        axon_address_parse(tx.to, json_string_value(json_object_get(v, "to")),
                           42);

        d = json_string_value(json_object_get(v, "data"));
        n = (int) (strlen(d) - 2) / 2;
        data = malloc(n ? n : 1);
        axon_hex_decode(data, n, d, strlen(d));
        tx.data = data;
        tx.data_len = n;

        rc = axon_tx1559_sign(s, &tx, out, sizeof(out), &len, hash);
        check(name, rc == AXON_OK, "sign failed");

        if (rc == AXON_OK) {
            check_hex(name, out, len,
                      json_string_value(json_object_get(v, "raw")));
            check_hex(name, hash, 32,
                      json_string_value(json_object_get(v, "hash")));
        }

        /* too small a buffer: AXON_ERR_LEN, never an overrun */
        rc = axon_tx1559_sign(s, &tx, out, len - 1, &len, hash);
        check(name, rc == AXON_ERR_LEN, "a short buffer is not refused");

        /* a hash signed here recovers to the signer */
        memset(hash, (int) i + 1, 32);
        rc = axon_sign_hash(s, hash, sig);
        check(name, rc == AXON_OK
                    && axon_ecrecover(signer, hash, sig) == AXON_OK
                    && memcmp(signer, axon_signer_address(s), 20) == 0,
              "signature does not recover to the signer");

        free(data);
        axon_signer_destroy(s);
    }

    json_decref(all);

    memset(key, 0, 32);
    check("zero key refused", axon_signer_create(key) == NULL,
          "a zero key made a signer");
    memset(key, 0xff, 32);
    check("key above the order refused", axon_signer_create(key) == NULL,
          "an out-of-range key made a signer");
}


int
main(int argc, char **argv)
{
    (void) argc;
    (void) argv;

    rlp_cases();
    tx_cases();

    printf("%d passed, %d failed\n", passed, failed);

    return failed != 0;
}
