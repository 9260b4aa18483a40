/* crypto.c — token signature checks, certificate expiry and digital
 * envelopes (see crypto.h).
 *
 * Everything goes through OpenSSL 3.0's EVP layer. The one thing OpenSSL
 * does not hand out is the SM2 Z_A value, so tr_sm2_za computes it from the
 * key and the curve constants; the token is given e = SM3(Z_A || M) and its
 * r||s is checked against that same e with EVP_PKEY_verify, while
 * tr_verify_message_der lets OpenSSL hash the message itself (with the ID
 * set on the context). The unit tests check both paths agree with each
 * other and with signatures made by the openssl command line.
 * Envelopes are EVP_PKEY_encrypt to the certificate's key (OpenSSL's SM2
 * encryption already writes GM/T 0009's DER) and EVP SM4-CBC; the tests
 * open them with the private keys and with the openssl command line.
 */
#include "crypto.h"

#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "util.h"

/* Certificates on tokens are a few KB; anything past this is not one. */
#define TR_CERT_MAX_LEN (1u << 20)
#define SM2_FIELD_LEN 32
#define RS_HALF_LEN 32

/* Turn the newest OpenSSL error into e (and empty the queue so a stale
 * error never leaks into a later, unrelated message). */
int tr_ossl_fail(tr_err *e, const char *what)
{
    char detail[256] = "no OpenSSL detail";
    unsigned long code = ERR_peek_last_error();
    if (code)
        ERR_error_string_n(code, detail, sizeof detail);
    ERR_clear_error();
    return tr_fail(e, TR_E_CRYPTO, "%s: %s", what, detail);
}

/* ---------------------------------------------------------------- names */

int tr_alg_parse(const char *name, tr_alg *out, tr_err *e)
{
    static const struct {
        const char *name;
        tr_alg alg;
    } names[] = {
        {"sm2", TR_ALG_SM2},         {"01", TR_ALG_SM2},
        {"rsa", TR_ALG_RSA2048},     {"rsa2048", TR_ALG_RSA2048},
        {"rsa-2048", TR_ALG_RSA2048}, {"02", TR_ALG_RSA2048},
        {"ecdsa", TR_ALG_ECDSA_P256}, {"ecdsa-p256", TR_ALG_ECDSA_P256},
        {"03", TR_ALG_ECDSA_P256},
    };
    if (!name)
        return tr_fail(e, TR_E_USAGE, "no algorithm given");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(name, names[i].name) == 0) {
            *out = names[i].alg;
            return 0;
        }
    }
    return tr_fail(e, TR_E_USAGE,
                   "unknown algorithm '%.64s' (expected sm2, rsa, ecdsa, or the "
                   "REF-1 byte 01, 02, 03)", name);
}

const char *tr_alg_name(tr_alg alg)
{
    switch (alg) {
    case TR_ALG_SM2: return "sm2";
    case TR_ALG_RSA2048: return "rsa";
    case TR_ALG_ECDSA_P256: return "ecdsa";
    }
    return "unknown";
}

const char *tr_cert_class_name(tr_cert_class c)
{
    switch (c) {
    case TR_CERT_VALID: return "valid";
    case TR_CERT_RENEWAL_DUE: return "renewal-due";
    case TR_CERT_EXPIRED: return "expired";
    case TR_CERT_NOT_YET_VALID: return "not-yet-valid";
    }
    return "unknown";
}

const char *tr_sig_alg_oid(tr_alg alg)
{
    switch (alg) {
    case TR_ALG_SM2: return "1.2.156.10197.1.501";
    case TR_ALG_ECDSA_P256: return "1.2.840.10045.4.3.2";
    case TR_ALG_RSA2048: return "1.2.840.113549.1.1.11";
    }
    return NULL;
}

