/* skfcheck — exercise a GM/T 0016 (SKF) library through dlopen + dlsym, as
 * tokenrig's SKF layer drives a vendor's library, against a virtual rig
 * (ci/tests/85-skf-lib.sh). Every outcome is checked independently: digests
 * against tokenrig's own (crypto.h), signatures verified with OpenSSL,
 * certificates against the vtoken's files, the seal through seal.h.
 *
 *   skfcheck LIB symbols     resolve every function of skf_abi.h; a missing
 *                            one is named (exit 1), never called
 *   skfcheck LIB devices     one line per device: name, DEVINFO fields, state
 *   skfcheck LIB token --serial S --alg sm2|rsa|ecdsa --role main|secondary
 *            --cert FILE [--enc-cert FILE] --out DIR [--tries N] [--so-tries N]
 *            [--off CMD --on CMD]
 *                            the certification-style checks on one token;
 *                            --off / --on power it off and on at the end
 *                            (shell commands): the open handle must go
 *                            SAR_DEVICE_REMOVED, the token come back
 *   skfcheck LIB wait --count N --timeout-ms T
 *                            print N device events ("event 1|2 NAME"), or
 *                            "cancelled SAR_..." when T ms pass first
 *
 * Output: "ok   - ..." / "FAIL - ..." lines; exit 0 when nothing failed. The
 * token checks leave the token as they found it (factory PINs, counters
 * full, logged out). PINs are the REF-1 factory ones.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "crypto.h"
#include "seal.h"
#include "skf_abi.h"

#define USER_PIN "12345678"
#define SO_PIN "88888888"
#define OTHER_PIN "13572468"
#define WRONG_PIN "11111111"
#define MAX_FILE (1u << 20)

/* ---- the library ---------------------------------------------------------------- */

#define SKF_MEMBER(name, params) name##_pfn name;
typedef struct {
    TR_SKF_FUNCTIONS(SKF_MEMBER)
} skf_api;
#undef SKF_MEMBER

#define SKF_ENTRY(name, params) {#name, offsetof(skf_api, name)},
static const struct {
    const char *name;
    size_t off;
} FUNCS[] = {TR_SKF_FUNCTIONS(SKF_ENTRY)};
#undef SKF_ENTRY
#define NFUNCS (sizeof FUNCS / sizeof FUNCS[0])

static skf_api api;

/* dlopen + one dlsym per function; the missing ones are printed. Returns
 * how many are missing, -1 when the library does not load. */
static int load(const char *path)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        printf("FAIL - dlopen %s: %s\n", path, dlerror());
        return -1;
    }
    int missing = 0;
    for (size_t i = 0; i < NFUNCS; i++) {
        void *p = dlsym(h, FUNCS[i].name);
        memcpy((char *)&api + FUNCS[i].off, &p, sizeof p); /* object -> function pointer */
        if (!p) {
            printf("missing %s\n", FUNCS[i].name);
            missing++;
        }
    }
    return missing;
}

/* ---- checks -------------------------------------------------------------------------- */

static int npass, nfail;

