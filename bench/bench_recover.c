
/*
 * axon bench: the crypto core against its own libraries.
 *
 *   bench_recover             time, print key=value lines
 *   bench_recover once OP     one call of OP (axon, ecrecover, raw, keccak,
 *                             sha3), for valgrind --tool=callgrind
 *                             --toggle-collect=bench_op_OP
 *
 * Signer recovery: axon_personal_recover() (hex decode, EIP-191 hash,
 * range checks, parse, recover, serialize, Keccak of the public key) against
 * raw libsecp256k1 alone (parse_compact + ecdsa_recover on a hash computed
 * beforehand), over the same 64 signatures.  The signatures are made here,
 * offline, from fixed keys, over sign-in messages of the size the gate will
 * see (EIP-4361 text, about 300 bytes).
 *
 * Keccak-256: axon_keccak256() against nettle's sha3_256 (the same
 * Keccak-f[1600] permutation, the same rate) on 1 KiB inputs.
 *
 * The two sides of each comparison run alternately in rounds (A B, then
 * B A), and the result is the median over rounds: slow drift of the
 * machine (frequency, neighbours) hits both sides alike.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nettle/sha3.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include "axon_eth.h"


#define BENCH_NSIG       64
#define BENCH_MSG_MAX    512
#define BENCH_ROUNDS     41
#define BENCH_SIG_PASSES 4          /* passes over the 64 signatures */
#define BENCH_HASH_OPS   2000       /* 1 KiB hashes per side per round */
#define BENCH_HASH_LEN   1024


typedef struct {
    char                         msg[BENCH_MSG_MAX];
    size_t                       msglen;
    char                         sighex[AXON_SIG_TEXT_LEN];
    uint8_t                      sig[AXON_SIG_LEN];
    int                          recid;
    uint8_t                      hash[AXON_HASH_LEN];
    uint8_t                      addr[AXON_ADDR_LEN];
} bench_sig_t;


typedef void (*bench_fn_t)(int i);


static void bench_setup(void);
static void bench_check(void);
static double bench_now_ns(void);
static double bench_median(double *v, int n);
static void bench_pair(const char *a_name, bench_fn_t a, const char *b_name,
    bench_fn_t b, int nops, int passes);
static void bench_die(const char *what, int i);

void bench_op_axon(int i);
void bench_op_ecrecover(int i);
void bench_op_raw(int i);
void bench_op_keccak(int i);
void bench_op_sha3(int i);


static bench_sig_t      bench_sigs[BENCH_NSIG];
static uint8_t          bench_data[BENCH_HASH_LEN];
static volatile uint8_t bench_sink;


int
main(int argc, char **argv)
{
    bench_setup();
    bench_check();

    if (argc == 3 && strcmp(argv[1], "once") == 0) {

        if (strcmp(argv[2], "axon") == 0) {
            bench_op_axon(0);

        } else if (strcmp(argv[2], "ecrecover") == 0) {
            bench_op_ecrecover(0);

        } else if (strcmp(argv[2], "raw") == 0) {
            bench_op_raw(0);

        } else if (strcmp(argv[2], "keccak") == 0) {
            bench_op_keccak(0);

        } else if (strcmp(argv[2], "sha3") == 0) {
            bench_op_sha3(0);

        } else {
            fprintf(stderr, "bench_recover: unknown op %s\n", argv[2]);
            return 2;
        }

        return 0;
    }

    if (argc != 1) {
        fprintf(stderr, "usage: bench_recover [once OP]\n");
        return 2;
    }

    printf("msg_bytes=%zu\n", bench_sigs[0].msglen);

    bench_pair("axon", bench_op_axon, "raw", bench_op_raw,
               BENCH_NSIG, BENCH_SIG_PASSES);
    bench_pair("ecrecover", bench_op_ecrecover, "raw2", bench_op_raw,
               BENCH_NSIG, BENCH_SIG_PASSES);
    bench_pair("keccak", bench_op_keccak, "sha3", bench_op_sha3,
               BENCH_HASH_OPS, 1);

    return 0;
}


/*
 * Keys: keccak256("axon bench key " + i), every one a valid secret key
 * (the chance that one is not is about 2^-128; checked anyway).
 */

