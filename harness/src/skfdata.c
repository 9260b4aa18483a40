/* skfdata.c — reading what an SKF library hands back (skfdata.h). Every
 * function takes the length it was given and never reads past it. */
#include "skfdata.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "crypto.h"
#include "skf_abi.h"

/* ---- name lists ---------------------------------------------------------------------- */

void tr_skf_list_split(const uint8_t *p, size_t n, tr_skf_list *out)
{
    out->count = 0;
    out->flags = 0;
    size_t i = 0;
    bool ended = false;
    while (i < n) {
        const uint8_t *nul = memchr(p + i, 0, n - i);
        size_t len = nul ? (size_t)(nul - (p + i)) : n - i;
        if (len == 0) {
            ended = true; /* the empty name: the list's end */
            break;
        }
        if (!nul)
            out->flags |= TR_SKF_LIST_UNTERMINATED;
        if (len >= TR_SKF_NAME_MAX)
            out->flags |= TR_SKF_LIST_TOOLONG;
        else if (out->count == TR_SKF_LIST_MAX)
            out->flags |= TR_SKF_LIST_TOOMANY;
        else {
            memcpy(out->name[out->count], p + i, len);
            out->name[out->count++][len] = '\0';
        }
        i += len + 1;
    }
    if (!ended && n > 0)
        out->flags |= TR_SKF_LIST_UNTERMINATED; /* no empty name before the end: a NUL short */
    for (size_t k = i; k < n; k++)
        if (p[k]) {
            out->flags |= TR_SKF_LIST_TRAILING;
            break;
        }
}

const char *tr_skf_list_problems(unsigned flags, char *buf, size_t cap)
{
    static const struct {
        unsigned flag;
        const char *what;
    } problems[] = {
        {TR_SKF_LIST_UNTERMINATED, "not ended by a double NUL"},
        {TR_SKF_LIST_TOOLONG, "a name of 256 bytes or more skipped"},
        {TR_SKF_LIST_TOOMANY, "more than 64 names: the rest dropped"},
        {TR_SKF_LIST_TRAILING, "bytes after the double NUL"},
    };
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof problems / sizeof problems[0]; i++) {
        size_t len = strlen(buf);
        if (flags & problems[i].flag)
            snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", problems[i].what);
    }
    return buf;
}

void tr_skf_list_text(const tr_skf_list *l, char *out, size_t cap)
{
    out[0] = '\0';
    for (size_t i = 0; i < l->count; i++) {
        char t[TR_SKF_TEXT_CAP(TR_SKF_NAME_MAX)];
        tr_skf_text((const uint8_t *)l->name[i], strlen(l->name[i]), t, sizeof t);
        size_t len = strlen(out);
        if (len + 1 < cap)
            snprintf(out + len, cap - len, "%s\"%s\"", i ? ", " : "", t);
    }
}

/* ---- text fields ------------------------------------------------------------------------ */

/* The length of the valid UTF-8 sequence (not a control character) at p,
 * 0 when there is none (RFC 3629: no overlong forms, no surrogates). */
static size_t utf8_seq(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    if (c >= 0x20 && c < 0x7F)
        return 1;
    size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (!len || len > n)
        return 0;
    uint8_t lo = 0x80, hi = 0xBF; /* the second byte's range */
    if (c == 0xE0)
        lo = 0xA0;
    else if (c == 0xED)
        hi = 0x9F;
    else if (c == 0xF0)
        lo = 0x90;
    else if (c == 0xF4)
        hi = 0x8F;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

void tr_skf_text(const uint8_t *p, size_t n, char *out, size_t cap)
{
    if (!cap)
        return;
    const uint8_t *nul = memchr(p, 0, n);
    if (nul)
        n = (size_t)(nul - p);
    while (n && p[n - 1] == ' ')
        n--;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t len = p[i] == '\\' ? 0 : utf8_seq(p + i, n - i);
        char esc[5];
        const char *piece = (const char *)p + i;
        size_t plen = len;
        if (!len) {
            snprintf(esc, sizeof esc, p[i] == '\\' ? "\\\\" : "\\x%02X", p[i]);
            piece = esc, plen = strlen(esc), len = 1;
        }
        if (o + plen >= cap)
            break;
        memcpy(out + o, piece, plen);
        o += plen, i += len;
    }
    out[o] = '\0';
}