__attribute__((format(printf, 2, 3))) static bool check(bool cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf(cond ? "ok   - " : "FAIL - ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    cond ? npass++ : nfail++;
    return cond;
}

static bool sar_is(const char *what, ULONG got, ULONG want)
{
    if (got == want)
        return check(true, "%s: %s", what, tr_skf_sar_name(got));
    char g[40];
    snprintf(g, sizeof g, "%s", tr_skf_sar_name(got));
    return check(false, "%s: expected %s, got %s", what, tr_skf_sar_name(want), g);
}

static bool num_is(const char *what, unsigned long got, unsigned long want)
{
    return check(got == want, "%s: %lu%s%lu", what, got, got == want ? " = " : ", expected ", want);
}

static int read_all(const char *path, uint8_t **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    uint8_t *buf = malloc(MAX_FILE);
    size_t n = buf ? fread(buf, 1, MAX_FILE, f) : 0;
    bool ok = buf && !ferror(f) && n < MAX_FILE;
    fclose(f);
    if (!ok) {
        free(buf);
        return -1;
    }
    *data = buf;
    *len = n;
    return 0;
}

static void write_out(const char *dir, const char *name, const void *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(data, 1, len, f) == len;
    if (f)
        ok = fclose(f) == 0 && ok;
    if (!ok)
        check(false, "write %s", path);
}

/* ---- devices --------------------------------------------------------------------------- */

/* SKF_EnumDev(TRUE) into a malloc'd list (size-query convention checked). */
static char *enum_devices(bool quiet)
{
    ULONG size = 0;
    ULONG r = api.SKF_EnumDev(TRUE, NULL, &size);
    if (r != SAR_OK || size < 2 || size > 65536) {
        check(false, "SKF_EnumDev size query: %s, size %u", tr_skf_sar_name(r), (unsigned)size);
        return NULL;
    }
    char *list = calloc((size_t)size + 64, 1);
    ULONG small = 1, need = size;
    if (!quiet && size > 2)
        sar_is("SKF_EnumDev into a 1-byte buffer", api.SKF_EnumDev(TRUE, list, &small), SAR_BUFFER_TOO_SMALL);
    size += 64; /* a token may arrive between the two calls */
    r = api.SKF_EnumDev(TRUE, list, &size);
    if (r != SAR_OK) {
        check(false, "SKF_EnumDev: %s", tr_skf_sar_name(r));
        free(list);
        return NULL;
    }
    if (!quiet && need > 2)
        check(small == need, "SKF_EnumDev says the size it needs (%u)", (unsigned)small);
    return list;
}

static void print_devinfo(const char *name)
{
    DEVHANDLE dev = NULL;
    DEVINFO di;
    ULONG state = 9;
    ULONG r = api.SKF_ConnectDev((LPSTR)name, &dev);
    if (r == SAR_OK)
        r = api.SKF_GetDevInfo(dev, &di);
    api.SKF_GetDevState((LPSTR)name, &state);
    if (r != SAR_OK) {
        printf("%s: %s\n", name, tr_skf_sar_name(r));
    } else {
        printf("%s serial=%.32s manufacturer=%.64s label=%.32s firmware=%u.%u asym=0x%08X state=%u\n", name,
               di.SerialNumber, di.Manufacturer, di.Label, di.FirmwareVersion.major, di.FirmwareVersion.minor,
               (unsigned)di.AlgAsymCap, (unsigned)state);
    }
    if (dev)
        api.SKF_DisConnectDev(dev);
}

static int cmd_devices(void)
{
    char *list = enum_devices(true);
    if (!list)
        return 1;
    for (const char *n = list; *n; n += strlen(n) + 1)
        print_devinfo(n);
    free(list);
    return nfail ? 1 : 0;
}

/* ---- one token ---------------------------------------------------------------------------- */

typedef struct {
    const char *serial, *alg_name, *role, *cert_path, *enc_cert_path, *out, *power_off, *power_on;
    unsigned tries, so_tries;
    tr_alg alg;
    bool main_key;
    uint8_t *cert, *enc_cert;
    size_t cert_len, enc_cert_len;
} opts;

typedef struct {
    char name[64];
    DEVHANDLE dev;
    HAPPLICATION app;
    HCONTAINER cont;
} session;

/* The device whose DEVINFO serial is o->serial, connected. */
static bool find_token(const opts *o, session *s)
{
    char *list = enum_devices(false);
    if (!list)
        return false;
    DEVINFO di;
    for (const char *n = list; *n && !s->dev; n += strlen(n) + 1) {
        DEVHANDLE dev;
        if (api.SKF_ConnectDev((LPSTR)n, &dev) != SAR_OK)
            continue;
        if (api.SKF_GetDevInfo(dev, &di) == SAR_OK && strncmp(di.SerialNumber, o->serial, 32) == 0) {
            s->dev = dev;
            snprintf(s->name, sizeof s->name, "%s", n);
        } else {
            api.SKF_DisConnectDev(dev);
        }
    }
    free(list);
    if (!check(s->dev != NULL, "SKF_EnumDev(TRUE) lists a device whose DEVINFO serial is %s", o->serial))
        return false;
    char want[64];
    snprintf(want, sizeof want, "REF1-%s", o->serial);
    check(strcmp(s->name, want) == 0, "device name %s", s->name);
    check(strncmp(di.Manufacturer, "tokenrig REF-1", sizeof di.Manufacturer) == 0, "DEVINFO Manufacturer '%.64s'",
          di.Manufacturer);
    ULONG want_cap = o->alg == TR_ALG_SM2 ? (SGD_SM2_1 | SGD_SM2_SIGN_GMT0006) : o->alg == TR_ALG_RSA2048 ? SGD_RSA : 0;
    check(o->alg == TR_ALG_ECDSA_P256 ? di.AlgAsymCap == 0 : (di.AlgAsymCap & want_cap) != 0,
          "DEVINFO AlgAsymCap 0x%08X for %s", (unsigned)di.AlgAsymCap, o->alg_name);
    check(di.FirmwareVersion.major == 1 && di.FirmwareVersion.minor == 0, "DEVINFO FirmwareVersion %u.%u",
          di.FirmwareVersion.major, di.FirmwareVersion.minor);
    check(di.SerialNumber[sizeof di.SerialNumber - 1] == '\0' && di.Label[sizeof di.Label - 1] == '\0',
          "DEVINFO strings NUL-terminated (label '%.32s')", di.Label);
    ULONG state = 9;
    sar_is("SKF_GetDevState", api.SKF_GetDevState(s->name, &state), SAR_OK);
    num_is("device state (1 present)", state, DEV_PRESENT_STATE);
    sar_is("SKF_GetDevState of an unknown name", api.SKF_GetDevState("REF1-NOSUCHTOKEN0000", &state), SAR_OK);
    num_is("its state (0 absent)", state, DEV_ABSENT_STATE);
    return true;
}

static bool one_name(const char *what, const char *list, ULONG size, const char *want)
{
    return check(size == strlen(want) + 2 && strcmp(list, want) == 0 && list[strlen(want) + 1] == '\0',
                 "%s: one entry '%s' (%u bytes)", what, list, (unsigned)size);
}

static bool open_app(const opts *o, session *s)
{
    char list[256];
    ULONG size = sizeof list, type = 9;
    HAPPLICATION bad;
    sar_is("SKF_EnumApplication", api.SKF_EnumApplication(s->dev, list, &size), SAR_OK);
    one_name("applications", list, size, "REF1");
    sar_is("SKF_OpenApplication of a name not listed", api.SKF_OpenApplication(s->dev, "NOPE", &bad),
           SAR_APPLICATION_NOT_EXISTS);
    if (!sar_is("SKF_OpenApplication REF1", api.SKF_OpenApplication(s->dev, "REF1", &s->app), SAR_OK))
        return false;
    size = sizeof list;
    sar_is("SKF_EnumContainer", api.SKF_EnumContainer(s->app, list, &size), SAR_OK);
    one_name("containers", list, size, "REF1");
    if (!sar_is("SKF_OpenContainer", api.SKF_OpenContainer(s->app, list, &s->cont), SAR_OK))
        return false;
    sar_is("SKF_GetContainerType", api.SKF_GetContainerType(s->cont, &type), SAR_OK);
    num_is("container type (1 RSA, 2 ECC)", type, o->alg == TR_ALG_RSA2048 ? 1 : 2);
    return true;
}

static void pin_info_is(const session *s, ULONG type, ULONG max, ULONG left, BOOL def, const char *when)
{
    ULONG m = 99, l = 99;
    BOOL d = 7;
    char what[160];
    snprintf(what, sizeof what, "SKF_GetPINInfo(%s) %s", type == USER_TYPE ? "USER" : "ADMIN", when);
    if (!sar_is(what, api.SKF_GetPINInfo(s->app, type, &m, &l, &d), SAR_OK))
        return;
    check(m == max && l == left && d == def, "%s: max %u left %u default %d (expected %u %u %d)", what,
          (unsigned)m, (unsigned)l, (int)d, (unsigned)max, (unsigned)left, (int)def);
}

static void check_pins(const opts *o, const session *s)
{
    ULONG retry = 99, n = o->tries;
    pin_info_is(s, USER_TYPE, n, n, TRUE, "at factory state");
    pin_info_is(s, ADMIN_TYPE, o->so_tries, o->so_tries, FALSE, "at factory state");
    sar_is("wrong SKF_VerifyPIN", api.SKF_VerifyPIN(s->app, USER_TYPE, WRONG_PIN, &retry), SAR_PIN_INCORRECT);
    num_is("  its retry count", retry, n - 1);
    pin_info_is(s, USER_TYPE, n, n - 1, TRUE, "after a wrong PIN");
    sar_is("right SKF_VerifyPIN", api.SKF_VerifyPIN(s->app, USER_TYPE, USER_PIN, &retry), SAR_OK);
    pin_info_is(s, USER_TYPE, n, n, TRUE, "after the right PIN");
    sar_is("a 3-character PIN", api.SKF_VerifyPIN(s->app, USER_TYPE, "123", &retry), SAR_PIN_LEN_RANGE);
    sar_is("a 17-character PIN", api.SKF_VerifyPIN(s->app, USER_TYPE, "12345678901234567", &retry),
           SAR_PIN_LEN_RANGE);
    pin_info_is(s, USER_TYPE, n, n, TRUE, "(a PIN of the wrong length costs no try)");
    sar_is("SKF_VerifyPIN(ADMIN): REF-1 has no SO VERIFY", api.SKF_VerifyPIN(s->app, ADMIN_TYPE, SO_PIN, &retry),
           SAR_NOTSUPPORTYETERR);
    sar_is("SKF_VerifyPIN of PIN type 5", api.SKF_VerifyPIN(s->app, 5, USER_PIN, &retry), SAR_USER_TYPE_INVALID);
    sar_is("SKF_ChangePIN to " OTHER_PIN, api.SKF_ChangePIN(s->app, USER_TYPE, USER_PIN, OTHER_PIN, &retry), SAR_OK);
    pin_info_is(s, USER_TYPE, n, n, FALSE, "after the change");
    sar_is("the old PIN", api.SKF_VerifyPIN(s->app, USER_TYPE, USER_PIN, &retry), SAR_PIN_INCORRECT);
    sar_is("the new PIN", api.SKF_VerifyPIN(s->app, USER_TYPE, OTHER_PIN, &retry), SAR_OK);
    sar_is("SKF_ChangePIN with a wrong old PIN", api.SKF_ChangePIN(s->app, USER_TYPE, WRONG_PIN, USER_PIN, &retry),
           SAR_PIN_INCORRECT);
    num_is("  its retry count", retry, n - 1);
    sar_is("SKF_ChangePIN to a 5-character PIN", api.SKF_ChangePIN(s->app, USER_TYPE, OTHER_PIN, "12345", &retry),
           SAR_PIN_LEN_RANGE);
    sar_is("SKF_ChangePIN back", api.SKF_ChangePIN(s->app, USER_TYPE, OTHER_PIN, USER_PIN, &retry), SAR_OK);
    pin_info_is(s, USER_TYPE, n, n, TRUE, "after changing back");
    sar_is("SKF_ChangePIN(ADMIN)", api.SKF_ChangePIN(s->app, ADMIN_TYPE, SO_PIN, "87878787", &retry),
           SAR_NOTSUPPORTYETERR);
}

static void check_block_unblock(const opts *o, const session *s)
{
    ULONG retry = 99, n = o->tries;
    bool steps = true;
    for (ULONG i = 1; i <= n; i++) {
        ULONG r = api.SKF_VerifyPIN(s->app, USER_TYPE, WRONG_PIN, &retry);
        steps = steps && r == SAR_PIN_INCORRECT && retry == n - i;
    }
    check(steps, "%u wrong PINs: SAR_PIN_INCORRECT with the retry count going %u..0", (unsigned)n, (unsigned)n - 1);
    pin_info_is(s, USER_TYPE, n, 0, TRUE, "when blocked");
    retry = 99;
    sar_is("the right PIN on a blocked token", api.SKF_VerifyPIN(s->app, USER_TYPE, USER_PIN, &retry), SAR_PIN_LOCKED);
    num_is("  its retry count", retry, 0);
    sar_is("SKF_UnblockPIN with a wrong SO PIN", api.SKF_UnblockPIN(s->app, "99999999", USER_PIN, &retry),
           SAR_PIN_INCORRECT);
    num_is("  SO tries left", retry, o->so_tries - 1);
    pin_info_is(s, ADMIN_TYPE, o->so_tries, o->so_tries - 1, FALSE, "after a wrong SO PIN");
    sar_is("SKF_UnblockPIN with a 4-character new PIN", api.SKF_UnblockPIN(s->app, SO_PIN, "1234", &retry),
           SAR_PIN_LEN_RANGE);
    sar_is("SKF_UnblockPIN", api.SKF_UnblockPIN(s->app, SO_PIN, USER_PIN, &retry), SAR_OK);
    pin_info_is(s, USER_TYPE, n, n, TRUE, "after the unblock");
    pin_info_is(s, ADMIN_TYPE, o->so_tries, o->so_tries, FALSE, "after the unblock");
    sar_is("SKF_VerifyPIN after the unblock", api.SKF_VerifyPIN(s->app, USER_TYPE, USER_PIN, &retry), SAR_OK);
}

/* ---- files and certificates ------------------------------------------------------------- */

static void check_seal_secondary(const session *s)
{
    FILEATTRIBUTE fa;
    ULONG len = 16;
    uint8_t buf[16];
    sar_is("SKF_GetFileInfo(SEAL) on a secondary key", api.SKF_GetFileInfo(s->app, "SEAL", &fa), SAR_FILE_NOT_EXIST);
    sar_is("SKF_ReadFile(SEAL) on a secondary key", api.SKF_ReadFile(s->app, "SEAL", 0, 16, buf, &len),
           SAR_FILE_NOT_EXIST);
}

static void check_seal_main(const opts *o, const session *s)
{
    FILEATTRIBUTE fa;
    ULONG len = 0, retry;
    uint8_t probe[4];
    api.SKF_ClearSecureState(s->app);
    sar_is("SKF_GetFileInfo(SEAL) before VERIFY", api.SKF_GetFileInfo(s->app, "SEAL", &fa), SAR_USER_NOT_LOGGED_IN);
    len = sizeof probe;
    sar_is("SKF_ReadFile(SEAL) before VERIFY", api.SKF_ReadFile(s->app, "SEAL", 0, 4, probe, &len),
           SAR_USER_NOT_LOGGED_IN);
    api.SKF_VerifyPIN(s->app, USER_TYPE, USER_PIN, &retry);
    if (!sar_is("SKF_GetFileInfo(SEAL)", api.SKF_GetFileInfo(s->app, "SEAL", &fa), SAR_OK))
        return;
    check(fa.FileSize > 100 && fa.ReadRights == SECURE_USER_ACCOUNT && strcmp(fa.FileName, "SEAL") == 0,
          "FILEATTRIBUTE: %s, %u bytes, read rights 0x%X", fa.FileName, (unsigned)fa.FileSize, (unsigned)fa.ReadRights);
    sar_is("SKF_ReadFile size query", api.SKF_ReadFile(s->app, "SEAL", 0, fa.FileSize, NULL, &len), SAR_OK);
    num_is("  the size it gives", len, fa.FileSize);
    uint8_t *seal = calloc(fa.FileSize + 1, 1), *part = calloc(fa.FileSize + 1, 1);
    len = fa.FileSize - 1;
    sar_is("SKF_ReadFile into a buffer 1 byte short", api.SKF_ReadFile(s->app, "SEAL", 0, fa.FileSize, seal, &len),
           SAR_BUFFER_TOO_SMALL);
    len = fa.FileSize;
    sar_is("SKF_ReadFile(SEAL)", api.SKF_ReadFile(s->app, "SEAL", 0, fa.FileSize, seal, &len), SAR_OK);
    ULONG half = fa.FileSize / 2, l1 = half, l2 = fa.FileSize;
    bool parts = api.SKF_ReadFile(s->app, "SEAL", 0, half, part, &l1) == SAR_OK &&
                 api.SKF_ReadFile(s->app, "SEAL", half, fa.FileSize, part + half, &l2) == SAR_OK &&
                 l1 + l2 == fa.FileSize && memcmp(part, seal, fa.FileSize) == 0;
    check(parts, "the seal read in two parts (offset %u) is the same", (unsigned)half);
    write_out(o->out, "seal.der", seal, len);
    tr_seal_info si;
    tr_err e;
    int rc = tr_seal_inspect(seal, len, o->cert, o->cert_len, time(NULL), &si, &e);
    check(rc == 0 && si.sig_ok == 1 && si.token_cert_listed, "the seal parses (v%d), its signature verifies and it "
          "lists the token's certificate%s%s", rc == 0 ? si.version : 0, rc ? ": " : "", rc ? e.msg : "");
    sar_is("SKF_ReadFile of a name not listed", api.SKF_ReadFile(s->app, "NOPE", 0, 4, probe, &len),
           SAR_FILE_NOT_EXIST);
    free(seal);
    free(part);
}

static void check_files(const opts *o, const session *s)
{
    char list[256];
    ULONG size = sizeof list;
    sar_is("SKF_EnumFiles", api.SKF_EnumFiles(s->app, list, &size), SAR_OK);
    if (o->main_key) {
        one_name("files of a main key", list, size, "SEAL");
        check_seal_main(o, s);
    } else {
        check(size == 2 && list[0] == '\0' && list[1] == '\0', "files of a secondary key: none (%u bytes)",
              (unsigned)size);
        check_seal_secondary(s);
    }
}

/* SKF_ExportCertificate with the size-query convention; compared with the
 * vtoken's own file. */
static void check_cert(const opts *o, const session *s, BOOL sign, const uint8_t *want, size_t want_len)
{
    const char *which = sign ? "signing" : "encryption";
    ULONG len = 0;
    char what[96];
    snprintf(what, sizeof what, "SKF_ExportCertificate(%s) size query", which);
    if (!want) {
        sar_is(what, api.SKF_ExportCertificate(s->cont, sign, NULL, &len), SAR_CERTNOTFOUNTERR);
        return;
    }
    if (!sar_is(what, api.SKF_ExportCertificate(s->cont, sign, NULL, &len), SAR_OK))
        return;
    num_is("  its size is the vtoken's certificate's", len, want_len);
    uint8_t *der = calloc((size_t)len + 1, 1);
    ULONG small = len - 1;
    sar_is("  into a buffer 1 byte short", api.SKF_ExportCertificate(s->cont, sign, der, &small),
           SAR_BUFFER_TOO_SMALL);
    sar_is("  the certificate", api.SKF_ExportCertificate(s->cont, sign, der, &len), SAR_OK);
    check(len == want_len && memcmp(der, want, want_len) == 0, "%s certificate exported = the vtoken's", which);
    write_out(o->out, sign ? "cert.der" : "enc.der", der, len);
    free(der);
}

/* The blob's key against the certificate's (OpenSSL's reading). */
static bool blob_matches(const opts *o, const uint8_t *blob, size_t len)
{
    tr_err e;
    X509 *x = tr_cert_parse(o->cert, o->cert_len, &e);
    EVP_PKEY *pk = x ? X509_get0_pubkey(x) : NULL;
    BIGNUM *a = NULL, *b = NULL;
    uint8_t ab[2 * 256];
    bool ok = false;
    if (pk && o->alg == TR_ALG_RSA2048 && len == sizeof(RSAPUBLICKEYBLOB)) {
        RSAPUBLICKEYBLOB rb;
        memcpy(&rb, blob, sizeof rb);
        ok = EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &a) && EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &b) &&
             BN_bn2binpad(a, ab, 256) == 256 && BN_bn2binpad(b, ab + 256, 4) == 4 && rb.AlgID == SGD_RSA &&
             rb.BitLen == 2048 && memcmp(rb.Modulus, ab, 256) == 0 && memcmp(rb.PublicExponent, ab + 256, 4) == 0;
    } else if (pk && len == sizeof(ECCPUBLICKEYBLOB)) {
        ECCPUBLICKEYBLOB eb;
        memcpy(&eb, blob, sizeof eb);
        ok = EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_X, &a) && EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_Y, &b) &&
             BN_bn2binpad(a, ab, 64) == 64 && BN_bn2binpad(b, ab + 64, 64) == 64 && eb.BitLen == 256 &&
             memcmp(eb.XCoordinate, ab, 64) == 0 && memcmp(eb.YCoordinate, ab + 64, 64) == 0;
    }
    BN_free(a);
    BN_free(b);
    X509_free(x);
    return ok;
}

