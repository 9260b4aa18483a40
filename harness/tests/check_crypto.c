/* check_crypto — crypto.c against signatures made by the openssl command
 * line (harness/tests/vectors.sh) and the mkpki fixture set ($TR_PKI).
 *
 * Run from the repository root (make test-unit does) with TR_PKI set.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "../../fixtures/pki/pki.h"
#include "crypto.h"
#include "trust.h"

static const char *pki_dir;
static char vec_dir[256];
static time_t fixture_now;

static const tr_alg ALGS[3] = {TR_ALG_SM2, TR_ALG_ECDSA_P256, TR_ALG_RSA2048};

/* ------------------------------------------------------------ helpers */

typedef struct {
    uint8_t *p;
    size_t n;
} blob;

static blob load(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    blob b = {NULL, 0};
    tr_err e;
    if (pki_read_file(path, &b.p, &b.n, 1u << 20, &e))
        ck_abort_msg("%s", e.msg);
    return b;
}

static blob load_cert(tr_alg alg, const char *cls)
{
    char name[64];
    snprintf(name, sizeof name, "%s-%s.crt.der", tr_alg_name(alg), cls);
    return load(pki_dir, name);
}

static blob load_sig(tr_alg alg, const char *kind)
{
    char name[64];
    snprintf(name, sizeof name, "%s.%s.sig", tr_alg_name(alg), kind);
    return load(vec_dir, name);
}

/* DER ECDSA-Sig-Value -> the token's r||s (or RSA as is). */
static blob token_form(tr_alg alg, blob der)
{
    if (alg == TR_ALG_RSA2048)
        return der;
    const unsigned char *p = der.p;
    ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)der.n);
    ck_assert_ptr_nonnull(s);
    blob rs = {malloc(64), 64};
    ck_assert_int_eq(BN_bn2binpad(ECDSA_SIG_get0_r(s), rs.p, 32), 32);
    ck_assert_int_eq(BN_bn2binpad(ECDSA_SIG_get0_s(s), rs.p + 32, 32), 32);
    ECDSA_SIG_free(s);
    free(der.p);
    return rs;
}

static EVP_PKEY *cert_pub(blob cert)
{
    tr_err e;
    X509 *x = tr_cert_parse(cert.p, cert.n, &e);
    ck_assert_msg(x != NULL, "%s", e.msg);
    EVP_PKEY *pk = X509_get_pubkey(x);
    X509_free(x);
    ck_assert_ptr_nonnull(pk);
    return pk;
}

/* Both verify paths on one (message, signature) pair; they must agree. */
static int verify_both(tr_alg alg, blob cert, const uint8_t *msg, size_t msg_len,
                       blob tok_sig, const uint8_t *der, size_t der_len)
{
    tr_err e;
    tr_err_clear(&e);
    int a = tr_verify_token_signature(alg, cert.p, cert.n, msg, msg_len, tok_sig.p,
                                      tok_sig.n, &e);
    EVP_PKEY *pk = cert_pub(cert);
    int b = tr_verify_message_der(pk, msg, msg_len, der, der_len, &e);
    EVP_PKEY_free(pk);
    ck_assert_msg(a == b, "%s: token path %d, message path %d", tr_alg_name(alg), a, b);
    return a;
}

/* r||s -> DER, for the message path. */
static blob der_form(tr_alg alg, blob tok)
{
    if (alg == TR_ALG_RSA2048) {
        blob c = {malloc(tok.n), tok.n};
        memcpy(c.p, tok.p, tok.n);
        return c;
    }
    ECDSA_SIG *s = ECDSA_SIG_new();
    ECDSA_SIG_set0(s, BN_bin2bn(tok.p, 32, NULL), BN_bin2bn(tok.p + 32, 32, NULL));
    unsigned char *d = NULL;
    int n = i2d_ECDSA_SIG(s, &d);
    ECDSA_SIG_free(s);
    ck_assert_int_gt(n, 0);
    blob b = {malloc((size_t)n), (size_t)n};
    memcpy(b.p, d, (size_t)n);
    OPENSSL_free(d);
    return b;
}

/* ------------------------------------------------------------ names */

START_TEST(test_alg_names)
{
    tr_alg a;
    tr_err e;
    const struct {
        const char *s;
        tr_alg want;
    } ok[] = {{"sm2", TR_ALG_SM2}, {"SM2", TR_ALG_SM2}, {"01", TR_ALG_SM2},
              {"rsa", TR_ALG_RSA2048}, {"rsa2048", TR_ALG_RSA2048},
              {"02", TR_ALG_RSA2048}, {"ecdsa", TR_ALG_ECDSA_P256},
              {"ecdsa-p256", TR_ALG_ECDSA_P256}, {"03", TR_ALG_ECDSA_P256}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ck_assert_int_eq(tr_alg_parse(ok[i].s, &a, &e), 0);
        ck_assert_int_eq(a, ok[i].want);
    }
    ck_assert_int_eq(tr_alg_parse("dsa", &a, &e), -1);
    ck_assert_int_eq(e.code, TR_E_USAGE);
    ck_assert_int_eq(tr_alg_parse("04", &a, &e), -1);
    ck_assert_int_eq(tr_alg_parse("", &a, &e), -1);
    ck_assert_str_eq(tr_alg_name(TR_ALG_SM2), "sm2");
    ck_assert_str_eq(tr_alg_name(TR_ALG_RSA2048), "rsa");
    ck_assert_str_eq(tr_alg_name(TR_ALG_ECDSA_P256), "ecdsa");
    ck_assert_str_eq(tr_cert_class_name(TR_CERT_RENEWAL_DUE), "renewal-due");
    ck_assert_str_eq(tr_cert_class_name(TR_CERT_NOT_YET_VALID), "not-yet-valid");
    ck_assert_int_eq(tr_sig_alg_from_oid("1.2.156.10197.1.501"), TR_ALG_SM2);
    ck_assert_int_eq(tr_sig_alg_from_oid("1.2.840.10045.4.3.2"), TR_ALG_ECDSA_P256);
    ck_assert_int_eq(tr_sig_alg_from_oid("1.2.840.113549.1.1.5"), 0);
}
END_TEST

