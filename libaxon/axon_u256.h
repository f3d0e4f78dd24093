
/*
 * axon: Ethereum JSON-RPC quantities ("0x" hex numbers) as integers.
 *
 * A QUANTITY is "0x" and at least one hex digit, either case; leading zeros
 * are tolerated, since nodes differ on them.  The 256-bit form is what token
 * amounts and fees need, as 32 big-endian bytes (the layout of the uint256
 * helpers in axon_eip712.h, which format such a value in decimal).
 *
 * Both return AXON_OK, or AXON_ERR_NUMBER for anything else: no prefix, no
 * digits, a character that is not a hex digit, or a value that does not fit.
 * Nothing goes through floating point; nothing allocates.
 */


#ifndef AXON_U256_H_INCLUDED
#define AXON_U256_H_INCLUDED


#include <stdint.h>


int axon_quantity_parse_u64(uint64_t *out, const char *s);
int axon_quantity_parse_u256(uint8_t out[32], const char *s);


#endif /* AXON_U256_H_INCLUDED */
