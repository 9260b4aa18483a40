/* fuzz_skfdata — skfdata.c's readers on arbitrary bytes (libFuzzer): what a
 * vendor's SKF library hands back is hostile input.
 *
 * The input goes whole to every reader: a name list (its size as said, and
 * one more byte than the data: the caller clips, the reader must not read
 * past n), DEVINFO (both sizes), FILEATTRIBUTE, the text of a fixed field,
 * ECCSIGNATUREBLOB, ECCPUBLICKEYBLOB (and the point back to a blob),
 * RSAPUBLICKEYBLOB, and the ECCPUBLICKEYBLOB of a certificate. Any crash,
 * sanitizer report, a name that is empty or has a NUL inside, text that is
 * not NUL-terminated within its cap, or a failure without a message is a bug.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "skfdata.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must_fail_with_message(int rc, const tr_err *e)
{
    if (rc != 0 && (rc != -1 || e->msg[0] == '\0'))
        abort();
}

static void lists(const uint8_t *data, size_t size)
{
    static tr_skf_list l;
    tr_skf_list_split(data, size, &l);
    if (l.count > TR_SKF_LIST_MAX)
        abort();
    for (size_t i = 0; i < l.count; i++) {
        size_t n = strnlen(l.name[i], TR_SKF_NAME_MAX);
        if (n == 0 || n >= TR_SKF_NAME_MAX || !memmem(data, size, l.name[i], n))
            abort();
    }
    char text[512], problems[256];
    tr_skf_list_text(&l, text, sizeof text);
    tr_skf_list_problems(l.flags, problems, sizeof problems);
    if (strnlen(text, sizeof text) == sizeof text)
        abort();
}

static void structures(const uint8_t *data, size_t size)
{
    tr_err e;
    tr_skf_devinfo d;
    tr_skf_fileattr f;
    uint8_t rs[64], point[65], blob[132], mod[256];
    size_t ml;
    uint32_t ex;
    must_fail_with_message(tr_skf_devinfo_parse(data, size, &d, &e), &e);
    must_fail_with_message(tr_skf_fileattr_parse(data, size, &f, &e), &e);
    must_fail_with_message(tr_skf_ecc_sig_raw(data, size, rs, &e), &e);
    int rc = tr_skf_ecc_pub_point(data, size, point, &e);
    must_fail_with_message(rc, &e);
    if (rc == 0 && (tr_skf_ecc_pub_blob(point, sizeof point, blob, &e) != 0 || memcmp(blob, data, sizeof blob)))
        abort(); /* the round trip gives the same blob */
    must_fail_with_message(tr_skf_ecc_pub_blob(data, size, blob, &e), &e);
    rc = tr_skf_rsa_pub_parse(data, size, mod, &ml, &ex, &e);
    must_fail_with_message(rc, &e);
    if (rc == 0 && (ml > 256 || ml < 64))
        abort();
    must_fail_with_message(tr_skf_ecc_pub_blob_from_cert(data, size, blob, &e), &e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lists(data, size);
    structures(data, size);
    char text[TR_SKF_TEXT_CAP(64)], small[7];
    size_t n = size < 64 ? size : 64;
    tr_skf_text(data, n, text, sizeof text);
    tr_skf_text(data, n, small, sizeof small);
    if (strnlen(text, sizeof text) == sizeof text || strnlen(small, sizeof small) == sizeof small)
        abort();
    if (size && !memchr(data, 0, n) && strlen(text) == 0 && data[0] != ' ')
        abort(); /* a field with bytes and no NUL shows something */
    return 0;
}