static bool check_pubkey(const opts *o, const session *s, uint8_t *blob, size_t cap)
{
    ULONG len = 0;
    size_t want = o->alg == TR_ALG_RSA2048 ? sizeof(RSAPUBLICKEYBLOB) : sizeof(ECCPUBLICKEYBLOB);
    sar_is("SKF_ExportPublicKey(sign) size query", api.SKF_ExportPublicKey(s->cont, TRUE, NULL, &len), SAR_OK);
    num_is("  the blob's size", len, want);
    len = (ULONG)cap;
    if (!sar_is("SKF_ExportPublicKey(sign)", api.SKF_ExportPublicKey(s->cont, TRUE, blob, &len), SAR_OK))
        return false;
    return check(len == want && blob_matches(o, blob, len), "the public key blob is the certificate's key "
                 "(right-aligned)");
}

/* ---- signing ---------------------------------------------------------------------------------- */

static bool rs_to_der(const uint8_t rs[64], uint8_t *der, size_t cap, size_t *len)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(rs, 32, NULL), *s = BN_bin2bn(rs + 32, 32, NULL);
    bool ok = sig && r && s && ECDSA_SIG_set0(sig, r, s);
    if (!ok) {
        BN_free(r);
        BN_free(s);
    }
    int n = ok ? i2d_ECDSA_SIG(sig, NULL) : -1;
    unsigned char *p = der;
    ok = ok && n > 0 && (size_t)n <= cap && i2d_ECDSA_SIG(sig, &p) == n;
    ECDSA_SIG_free(sig);
    *len = ok ? (size_t)n : 0;
    return ok;
}