/* ------------------------------------------------------------ sign input */

START_TEST(test_sign_input_matches_cli)
{
    const char *want[3] = {"sm2.e.bin", "ecdsa.digest.bin", "rsa.digestinfo.bin"};
    blob msg = load(vec_dir, "msg.bin");
    for (int i = 0; i < 3; i++) {
        blob cert = load_cert(ALGS[i], "valid"), w = load(vec_dir, want[i]);
        uint8_t out[64];
        size_t n = 0;
        tr_err e;
        ck_assert_msg(tr_sign_input(ALGS[i], cert.p, cert.n, msg.p, msg.n, out,
                                    sizeof out, &n, &e) == 0, "%s", e.msg);
        ck_assert_uint_eq(n, w.n);
        ck_assert_mem_eq(out, w.p, n);
        free(cert.p);
        free(w.p);
    }
    blob di = load(vec_dir, "rsa.digestinfo.bin");
    ck_assert_uint_eq(di.n, 51);
    free(di.p);
    free(msg.p);
}
END_TEST

START_TEST(test_sm2_za_matches_cli)
{
    blob cert = load_cert(TR_ALG_SM2, "valid"), want = load(vec_dir, "sm2.za.bin");
    EVP_PKEY *pk = cert_pub(cert);
    uint8_t za[32];
    tr_err e;
    ck_assert_int_eq(tr_sm2_za(pk, (const uint8_t *)TR_SM2_DEFAULT_ID, 16, za, &e), 0);
    ck_assert_mem_eq(za, want.p, 32);
    /* a different ID gives a different Z_A */
    ck_assert_int_eq(tr_sm2_za(pk, (const uint8_t *)"", 0, za, &e), 0);
    ck_assert_int_ne(memcmp(za, want.p, 32), 0);
    EVP_PKEY_free(pk);
    free(cert.p);
    free(want.p);
}
END_TEST

START_TEST(test_sign_input_errors)
{
    blob sm2 = load_cert(TR_ALG_SM2, "valid"), msg = load(vec_dir, "msg.bin");
    uint8_t out[64];
    size_t n;
    tr_err e;
    /* SM2 needs the certificate; ECDSA input with an SM2 certificate is refused */
    ck_assert_int_eq(tr_sign_input(TR_ALG_SM2, NULL, 0, msg.p, msg.n, out, 64, &n, &e), -1);
    ck_assert_int_eq(tr_sign_input(TR_ALG_ECDSA_P256, sm2.p, sm2.n, msg.p, msg.n, out,
                                   64, &n, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "not ecdsa"));
    /* ECDSA without a certificate is just SHA-256; a small buffer is an error */
    ck_assert_int_eq(tr_sign_input(TR_ALG_ECDSA_P256, NULL, 0, msg.p, msg.n, out, 64,
                                   &n, &e), 0);
    ck_assert_uint_eq(n, 32);
    ck_assert_int_eq(tr_sign_input(TR_ALG_RSA2048, NULL, 0, msg.p, msg.n, out, 50,
                                   &n, &e), -1);
    ck_assert_int_eq(tr_sign_input((tr_alg)9, NULL, 0, msg.p, msg.n, out, 64, &n, &e), -1);
    free(sm2.p);
    free(msg.p);
}
END_TEST

/* ------------------------------------------------------------ CLI vectors */

START_TEST(test_cli_signatures_verify)
{
    tr_alg alg = ALGS[_i];
    blob cert = load_cert(alg, "valid"), msg = load(vec_dir, "msg.bin");
    const char *kinds[2] = {"dgst", "pkeyutl"};
    for (int k = 0; k < 2; k++) {
        blob der = load_sig(alg, kinds[k]);
        blob der_copy = {malloc(der.n), der.n};
        memcpy(der_copy.p, der.p, der.n);
        blob tok = token_form(alg, der);
        ck_assert_msg(verify_both(alg, cert, msg.p, msg.n, tok, der_copy.p,
                                  der_copy.n) == 1, "%s %s", tr_alg_name(alg), kinds[k]);
        free(tok.p);
        free(der_copy.p);
    }
    /* the empty message */
    blob der = load_sig(alg, "empty");
    blob der_copy = {malloc(der.n), der.n};
    memcpy(der_copy.p, der.p, der.n);
    blob tok = token_form(alg, der);
    ck_assert_int_eq(verify_both(alg, cert, (const uint8_t *)"", 0, tok, der_copy.p,
                                 der_copy.n), 1);
    free(tok.p);
    free(der_copy.p);
    free(cert.p);
    free(msg.p);
}
END_TEST

START_TEST(test_altered_rejected)
{
    tr_alg alg = ALGS[_i];
    blob cert = load_cert(alg, "valid"), msg = load(vec_dir, "msg.bin");
    blob tok = token_form(alg, load_sig(alg, "dgst"));
    /* a flipped bit anywhere in the message */
    size_t positions[3] = {0, msg.n / 2, msg.n - 1};
    for (int i = 0; i < 3; i++) {
        for (int bit = 0; bit < 8; bit += 7) {
            msg.p[positions[i]] ^= (uint8_t)(1u << bit);
            blob der = der_form(alg, tok);
            ck_assert_int_eq(verify_both(alg, cert, msg.p, msg.n, tok, der.p, der.n), 0);
            free(der.p);
            msg.p[positions[i]] ^= (uint8_t)(1u << bit);
        }
    }
    /* a flipped bit in r, in s (or in the RSA block), first and last bytes */
    size_t spos[4] = {0, tok.n / 2 - 1, tok.n / 2, tok.n - 1};
    for (int i = 0; i < 4; i++) {
        tok.p[spos[i]] ^= 0x01;
        blob der = der_form(alg, tok);
        ck_assert_int_eq(verify_both(alg, cert, msg.p, msg.n, tok, der.p, der.n), 0);
        free(der.p);
        tok.p[spos[i]] ^= 0x01;
    }
    /* unaltered it still verifies (the flips were the only difference) */
    blob der = der_form(alg, tok);
    ck_assert_int_eq(verify_both(alg, cert, msg.p, msg.n, tok, der.p, der.n), 1);
    free(der.p);
    free(tok.p);
    free(cert.p);
    free(msg.p);
}
END_TEST

