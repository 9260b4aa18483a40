/* check_seal — seal.c: the fixture seals of both versions, seals built with
 * one thing wrong at a time, altered bytes, truncated and garbage input.
 *
 * Needs TR_PKI (a `mkpki fixture-set` directory; make test-unit sets it).
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "../../fixtures/pki/pki.h"
#include "../../fixtures/pki/png.h"
#include "crypto.h"
#include "seal.h"
#include "trust.h"

static const char *pki_dir;
static time_t fixture_now;

static const tr_alg ALGS[3] = {TR_ALG_SM2, TR_ALG_ECDSA_P256, TR_ALG_RSA2048};

typedef struct {
    uint8_t *p;
    size_t n;
} blob;

static blob load(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", pki_dir, name);
    blob b = {NULL, 0};
    tr_err e;
    if (pki_read_file(path, &b.p, &b.n, 1u << 22, &e))
        ck_abort_msg("%s", e.msg);
    return b;
}

static blob load_fmt(const char *fmt, const char *a)
{
    char name[128];
    snprintf(name, sizeof name, fmt, a);
    return load(name);
}

static int inspect(blob seal, blob tok, tr_seal_info *si)
{
    tr_err e;
    tr_err_clear(&e);
    int rc = tr_seal_inspect(seal.p, seal.n, tok.p, tok.n, fixture_now, si, &e);
    if (rc != 0)
        ck_assert_msg(e.msg[0] != '\0', "a failed inspect must say why");
    return rc;
}

/* ------------------------------------------------------------ building */

typedef struct {
    tr_seal_spec spec;
    const uint8_t *certs[2];
    size_t lens[2];
    blob tok, png;
    EVP_PKEY *maker;
    blob maker_cert;
} builder;

/* A spec like mkpki's: the sm2-valid token, the PNG stamp, 40x40 mm. */
static void builder_init(builder *b, int version)
{
    memset(b, 0, sizeof *b);
    tr_err e;
    char path[512];
    snprintf(path, sizeof path, "%s/sealmaker.key.pem", pki_dir);
    b->maker = pki_read_key_pem(path, &e);
    ck_assert_msg(b->maker != NULL, "%s", e.msg);
    b->maker_cert = load("sealmaker.crt.der");
    b->tok = load("sm2-valid.crt.der");
    ck_assert_int_eq(pki_png_stamp(96, &b->png.p, &b->png.n, &e), 0);
    b->certs[0] = b->tok.p;
    b->lens[0] = b->tok.n;
    tr_seal_spec s = {
        .version = version, .vid = "tokenrig", .seal_id = "TRSEAL-TEST",
        .seal_type = 1, .name = "测试单位有限公司", .certs = b->certs,
        .cert_lens = b->lens, .cert_count = 1, .pic_type = "PNG",
        .pic = b->png.p, .pic_len = b->png.n, .pic_width_mm = 40,
        .pic_height_mm = 40,
    };
    pki_seal_dates(365, fixture_now, &s.create_date, &s.valid_start, &s.valid_end);
    b->spec = s;
}

static blob builder_build(builder *b)
{
    blob out = {NULL, 0};
    tr_err e;
    ck_assert_msg(tr_seal_build(&b->spec, b->maker, b->maker_cert.p, b->maker_cert.n,
                                &out.p, &out.n, &e) == 0, "%s", e.msg);
    return out;
}

static void builder_free(builder *b)
{
    EVP_PKEY_free(b->maker);
    free(b->maker_cert.p);
    free(b->tok.p);
    free(b->png.p);
}

static uint8_t *find(blob hay, const void *needle, size_t n)
{
    uint8_t *p = memmem(hay.p, hay.n, needle, n);
    ck_assert_ptr_nonnull(p);
    return p;
}

static const int VERSIONS[2] = {4, 1};

/* ------------------------------------------------------------ fixtures */

