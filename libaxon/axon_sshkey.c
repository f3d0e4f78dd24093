/*
 * The SSH public key a user gives for an SSH session, checked strictly
 * before anything starts: one authorized_keys line of the form
 *
 *     TYPE BASE64 [COMMENT]
 *
 * with no options, an allowed TYPE, canonical base64 that decodes to a
 * blob whose embedded type is TYPE, and a blob that is exactly a key of
 * that type (RFC 4253 6.6, RFC 5656 3.1, RFC 8709 4): ed25519; ECDSA on
 * P-256, P-384, P-521; RSA of 3072 to 8192 bits.
 *
 * No looser than the sessions' server, dropbear, reads the line it is
 * written to (a key it refuses is a paid session nobody can log in to):
 * one space after TYPE (dropbear skips exactly one), a line of 4096 bytes
 * at most (its MAX_AUTHKEYS_LINE is 4200) and a blob of 1700 at most (its
 * MAX_PUBKEY_SIZE: a 16384-bit RSA key's is 2071, an 8192-bit one's 1047).
 */


#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "axon_sshkey.h"


#define AXON_SSH_KEY_MAX       4096      /* an 8192-bit RSA key is ~1.4k */
#define AXON_SSH_RSA_MIN_BITS  3072
#define AXON_SSH_RSA_MAX_BITS  8192


typedef struct {
    const uint8_t  *p;
    size_t          left;
} axon_ssh_blob_t;


static const struct {
    const char  *type;
    const char  *curve;        /* ECDSA: the curve's name in the blob */
    size_t       point;        /* ECDSA: an uncompressed point's length */
} axon_ssh_types[] = {
    { "ssh-ed25519", NULL, 0 },
    { "ecdsa-sha2-nistp256", "nistp256", 65 },
    { "ecdsa-sha2-nistp384", "nistp384", 97 },
    { "ecdsa-sha2-nistp521", "nistp521", 133 },
    { "ssh-rsa", NULL, 0 },
    { NULL, NULL, 0 }
};


static int axon_ssh_key_material(axon_ssh_blob_t *b, size_t n,
    const char **why);
static int axon_ssh_rsa(axon_ssh_blob_t *b, const char **why);
static int axon_ssh_string(axon_ssh_blob_t *b, const uint8_t **s,
    size_t *len);


int
axon_ssh_key_check(const char *line, size_t len, const char **why)
{
    size_t           i, n, tlen, blen, slen;
    const char      *type, *b64, *end;
    const uint8_t   *s;
    axon_ssh_blob_t  b;
    uint8_t          blob[AXON_SSH_KEY_MAX];

    if (len == 0) {
        *why = "the key is empty";
        return AXON_ERR_SSH_KEY;
    }

    if (len > AXON_SSH_KEY_MAX) {
        *why = "the key is too long";
        return AXON_ERR_SSH_KEY;
    }

    for (i = 0; i < len; i++) {
        if ((unsigned char) line[i] < 0x20 || (unsigned char) line[i] > 0x7e)
        {
            *why = (line[i] == '\n' || line[i] == '\r')
                   ? "the key must be one line"
                   : "the key has a character that is not printable ASCII";
            return AXON_ERR_SSH_KEY;
        }
    }

    end = line + len;

    /* TYPE: the first word; anything else first is an option */

    type = line;
    for (b64 = type; b64 < end && *b64 != ' '; b64++) { /* void */ }
    tlen = (size_t) (b64 - type);

    for (n = 0; axon_ssh_types[n].type; n++) {
        if (strlen(axon_ssh_types[n].type) == tlen
            && memcmp(axon_ssh_types[n].type, type, tlen) == 0)
        {
            break;
        }
    }

    if (axon_ssh_types[n].type == NULL) {
        *why = "the key must start with its type (ssh-ed25519, "
               "ecdsa-sha2-nistp256/384/521 or ssh-rsa); options and other "
               "types are not accepted";
        return AXON_ERR_SSH_KEY;
    }

    if (b64 + 1 < end && b64[1] == ' ') {
        *why = "the key must have one space between its type and its base64";
        return AXON_ERR_SSH_KEY;
    }

    if (b64 < end) {
        b64++;
    }

    for (i = 0; b64 + i < end && b64[i] != ' '; i++) { /* void */ }

    if (i == 0) {
        *why = "the key has no base64 part";
        return AXON_ERR_SSH_KEY;
    }

    if (axon_base64_decode(blob, &blen, b64, i, 1) != AXON_OK) {
        *why = "the key's base64 is not valid (truncated?)";
        return AXON_ERR_SSH_KEY;
    }

    b.p = blob;
    b.left = blen;

    if (axon_ssh_string(&b, &s, &slen) != AXON_OK
        || slen != tlen || memcmp(s, type, tlen) != 0)
    {
        *why = "the key's blob is of another type than its first word says";
        return AXON_ERR_SSH_KEY;
    }

    if (axon_ssh_key_material(&b, n, why) != AXON_OK) {
        return AXON_ERR_SSH_KEY;
    }

    if (b.left != 0) {
        *why = "the key's blob has bytes after the key";
        return AXON_ERR_SSH_KEY;
    }

    return AXON_OK;
}