/* DigestInit (+ Z for SM2) and Digest over msg; e compared with crypto.h's. */
static bool digest_msg(const opts *o, const session *s, ECCPUBLICKEYBLOB *pub, const uint8_t *msg, size_t n,
                       uint8_t out[32])
{
    HANDLE h = NULL;
    ULONG alg = o->alg == TR_ALG_SM2 ? SGD_SM3 : SGD_SHA256, len = 0;
    BYTE *id = (BYTE *)TR_SM2_DEFAULT_ID;
    ULONG r = o->alg == TR_ALG_SM2 ? api.SKF_DigestInit(s->dev, alg, pub, id, 16, &h)
                                   : api.SKF_DigestInit(s->dev, alg, NULL, NULL, 0, &h);
    if (!sar_is(o->alg == TR_ALG_SM2 ? "SKF_DigestInit(SM3, public key, 1234567812345678)" : "SKF_DigestInit(SHA-256)",
                r, SAR_OK))
        return false;
    sar_is("SKF_Digest size query", api.SKF_Digest(h, (BYTE *)msg, (ULONG)n, NULL, &len), SAR_OK);
    num_is("  the digest's size", len, 32);
    len = 32;
    r = api.SKF_Digest(h, (BYTE *)msg, (ULONG)n, out, &len);
    sar_is("SKF_Digest", r, SAR_OK);
    sar_is("SKF_Digest again on a finished hash", api.SKF_Digest(h, (BYTE *)msg, (ULONG)n, out, &len), SAR_HASHOBJERR);
    sar_is("SKF_CloseHandle(hash)", api.SKF_CloseHandle(h), SAR_OK);
    uint8_t want[64];
    size_t wl = 0;
    tr_err e;
    /* REF-1's PSO input: e for SM2 / ECDSA, DigestInfo(SHA-256) for RSA */
    bool same = tr_sign_input(o->alg, o->cert, o->cert_len, msg, n, want, sizeof want, &wl, &e) == 0 &&
                wl >= 32 && memcmp(want + wl - 32, out, 32) == 0;
    return check(r == SAR_OK && same, "the library's digest is tokenrig's %s", o->alg == TR_ALG_SM2 ? "SM3(Z_A || M)"
                                                                                                 : "SHA-256(M)");
}

