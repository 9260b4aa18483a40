/* p11data.h — what a PKCS#11 module hands back, read safely, and the names
 * of its numbers.
 *
 * Owns: the names of CKR_* return values (every value of the standard as
 * p11-kit's pkcs11.h spells it; others in hex, vendor ones marked), of
 * CKM_* mechanisms, CKA_* attributes, CKO_* classes and CKU_* user types;
 * the flags of CK_TOKEN_INFO, CK_SLOT_INFO and CK_MECHANISM_INFO as words;
 * bounds-checked readers of the structures the layer's child copies whole
 * (CK_INFO, CK_SLOT_INFO, CK_TOKEN_INFO: their space-padded, not
 * NUL-terminated text fields trimmed and escaped, their versions as text),
 * of handle / id arrays (64-bit on the wire, whatever CK_ULONG is) and of
 * attribute values (a CK_ULONG, a CK_BBOOL: exactly their size).
 * Must not: call a module or keep state (the unknown-value names are in a
 * thread-local buffer, valid until that thread's next call).
 */
#ifndef TR_P11DATA_H
#define TR_P11DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* "CKR_PIN_INCORRECT", or "0x000000A9" (unknown), "CKR_VENDOR_DEFINED+0x12". */
const char *tr_p11_rv_name(uint64_t rv);
/* The value of a CKR_ / CKM_ / CKA_ name (with its prefix): 0 found, -1 not. */
int tr_p11_rv_value(const char *name, uint64_t *v);
int tr_p11_mech_value(const char *name, uint64_t *v);
int tr_p11_attr_value(const char *name, uint64_t *v);
/* Names of numbers, NULL when the standard has none for v. */
const char *tr_p11_mech_name(uint64_t v);
const char *tr_p11_attr_name(uint64_t v);
const char *tr_p11_class_name(uint64_t v);
const char *tr_p11_user_name(uint64_t v);

/* The set bits of flags as "TOKEN_INITIALIZED|USER_PIN_COUNT_LOW|0x00100000"
 * ("" for none), for a CK_TOKEN_INFO, CK_SLOT_INFO or CK_MECHANISM_INFO. */
enum { TR_P11_FLAGS_TOKEN, TR_P11_FLAGS_SLOT, TR_P11_FLAGS_MECH, TR_P11_FLAGS_SESSION };
const char *tr_p11_flags_text(int kind, uint64_t flags, char *buf, size_t cap);

/* Text of a fixed field of n bytes (tr_skf_text: up to a NUL, the space
 * padding dropped, anything but printable UTF-8 escaped). */
#define TR_P11_TEXT_CAP(n) (4 * (n) + 1)

typedef struct {
    char cryptoki_version[8], library_version[8];
    char manufacturer[TR_P11_TEXT_CAP(32)], description[TR_P11_TEXT_CAP(32)];
    uint64_t flags;
} tr_p11_info;

typedef struct {
    char description[TR_P11_TEXT_CAP(64)], manufacturer[TR_P11_TEXT_CAP(32)];
    char hardware_version[8], firmware_version[8];
    uint64_t flags;
} tr_p11_slot;

typedef struct {
    char label[TR_P11_TEXT_CAP(32)], manufacturer[TR_P11_TEXT_CAP(32)];
    char model[TR_P11_TEXT_CAP(16)], serial[TR_P11_TEXT_CAP(16)];
    char hardware_version[8], firmware_version[8], utc_time[TR_P11_TEXT_CAP(16)];
    /* flags, maxSessionCount, sessionCount, maxRwSessionCount, rwSessionCount,
     * maxPinLen, minPinLen, total/free public memory, total/free private
     * memory: CK_UNAVAILABLE_INFORMATION / CK_EFFECTIVELY_INFINITE as given */
    uint64_t num[11];
} tr_p11_token;

/* The structure exactly as the module filled it: n must be its size in
 * this build (the child sends sizeof CK_x), else TR_E_TOKEN. */
int tr_p11_info_parse(const uint8_t *p, size_t n, tr_p11_info *out, tr_err *e);
int tr_p11_slot_parse(const uint8_t *p, size_t n, tr_p11_slot *out, tr_err *e);
int tr_p11_token_parse(const uint8_t *p, size_t n, tr_p11_token *out, tr_err *e);

/* The 64-bit little-endian-in-memory (native) ids of n bytes into ids
 * (at most cap): n a multiple of 8; *count set. */
int tr_p11_ids_parse(const uint8_t *p, size_t n, uint64_t *ids, size_t cap, size_t *count, tr_err *e);

/* Attribute values: a CK_ULONG (CKA_CLASS, CKA_KEY_TYPE, CKA_CERTIFICATE_TYPE)
 * must be sizeof(CK_ULONG) bytes; a CK_BBOOL one byte. */
int tr_p11_attr_ulong(const uint8_t *p, size_t n, uint64_t *v, tr_err *e);
int tr_p11_attr_bool(const uint8_t *p, size_t n, bool *v, tr_err *e);

#endif