tr_alg tr_sig_alg_from_oid(const char *oid)
{
    const tr_alg all[] = {TR_ALG_SM2, TR_ALG_ECDSA_P256, TR_ALG_RSA2048};
    for (size_t i = 0; oid && i < sizeof all / sizeof all[0]; i++)
        if (strcmp(oid, tr_sig_alg_oid(all[i])) == 0)
            return all[i];
    return (tr_alg)0;
}

/* ---------------------------------------------------------------- keys */

static bool all_padding(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0x00 && p[i] != 0xFF)
            return false;
    return true;
}

X509 *tr_cert_parse(const uint8_t *der, size_t len, tr_err *e)
{
    if (!der || len == 0) {
        tr_fail(e, TR_E_CRYPTO, "no certificate bytes");
        return NULL;
    }
    if (len > TR_CERT_MAX_LEN) {
        tr_fail(e, TR_E_CRYPTO, "certificate of %zu bytes is larger than %u",
                len, TR_CERT_MAX_LEN);
        return NULL;
    }
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (!x) {
        tr_ossl_fail(e, "certificate is not DER X.509");
        return NULL;
    }
    size_t used = (size_t)(p - der);
    if (used < len && !all_padding(p, len - used)) {
        X509_free(x);
        tr_fail(e, TR_E_CRYPTO,
                "%zu bytes after the %zu-byte certificate are not padding",
                len - used, used);
        return NULL;
    }
    return x;
}

tr_alg tr_pkey_alg(EVP_PKEY *pkey)
{
    if (!pkey)
        return (tr_alg)0;
    if (EVP_PKEY_is_a(pkey, "SM2"))
        return TR_ALG_SM2;
    if (EVP_PKEY_is_a(pkey, "RSA"))
        return TR_ALG_RSA2048;
    if (EVP_PKEY_is_a(pkey, "EC")) {
        char group[64];
        size_t glen = 0;
        if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
                                            group, sizeof group, &glen)) {
            ERR_clear_error();
            return (tr_alg)0;
        }
        /* an SM2-curve key loaded as plain "EC" is still an SM2 key */
        if (strcasecmp(group, "SM2") == 0)
            return TR_ALG_SM2;
        if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)
            return TR_ALG_ECDSA_P256;
    }
    return (tr_alg)0;
}

/* The public key of a certificate, checked to be of the algorithm the
 * caller expects. Borrowed from x. */
static EVP_PKEY *cert_key_for(X509 *x, tr_alg want, tr_err *e)
{
    EVP_PKEY *pk = X509_get0_pubkey(x);
    if (!pk) {
        tr_ossl_fail(e, "certificate public key cannot be loaded");
        return NULL;
    }
    tr_alg have = tr_pkey_alg(pk);
    if (have != want) {
        tr_fail(e, TR_E_CRYPTO, "certificate key is %s (%s), not %s",
                have ? tr_alg_name(have) : "unsupported",
                EVP_PKEY_get0_type_name(pk) ? EVP_PKEY_get0_type_name(pk) : "?",
                tr_alg_name(want));
        return NULL;
    }
    return pk;
}

/* ---------------------------------------------------------------- SM2 Z_A */

static int bn_field_bytes(const BIGNUM *bn, uint8_t out[SM2_FIELD_LEN])
{
    return BN_bn2binpad(bn, out, SM2_FIELD_LEN) == SM2_FIELD_LEN ? 0 : -1;
}

/* a, b, xG, yG of the SM2 curve, each as 32 big-endian bytes. */
static int sm2_curve_bytes(uint8_t out[4][SM2_FIELD_LEN], tr_err *e)
{
    int rc = -1;
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_sm2);
    BN_CTX *bnctx = BN_CTX_new();
    BIGNUM *p = BN_new(), *a = BN_new(), *b = BN_new();
    BIGNUM *gx = BN_new(), *gy = BN_new();
    if (!g || !bnctx || !p || !a || !b || !gx || !gy) {
        tr_ossl_fail(e, "SM2 curve unavailable");
        goto out;
    }
    if (!EC_GROUP_get_curve(g, p, a, b, bnctx) ||
        !EC_POINT_get_affine_coordinates(g, EC_GROUP_get0_generator(g), gx, gy,
                                         bnctx)) {
        tr_ossl_fail(e, "SM2 curve constants");
        goto out;
    }
    if (bn_field_bytes(a, out[0]) || bn_field_bytes(b, out[1]) ||
        bn_field_bytes(gx, out[2]) || bn_field_bytes(gy, out[3])) {
        tr_fail(e, TR_E_CRYPTO, "SM2 curve constant wider than 32 bytes");
        goto out;
    }
    rc = 0;