/* The same digest fed in two parts through DigestUpdate / DigestFinal. */
static void digest_parts(const opts *o, const session *s, ECCPUBLICKEYBLOB *pub, const uint8_t *msg, size_t n,
                         const uint8_t want[32])
{
    HANDLE h = NULL;
    uint8_t out[32];
    ULONG len = sizeof out;
    ULONG alg = o->alg == TR_ALG_SM2 ? SGD_SM3 : SGD_SHA256;
    bool ok = api.SKF_DigestInit(s->dev, alg, o->alg == TR_ALG_SM2 ? pub : NULL, NULL, 0, &h) == SAR_OK &&
              api.SKF_DigestUpdate(h, (BYTE *)msg, (ULONG)(n / 2)) == SAR_OK &&
              api.SKF_DigestUpdate(h, (BYTE *)msg + n / 2, (ULONG)(n - n / 2)) == SAR_OK &&
              api.SKF_DigestFinal(h, out, &len) == SAR_OK && len == 32 && memcmp(out, want, 32) == 0;
    if (h)
        api.SKF_CloseHandle(h);
    check(ok, "DigestUpdate x2 + DigestFinal give the same digest%s", o->alg == TR_ALG_SM2 ? " (default ID when none "
                                                                                           "is given)" : "");
}

static void check_ecc_sign(const opts *o, const session *s, const uint8_t e[32], const uint8_t *msg, size_t n)
{
    ECCSIGNATUREBLOB sig;
    memset(&sig, 0xAA, sizeof sig);
    sar_is("SKF_ECCSignData of 31 bytes", api.SKF_ECCSignData(s->cont, (BYTE *)e, 31, &sig), SAR_INDATALENERR);
    if (!sar_is("SKF_ECCSignData", api.SKF_ECCSignData(s->cont, (BYTE *)e, 32, &sig), SAR_OK))
        return;
    uint8_t zero[32] = {0}, rs[64], der[80];
    check(memcmp(sig.r, zero, 32) == 0 && memcmp(sig.s, zero, 32) == 0, "r and s right-aligned in ECCSIGNATUREBLOB");
    memcpy(rs, sig.r + 32, 32);
    memcpy(rs + 32, sig.s + 32, 32);
    tr_err err;
    int v = tr_verify_token_signature(o->alg, o->cert, o->cert_len, msg, n, rs, 64, &err);
    check(v == 1, "the %s signature verifies against the certificate (OpenSSL)%s%s", o->alg_name, v == 1 ? "" : ": ",
          v == 1 ? "" : err.msg);
    size_t dl = 0;
    if (rs_to_der(rs, der, sizeof der, &dl))
        write_out(o->out, "sig.der", der, dl);
}