static void
bench_setup(void)
{
    int                                     i;
    char                                    seed[32], addr[AXON_ADDR_TEXT_LEN];
    size_t                                  len;
    uint8_t                                 key[32], pub[65], sig64[64];
    bench_sig_t                            *s;
    secp256k1_pubkey                        pubkey;
    secp256k1_context                      *ctx;
    secp256k1_ecdsa_recoverable_signature   rsig;

    ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    if (ctx == NULL) {
        bench_die("secp256k1_context_create", -1);
    }

    for (i = 0; i < BENCH_NSIG; i++) {
        s = &bench_sigs[i];

        len = (size_t) snprintf(seed, sizeof(seed), "axon bench key %d", i);
        axon_keccak256(key, seed, len);

        if (!secp256k1_ec_seckey_verify(ctx, key)
            || !secp256k1_ec_pubkey_create(ctx, &pubkey, key))
        {
            bench_die("key", i);
        }

        len = sizeof(pub);
        secp256k1_ec_pubkey_serialize(ctx, pub, &len, &pubkey,
                                      SECP256K1_EC_UNCOMPRESSED);
        axon_address_from_pubkey(s->addr, pub + 1);
        axon_address_format(addr, s->addr);

        s->msglen = (size_t) snprintf(s->msg, sizeof(s->msg),
            "axon.example wants you to sign in with your Ethereum "
            "account:\n%.42s\n\nSign in to axon.\n\n"
            "URI: https://axon.example/api/auth\nVersion: 1\nChain ID: 1\n"
            "Nonce: bench%08d\nIssued At: 2026-01-01T00:00:00Z\n"
            "Expiration Time: 2026-01-01T00:05:00Z", addr, i * 7919);

        axon_eip191_hash(s->hash, s->msg, s->msglen);

        if (!secp256k1_ecdsa_sign_recoverable(ctx, &rsig, s->hash, key,
                                              NULL, NULL)
            || !secp256k1_ecdsa_recoverable_signature_serialize_compact(
                   ctx, sig64, &s->recid, &rsig))
        {
            bench_die("sign", i);
        }

        memcpy(s->sig, sig64, 64);
        s->sig[64] = (uint8_t) (27 + s->recid);

        s->sighex[0] = '0';
        s->sighex[1] = 'x';
        axon_hex_encode(s->sighex + 2, s->sig, AXON_SIG_LEN);
    }

    secp256k1_context_destroy(ctx);

    for (i = 0; i < BENCH_HASH_LEN; i++) {
        bench_data[i] = (uint8_t) (i * 131 + 7);
    }
}


/* every path must recover the signer it is timed on */

static void
bench_check(void)
{
    int                                     i;
    size_t                                  len;
    uint8_t                                 addr[AXON_ADDR_LEN], pub[65];
    uint8_t                                 h1[32], h2[32];
    bench_sig_t                            *s;
    secp256k1_pubkey                        pubkey;
    struct sha3_256_ctx                     sha3;
    secp256k1_ecdsa_recoverable_signature   rsig;

    for (i = 0; i < BENCH_NSIG; i++) {
        s = &bench_sigs[i];

        if (axon_personal_recover(addr, s->msg, s->msglen, s->sighex,
                                  sizeof(s->sighex)) != AXON_OK
            || memcmp(addr, s->addr, AXON_ADDR_LEN) != 0)
        {
            bench_die("axon_personal_recover", i);
        }

        if (axon_ecrecover(addr, s->hash, s->sig) != AXON_OK
            || memcmp(addr, s->addr, AXON_ADDR_LEN) != 0)
        {
            bench_die("axon_ecrecover", i);
        }

        len = sizeof(pub);

        if (!secp256k1_ecdsa_recoverable_signature_parse_compact(
                secp256k1_context_static, &rsig, s->sig, s->recid)
            || !secp256k1_ecdsa_recover(secp256k1_context_static, &pubkey,
                                        &rsig, s->hash)
            || !secp256k1_ec_pubkey_serialize(secp256k1_context_static, pub,
                                              &len, &pubkey,
                                              SECP256K1_EC_UNCOMPRESSED))
        {
            bench_die("secp256k1_ecdsa_recover", i);
        }

        axon_address_from_pubkey(addr, pub + 1);

        if (memcmp(addr, s->addr, AXON_ADDR_LEN) != 0) {
            bench_die("secp256k1_ecdsa_recover address", i);
        }
    }

    /* same permutation, different padding: the digests must differ */

    axon_keccak256(h1, bench_data, BENCH_HASH_LEN);
    sha3_256_init(&sha3);
    sha3_256_update(&sha3, BENCH_HASH_LEN, bench_data);
    sha3_256_digest(&sha3, SHA3_256_DIGEST_SIZE, h2);

    if (memcmp(h1, h2, 32) == 0) {
        bench_die("keccak256 == sha3_256", -1);
    }
}