out:
    BN_free(p), BN_free(a), BN_free(b), BN_free(gx), BN_free(gy);
    BN_CTX_free(bnctx);
    EC_GROUP_free(g);
    return rc;
}

static int sm2_pub_bytes(EVP_PKEY *pkey, uint8_t x[SM2_FIELD_LEN],
                         uint8_t y[SM2_FIELD_LEN], tr_err *e)
{
    BIGNUM *bx = NULL, *by = NULL;
    int rc = -1;
    if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &bx) ||
        !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &by))
        tr_ossl_fail(e, "SM2 public key coordinates");
    else if (bn_field_bytes(bx, x) || bn_field_bytes(by, y))
        tr_fail(e, TR_E_CRYPTO, "SM2 public key coordinate wider than 32 bytes");
    else
        rc = 0;
    BN_free(bx);
    BN_free(by);
    return rc;
}

int tr_sm2_za(EVP_PKEY *pkey, const uint8_t *id, size_t id_len,
              uint8_t za[32], tr_err *e)
{
    if (tr_pkey_alg(pkey) != TR_ALG_SM2)
        return tr_fail(e, TR_E_CRYPTO, "Z_A needs an SM2 key");
    /* ENTL is the ID length in bits on 16 bits */
    if (id_len > 0xFFFF / 8)
        return tr_fail(e, TR_E_CRYPTO, "SM2 ID of %zu bytes is too long", id_len);
    uint8_t curve[4][SM2_FIELD_LEN], xa[SM2_FIELD_LEN], ya[SM2_FIELD_LEN];
    if (sm2_curve_bytes(curve, e) || sm2_pub_bytes(pkey, xa, ya, e))
        return -1;
    uint8_t entl[2] = {(uint8_t)((id_len * 8) >> 8), (uint8_t)(id_len * 8)};
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    unsigned int outl = 0;
    int ok = m && EVP_DigestInit_ex(m, EVP_sm3(), NULL) &&
             EVP_DigestUpdate(m, entl, sizeof entl) &&
             (id_len == 0 || EVP_DigestUpdate(m, id, id_len)) &&
             EVP_DigestUpdate(m, curve, sizeof curve) &&
             EVP_DigestUpdate(m, xa, sizeof xa) &&
             EVP_DigestUpdate(m, ya, sizeof ya) &&
             EVP_DigestFinal_ex(m, za, &outl) && outl == 32;
    EVP_MD_CTX_free(m);
    return ok ? 0 : tr_ossl_fail(e, "SM3 of Z_A");
}

/* ---------------------------------------------------------------- digests */

static int one_shot_digest(const EVP_MD *md, const uint8_t *a, size_t alen,
                           const uint8_t *b, size_t blen, uint8_t out[32],
                           tr_err *e)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    unsigned int outl = 0;
    int ok = m && EVP_DigestInit_ex(m, md, NULL) &&
             (alen == 0 || EVP_DigestUpdate(m, a, alen)) &&
             (blen == 0 || EVP_DigestUpdate(m, b, blen)) &&
             EVP_DigestFinal_ex(m, out, &outl) && outl == 32;
    EVP_MD_CTX_free(m);
    return ok ? 0 : tr_ossl_fail(e, "digest");
}

/* DigestInfo ::= SEQUENCE { AlgorithmIdentifier(sha256, NULL), OCTET STRING },
 * encoded by OpenSSL's own X509_SIG template. */