static void check_rsa_sign(const opts *o, const session *s, const uint8_t h[32], const uint8_t *msg, size_t n)
{
    static const uint8_t prefix[19] = {0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                       0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
    uint8_t di[51], sig[300];
    memcpy(di, prefix, sizeof prefix);
    memcpy(di + sizeof prefix, h, 32);
    ULONG len = 0;
    sar_is("SKF_RSASignData size query", api.SKF_RSASignData(s->cont, di, sizeof di, NULL, &len), SAR_OK);
    num_is("  the signature's size", len, 256);
    len = 255;
    sar_is("SKF_RSASignData into 255 bytes", api.SKF_RSASignData(s->cont, di, sizeof di, sig, &len),
           SAR_BUFFER_TOO_SMALL);
    len = sizeof sig;
    if (!sar_is("SKF_RSASignData(DigestInfo)", api.SKF_RSASignData(s->cont, di, sizeof di, sig, &len), SAR_OK))
        return;
    tr_err e;
    int v = tr_verify_token_signature(TR_ALG_RSA2048, o->cert, o->cert_len, msg, n, sig, len, &e);
    check(len == 256 && v == 1, "the RSA signature verifies against the certificate (OpenSSL)%s%s", v == 1 ? "" : ": ",
          v == 1 ? "" : e.msg);
    write_out(o->out, "sig.bin", sig, len);
    len = sizeof sig;
    bool bare = api.SKF_RSASignData(s->cont, (BYTE *)h, 32, sig, &len) == SAR_OK &&
                tr_verify_token_signature(TR_ALG_RSA2048, o->cert, o->cert_len, msg, n, sig, len, &e) == 1;
    check(bare, "SKF_RSASignData of the bare SHA-256 digest verifies too");
    len = sizeof sig;
    sar_is("SKF_RSASignData of 40 bytes", api.SKF_RSASignData(s->cont, di, 40, sig, &len), SAR_INDATALENERR);
}

static void check_signing(const opts *o, const session *s)
{
    uint8_t blob[sizeof(RSAPUBLICKEYBLOB)], e[32];
    char msg[128];
    int n = snprintf(msg, sizeof msg, "tokenrig skfcheck: a message signed by %s", o->serial);
    write_out(o->out, "msg", msg, (size_t)n);
    ULONG retry;
    if (!check_pubkey(o, s, blob, sizeof blob))
        return;
    ECCPUBLICKEYBLOB pub;
    memcpy(&pub, blob, sizeof pub);
    if (!digest_msg(o, s, &pub, (const uint8_t *)msg, (size_t)n, e))
        return;
    digest_parts(o, s, &pub, (const uint8_t *)msg, (size_t)n, e);
    api.SKF_VerifyPIN(s->app, USER_TYPE, USER_PIN, &retry);
    if (o->alg == TR_ALG_RSA2048) {
        check_rsa_sign(o, s, e, (const uint8_t *)msg, (size_t)n);
        ECCSIGNATUREBLOB sig;
        sar_is("SKF_ECCSignData on an RSA container", api.SKF_ECCSignData(s->cont, e, 32, &sig), SAR_KEYNOTFOUNTERR);
    } else {
        check_ecc_sign(o, s, e, (const uint8_t *)msg, (size_t)n);
        ULONG len = 256;
        uint8_t sig[256];
        sar_is("SKF_RSASignData on an ECC container", api.SKF_RSASignData(s->cont, e, 32, sig, &len),
               SAR_KEYNOTFOUNTERR);
    }
    sar_is("SKF_ClearSecureState", api.SKF_ClearSecureState(s->app), SAR_OK);
    ECCSIGNATUREBLOB sig;
    uint8_t rsig[256];
    ULONG len = sizeof rsig;
    ULONG r = o->alg == TR_ALG_RSA2048 ? api.SKF_RSASignData(s->cont, e, 32, rsig, &len)
                                       : api.SKF_ECCSignData(s->cont, e, 32, &sig);
    sar_is("signing after SKF_ClearSecureState", r, SAR_USER_NOT_LOGGED_IN);
}

/* ---- decryption (bid opening) ------------------------------------------------------------------ */

static bool der_next(const uint8_t **p, const uint8_t *end, uint8_t tag, const uint8_t **v, size_t *len)
{
    if (end - *p < 2 || (*p)[0] != tag)
        return false;
    size_t l = (*p)[1], h = 2;
    if (l & 0x80) {
        size_t k = l & 0x7Fu;
        if (k < 1 || k > 2 || (size_t)(end - *p) < 2 + k)
            return false;
        l = 0;
        for (size_t i = 0; i < k; i++)
            l = l << 8 | (*p)[2 + i];
        h += k;
    }
    if ((size_t)(end - *p) - h < l)
        return false;
    *v = *p + h;
    *len = l;
    *p += h + l;
    return true;
}

static bool put_coord(BYTE dst[64], const uint8_t *v, size_t n)
{
    while (n > 0 && *v == 0) {
        v++;
        n--;
    }
    if (n > 32)
        return false;
    memcpy(dst + 64 - n, v, n);
    return true;
}

/* OpenSSL's SM2 ciphertext (GM/T 0009 DER) -> ECCCIPHERBLOB. */
static bool sm2_der_to_blob(const uint8_t *der, size_t n, uint8_t *blob, size_t cap, size_t *blen)
{
    const uint8_t *p = der, *end = der + n, *seq, *x, *y, *h, *c;
    size_t sl, xl, yl, hl, cl;
    if (!der_next(&p, end, 0x30, &seq, &sl))
        return false;
    p = seq;
    end = seq + sl;
    if (!der_next(&p, end, 0x02, &x, &xl) || !der_next(&p, end, 0x02, &y, &yl) || !der_next(&p, end, 0x04, &h, &hl) ||
        !der_next(&p, end, 0x04, &c, &cl) || hl != 32 || ECCCIPHERBLOB_SIZE(cl) > cap)
        return false;
    ECCCIPHERBLOB hdr;
    memset(&hdr, 0, sizeof hdr);
    if (!put_coord(hdr.XCoordinate, x, xl) || !put_coord(hdr.YCoordinate, y, yl))
        return false;
    memcpy(hdr.HASH, h, 32);
    hdr.CipherLen = (ULONG)cl;
    memcpy(blob, &hdr, ECCCIPHERBLOB_HEADER_SIZE);
    memcpy(blob + ECCCIPHERBLOB_HEADER_SIZE, c, cl);
    *blen = ECCCIPHERBLOB_SIZE(cl);
    return true;
}

/* OpenSSL encrypts to SM2 only with a key of type SM2. */
static EVP_PKEY *encryption_key(EVP_PKEY *pk)
{
    if (!EVP_PKEY_is_a(pk, "EC") || EVP_PKEY_is_a(pk, "SM2"))
        return EVP_PKEY_up_ref(pk) ? pk : NULL;
    uint8_t pub[65];
    size_t l = 0;
    EVP_PKEY *out = NULL;
    char group[] = "SM2";
    if (!EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub, &l))
        return NULL;
    OSSL_PARAM params[] = {OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
                           OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub, l), OSSL_PARAM_END};
    EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL);
    if (!c || EVP_PKEY_fromdata_init(c) <= 0 || EVP_PKEY_fromdata(c, &out, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        out = NULL;
    EVP_PKEY_CTX_free(c);
    return out;
}

/* The session key wrapped to the encryption certificate as SKF takes it. */
static bool wrap_key(const opts *o, const uint8_t key[16], uint8_t *out, size_t cap, size_t *len)
{
    tr_err e;
    X509 *x = tr_cert_parse(o->enc_cert, o->enc_cert_len, &e);
    EVP_PKEY *pk = x ? encryption_key(X509_get0_pubkey(x)) : NULL;
    EVP_PKEY_CTX *c = pk ? EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL) : NULL;
    uint8_t ct[512];
    size_t ctl = sizeof ct;
    bool ok = c && EVP_PKEY_encrypt_init(c) > 0 &&
              (o->alg != TR_ALG_RSA2048 || EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) > 0) &&
              EVP_PKEY_encrypt(c, ct, &ctl, key, 16) > 0;
    if (ok && o->alg == TR_ALG_RSA2048) {
        ok = ctl == 256 && ctl <= cap;
        if (ok)
            memcpy(out, ct, ctl);
        *len = ctl;
    } else if (ok) {
        ok = sm2_der_to_blob(ct, ctl, out, cap, len);
    }
    EVP_PKEY_CTX_free(c);
    EVP_PKEY_free(pk);
    X509_free(x);
    return ok;
}

static bool sm4_cbc_encrypt(const uint8_t key[16], const uint8_t iv[16], const uint8_t *in, int n, uint8_t *out,
                            int *out_len)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int a = 0, b = 0;
    bool ok = c && EVP_EncryptInit_ex(c, EVP_sm4_cbc(), NULL, key, iv) && EVP_EncryptUpdate(c, out, &a, in, n) &&
              EVP_EncryptFinal_ex(c, out + a, &b);
    EVP_CIPHER_CTX_free(c);
    *out_len = a + b;
    return ok;
}

/* Open an envelope made to the encryption certificate; the plaintext back. */
static void open_envelope(const session *s, const uint8_t *wrapped, size_t wl, const uint8_t iv[16],
                          const uint8_t *ct, int ctl, const char *plain)
{
    HANDLE k = NULL;
    if (!sar_is("SKF_ImportSessionKey(SM4-CBC)", api.SKF_ImportSessionKey(s->cont, SGD_SM4_CBC, (BYTE *)wrapped,
                                                                          (ULONG)wl, &k), SAR_OK))
        return;
    BLOCKCIPHERPARAM bp;
    memset(&bp, 0, sizeof bp);
    memcpy(bp.IV, iv, 16);
    bp.IVLen = 16;
    bp.PaddingType = 1;
    uint8_t out[256];
    ULONG len = 0;
    sar_is("SKF_Decrypt before SKF_DecryptInit", api.SKF_Decrypt(k, (BYTE *)ct, (ULONG)ctl, out, &len),
           SAR_NOTINITIALIZEERR);
    sar_is("SKF_DecryptInit(IV, PKCS#5)", api.SKF_DecryptInit(k, bp), SAR_OK);
    sar_is("SKF_Decrypt size query", api.SKF_Decrypt(k, (BYTE *)ct, (ULONG)ctl, NULL, &len), SAR_OK);
    check(len >= (ULONG)ctl - 16 && len <= (ULONG)ctl, "  it asks for %u bytes", (unsigned)len);
    len = sizeof out;
    ULONG r = api.SKF_Decrypt(k, (BYTE *)ct, (ULONG)ctl, out, &len);
    sar_is("SKF_Decrypt", r, SAR_OK);
    check(r == SAR_OK && len == strlen(plain) && memcmp(out, plain, len) == 0, "the bid opens: '%.*s'",
          r == SAR_OK ? (int)len : 0, (const char *)out);
    sar_is("SKF_CloseHandle(key)", api.SKF_CloseHandle(k), SAR_OK);
}