START_TEST(test_wrong_key_length_alg)
{
    tr_alg alg = ALGS[_i];
    blob other = load_cert(alg, "expired"), cert = load_cert(alg, "valid");
    blob msg = load(vec_dir, "msg.bin");
    blob tok = token_form(alg, load_sig(alg, "dgst"));
    tr_err e;
    /* another certificate of the same algorithm: a different key */
    ck_assert_int_eq(tr_verify_token_signature(alg, other.p, other.n, msg.p, msg.n,
                                               tok.p, tok.n, &e), 0);
    /* a short signature is invalid, not an error */
    ck_assert_int_eq(tr_verify_token_signature(alg, cert.p, cert.n, msg.p, msg.n,
                                               tok.p, tok.n - 1, &e), 0);
    ck_assert_ptr_nonnull(strstr(e.msg, "bytes"));
    /* an algorithm the certificate's key is not is an error */
    tr_alg wrong = alg == TR_ALG_SM2 ? TR_ALG_RSA2048 : TR_ALG_SM2;
    ck_assert_int_eq(tr_verify_token_signature(wrong, cert.p, cert.n, msg.p, msg.n,
                                               tok.p, tok.n, &e), -1);
    /* a certificate that is not one */
    uint8_t junk[40] = {0x30, 0x26, 0x02, 0x01};
    ck_assert_int_eq(tr_verify_token_signature(alg, junk, sizeof junk, msg.p, msg.n,
                                               tok.p, tok.n, &e), -1);
    ck_assert_int_eq(e.code, TR_E_CRYPTO);
    free(tok.p);
    free(other.p);
    free(cert.p);
    free(msg.p);
}
END_TEST

/* ------------------------------------------------------------ SM2 ID */

/* What OpenSSL does with no ID set: the empty ID. */
static blob sign_default_id(EVP_PKEY *k, const uint8_t *m, size_t n)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    size_t len = 0;
    ck_assert_int_eq(EVP_DigestSignInit(c, NULL, EVP_sm3(), NULL, k), 1);
    ck_assert_int_eq(EVP_DigestSign(c, NULL, &len, m, n), 1);
    blob b = {malloc(len), len};
    ck_assert_int_eq(EVP_DigestSign(c, b.p, &b.n, m, n), 1);
    EVP_MD_CTX_free(c);
    return b;
}

START_TEST(test_sm2_id_is_used)
{
    char path[512];
    snprintf(path, sizeof path, "%s/sm2-valid.key.pem", pki_dir);
    tr_err e;
    EVP_PKEY *k = pki_read_key_pem(path, &e);
    ck_assert_msg(k != NULL, "%s", e.msg);
    blob cert = load_cert(TR_ALG_SM2, "valid");
    for (int i = 0; i < 20; i++) {
        uint8_t m[37];
        for (size_t j = 0; j < sizeof m; j++)
            m[j] = (uint8_t)(i * 31 + j * 7);
        /* our signer with the ID: both paths accept */
        blob der = {NULL, 0};
        ck_assert_int_eq(tr_sign_message_der(k, m, sizeof m, &der.p, &der.n, &e), 0);
        blob der_copy = {malloc(der.n), der.n};
        memcpy(der_copy.p, der.p, der.n);
        blob tok = token_form(TR_ALG_SM2, der_copy);
        ck_assert_int_eq(verify_both(TR_ALG_SM2, cert, m, sizeof m, tok, der.p, der.n), 1);
        OPENSSL_free(der.p);
        free(tok.p);
        /* OpenSSL's default (empty ID): both paths refuse it */
        blob def = sign_default_id(k, m, sizeof m);
        blob def_copy = {malloc(def.n), def.n};
        memcpy(def_copy.p, def.p, def.n);
        tok = token_form(TR_ALG_SM2, def_copy);
        ck_assert_int_eq(verify_both(TR_ALG_SM2, cert, m, sizeof m, tok, def.p, def.n), 0);
        free(def.p);
        free(tok.p);
    }
    EVP_PKEY_free(k);
    free(cert.p);
}
END_TEST

/* mkpki's CA signs SM2-with-SM3 with the ID: the tbsCertificate signature
 * verifies with it, and fails with OpenSSL's default (empty) ID. */
START_TEST(test_cert_signatures_use_id)
{
    const char *names[3] = {"ca.crt.der", "sm2-valid.crt.der", "rsa-valid.crt.der"};
    blob ca = load(pki_dir, "ca.crt.der");
    EVP_PKEY *ca_pub = cert_pub(ca);
    for (int i = 0; i < 3; i++) {
        blob c = load(pki_dir, names[i]);
        tr_err e;
        X509 *x = tr_cert_parse(c.p, c.n, &e);
        ck_assert_ptr_nonnull(x);
        unsigned char *tbs = NULL;
        int tbs_len = i2d_re_X509_tbs(x, &tbs);
        ck_assert_int_gt(tbs_len, 0);
        const ASN1_BIT_STRING *sig = NULL;
        X509_get0_signature(&sig, NULL, x);
        ck_assert_int_eq(tr_verify_message_der(ca_pub, tbs, (size_t)tbs_len, sig->data,
                                               (size_t)sig->length, &e), 1);
        ck_assert_int_eq(X509_verify(x, ca_pub), 0); /* no ID set: empty ID */
        ASN1_OCTET_STRING *id = ASN1_OCTET_STRING_new();
        ASN1_OCTET_STRING_set(id, (const unsigned char *)TR_SM2_DEFAULT_ID, 16);
        X509_set0_distinguishing_id(x, id);
        ck_assert_int_eq(X509_verify(x, ca_pub), 1);
        OPENSSL_free(tbs);
        X509_free(x);
        free(c.p);
    }
    EVP_PKEY_free(ca_pub);
    free(ca.p);
}
END_TEST

