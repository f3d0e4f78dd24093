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
/* the longest RSA key dropbear reads (its blob 1047 bytes), and one past it */
static const char  rsa8192[] =
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAEAQC0j7cxlfInmJ7aTaROWjcGYAkItte7Q6Q2pBY2gRd0fLtyTD/6dzy/nEmvXI5U"
    "TK0X1hgeUBs3hW8xuP11M3AsXnT6edpDw1hMzu2/lyAroVPCqDrDkiFWxPRjYS8nI+GeqtjVrIdIhvQ0/G+bveVMJQW9GxFMGWVK"
    "3/JvKtdNcrPnTZXCK7nvooM16Od39T3nSHmvGjxs1UI3+9Jnp0TtbOnoLAe5e3Oxtr02hWbqWqK0nuvHjGysOyAMUGS2K2c8VY2R"
    "ERq99jyeaLyyyR8ERXJHfPLyUFBLMrBhn3VV65sLvsOnxfSNeeoFh2QdihLiuJuQEeSvgDzB633n1WgXewQ0Q9nOfjJH29ykznCI"
    "iwr9iLzO+lNoVojuAEGtyqAoH7EBpNEdMDpUoPn7XcF5hTXgSs6+xQLhbgJanm6NGsVmcMh7H4LBZZgCQGzVYExneGpfBPQczDAm"
    "BOm8GU5mfa09A264noHiU1BbsQDSnO3z0LKfGC88t5iggbEGC06infWMo+fpFqhqpRndaIUrbQ4lj5X6EDGjRj8x4iqyQBTpAIz1"
    "6w+ejL0zrvQZ36FwHrguzb4ZGuU0OGPDtigmYhRell2P7txOMWCKEThXbbBVnqlroSydyD6mL47p7T9FuX4heisJr/lfT83KALwa"
    "ScZ7tNVaciNMB52FeFQ7j3WHH+YsVAeH6u/bbC80hPwiCsxNNPKu0gYlZ7SvOJEnlkati3kUT+ZghBQh9KFr2pI1wE8ZnYMsq5Y6"
    "k8fAozJEkHJUJ69cPwHBBs+Kc3qKR4oDLdWnW5mCdeMUQBQRXzDqo0noKv+tCFLc+2+cC3dObwGMTOYnUHxhOLXpYsoMrYlkr+Y8"
    "XXMK6wzZPB5vVJY2ZpmRixpUkQR6hxf9yOmJOviDabpYrMWRkdvy9KOYQH6vaC1kIz8GYqsWsDJ3Mhx6RliISK/qa++jDp/yyGsP"
    "YnF/rEMB4fhPPuJor05CjFIdDlAn7iHtC5M452FkZq+uCPp/JQjd698b4OjWQF5Gj9DwIWnIP86ZyJx3m+WYRFWEQ89Ld3dn6jJ/"
    "8HwomCfhbqVc2uID5zw9H4Q82JcIZAE6lKwPSbfKWOwd9YWc7uNUNPhDYMBKhlVUnVLZtxcJlvjNrRrJwtfVIZHJ4wgD1HMBLMvt"
    "C671lxP3x7SLn8u14tqBlXfbvQ259BtOsQSFiOdwoV3TsxO2A3sddzynCzXqHyfAmz7wn/kpXKJaZB0RzyeJrWIUjVbeJEadorQM"
    "o9efQEDa/3AOYaoxWIfC2Nsuuafjp/m0PxT3AtJIEvyk3mAGO3fZQ/hWgkHfhy5o3Ayk2pB/OcMy5OZIEd4aP3YsMJ+2JibvN3Y2"
    "bAYt t";
