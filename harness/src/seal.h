/* seal.h — electronic seals (GB/T 38540-2020 v4 and GM/T 0031-2014 v1).
 *
 * Owns: the SESeal ASN.1 templates (OpenSSL ASN1_SEQUENCE macros) of both
 * versions, building a seal (fixtures/pki uses it), and parsing + verifying
 * one read from a token (the seal suite uses it): structure detection, header,
 * validity, picture sanity (PNG signature + IHDR size), seal-maker signature
 * over exactly the bytes each version specifies, and whether the token's own
 * certificate is in the seal's certificate list.
 * Must not: talk to tokens or write reports.
 */
#ifndef TR_SEAL_H
#define TR_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

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
    char problem[256];      /* first thing found wrong, "" when none */
} tr_seal_info;

/* Parse and check a seal. token_cert may be NULL (then token_cert_listed is
 * false). Returns 0 when the bytes parse as either version (the checks'
 * outcomes are in out), -1 with e set when they parse as neither. */
int tr_seal_inspect(const uint8_t *der, size_t len,
                    const uint8_t *token_cert, size_t token_cert_len,
                    time_t now, tr_seal_info *out, tr_err *e);

#endif
