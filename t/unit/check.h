/*
 * The unit tests' checks: CHECK(name, cond) counts a pass or prints the
 * failure (file, line, name, the condition); a test ends with
 * printf("%u passed, %u failed\n", passed, failed), the line
 * scripts/run-unit reads.  Included once, by the test's own file.
 */

#ifndef AXON_UNIT_CHECK_H
#define AXON_UNIT_CHECK_H

#include <stdio.h>


#define CHECK(name, cond)                                                    \
    check(__FILE__, __LINE__, name, (cond) != 0, #cond)


static unsigned  passed, failed;


static int
check(const char *file, int line, const char *name, int ok, const char *what)
{
    if (ok) {
        passed++;
        return 1;
    }

    failed++;
    printf("%s:%d: FAIL %s: %s\n", file, line, name, what);

    return 0;
}


#endif /* AXON_UNIT_CHECK_H */