/* ------------------------------------------------------------ chains */

static tr_trust *anchor(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", pki_dir, name);
    tr_trust *t = NULL;
    tr_err e;
    ck_assert_msg(tr_trust_load(path, &t, &e) == 0, "%s: %s", path, e.msg);
    ck_assert_str_eq(tr_trust_path(t), path);
    return t;
}

static tr_chain_result chain(const tr_trust *t, blob cert)
{
    tr_chain_result r;
    tr_err e;
    ck_assert_msg(tr_trust_check_der(t, cert.p, cert.n, &r, &e) == 0, "%s", e.msg);
    ck_assert(r.trusted == (r.problem[0] == '\0'));
    return r;
}

/* Every certificate the CA issued chains to it, as DER or PEM anchor, whatever
 * its dates: expiry is cert-expiry's finding, never a second one here. */
START_TEST(test_chain_to_ca)
{
    static const char *cls[4] = {"valid", "renewal-due", "expired", "not-yet-valid"};
    tr_trust *der = anchor("ca.crt.der"), *pem = anchor("ca.crt.pem");
    ck_assert_ptr_nonnull(strstr(tr_trust_subject(der), "CN = tokenrig test CA"));
    for (int a = 0; a < 3; a++) {
        for (int c = 0; c < 4; c++) {
            blob cert = load_cert(ALGS[a], cls[c]);
            tr_chain_result r = chain(der, cert);
            ck_assert_msg(r.trusted, "%s-%s: %s", tr_alg_name(ALGS[a]), cls[c], r.problem);
            ck_assert_msg(chain(pem, cert).trusted, "%s-%s via PEM", tr_alg_name(ALGS[a]), cls[c]);
            ck_assert_ptr_nonnull(strstr(r.issuer, "CN = tokenrig test CA"));
            ck_assert_ptr_nonnull(strstr(r.subject, pki_fixture_org(ALGS[a])));
            free(cert.p);
        }
    }
    tr_trust_free(der);
    tr_trust_free(pem);
}
END_TEST

/* A certificate of the look-alike CA (same names, other key) is valid but
 * does not chain to the real CA; it does to its own. Nor does a token
 * certificate chain to the seal-maker root: the two anchors are distinct. */
START_TEST(test_chain_other_ca)
{
    tr_trust *ca = anchor("ca.crt.der"), *rogue = anchor("rogue/ca.crt.der"),
             *sealroot = anchor("sealroot.crt.der");
    for (int a = 0; a < 3; a++) {
        blob other = load_cert(ALGS[a], "other-ca"), good = load_cert(ALGS[a], "valid");
        tr_chain_result r = chain(ca, other);
        ck_assert_msg(!r.trusted, "%s-other-ca trusted by the real CA", tr_alg_name(ALGS[a]));
        ck_assert_msg(strstr(r.problem, "look-alike") != NULL, "%s", r.problem);
        ck_assert_ptr_nonnull(strstr(r.issuer, "CN = tokenrig test CA"));
        ck_assert(chain(rogue, other).trusted);
        ck_assert(!chain(rogue, good).trusted);
        ck_assert(!chain(sealroot, good).trusted);
        tr_cert_info ci;
        tr_err e;
        ck_assert_int_eq(tr_cert_inspect(other.p, other.n, fixture_now, 30, &ci, &e), 0);
        ck_assert_int_eq(ci.cls, TR_CERT_VALID);
        free(other.p);
        free(good.p);
    }
    tr_trust_free(ca);
    tr_trust_free(rogue);
    tr_trust_free(sealroot);
}
END_TEST

/* The signature is what is checked (with the SM2 ID): one flipped bit of it
 * and the certificate no longer chains. An anchor file may hold several
 * certificates (PEM); an intermediate named as the anchor ends the chain. */
START_TEST(test_chain_signature_and_bundles)
{
    tr_trust *ca = anchor("ca.crt.der");
    for (int a = 0; a < 3; a++) {
        blob cert = load_cert(ALGS[a], "valid");
        cert.p[cert.n - 5] ^= 0x01; /* inside the signature BIT STRING */
        tr_chain_result r = chain(ca, cert);
        ck_assert_msg(!r.trusted, "%s with a flipped signature bit", tr_alg_name(ALGS[a]));
        ck_assert_msg(strstr(r.problem, "signature") != NULL, "%s", r.problem);
        free(cert.p);
    }
    char path[600];
    snprintf(path, sizeof path, "%s/bundle-XXXXXX", pki_dir);
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    char cmd[2000];
    snprintf(cmd, sizeof cmd, "cat '%s/rogue/ca.crt.pem' '%s/ca.crt.pem' > '%s'", pki_dir, pki_dir, path);
    ck_assert_int_eq(system(cmd), 0);
    tr_trust *both = NULL;
    tr_err e;
    ck_assert_int_eq(tr_trust_load(path, &both, &e), 0);
    blob other = load_cert(TR_ALG_SM2, "other-ca"), good = load_cert(TR_ALG_SM2, "valid");
    ck_assert(chain(both, other).trusted && chain(both, good).trusted);
    tr_trust_free(both);
    unlink(path);
    /* the maker's own certificate as the anchor (pinned): it chains to itself */
    tr_trust *pinned = anchor("sealmaker.crt.der");
    blob maker = load(pki_dir, "sealmaker.crt.der");
    ck_assert(chain(pinned, maker).trusted);
    ck_assert(!chain(pinned, good).trusted);
    tr_trust_free(pinned);
    free(maker.p);
    free(other.p);
    free(good.p);
    tr_trust_free(ca);
}
END_TEST

/* An anchor file that cannot be used is a configuration error naming it;
 * bytes that are no certificate are "not trusted", with the reason. */
