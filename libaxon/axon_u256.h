
/*
 * axon: uint256 values as 32 big-endian bytes, what token amounts, fees
 * and EIP-3009 authorizations carry: read from Ethereum JSON-RPC
 * quantities ("0x" hex numbers) and from the decimal strings x402 sends,
 * written in decimal, compared.  Nothing goes through floating point;
 * nothing allocates.
 */


#ifndef AXON_U256_H_INCLUDED
#define AXON_U256_H_INCLUDED


#include <stddef.h>
#include <stdint.h>


#define AXON_UINT256_DEC_MAX  78    /* digits of 2^256 - 1 */


/*
 * A QUANTITY is "0x" and at least one hex digit, either case; leading zeros
 * are tolerated, since nodes differ on them.
 *
 * Both return AXON_OK, or AXON_ERR_NUMBER for anything else: no prefix, no
 * digits, a character that is not a hex digit, or a value that does not fit.
 */
int axon_quantity_parse_u64(uint64_t *out, const char *s);
int axon_quantity_parse_u256(uint8_t out[32], const char *s);

/*
 * uint256 as the decimal strings x402 sends ("500000", "0"): 1 to 78
 * digits, no sign, no spaces, no leading zero except "0" itself, at most
 * 2^256 - 1.  Anything else is AXON_ERR_NUMBER (out is then all zero).
 *
 * axon_uint256_format() writes the shortest decimal and a NUL; dst must
 * hold AXON_UINT256_DEC_MAX + 1 bytes.  Returns the number of digits.
 *
 * axon_uint256_to_u64(): AXON_ERR_NUMBER when the value does not fit.
 *
 * axon_uint256_cmp(): -1, 0 or 1 as a <, ==, > b.
 */
int axon_uint256_parse_dec(uint8_t out[32], const char *s, size_t len);
size_t axon_uint256_format(char *dst, const uint8_t v[32]);
int axon_uint256_to_u64(uint64_t *out, const uint8_t v[32]);
void axon_uint256_from_u64(uint8_t out[32], uint64_t v);
int axon_uint256_cmp(const uint8_t a[32], const uint8_t b[32]);


#endif /* AXON_U256_H_INCLUDED */
