
/*
 * What the libFuzzer harnesses of t/fuzz/ share: an assertion that counts
 * as a crash (a wrong answer is a finding, as a fault is), and the input
 * copied into a buffer of its own exact size, so that AddressSanitizer sees
 * a read one byte past a slice of it.
 */


#ifndef FUZZ_H_INCLUDED
#define FUZZ_H_INCLUDED


#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define FZ_ASSERT(cond)                                                      \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__,      \
                    __LINE__, #cond);                                        \
            abort();                                                         \
        }                                                                    \
    } while (0)


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


/* p[0 .. n), copied; free() it (NULL when n is 0: malloc(0) may be too) */

static inline char *
fz_dup(const void *p, size_t n)
{
    char  *d;

    d = malloc(n ? n : 1);
    FZ_ASSERT(d != NULL);

    if (n) {
        memcpy(d, p, n);
    }

    return d;
}


/* the input split at its first NUL: a, then b (b empty without a NUL) */

static inline void
fz_split(const uint8_t *data, size_t size, const uint8_t **b, size_t *alen,
    size_t *blen)
{
    const uint8_t  *z;

    z = memchr(data, '\0', size);

    if (z == NULL) {
        *alen = size;
        *b = data + size;
        *blen = 0;
        return;
    }

    *alen = (size_t) (z - data);
    *b = z + 1;
    *blen = size - *alen - 1;
}


#endif /* FUZZ_H_INCLUDED */
