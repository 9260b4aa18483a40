/* skfloop — the bare C loop of `make bench` row 6: a GM/T 0016 library
 * called directly (dlopen + dlsym, no child process, no trace), the
 * reference tokenrig's SKF layer is measured against.
 *
 *   skfloop LIBRARY DEVICE PIN N
 *
 * Connects DEVICE, opens its only application and container, then times N
 * SKF_GetPINInfo(USER_TYPE) and, after one SKF_VerifyPIN, N
 * SKF_ECCSignData of a fixed 32-byte digest. Prints
 * "pininfo_mean_us=X sign_mean_us=Y". Exit 2 on any error (the SAR named).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "skf_abi.h"

#define F(name, params) static name##_pfn p_##name;
TR_SKF_FUNCTIONS(F)
#undef F

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int load(const char *path)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "skfloop: %s\n", dlerror());
        return -1;
    }
#define F(name, params)                                                    \
    if (!(p_##name = (name##_pfn)dlsym(h, #name))) {                       \
        fprintf(stderr, "skfloop: %s is not exported by %s\n", #name, path); \
        return -1;                                                         \
    }
    TR_SKF_FUNCTIONS(F)
#undef F
    return 0;
}

static int ok(ULONG r, const char *what)
{
    if (r == SAR_OK)
        return 1;
    fprintf(stderr, "skfloop: %s answered %s\n", what, tr_skf_sar_name(r));
    return 0;
}

/* The only name of a list (the application, the container). */
static int only_name(ULONG (*enumf)(HANDLE, LPSTR, ULONG *), HANDLE h, char *name, ULONG cap)
{
    ULONG n = cap;
    return ok(enumf(h, name, &n), "enumerating") && n > 1;
}

static ULONG enum_app(HANDLE h, LPSTR s, ULONG *n) { return p_SKF_EnumApplication(h, s, n); }
static ULONG enum_con(HANDLE h, LPSTR s, ULONG *n) { return p_SKF_EnumContainer(h, s, n); }

int main(int argc, char **argv)
{
    if (argc != 5 || atol(argv[4]) < 1) {
        fprintf(stderr, "usage: skfloop LIBRARY DEVICE PIN N\n");
        return 2;
    }
    long n = atol(argv[4]);
    DEVHANDLE dev;
    HAPPLICATION app;
    HCONTAINER con;
    char an[256], cn[256];
    if (load(argv[1]) < 0 || !ok(p_SKF_ConnectDev(argv[2], &dev), "SKF_ConnectDev") ||
        !only_name(enum_app, dev, an, sizeof an) || !ok(p_SKF_OpenApplication(dev, an, &app), "SKF_OpenApplication") ||
        !only_name(enum_con, app, cn, sizeof cn) || !ok(p_SKF_OpenContainer(app, cn, &con), "SKF_OpenContainer"))
        return 2;
    ULONG max, left;
    BOOL dflt;
    double t0 = now_us();
    for (long i = 0; i < n; i++)
        if (!ok(p_SKF_GetPINInfo(app, USER_TYPE, &max, &left, &dflt), "SKF_GetPINInfo"))
            return 2;
    double pininfo = (now_us() - t0) / (double)n;
    ULONG retry;
    if (!ok(p_SKF_VerifyPIN(app, USER_TYPE, argv[3], &retry), "SKF_VerifyPIN"))
        return 2;
    BYTE e[32];
    memset(e, 0x5A, sizeof e);
    ECCSIGNATUREBLOB sig;
    t0 = now_us();
    for (long i = 0; i < n; i++)
        if (!ok(p_SKF_ECCSignData(con, e, sizeof e, &sig), "SKF_ECCSignData"))
            return 2;
    double sign = (now_us() - t0) / (double)n;
    p_SKF_ClearSecureState(app);
    p_SKF_CloseContainer(con);
    p_SKF_CloseApplication(app);
    p_SKF_DisConnectDev(dev);
    printf("pininfo_mean_us=%.2f sign_mean_us=%.2f\n", pininfo, sign);
    return 0;
}