/* ---- structures ------------------------------------------------------------------------ */

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int tr_skf_devinfo_parse(const uint8_t *p, size_t n, tr_skf_devinfo *out, tr_err *e)
{
    memset(out, 0, sizeof *out);
    if (n < offsetof(DEVINFO, MaxECCBufferSize) + 64)
        return tr_fail(e, TR_E_TOKEN, "DEVINFO of %zu bytes (294, or 286 for older headers)", n);
    out->version[0] = p[0], out->version[1] = p[1];
    tr_skf_text(p + offsetof(DEVINFO, Manufacturer), 64, out->manufacturer, sizeof out->manufacturer);
    tr_skf_text(p + offsetof(DEVINFO, Issuer), 64, out->issuer, sizeof out->issuer);
    tr_skf_text(p + offsetof(DEVINFO, Label), 32, out->label, sizeof out->label);
    tr_skf_text(p + offsetof(DEVINFO, SerialNumber), 32, out->serial, sizeof out->serial);
    const uint8_t *v = p + offsetof(DEVINFO, HWVersion);
    out->hw_version[0] = v[0], out->hw_version[1] = v[1], out->fw_version[0] = v[2], out->fw_version[1] = v[3];
    uint32_t *caps[] = {&out->alg_sym, &out->alg_asym, &out->alg_hash, &out->dev_auth_alg, &out->total_space,
                        &out->free_space, &out->max_ecc_buffer, &out->max_buffer};
    out->has_buffer_sizes = n >= sizeof(DEVINFO);
    for (size_t i = 0; i < (out->has_buffer_sizes ? 8u : 6u); i++)
        *caps[i] = le32(p + offsetof(DEVINFO, AlgSymCap) + 4 * i);
    return 0;
}

int tr_skf_fileattr_parse(const uint8_t *p, size_t n, tr_skf_fileattr *out, tr_err *e)
{
    memset(out, 0, sizeof *out);
    if (n < sizeof(FILEATTRIBUTE))
        return tr_fail(e, TR_E_TOKEN, "FILEATTRIBUTE of %zu bytes (%zu)", n, sizeof(FILEATTRIBUTE));
    tr_skf_text(p, MAX_FILE_NAME_SIZE, out->name, sizeof out->name);
    out->size = le32(p + offsetof(FILEATTRIBUTE, FileSize));
    out->read_rights = le32(p + offsetof(FILEATTRIBUTE, ReadRights));
    out->write_rights = le32(p + offsetof(FILEATTRIBUTE, WriteRights));
    return 0;
}

