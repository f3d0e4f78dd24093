
/*
 * libFuzzer: the SSH public key check (one authorized_keys line: type,
 * base64 blob, comment), which every session claim and x402 payment runs
 * on a key the client sends.
 */


#include "fuzz.h"

#include "axon_sshkey.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int          rc;
    char        *line;
    const char  *why;

    line = fz_dup(data, size);

    why = NULL;
    rc = axon_ssh_key_check(line, size, &why);

    if (rc != AXON_OK) {
        FZ_ASSERT(rc == AXON_ERR_SSH_KEY);
        FZ_ASSERT(why != NULL && why[0] != '\0');
    }

    free(line);

    return 0;
}