static const char  rsa16384[] =
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAIAQCoF8ify9l7+orrXw2ygRDNr059DIbG7WyOYAzbMG/uaEgUEN3tpA4XaIQrA3c5"
    "6gXB3dFis+O0jJKEEYVVM958YGIW/0971IhutGzLBg5QBhBjfihxdfa6eeSUmjIyXsSGMhMAaaOpsfnmnfGhnTa8xF3jU4vy8FIi"
    "HDWxrdobuaryt5k7PaxESF20QHn8jpVqcjg1N+dtlUrWqylQO+us1P1FN/H4sYsX1XcfPQQTP/D0Z3pk17gPPWcQ1NJgoqiIdTI8"
    "YGnQt46VHw9X/Fr31SRV/jiIS95ojc36mP+1kusG3W1jkVJ8ebBApAYTMm9dK7O52lm5bxkeU1OkaaYbDfsCVqTzBrHxMA10Tdae"
    "wptlUb5vC4mkT9NarylFaFFVYsdfTASlyXBRF1koN8Is5+xZEaSjhmQ/QLYDJYant57a3mcJCSEQzZAoun2bK5OjdqYQ1nrEjSMC"
    "sjTKPdvFiKe+JO/h0AG6d7bwCbC45yzq+x9Dym6+rMjJ0R3Vw/oZuOtg4Mk0DfYZJHuSm8RmkhqtO8lHMT1bTgqqeqSjaMt4u5AH"
    "oqL9OCQYlnSzLYftFBL0+Z9dhjiKVusXVB+BpGMhYZ/GXXdEu96SBXX7EUVWDmrKEAKwJ6mAyu4kpPoIdtYObdumvJvPyoXMutVg"
    "i2NehWOfS24pbD1l0kfHpHAGxrN3w5DKzI+/Ulos4qZ7npmkjn+dJnuB1yySYBYKViwcj06Rko2zme+DCQfpfHGxsRKyemWHwmuo"
    "Pw2GxPLKn58HOqP4KQ7JjkC+jZAgWdcb+uTB/uIgtKCnUAsMFfqZyL2kU92O1mtLcM5Uj3MxTeDgsz8ZssMJfw7PBeuelR8geZYn"
    "JICdvbV0JUfY+hvnZkwpr5SxLXTWJHGG2WWNGGI0mKoNjmYTYW7qF5Yb3L5Ky+/y1z8VdeeGSU2za2NkxuNVarV+4ScAtTrnJ5zU"
    "8AN34icQej7eqMo1+uV2zkPu5raOuVeawhs09ZesBIc29B03Bny44pljnxSJt9bhJ1CD23938nysV2k0BdCAvcfJ76XAuqFTuUCd"
    "5BanwXZFYtgBNoP292JEna769ANiG8Ab8iVKFQUHFRkesDC144wOoIdlyUjVBw1n7NXzQuqYACZqeuOg4evbfDR4IktbP1gmvyRD"
    "9VxBE4ld7M0IL4JtZ82QlPVZiHOhPfqZ/+xtki98VqPO+cJZZic7UZb7ltJZZ3OuJFl1lHQa99TOQJl5PmjDCi1/FvM2cz/wmkSH"
    "7qg4pFMy4HZFhk4pekxRoAtXyrLcpZnwXRoxLydTs+yCH3SESDWSc8VPaUaX5+XEHVfm7GjRdUpTapnYeVafbYCV6zxMMv1yHqYj"
    "Xgl4eJLT/9atqYyKGl1vSh4uJ2JqafCrmj6uXUtcvns6TN/nNwTQWQxu63xORu/+ByBGB4T2yO80iyb7KtCZhMggzL1ruwaU9km2"
    "z0kgAkDHuSJtCTwP4Zao/b4Wfp0AC74u6Dr2xz68gmI2+sIc4YKuNyFhl/xAibnq4cNWwah7xldE3MApz2hjexu0b3qca5emJuZg"
    "puJRZ+yF5fSC3rwtnEe3F9Fqbj5fYP+f/e6z4vu4j1GJKMp0eFiJG1HwunAIgKBNMN51cyF1pJg9V7JZYqGGrg93ak99WyaeIby/"
    "agxTEYOFViAi215p3SORM2C1BDKbc+enpA6Dc7PX9n7JN2FgvFSJAsVYO43DLFFXPrj4qVC/0TKdyDE/3AsybyiJ2cEf2KeRadrJ"
    "ed7joz8ZAmxSxXr46uzi19V+fKYXqdJzbdEVIbnxox7fqYhU9umgCHicLE0gHXk4k9q+LeA+8fMnq/XvPt03EFlZcmr9MajBhfjk"
    "RmAm28Rvt6osSBFV8y8SKF/A7toELmbQPUqKXgR4j1QgTxVeuK0xFQFdFAYmYQpozZ9qxrZyB/1rmQJcEPhBjabaYtWFXTkh8Qfy"
    "bcQTdg4dLwsmeW3rJViauWt/vviOpRLwNGlXZQYyubAuR4pW93g2yYEEoaX2QFBRba1+ak1h3ulcWVeS7ksomfrh4igCzeto/5uM"
    "8tE+DMMq1td+aHsVdLwf9QHVA2AefAY8Fid0v201zWTBvL06ro1NlGvb9C9EjFdcfysQdhEme67F0C7g8vI46f15PD/fDL2QgoYZ"
    "OJK/lfsFZgHSxZfrdbdS+6LsqIt7Q9QOFxiiAdKE5cEYX79LzOiBZS22SFDPON7Il1o7aZHGcAxNL9JWYWFHX/2jlzUHbtKBiCsy"
    "EQSAFYpt3ouY6XRHNQykw86zQjWfc1DjzPWW+QXzpYnsQrZEEMrLEKXmriOAJwX7SEy9AxQpz+ef+xTp87SBkN2CRQ90+DY62h2t"
    "UFZv5XwYjOSc7qNHst9Tq/h9VKsslBV3P4CRddk/3MCNDvwHiqiBSK0J8fAKxer6HFvvJQgvlYC4LChqPJAd/BTYaw5gaf2hd9UL"
    "mc+06Gnd1w4EqPGZu5ne1EwAWWvAUamEGEmUD1UEG2GwbS6Pj+pdfqxX0uwZujvsUvq1qbb2iVKwNyuuVwKdezSJ2+S04GwK4f6V"
    "Z9ydmxtExnCwonpBt2mb6HfjnMUNYI/4EbV+MVd9gI8Z524Q45Ekf/QgjIv1qpZoiShJaUOgJAhPK2/182NHR6iytoKV5Dt7BpED"
    "AXlODcbW/EvM+frTqRnIJsdkR6Iz4WfmOQBqsLwxhJxtQRS1VyUrP6BlRTyhLlehgH1uww== t";
