/* trust.c — trust anchors and certificate chains (see trust.h).
 *
 * Why X509_verify_cert and not "does the issuer's key verify the signature":
 * it also walks intermediates, checks that every issuer is a CA
 * (basicConstraints, keyUsage keyCertSign) and refuses an issuer found only
 * by name. The anchors are the store's only certificates, so the system's
 * CA bundle never takes part.
 *
 * SM2: OpenSSL 3.0 verifies an SM2-with-SM3 certificate signature with the
 * ID set on the certificate (X509_set0_distinguishing_id), and with the
 * empty ID when none is set — which no CA uses. So the certificate checked
 * is copied and given the GM/T 0009 default ID when it is SM2-signed; the
 * anchors' own self-signatures are not checked (they are trusted as named).
 */
#include "trust.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "crypto.h"
#include "util.h"

struct tr_trust {
    X509_STORE *store;
    STACK_OF(X509) *anchors; /* the same certificates, for the messages */
    char *path;
    char subject[256];
};

/* ------------------------------------------------------------ loading */

static int read_anchor_file(const char *path, uint8_t **data, size_t *len, tr_err *e)
{
    *data = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return tr_fail(e, TR_E_CONFIG, "trust anchor %s: %s", path, strerror(errno));
    uint8_t *buf = malloc(TR_TRUST_FILE_MAX + 1);
    if (!buf) {
        fclose(f);
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    }
    size_t n = fread(buf, 1, TR_TRUST_FILE_MAX + 1, f);
    int err = ferror(f);
    fclose(f);
    if (err || n == 0 || n > TR_TRUST_FILE_MAX) {
        free(buf);
        return tr_fail(e, TR_E_CONFIG, "trust anchor %s: %s", path,
                       err ? "read failed" : n ? "larger than 1 MiB, not a certificate file"
                                             : "empty file");
    }
    *data = buf;
    *len = n;
    return 0;
}

/* One DER certificate, else every certificate of a PEM file. */
static STACK_OF(X509) *parse_anchors(const uint8_t *d, size_t n)
{
    STACK_OF(X509) *sk = sk_X509_new_null();
    if (!sk)
        return NULL;
    tr_err ignored;
    X509 *x = tr_cert_parse(d, n, &ignored);
    if (x) {
        if (!sk_X509_push(sk, x))
            X509_free(x);
        return sk;
    }
    BIO *b = BIO_new_mem_buf(d, (int)n);
    while (b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        if (!sk_X509_push(sk, x)) {
            X509_free(x);
            break;
        }
    }
    BIO_free(b);
    ERR_clear_error(); /* the PEM reader ends on "no start line" */
    return sk;
}

static int fill_store(tr_trust *t, tr_err *e)
{
    t->store = X509_STORE_new();
    if (!t->store)
        return tr_ossl_fail(e, "trust store");
    for (int i = 0; i < sk_X509_num(t->anchors); i++)
        if (!X509_STORE_add_cert(t->store, sk_X509_value(t->anchors, i)))
            return tr_ossl_fail(e, "trust store");
    /* time: cert-expiry's finding; PARTIAL_CHAIN: an intermediate named as
     * the anchor ends the chain (a CA's seal-maker sub-CA, a pinned maker) */
    if (!X509_STORE_set_flags(t->store, X509_V_FLAG_NO_CHECK_TIME | X509_V_FLAG_PARTIAL_CHAIN))
        return tr_ossl_fail(e, "trust store flags");
    tr_name_line(X509_get_subject_name(sk_X509_value(t->anchors, 0)), t->subject,
                 sizeof t->subject);
    return 0;
}

int tr_trust_load(const char *path, tr_trust **out, tr_err *e)
{
    *out = NULL;
    if (!path || !*path)
        return tr_fail(e, TR_E_CONFIG, "trust anchor: no file named");
    uint8_t *d = NULL;
    size_t n = 0;
    if (read_anchor_file(path, &d, &n, e) < 0)
        return -1;
    tr_trust *t = calloc(1, sizeof *t);
    int rc = -1;
    if (!t || !(t->path = strdup(path)) || !(t->anchors = parse_anchors(d, n))) {
        tr_fail(e, TR_E_NOMEM, "out of memory");
        goto out;
    }
    if (sk_X509_num(t->anchors) == 0) {
        tr_fail(e, TR_E_CONFIG, "trust anchor %s: holds no certificate (expected DER, or PEM "
                "with BEGIN CERTIFICATE)", path);
        goto out;
    }
    if (fill_store(t, e) < 0)
        goto out;
    *out = t;
    t = NULL;
    rc = 0;
out:
    free(d);
    tr_trust_free(t);
    return rc;
}