START_TEST(test_trust_anchor_errors)
{
    tr_trust *t = (tr_trust *)1;
    tr_err e;
    char path[600];
    snprintf(path, sizeof path, "%s/no-such-root.der", pki_dir);
    ck_assert_int_eq(tr_trust_load(path, &t, &e), -1);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(e.code, TR_E_CONFIG);
    ck_assert_msg(strstr(e.msg, path) && strstr(e.msg, "No such file"), "%s", e.msg);
    ck_assert_int_eq(tr_trust_load("", &t, &e), -1);
    ck_assert_int_eq(e.code, TR_E_CONFIG);
    /* a key is not a certificate; neither is an empty file */
    snprintf(path, sizeof path, "%s/sm2-valid.key.pem", pki_dir);
    ck_assert_int_eq(tr_trust_load(path, &t, &e), -1);
    ck_assert_int_eq(e.code, TR_E_CONFIG);
    ck_assert_msg(strstr(e.msg, path) && strstr(e.msg, "no certificate"), "%s", e.msg);
    snprintf(path, sizeof path, "%s/empty-XXXXXX", pki_dir);
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(tr_trust_load(path, &t, &e), -1);
    ck_assert_msg(e.code == TR_E_CONFIG && strstr(e.msg, "empty"), "%s", e.msg);
    unlink(path);
    tr_trust *ca = anchor("ca.crt.der");
    uint8_t junk[4] = {0x30, 0x02, 0x05, 0x00};
    tr_chain_result r;
    ck_assert_int_eq(tr_trust_check_der(ca, junk, sizeof junk, &r, &e), 0);
    ck_assert(!r.trusted);
    ck_assert_ptr_nonnull(strstr(r.problem, "does not parse"));
    ck_assert_int_eq(tr_trust_check_der(ca, NULL, 0, &r, &e), 0);
    ck_assert(!r.trusted);
    tr_trust_free(ca);
}
END_TEST

/* ------------------------------------------------------------ expiry */

START_TEST(test_fixture_classes)
{
    static const char *cls[4] = {"valid", "renewal-due", "expired", "not-yet-valid"};
    static const tr_cert_class want[4] = {TR_CERT_VALID, TR_CERT_RENEWAL_DUE,
                                          TR_CERT_EXPIRED, TR_CERT_NOT_YET_VALID};
    static const double days_left[4] = {335, 10, -5, 370};
    for (int a = 0; a < 3; a++) {
        for (int c = 0; c < 4; c++) {
            blob cert = load_cert(ALGS[a], cls[c]);
            tr_cert_info ci;
            tr_err e;
            ck_assert_msg(tr_cert_inspect(cert.p, cert.n, fixture_now, 30, &ci, &e) == 0,
                          "%s", e.msg);
            ck_assert_msg(ci.cls == want[c], "%s-%s: got %s", tr_alg_name(ALGS[a]),
                          cls[c], tr_cert_class_name(ci.cls));
            ck_assert_int_eq(ci.key_alg, ALGS[a]);
            ck_assert_double_eq_tol(ci.days_left, days_left[c], 1e-6);
            ck_assert_double_eq_tol(ci.validity_days, 365, 1e-6);
            char serial[17];
            pki_fixture_serial(ALGS[a], (pki_validity)c, serial);
            ck_assert_msg(strstr(ci.subject, serial), "subject %s", ci.subject);
            ck_assert_msg(strstr(ci.subject, pki_fixture_org(ALGS[a])), "subject %s",
                          ci.subject);
            ck_assert_uint_gt(strlen(ci.serial_hex), 0);
            free(cert.p);
        }
    }
}
END_TEST

static tr_cert_class class_at(blob cert, time_t now, int window, double *left)
{
    tr_cert_info ci;
    tr_err e;
    ck_assert_int_eq(tr_cert_inspect(cert.p, cert.n, now, window, &ci, &e), 0);
    if (left)
        *left = ci.days_left;
    return ci.cls;
}

START_TEST(test_renewal_boundary)
{
    blob cert = load_cert(TR_ALG_ECDSA_P256, "valid");
    tr_cert_info ci;
    tr_err e;
    ck_assert_int_eq(tr_cert_inspect(cert.p, cert.n, fixture_now, 30, &ci, &e), 0);
    const time_t na = ci.not_after, nb = ci.not_before, day = 86400;
    double left;
    /* 29.9 days left: due; 30.1: valid; exactly 30: due (closed window) */
    ck_assert_int_eq(class_at(cert, na - (time_t)(29.9 * day), 30, &left),
                     TR_CERT_RENEWAL_DUE);
    ck_assert_double_eq_tol(left, 29.9, 1e-6);
    ck_assert_int_eq(class_at(cert, na - (time_t)(30.1 * day), 30, &left), TR_CERT_VALID);
    ck_assert_double_eq_tol(left, 30.1, 1e-6);
    ck_assert_int_eq(class_at(cert, na - 30 * day, 30, &left), TR_CERT_RENEWAL_DUE);
    ck_assert_int_eq(class_at(cert, na - 30 * day - 1, 30, NULL), TR_CERT_VALID);
    /* notAfter itself is still inside the validity (RFC 5280), a second later not */
    ck_assert_int_eq(class_at(cert, na, 30, &left), TR_CERT_RENEWAL_DUE);
    ck_assert_double_eq_tol(left, 0, 1e-9);
    ck_assert_int_eq(class_at(cert, na + 1, 30, &left), TR_CERT_EXPIRED);
    ck_assert_double_lt(left, 0);
    /* notBefore likewise */
    ck_assert_int_eq(class_at(cert, nb - 1, 30, NULL), TR_CERT_NOT_YET_VALID);
    ck_assert_int_eq(class_at(cert, nb, 30, NULL), TR_CERT_VALID);
    /* another window */
    ck_assert_int_eq(class_at(cert, na - 45 * day, 60, NULL), TR_CERT_RENEWAL_DUE);
    ck_assert_int_eq(class_at(cert, na - 45 * day, 30, NULL), TR_CERT_VALID);
    ck_assert_int_eq(class_at(cert, na - 1, 0, NULL), TR_CERT_VALID);
    ck_assert_int_eq(tr_cert_inspect(cert.p, cert.n, na, -1, &ci, &e), -1);
    free(cert.p);
}
END_TEST

