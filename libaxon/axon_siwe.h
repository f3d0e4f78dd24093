
/*
 * axon: a strict parser for Sign-In with Ethereum messages (EIP-4361), and
 * the RFC 3339 date-time parser it uses.
 *
 * Pure C, libc only (plus axon_eth.h for EIP-55).  Nothing allocates: every
 * text field is a slice of the caller's buffer, which must outlive the
 * result.  Re-entrant and thread-safe; the error explanations are static
 * strings.
 *
 * The parser checks syntax only (the ABNF of EIP-4361, RFC 3986 for the
 * domain, URI and resources, RFC 3339 for the times, EIP-55 for the
 * address).  The caller compares the fields with what it expects (domain,
 * scheme, URI, chain id, nonce, times) and checks the signature over the
 * exact bytes it was given.
 */


#ifndef AXON_SIWE_H_INCLUDED
#define AXON_SIWE_H_INCLUDED


#include <stddef.h>
#include <stdint.h>

#include "axon_eth.h"


/* a slice of the parsed message: not NUL-terminated; { NULL, 0 } if absent */

typedef struct {
    const char  *data;
    size_t       len;
} axon_str_t;


typedef struct {
    axon_str_t  domain;          /* RFC 3986 authority, without scheme */
    axon_str_t  address;         /* "0x" + 40 hex, EIP-55 mixed case */
    axon_str_t  statement;       /* absent: { NULL, 0 } */
    axon_str_t  uri;
    axon_str_t  version;         /* always "1" */
    axon_str_t  nonce;           /* 8 or more letters and digits */
    axon_str_t  issued_at;
    axon_str_t  expiration_time;
    axon_str_t  not_before;
    axon_str_t  request_id;      /* absent: NULL; present may be empty */

    uint64_t    chain_id;
    int64_t     issued_at_unix;          /* seconds */
    int64_t     expiration_unix;         /* -1: absent */
    int64_t     not_before_unix;         /* -1: absent */
    uint8_t     addr[20];                /* decoded address */
    size_t      nresources;

    /*
     * The optional "scheme://" before the domain (without "://"), absent
     * when { NULL, 0 }.  EIP-4361 makes a relying party check it against
     * its own origin when present: a message that says "http://" must not
     * be accepted by an https-only service.
     */
    axon_str_t  scheme;

    /*
     * The resource lines, "- URI" LF "- URI" ..., from the first "- " to
     * the end of the message; { NULL, 0 } when there are none.  Use
     * axon_siwe_resource() to get one URI.
     */
    axon_str_t  resources;
} axon_siwe_t;


/*
 * Parse msg[0 .. len) as an EIP-4361 message:
 *
 *   [SCHEME "://"] DOMAIN " wants you to sign in with your Ethereum
 *     account:" LF
 *   ADDRESS LF
 *   LF
 *   [STATEMENT LF LF]  or  [LF]            (see below)
 *   "URI: " URI LF
 *   "Version: 1" LF
 *   "Chain ID: " CHAIN-ID LF
 *   "Nonce: " NONCE LF
 *   "Issued At: " DATE-TIME
 *   [LF "Expiration Time: " DATE-TIME]
 *   [LF "Not Before: " DATE-TIME]
 *   [LF "Request ID: " *pchar]
 *   [LF "Resources:" *(LF "- " URI)]
 *
 * Lines end in LF alone, the message has no trailing LF, every byte is
 * printable ASCII, fields appear once each and in this order.
 *
 * Without a statement, the ABNF of EIP-4361 (and spruce's siwe) puts two
 * empty lines between the address and "URI: " ("0x...\n\n\nURI: "); viem
 * and other clients put one ("0x...\n\nURI: ").  Both are accepted: the
 * line after the address's empty line is the statement exactly when it is
 * not empty and is followed by an empty line, so every message has one
 * reading.
 *
 * The address must be EIP-55 mixed case exactly (an all-lowercase or
 * all-uppercase address is refused, as is a wrong checksum).  The chain id
 * is decimal without leading zeros and fits 64 bits.  The times are
 * RFC 3339 (see axon_rfc3339_parse()) and not before 1970, so the -1 of an
 * absent expiration or not-before is never a real time.
 *
 * Returns AXON_OK, or AXON_ERR_SIWE with *why (when why is not NULL)
 * pointing to a static, one-line English string that names the first
 * problem found, e.g. "line 2: the address is not EIP-55 checksummed",
 * "missing Nonce", "Version must be 1".  On error *m is cleared but may
 * hold fields parsed before the problem.
 */
int axon_siwe_parse(axon_siwe_t *m, const char *msg, size_t len,
    const char **why);

/*
 * The i-th resource URI (from 0) of a parsed message: AXON_OK, or
 * AXON_ERR_SIWE when i >= m->nresources.
 */
int axon_siwe_resource(const axon_siwe_t *m, size_t i, axon_str_t *uri);

/*
 * AXON_OK if s[0 .. len) may be the statement of a message: not empty, and
 * only RFC 3986 reserved and unreserved characters and spaces (so no LF,
 * no '%', '"', '<', '>', '\\', '^', '`', '{', '|', '}' and nothing beyond
 * ASCII).  Else AXON_ERR_SIWE.  For checking configuration early.
 */
int axon_siwe_statement_check(const char *s, size_t len);

/*
 * RFC 3339 date-time, e.g. "2026-11-23T09:29:48Z",
 * "2026-11-23T11:29:48.250+02:00": YYYY-MM-DD "T" hh:mm:ss [.fraction]
 * ("Z" / ("+" / "-") hh:mm), "t" and "z" also accepted (RFC 3339 5.6).
 * Days are checked against the month (leap years included), hours
 * 00-23, minutes 00-59, seconds 00-60 (a leap second counts as the first
 * second of the next minute).  Sets *unix_seconds to the instant in seconds
 * since 1970-01-01T00:00:00Z, the fraction dropped (toward the past) and
 * the offset applied.  Returns AXON_OK or AXON_ERR_SIWE (*unix_seconds is
 * then untouched).
 */
int axon_rfc3339_parse(const char *s, size_t len, int64_t *unix_seconds);


#endif /* AXON_SIWE_H_INCLUDED */