static int sha256_digest_info(const uint8_t hash[32], uint8_t *out, size_t cap,
                              size_t *out_len, tr_err *e)
{
    X509_SIG *sig = X509_SIG_new();
    X509_ALGOR *alg = NULL;
    ASN1_OCTET_STRING *dig = NULL;
    unsigned char *der = NULL;
    int rc = -1;
    if (!sig) {
        tr_ossl_fail(e, "DigestInfo");
        goto out;
    }
    X509_SIG_getm(sig, &alg, &dig);
    if (!X509_ALGOR_set0(alg, OBJ_nid2obj(NID_sha256), V_ASN1_NULL, NULL) ||
        !ASN1_OCTET_STRING_set(dig, hash, 32)) {
        tr_ossl_fail(e, "DigestInfo");
        goto out;
    }
    int n = i2d_X509_SIG(sig, &der);
    if (n <= 0) {
        tr_ossl_fail(e, "DigestInfo encoding");
        goto out;
    }
    if ((size_t)n > cap) {
        tr_fail(e, TR_E_INTERNAL, "DigestInfo needs %d bytes, room for %zu", n, cap);
        goto out;
    }
    memcpy(out, der, (size_t)n);
    *out_len = (size_t)n;
    rc = 0;
out:
    OPENSSL_free(der);
    X509_SIG_free(sig);
    return rc;
}

/* The 32-byte digest the token signs for SM2 and ECDSA (e, or SHA-256), or
 * the SHA-256 hash under the RSA DigestInfo. */
static int token_digest(tr_alg alg, EVP_PKEY *pk, const uint8_t *msg,
                        size_t msg_len, uint8_t out[32], tr_err *e)
{
    if (alg == TR_ALG_SM2) {
        uint8_t za[32];
        if (tr_sm2_za(pk, (const uint8_t *)TR_SM2_DEFAULT_ID,
                      strlen(TR_SM2_DEFAULT_ID), za, e))
            return -1;
        return one_shot_digest(EVP_sm3(), za, sizeof za, msg, msg_len, out, e);
    }
    return one_shot_digest(EVP_sha256(), NULL, 0, msg, msg_len, out, e);
}

static bool alg_known(tr_alg alg)
{
    return alg == TR_ALG_SM2 || alg == TR_ALG_RSA2048 || alg == TR_ALG_ECDSA_P256;
}

int tr_sign_input(tr_alg alg, const uint8_t *cert_der, size_t cert_len,
                  const uint8_t *msg, size_t msg_len,
                  uint8_t *out, size_t cap, size_t *out_len, tr_err *e)
{
    if (!alg_known(alg))
        return tr_fail(e, TR_E_USAGE, "unknown algorithm %d", (int)alg);
    if (!msg && msg_len)
        return tr_fail(e, TR_E_INTERNAL, "no message");
    X509 *x = NULL;
    EVP_PKEY *pk = NULL;
    /* only SM2 needs the key (Z_A); for the others a given cert is still
     * checked so a suite cannot sign RSA input with an ECDSA token */
    if (alg == TR_ALG_SM2 || cert_der) {
        if (!(x = tr_cert_parse(cert_der, cert_len, e)) ||
            !(pk = cert_key_for(x, alg, e))) {
            X509_free(x);
            return -1;
        }
    }
    uint8_t dig[32];
    int rc = token_digest(alg, pk, msg, msg_len, dig, e);
    X509_free(x);
    if (rc)
        return -1;
    if (alg == TR_ALG_RSA2048)
        return sha256_digest_info(dig, out, cap, out_len, e);
    if (cap < sizeof dig)
        return tr_fail(e, TR_E_INTERNAL, "sign input needs 32 bytes, room for %zu",
                       cap);
    memcpy(out, dig, sizeof dig);
    *out_len = sizeof dig;
    return 0;
}

/* ---------------------------------------------------------------- verify */

