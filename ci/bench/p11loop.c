/* p11loop — the bare C loop of `make bench` row 7: a PKCS#11 module called
 * directly (dlopen + C_GetFunctionList, no child process, no trace), the
 * reference tokenrig's PKCS#11 layer is measured against.
 *
 *   p11loop MODULE TOKEN-LABEL PIN KEY-LABEL N
 *
 * C_Initialize(CKF_OS_LOCKING_OK, as tokenrig's host does), the token
 * whose label is TOKEN-LABEL, a read-write session, C_Login(CKU_USER,
 * PIN), the private key labelled KEY-LABEL, then times N signatures:
 * C_SignInit(CKM_ECDSA) + C_Sign of a fixed 32-byte hash into a buffer
 * big enough (one C_Sign, no size query: the least a client can do).
 * Prints "sign_mean_us=X". Exit 2 on any error (the function and its
 * CKR_ named).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <p11-kit/pkcs11.h>

#include "p11data.h"

#define MAX_SLOTS 64

static CK_FUNCTION_LIST *f;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int ok(CK_RV rv, const char *what)
{
    if (rv == CKR_OK)
        return 1;
    fprintf(stderr, "p11loop: %s answered %s\n", what, tr_p11_rv_name(rv));
    return 0;
}

static int load(const char *path)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "p11loop: %s\n", dlerror());
        return -1;
    }
    /* as tokenrig's host initializes it (p11host.c): the module does the
     * same work (its own locking) on both sides of the comparison */
    CK_C_INITIALIZE_ARGS init = {.flags = CKF_OS_LOCKING_OK};
    CK_C_GetFunctionList get = (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList");
    if (!get) {
        fprintf(stderr, "p11loop: C_GetFunctionList is not exported by %s\n", path);
        return -1;
    }
    return ok(get(&f), "C_GetFunctionList") && ok(f->C_Initialize(&init), "C_Initialize") ? 0 : -1;
}

/* The slot whose token's label (32 bytes, blank-padded) is LABEL. */
static int find_token(const char *label, CK_SLOT_ID *slot)
{
    CK_SLOT_ID slots[MAX_SLOTS];
    CK_ULONG n = MAX_SLOTS;
    size_t len = strlen(label);
    if (!ok(f->C_GetSlotList(CK_TRUE, slots, &n), "C_GetSlotList"))
        return -1;
    for (CK_ULONG i = 0; i < n && i < MAX_SLOTS; i++) {
        CK_TOKEN_INFO ti;
        if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK || len > sizeof ti.label)
            continue;
        size_t k = len;
        while (k < sizeof ti.label && ti.label[k] == ' ')
            k++;
        if (!memcmp(ti.label, label, len) && k == sizeof ti.label) {
            *slot = slots[i];
            return 0;
        }
    }
    fprintf(stderr, "p11loop: no token labelled \"%s\"\n", label);
    return -1;
}

/* The one private key labelled LABEL. */
static int find_key(CK_SESSION_HANDLE s, const char *label, CK_OBJECT_HANDLE *key)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_LABEL, (void *)label, strlen(label)}};
    CK_ULONG got = 0;
    if (!ok(f->C_FindObjectsInit(s, t, 2), "C_FindObjectsInit"))
        return -1;
    CK_RV rv = f->C_FindObjects(s, key, 1, &got);
    f->C_FindObjectsFinal(s);
    if (!ok(rv, "C_FindObjects"))
        return -1;
    if (got != 1) {
        fprintf(stderr, "p11loop: no private key labelled \"%s\"\n", label);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 6 || atol(argv[5]) < 1) {
        fprintf(stderr, "usage: p11loop MODULE TOKEN-LABEL PIN KEY-LABEL N\n");
        return 2;
    }
    long n = atol(argv[5]);
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE key;
    if (load(argv[1]) < 0 || find_token(argv[2], &slot) < 0 ||
        !ok(f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s), "C_OpenSession") ||
        !ok(f->C_Login(s, CKU_USER, (CK_UTF8CHAR *)argv[3], strlen(argv[3])), "C_Login") ||
        find_key(s, argv[4], &key) < 0)
        return 2;
    CK_BYTE hash[32], sig[512];
    memset(hash, 0x5A, sizeof hash);
    CK_MECHANISM m = {CKM_ECDSA, NULL, 0};
    double t0 = now_us();
    for (long i = 0; i < n; i++) {
        CK_ULONG len = sizeof sig;
        if (!ok(f->C_SignInit(s, &m, key), "C_SignInit") || !ok(f->C_Sign(s, hash, sizeof hash, sig, &len), "C_Sign"))
            return 2;
    }
    double sign = (now_us() - t0) / (double)n;
    f->C_Logout(s);
    f->C_CloseSession(s);
    f->C_Finalize(NULL);
    printf("sign_mean_us=%.2f\n", sign);
    return 0;
}
