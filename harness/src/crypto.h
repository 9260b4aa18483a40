/* crypto.h — the crypto checks the suites call (OpenSSL 3 EVP only).
 *
 * Owns: what a token must sign for a message (REF-1 PSO input), verifying
 * the token's signatures against its certificate (SM2 with the user ID
 * "1234567812345678", ECDSA P-256, RSA-2048 PKCS#1 v1.5), and certificate
 * expiry classification.
 * Must not: talk to tokens, parse suites, write reports.
 */
#ifndef TR_CRYPTO_H
#define TR_CRYPTO_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "error.h"

typedef enum { TR_ALG_SM2 = 1, TR_ALG_RSA2048 = 2, TR_ALG_ECDSA_P256 = 3 } tr_alg;

/* "sm2", "rsa" (or "rsa2048"), "ecdsa" (or "ecdsa-p256"); also accepts the
 * REF-1 byte ("01","02","03"). Returns 0 or -1 with e set. */
int tr_alg_parse(const char *name, tr_alg *out, tr_err *e);
const char *tr_alg_name(tr_alg alg); /* "sm2" "rsa" "ecdsa" */

#define TR_SM2_DEFAULT_ID "1234567812345678"

/* The bytes a REF-1 token's PSO: COMPUTE DIGITAL SIGNATURE takes for message
 * msg: SM2 e = SM3(Z_A || M) (Z_A from the certificate's key and the default
 * ID), ECDSA SHA-256(M), RSA DER DigestInfo(SHA-256(M)) (51 bytes). */
int tr_sign_input(tr_alg alg, const uint8_t *cert_der, size_t cert_len,
                  const uint8_t *msg, size_t msg_len,
                  uint8_t *out, size_t cap, size_t *out_len, tr_err *e);

/* Verify what the token returned for msg: SM2/ECDSA r||s (64 bytes),
 * RSA 256 bytes. Returns 1 valid, 0 invalid (reason in e->msg), -1 error. */
int tr_verify_token_signature(tr_alg alg, const uint8_t *cert_der, size_t cert_len,
                              const uint8_t *msg, size_t msg_len,
                              const uint8_t *sig, size_t sig_len, tr_err *e);

typedef enum {
    TR_CERT_VALID = 0,
    TR_CERT_RENEWAL_DUE,
    TR_CERT_EXPIRED,
    TR_CERT_NOT_YET_VALID
} tr_cert_class;
const char *tr_cert_class_name(tr_cert_class c); /* "valid" "renewal-due" "expired" "not-yet-valid" */

typedef struct {
    tr_cert_class cls;
    double days_left;      /* notAfter - now, in days (negative when expired) */
    double validity_days;  /* notAfter - notBefore */
    time_t not_before, not_after;
    tr_alg key_alg;        /* algorithm of the subject public key */
    char subject[256];     /* one-line subject */
    char serial_hex[80];
} tr_cert_info;

/* Parse a DER certificate and classify it against now with a renewal window
 * of window_days. Returns 0, or -1 with e set when it does not parse. */
int tr_cert_inspect(const uint8_t *der, size_t len, time_t now, int window_days,
                    tr_cert_info *out, tr_err *e);

#endif