/* the key itself, after the type: a type of axon_ssh_types[n] */

static int
axon_ssh_key_material(axon_ssh_blob_t *b, size_t n, const char **why)
{
    size_t          slen;
    const uint8_t  *s;

    if (strcmp(axon_ssh_types[n].type, "ssh-ed25519") == 0) {
        if (axon_ssh_string(b, &s, &slen) != AXON_OK || slen != 32) {
            *why = "the ed25519 key is not 32 bytes";
            return AXON_ERR_SSH_KEY;
        }

        return AXON_OK;
    }

    if (axon_ssh_types[n].curve == NULL) {
        return axon_ssh_rsa(b, why);
    }

    if (axon_ssh_string(b, &s, &slen) != AXON_OK
        || slen != strlen(axon_ssh_types[n].curve)
        || memcmp(s, axon_ssh_types[n].curve, slen) != 0)
    {
        *why = "the ECDSA key names another curve than its type";
        return AXON_ERR_SSH_KEY;
    }

    if (axon_ssh_string(b, &s, &slen) != AXON_OK
        || slen != axon_ssh_types[n].point || s[0] != 0x04)
    {
        *why = "the ECDSA key's point is malformed";
        return AXON_ERR_SSH_KEY;
    }

    return AXON_OK;
}


/* ssh-rsa: mpint e, mpint n; n of AXON_SSH_RSA_MIN_BITS to _MAX_BITS */

static int
axon_ssh_rsa(axon_ssh_blob_t *b, const char **why)
{
    size_t          i, slen, bits;
    const uint8_t  *s;

    if (axon_ssh_string(b, &s, &slen) != AXON_OK
        || slen == 0 || slen > 8 || (s[0] & 0x80)
        || !(s[slen - 1] & 1))
    {
        *why = "the RSA key's exponent is malformed";
        return AXON_ERR_SSH_KEY;
    }

    if (axon_ssh_string(b, &s, &slen) != AXON_OK
        || slen == 0 || (s[0] & 0x80))
    {
        *why = "the RSA key's modulus is malformed";
        return AXON_ERR_SSH_KEY;
    }

    while (slen && s[0] == 0) {
        s++;
        slen--;
    }

    bits = slen * 8;

    if (slen) {
        for (i = 0x80; i && !(s[0] & i); i >>= 1) {
            bits--;
        }
    }

    if (bits < AXON_SSH_RSA_MIN_BITS) {
        *why = "the RSA key is shorter than 3072 bits";
        return AXON_ERR_SSH_KEY;
    }

    if (bits > AXON_SSH_RSA_MAX_BITS) {
        *why = "the RSA key is longer than 8192 bits";
        return AXON_ERR_SSH_KEY;
    }

    return AXON_OK;
}


/* one SSH "string": uint32 length, big-endian, then that many bytes */

static int
axon_ssh_string(axon_ssh_blob_t *b, const uint8_t **s, size_t *len)
{
    size_t  n;

    if (b->left < 4) {
        return AXON_ERR_SSH_KEY;
    }

    n = ((size_t) b->p[0] << 24) | ((size_t) b->p[1] << 16)
        | ((size_t) b->p[2] << 8) | b->p[3];

    if (n > b->left - 4) {
        return AXON_ERR_SSH_KEY;
    }

    *s = b->p + 4;
    *len = n;

    b->p += 4 + n;
    b->left -= 4 + n;

    return AXON_OK;
}