static void check_decrypt(const opts *o, const session *s)
{
    if (!o->enc_cert) {
        printf("# no encryption certificate given: SKF_ImportSessionKey / SKF_Decrypt not exercised\n");
        return;
    }
    uint8_t key[16], iv[16], wrapped[512], ct[256];
    char plain[96];
    int pl = snprintf(plain, sizeof plain, "sealed bid of %s: 1,234,567.89 CNY", o->serial), ctl = 0;
    size_t wl = 0;
    ULONG retry;
    HANDLE k = NULL;
    bool made = RAND_bytes(key, 16) == 1 && RAND_bytes(iv, 16) == 1 && wrap_key(o, key, wrapped, sizeof wrapped, &wl) &&
                sm4_cbc_encrypt(key, iv, (const uint8_t *)plain, pl, ct, &ctl);
    if (!check(made, "an envelope made to the encryption certificate (%zu-byte wrapped key)", wl))
        return;
    api.SKF_ClearSecureState(s->app);
    sar_is("SKF_ImportSessionKey before VERIFY",
           api.SKF_ImportSessionKey(s->cont, SGD_SM4_CBC, wrapped, (ULONG)wl, &k), SAR_USER_NOT_LOGGED_IN);
    api.SKF_VerifyPIN(s->app, USER_TYPE, USER_PIN, &retry);
    open_envelope(s, wrapped, wl, iv, ct, ctl, plain);
    if (o->alg == TR_ALG_SM2) {
        wrapped[wl - 1] ^= 0x01; /* C2 altered: C3 no longer matches */
        sar_is("SKF_ImportSessionKey of an altered ciphertext",
               api.SKF_ImportSessionKey(s->cont, SGD_SM4_CBC, wrapped, (ULONG)wl, &k), SAR_INDATAERR);
    }
    sar_is("SKF_ImportSessionKey(SGD_SM3): not a session key algorithm",
           api.SKF_ImportSessionKey(s->cont, SGD_SM3, wrapped, (ULONG)wl, &k), SAR_NOTSUPPORTYETERR);
    api.SKF_ClearSecureState(s->app);
}

/* ---- handles, random, teardown, power ---------------------------------------------------------- */

static void check_handles(const session *s)
{
    int local = 0;
    ULONG m, l;
    BOOL d;
    DEVINFO di;
    sar_is("SKF_GetPINInfo on a made-up handle", api.SKF_GetPINInfo(&local, USER_TYPE, &m, &l, &d),
           SAR_INVALIDHANDLEERR);
    sar_is("SKF_GetPINInfo on NULL", api.SKF_GetPINInfo(NULL, USER_TYPE, &m, &l, &d), SAR_INVALIDHANDLEERR);
    sar_is("SKF_GetDevInfo on a container handle", api.SKF_GetDevInfo(s->cont, &di), SAR_INVALIDHANDLEERR);
    sar_is("SKF_CloseHandle on an application handle", api.SKF_CloseHandle(s->app), SAR_INVALIDHANDLEERR);
    sar_is("SKF_GetPINInfo with a NULL output", api.SKF_GetPINInfo(s->app, USER_TYPE, NULL, &l, &d),
           SAR_INVALIDPARAMERR);
    uint8_t a[32] = {0}, b[32] = {0}, zero[32] = {0};
    bool ok = api.SKF_GenRandom(s->dev, a, 32) == SAR_OK && api.SKF_GenRandom(s->dev, b, 32) == SAR_OK;
    check(ok && memcmp(a, b, 32) != 0 && memcmp(a, zero, 32) != 0, "SKF_GenRandom: two different 32-byte draws");
    sar_is("SKF_LockDev", api.SKF_LockDev(s->dev, 1000), SAR_OK);
    sar_is("  a call while locked", api.SKF_GetPINInfo(s->app, USER_TYPE, &m, &l, &d), SAR_OK);
    sar_is("SKF_UnlockDev", api.SKF_UnlockDev(s->dev), SAR_OK);
    sar_is("SKF_UnlockDev when not locked", api.SKF_UnlockDev(s->dev), SAR_FAIL);
}

static void close_session(session *s)
{
    ULONG m, l;
    BOOL d;
    sar_is("SKF_CloseContainer", api.SKF_CloseContainer(s->cont), SAR_OK);
    sar_is("SKF_CloseApplication", api.SKF_CloseApplication(s->app), SAR_OK);
    sar_is("SKF_DisConnectDev", api.SKF_DisConnectDev(s->dev), SAR_OK);
    sar_is("the closed application's handle", api.SKF_GetPINInfo(s->app, USER_TYPE, &m, &l, &d), SAR_INVALIDHANDLEERR);
    sar_is("SKF_DisConnectDev again", api.SKF_DisConnectDev(s->dev), SAR_INVALIDHANDLEERR);
    memset(s, 0, sizeof *s);
}

static bool wait_present(const char *name, unsigned timeout_ms)
{
    for (unsigned t = 0; t < timeout_ms; t += 100) {
        ULONG state = 0;
        if (api.SKF_GetDevState((LPSTR)name, &state) == SAR_OK && state == DEV_PRESENT_STATE)
            return true;
        usleep(100 * 1000);
    }
    return false;
}

static bool reopen(session *s, const char *name)
{
    snprintf(s->name, sizeof s->name, "%s", name);
    return api.SKF_ConnectDev(s->name, &s->dev) == SAR_OK && api.SKF_OpenApplication(s->dev, "REF1", &s->app) == SAR_OK &&
           api.SKF_OpenContainer(s->app, "REF1", &s->cont) == SAR_OK;
}

/* Whether SKF_EnumDev(present) lists name. */
static bool listed(BOOL present, const char *name)
{
    char list[4096];
    ULONG size = sizeof list;
    if (api.SKF_EnumDev(present, list, &size) != SAR_OK)
        return false;
    for (const char *n = list; *n; n += strlen(n) + 1)
        if (strcmp(n, name) == 0)
            return true;
    return false;
}

/* Power off under an open handle: SAR_DEVICE_REMOVED, the device absent;
 * power on: a fresh connection to a token that has forgotten the PIN. */
