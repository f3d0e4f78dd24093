
/*
 * axon: signing Ethereum transactions, for the worker's own gas wallet
 * (x402 settlement by the gate: it sends transferWithAuthorization itself).
 *
 * RLP (the yellow paper's recursive length prefix), EIP-1559 (type 2)
 * transactions with an empty access list, and a signer that holds one
 * secret key in a randomized libsecp256k1 context.  Signatures are RFC 6979
 * deterministic and low-s, as ethers and every client make them, so a
 * transaction signed here is byte for byte the one ethers signs.
 */


#ifndef AXON_TX_H_INCLUDED
#define AXON_TX_H_INCLUDED


#include <stddef.h>
#include <stdint.h>


/*
 * RLP into a caller's buffer.  A write past cap sets err and writes
 * nothing more; check err once at the end.  A list is begun with
 * axon_rlp_list_begin() (which returns its start) and closed with
 * axon_rlp_list_end(start): the items are moved up behind the header.
 */

typedef struct {
    uint8_t   *buf;
    size_t     cap;
    size_t     len;
    int        err;
} axon_rlp_t;


void axon_rlp_init(axon_rlp_t *r, uint8_t *buf, size_t cap);
void axon_rlp_bytes(axon_rlp_t *r, const uint8_t *p, size_t n);
void axon_rlp_uint(axon_rlp_t *r, uint64_t v);
/* a big-endian unsigned integer of n bytes, leading zeros stripped */
void axon_rlp_be(axon_rlp_t *r, const uint8_t *p, size_t n);
size_t axon_rlp_list_begin(axon_rlp_t *r);
void axon_rlp_list_end(axon_rlp_t *r, size_t start);


/* an EIP-1559 transaction; the 32-byte amounts are big-endian */

typedef struct {
    uint64_t        chain_id;
    uint64_t        nonce;
    uint8_t         max_priority_fee[32];   /* wei per gas */
    uint8_t         max_fee[32];            /* wei per gas */
    uint64_t        gas_limit;
    uint8_t         to[20];
    uint8_t         value[32];              /* wei */
    const uint8_t  *data;
    size_t          data_len;
} axon_tx1559_t;


typedef struct axon_signer_s  axon_signer_t;


/*
 * A signer for one secret key: NULL when the key is not a valid secp256k1
 * scalar (0, or not below the group order) or memory ran out.  The
 * context is randomized from getrandom(2) against side channels.  The key
 * is wiped by axon_signer_destroy().
 */
axon_signer_t *axon_signer_create(const uint8_t seckey[32]);
void axon_signer_destroy(axon_signer_t *s);
const uint8_t *axon_signer_address(const axon_signer_t *s);

/* sig = r || s || v, v 27 or 28; AXON_OK or AXON_ERR_SIG_INVALID */
int axon_sign_hash(axon_signer_t *s, const uint8_t hash[32],
    uint8_t sig[65]);

/*
 * The signed transaction, 0x02 || rlp([...]), as eth_sendRawTransaction
 * takes it, into out (at most cap bytes; *len its length), and its hash.
 * AXON_OK, AXON_ERR_LEN (cap too small) or AXON_ERR_SIG_INVALID.
 */
int axon_tx1559_sign(axon_signer_t *s, const axon_tx1559_t *tx,
    uint8_t *out, size_t cap, size_t *len, uint8_t hash[32]);


#endif /* AXON_TX_H_INCLUDED */