/* r||s (32 + 32 bytes, big-endian) -> DER ECDSA-Sig-Value. */
static int rs_to_der(const uint8_t *rs, unsigned char **der, int *der_len,
                     tr_err *e)
{
    ECDSA_SIG *s = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(rs, RS_HALF_LEN, NULL);
    BIGNUM *sv = BN_bin2bn(rs + RS_HALF_LEN, RS_HALF_LEN, NULL);
    if (!s || !r || !sv || !ECDSA_SIG_set0(s, r, sv)) {
        BN_free(r);
        BN_free(sv);
        ECDSA_SIG_free(s);
        return tr_ossl_fail(e, "r||s to DER");
    }
    *der = NULL;
    *der_len = i2d_ECDSA_SIG(s, der);
    ECDSA_SIG_free(s);
    return *der_len > 0 ? 0 : tr_ossl_fail(e, "r||s to DER");
}

/* EVP_PKEY_verify of sig over a precomputed digest: for SM2 the digest is
 * e itself (OpenSSL's SM2 signature verifies tbs as e), for ECDSA the
 * SHA-256 hash, for RSA the SHA-256 hash with the PKCS#1 v1.5 DigestInfo
 * built by OpenSSL. Returns 1, 0 or -1. */
static int verify_digest(tr_alg alg, EVP_PKEY *pk, const uint8_t *sig,
                         size_t sig_len, const uint8_t dig[32], tr_err *e)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pk, NULL);
    int rc = -1;
    if (!c || EVP_PKEY_verify_init(c) <= 0) {
        tr_ossl_fail(e, "verify init");
        goto out;
    }
    if (alg == TR_ALG_RSA2048 &&
        (EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) <= 0 ||
         EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) <= 0)) {
        tr_ossl_fail(e, "RSA PKCS#1 v1.5 SHA-256 setup");
        goto out;
    }
    if (EVP_PKEY_verify(c, sig, sig_len, dig, 32) == 1) {
        rc = 1;
    } else {
        ERR_clear_error();
        tr_fail(e, TR_E_CRYPTO, "%s signature does not verify%s", tr_alg_name(alg),
                alg == TR_ALG_SM2 ? " (ID " TR_SM2_DEFAULT_ID ")" : "");
        rc = 0;
    }
out:
    EVP_PKEY_CTX_free(c);
    return rc;
}

int tr_verify_token_signature(tr_alg alg, const uint8_t *cert_der, size_t cert_len,
                              const uint8_t *msg, size_t msg_len,
                              const uint8_t *sig, size_t sig_len, tr_err *e)
{
    if (!alg_known(alg))
        return tr_fail(e, TR_E_USAGE, "unknown algorithm %d", (int)alg);
    if ((!msg && msg_len) || (!sig && sig_len))
        return tr_fail(e, TR_E_INTERNAL, "no message or signature buffer");
    X509 *x = tr_cert_parse(cert_der, cert_len, e);
    if (!x)
        return -1;
    int rc = -1;
    EVP_PKEY *pk = cert_key_for(x, alg, e);
    uint8_t dig[32];
    if (!pk || token_digest(alg, pk, msg, msg_len, dig, e))
        goto out;
    if (alg == TR_ALG_RSA2048) {
        int size = EVP_PKEY_get_size(pk);
        if (size <= 0 || sig_len != (size_t)size) {
            tr_fail(e, TR_E_CRYPTO, "RSA signature is %zu bytes, the key needs %d",
                    sig_len, size);
            rc = 0;
            goto out;
        }
        rc = verify_digest(alg, pk, sig, sig_len, dig, e);
        goto out;
    }
    if (sig_len != 2 * RS_HALF_LEN) {
        tr_fail(e, TR_E_CRYPTO, "%s signature is %zu bytes, expected 64 (r||s)",
                tr_alg_name(alg), sig_len);
        rc = 0;
        goto out;
    }
    unsigned char *der = NULL;
    int der_len = 0;
    if (rs_to_der(sig, &der, &der_len, e) == 0)
        rc = verify_digest(alg, pk, der, (size_t)der_len, dig, e);
    OPENSSL_free(der);
out:
    X509_free(x);
    return rc;
}