const char *tr_skf_rights_text(uint32_t r, char *buf, size_t cap)
{
    if (r == SECURE_ANYONE_ACCOUNT)
        snprintf(buf, cap, "anyone");
    else if (r == SECURE_NEVER_ACCOUNT)
        snprintf(buf, cap, "never");
    else if (r == SECURE_USER_ACCOUNT)
        snprintf(buf, cap, "user");
    else if (r == SECURE_ADM_ACCOUNT)
        snprintf(buf, cap, "admin");
    else if (r == (SECURE_USER_ACCOUNT | SECURE_ADM_ACCOUNT))
        snprintf(buf, cap, "user|admin");
    else
        snprintf(buf, cap, "0x%08X", r);
    return buf;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

int tr_skf_ecc_sig_raw(const uint8_t *blob, size_t n, uint8_t rs[64], tr_err *e)
{
    if (n != sizeof(ECCSIGNATUREBLOB))
        return tr_fail(e, TR_E_TOKEN, "ECCSIGNATUREBLOB of %zu bytes (%zu)", n, sizeof(ECCSIGNATUREBLOB));
    if (!all_zero(blob, 32) || !all_zero(blob + 64, 32))
        return tr_fail(e, TR_E_TOKEN, "ECCSIGNATUREBLOB: r or s longer than 256 bits (the left 32 bytes not zero)");
    memcpy(rs, blob + 32, 32);
    memcpy(rs + 32, blob + 96, 32);
    return 0;
}

/* Item k of a GM/T 0009 SM2 ciphertext: an INTEGER right-aligned into a
 * 64-byte coordinate, or an OCTET STRING's bytes. */
static int cipher_coordinate(const ASN1_TYPE *t, uint8_t out[64])
{
    if (!t || t->type != V_ASN1_INTEGER)
        return -1;
    BIGNUM *bn = ASN1_INTEGER_to_BN(t->value.integer, NULL);
    int ok = bn && !BN_is_negative(bn) && BN_num_bytes(bn) <= 32 && BN_bn2binpad(bn, out + 32, 32) == 32;
    BN_free(bn);
    memset(out, 0, 32);
    return ok ? 0 : -1;
}

static const ASN1_OCTET_STRING *cipher_octets(const ASN1_TYPE *t)
{
    return t && t->type == V_ASN1_OCTET_STRING ? t->value.octet_string : NULL;
}

int tr_skf_ecc_cipher_blob(const uint8_t *der, size_t n, uint8_t **blob, size_t *blen, tr_err *e)
{
    *blob = NULL, *blen = 0;
    const unsigned char *p = der;
    ASN1_SEQUENCE_ANY *seq = n <= TR_SKF_ECC_CIPHER_MAX + 256 ? d2i_ASN1_SEQUENCE_ANY(NULL, &p, (long)n) : NULL;
    ECCCIPHERBLOB head;
    memset(&head, 0, sizeof head);
    const ASN1_OCTET_STRING *hash = seq && sk_ASN1_TYPE_num(seq) == 4 ? cipher_octets(sk_ASN1_TYPE_value(seq, 2)) : NULL;
    const ASN1_OCTET_STRING *c2 = hash ? cipher_octets(sk_ASN1_TYPE_value(seq, 3)) : NULL;
    int bad = !c2 || p != der + n || ASN1_STRING_length(hash) != 32 || ASN1_STRING_length(c2) < 1 ||
              ASN1_STRING_length(c2) > TR_SKF_ECC_CIPHER_MAX ||
              cipher_coordinate(sk_ASN1_TYPE_value(seq, 0), head.XCoordinate) < 0 ||
              cipher_coordinate(sk_ASN1_TYPE_value(seq, 1), head.YCoordinate) < 0;
    if (!bad) {
        size_t clen = (size_t)ASN1_STRING_length(c2);
        memcpy(head.HASH, ASN1_STRING_get0_data(hash), 32);
        head.CipherLen = (ULONG)clen;
        *blob = malloc(ECCCIPHERBLOB_SIZE(clen));
        if (*blob) {
            memcpy(*blob, &head, ECCCIPHERBLOB_HEADER_SIZE);
            memcpy(*blob + ECCCIPHERBLOB_HEADER_SIZE, ASN1_STRING_get0_data(c2), clen);
            *blen = ECCCIPHERBLOB_SIZE(clen);
        }
    }
    sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
    if (bad)
        return tr_fail(e, TR_E_USAGE, "not a GM/T 0009 SM2 ciphertext (SEQUENCE { x, y, 32-byte hash, 1..%d bytes })",
                       TR_SKF_ECC_CIPHER_MAX);
    return *blob ? 0 : tr_fail(e, TR_E_NOMEM, "out of memory");
}

int tr_skf_ecc_pub_point(const uint8_t *blob, size_t n, uint8_t point[65], tr_err *e)
{
    if (n != sizeof(ECCPUBLICKEYBLOB))
        return tr_fail(e, TR_E_TOKEN, "ECCPUBLICKEYBLOB of %zu bytes (%zu)", n, sizeof(ECCPUBLICKEYBLOB));
    uint32_t bits = le32(blob);
    if (bits != 256)
        return tr_fail(e, TR_E_TOKEN, "ECCPUBLICKEYBLOB: BitLen %u (256)", bits);
    const uint8_t *x = blob + offsetof(ECCPUBLICKEYBLOB, XCoordinate), *y = blob + offsetof(ECCPUBLICKEYBLOB, YCoordinate);
    if (!all_zero(x, 32) || !all_zero(y, 32))
        return tr_fail(e, TR_E_TOKEN, "ECCPUBLICKEYBLOB: a coordinate longer than 256 bits");
    point[0] = 0x04;
    memcpy(point + 1, x + 32, 32);
    memcpy(point + 33, y + 32, 32);
    return 0;
}

int tr_skf_ecc_pub_blob(const uint8_t *point, size_t n, uint8_t blob[132], tr_err *e)
{
    if (n != 65 || point[0] != 0x04)
        return tr_fail(e, TR_E_CRYPTO, "not an uncompressed 256-bit point (%zu bytes)", n);
    memset(blob, 0, sizeof(ECCPUBLICKEYBLOB));
    blob[0] = 0x00, blob[1] = 0x01; /* BitLen 256, little-endian */
    memcpy(blob + offsetof(ECCPUBLICKEYBLOB, XCoordinate) + 32, point + 1, 32);
    memcpy(blob + offsetof(ECCPUBLICKEYBLOB, YCoordinate) + 32, point + 33, 32);
    return 0;
}

int tr_skf_ecc_pub_blob_from_cert(const uint8_t *der, size_t n, uint8_t blob[132], tr_err *e)
{
    X509 *x = tr_cert_parse(der, n, e);
    if (!x)
        return -1;
    EVP_PKEY *k = X509_get0_pubkey(x);
    uint8_t point[65];
    size_t len = 0;
    int rc;
    if (!k || (!EVP_PKEY_is_a(k, "EC") && !EVP_PKEY_is_a(k, "SM2")))
        rc = tr_fail(e, TR_E_CRYPTO, "the certificate's key is not an EC key");
    else if (EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, sizeof point, &len) != 1)
        rc = tr_ossl_fail(e, "the certificate's public point");
    else
        rc = tr_skf_ecc_pub_blob(point, len, blob, e);
    X509_free(x);
    return rc;
}

