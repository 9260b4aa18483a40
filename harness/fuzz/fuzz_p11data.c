/* fuzz_p11data — p11data.c's readers on arbitrary bytes (libFuzzer): what a
 * PKCS#11 module hands back is hostile input.
 *
 * The input goes to every reader: as CK_INFO, CK_SLOT_INFO and
 * CK_TOKEN_INFO (exactly their size: the input padded or cut to it, so the
 * text fields see every byte pattern; and as it is, which must fail unless
 * it happens to be that size), as an id list, as CK_ULONG and CK_BBOOL
 * attribute values, and its first 8 bytes as a CKR / flags value to name.
 * Any crash, sanitizer report, text not NUL-terminated within its field's
 * cap, a text field that still ends in its space padding, or a failure
 * without a message is a bug.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

#include "p11data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must_fail_with_message(int rc, const tr_err *e)
{
    if (rc != 0 && (rc != -1 || e->msg[0] == '\0'))
        abort();
}

/* NUL-terminated within cap, and not ending in the padding. */
static void text_ok(const char *t, size_t cap)
{
    size_t n = strnlen(t, cap);
    if (n == cap || (n && t[n - 1] == ' '))
        abort();
}

static void structures(const uint8_t *data, size_t size)
{
    static uint8_t buf[sizeof(CK_TOKEN_INFO) + sizeof(CK_SLOT_INFO) + sizeof(CK_INFO)];
    tr_err e;
    tr_p11_info in;
    tr_p11_slot sl;
    tr_p11_token tk;
    memset(buf, ' ', sizeof buf);
    memcpy(buf, data, size < sizeof buf ? size : sizeof buf);
    if (tr_p11_info_parse(buf, sizeof(CK_INFO), &in, &e) != 0 ||
        tr_p11_slot_parse(buf, sizeof(CK_SLOT_INFO), &sl, &e) != 0 ||
        tr_p11_token_parse(buf, sizeof(CK_TOKEN_INFO), &tk, &e) != 0)
        abort(); /* the right size always reads */
    text_ok(in.manufacturer, sizeof in.manufacturer), text_ok(in.description, sizeof in.description);
    text_ok(in.cryptoki_version, sizeof in.cryptoki_version);
    text_ok(sl.description, sizeof sl.description), text_ok(sl.manufacturer, sizeof sl.manufacturer);
    text_ok(tk.label, sizeof tk.label), text_ok(tk.manufacturer, sizeof tk.manufacturer);
    text_ok(tk.model, sizeof tk.model), text_ok(tk.serial, sizeof tk.serial);
    text_ok(tk.utc_time, sizeof tk.utc_time), text_ok(tk.firmware_version, sizeof tk.firmware_version);
    must_fail_with_message(tr_p11_info_parse(data, size, &in, &e), &e);
    must_fail_with_message(tr_p11_slot_parse(data, size, &sl, &e), &e);
    must_fail_with_message(tr_p11_token_parse(data, size, &tk, &e), &e);
}

static void values(const uint8_t *data, size_t size)
{
    tr_err e;
    uint64_t ids[64], v = 0;
    size_t n = 99;
    bool b;
    int rc = tr_p11_ids_parse(data, size, ids, 64, &n, &e);
    must_fail_with_message(rc, &e);
    if ((rc == 0 && n * 8 != size) || (rc != 0 && n != 0))
        abort();
    must_fail_with_message(tr_p11_attr_ulong(data, size, &v, &e), &e);
    must_fail_with_message(tr_p11_attr_bool(data, size, &b, &e), &e);
    memcpy(&v, data, size < sizeof v ? size : sizeof v);
    char flags[64];
    if (!tr_p11_rv_name(v)[0])
        abort();
    for (int k = TR_P11_FLAGS_TOKEN; k <= TR_P11_FLAGS_SESSION; k++)
        text_ok(tr_p11_flags_text(k, v, flags, sizeof flags), sizeof flags);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    structures(data, size);
    values(data, size);
    return 0;
}