static int digest_init(EVP_MD_CTX *mctx, EVP_PKEY *pkey, bool sign, tr_err *e)
{
    tr_alg alg = tr_pkey_alg(pkey);
    if (!alg)
        return tr_fail(e, TR_E_CRYPTO, "unsupported key type %s",
                       pkey && EVP_PKEY_get0_type_name(pkey)
                           ? EVP_PKEY_get0_type_name(pkey) : "(none)");
    const EVP_MD *md = alg == TR_ALG_SM2 ? EVP_sm3() : EVP_sha256();
    EVP_PKEY_CTX *pctx = NULL;
    int ok = sign ? EVP_DigestSignInit(mctx, &pctx, md, NULL, pkey)
                  : EVP_DigestVerifyInit(mctx, &pctx, md, NULL, pkey);
    if (ok <= 0)
        return tr_ossl_fail(e, sign ? "sign init" : "verify init");
    /* The ID must be set before the first update: OpenSSL computes Z_A
     * then, and its default is the empty ID, not GM/T 0009's. */
    if (alg == TR_ALG_SM2 &&
        EVP_PKEY_CTX_set1_id(pctx, TR_SM2_DEFAULT_ID, strlen(TR_SM2_DEFAULT_ID)) <= 0)
        return tr_ossl_fail(e, "setting the SM2 ID");
    if (alg == TR_ALG_RSA2048 &&
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0)
        return tr_ossl_fail(e, "RSA padding");
    return 0;
}

int tr_digest_sign_init(EVP_MD_CTX *mctx, EVP_PKEY *pkey, tr_err *e)
{
    return digest_init(mctx, pkey, true, e);
}

int tr_digest_verify_init(EVP_MD_CTX *mctx, EVP_PKEY *pkey, tr_err *e)
{
    return digest_init(mctx, pkey, false, e);
}

int tr_verify_message_der(EVP_PKEY *pkey, const uint8_t *msg, size_t msg_len,
                          const uint8_t *sig, size_t sig_len, tr_err *e)
{
    if ((!msg && msg_len) || !sig)
        return tr_fail(e, TR_E_INTERNAL, "no message or signature buffer");
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    if (!m)
        return tr_ossl_fail(e, "verify");
    int rc = -1;
    if (tr_digest_verify_init(m, pkey, e) == 0) {
        static const uint8_t empty[1];
        if (EVP_DigestVerify(m, sig, sig_len, msg ? msg : empty, msg_len) == 1) {
            rc = 1;
        } else {
            ERR_clear_error();
            tr_fail(e, TR_E_CRYPTO, "%s signature does not verify",
                    tr_alg_name(tr_pkey_alg(pkey)));
            rc = 0;
        }
    }
    EVP_MD_CTX_free(m);
    return rc;
}

int tr_sign_message_der(EVP_PKEY *pkey, const uint8_t *msg, size_t msg_len,
                        uint8_t **sig, size_t *sig_len, tr_err *e)
{
    *sig = NULL;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    if (!m)
        return tr_ossl_fail(e, "sign");
    int rc = -1;
    size_t n = 0;
    if (tr_digest_sign_init(m, pkey, e))
        goto out;
    if (EVP_DigestSign(m, NULL, &n, msg, msg_len) != 1 ||
        !(*sig = OPENSSL_malloc(n ? n : 1)) ||
        EVP_DigestSign(m, *sig, &n, msg, msg_len) != 1) {
        OPENSSL_free(*sig);
        *sig = NULL;
        tr_ossl_fail(e, "sign");
        goto out;
    }
    *sig_len = n;
    rc = 0;
out:
    EVP_MD_CTX_free(m);
    return rc;
}

/* ---------------------------------------------------------------- expiry */

