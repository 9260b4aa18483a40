/* seal.c — GB/T 38540-2020 (v4) and GM/T 0031-2014 (v1) electronic seals.
 *
 * Both versions are OpenSSL ASN.1 templates; nothing here walks DER by hand.
 *
 * What each version signs, and how the exact bytes are found:
 *   v4  signedValue covers DER(SES_SealInfo)           — the first element
 *   v1  signData covers DER(SEQUENCE { sealInfo, cert, signatureAlgorithm })
 * SES_SealInfo is declared with ASN1_SEQUENCE_enc: when d2i parses it,
 * OpenSSL keeps the bytes it was parsed from, and i2d of an unmodified
 * structure writes those saved bytes back verbatim (X509_CINF does the same
 * for tbsCertificate). So the v4 to-be-signed bytes are exactly the bytes the
 * token sent, even if they were not canonical DER, and the v1 to-be-signed
 * SEQUENCE is built by the SES_TBS_V1 template around those same saved bytes
 * plus the cert and OID as parsed. Re-encoding from the parsed fields instead
 * would silently "repair" a BER-encoded seal and verify a signature over
 * bytes nobody signed.
 *
 * certList: v1 is SEQUENCE OF OCTET STRING (DER certificates). v4 is
 * SES_CertList, an untagged CHOICE of SEQUENCE OF Cert (certListType 1) and
 * SEQUENCE OF CertDigestObj (certListType 2) that no tag can tell apart, so
 * the template takes SEQUENCE OF ANY and each element is read by the
 * template certListType names. A digest list binds the token when the
 * token certificate's digest (algorithm named in CertDigestObj.type) is in it.
 */
#include "seal.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/asn1.h>
#include <openssl/asn1t.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "crypto.h"
#include "util.h"

/* A seal is a picture plus a few certificates; 8 MiB is far past any real
 * one and keeps a hostile length from making OpenSSL allocate wildly. */
#define TR_SEAL_MAX_LEN (8u << 20)

DEFINE_STACK_OF(ASN1_OCTET_STRING)

/* ------------------------------------------------------------ templates */

typedef struct {
    ASN1_IA5STRING *id;      /* "ES" */
    ASN1_INTEGER *version;   /* 4 or 1 */
    ASN1_IA5STRING *vid;     /* vendor id */
} SES_HEADER;

ASN1_SEQUENCE(SES_HEADER) = {
    ASN1_SIMPLE(SES_HEADER, id, ASN1_IA5STRING),
    ASN1_SIMPLE(SES_HEADER, version, ASN1_INTEGER),
    ASN1_SIMPLE(SES_HEADER, vid, ASN1_IA5STRING),
} static_ASN1_SEQUENCE_END(SES_HEADER)

/* ExtData ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE,
 *                        extnValue OCTET STRING } */
typedef struct {
    ASN1_OBJECT *id;
    ASN1_BOOLEAN critical;
    ASN1_OCTET_STRING *value;
} SES_EXTDATA;

ASN1_SEQUENCE(SES_EXTDATA) = {
    ASN1_SIMPLE(SES_EXTDATA, id, ASN1_OBJECT),
    ASN1_OPT(SES_EXTDATA, critical, ASN1_FBOOLEAN),
    ASN1_SIMPLE(SES_EXTDATA, value, ASN1_OCTET_STRING),
} static_ASN1_SEQUENCE_END(SES_EXTDATA)

/* SES_ESPictrueInfo (sic, the standard's spelling) */
typedef struct {
    ASN1_IA5STRING *type;    /* "PNG" */
    ASN1_OCTET_STRING *data;
    ASN1_INTEGER *width;     /* mm */
    ASN1_INTEGER *height;    /* mm */
} SES_PICTURE;

ASN1_SEQUENCE(SES_PICTURE) = {
    ASN1_SIMPLE(SES_PICTURE, type, ASN1_IA5STRING),
    ASN1_SIMPLE(SES_PICTURE, data, ASN1_OCTET_STRING),
    ASN1_SIMPLE(SES_PICTURE, width, ASN1_INTEGER),
    ASN1_SIMPLE(SES_PICTURE, height, ASN1_INTEGER),
} static_ASN1_SEQUENCE_END(SES_PICTURE)

/* CertDigestObj ::= SEQUENCE { type PrintableString, value OCTET STRING } */
typedef struct {
    ASN1_PRINTABLESTRING *type;
    ASN1_OCTET_STRING *value;
} SES_CERTDIGEST;

ASN1_SEQUENCE(SES_CERTDIGEST) = {
    ASN1_SIMPLE(SES_CERTDIGEST, type, ASN1_PRINTABLESTRING),
    ASN1_SIMPLE(SES_CERTDIGEST, value, ASN1_OCTET_STRING),
} static_ASN1_SEQUENCE_END(SES_CERTDIGEST)

/* GB/T 38540 v4 SES_ESPropertyInfo */
typedef struct {
    ASN1_INTEGER *type;
    ASN1_UTF8STRING *name;
    ASN1_INTEGER *cert_list_type;        /* 1 certs, 2 digests */
    STACK_OF(ASN1_TYPE) *cert_list;      /* see the top comment */
    ASN1_GENERALIZEDTIME *create_date;
    ASN1_GENERALIZEDTIME *valid_start;
    ASN1_GENERALIZEDTIME *valid_end;
} SES_PROPERTY_V4;

ASN1_SEQUENCE(SES_PROPERTY_V4) = {
    ASN1_SIMPLE(SES_PROPERTY_V4, type, ASN1_INTEGER),
    ASN1_SIMPLE(SES_PROPERTY_V4, name, ASN1_UTF8STRING),
    ASN1_SIMPLE(SES_PROPERTY_V4, cert_list_type, ASN1_INTEGER),
    ASN1_SEQUENCE_OF(SES_PROPERTY_V4, cert_list, ASN1_ANY),
    ASN1_SIMPLE(SES_PROPERTY_V4, create_date, ASN1_GENERALIZEDTIME),
    ASN1_SIMPLE(SES_PROPERTY_V4, valid_start, ASN1_GENERALIZEDTIME),
    ASN1_SIMPLE(SES_PROPERTY_V4, valid_end, ASN1_GENERALIZEDTIME),
} static_ASN1_SEQUENCE_END(SES_PROPERTY_V4)