START_TEST(test_fixture_seals)
{
    tr_alg alg = ALGS[_i / 2];
    int version = VERSIONS[_i % 2];
    char name[64];
    snprintf(name, sizeof name, "seal-v%d-%s.der", version, tr_alg_name(alg));
    blob seal = load(name), tok = load_fmt("%s-valid.crt.der", tr_alg_name(alg));
    tr_seal_info si;
    ck_assert_int_eq(inspect(seal, tok, &si), 0);
    ck_assert_msg(si.problem[0] == '\0', "%s: %s", name, si.problem);
    ck_assert_int_eq(si.version, version);
    ck_assert_str_eq(si.header_id, "ES");
    ck_assert_str_eq(si.seal_name, pki_fixture_org(alg));
    ck_assert_int_eq(si.sig_ok, 1);
    ck_assert(si.valid_now);
    ck_assert(si.pic_ok);
    ck_assert_str_eq(si.pic_type, "PNG");
    ck_assert_uint_eq(si.pic_width, 96);
    ck_assert_uint_eq(si.pic_height, 96);
    ck_assert_uint_gt(si.pic_len, 100);
    ck_assert_uint_eq(si.cert_count, 1);
    ck_assert(si.token_cert_listed);
    ck_assert_str_eq(si.sign_alg_oid, "1.2.156.10197.1.501");
    ck_assert_ptr_nonnull(strstr(si.seal_id, "TRSEAL-TR"));
    ck_assert_int_lt(si.valid_start, fixture_now);
    ck_assert_int_gt(si.valid_end, fixture_now);
    /* another token's certificate is not the bound one */
    blob other = load("sm2-expired.crt.der");
    ck_assert_int_eq(inspect(seal, other, &si), 0);
    ck_assert(!si.token_cert_listed);
    ck_assert_int_eq(si.sig_ok, 1);
    ck_assert_ptr_nonnull(strstr(si.problem, "not in the seal's certificate list"));
    free(other.p);
    free(seal.p);
    free(tok.p);
}
END_TEST

/* ------------------------------------------------------------ trust */

static tr_trust *anchor(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", pki_dir, name);
    tr_trust *t = NULL;
    tr_err e;
    ck_assert_msg(tr_trust_load(path, &t, &e) == 0, "%s: %s", path, e.msg);
    return t;
}

/* Whether the maker of the seal chains to t. */
static tr_chain_result maker_chain(blob seal, const tr_trust *t)
{
    tr_err e;
    X509 *maker = tr_seal_maker_cert(seal.p, seal.n, &e);
    ck_assert_msg(maker != NULL, "%s", e.msg);
    tr_chain_result r;
    ck_assert_msg(tr_trust_check(t, maker, &r, &e) == 0, "%s", e.msg);
    X509_free(maker);
    return r;
}

/* The fixture seals' maker chains to the seal-maker root, not to the token
 * CA; the rogue maker's seals verify (a valid signature) but chain only to
 * the rogue root, and the message says a look-alike made them. */
START_TEST(test_maker_trust)
{
    tr_alg alg = ALGS[_i / 2];
    int version = VERSIONS[_i % 2];
    char name[64];
    tr_trust *root = anchor("sealroot.crt.der"), *ca = anchor("ca.crt.der"),
             *rogue_root = anchor("rogue/sealroot.crt.der");
    snprintf(name, sizeof name, "seal-v%d-%s.der", version, tr_alg_name(alg));
    blob seal = load(name), tok = load_fmt("%s-valid.crt.der", tr_alg_name(alg));
    tr_chain_result r = maker_chain(seal, root);
    ck_assert_msg(r.trusted, "%s: %s", name, r.problem);
    ck_assert_ptr_nonnull(strstr(r.subject, "CN = tokenrig test seal maker"));
    ck_assert_ptr_nonnull(strstr(r.issuer, "CN = tokenrig test seal-maker root"));
    ck_assert(!maker_chain(seal, ca).trusted);
    ck_assert(!maker_chain(seal, rogue_root).trusted);
    tr_seal_info si;
    ck_assert_int_eq(inspect(seal, tok, &si), 0);
    ck_assert_ptr_nonnull(strstr(si.maker, "CN = tokenrig test seal maker"));
    free(seal.p);
    snprintf(name, sizeof name, "seal-v%d-%s-rogue.der", version, tr_alg_name(alg));
    seal = load(name);
    ck_assert_int_eq(inspect(seal, tok, &si), 0);
    ck_assert_msg(si.problem[0] == '\0' && si.sig_ok == 1 && si.token_cert_listed,
                  "%s: a rogue seal is otherwise perfect: %s", name, si.problem);
    r = maker_chain(seal, root);
    ck_assert_msg(!r.trusted, "%s trusted", name);
    ck_assert_msg(strstr(r.problem, "look-alike") != NULL, "%s", r.problem);
    ck_assert(maker_chain(seal, rogue_root).trusted);
    free(seal.p);
    free(tok.p);
    tr_trust_free(root);
    tr_trust_free(ca);
    tr_trust_free(rogue_root);
}
END_TEST

