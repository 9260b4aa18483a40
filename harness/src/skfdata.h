/* skfdata.h — what an SKF library hands back, read safely.
 *
 * Owns: pure, bounds-checked readers of GM/T 0016 outputs: NUL-separated
 * name lists (a missing final NUL, empty names, over-long names, a size
 * larger than the data), the fixed char arrays of DEVINFO and FILEATTRIBUTE
 * (not NUL-terminated, space-padded, GBK rather than UTF-8: shown escaped,
 * never as raw bytes), ECCSIGNATUREBLOB to raw r||s, ECCPUBLICKEYBLOB to
 * and from an uncompressed point (and from a certificate's key: the blob
 * SKF_DigestInit needs), RSAPUBLICKEYBLOB to modulus and exponent.
 * Must not: call a library or keep state.
 */
#ifndef TR_SKFDATA_H
#define TR_SKFDATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define TR_SKF_NAME_MAX 256 /* longest name kept, with its NUL */
#define TR_SKF_LIST_MAX 64  /* names kept from one list */

enum {
    TR_SKF_LIST_UNTERMINATED = 1, /* no double NUL within the data */
    TR_SKF_LIST_TOOLONG = 2,      /* a name of TR_SKF_NAME_MAX bytes or more: skipped */
    TR_SKF_LIST_TOOMANY = 4,      /* more than TR_SKF_LIST_MAX names: the rest dropped */
    TR_SKF_LIST_TRAILING = 8,     /* bytes other than NUL after the double NUL */
};

/* The names of a list, raw (as the library spelled them: they go back to it
 * in the next call), NUL-free, non-empty. */
typedef struct {
    char name[TR_SKF_LIST_MAX][TR_SKF_NAME_MAX];
    size_t count;
    unsigned flags;
} tr_skf_list;

/* Split the n bytes at p (n: what the library said, at most what it was
 * given: the caller clips it). The list ends at the first empty name. */
void tr_skf_list_split(const uint8_t *p, size_t n, tr_skf_list *out);

/* "unterminated, a name over 255 bytes skipped" or "" for a clean list. */
const char *tr_skf_list_problems(unsigned flags, char *buf, size_t cap);

/* The names as "\"A\", \"B\"" (escaped as tr_skf_text does), cut at cap. */
void tr_skf_list_text(const tr_skf_list *l, char *out, size_t cap);

/* A text field of n bytes: up to its first NUL, trailing spaces dropped;
 * valid UTF-8 kept, any other byte and control characters as \xNN, '\\'
 * as "\\\\". cap >= 4 * n + 1 never cuts. */
void tr_skf_text(const uint8_t *p, size_t n, char *out, size_t cap);

#define TR_SKF_TEXT_CAP(n) (4 * (n) + 1)

typedef struct {
    unsigned version[2], hw_version[2], fw_version[2]; /* major, minor */
    char manufacturer[TR_SKF_TEXT_CAP(64)];
    char issuer[TR_SKF_TEXT_CAP(64)];
    char label[TR_SKF_TEXT_CAP(32)];
    char serial[TR_SKF_TEXT_CAP(32)];
    uint32_t alg_sym, alg_asym, alg_hash, dev_auth_alg, total_space, free_space;
    bool has_buffer_sizes; /* a 294-byte DEVINFO */
    uint32_t max_ecc_buffer, max_buffer;
} tr_skf_devinfo;

/* DEVINFO of n bytes: 294 (the two buffer sizes) or 286 (older headers);
 * anything shorter than 286 is an error (TR_E_TOKEN). */
int tr_skf_devinfo_parse(const uint8_t *p, size_t n, tr_skf_devinfo *out, tr_err *e);

typedef struct {
    char name[TR_SKF_TEXT_CAP(32)];
    uint32_t size, read_rights, write_rights;
} tr_skf_fileattr;

int tr_skf_fileattr_parse(const uint8_t *p, size_t n, tr_skf_fileattr *out, tr_err *e);

/* "user", "admin", "anyone", "never", "user|admin", or "0x00000042". */
const char *tr_skf_rights_text(uint32_t rights, char *buf, size_t cap);

/* ECCSIGNATUREBLOB (128 bytes, r and s right-aligned in 64) of a 256-bit
 * curve to r||s (64 bytes): the left 32 bytes of each must be zero. */
int tr_skf_ecc_sig_raw(const uint8_t *blob, size_t n, uint8_t rs[64], tr_err *e);

/* A GM/T 0009 DER SM2 ciphertext (what envelope() makes) as the
 * ECCCIPHERBLOB SKF_ImportSessionKey takes (*blob malloc'd, the caller
 * frees it); C2 of at most TR_SKF_ECC_CIPHER_MAX bytes. */
#define TR_SKF_ECC_CIPHER_MAX 1024
int tr_skf_ecc_cipher_blob(const uint8_t *der, size_t n, uint8_t **blob, size_t *blen, tr_err *e);

/* ECCPUBLICKEYBLOB (132 bytes, BitLen 256) to 04||X||Y and back. */
int tr_skf_ecc_pub_point(const uint8_t *blob, size_t n, uint8_t point[65], tr_err *e);
int tr_skf_ecc_pub_blob(const uint8_t *point, size_t n, uint8_t blob[132], tr_err *e);

/* The ECCPUBLICKEYBLOB of a DER certificate's EC (SM2, P-256) key. */
int tr_skf_ecc_pub_blob_from_cert(const uint8_t *der, size_t n, uint8_t blob[132], tr_err *e);

/* RSAPUBLICKEYBLOB (268 bytes): the modulus, BitLen / 8 bytes (at most 256,
 * the left part of the array zero) and the exponent. */
int tr_skf_rsa_pub_parse(const uint8_t *blob, size_t n, uint8_t modulus[256], size_t *mod_len,
                         uint32_t *exponent, tr_err *e);

#endif