START_TEST(test_cert_garbage)
{
    blob cert = load_cert(TR_ALG_SM2, "valid");
    tr_cert_info ci;
    tr_err e;
    /* every truncation fails cleanly */
    for (size_t n = 0; n < cert.n; n++)
        ck_assert_int_eq(tr_cert_inspect(cert.p, n, fixture_now, 30, &ci, &e), -1);
    /* file padding (00 or FF) is tolerated, anything else after it is not */
    uint8_t *padded = malloc(cert.n + 64);
    memcpy(padded, cert.p, cert.n);
    memset(padded + cert.n, 0xFF, 32);
    memset(padded + cert.n + 32, 0x00, 32);
    ck_assert_int_eq(tr_cert_inspect(padded, cert.n + 64, fixture_now, 30, &ci, &e), 0);
    padded[cert.n + 10] = 0x41;
    ck_assert_int_eq(tr_cert_inspect(padded, cert.n + 64, fixture_now, 30, &ci, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "not padding"));
    /* random bytes */
    srand(7);
    for (int i = 0; i < 200; i++) {
        uint8_t junk[300];
        for (size_t j = 0; j < sizeof junk; j++)
            junk[j] = (uint8_t)rand();
        junk[0] = 0x30;
        ck_assert_int_eq(tr_cert_inspect(junk, sizeof junk, fixture_now, 30, &ci, &e), -1);
    }
    ck_assert_int_eq(tr_cert_inspect(NULL, 0, fixture_now, 30, &ci, &e), -1);
    free(padded);
    free(cert.p);
}
END_TEST

/* ------------------------------------------------------------ envelopes */

static const tr_alg ENC_ALGS[2] = {TR_ALG_SM2, TR_ALG_RSA2048};

static EVP_PKEY *load_key(const char *name)
{
    char path[512];
    tr_err e;
    snprintf(path, sizeof path, "%s/%s", pki_dir, name);
    EVP_PKEY *k = pki_read_key_pem(path, &e);
    ck_assert_msg(k != NULL, "%s", e.msg);
    return k;
}

/* Open a cryptogram with a private key, by EVP directly (not crypto.c). */
static int open_with(EVP_PKEY *k, const uint8_t *ct, size_t n, uint8_t *out, size_t *out_len)
{
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(EVP_PKEY_decrypt_init(c), 1);
    if (EVP_PKEY_is_a(k, "RSA"))
        ck_assert_int_gt(EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING), 0);
    int r = EVP_PKEY_decrypt(c, out, out_len, ct, n);
    EVP_PKEY_CTX_free(c);
    ERR_clear_error();
    return r == 1 ? 0 : -1;
}

/* The openssl command line opens what tr_envelope_encrypt sealed. */
static void cli_opens(const char *key_name, const uint8_t *ct, size_t n, const uint8_t *key, size_t kn)
{
    char in[300], out[300], cmd[1200];
    snprintf(in, sizeof in, "%s/envelope.bin", vec_dir);
    snprintf(out, sizeof out, "%s/envelope.key", vec_dir);
    tr_err e;
    ck_assert_int_eq(pki_write_file(in, ct, n, false, &e), 0);
    snprintf(cmd, sizeof cmd, "openssl pkeyutl -decrypt -inkey '%s/%s' -in '%s' -out '%s' 2>/dev/null",
             pki_dir, key_name, in, out);
    ck_assert_msg(system(cmd) == 0, "%s", cmd);
    blob got = load(vec_dir, "envelope.key");
    ck_assert_uint_eq(got.n, kn);
    ck_assert_mem_eq(got.p, key, kn);
    free(got.p);
}

/* An envelope to <alg>-valid.enc.crt.der opens with the encryption key (EVP
 * and the command line), not with the signing key; two envelopes of one
 * key differ; SM2's is GM/T 0009 DER, RSA's the modulus size. */
START_TEST(test_envelope_round_trip)
{
    tr_alg alg = ENC_ALGS[_i];
    char name[64];
    snprintf(name, sizeof name, "%s-valid.enc.crt.der", tr_alg_name(alg));
    blob cert = load(pki_dir, name);
    snprintf(name, sizeof name, "%s-valid.enc.key.pem", tr_alg_name(alg));
    EVP_PKEY *enc = load_key(name);
    snprintf(name, sizeof name, "%s-valid.key.pem", tr_alg_name(alg));
    EVP_PKEY *sign = load_key(name);
    static const size_t lens[] = {1, 16, 32, 200};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        uint8_t key[200], plain[512];
        for (size_t k = 0; k < lens[i]; k++)
            key[k] = (uint8_t)(k * 37 + i);
        uint8_t *ct = NULL, *ct2 = NULL;
        size_t n = 0, n2 = 0, pn = sizeof plain;
        tr_err e;
        ck_assert_msg(tr_envelope_encrypt(alg, cert.p, cert.n, key, lens[i], &ct, &n, &e) == 0, "%s", e.msg);
        ck_assert_int_eq(tr_envelope_encrypt(alg, cert.p, cert.n, key, lens[i], &ct2, &n2, &e), 0);
        ck_assert(n != n2 || memcmp(ct, ct2, n) != 0); /* randomized */
        if (alg == TR_ALG_RSA2048) {
            ck_assert_uint_eq(n, 256);
        } else {
            const unsigned char *p = ct;
            STACK_OF(ASN1_TYPE) *seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, (long)n);
            ck_assert_ptr_nonnull(seq);
            ck_assert_int_eq(sk_ASN1_TYPE_num(seq), 4);
            ck_assert_int_eq(ASN1_TYPE_get(sk_ASN1_TYPE_value(seq, 0)), V_ASN1_INTEGER);
            ck_assert_int_eq(ASN1_TYPE_get(sk_ASN1_TYPE_value(seq, 1)), V_ASN1_INTEGER);
            ck_assert_int_eq(ASN1_STRING_length(sk_ASN1_TYPE_value(seq, 2)->value.octet_string), 32);
            ck_assert_int_eq(ASN1_STRING_length(sk_ASN1_TYPE_value(seq, 3)->value.octet_string),
                             (int)lens[i]);
            sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
        }
        ck_assert_int_eq(open_with(enc, ct, n, plain, &pn), 0);
        ck_assert_uint_eq(pn, lens[i]);
        ck_assert_mem_eq(plain, key, lens[i]);
        /* the signing key does not open it (SM2: the hash check fails; RSA: the
         * padding, but for a chance of about 2^-17 a wrong block passes, then
         * as another plaintext) */
        pn = sizeof plain;
        ck_assert(open_with(sign, ct, n, plain, &pn) == -1 || pn != lens[i] || memcmp(plain, key, pn));
        char enc_name[64];
        snprintf(enc_name, sizeof enc_name, "%s-valid.enc.key.pem", tr_alg_name(alg));
        if (lens[i] == 16)
            cli_opens(enc_name, ct, n, key, 16);
        OPENSSL_free(ct);
        OPENSSL_free(ct2);
    }
    EVP_PKEY_free(enc);
    EVP_PKEY_free(sign);
    free(cert.p);
}
END_TEST