/* A token holder signing a seal with the token's own key: the signature
 * verifies and the certificate chains to the token CA, but not to the
 * seal-maker root — why the two anchors are kept apart. */
START_TEST(test_holder_made_seal_untrusted)
{
    builder b;
    builder_init(&b, VERSIONS[_i]);
    EVP_PKEY_free(b.maker);
    free(b.maker_cert.p);
    char path[512];
    tr_err e;
    snprintf(path, sizeof path, "%s/sm2-valid.key.pem", pki_dir);
    b.maker = pki_read_key_pem(path, &e);
    ck_assert_msg(b.maker != NULL, "%s", e.msg);
    b.maker_cert = load("sm2-valid.crt.der");
    blob seal = builder_build(&b);
    tr_seal_info si;
    ck_assert_int_eq(inspect(seal, b.tok, &si), 0);
    ck_assert_int_eq(si.sig_ok, 1);
    tr_trust *root = anchor("sealroot.crt.der"), *ca = anchor("ca.crt.der");
    ck_assert(!maker_chain(seal, root).trusted);
    ck_assert(maker_chain(seal, ca).trusted);
    tr_trust_free(root);
    tr_trust_free(ca);
    free(seal.p);
    builder_free(&b);
}
END_TEST

/* The maker certificate of something that is no seal, or of a seal whose
 * maker certificate is not one, is an error with the reason. */
START_TEST(test_maker_cert_errors)
{
    tr_err e;
    uint8_t junk[3] = {0x30, 0x01, 0x00};
    ck_assert_ptr_null(tr_seal_maker_cert(junk, sizeof junk, &e));
    ck_assert_ptr_nonnull(strstr(e.msg, "not a seal"));
    ck_assert_ptr_null(tr_seal_maker_cert(NULL, 0, &e));
    builder b;
    builder_init(&b, 4);
    blob seal = builder_build(&b);
    /* the maker certificate's outer SEQUENCE tag, inside the seal */
    uint8_t *m = find(seal, b.maker_cert.p, b.maker_cert.n);
    m[0] = 0x31;
    ck_assert_ptr_null(tr_seal_maker_cert(seal.p, seal.n, &e));
    ck_assert_msg(strstr(e.msg, "seal maker certificate") != NULL, "%s", e.msg);
    free(seal.p);
    builder_free(&b);
}
END_TEST

/* The signed bytes, found independently of seal.c with OpenSSL's generic
 * SEQUENCE OF ANY: v4 signs element 0; v1 signs SEQUENCE { element 0,
 * signInfo[0], signInfo[1] }. */
