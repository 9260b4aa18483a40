/* seal.h — electronic seals (GB/T 38540-2020 v4 and GM/T 0031-2014 v1).
 *
 * Owns: the SESeal ASN.1 templates (OpenSSL ASN1_SEQUENCE macros) of both
 * versions, building a seal (fixtures/pki uses it), and parsing + verifying
 * one read from a token (the seal suite uses it): structure detection, header,
 * validity, picture sanity (PNG signature + IHDR size), seal-maker signature
 * over exactly the bytes each version specifies, and whether the token's own
 * certificate is in the seal's certificate list; handing out the maker's
 * certificate (whether it chains to SEAL_MAKER_ROOT is trust.h's question).
 * Must not: talk to tokens or write reports.
 */
#ifndef TR_SEAL_H
#define TR_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/types.h>

#include "error.h"

typedef struct {
    int version;            /* 4 = GB/T 38540 v4, 1 = GM/T 0031 (2014) v1 */
    char header_id[8];      /* "ES" expected */
    char seal_id[128];      /* esID */
    char seal_name[256];    /* name / organisation as printable UTF-8 */
    time_t valid_start, valid_end;
    bool valid_now;         /* valid_start <= now <= valid_end */
    char pic_type[16];      /* declared picture type ("PNG") */
    size_t pic_len;
    unsigned pic_width, pic_height; /* from IHDR; 0 when not a PNG */
    bool pic_ok;            /* picture bytes are what the type declares */
    size_t cert_count;      /* certificates in the seal's certificate list */
    bool token_cert_listed; /* the token's certificate is among them */
    int sig_ok;             /* 1 seal-maker signature verifies, 0 it does not */
    char sign_alg_oid[64];  /* e.g. 1.2.156.10197.1.501 */
    char maker[256];        /* seal maker certificate's subject, one line
                             * ("" when it does not parse) */
    char problem[256];      /* first thing found wrong, "" when none */
} tr_seal_info;

/* Parse and check a seal. token_cert may be NULL (then token_cert_listed is
 * false). Returns 0 when the bytes parse as either version (the checks'
 * outcomes are in out), -1 with e set when they parse as neither. */
int tr_seal_inspect(const uint8_t *der, size_t len,
                    const uint8_t *token_cert, size_t token_cert_len,
                    time_t now, tr_seal_info *out, tr_err *e);

/* Whether bytes look like a seal of either version by their start (a DER
 * SEQUENCE whose header is the IA5String "ES" in its first 16 bytes),
 * without parsing the rest: a damaged seal is still recognised as one
 * (SKF finds the seal by content among a token's files, not by name). */
bool tr_seal_looks_like(const uint8_t *der, size_t len);

/* The seal maker's certificate of a seal of either version (whose signature
 * seal-info checks), for the trust check (trust.h). Caller X509_free()s.
 * NULL with e set (TR_E_CRYPTO) when the seal or the certificate does not
 * parse. */
X509 *tr_seal_maker_cert(const uint8_t *der, size_t len, tr_err *e);

/* What a seal is made of (fixtures/pki and the tests build seals with it).
 * Strings are NUL-terminated; IA5 fields (vid, seal_id, pic_type) must be
 * ASCII. v4 writes certListType 1 (certificates) and GeneralizedTime; v1
 * writes UTCTime (so dates must fall in 1950..2049). */
typedef struct {
    int version;                 /* 4 or 1 */
    const char *vid;             /* header Vid (vendor id) */
    const char *seal_id;         /* esID */
    long seal_type;              /* property type: 1 organisation, 2 personal */
    const char *name;            /* UTF-8 seal name (the organisation) */
    const uint8_t *const *certs; /* certList: DER certificates it binds */
    const size_t *cert_lens;
    size_t cert_count;
    const char *cert_digest_alg; /* NULL: certList holds the certificates
                                  * (certListType 1); "SM3", "SHA256": their
                                  * digests (certListType 2, v4 only) */
    time_t create_date, valid_start, valid_end;
    const char *pic_type;        /* "PNG" */
    const uint8_t *pic;
    size_t pic_len;
    long pic_width_mm, pic_height_mm;
} tr_seal_spec;

/* Build and sign a seal with the seal maker's key and certificate (SM2 keys
 * sign SM2-with-SM3 with ID 1234567812345678; ECDSA and RSA keys sign with
 * SHA-256). *der is malloc()ed: free() it. Returns 0 or -1 with e set. */
int tr_seal_build(const tr_seal_spec *spec, EVP_PKEY *maker_key,
                  const uint8_t *maker_cert_der, size_t maker_cert_len,
                  uint8_t **der, size_t *len, tr_err *e);

/* PNG's CRC-32 (ISO 3309, reflected 0xEDB88320), continued from crc
 * (start with 0). The picture check uses it; so does mkpki's PNG writer. */
uint32_t tr_crc32(uint32_t crc, const uint8_t *p, size_t n);

#endif
