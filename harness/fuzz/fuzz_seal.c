/* fuzz_seal — tr_seal_inspect on arbitrary bytes (libFuzzer).
 *
 * The input is the seal. It is inspected without a token certificate, and
 * again with the input's second half offered as the token certificate, so
 * the certificate-list comparison and the token-certificate parse run on
 * hostile bytes too. Any crash, sanitizer report or a return other than
 * 0/-1 is a bug; -1 must always come with a message.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "seal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const time_t now = 1800000000; /* fixed: runs must be reproducible */
    tr_seal_info info;
    tr_err e;
    int rc = tr_seal_inspect(data, size, NULL, 0, now, &info, &e);
    if (rc != 0 && (rc != -1 || e.msg[0] == '\0'))
        abort();
    if (rc == 0 && (info.version != 4 && info.version != 1))
        abort();
    rc = tr_seal_inspect(data, size, data + size / 2, size - size / 2, now, &info, &e);
    if (rc != 0 && rc != -1)
        abort();
    return 0;
}
