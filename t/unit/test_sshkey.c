/*
 * Unit tests for libaxon/axon_sshkey.h: keys made by ssh-keygen, each way
 * of being wrong, and random mutations of good keys (each parsed from a
 * heap copy of exactly its length, so a sanitizer build catches a read past
 * the end).  The last line is "N passed, N failed".
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon_sshkey.h"


static int  passed, failed;


static void
expect(const char *name, const char *key, size_t len, int want)
{
    int          rc;
    char        *copy;
    const char  *why = NULL;

    copy = malloc(len ? len : 1);
    memcpy(copy, key, len);

    rc = axon_ssh_key_check(copy, len, &why);
    free(copy);

    if (rc == want && (rc == AXON_OK || why != NULL)) {
        passed++;
        return;
    }

    failed++;
    printf("%s:%d: FAIL %s: rc %d, want %d (%s)\n", __FILE__, __LINE__, name,
           rc, want, why ? why : "no reason");
}


#define GOOD(name, s)  expect(name, s, strlen(s), AXON_OK)
#define BAD(name, s)   expect(name, s, strlen(s), AXON_ERR_SSH_KEY)


static const char  ed25519[] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH3vXpf8xvO14zc+SwLVjR1bniqjgMgiA57Pr4m+sPjM t";
static const char  ecdsa[] = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBHTXridK9Xn2EOFq3uFIJTP2X/+UTdodPIsFDgOzoSMjc22qXRmFC+7VcQ34nUZb4EI2Al+Xs+fYBspr4kUC6rM= t";
static const char  rsa3072[] = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQDv2ETizsm+/5R+aoIPIFs8rthW3HPncuz+o5sK+mimBtPCGCIYUNNUxtrDk4AvLNc/Fn/NYmxRCf68wbaoqa9QYfcw60ia+dUi5pTiF5FNsJcdhxyzGc+5pr0NWFpfb2c0vRl0StPi2wdikL6xzs96V0GwTa/o0Xxz2N8/f1PhfzWKiRKrKDnybZFP0hQVJvcusn0MjUyejWgT4QSloYS/iATzNvuYD6jLURhNC1E+ni5drQtXb1HnwYUl4DyxZlsEWajz31zqtVTiSeI4yuXtlYjod3VCD3FkPyOm/GmSPgUazDBSOZkI3GvSnjw6eg+hr0eG4iqu/UIN0bGU+oLn7MiAfQHuPWKo2KIj4HP28NmwVrsTfTswQ3bIaj+DzHRgXHovQOS8gdwIDaLVLzAg+BYD008Gvf3t8rXtsZHCDVHUOYnxV38OzFWAfS3TCOVD1cNtzM/OTzhiLkf2zqb8AAL6jZnNTToEEPGCnNEJaeiRmV2G8I2C+UiEItAshvM= t";
static const char  rsa2048[] = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDdJeZrnXRgfbghHEm0prwNnOVZd6iWwHo+dRS3RT8q4K/hw9iI2y5wnMCG0zRzE31ncaDnmR+XHRP1rmzawr0Q1CJT7WbZLWfo+e4+Dz9Qhex8hEE/SgoZR77520U8urwuMkZ1I0tlMLEuYjVFeLe6/i1g1xlOFG3nJgnBZXb/meKp0FW8JZjNld0maQFW06SaY78QNV6YyzrBol6Iw+X5mtVFWWMUMMeRfrkKRpRXOHi1E9/pdX8pN9FJiZRSfuC+jXpssfZyshxji9Nb76i6TeuS8nRoLmyJcEMuJB0oOPNlOCKTDa+KCEnmSTl54ugYKaT2SeXjHSM4qDgCPE6N t";


int
main(int argc, char **argv)
{
    int          i, j, n;
    char         buf[4096];
    const char  *goods[] = { ed25519, ecdsa, rsa3072 };

    GOOD("ed25519", ed25519);
    GOOD("ecdsa p256", ecdsa);
    GOOD("rsa 3072", rsa3072);
    GOOD("no comment", "ssh-ed25519 " "AAAAC3NzaC1lZDI1NTE5AAAAIH3vXpf8xvO14zc+SwLVjR1bniqjgMgiA57Pr4m+sPjM");
    BAD("rsa 2048", rsa2048);
    BAD("empty", "");
    BAD("type only", "ssh-ed25519");
    BAD("type and blank", "ssh-ed25519 ");
    BAD("options", "no-pty " "ssh-ed25519 " "AAAAC3NzaC1lZDI1NTE5AAAAIH3vXpf8xvO14zc+SwLVjR1bniqjgMgiA57Pr4m+sPjM");
    BAD("dss", "ssh-dss " "AAAAC3NzaC1lZDI1NTE5AAAAIH3vXpf8xvO14zc+SwLVjR1bniqjgMgiA57Pr4m+sPjM");
    BAD("sk key", "sk-ssh-ed25519@openssh.com " "AAAAC3NzaC1lZDI1NTE5AAAAIH3vXpf8xvO14zc+SwLVjR1bniqjgMgiA57Pr4m+sPjM");
    BAD("mismatched type", "ecdsa-sha2-nistp256 " "AAAAC3NzaC1lZDI1NTE5AAAAIH3vXpf8xvO14zc+SwLVjR1bniqjgMgiA57Pr4m+sPjM");
    BAD("newline", "ssh-ed25519 " "AAAAC3NzaC1lZDI1NTE5AAAAIH3vXpf8xvO14zc+SwLVjR1bniqjgMgiA57Pr4m+sPjM" "\nssh-ed25519 x");
    BAD("tab", "ssh-ed25519\t" "AAAAC3NzaC1lZDI1NTE5AAAAIH3vXpf8xvO14zc+SwLVjR1bniqjgMgiA57Pr4m+sPjM");
    BAD("padding in the middle", "ssh-ed25519 AAAA=AAA");
    BAD("not base64", "ssh-ed25519 ****");
    BAD("length not a multiple of 4", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA");

    snprintf(buf, sizeof(buf), "%s", ed25519);
    buf[strlen("ssh-ed25519 ") + 30] ^= 1;           /* still base64 */
    /* either answer is right; a refusal must say why */
    expect("ed25519, one bit changed", buf, strlen(buf),
           axon_ssh_key_check(buf, strlen(buf), &(const char *) { NULL }));

    /* random mutations: whatever the answer, no crash, no overread */

    srand(4242);
    n = argc > 2 && strcmp(argv[1], "--fuzz") == 0 ? atoi(argv[2]) : 20000;

    for (i = 0; i < n; i++) {
        const char  *g = goods[i % 3];
        size_t       len = strlen(g);
        const char  *why;
        char        *copy;

        memcpy(buf, g, len);

        for (j = 0; j < 1 + rand() % 4; j++) {
            buf[rand() % len] = (char) (rand() % 256);
        }

        len = (size_t) rand() % (len + 1);
        copy = malloc(len ? len : 1);
        memcpy(copy, buf, len);
        (void) axon_ssh_key_check(copy, len, &why);
        free(copy);
        passed++;
    }

    printf("%d passed, %d failed\n", passed, failed);

    return failed != 0;
}
