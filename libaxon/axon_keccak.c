
/*
 * axon: Keccak-256 with the original Keccak padding, as Ethereum uses it.
 *
 * nettle implements SHA3-256 (FIPS 202), which differs from Keccak-256 only
 * in the domain separation bits of the padding (0x06 instead of 0x01), so
 * the sponge is driven here over nettle's exposed Keccak-f[1600]
 * permutation.  Lanes are little-endian 64-bit words; bytes are loaded and
 * stored by shifts, so the code does not depend on the host byte order.
 */


#include <string.h>

#include "axon_eth.h"


#define AXON_KECCAK_LANES  (AXON_KECCAK_RATE / 8)


static void axon_keccak_absorb(axon_keccak_t *k, const uint8_t *block);


static void
axon_keccak_absorb(axon_keccak_t *k, const uint8_t *block)
{
    size_t    i, j;
    uint64_t  lane;

    for (i = 0; i < AXON_KECCAK_LANES; i++) {
        lane = 0;

        for (j = 0; j < 8; j++) {
            lane |= (uint64_t) block[8 * i + j] << (8 * j);
        }

        k->state.a[i] ^= lane;
    }

    nettle_sha3_permute(&k->state);
}


void
axon_keccak_init(axon_keccak_t *k)
{
    memset(k, 0, sizeof(axon_keccak_t));
}


void
axon_keccak_update(axon_keccak_t *k, const void *p, size_t n)
{
    size_t          left;
    const uint8_t  *data;

    if (n == 0) {
        return;
    }

    data = p;

    if (k->index > 0) {
        left = AXON_KECCAK_RATE - k->index;

        if (n < left) {
            memcpy(k->block + k->index, data, n);
            k->index += n;
            return;
        }

        memcpy(k->block + k->index, data, left);
        axon_keccak_absorb(k, k->block);
        k->index = 0;

        data += left;
        n -= left;
    }

    while (n >= AXON_KECCAK_RATE) {
        axon_keccak_absorb(k, data);
        data += AXON_KECCAK_RATE;
        n -= AXON_KECCAK_RATE;
    }

    if (n > 0) {
        memcpy(k->block, data, n);
        k->index = n;
    }
}


void
axon_keccak_final(axon_keccak_t *k, uint8_t out[32])
{
    size_t  i;

    memset(k->block + k->index, 0, AXON_KECCAK_RATE - k->index);
    k->block[k->index] ^= 0x01;
    k->block[AXON_KECCAK_RATE - 1] ^= 0x80;

    axon_keccak_absorb(k, k->block);

    for (i = 0; i < 32; i++) {
        out[i] = (uint8_t) (k->state.a[i / 8] >> (8 * (i % 8)));
    }

    memset(k, 0, sizeof(axon_keccak_t));
}


void
axon_keccak256(uint8_t out[32], const void *p, size_t n)
{
    axon_keccak_t  k;

    axon_keccak_init(&k);
    axon_keccak_update(&k, p, n);
    axon_keccak_final(&k, out);
}