START_TEST(test_envelope_errors)
{
    blob sm2 = load(pki_dir, "sm2-valid.enc.crt.der");
    blob rsa = load(pki_dir, "rsa-valid.enc.crt.der");
    blob ec = load_cert(TR_ALG_ECDSA_P256, "valid");
    uint8_t key[300] = {1, 2, 3};
    uint8_t *ct = (uint8_t *)"untouched";
    size_t n = 0;
    tr_err e;
    /* ecdsa does not encrypt; the certificate must hold the named algorithm */
    ck_assert_int_eq(tr_envelope_encrypt(TR_ALG_ECDSA_P256, ec.p, ec.n, key, 16, &ct, &n, &e), -1);
    ck_assert_int_eq(e.code, TR_E_USAGE);
    ck_assert_ptr_null(ct);
    ck_assert_int_eq(tr_envelope_encrypt(TR_ALG_SM2, rsa.p, rsa.n, key, 16, &ct, &n, &e), -1);
    ck_assert_int_eq(e.code, TR_E_CRYPTO);
    ck_assert_int_eq(tr_envelope_encrypt(TR_ALG_RSA2048, sm2.p, sm2.n, key, 16, &ct, &n, &e), -1);
    ck_assert_int_eq(tr_envelope_encrypt(TR_ALG_SM2, ec.p, ec.n, key, 16, &ct, &n, &e), -1);
    /* key lengths: 1..256, RSA-2048 at most 245 */
    ck_assert_int_eq(tr_envelope_encrypt(TR_ALG_SM2, sm2.p, sm2.n, key, 0, &ct, &n, &e), -1);
    ck_assert_int_eq(tr_envelope_encrypt(TR_ALG_SM2, sm2.p, sm2.n, key, 257, &ct, &n, &e), -1);
    ck_assert_int_eq(tr_envelope_encrypt(TR_ALG_SM2, sm2.p, sm2.n, key, 256, &ct, &n, &e), 0);
    OPENSSL_free(ct);
    ck_assert_int_eq(tr_envelope_encrypt(TR_ALG_RSA2048, rsa.p, rsa.n, key, 246, &ct, &n, &e), -1);
    ck_assert_int_eq(e.code, TR_E_USAGE);
    ck_assert_ptr_nonnull(strstr(e.msg, "at most 245"));
    ck_assert_int_eq(tr_envelope_encrypt(TR_ALG_RSA2048, rsa.p, rsa.n, key, 245, &ct, &n, &e), 0);
    OPENSSL_free(ct);
    /* not a certificate */
    ck_assert_int_eq(tr_envelope_encrypt(TR_ALG_SM2, sm2.p, sm2.n / 2, key, 16, &ct, &n, &e), -1);
    ck_assert_int_eq(tr_envelope_encrypt(TR_ALG_SM2, NULL, 0, key, 16, &ct, &n, &e), -1);
    free(sm2.p);
    free(rsa.p);
    free(ec.p);
}
END_TEST

/* SM4: the GB/T 32907 example, CBC with PKCS#7 against the command line,
 * round trips, a wrong key, the errors. */
START_TEST(test_sm4_cbc)
{
    static const uint8_t k[16] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF,
                                  0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10};
    static const uint8_t want[16] = {0x68, 0x1E, 0xDF, 0x34, 0xD2, 0x06, 0x96, 0x5E,
                                     0x86, 0xB3, 0xE9, 0x4F, 0x53, 0x6E, 0x42, 0x46};
    uint8_t iv[16] = {0}, out[2100], back[2100], data[2000];
    size_t n = 0, bn = 0;
    tr_err e;
    /* with a zero IV the first CBC block is the ECB example; then a padding block */
    ck_assert_int_eq(tr_sm4_cbc(true, k, iv, k, 16, out, sizeof out, &n, &e), 0);
    ck_assert_uint_eq(n, 32);
    ck_assert_mem_eq(out, want, 16);
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7 + 1);
    for (size_t i = 0; i < 16; i++)
        iv[i] = (uint8_t)(0xA0 + i);
    static const size_t lens[] = {0, 1, 15, 16, 17, 2000};
    for (size_t t = 0; t < sizeof lens / sizeof lens[0]; t++) {
        ck_assert_int_eq(tr_sm4_cbc(true, k, iv, data, lens[t], out, sizeof out, &n, &e), 0);
        ck_assert_uint_eq(n, (lens[t] / 16 + 1) * 16);
        ck_assert_int_eq(tr_sm4_cbc(false, k, iv, out, n, back, sizeof back, &bn, &e), 0);
        ck_assert_uint_eq(bn, lens[t]);
        ck_assert_mem_eq(back, data, lens[t]);
    }
    /* the command line decrypts what we encrypted (2000 bytes, PKCS#7) */
    char in[300], plain[300], cmd[1200];
    snprintf(in, sizeof in, "%s/sm4.bin", vec_dir);
    snprintf(plain, sizeof plain, "%s/sm4.plain", vec_dir);
    ck_assert_int_eq(pki_write_file(in, out, n, false, &e), 0);
    snprintf(cmd, sizeof cmd, "openssl enc -d -sm4-cbc -K 0123456789ABCDEFFEDCBA9876543210 "
             "-iv A0A1A2A3A4A5A6A7A8A9AAABACADAEAF -in '%s' -out '%s'", in, plain);
    ck_assert_msg(system(cmd) == 0, "%s", cmd);
    blob got = load(vec_dir, "sm4.plain");
    ck_assert_uint_eq(got.n, 2000);
    ck_assert_mem_eq(got.p, data, 2000);
    free(got.p);
    /* a wrong key: this one's last block does not unpad */
    uint8_t wrong[16];
    memcpy(wrong, k, 16);
    wrong[0] ^= 0x01;
    ck_assert_int_eq(tr_sm4_cbc(false, wrong, iv, out, n, back, sizeof back, &bn, &e), 1);
    /* errors: ciphertext not whole blocks, no room */
    ck_assert_int_eq(tr_sm4_cbc(false, k, iv, out, 15, back, sizeof back, &bn, &e), -1);
    ck_assert_int_eq(e.code, TR_E_USAGE);
    ck_assert_int_eq(tr_sm4_cbc(false, k, iv, out, 0, back, sizeof back, &bn, &e), -1);
    ck_assert_int_eq(tr_sm4_cbc(true, k, iv, data, 32, out, 40, &n, &e), -1);
}
END_TEST