static void check_power_cycle(const opts *o, const char *name)
{
    session s = {0};
    ULONG retry, m, l, state = 9;
    BOOL d;
    DEVINFO di;
    if (!check(reopen(&s, name), "connected to %s again", name))
        return;
    sar_is("SKF_VerifyPIN", api.SKF_VerifyPIN(s.app, USER_TYPE, USER_PIN, &retry), SAR_OK);
    check(system(o->power_off) == 0, "power off (%s)", o->power_off);
    sar_is("the open handle after power off", api.SKF_GetPINInfo(s.app, USER_TYPE, &m, &l, &d), SAR_DEVICE_REMOVED);
    sar_is("  and again", api.SKF_GetDevInfo(s.dev, &di), SAR_DEVICE_REMOVED);
    sar_is("SKF_DisConnectDev of the removed device", api.SKF_DisConnectDev(s.dev), SAR_OK);
    sar_is("SKF_GetDevState while off", api.SKF_GetDevState((LPSTR)name, &state), SAR_OK);
    num_is("  its state (0 absent)", state, DEV_ABSENT_STATE);
    check(!listed(TRUE, name) && listed(FALSE, name), "SKF_EnumDev(TRUE) leaves it out, SKF_EnumDev(FALSE) lists it");
    check(system(o->power_on) == 0, "power on (%s)", o->power_on);
    memset(&s, 0, sizeof s);
    if (!check(wait_present(name, 15000), "%s present again", name) || !check(reopen(&s, name), "reconnected"))
        return;
    pin_info_is(&s, USER_TYPE, o->tries, o->tries, TRUE, "after the power cycle");
    uint8_t e[32] = {1}, sig[256];
    ECCSIGNATUREBLOB es;
    ULONG len = sizeof sig;
    ULONG r = o->alg == TR_ALG_RSA2048 ? api.SKF_RSASignData(s.cont, e, 32, sig, &len)
                                       : api.SKF_ECCSignData(s.cont, e, 32, &es);
    sar_is("signing after the power cycle (the PIN is no longer verified)", r, SAR_USER_NOT_LOGGED_IN);
    close_session(&s);
}

/* ---- commands ------------------------------------------------------------------------------------ */

static int cmd_token(opts *o)
{
    if (read_all(o->cert_path, &o->cert, &o->cert_len) != 0) {
        check(false, "read %s", o->cert_path);
        return 1;
    }
    if (o->enc_cert_path && read_all(o->enc_cert_path, &o->enc_cert, &o->enc_cert_len) != 0) {
        check(false, "read %s", o->enc_cert_path);
        return 1;
    }
    session s = {0};
    if (find_token(o, &s) && open_app(o, &s)) {
        check_pins(o, &s);
        check_block_unblock(o, &s);
        check_files(o, &s);
        check_cert(o, &s, TRUE, o->cert, o->cert_len);
        check_cert(o, &s, FALSE, o->enc_cert, o->enc_cert_len);
        check_signing(o, &s);
        check_decrypt(o, &s);
        check_handles(&s);
        pin_info_is(&s, USER_TYPE, o->tries, o->tries, TRUE, "at the end");
        char name[64];
        snprintf(name, sizeof name, "%s", s.name);
        api.SKF_ClearSecureState(s.app);
        close_session(&s);
        if (o->power_off && o->power_on)
            check_power_cycle(o, name);
    }
    free(o->cert);
    free(o->enc_cert);
    return nfail ? 1 : 0;
}

typedef struct {
    unsigned count, seen;
    ULONG last;
} waiter;

static void *wait_events(void *arg)
{
    waiter *w = arg;
    for (; w->seen < w->count; w->seen++) {
        char name[128];
        ULONG len = sizeof name, event = 0;
        w->last = api.SKF_WaitForDevEvent(name, &len, &event);
        if (w->last != SAR_OK)
            break;
        printf("event %u %s\n", (unsigned)event, name);
        fflush(stdout);
    }
    return NULL;
}

static int cmd_wait(unsigned count, unsigned timeout_ms)
{
    waiter w = {count, 0, SAR_OK};
    pthread_t t;
    printf("waiting\n");
    fflush(stdout);
    if (pthread_create(&t, NULL, wait_events, &w) != 0)
        return 2;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    if (pthread_timedjoin_np(t, NULL, &deadline) != 0) {
        api.SKF_CancelWaitForDevEvent();
        pthread_join(t, NULL);
        printf("cancelled %s\n", tr_skf_sar_name(w.last));
        return 3;
    }
    return w.seen == count ? 0 : 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: skfcheck LIB symbols | devices | wait --count N --timeout-ms T |\n"
                    "       token --serial S --alg sm2|rsa|ecdsa --role main|secondary --cert FILE --out DIR\n"
                    "             [--enc-cert FILE] [--tries N] [--so-tries N] [--off CMD --on CMD]\n");
    return 2;
}

static bool parse_uint(const char *s, unsigned *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || v > 1000000)
        return false;
    *out = (unsigned)v;
    return true;
}

static int parse_token_opts(int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof *o);
    o->tries = o->so_tries = 10;
    for (int i = 3; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        const char **slot = !strcmp(k, "--serial") ? &o->serial : !strcmp(k, "--alg") ? &o->alg_name
                          : !strcmp(k, "--role") ? &o->role : !strcmp(k, "--cert") ? &o->cert_path
                          : !strcmp(k, "--enc-cert") ? &o->enc_cert_path : !strcmp(k, "--out") ? &o->out
                          : !strcmp(k, "--off") ? &o->power_off : !strcmp(k, "--on") ? &o->power_on : NULL;
        if (slot)
            *slot = v;
        else if ((strcmp(k, "--tries") && strcmp(k, "--so-tries")) ||
                 !parse_uint(v, !strcmp(k, "--tries") ? &o->tries : &o->so_tries))
            return -1;
    }
    tr_err e;
    if ((argc - 3) % 2 || !o->serial || !o->alg_name || !o->role || !o->cert_path || !o->out ||
        tr_alg_parse(o->alg_name, &o->alg, &e) != 0 || o->tries < 2 || o->tries > 15 || o->so_tries < 2 ||
        o->so_tries > 15)
        return -1;
    o->main_key = !strcmp(o->role, "main");
    return o->main_key || !strcmp(o->role, "secondary") ? 0 : -1;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 3)
        return usage();
    int missing = load(argv[1]);
    if (missing < 0)
        return 1;
    if (!strcmp(argv[2], "symbols")) {
        printf("%zu of %zu functions resolved\n", NFUNCS - (size_t)missing, NFUNCS);
        return missing ? 1 : 0;
    }
    if (missing) { /* never call through a NULL pointer */
        printf("FAIL - %s lacks %d SKF functions (listed above)\n", argv[1], missing);
        return 1;
    }
    if (!strcmp(argv[2], "devices"))
        return cmd_devices();
    unsigned count = 0, timeout = 0;
    if (!strcmp(argv[2], "wait") && argc == 7 && !strcmp(argv[3], "--count") && parse_uint(argv[4], &count) &&
        !strcmp(argv[5], "--timeout-ms") && parse_uint(argv[6], &timeout))
        return cmd_wait(count, timeout);
    opts o;
    if (!strcmp(argv[2], "token") && parse_token_opts(argc, argv, &o) == 0) {
        int rc = cmd_token(&o);
        printf("skfcheck %s: %d passed, %d failed\n", o.serial, npass, nfail);
        return rc;
    }
    return usage();
}