int tr_skf_rsa_pub_parse(const uint8_t *blob, size_t n, uint8_t modulus[256], size_t *mod_len,
                         uint32_t *exponent, tr_err *e)
{
    if (n != sizeof(RSAPUBLICKEYBLOB))
        return tr_fail(e, TR_E_TOKEN, "RSAPUBLICKEYBLOB of %zu bytes (%zu)", n, sizeof(RSAPUBLICKEYBLOB));
    uint32_t bits = le32(blob + offsetof(RSAPUBLICKEYBLOB, BitLen));
    if (bits < 512 || bits > 8 * MAX_RSA_MODULUS_LEN || bits % 8)
        return tr_fail(e, TR_E_TOKEN, "RSAPUBLICKEYBLOB: BitLen %u", bits);
    size_t len = bits / 8;
    const uint8_t *m = blob + offsetof(RSAPUBLICKEYBLOB, Modulus);
    if (!all_zero(m, MAX_RSA_MODULUS_LEN - len) || !(m[MAX_RSA_MODULUS_LEN - len] & 0x80))
        return tr_fail(e, TR_E_TOKEN, "RSAPUBLICKEYBLOB: the modulus is not %u bits", bits);
    memcpy(modulus, m + MAX_RSA_MODULUS_LEN - len, len);
    *mod_len = len;
    const uint8_t *x = blob + offsetof(RSAPUBLICKEYBLOB, PublicExponent);
    *exponent = (uint32_t)x[0] << 24 | (uint32_t)x[1] << 16 | (uint32_t)x[2] << 8 | x[3];
    if (*exponent < 3 || !(*exponent & 1))
        return tr_fail(e, TR_E_TOKEN, "RSAPUBLICKEYBLOB: exponent %u", *exponent);
    return 0;
}