START_TEST(test_signed_bytes_independent)
{
    builder b;
    builder_init(&b, VERSIONS[_i]);
    blob seal = builder_build(&b);
    const unsigned char *p = seal.p;
    ASN1_SEQUENCE_ANY *top = d2i_ASN1_SEQUENCE_ANY(NULL, &p, (long)seal.n);
    ck_assert_ptr_nonnull(top);
    ASN1_SEQUENCE_ANY *tbs_seq = sk_ASN1_TYPE_new_null();
    ASN1_SEQUENCE_ANY *sign_info = NULL;
    const ASN1_BIT_STRING *sig;
    sk_ASN1_TYPE_push(tbs_seq, sk_ASN1_TYPE_value(top, 0));
    if (VERSIONS[_i] == 4) {
        ck_assert_int_eq(sk_ASN1_TYPE_num(top), 4);
        sig = sk_ASN1_TYPE_value(top, 3)->value.bit_string;
    } else {
        ck_assert_int_eq(sk_ASN1_TYPE_num(top), 2);
        const ASN1_STRING *si = sk_ASN1_TYPE_value(top, 1)->value.sequence;
        const unsigned char *q = ASN1_STRING_get0_data(si);
        sign_info = d2i_ASN1_SEQUENCE_ANY(NULL, &q, ASN1_STRING_length(si));
        ck_assert_ptr_nonnull(sign_info);
        sk_ASN1_TYPE_push(tbs_seq, sk_ASN1_TYPE_value(sign_info, 0));
        sk_ASN1_TYPE_push(tbs_seq, sk_ASN1_TYPE_value(sign_info, 1));
        sig = sk_ASN1_TYPE_value(sign_info, 2)->value.bit_string;
    }
    unsigned char *tbs = NULL;
    int tbs_len;
    if (VERSIONS[_i] == 4)
        tbs_len = i2d_ASN1_TYPE(sk_ASN1_TYPE_value(top, 0), &tbs);
    else
        tbs_len = i2d_ASN1_SEQUENCE_ANY(tbs_seq, &tbs);
    ck_assert_int_gt(tbs_len, 0);
    X509 *mc = tr_cert_parse(b.maker_cert.p, b.maker_cert.n, NULL);
    tr_err e;
    ck_assert_int_eq(tr_verify_message_der(X509_get0_pubkey(mc), tbs, (size_t)tbs_len,
                                           sig->data, (size_t)sig->length, &e), 1);
    X509_free(mc);
    OPENSSL_free(tbs);
    sk_ASN1_TYPE_free(tbs_seq); /* borrowed elements */
    sk_ASN1_TYPE_pop_free(sign_info, ASN1_TYPE_free);
    sk_ASN1_TYPE_pop_free(top, ASN1_TYPE_free);
    free(seal.p);
    builder_free(&b);
}
END_TEST

/* ------------------------------------------------------------ alterations */

START_TEST(test_flipped_bytes_fail_signature)
{
    builder b;
    builder_init(&b, VERSIONS[_i]);
    blob seal = builder_build(&b);
    tr_seal_info si;
    ck_assert_int_eq(inspect(seal, b.tok, &si), 0);
    ck_assert_int_eq(si.sig_ok, 1);
    ck_assert_str_eq(si.seal_name, "测试单位有限公司");

    /* the name: a UTF-8 continuation byte stays one, the text changes */
    uint8_t *name = find(seal, "测试", 6);
    name[2] ^= 0x01;
    ck_assert_int_eq(inspect(seal, b.tok, &si), 0);
    ck_assert_int_eq(si.sig_ok, 0);
    ck_assert_ptr_nonnull(strstr(si.problem, "signature does not verify"));
    ck_assert_str_ne(si.seal_name, "测试单位有限公司");
    name[2] ^= 0x01;

    /* the picture: a pixel byte (the IDAT CRC breaks too) */
    uint8_t *idat = find(seal, "IDAT", 4);
    idat[200] ^= 0x10;
    ck_assert_int_eq(inspect(seal, b.tok, &si), 0);
    ck_assert_int_eq(si.sig_ok, 0);
    ck_assert(!si.pic_ok);
    idat[200] ^= 0x10;

    /* the signature's last byte (the BIT STRING ends both versions) */
    seal.p[seal.n - 1] ^= 0x01;
    ck_assert_int_eq(inspect(seal, b.tok, &si), 0);
    ck_assert_int_eq(si.sig_ok, 0);
    seal.p[seal.n - 1] ^= 0x01;

    /* the validity end date: its seconds digit */
    char when[32];
    struct tm tm;
    gmtime_r(&b.spec.valid_end, &tm);
    strftime(when, sizeof when, VERSIONS[_i] == 4 ? "%Y%m%d%H%M%SZ" : "%y%m%d%H%M%SZ",
             &tm);
    uint8_t *t = find(seal, when, strlen(when));
    uint8_t *sec = t + strlen(when) - 2;
    *sec = *sec == '9' ? '0' : (uint8_t)(*sec + 1);
    ck_assert_int_eq(inspect(seal, b.tok, &si), 0);
    ck_assert_int_eq(si.sig_ok, 0);
    ck_assert_int_ne(si.valid_end, b.spec.valid_end);

    /* restored from scratch: intact again */
    free(seal.p);
    seal = builder_build(&b);
    ck_assert_int_eq(inspect(seal, b.tok, &si), 0);
    ck_assert_int_eq(si.sig_ok, 1);
    free(seal.p);
    builder_free(&b);
}
END_TEST