static int asn1_time_to_time_t(const ASN1_TIME *t, time_t *out, const char *which,
                               tr_err *e)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1) {
        ERR_clear_error();
        return tr_fail(e, TR_E_CRYPTO, "certificate %s is not a valid time", which);
    }
    *out = timegm(&tm);
    return 0;
}

/* Cut a UTF-8 string at cap-1 bytes without splitting a character. */
static void copy_utf8(char *dst, size_t cap, const char *src, size_t n)
{
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void tr_name_line(const X509_NAME *name, char *out, size_t cap)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL;
    out[0] = '\0';
    if (!b)
        return;
    /* one line, UTF-8 kept as UTF-8 (organisation names are Chinese) */
    unsigned long flags = (XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB) |
                          ASN1_STRFLGS_UTF8_CONVERT;
    if (name && X509_NAME_print_ex(b, name, 0, flags) >= 0) {
        long n = BIO_get_mem_data(b, &data);
        if (n > 0)
            copy_utf8(out, cap, data, (size_t)n);
    }
    BIO_free(b);
    ERR_clear_error();
}

static void serial_hex(X509 *x, char *out, size_t cap)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    tr_strlcpy(out, hex ? hex : "", cap);
    OPENSSL_free(hex);
    BN_free(bn);
    ERR_clear_error();
}

static void key_id_hex(X509 *x, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    out[0] = '\0';
    if (X509_pubkey_digest(x, EVP_sha256(), md, &n) == 1 && n == 32)
        tr_hex_encode(md, n, out, 65, 0);
    ERR_clear_error();
}

static tr_cert_class classify(time_t not_before, double days_left, time_t now,
                              int window_days)
{
    if (now < not_before)
        return TR_CERT_NOT_YET_VALID;
    if (days_left < 0)
        return TR_CERT_EXPIRED;
    if (days_left <= (double)window_days)
        return TR_CERT_RENEWAL_DUE;
    return TR_CERT_VALID;
}

int tr_cert_inspect(const uint8_t *der, size_t len, time_t now, int window_days,
                    tr_cert_info *out, tr_err *e)
{
    memset(out, 0, sizeof *out);
    if (window_days < 0)
        return tr_fail(e, TR_E_USAGE, "renewal window of %d days", window_days);
    X509 *x = tr_cert_parse(der, len, e);
    if (!x)
        return -1;
    if (asn1_time_to_time_t(X509_get0_notBefore(x), &out->not_before,
                            "notBefore", e) ||
        asn1_time_to_time_t(X509_get0_notAfter(x), &out->not_after,
                            "notAfter", e)) {
        X509_free(x);
        return -1;
    }
    out->days_left = difftime(out->not_after, now) / 86400.0;
    out->validity_days = difftime(out->not_after, out->not_before) / 86400.0;
    out->cls = classify(out->not_before, out->days_left, now, window_days);
    out->key_alg = tr_pkey_alg(X509_get0_pubkey(x));
    ERR_clear_error(); /* an unloadable key is key_alg 0, not an error */
    tr_name_line(X509_get_subject_name(x), out->subject, sizeof out->subject);
    tr_name_line(X509_get_issuer_name(x), out->issuer, sizeof out->issuer);
    serial_hex(x, out->serial_hex, sizeof out->serial_hex);
    key_id_hex(x, out->key_id);
    X509_free(x);
    return 0;
}

/* ---------------------------------------------------------------- envelopes */

/* EVP_PKEY_encrypt of key to pk: SM2 (SM3, DER C1C3C2) or RSA PKCS#1 v1.5. */
static int pkey_encrypt(tr_alg alg, EVP_PKEY *pk, const uint8_t *key, size_t key_len,
                        uint8_t **out, size_t *out_len, tr_err *e)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    size_t n = 0;
    int rc = -1;
    *out = NULL;
    if (!c || EVP_PKEY_encrypt_init(c) <= 0 ||
        (alg == TR_ALG_RSA2048 && EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) <= 0)) {
        tr_ossl_fail(e, "envelope: encryption set-up");
        goto out;
    }
    if (EVP_PKEY_encrypt(c, NULL, &n, key, key_len) <= 0 || n == 0 ||
        !(*out = OPENSSL_malloc(n)) || EVP_PKEY_encrypt(c, *out, &n, key, key_len) <= 0) {
        OPENSSL_free(*out);
        *out = NULL;
        tr_ossl_fail(e, "envelope: encrypting the key");
        goto out;
    }
    *out_len = n;
    rc = 0;