static const char  rsa2048[] = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDdJeZrnXRgfbghHEm0prwNnOVZd6iWwHo+dRS3RT8q4K/hw9iI2y5wnMCG0zRzE31ncaDnmR+XHRP1rmzawr0Q1CJT7WbZLWfo+e4+Dz9Qhex8hEE/SgoZR77520U8urwuMkZ1I0tlMLEuYjVFeLe6/i1g1xlOFG3nJgnBZXb/meKp0FW8JZjNld0maQFW06SaY78QNV6YyzrBol6Iw+X5mtVFWWMUMMeRfrkKRpRXOHi1E9/pdX8pN9FJiZRSfuC+jXpssfZyshxji9Nb76i6TeuS8nRoLmyJcEMuJB0oOPNlOCKTDa+KCEnmSTl54ugYKaT2SeXjHSM4qDgCPE6N t";


int
main(int argc, char **argv)
{
    int          i, j, n;
    char         buf[4200];
    const char  *goods[] = { ed25519, ecdsa, rsa3072 };

    GOOD("ed25519", ed25519);
    GOOD("ecdsa p256", ecdsa);
    GOOD("rsa 3072", rsa3072);
    GOOD("no comment", "ssh-ed25519 " "AAAAC3NzaC1lZDI1NTE5AAAAIH3vXpf8xvO14zc+SwLVjR1bniqjgMgiA57Pr4m+sPjM");
    BAD("rsa 2048", rsa2048);
    GOOD("rsa 8192", rsa8192);
    BAD("rsa 16384", rsa16384);
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
    /* what dropbear, the sessions' server, would not read */
    BAD("two spaces after the type", "ssh-ed25519  " "AAAAC3NzaC1lZDI1NTE5AAAAIH3vXpf8xvO14zc+SwLVjR1bniqjgMgiA57Pr4m+sPjM");
    GOOD("two spaces before the comment", "ssh-ed25519 " "AAAAC3NzaC1lZDI1NTE5AAAAIH3vXpf8xvO14zc+SwLVjR1bniqjgMgiA57Pr4m+sPjM  t");

    /* a line of 4096 bytes at most (dropbear reads 4200): a long comment */
    n = snprintf(buf, sizeof(buf), "%s ", ed25519);
    memset(buf + n, 'c', 4096 - n);
    expect("a line of 4096", buf, 4096, AXON_OK);
    buf[4096] = 'c';
    expect("a line of 4097", buf, 4097, AXON_ERR_SSH_KEY);

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