START_TEST(test_header_id_checked)
{
    builder b;
    builder_init(&b, VERSIONS[_i]);
    blob seal = builder_build(&b);
    uint8_t *es = find(seal, "\x16\x02" "ES", 4);
    es[3] = 'X';
    tr_seal_info si;
    ck_assert_int_eq(inspect(seal, b.tok, &si), 0);
    ck_assert_str_eq(si.header_id, "EX");
    ck_assert_ptr_nonnull(strstr(si.problem, "header id"));
    ck_assert_int_eq(si.sig_ok, 0);
    free(seal.p);
    builder_free(&b);
}
END_TEST

START_TEST(test_not_bound)
{
    builder b;
    builder_init(&b, VERSIONS[_i]);
    blob other = load("ecdsa-valid.crt.der");
    b.certs[0] = other.p;
    b.lens[0] = other.n;
    blob seal = builder_build(&b);
    tr_seal_info si;
    ck_assert_int_eq(inspect(seal, b.tok, &si), 0);
    ck_assert_int_eq(si.sig_ok, 1);
    ck_assert_uint_eq(si.cert_count, 1);
    ck_assert(!si.token_cert_listed);
    ck_assert_ptr_nonnull(strstr(si.problem, "certificate list"));
    /* with both listed it is bound; with none, not */
    b.certs[1] = b.tok.p;
    b.lens[1] = b.tok.n;
    b.spec.cert_count = 2;
    free(seal.p);
    seal = builder_build(&b);
    ck_assert_int_eq(inspect(seal, b.tok, &si), 0);
    ck_assert(si.token_cert_listed);
    ck_assert_uint_eq(si.cert_count, 2);
    ck_assert_str_eq(si.problem, "");
    b.spec.cert_count = 0;
    free(seal.p);
    seal = builder_build(&b);
    ck_assert_int_eq(inspect(seal, b.tok, &si), 0);
    ck_assert(!si.token_cert_listed);
    ck_assert_uint_eq(si.cert_count, 0);
    /* no token certificate given: nothing to bind, no problem */
    blob none = {NULL, 0};
    ck_assert_int_eq(inspect(seal, none, &si), 0);
    ck_assert(!si.token_cert_listed);
    ck_assert_str_eq(si.problem, "");
    /* a token file padded with FF still matches */
    blob padded = {malloc(b.tok.n + 16), b.tok.n + 16};
    memcpy(padded.p, b.tok.p, b.tok.n);
    memset(padded.p + b.tok.n, 0xFF, 16);
    b.spec.cert_count = 1;
    b.certs[0] = b.tok.p;
    b.lens[0] = b.tok.n;
    free(seal.p);
    seal = builder_build(&b);
    ck_assert_int_eq(inspect(seal, padded, &si), 0);
    ck_assert(si.token_cert_listed);
    free(padded.p);
    free(seal.p);
    free(other.p);
    builder_free(&b);
}
END_TEST