/* GM/T 0031 v1 SES_ESPropertyInfo */
typedef struct {
    ASN1_INTEGER *type;
    ASN1_UTF8STRING *name;
    STACK_OF(ASN1_OCTET_STRING) *cert_list;
    ASN1_UTCTIME *create_date;
    ASN1_UTCTIME *valid_start;
    ASN1_UTCTIME *valid_end;
} SES_PROPERTY_V1;

ASN1_SEQUENCE(SES_PROPERTY_V1) = {
    ASN1_SIMPLE(SES_PROPERTY_V1, type, ASN1_INTEGER),
    ASN1_SIMPLE(SES_PROPERTY_V1, name, ASN1_UTF8STRING),
    ASN1_SEQUENCE_OF(SES_PROPERTY_V1, cert_list, ASN1_OCTET_STRING),
    ASN1_SIMPLE(SES_PROPERTY_V1, create_date, ASN1_UTCTIME),
    ASN1_SIMPLE(SES_PROPERTY_V1, valid_start, ASN1_UTCTIME),
    ASN1_SIMPLE(SES_PROPERTY_V1, valid_end, ASN1_UTCTIME),
} static_ASN1_SEQUENCE_END(SES_PROPERTY_V1)

/* SES_SealInfo, both versions: _enc keeps the parsed bytes (top comment). */
typedef struct {
    SES_HEADER *header;
    ASN1_IA5STRING *es_id;
    SES_PROPERTY_V4 *property;
    SES_PICTURE *picture;
    STACK_OF(SES_EXTDATA) *ext_datas;
    ASN1_ENCODING enc;
} SES_SEALINFO_V4;

ASN1_SEQUENCE_enc(SES_SEALINFO_V4, enc, 0) = {
    ASN1_SIMPLE(SES_SEALINFO_V4, header, SES_HEADER),
    ASN1_SIMPLE(SES_SEALINFO_V4, es_id, ASN1_IA5STRING),
    ASN1_SIMPLE(SES_SEALINFO_V4, property, SES_PROPERTY_V4),
    ASN1_SIMPLE(SES_SEALINFO_V4, picture, SES_PICTURE),
    ASN1_SEQUENCE_OF_OPT(SES_SEALINFO_V4, ext_datas, SES_EXTDATA),
} static_ASN1_SEQUENCE_END_ref(SES_SEALINFO_V4, SES_SEALINFO_V4)

typedef struct {
    SES_HEADER *header;
    ASN1_IA5STRING *es_id;
    SES_PROPERTY_V1 *property;
    SES_PICTURE *picture;
    STACK_OF(SES_EXTDATA) *ext_datas;
    ASN1_ENCODING enc;
} SES_SEALINFO_V1;

ASN1_SEQUENCE_enc(SES_SEALINFO_V1, enc, 0) = {
    ASN1_SIMPLE(SES_SEALINFO_V1, header, SES_HEADER),
    ASN1_SIMPLE(SES_SEALINFO_V1, es_id, ASN1_IA5STRING),
    ASN1_SIMPLE(SES_SEALINFO_V1, property, SES_PROPERTY_V1),
    ASN1_SIMPLE(SES_SEALINFO_V1, picture, SES_PICTURE),
    ASN1_SEQUENCE_OF_OPT(SES_SEALINFO_V1, ext_datas, SES_EXTDATA),
} static_ASN1_SEQUENCE_END_ref(SES_SEALINFO_V1, SES_SEALINFO_V1)

/* GB/T 38540 v4 SESeal */
typedef struct {
    SES_SEALINFO_V4 *seal_info;
    ASN1_OCTET_STRING *cert;        /* seal maker's certificate */
    ASN1_OBJECT *sign_alg;
    ASN1_BIT_STRING *signed_value;  /* DER signature */
} SES_SEAL_V4;