out:
    EVP_PKEY_CTX_free(c);
    return rc;
}

int tr_envelope_encrypt(tr_alg alg, const uint8_t *cert_der, size_t cert_len,
                        const uint8_t *key, size_t key_len, uint8_t **out,
                        size_t *out_len, tr_err *e)
{
    *out = NULL;
    if (alg != TR_ALG_SM2 && alg != TR_ALG_RSA2048)
        return tr_fail(e, TR_E_USAGE, "%s keys do not encrypt: an envelope needs an sm2 or "
                       "rsa certificate", alg_known(alg) ? tr_alg_name(alg) : "unknown");
    if (!key || key_len == 0 || key_len > TR_ENVELOPE_KEY_MAX)
        return tr_fail(e, TR_E_USAGE, "a session key of %zu bytes: expected 1 to %d", key_len,
                       TR_ENVELOPE_KEY_MAX);
    X509 *x = tr_cert_parse(cert_der, cert_len, e);
    if (!x)
        return -1;
    int rc = -1;
    EVP_PKEY *pk = cert_key_for(x, alg, e);
    if (pk && alg == TR_ALG_RSA2048 && key_len + 11 > (size_t)EVP_PKEY_get_size(pk))
        tr_fail(e, TR_E_USAGE, "a %zu-byte key does not fit a %d-byte RSA PKCS#1 v1.5 block "
                "(at most %d bytes)", key_len, EVP_PKEY_get_size(pk), EVP_PKEY_get_size(pk) - 11);
    else if (pk)
        rc = pkey_encrypt(alg, pk, key, key_len, out, out_len, e);
    X509_free(x);
    return rc;
}

int tr_sm4_cbc(bool encrypt, const uint8_t *key, const uint8_t *iv,
               const uint8_t *in, size_t in_len, uint8_t *out, size_t cap,
               size_t *out_len, tr_err *e)
{
    if (!key || !iv || (!in && in_len))
        return tr_fail(e, TR_E_INTERNAL, "SM4: no key, IV or data");
    if (in_len > INT_MAX - TR_SM4_BLOCK || cap < in_len + TR_SM4_BLOCK)
        return tr_fail(e, TR_E_INTERNAL, "SM4: %zu bytes of data, room for %zu", in_len, cap);
    if (!encrypt && (in_len == 0 || in_len % TR_SM4_BLOCK))
        return tr_fail(e, TR_E_USAGE, "SM4-CBC ciphertext of %zu bytes: expected a non-zero "
                       "multiple of %d", in_len, TR_SM4_BLOCK);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n1 = 0, n2 = 0, rc = -1;
    static const uint8_t none[1];
    if (!c || EVP_CipherInit_ex(c, EVP_sm4_cbc(), NULL, key, iv, encrypt ? 1 : 0) != 1 ||
        EVP_CipherUpdate(c, out, &n1, in ? in : none, (int)in_len) != 1) {
        tr_ossl_fail(e, "SM4-CBC");
    } else if (EVP_CipherFinal_ex(c, out + n1, &n2) != 1) {
        /* encrypting cannot fail here; decrypting: the padding is wrong */
        ERR_clear_error();
        memset(out, 0, (size_t)n1);
        rc = encrypt ? tr_fail(e, TR_E_CRYPTO, "SM4-CBC: final block") : 1;
    } else {
        *out_len = (size_t)n1 + (size_t)n2;
        rc = 0;
    }
    EVP_CIPHER_CTX_free(c);
    return rc;
}