__attribute__((noinline)) void
bench_op_axon(int i)
{
    uint8_t       addr[AXON_ADDR_LEN];
    bench_sig_t  *s;

    s = &bench_sigs[i];

    if (axon_personal_recover(addr, s->msg, s->msglen, s->sighex,
                              sizeof(s->sighex)) != AXON_OK)
    {
        bench_die("axon_personal_recover", i);
    }

    bench_sink ^= addr[0];
}


/* axon_ecrecover alone: binary signature, hash computed beforehand */

__attribute__((noinline)) void
bench_op_ecrecover(int i)
{
    uint8_t       addr[AXON_ADDR_LEN];
    bench_sig_t  *s;

    s = &bench_sigs[i];

    if (axon_ecrecover(addr, s->hash, s->sig) != AXON_OK) {
        bench_die("axon_ecrecover", i);
    }

    bench_sink ^= addr[0];
}


__attribute__((noinline)) void
bench_op_raw(int i)
{
    bench_sig_t                            *s;
    secp256k1_pubkey                        pubkey;
    secp256k1_ecdsa_recoverable_signature   rsig;

    s = &bench_sigs[i];

    if (!secp256k1_ecdsa_recoverable_signature_parse_compact(
            secp256k1_context_static, &rsig, s->sig, s->recid)
        || !secp256k1_ecdsa_recover(secp256k1_context_static, &pubkey,
                                    &rsig, s->hash))
    {
        bench_die("secp256k1_ecdsa_recover", i);
    }

    bench_sink ^= pubkey.data[0];
}


__attribute__((noinline)) void
bench_op_keccak(int i)
{
    uint8_t  out[32];

    axon_keccak256(out, bench_data, BENCH_HASH_LEN);

    bench_sink ^= out[0];
}


__attribute__((noinline)) void
bench_op_sha3(int i)
{
    uint8_t              out[32];
    struct sha3_256_ctx  ctx;

    sha3_256_init(&ctx);
    sha3_256_update(&ctx, BENCH_HASH_LEN, bench_data);
    sha3_256_digest(&ctx, SHA3_256_DIGEST_SIZE, out);

    bench_sink ^= out[0];
}


/*
 * Times a and b over nops * passes calls each per round, in the order
 * a b on even rounds and b a on odd ones; prints, in ns per call, the
 * median of each side, and the median of the per-round ratio a / b.
 */

static void
bench_pair(const char *a_name, bench_fn_t a, const char *b_name,
    bench_fn_t b, int nops, int passes)
{
    int         r, side, p, i, n;
    double      t0, ns[2][BENCH_ROUNDS], ratio[BENCH_ROUNDS];
    bench_fn_t  fn;

    n = nops * passes;

    /* warm-up: one untimed round of each */

    for (i = 0; i < nops; i++) {
        a(i % BENCH_NSIG);
        b(i % BENCH_NSIG);
    }

    for (r = 0; r < BENCH_ROUNDS; r++) {

        for (side = 0; side < 2; side++) {
            fn = ((side == 0) == (r % 2 == 0)) ? a : b;

            t0 = bench_now_ns();

            for (p = 0; p < passes; p++) {
                for (i = 0; i < nops; i++) {
                    fn(i % BENCH_NSIG);
                }
            }

            ns[fn == a ? 0 : 1][r] = (bench_now_ns() - t0) / n;
        }

        ratio[r] = ns[0][r] / ns[1][r];
    }

    printf("%s_ns=%.1f\n", a_name, bench_median(ns[0], BENCH_ROUNDS));
    printf("%s_ns=%.1f\n", b_name, bench_median(ns[1], BENCH_ROUNDS));
    printf("%s_vs_%s=%.4f\n", a_name, b_name,
           bench_median(ratio, BENCH_ROUNDS));
}


static double
bench_now_ns(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (double) ts.tv_sec * 1e9 + (double) ts.tv_nsec;
}


static int
bench_cmp(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}


static double
bench_median(double *v, int n)
{
    double  c[BENCH_ROUNDS];

    memcpy(c, v, n * sizeof(double));
    qsort(c, n, sizeof(double), bench_cmp);

    return (n % 2) ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
}


static void
bench_die(const char *what, int i)
{
    fprintf(stderr, "bench_recover: %s failed (signature %d)\n", what, i);
    exit(1);
}