ASN1_SEQUENCE(SES_SEAL_V4) = {
    ASN1_SIMPLE(SES_SEAL_V4, seal_info, SES_SEALINFO_V4),
    ASN1_SIMPLE(SES_SEAL_V4, cert, ASN1_OCTET_STRING),
    ASN1_SIMPLE(SES_SEAL_V4, sign_alg, ASN1_OBJECT),
    ASN1_SIMPLE(SES_SEAL_V4, signed_value, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(SES_SEAL_V4)

/* GM/T 0031 v1 SES_SignInfo and SESeal */
typedef struct {
    ASN1_OCTET_STRING *cert;
    ASN1_OBJECT *sign_alg;
    ASN1_BIT_STRING *sign_data;
} SES_SIGNINFO_V1;

ASN1_SEQUENCE(SES_SIGNINFO_V1) = {
    ASN1_SIMPLE(SES_SIGNINFO_V1, cert, ASN1_OCTET_STRING),
    ASN1_SIMPLE(SES_SIGNINFO_V1, sign_alg, ASN1_OBJECT),
    ASN1_SIMPLE(SES_SIGNINFO_V1, sign_data, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(SES_SIGNINFO_V1)

typedef struct {
    SES_SEALINFO_V1 *seal_info;
    SES_SIGNINFO_V1 *sign_info;
} SES_SEAL_V1;

ASN1_SEQUENCE(SES_SEAL_V1) = {
    ASN1_SIMPLE(SES_SEAL_V1, seal_info, SES_SEALINFO_V1),
    ASN1_SIMPLE(SES_SEAL_V1, sign_info, SES_SIGNINFO_V1),
} static_ASN1_SEQUENCE_END(SES_SEAL_V1)

/* What a v1 seal maker signs: SEQUENCE { sealInfo, cert, signatureAlgorithm }.
 * Only ever encoded, from pointers borrowed from a seal. */
typedef struct {
    SES_SEALINFO_V1 *seal_info;
    ASN1_OCTET_STRING *cert;
    ASN1_OBJECT *sign_alg;
} SES_TBS_V1;

ASN1_SEQUENCE(SES_TBS_V1) = {
    ASN1_SIMPLE(SES_TBS_V1, seal_info, SES_SEALINFO_V1),
    ASN1_SIMPLE(SES_TBS_V1, cert, ASN1_OCTET_STRING),
    ASN1_SIMPLE(SES_TBS_V1, sign_alg, ASN1_OBJECT),
} static_ASN1_SEQUENCE_END(SES_TBS_V1)

IMPLEMENT_STATIC_ASN1_ALLOC_FUNCTIONS(SES_SEAL_V4)
IMPLEMENT_STATIC_ASN1_ENCODE_FUNCTIONS(SES_SEAL_V4)
IMPLEMENT_STATIC_ASN1_ALLOC_FUNCTIONS(SES_SEAL_V1)
IMPLEMENT_STATIC_ASN1_ENCODE_FUNCTIONS(SES_SEAL_V1)

/* These two are only ever encoded (the v4 and v1 to-be-signed bytes). */
static int i2d_SES_SEALINFO_V4(const SES_SEALINFO_V4 *a, unsigned char **out)
{
    return ASN1_item_i2d((const ASN1_VALUE *)a, out, ASN1_ITEM_rptr(SES_SEALINFO_V4));
}

static int i2d_SES_TBS_V1(const SES_TBS_V1 *a, unsigned char **out)
{
    return ASN1_item_i2d((const ASN1_VALUE *)a, out, ASN1_ITEM_rptr(SES_TBS_V1));
}

/* ------------------------------------------------------------ small helpers */

uint32_t tr_crc32(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}


/* First problem wins: the report shows what to fix first. */
static void note_problem(tr_seal_info *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void note_problem(tr_seal_info *out, const char *fmt, ...)
{
    if (out->problem[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->problem, sizeof out->problem, fmt, ap);
    va_end(ap);
}

/* Printable ASCII copy of an IA5/Printable string: anything else ('\0'
 * inside, control bytes, 8-bit) becomes '?', so reports stay clean. */
static void ascii_copy(char *dst, size_t cap, const ASN1_STRING *s)
{
    size_t n = 0;
    const unsigned char *d = s ? ASN1_STRING_get0_data(s) : NULL;
    int len = s ? ASN1_STRING_length(s) : 0;
    for (int i = 0; d && i < len && n + 1 < cap; i++)
        dst[n++] = (d[i] >= 0x20 && d[i] < 0x7F) ? (char)d[i] : '?';
    dst[n] = '\0';
}

/* Length of the well-formed UTF-8 sequence at p (1..4), 0 when malformed. */
static size_t utf8_seq_len(const unsigned char *p, size_t avail)
{
    size_t need = p[0] < 0x80 ? 1 : (p[0] & 0xE0) == 0xC0 ? 2
                : (p[0] & 0xF0) == 0xE0 ? 3 : (p[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (need == 0 || need > avail || (need == 2 && p[0] < 0xC2))
        return 0;
    for (size_t i = 1; i < need; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return need;
}

/* UTF-8 copy that keeps whole characters, turns control bytes and malformed
 * sequences into '?', and truncates on a character boundary. */
static void utf8_copy(char *dst, size_t cap, const ASN1_STRING *s)
{
    size_t n = 0;
    const unsigned char *d = s ? ASN1_STRING_get0_data(s) : NULL;
    size_t len = s ? (size_t)ASN1_STRING_length(s) : 0;
    for (size_t i = 0; d && i < len;) {
        size_t k = utf8_seq_len(d + i, len - i);
        if (k == 1 && d[i] < 0x20)
            k = 0;
        size_t w = k ? k : 1;
        if (n + w + 1 > cap)
            break;
        if (k)
            memcpy(dst + n, d + i, k);
        else
            dst[n] = '?';
        n += w;
        i += k ? k : 1;
    }
    dst[n] = '\0';
}

static bool int_in_range(const ASN1_INTEGER *a, int64_t lo, int64_t hi, int64_t *v)
{
    int64_t x = 0;
    if (!a || !ASN1_INTEGER_get_int64(&x, a)) {
        ERR_clear_error();
        return false;
    }
    *v = x;
    return x >= lo && x <= hi;
}

static bool all_padding(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0x00 && p[i] != 0xFF)
            return false;
    return true;
}

/* ------------------------------------------------------------ picture */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static const uint8_t PNG_SIG[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};

/* Walk the PNG chunk list: signature, IHDR first (13 bytes, sane size),
 * every chunk inside the data with a right CRC, at least one IDAT, IEND
 * last. The pixels are not decompressed. Returns NULL when fine, else why. */
static const char *png_check(const uint8_t *d, size_t n, unsigned *w, unsigned *h)
{
    if (n < sizeof PNG_SIG || memcmp(d, PNG_SIG, sizeof PNG_SIG) != 0)
        return "picture does not start with the PNG signature";
    size_t pos = sizeof PNG_SIG;
    bool seen_idat = false;
    for (unsigned idx = 0;; idx++) {
        if (n - pos < 12)
            return "PNG ends inside a chunk header (no IEND)";
        uint32_t clen = be32(d + pos);
        const uint8_t *type = d + pos + 4;
        if (clen > n - pos - 12)
            return "PNG chunk length runs past the picture data";
        const uint8_t *data = type + 4;
        if (tr_crc32(0, type, 4 + (size_t)clen) != be32(data + clen))
            return "PNG chunk CRC mismatch";
        if (idx == 0) {
            if (memcmp(type, "IHDR", 4) != 0 || clen != 13)
                return "PNG does not start with a 13-byte IHDR";
            *w = be32(data);
            *h = be32(data + 4);
            if (*w == 0 || *h == 0 || *w > INT32_MAX || *h > INT32_MAX)
                return "PNG IHDR width/height out of range";
        } else if (memcmp(type, "IHDR", 4) == 0) {
            return "PNG has a second IHDR";
        }
        if (memcmp(type, "IDAT", 4) == 0)
            seen_idat = true;
        pos += 12 + (size_t)clen;
        if (memcmp(type, "IEND", 4) == 0)
            break;
    }
    if (!seen_idat)
        return "PNG has no IDAT chunk";
    if (pos != n)
        return "bytes after the PNG IEND chunk";
    return NULL;
}

/* Magic-number check for the other picture types GB/T 38540 allows. */
static const char *other_picture_check(const char *type, const uint8_t *d, size_t n)
{
    if (!strcasecmp(type, "JPG") || !strcasecmp(type, "JPEG"))
        return n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF
                   ? NULL : "picture declared JPEG does not start with FFD8FF";
    if (!strcasecmp(type, "GIF"))
        return n >= 6 && (!memcmp(d, "GIF87a", 6) || !memcmp(d, "GIF89a", 6))
                   ? NULL : "picture declared GIF does not start with GIF87a/GIF89a";
    if (!strcasecmp(type, "BMP"))
        return n >= 2 && !memcmp(d, "BM", 2)
                   ? NULL : "picture declared BMP does not start with BM";
    return "picture type not checked by tokenrig (PNG, JPG, GIF, BMP are)";
}

/* Fills pic_* fields; returns the problem or NULL. */
static const char *check_picture(const SES_PICTURE *pic, tr_seal_info *out)
{
    ascii_copy(out->pic_type, sizeof out->pic_type, pic->type);
    const uint8_t *d = ASN1_STRING_get0_data(pic->data);
    size_t n = (size_t)ASN1_STRING_length(pic->data);
    out->pic_len = n;
    int64_t wmm = 0, hmm = 0;
    if (!int_in_range(pic->width, 1, 10000, &wmm) ||
        !int_in_range(pic->height, 1, 10000, &hmm))
        return "picture width/height (mm) missing or out of 1..10000";
    const char *why;
    if (strcasecmp(out->pic_type, "PNG") != 0)
        return other_picture_check(out->pic_type, d, n);
    unsigned w = 0, h = 0;
    if ((why = png_check(d, n, &w, &h)))
        return why;
    out->pic_width = w;
    out->pic_height = h;
    /* a stamp drawn at another aspect ratio than declared is distorted */
    double px = (double)w / h, mm = (double)wmm / (double)hmm;
    if (px / mm > 1.1 || mm / px > 1.1)
        return "picture aspect ratio differs from the declared width/height";
    return NULL;
}

/* ------------------------------------------------------------ time, certs */

static bool seal_time(const ASN1_STRING *t, time_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!t || ASN1_TIME_to_tm((const ASN1_TIME *)t, &tm) != 1) {
        ERR_clear_error();
        return false;
    }
    *out = timegm(&tm);
    return true;
}

static void check_validity(const ASN1_STRING *start, const ASN1_STRING *end,
                           time_t now, tr_seal_info *out)
{
    if (!seal_time(start, &out->valid_start) || !seal_time(end, &out->valid_end)) {
        note_problem(out, "seal validity dates do not parse");
        return;
    }
    out->valid_now = out->valid_start <= now && now <= out->valid_end;
    if (out->valid_end < out->valid_start)
        note_problem(out, "seal validEnd is before validStart");
    else if (now < out->valid_start)
        note_problem(out, "seal not valid yet");
    else if (now > out->valid_end)
        note_problem(out, "seal validity has ended");
}

/* The token certificate's exact DER (padding stripped), or NULL. */
static uint8_t *token_cert_der(const uint8_t *cert, size_t len, size_t *out_len)
{
    tr_err ignored;
    X509 *x = tr_cert_parse(cert, len, &ignored);
    if (!x)
        return NULL;
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    X509_free(x);
    if (n <= 0) {
        ERR_clear_error();
        return NULL;
    }
    *out_len = (size_t)n;
    return der;
}

static bool same_bytes(const ASN1_STRING *s, const uint8_t *d, size_t n)
{
    return s && (size_t)ASN1_STRING_length(s) == n &&
           memcmp(ASN1_STRING_get0_data(s), d, n) == 0;
}

/* Does a CertDigestObj name the token certificate? */
static bool digest_matches(const SES_CERTDIGEST *cd, const uint8_t *der, size_t n)
{
    char alg[32];
    ascii_copy(alg, sizeof alg, cd->type);
    const EVP_MD *md = EVP_get_digestbyname(alg);
    if (!md && !strcasecmp(alg, "SHA-256"))
        md = EVP_sha256();
    uint8_t h[EVP_MAX_MD_SIZE];
    unsigned int hl = 0;
    if (!md || !EVP_Digest(der, n, h, &hl, md, NULL)) {
        ERR_clear_error();
        return false;
    }
    return same_bytes(cd->value, h, hl);
}

static void check_binding_v4(const SES_PROPERTY_V4 *p, const uint8_t *tok,
                             size_t tok_len, tr_seal_info *out)
{
    int64_t list_type = 0;
    int count = sk_ASN1_TYPE_num(p->cert_list);
    out->cert_count = count > 0 ? (size_t)count : 0;
    if (!int_in_range(p->cert_list_type, 1, 2, &list_type)) {
        note_problem(out, "certListType is neither 1 (certificates) nor 2 (digests)");
        return;
    }
    for (int i = 0; i < count; i++) {
        const ASN1_TYPE *t = sk_ASN1_TYPE_value(p->cert_list, i);
        if (list_type == 1) {
            if (t->type != V_ASN1_OCTET_STRING) {
                note_problem(out, "certList entry %d is not an OCTET STRING", i);
                return;
            }
            if (tok && same_bytes(t->value.octet_string, tok, tok_len))
                out->token_cert_listed = true;
            continue;
        }
        SES_CERTDIGEST *cd =
            t->type == V_ASN1_SEQUENCE
                ? ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(SES_CERTDIGEST), t) : NULL;
        if (!cd) {
            ERR_clear_error();
            note_problem(out, "certList entry %d is not a CertDigestObj", i);
            return;
        }
        if (tok && digest_matches(cd, tok, tok_len))
            out->token_cert_listed = true;
        ASN1_item_free((ASN1_VALUE *)cd, ASN1_ITEM_rptr(SES_CERTDIGEST));
    }
}

static void check_binding_v1(const SES_PROPERTY_V1 *p, const uint8_t *tok,
                             size_t tok_len, tr_seal_info *out)
{
    int count = sk_ASN1_OCTET_STRING_num(p->cert_list);
    out->cert_count = count > 0 ? (size_t)count : 0;
    for (int i = 0; tok && i < count; i++)
        if (same_bytes(sk_ASN1_OCTET_STRING_value(p->cert_list, i), tok, tok_len))
            out->token_cert_listed = true;
}

/* ------------------------------------------------------------ signature */

/* Verify the seal maker's signature over tbs. Stores the OID text; sig_ok is
 * 1 only when the maker certificate parses, its key matches the OID's
 * algorithm and the signature verifies. */
static void check_signature(const ASN1_OCTET_STRING *cert, const ASN1_OBJECT *oid,
                            const ASN1_BIT_STRING *sig, const uint8_t *tbs,
                            size_t tbs_len, tr_seal_info *out)
{
    out->sig_ok = 0;
    if (OBJ_obj2txt(out->sign_alg_oid, sizeof out->sign_alg_oid, oid, 1) <= 0)
        out->sign_alg_oid[0] = '\0';
    tr_alg alg = tr_sig_alg_from_oid(out->sign_alg_oid);
    if (!alg) {
        note_problem(out, "unsupported signature algorithm %s", out->sign_alg_oid);
        return;
    }
    tr_err e;
    X509 *x = tr_cert_parse(ASN1_STRING_get0_data(cert),
                            (size_t)ASN1_STRING_length(cert), &e);
    if (!x) {
        note_problem(out, "seal maker certificate: %.200s", e.msg);
        return;
    }
    tr_name_line(X509_get_subject_name(x), out->maker, sizeof out->maker);
    EVP_PKEY *pk = X509_get0_pubkey(x);
    if (tr_pkey_alg(pk) != alg) {
        note_problem(out, "seal maker key does not match signature algorithm %s",
                     out->sign_alg_oid);
        goto out;
    }
    if (sig->flags & ASN1_STRING_FLAG_BITS_LEFT && (sig->flags & 7)) {
        note_problem(out, "signature BIT STRING has unused bits");
        goto out;
    }
    const uint8_t *s = ASN1_STRING_get0_data(sig);
    size_t slen = (size_t)ASN1_STRING_length(sig);
    unsigned char *der = NULL;
    /* Some makers store SM2/ECDSA as raw r||s: accept it by converting, the
     * signature is no weaker for its encoding. */
    if (alg != TR_ALG_RSA2048 && slen == 64 && s[0] != 0x30) {
        ECDSA_SIG *es = ECDSA_SIG_new();
        BIGNUM *r = BN_bin2bn(s, 32, NULL), *sv = BN_bin2bn(s + 32, 32, NULL);
        int dl = 0;
        if (es && r && sv && ECDSA_SIG_set0(es, r, sv)) {
            r = sv = NULL;
            dl = i2d_ECDSA_SIG(es, &der);
        }
        BN_free(r), BN_free(sv), ECDSA_SIG_free(es);
        if (dl > 0)
            s = der, slen = (size_t)dl;
    }
    int rc = tr_verify_message_der(pk, tbs, tbs_len, s, slen, &e);
    OPENSSL_free(der);
    out->sig_ok = rc == 1;
    if (rc != 1)
        note_problem(out, "seal maker signature does not verify: %.180s", e.msg);
out:
    X509_free(x);
    ERR_clear_error();
}

/* ------------------------------------------------------------ inspect */

static void check_header(const SES_HEADER *h, int version, tr_seal_info *out)
{
    int64_t v = 0;
    ascii_copy(out->header_id, sizeof out->header_id, h->id);
    if (strcmp(out->header_id, "ES") != 0)
        note_problem(out, "header id is \"%s\", not \"ES\"", out->header_id);
    if (!int_in_range(h->version, version, version, &v))
        note_problem(out, "header version %lld in a %s structure", (long long)v,
                     version == 4 ? "GB/T 38540 v4" : "GM/T 0031 v1");
}

static void common_fields(const SES_HEADER *h, const ASN1_IA5STRING *es_id,
                          const ASN1_UTF8STRING *name, int version,
                          tr_seal_info *out)
{
    out->version = version;
    check_header(h, version, out);
    ascii_copy(out->seal_id, sizeof out->seal_id, es_id);
    utf8_copy(out->seal_name, sizeof out->seal_name, name);
}

static void picture_and_validity(const SES_PICTURE *pic, const ASN1_STRING *start,
                                 const ASN1_STRING *end, time_t now,
                                 tr_seal_info *out)
{
    check_validity(start, end, now, out);
    const char *why = check_picture(pic, out);
    out->pic_ok = why == NULL;
    if (why)
        note_problem(out, "%s", why);
}

static void finish_binding(const uint8_t *tok, bool have_token, tr_seal_info *out)
{
    if (have_token && !tok)
        note_problem(out, "token certificate does not parse");
    else if (tok && !out->token_cert_listed)
        note_problem(out, "token certificate is not in the seal's certificate list");
}

static void inspect_v4(SES_SEAL_V4 *s, const uint8_t *tok, size_t tok_len,
                       bool have_token, time_t now, tr_seal_info *out)
{
    SES_SEALINFO_V4 *si = s->seal_info;
    common_fields(si->header, si->es_id, si->property->name, 4, out);
    unsigned char *tbs = NULL;
    int n = i2d_SES_SEALINFO_V4(si, &tbs); /* the saved, as-received bytes */
    if (n > 0)
        check_signature(s->cert, s->sign_alg, s->signed_value, tbs, (size_t)n, out);
    else
        note_problem(out, "cannot re-read SES_SealInfo bytes");
    OPENSSL_free(tbs);
    picture_and_validity(si->picture, si->property->valid_start,
                         si->property->valid_end, now, out);
    check_binding_v4(si->property, tok, tok_len, out);
    finish_binding(tok, have_token, out);
}

static void inspect_v1(SES_SEAL_V1 *s, const uint8_t *tok, size_t tok_len,
                       bool have_token, time_t now, tr_seal_info *out)
{
    SES_SEALINFO_V1 *si = s->seal_info;
    common_fields(si->header, si->es_id, si->property->name, 1, out);
    SES_TBS_V1 tbs_v = {si, s->sign_info->cert, s->sign_info->sign_alg};
    unsigned char *tbs = NULL;
    int n = i2d_SES_TBS_V1(&tbs_v, &tbs);
    if (n > 0)
        check_signature(s->sign_info->cert, s->sign_info->sign_alg,
                        s->sign_info->sign_data, tbs, (size_t)n, out);
    else
        note_problem(out, "cannot encode the v1 to-be-signed SEQUENCE");
    OPENSSL_free(tbs);
    picture_and_validity(si->picture, si->property->valid_start,
                         si->property->valid_end, now, out);
    check_binding_v1(si->property, tok, tok_len, out);
    finish_binding(tok, have_token, out);
}

/* d2i that also requires the structure to end the input (00/FF padding
 * from a token file excepted). Returns the parsed value or NULL. */
static void *parse_whole(const uint8_t *der, size_t len, bool v4, char *why,
                         size_t cap)
{
    const unsigned char *p = der;
    void *v = v4 ? (void *)d2i_SES_SEAL_V4(NULL, &p, (long)len)
                 : (void *)d2i_SES_SEAL_V1(NULL, &p, (long)len);
    if (!v) {
        unsigned long code = ERR_peek_last_error();
        ERR_error_string_n(code, why, cap);
        ERR_clear_error();
        return NULL;
    }
    size_t used = (size_t)(p - der);
    if (used < len && !all_padding(p, len - used)) {
        snprintf(why, cap, "%zu bytes after the %zu-byte structure", len - used, used);
        if (v4)
            SES_SEAL_V4_free(v);
        else
            SES_SEAL_V1_free(v);
        return NULL;
    }
    return v;
}

int tr_seal_inspect(const uint8_t *der, size_t len,
                    const uint8_t *token_cert, size_t token_cert_len,
                    time_t now, tr_seal_info *out, tr_err *e)
{
    memset(out, 0, sizeof *out);
    if (!der || len == 0)
        return tr_fail(e, TR_E_CRYPTO, "no seal bytes");
    if (len > TR_SEAL_MAX_LEN)
        return tr_fail(e, TR_E_CRYPTO, "seal of %zu bytes is larger than %u", len,
                       TR_SEAL_MAX_LEN);
    char why4[256], why1[256];
    SES_SEAL_V4 *s4 = parse_whole(der, len, true, why4, sizeof why4);
    SES_SEAL_V1 *s1 = s4 ? NULL : parse_whole(der, len, false, why1, sizeof why1);
    if (!s4 && !s1)
        return tr_fail(e, TR_E_CRYPTO,
                       "not a seal: not GB/T 38540 v4 (%s), not GM/T 0031 v1 (%s)",
                       why4, why1);
    size_t tok_len = 0;
    uint8_t *tok = token_cert ? token_cert_der(token_cert, token_cert_len, &tok_len)
                              : NULL;
    if (s4)
        inspect_v4(s4, tok, tok_len, token_cert != NULL, now, out);
    else
        inspect_v1(s1, tok, tok_len, token_cert != NULL, now, out);
    OPENSSL_free(tok);
    SES_SEAL_V4_free(s4);
    SES_SEAL_V1_free(s1);
    ERR_clear_error();
    return 0;
}

X509 *tr_seal_maker_cert(const uint8_t *der, size_t len, tr_err *e)
{
    if (!der || len == 0 || len > TR_SEAL_MAX_LEN) {
        tr_fail(e, TR_E_CRYPTO, "no seal bytes, or more than %u", TR_SEAL_MAX_LEN);
        return NULL;
    }
    char why4[256], why1[256];
    SES_SEAL_V4 *s4 = parse_whole(der, len, true, why4, sizeof why4);
    SES_SEAL_V1 *s1 = s4 ? NULL : parse_whole(der, len, false, why1, sizeof why1);
    const ASN1_OCTET_STRING *c = s4 ? s4->cert : s1 ? s1->sign_info->cert : NULL;
    X509 *x = NULL;
    if (!c)
        tr_fail(e, TR_E_CRYPTO, "not a seal: not GB/T 38540 v4 (%s), not GM/T 0031 v1 (%s)",
                why4, why1);
    else if (!(x = tr_cert_parse(ASN1_STRING_get0_data(c), (size_t)ASN1_STRING_length(c), e)))
        tr_err_prefix(e, "seal maker certificate");
    SES_SEAL_V4_free(s4);
    SES_SEAL_V1_free(s1);
    ERR_clear_error();
    return x;
}

/* ------------------------------------------------------------ build */

static bool is_ascii(const char *s)
{
    for (; s && *s; s++)
        if ((unsigned char)*s >= 0x80)
            return false;
    return s != NULL;
}

static int set_str(ASN1_STRING *dst, const char *src, bool ascii, const char *what,
                   tr_err *e)
{
    if (!src || (ascii && !is_ascii(src)))
        return tr_fail(e, TR_E_USAGE, "seal %s missing or not ASCII", what);
    size_t n = strlen(src);
    if (n > INT_MAX || !ASN1_STRING_set(dst, src, (int)n))
        return tr_ossl_fail(e, what);
    return 0;
}

static int set_bytes(ASN1_STRING *dst, const uint8_t *src, size_t n,
                     const char *what, tr_err *e)
{
    if (n > INT_MAX || !ASN1_STRING_set(dst, src, (int)n))
        return tr_ossl_fail(e, what);
    return 0;
}

static int fill_header(SES_HEADER *h, const tr_seal_spec *sp, tr_err *e)
{
    if (set_str(h->id, "ES", true, "header id", e) ||
        set_str(h->vid, sp->vid, true, "Vid", e))
        return -1;
    return ASN1_INTEGER_set_int64(h->version, sp->version) ? 0
                                                           : tr_ossl_fail(e, "version");
}

static int fill_picture(SES_PICTURE *p, const tr_seal_spec *sp, tr_err *e)
{
    if (!sp->pic && sp->pic_len)
        return tr_fail(e, TR_E_USAGE, "seal picture missing");
    if (set_str(p->type, sp->pic_type, true, "picture type", e) ||
        set_bytes(p->data, sp->pic, sp->pic_len, "picture", e))
        return -1;
    if (!ASN1_INTEGER_set_int64(p->width, sp->pic_width_mm) ||
        !ASN1_INTEGER_set_int64(p->height, sp->pic_height_mm))
        return tr_ossl_fail(e, "picture size");
    return 0;
}

/* The three dates, as GeneralizedTime (v4) or UTCTime (v1). */
static int fill_times(ASN1_STRING *t[3], const tr_seal_spec *sp, tr_err *e)
{
    const time_t when[3] = {sp->create_date, sp->valid_start, sp->valid_end};
    for (int i = 0; i < 3; i++) {
        ASN1_STRING *r = sp->version == 4 ? ASN1_GENERALIZEDTIME_set(t[i], when[i])
                                          : ASN1_UTCTIME_set(t[i], when[i]);
        if (!r)
            return tr_ossl_fail(e, sp->version == 4 ? "GeneralizedTime"
                                                 : "UTCTime (years 1950..2049)");
    }
    return 0;
}

static ASN1_OCTET_STRING *octets(const uint8_t *d, size_t n, tr_err *e)
{
    ASN1_OCTET_STRING *o = ASN1_OCTET_STRING_new();
    if (!o || set_bytes(o, d, n, "certificate", e)) {
        ASN1_OCTET_STRING_free(o);
        if (!o)
            tr_ossl_fail(e, "certificate");
        return NULL;
    }
    return o;
}

/* A CertDigestObj { type, digest of the certificate } as an ANY. */
static ASN1_TYPE *cert_digest_entry(const char *alg, const uint8_t *cert, size_t n,
                                    tr_err *e)
{
    const EVP_MD *md = EVP_get_digestbyname(alg);
    uint8_t h[EVP_MAX_MD_SIZE];
    unsigned int hl = 0;
    if (!md || !EVP_Digest(cert, n, h, &hl, md, NULL)) {
        tr_ossl_fail(e, "certificate digest");
        return NULL;
    }
    SES_CERTDIGEST *cd = (SES_CERTDIGEST *)ASN1_item_new(ASN1_ITEM_rptr(SES_CERTDIGEST));
    ASN1_TYPE *t = NULL;
    if (!cd)
        tr_ossl_fail(e, "CertDigestObj");
    else if (set_str(cd->type, alg, true, "digest type", e) == 0 &&
             set_bytes(cd->value, h, hl, "digest", e) == 0 &&
             !ASN1_TYPE_pack_sequence(ASN1_ITEM_rptr(SES_CERTDIGEST), cd, &t))
        tr_ossl_fail(e, "CertDigestObj");
    ASN1_item_free((ASN1_VALUE *)cd, ASN1_ITEM_rptr(SES_CERTDIGEST));
    return t;
}

static ASN1_TYPE *cert_entry(const uint8_t *cert, size_t n, tr_err *e)
{
    ASN1_OCTET_STRING *o = octets(cert, n, e);
    ASN1_TYPE *t = o ? ASN1_TYPE_new() : NULL;
    if (!t) {
        if (o)
            tr_ossl_fail(e, "certList");
        ASN1_OCTET_STRING_free(o);
        return NULL;
    }
    ASN1_TYPE_set(t, V_ASN1_OCTET_STRING, o);
    return t;
}

static int fill_certs_v4(SES_PROPERTY_V4 *p, const tr_seal_spec *sp, tr_err *e)
{
    const char *dalg = sp->cert_digest_alg;
    if (dalg && !is_ascii(dalg))
        return tr_fail(e, TR_E_USAGE, "digest algorithm name not ASCII");
    if (!ASN1_INTEGER_set_int64(p->cert_list_type, dalg ? 2 : 1))
        return tr_ossl_fail(e, "certListType");
    for (size_t i = 0; i < sp->cert_count; i++) {
        ASN1_TYPE *t = dalg ? cert_digest_entry(dalg, sp->certs[i], sp->cert_lens[i], e)
                            : cert_entry(sp->certs[i], sp->cert_lens[i], e);
        if (!t)
            return -1;
        if (!sk_ASN1_TYPE_push(p->cert_list, t)) {
            ASN1_TYPE_free(t);
            return tr_ossl_fail(e, "certList");
        }
    }
    return 0;
}

static int fill_certs_v1(SES_PROPERTY_V1 *p, const tr_seal_spec *sp, tr_err *e)
{
    if (sp->cert_digest_alg)
        return tr_fail(e, TR_E_USAGE, "GM/T 0031 v1 seals list certificates, not digests");
    for (size_t i = 0; i < sp->cert_count; i++) {
        ASN1_OCTET_STRING *o = octets(sp->certs[i], sp->cert_lens[i], e);
        if (!o)
            return -1;
        if (!sk_ASN1_OCTET_STRING_push(p->cert_list, o)) {
            ASN1_OCTET_STRING_free(o);
            return tr_ossl_fail(e, "certList");
        }
    }
    return 0;
}

static int fill_property_v4(SES_PROPERTY_V4 *p, const tr_seal_spec *sp, tr_err *e)
{
    ASN1_STRING *t[3] = {p->create_date, p->valid_start, p->valid_end};
    if (!ASN1_INTEGER_set_int64(p->type, sp->seal_type))
        return tr_ossl_fail(e, "seal type");
    return set_str(p->name, sp->name, false, "name", e) ||
           fill_certs_v4(p, sp, e) || fill_times(t, sp, e) ? -1 : 0;
}

static int fill_property_v1(SES_PROPERTY_V1 *p, const tr_seal_spec *sp, tr_err *e)
{
    ASN1_STRING *t[3] = {p->create_date, p->valid_start, p->valid_end};
    if (!ASN1_INTEGER_set_int64(p->type, sp->seal_type))
        return tr_ossl_fail(e, "seal type");
    return set_str(p->name, sp->name, false, "name", e) ||
           fill_certs_v1(p, sp, e) || fill_times(t, sp, e) ? -1 : 0;
}

/* Sign tbs with the maker key into a BIT STRING (0 unused bits: DER would
 * otherwise drop trailing zero bits of the last byte from the count). */
static int sign_into(ASN1_BIT_STRING *bits, EVP_PKEY *key, const uint8_t *tbs,
                     size_t tbs_len, tr_err *e)
{
    uint8_t *sig = NULL;
    size_t sig_len = 0;
    if (tr_sign_message_der(key, tbs, tbs_len, &sig, &sig_len, e))
        return -1;
    int rc = set_bytes(bits, sig, sig_len, "signature", e);
    OPENSSL_free(sig);
    bits->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
    bits->flags |= ASN1_STRING_FLAG_BITS_LEFT;
    return rc;
}

static int set_maker(ASN1_OCTET_STRING *cert, ASN1_OBJECT **alg, EVP_PKEY *key,
                     const uint8_t *cert_der, size_t cert_len, tr_err *e)
{
    X509 *x = tr_cert_parse(cert_der, cert_len, e);
    if (!x)
        return -1;
    int match = X509_check_private_key(x, key);
    X509_free(x);
    ERR_clear_error();
    if (match != 1)
        return tr_fail(e, TR_E_USAGE, "seal maker key does not match its certificate");
    const char *oid = tr_sig_alg_oid(tr_pkey_alg(key));
    ASN1_OBJECT *o = oid ? OBJ_txt2obj(oid, 1) : NULL;
    if (!o)
        return oid ? tr_ossl_fail(e, "signature OID")
                   : tr_fail(e, TR_E_USAGE, "seal maker key type not supported");
    ASN1_OBJECT_free(*alg);
    *alg = o;
    return set_bytes(cert, cert_der, cert_len, "maker certificate", e);
}

static int output(unsigned char *enc, int n, uint8_t **der, size_t *len, tr_err *e)
{
    if (n <= 0)
        return tr_ossl_fail(e, "seal encoding");
    *der = malloc((size_t)n);
    if (!*der)
        return tr_fail(e, TR_E_NOMEM, "seal of %d bytes", n);
    memcpy(*der, enc, (size_t)n);
    *len = (size_t)n;
    return 0;
}

static int build_v4(const tr_seal_spec *sp, EVP_PKEY *key, const uint8_t *mc,
                    size_t mc_len, uint8_t **der, size_t *len, tr_err *e)
{
    SES_SEAL_V4 *s = SES_SEAL_V4_new();
    unsigned char *tbs = NULL, *enc = NULL;
    int rc = -1;
    if (!s) {
        tr_ossl_fail(e, "seal");
        goto out;
    }
    SES_SEALINFO_V4 *si = s->seal_info;
    if (fill_header(si->header, sp, e) ||
        set_str(si->es_id, sp->seal_id, true, "esID", e) ||
        fill_property_v4(si->property, sp, e) || fill_picture(si->picture, sp, e) ||
        set_maker(s->cert, &s->sign_alg, key, mc, mc_len, e))
        goto out;
    int n = i2d_SES_SEALINFO_V4(si, &tbs);
    if (n <= 0) {
        tr_ossl_fail(e, "SES_SealInfo encoding");
        goto out;
    }
    if (sign_into(s->signed_value, key, tbs, (size_t)n, e))
        goto out;
    n = i2d_SES_SEAL_V4(s, &enc); /* before output() reads enc */
    rc = output(enc, n, der, len, e);
out:
    OPENSSL_free(tbs);
    OPENSSL_free(enc);
    SES_SEAL_V4_free(s);
    return rc;
}

static int build_v1(const tr_seal_spec *sp, EVP_PKEY *key, const uint8_t *mc,
                    size_t mc_len, uint8_t **der, size_t *len, tr_err *e)
{
    SES_SEAL_V1 *s = SES_SEAL_V1_new();
    unsigned char *tbs = NULL, *enc = NULL;
    int rc = -1;
    if (!s) {
        tr_ossl_fail(e, "seal");
        goto out;
    }
    SES_SEALINFO_V1 *si = s->seal_info;
    SES_SIGNINFO_V1 *sg = s->sign_info;
    if (fill_header(si->header, sp, e) ||
        set_str(si->es_id, sp->seal_id, true, "esID", e) ||
        fill_property_v1(si->property, sp, e) || fill_picture(si->picture, sp, e) ||
        set_maker(sg->cert, &sg->sign_alg, key, mc, mc_len, e))
        goto out;
    SES_TBS_V1 tbs_v = {si, sg->cert, sg->sign_alg};
    int n = i2d_SES_TBS_V1(&tbs_v, &tbs);
    if (n <= 0) {
        tr_ossl_fail(e, "v1 to-be-signed encoding");
        goto out;
    }
    if (sign_into(sg->sign_data, key, tbs, (size_t)n, e))
        goto out;
    n = i2d_SES_SEAL_V1(s, &enc); /* before output() reads enc */
    rc = output(enc, n, der, len, e);
out:
    OPENSSL_free(tbs);
    OPENSSL_free(enc);
    SES_SEAL_V1_free(s);
    return rc;
}

int tr_seal_build(const tr_seal_spec *spec, EVP_PKEY *maker_key,
                  const uint8_t *maker_cert_der, size_t maker_cert_len,
                  uint8_t **der, size_t *len, tr_err *e)
{
    *der = NULL;
    *len = 0;
    if (!spec || !maker_key)
        return tr_fail(e, TR_E_USAGE, "no seal spec or maker key");
    if (spec->cert_count && (!spec->certs || !spec->cert_lens))
        return tr_fail(e, TR_E_USAGE, "seal certList pointers missing");
    if (spec->version == 4)
        return build_v4(spec, maker_key, maker_cert_der, maker_cert_len, der, len, e);
    if (spec->version == 1)
        return build_v1(spec, maker_key, maker_cert_der, maker_cert_len, der, len, e);
    return tr_fail(e, TR_E_USAGE, "seal version %d (expected 4 or 1)", spec->version);
}

bool tr_seal_looks_like(const uint8_t *der, size_t len)
{
    static const uint8_t es[] = {0x16, 0x02, 'E', 'S'};
    if (len < 8 || der[0] != 0x30)
        return false;
    size_t end = len < 16 ? len : 16;
    for (size_t k = 2; k + sizeof es <= end; k++)
        if (!memcmp(der + k, es, sizeof es))
            return true;
    return false;
}
