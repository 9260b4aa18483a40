/* crypto.h — the crypto checks the suites call (OpenSSL 3 EVP only).
 *
 * Owns: what a token must sign for a message (REF-1 PSO input), verifying
 * the token's signatures against its certificate (SM2 with the user ID
 * "1234567812345678", ECDSA P-256, RSA-2048 PKCS#1 v1.5), certificate
 * expiry classification, and digital envelopes (bid opening): a session key
 * encrypted to an encryption certificate (SM2 per GM/T 0009, RSA PKCS#1
 * v1.5) and files encrypted with it (SM4-CBC).
 * Must not: talk to tokens, parse suites, write reports.
 */
#ifndef TR_CRYPTO_H
#define TR_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/types.h>

#include "error.h"

/* 0 is never a valid tr_alg: tr_cert_info.key_alg is 0 for any other key
 * (another curve, Ed25519, DSA...). "rsa" covers every RSA modulus size; the
 * signature length check uses the key's real size. */
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

/* Classes, against now: now < notBefore -> not-yet-valid; now > notAfter ->
 * expired (RFC 5280: both bounds are inclusive, so now == notAfter is still
 * usable); notAfter - now <= window_days -> renewal-due (exactly 30 days
 * left IS due: holders are told to renew "within the 30 days before
 * expiry", a closed window); otherwise valid. */
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
    char issuer[256];      /* one-line issuer */
    char serial_hex[80];
    char key_id[65];       /* SHA-256 of the subject public key (the BIT
                              STRING's bytes), hex: which key, for comparing
                              two certificates' keys */
} tr_cert_info;

/* Parse a DER certificate and classify it against now with a renewal window
 * of window_days. Returns 0, or -1 with e set when it does not parse. */
int tr_cert_inspect(const uint8_t *der, size_t len, time_t now, int window_days,
                    tr_cert_info *out, tr_err *e);

/* ---- digital envelopes ---------------------------------------------------- */

#define TR_ENVELOPE_KEY_MAX 256 /* longest session key envelope() seals */
#define TR_SM4_KEY_LEN 16
#define TR_SM4_BLOCK 16

/* Encrypt key (a digital envelope's session key) to the public key of the
 * certificate cert_der, as a REF-1 token's PSO: DECIPHER takes it: SM2 per
 * GM/T 0003.4 with SM3, encoded as GM/T 0009's DER SEQUENCE { x INTEGER,
 * y INTEGER, hash OCTET STRING (32), ciphertext OCTET STRING } (what
 * OpenSSL 3's SM2 encryption produces); RSA as a PKCS#1 v1.5 encryption
 * block (type 2) of the modulus size. alg must be the certificate key's
 * algorithm: sm2 or rsa (ECDSA keys do not encrypt). key_len is
 * 1..TR_ENVELOPE_KEY_MAX, for RSA at most the modulus size - 11. The
 * randomness (SM2's k, RSA's padding) comes from OpenSSL's RAND: two
 * envelopes of one key differ. *out is OPENSSL_malloc'd. Returns 0 or -1. */
int tr_envelope_encrypt(tr_alg alg, const uint8_t *cert_der, size_t cert_len,
                        const uint8_t *key, size_t key_len, uint8_t **out,
                        size_t *out_len, tr_err *e);

/* SM4-CBC with PKCS#7 padding (GB/T 32907; key and iv TR_SM4_KEY_LEN
 * bytes). Encrypt: *out_len = in_len rounded up to the next multiple of 16
 * (a whole block of padding when in_len is one already). Decrypt: in_len a
 * multiple of 16, at least 16; returns 1 (nothing in out) when the padding
 * does not check out — the key is wrong, almost always. cap >= in_len + 16.
 * Returns 0 done, 1 bad padding (decrypt only), -1 error. */
int tr_sm4_cbc(bool encrypt, const uint8_t *key, const uint8_t *iv,
               const uint8_t *in, size_t in_len, uint8_t *out, size_t cap,
               size_t *out_len, tr_err *e);

/* ---- lower-level helpers (seal.c, fixtures/pki and the tests use them) ---- */

/* Parse a DER certificate (trailing 00/FF padding tolerated, as token files
 * are often padded; anything else after it is an error). Caller X509_free()s. */
X509 *tr_cert_parse(const uint8_t *der, size_t len, tr_err *e);

/* A name on one line ("O = ..., CN = ..."), UTF-8 kept, cut at cap on a
 * character boundary; "" when it cannot be printed. */
void tr_name_line(const X509_NAME *name, char *out, size_t cap);

/* Which tr_alg a key is: SM2 (SM2 curve, whatever keytype OpenSSL chose),
 * ECDSA P-256, RSA; 0 for anything else. */
tr_alg tr_pkey_alg(EVP_PKEY *pkey);

/* Z_A = SM3(ENTL || ID || a || b || xG || yG || xA || yA) per GM/T 0003.2,
 * computed here (OpenSSL 3.0 does not export it). */
int tr_sm2_za(EVP_PKEY *pkey, const uint8_t *id, size_t id_len,
              uint8_t za[32], tr_err *e);

/* Start a sign or verify of whole messages with pkey: SM3 + the default ID
 * for SM2 (EVP_PKEY_CTX_set1_id; OpenSSL's own default is the empty ID),
 * SHA-256 for ECDSA and RSA (PKCS#1 v1.5). mctx is fresh from
 * EVP_MD_CTX_new(). Returns 0 or -1. */
int tr_digest_sign_init(EVP_MD_CTX *mctx, EVP_PKEY *pkey, tr_err *e);
int tr_digest_verify_init(EVP_MD_CTX *mctx, EVP_PKEY *pkey, tr_err *e);

/* Verify a DER signature (ECDSA-Sig-Value for SM2/ECDSA, the raw block for
 * RSA) over msg with pkey, the hashing done by OpenSSL (EVP_DigestVerify, the
 * ID set as above). The independent path to tr_verify_token_signature, which
 * verifies the precomputed digest e: the tests check both agree.
 * Returns 1 valid, 0 invalid, -1 error. */
int tr_verify_message_der(EVP_PKEY *pkey, const uint8_t *msg, size_t msg_len,
                          const uint8_t *sig, size_t sig_len, tr_err *e);

/* Sign msg with pkey the same way (DER signature out, OPENSSL_free it). */
int tr_sign_message_der(EVP_PKEY *pkey, const uint8_t *msg, size_t msg_len,
                        uint8_t **sig, size_t *sig_len, tr_err *e);

/* Signature algorithm OID for pkey's seal/certificate signatures:
 * SM2 1.2.156.10197.1.501, ECDSA 1.2.840.10045.4.3.2, RSA 1.2.840.113549.1.1.11.
 * And back: the tr_alg an OID names (0 when not one of these). */
const char *tr_sig_alg_oid(tr_alg alg);
tr_alg tr_sig_alg_from_oid(const char *oid);

/* Turn the newest OpenSSL error into e (TR_E_CRYPTO, "what: detail") and
 * empty OpenSSL's error queue; returns -1. */
int tr_ossl_fail(tr_err *e, const char *what);

#endif