void tr_trust_free(tr_trust *t)
{
    if (!t)
        return;
    X509_STORE_free(t->store);
    sk_X509_pop_free(t->anchors, X509_free);
    free(t->path);
    free(t);
}

const char *tr_trust_path(const tr_trust *t)
{
    return t ? t->path : "";
}

const char *tr_trust_subject(const tr_trust *t)
{
    return t ? t->subject : "";
}

/* ------------------------------------------------------------ checking */

/* A copy of x that OpenSSL verifies the way its issuer signed it. */
static X509 *verifiable_copy(X509 *x, tr_err *e)
{
    X509 *c = X509_dup(x);
    if (!c) {
        tr_ossl_fail(e, "certificate copy");
        return NULL;
    }
    if (X509_get_signature_nid(c) != NID_SM2_with_SM3)
        return c;
    ASN1_OCTET_STRING *id = ASN1_OCTET_STRING_new();
    if (!id || !ASN1_OCTET_STRING_set(id, (const unsigned char *)TR_SM2_DEFAULT_ID,
                                      (int)strlen(TR_SM2_DEFAULT_ID))) {
        ASN1_OCTET_STRING_free(id);
        X509_free(c);
        tr_ossl_fail(e, "SM2 ID");
        return NULL;
    }
    X509_set0_distinguishing_id(c, id);
    return c;
}

/* An anchor carrying the issuer's name but not its key: the certificate
 * was made by a look-alike of the trusted CA, worth saying so. */
static bool lookalike_issuer(const tr_trust *t, X509 *x)
{
    for (int i = 0; i < sk_X509_num(t->anchors); i++)
        if (!X509_NAME_cmp(X509_get_subject_name(sk_X509_value(t->anchors, i)),
                           X509_get_issuer_name(x)))
            return true;
    return false;
}

static void explain(const tr_trust *t, X509 *x, int err, int depth, tr_chain_result *out)
{
    bool no_issuer = err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
                     err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
                     err == X509_V_ERR_CERT_SIGNATURE_FAILURE;
    snprintf(out->problem, sizeof out->problem, "%s (depth %d)%s",
             X509_verify_cert_error_string(err), depth,
             no_issuer && depth == 0 && lookalike_issuer(t, x)
                 ? ": an anchor has the issuer's name but not its key, a look-alike issued it"
                 : "");
}

int tr_trust_check(const tr_trust *t, X509 *x, tr_chain_result *out, tr_err *e)
{
    memset(out, 0, sizeof *out);
    if (!t || !x)
        return tr_fail(e, TR_E_INTERNAL, "tr_trust_check: anchor and certificate required");
    tr_name_line(X509_get_subject_name(x), out->subject, sizeof out->subject);
    tr_name_line(X509_get_issuer_name(x), out->issuer, sizeof out->issuer);
    X509 *c = verifiable_copy(x, e);
    if (!c)
        return -1;
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int rc = -1;
    if (!ctx || !X509_STORE_CTX_init(ctx, t->store, c, NULL)) {
        tr_ossl_fail(e, "chain verification");
        goto out;
    }
    int ok = X509_verify_cert(ctx);
    if (ok < 0) {
        tr_ossl_fail(e, "chain verification");
        goto out;
    }
    out->trusted = ok == 1;
    if (!out->trusted)
        explain(t, c, X509_STORE_CTX_get_error(ctx), X509_STORE_CTX_get_error_depth(ctx), out);
    rc = 0;
out:
    X509_STORE_CTX_free(ctx);
    X509_free(c);
    ERR_clear_error();
    return rc;
}

int tr_trust_check_der(const tr_trust *t, const uint8_t *der, size_t len,
                       tr_chain_result *out, tr_err *e)
{
    tr_err why;
    X509 *x = tr_cert_parse(der, len, &why);
    if (!x) {
        memset(out, 0, sizeof *out);
        snprintf(out->problem, sizeof out->problem, "the certificate does not parse: %.300s",
                 why.msg);
        return 0;
    }
    int rc = tr_trust_check(t, x, out, e);
    X509_free(x);
    return rc;
}
