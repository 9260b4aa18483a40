/* trust.h — trust anchors and certificate chains.
 *
 * Owns: loading a trust anchor file that a profile or rig names (CA_ROOT,
 * the root the tokens' certificates are issued under; SEAL_MAKER_ROOT, the
 * root of the seal makers), and deciding whether a certificate chains to it:
 * OpenSSL's X509_verify_cert with the anchor file's certificates as the only
 * trusted ones (an anchor may be an intermediate: the chain ends at the first
 * trusted certificate), SM2-with-SM3 signatures checked with the default ID
 * 1234567812345678, and no time check — a certificate's expiry is the
 * cert-expiry suite's finding, not a second one here.
 * Must not: talk to tokens, parse suites, write reports.
 */
#ifndef TR_TRUST_H
#define TR_TRUST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#include "error.h"

typedef struct tr_trust tr_trust;

/* An anchor file is one DER certificate, or PEM with one or more; at most
 * this many bytes. */
#define TR_TRUST_FILE_MAX (1u << 20)

/* Load the anchors in path. A file that cannot be read, or that holds no
 * certificate, is a configuration error (TR_E_CONFIG) naming the file: the
 * profile or rig points at the wrong place, the token is not to blame. */
int tr_trust_load(const char *path, tr_trust **out, tr_err *e);
void tr_trust_free(tr_trust *t);
/* The file it was loaded from; the one-line subject of its first anchor. */
const char *tr_trust_path(const tr_trust *t);
const char *tr_trust_subject(const tr_trust *t);

typedef struct {
    bool trusted;        /* the certificate chains to an anchor */
    char subject[256];   /* of the certificate checked (one line) */
    char issuer[256];
    char problem[384];   /* why not ("" when trusted) */
} tr_chain_result;

/* Does x chain to t? 0 with out filled either way; -1 with e set only when
 * OpenSSL cannot run the check at all (out of memory). x is not modified. */
int tr_trust_check(const tr_trust *t, X509 *x, tr_chain_result *out, tr_err *e);

/* The same for a DER certificate (token file padding tolerated, as in
 * tr_cert_parse). Bytes that are no certificate give 0, not trusted, with
 * the reason in out->problem. */
int tr_trust_check_der(const tr_trust *t, const uint8_t *der, size_t len,
                       tr_chain_result *out, tr_err *e);

#endif