START_TEST(test_digest_cert_list)
{
    const char *algs[2] = {"SM3", "SHA256"};
    builder b;
    builder_init(&b, 4);
    b.spec.cert_digest_alg = algs[_i];
    blob seal = builder_build(&b);
    tr_seal_info si;
    ck_assert_int_eq(inspect(seal, b.tok, &si), 0);
    ck_assert_msg(si.problem[0] == '\0', "%s", si.problem);
    ck_assert(si.token_cert_listed);
    ck_assert_int_eq(si.sig_ok, 1);
    blob other = load("sm2-expired.crt.der");
    ck_assert_int_eq(inspect(seal, other, &si), 0);
    ck_assert(!si.token_cert_listed);
    free(other.p);
    free(seal.p);
    /* v1 has no digest lists */
    b.spec.version = 1;
    tr_err e;
    ck_assert_int_eq(tr_seal_build(&b.spec, b.maker, b.maker_cert.p, b.maker_cert.n,
                                   &seal.p, &seal.n, &e), -1);
    builder_free(&b);
}
END_TEST

START_TEST(test_validity_window)
{
    builder b;
    builder_init(&b, VERSIONS[_i]);
    tr_seal_info si;
    /* ended yesterday */
    pki_seal_dates(-1, fixture_now, &b.spec.create_date, &b.spec.valid_start,
                   &b.spec.valid_end);
    blob seal = builder_build(&b);
    ck_assert_int_eq(inspect(seal, b.tok, &si), 0);
    ck_assert(!si.valid_now);
    ck_assert_int_eq(si.sig_ok, 1);
    ck_assert_ptr_nonnull(strstr(si.problem, "ended"));
    ck_assert_int_eq(si.valid_end, fixture_now - 86400);
    free(seal.p);
    /* starts tomorrow */
    b.spec.valid_start = fixture_now + 86400;
    b.spec.valid_end = fixture_now + 400 * 86400;
    seal = builder_build(&b);
    ck_assert_int_eq(inspect(seal, b.tok, &si), 0);
    ck_assert(!si.valid_now);
    ck_assert_ptr_nonnull(strstr(si.problem, "not valid yet"));
    free(seal.p);
    /* the last second is still inside */
    b.spec.valid_start = fixture_now - 86400;
    b.spec.valid_end = fixture_now;
    seal = builder_build(&b);
    ck_assert_int_eq(inspect(seal, b.tok, &si), 0);
    ck_assert(si.valid_now);
    free(seal.p);
    builder_free(&b);
}
END_TEST

START_TEST(test_picture_checks)
{
    builder b;
    builder_init(&b, VERSIONS[_i]);
    tr_seal_info si;
    blob seal;
    /* JPEG bytes declared PNG */
    static const uint8_t jpeg[] = {0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0};
    b.spec.pic = jpeg;
    b.spec.pic_len = sizeof jpeg;
    seal = builder_build(&b);
    ck_assert_int_eq(inspect(seal, b.tok, &si), 0);
    ck_assert(!si.pic_ok);
    ck_assert_uint_eq(si.pic_width, 0);
    ck_assert_int_eq(si.sig_ok, 1);
    ck_assert_ptr_nonnull(strstr(si.problem, "PNG signature"));
    free(seal.p);
    /* the same bytes declared JPG are fine */
    b.spec.pic_type = "JPG";
    seal = builder_build(&b);
    ck_assert_int_eq(inspect(seal, b.tok, &si), 0);
    ck_assert(si.pic_ok);
    ck_assert_str_eq(si.pic_type, "JPG");
    free(seal.p);
    /* a PNG cut before IEND */
    b.spec.pic_type = "PNG";
    b.spec.pic = b.png.p;
    b.spec.pic_len = b.png.n - 12;
    seal = builder_build(&b);
    ck_assert_int_eq(inspect(seal, b.tok, &si), 0);
    ck_assert(!si.pic_ok);
    free(seal.p);
    /* a 96x96 PNG declared 40x20 mm */
    b.spec.pic_len = b.png.n;
    b.spec.pic_height_mm = 20;
    seal = builder_build(&b);
    ck_assert_int_eq(inspect(seal, b.tok, &si), 0);
    ck_assert(!si.pic_ok);
    ck_assert_ptr_nonnull(strstr(si.problem, "aspect"));
    ck_assert_uint_eq(si.pic_width, 96);
    free(seal.p);
    /* an empty picture */
    b.spec.pic_height_mm = 40;
    b.spec.pic_len = 0;
    seal = builder_build(&b);
    ck_assert_int_eq(inspect(seal, b.tok, &si), 0);
    ck_assert(!si.pic_ok);
    ck_assert_uint_eq(si.pic_len, 0);
    free(seal.p);
    builder_free(&b);
}
END_TEST

