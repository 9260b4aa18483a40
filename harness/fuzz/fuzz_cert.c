/* fuzz_cert — certificate parsing and token-signature checks on arbitrary
 * certificate bytes (libFuzzer): tr_cert_inspect, then for every algorithm
 * tr_sign_input and tr_verify_token_signature with the input as the
 * certificate (a fixed message, a signature derived from the input).
 * A crash, a sanitizer report, or a "valid" verdict for a forged signature
 * is a bug.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t MSG[] = "tokenrig fuzz message";

/* A signature of the size each algorithm expects, from the input's bytes. */
static void forged_signature(const uint8_t *data, size_t size, uint8_t *sig,
                             size_t n)
{
    for (size_t i = 0; i < n; i++)
        sig[i] = size ? (uint8_t)(data[i % size] ^ (uint8_t)i) : (uint8_t)i;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tr_cert_info ci;
    tr_err e;
    int rc = tr_cert_inspect(data, size, 1800000000, 30, &ci, &e);
    if (rc != 0 && (rc != -1 || e.msg[0] == '\0'))
        abort();
    if (rc == 0 && (unsigned)ci.cls > TR_CERT_NOT_YET_VALID)
        abort();
    static const tr_alg algs[3] = {TR_ALG_SM2, TR_ALG_ECDSA_P256, TR_ALG_RSA2048};
    uint8_t sig[512], input[64];
    for (int i = 0; i < 3; i++) {
        size_t n = 0;
        rc = tr_sign_input(algs[i], data, size, MSG, sizeof MSG - 1, input,
                           sizeof input, &n, &e);
        if (rc != 0 && rc != -1)
            abort();
        if (rc == 0 && n != (algs[i] == TR_ALG_RSA2048 ? 51u : 32u))
            abort();
        size_t sig_len = algs[i] == TR_ALG_RSA2048 ? 256 : 64;
        forged_signature(data, size, sig, sig_len);
        rc = tr_verify_token_signature(algs[i], data, size, MSG, sizeof MSG - 1, sig,
                                       sig_len, &e);
        /* a signature made of the certificate's own bytes never verifies */
        if (rc != 0 && rc != -1)
            abort();
    }
    return 0;
}