/* key_id: which key a certificate holds (SHA-256 of its public key bits). */
START_TEST(test_cert_key_id)
{
    for (int a = 0; a < 2; a++) {
        char name[64];
        snprintf(name, sizeof name, "%s-valid.enc.crt.der", tr_alg_name(ENC_ALGS[a]));
        blob enc = load(pki_dir, name), sign = load_cert(ENC_ALGS[a], "valid");
        tr_cert_info ci_e, ci_s;
        tr_err e;
        ck_assert_int_eq(tr_cert_inspect(enc.p, enc.n, fixture_now, 30, &ci_e, &e), 0);
        ck_assert_int_eq(tr_cert_inspect(sign.p, sign.n, fixture_now, 30, &ci_s, &e), 0);
        ck_assert_uint_eq(strlen(ci_e.key_id), 64);
        ck_assert_str_ne(ci_e.key_id, ci_s.key_id);
        /* the same as SHA-256 over the BIT STRING's bytes, computed here */
        X509 *x = tr_cert_parse(enc.p, enc.n, &e);
        const ASN1_BIT_STRING *bits = X509_get0_pubkey_bitstr(x);
        unsigned char md[32];
        unsigned int mn = 0;
        ck_assert_int_eq(EVP_Digest(ASN1_STRING_get0_data(bits), (size_t)ASN1_STRING_length(bits), md, &mn,
                                    EVP_sha256(), NULL), 1);
        char hex[65];
        for (int i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02X", md[i]);
        ck_assert_str_eq(ci_e.key_id, hex);
        /* a pair: the signing certificate's subject and dates */
        ck_assert_str_eq(ci_e.subject, ci_s.subject);
        ck_assert(ci_e.not_before == ci_s.not_before && ci_e.not_after == ci_s.not_after);
        X509_free(x);
        free(enc.p);
        free(sign.p);
    }
}
END_TEST

/* ------------------------------------------------------------ setup */

static int run_vectors(void)
{
    const char *script = getenv("TR_VECTORS_SH");
    if (!script)
        script = "harness/tests/vectors.sh";
    if (access(script, R_OK) != 0) {
        fprintf(stderr, "check_crypto: %s not found (run from the repository root "
                "or set TR_VECTORS_SH)\n", script);
        return -1;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(vec_dir, sizeof vec_dir, "%s/tr-vectors-XXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(vec_dir)) {
        perror("check_crypto: mkdtemp");
        return -1;
    }
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "sh '%s' '%s' '%s'", script, pki_dir, vec_dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "check_crypto: %s failed\n", cmd);
        return -1;
    }
    return 0;
}

static int read_now(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/now", pki_dir);
    FILE *f = fopen(path, "r");
    long long v = 0;
    int ok = f && fscanf(f, "%lld", &v) == 1 && v > 0;
    if (f)
        fclose(f);
    if (!ok) {
        fprintf(stderr, "check_crypto: cannot read %s\n", path);
        return -1;
    }
    fixture_now = (time_t)v;
    return 0;
}

static Suite *crypto_suite(void)
{
    Suite *s = suite_create("crypto");
    TCase *t = tcase_create("crypto");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, test_alg_names);
    tcase_add_test(t, test_sign_input_matches_cli);
    tcase_add_test(t, test_sm2_za_matches_cli);
    tcase_add_test(t, test_sign_input_errors);
    tcase_add_loop_test(t, test_cli_signatures_verify, 0, 3);
    tcase_add_loop_test(t, test_altered_rejected, 0, 3);
    tcase_add_loop_test(t, test_wrong_key_length_alg, 0, 3);
    tcase_add_test(t, test_sm2_id_is_used);
    tcase_add_test(t, test_cert_signatures_use_id);
    tcase_add_test(t, test_chain_to_ca);
    tcase_add_test(t, test_chain_other_ca);
    tcase_add_test(t, test_chain_signature_and_bundles);
    tcase_add_test(t, test_trust_anchor_errors);
    tcase_add_test(t, test_fixture_classes);
    tcase_add_test(t, test_renewal_boundary);
    tcase_add_test(t, test_cert_garbage);
    tcase_add_loop_test(t, test_envelope_round_trip, 0, 2);
    tcase_add_test(t, test_envelope_errors);
    tcase_add_test(t, test_sm4_cbc);
    tcase_add_test(t, test_cert_key_id);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    pki_dir = getenv("TR_PKI");
    if (!pki_dir || !*pki_dir) {
        fprintf(stderr, "check_crypto: set TR_PKI to a `mkpki fixture-set` directory "
                "(make test-unit does)\n");
        return 1;
    }
    if (read_now() || run_vectors())
        return 1;
    SRunner *r = srunner_create(crypto_suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", vec_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "check_crypto: could not remove %s\n", vec_dir);
    return failed ? 1 : 0;
}