/* ------------------------------------------------------------ garbage */

START_TEST(test_truncated_and_garbage)
{
    builder b;
    builder_init(&b, VERSIONS[_i]);
    blob seal = builder_build(&b);
    tr_seal_info si;
    tr_err e;
    for (size_t n = 0; n < seal.n; n++) {
        blob cut = {seal.p, n};
        ck_assert_int_eq(inspect(cut, b.tok, &si), -1);
    }
    ck_assert_int_eq(tr_seal_inspect(NULL, 0, NULL, 0, fixture_now, &si, &e), -1);
    /* padded token file: fine; junk after it: not a seal */
    blob padded = {malloc(seal.n + 8), seal.n + 8};
    memcpy(padded.p, seal.p, seal.n);
    memset(padded.p + seal.n, 0x00, 8);
    ck_assert_int_eq(inspect(padded, b.tok, &si), 0);
    ck_assert_int_eq(si.sig_ok, 1);
    padded.p[seal.n + 3] = 0x30;
    ck_assert_int_eq(inspect(padded, b.tok, &si), -1);
    free(padded.p);
    /* random bytes behind a SEQUENCE header */
    srand(11);
    uint8_t junk[512];
    for (int i = 0; i < 300; i++) {
        for (size_t j = 0; j < sizeof junk; j++)
            junk[j] = (uint8_t)rand();
        junk[0] = 0x30;
        junk[1] = 0x82;
        junk[2] = 0x01;
        junk[3] = 0xFC;
        blob j = {junk, sizeof junk};
        ck_assert_int_eq(inspect(j, b.tok, &si), -1);
    }
    /* single-byte corruptions anywhere: parse or not, never crash, and a
     * seal that still parses never passes clean. The one exception is v4's
     * maker certificate, which GB/T 38540 does not sign: a flip in its own
     * CA signature leaves its key, and so the seal signature, intact. */
    const uint8_t *mc = find(seal, b.maker_cert.p, b.maker_cert.n);
    size_t mc_at = (size_t)(mc - seal.p);
    for (size_t pos = 0; pos < seal.n; pos++) {
        uint8_t old = seal.p[pos];
        seal.p[pos] ^= (uint8_t)(1u << (pos % 8));
        int rc = inspect(seal, b.tok, &si);
        ck_assert(rc == 0 || rc == -1);
        bool in_v4_cert = VERSIONS[_i] == 4 && pos >= mc_at && pos < mc_at + b.maker_cert.n;
        if (rc == 0 && !in_v4_cert)
            ck_assert_msg(si.sig_ok == 0 || si.problem[0] != '\0',
                          "v%d: flip at %zu went unnoticed", VERSIONS[_i], pos);
        seal.p[pos] = old;
    }
    free(seal.p);
    builder_free(&b);
}
END_TEST

START_TEST(test_builder_errors)
{
    builder b;
    builder_init(&b, 4);
    blob out;
    tr_err e;
    b.spec.version = 3;
    ck_assert_int_eq(tr_seal_build(&b.spec, b.maker, b.maker_cert.p, b.maker_cert.n,
                                   &out.p, &out.n, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "version"));
    b.spec.version = 4;
    b.spec.vid = "供应商";
    ck_assert_int_eq(tr_seal_build(&b.spec, b.maker, b.maker_cert.p, b.maker_cert.n,
                                   &out.p, &out.n, &e), -1);
    b.spec.vid = "tokenrig";
    /* the maker key must match the maker certificate */
    blob tok_cert = load("sm2-valid.crt.der");
    ck_assert_int_eq(tr_seal_build(&b.spec, b.maker, tok_cert.p, tok_cert.n, &out.p,
                                   &out.n, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "does not match"));
    free(tok_cert.p);
    /* UTCTime stops at 2049 */
    b.spec.version = 1;
    b.spec.valid_end = 2556144000; /* 2051-01-01 */
    ck_assert_int_eq(tr_seal_build(&b.spec, b.maker, b.maker_cert.p, b.maker_cert.n,
                                   &out.p, &out.n, &e), -1);
    builder_free(&b);
}
END_TEST

START_TEST(test_png_and_checksums)
{
    ck_assert_uint_eq(tr_crc32(0, (const uint8_t *)"123456789", 9), 0xCBF43926u);
    ck_assert_uint_eq(tr_crc32(tr_crc32(0, (const uint8_t *)"1234", 4),
                               (const uint8_t *)"56789", 5), 0xCBF43926u);
    ck_assert_uint_eq(pki_adler32((const uint8_t *)"Wikipedia", 9), 0x11E60398u);
    uint8_t *png;
    size_t n;
    tr_err e;
    ck_assert_int_eq(pki_png_stamp(300, &png, &n, &e), 0);
    ck_assert_mem_eq(png, "\x89PNG\r\n\x1a\n", 8);
    free(png);
    ck_assert_int_eq(pki_png_stamp(8, &png, &n, &e), -1);
}
END_TEST

/* ------------------------------------------------------------ setup */

static Suite *seal_suite(void)
{
    Suite *s = suite_create("seal");
    TCase *t = tcase_create("seal");
    tcase_set_timeout(t, 120);
    tcase_add_loop_test(t, test_fixture_seals, 0, 6);
    tcase_add_loop_test(t, test_maker_trust, 0, 6);
    tcase_add_loop_test(t, test_holder_made_seal_untrusted, 0, 2);
    tcase_add_test(t, test_maker_cert_errors);
    tcase_add_loop_test(t, test_signed_bytes_independent, 0, 2);
    tcase_add_loop_test(t, test_flipped_bytes_fail_signature, 0, 2);
    tcase_add_loop_test(t, test_header_id_checked, 0, 2);
    tcase_add_loop_test(t, test_not_bound, 0, 2);
    tcase_add_loop_test(t, test_digest_cert_list, 0, 2);
    tcase_add_loop_test(t, test_validity_window, 0, 2);
    tcase_add_loop_test(t, test_picture_checks, 0, 2);
    tcase_add_loop_test(t, test_truncated_and_garbage, 0, 2);
    tcase_add_test(t, test_builder_errors);
    tcase_add_test(t, test_png_and_checksums);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    pki_dir = getenv("TR_PKI");
    if (!pki_dir || !*pki_dir) {
        fprintf(stderr, "check_seal: set TR_PKI to a `mkpki fixture-set` directory "
                "(make test-unit does)\n");
        return 1;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/now", pki_dir);
    FILE *f = fopen(path, "r");
    long long v = 0;
    if (!f || fscanf(f, "%lld", &v) != 1 || v <= 0) {
        fprintf(stderr, "check_seal: cannot read %s\n", path);
        if (f)
            fclose(f);
        return 1;
    }
    fclose(f);
    fixture_now = (time_t)v;
    SRunner *r = srunner_create(seal_suite());
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
