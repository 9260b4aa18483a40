/* skfhost.c — the child's side of the SKF layer (build/tokenrig-skfhost):
 * the vendor library is dlopen()ed here and nowhere else.
 *
 * Owns: loading the library and resolving each function of
 * TR_SKF_FUNCTIONS; the handles (current device, application, container,
 * hash, session key); one small adapter per function where its C call
 * differs, and one generic driver for the rest: the size query then the
 * call for variable-size outputs (the claimed size capped at
 * TR_SKF_OUT_MAX, what the call says it wrote checked against the buffer it
 * was given), zeroed 8-byte storage for every ULONG / BOOL output read as
 * 32 bits (headers that made them a C long write 8; with out_width 4 a
 * canary in the upper half tells a library that does), a DEVINFO buffer
 * larger than either layout; the time of each vendor function alone.
 * Must not: trust the request beyond its checks, or format traces (the
 * parent does: it knows which argument is a PIN).
 */
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libhost.h"
#include "skf_wire.h"
#include "util.h"

typedef struct host host;

/* Storage of a ULONG / BOOL output: 8 zeroed bytes (a library whose header
 * made them a C long writes 8), read as the 32-bit value (little-endian:
 * the low half of a wider write). */
typedef union {
    uint64_t wide;
    ULONG u;
    BOOL b;
} out_slot;
typedef ULONG adapter_fn(host *h, BYTE *out, ULONG *len);

/* one pointer per function (a macro: pmccabe cannot read an X-macro struct) */
#define API_PTR(name, params) name##_pfn name;
#define SKF_API_STRUCT struct { TR_SKF_FUNCTIONS(API_PTR) }
typedef SKF_API_STRUCT skf_api;

struct host {
    skf_api api;
    uint64_t have;
    HANDLE dev, app, con, hash, key, made;
    uint32_t u[4];
    const char *s[4];
    const uint8_t *b[4];
    uint32_t blen[4];
    out_slot w[4]; /* the number outputs */
    unsigned devinfo_size;
    unsigned out_width; /* 4: the upper halves carry a canary a wider write would change */
};

/* What a function's byte output is, to the driver. */
enum out_mode {
    O_NONE,  /* no byte output */
    O_FIXED, /* a structure: param its size (0: the DEVINFO size) */
    O_SIZED, /* NULL buffer first for the size, then the call */
    O_ARG,   /* the caller says the size: u[param] */
    O_BUF,   /* a buffer of TR_SKF_EVENT_NAME_MAX, its length in / out */
};
/* What a successful call does to the session's handles. */
enum effect { E_NONE, E_SET_DEV, E_SET_APP, E_SET_CON, E_SET_HASH, E_SET_KEY, E_CLR_DEV, E_CLR_APP, E_CLR_CON, E_CLR_HANDLE };

typedef struct {
    adapter_fn *call;
    uint8_t mode, effect;
    uint16_t param;
} adapter;

#define W(i) (&h->w[i].u)
#define S(i) ((LPSTR)h->s[i])
#define B(i) ((BYTE *)(h->blen[i] ? h->b[i] : NULL))
#define UNUSED_OUT (void)out, (void)len

/* ---- adapters: one per function, the C call and nothing else ------------------- */
static ULONG a_WaitForDevEvent(host *h, BYTE *out, ULONG *len) { return h->api.SKF_WaitForDevEvent((LPSTR)out, len, W(0)); }
static ULONG a_CancelWaitForDevEvent(host *h, BYTE *out, ULONG *len) { UNUSED_OUT; return h->api.SKF_CancelWaitForDevEvent(); }
static ULONG a_EnumDev(host *h, BYTE *out, ULONG *len) { return h->api.SKF_EnumDev((BOOL)h->u[0], (LPSTR)out, len); }
static ULONG a_ConnectDev(host *h, BYTE *out, ULONG *len) { UNUSED_OUT; return h->api.SKF_ConnectDev(S(0), &h->made); }
static ULONG a_DisConnectDev(host *h, BYTE *out, ULONG *len) { UNUSED_OUT; return h->api.SKF_DisConnectDev(h->dev); }
static ULONG a_GetDevState(host *h, BYTE *out, ULONG *len) { UNUSED_OUT; return h->api.SKF_GetDevState(S(0), W(0)); }
static ULONG a_GetDevInfo(host *h, BYTE *out, ULONG *len) { (void)len; return h->api.SKF_GetDevInfo(h->dev, (DEVINFO *)out); }
static ULONG a_LockDev(host *h, BYTE *out, ULONG *len) { UNUSED_OUT; return h->api.SKF_LockDev(h->dev, h->u[0]); }
static ULONG a_UnlockDev(host *h, BYTE *out, ULONG *len) { UNUSED_OUT; return h->api.SKF_UnlockDev(h->dev); }
static ULONG a_EnumApplication(host *h, BYTE *out, ULONG *len) { return h->api.SKF_EnumApplication(h->dev, (LPSTR)out, len); }
static ULONG a_OpenApplication(host *h, BYTE *out, ULONG *len) { UNUSED_OUT; return h->api.SKF_OpenApplication(h->dev, S(0), &h->made); }
static ULONG a_CloseApplication(host *h, BYTE *out, ULONG *len) { UNUSED_OUT; return h->api.SKF_CloseApplication(h->app); }
static ULONG a_GetPINInfo(host *h, BYTE *out, ULONG *len) { UNUSED_OUT; return h->api.SKF_GetPINInfo(h->app, h->u[0], W(0), W(1), &h->w[2].b); }
static ULONG a_VerifyPIN(host *h, BYTE *out, ULONG *len) { UNUSED_OUT; return h->api.SKF_VerifyPIN(h->app, h->u[0], S(0), W(0)); }
static ULONG a_ChangePIN(host *h, BYTE *out, ULONG *len) { UNUSED_OUT; return h->api.SKF_ChangePIN(h->app, h->u[0], S(0), S(1), W(0)); }
static ULONG a_UnblockPIN(host *h, BYTE *out, ULONG *len) { UNUSED_OUT; return h->api.SKF_UnblockPIN(h->app, S(0), S(1), W(0)); }
static ULONG a_ClearSecureState(host *h, BYTE *out, ULONG *len) { UNUSED_OUT; return h->api.SKF_ClearSecureState(h->app); }
static ULONG a_EnumFiles(host *h, BYTE *out, ULONG *len) { return h->api.SKF_EnumFiles(h->app, (LPSTR)out, len); }
static ULONG a_ReadFile(host *h, BYTE *out, ULONG *len) { return h->api.SKF_ReadFile(h->app, S(0), h->u[0], h->u[1], out, len); }
static ULONG a_EnumContainer(host *h, BYTE *out, ULONG *len) { return h->api.SKF_EnumContainer(h->app, (LPSTR)out, len); }
static ULONG a_OpenContainer(host *h, BYTE *out, ULONG *len) { UNUSED_OUT; return h->api.SKF_OpenContainer(h->app, S(0), &h->made); }
static ULONG a_CloseContainer(host *h, BYTE *out, ULONG *len) { UNUSED_OUT; return h->api.SKF_CloseContainer(h->con); }
static ULONG a_GetContainerType(host *h, BYTE *out, ULONG *len) { UNUSED_OUT; return h->api.SKF_GetContainerType(h->con, W(0)); }
static ULONG a_ExportCertificate(host *h, BYTE *out, ULONG *len) { return h->api.SKF_ExportCertificate(h->con, (BOOL)h->u[0], out, len); }
static ULONG a_ExportPublicKey(host *h, BYTE *out, ULONG *len) { return h->api.SKF_ExportPublicKey(h->con, (BOOL)h->u[0], out, len); }
static ULONG a_GenRandom(host *h, BYTE *out, ULONG *len) { return h->api.SKF_GenRandom(h->dev, out, *len); }
static ULONG a_Digest(host *h, BYTE *out, ULONG *len) { return h->api.SKF_Digest(h->hash, B(0), h->blen[0], out, len); }
static ULONG a_DigestUpdate(host *h, BYTE *out, ULONG *len) { UNUSED_OUT; return h->api.SKF_DigestUpdate(h->hash, B(0), h->blen[0]); }
static ULONG a_DigestFinal(host *h, BYTE *out, ULONG *len) { return h->api.SKF_DigestFinal(h->hash, out, len); }
static ULONG a_ECCSignData(host *h, BYTE *out, ULONG *len) { (void)len; return h->api.SKF_ECCSignData(h->con, B(0), h->blen[0], (ECCSIGNATUREBLOB *)out); }
static ULONG a_RSASignData(host *h, BYTE *out, ULONG *len) { return h->api.SKF_RSASignData(h->con, B(0), h->blen[0], out, len); }
static ULONG a_ImportSessionKey(host *h, BYTE *out, ULONG *len) { UNUSED_OUT; return h->api.SKF_ImportSessionKey(h->con, h->u[0], B(0), h->blen[0], &h->made); }
static ULONG a_Decrypt(host *h, BYTE *out, ULONG *len) { return h->api.SKF_Decrypt(h->key, B(0), h->blen[0], out, len); }
static ULONG a_CloseHandle(host *h, BYTE *out, ULONG *len) { UNUSED_OUT; return h->api.SKF_CloseHandle(h->u[0] == 0 ? h->hash : h->key); }

/* The structure comes whole to the library however short the caller's
 * bytes are: a vendor reads all 132 (the rest zero). */
static ULONG a_DigestInit(host *h, BYTE *out, ULONG *len)
{
    UNUSED_OUT;
    ECCPUBLICKEYBLOB pub;
    memset(&pub, 0, sizeof pub);
    if (h->blen[0])
        memcpy(&pub, h->b[0], h->blen[0] < sizeof pub ? h->blen[0] : sizeof pub);
    return h->api.SKF_DigestInit(h->dev, h->u[0], h->blen[0] ? &pub : NULL, B(1), h->blen[1], &h->made);
}

/* IV bytes (at most 32), padding type, feed bits. */
static ULONG a_DecryptInit(host *h, BYTE *out, ULONG *len)
{
    UNUSED_OUT;
    BLOCKCIPHERPARAM p;
    memset(&p, 0, sizeof p);
    p.IVLen = h->blen[0] < MAX_IV_LEN ? h->blen[0] : MAX_IV_LEN;
    if (p.IVLen)
        memcpy(p.IV, h->b[0], p.IVLen);
    p.PaddingType = h->u[0];
    p.FeedBitLen = h->u[1];
    return h->api.SKF_DecryptInit(h->key, p);
}

/* The numbers are the structure's. */
static ULONG a_GetFileInfo(host *h, BYTE *out, ULONG *len)
{
    (void)len;
    ULONG r = h->api.SKF_GetFileInfo(h->app, S(0), (FILEATTRIBUTE *)out);
    FILEATTRIBUTE fa;
    memcpy(&fa, out, sizeof fa);
    *W(0) = fa.FileSize, *W(1) = fa.ReadRights, *W(2) = fa.WriteRights;
    return r;
}

#define A(name, mode, effect, param) [TR_FN_SKF_##name] = {a_##name, mode, effect, param}
static const adapter adapters[TR_SKF_NFN] = {
    A(WaitForDevEvent, O_BUF, E_NONE, 0),
    A(CancelWaitForDevEvent, O_NONE, E_NONE, 0),
    A(EnumDev, O_SIZED, E_NONE, 0),
    A(ConnectDev, O_NONE, E_SET_DEV, 0),
    A(DisConnectDev, O_NONE, E_CLR_DEV, 0),
    A(GetDevState, O_NONE, E_NONE, 0),
    A(GetDevInfo, O_FIXED, E_NONE, 0),
    A(LockDev, O_NONE, E_NONE, 0),
    A(UnlockDev, O_NONE, E_NONE, 0),
    A(EnumApplication, O_SIZED, E_NONE, 0),
    A(OpenApplication, O_NONE, E_SET_APP, 0),
    A(CloseApplication, O_NONE, E_CLR_APP, 0),
    A(GetPINInfo, O_NONE, E_NONE, 0),
    A(VerifyPIN, O_NONE, E_NONE, 0),
    A(ChangePIN, O_NONE, E_NONE, 0),
    A(UnblockPIN, O_NONE, E_NONE, 0),
    A(ClearSecureState, O_NONE, E_NONE, 0),
    A(EnumFiles, O_SIZED, E_NONE, 0),
    A(GetFileInfo, O_FIXED, E_NONE, sizeof(FILEATTRIBUTE)),
    A(ReadFile, O_ARG, E_NONE, 1),
    A(EnumContainer, O_SIZED, E_NONE, 0),
    A(OpenContainer, O_NONE, E_SET_CON, 0),
    A(CloseContainer, O_NONE, E_CLR_CON, 0),
    A(GetContainerType, O_NONE, E_NONE, 0),
    A(ExportCertificate, O_SIZED, E_NONE, 0),
    A(ExportPublicKey, O_SIZED, E_NONE, 0),
    A(GenRandom, O_ARG, E_NONE, 0),
    A(DigestInit, O_NONE, E_SET_HASH, 0),
    A(Digest, O_SIZED, E_NONE, 0),
    A(DigestUpdate, O_NONE, E_NONE, 0),
    A(DigestFinal, O_SIZED, E_NONE, 0),
    A(ECCSignData, O_FIXED, E_NONE, sizeof(ECCSIGNATUREBLOB)),
    A(RSASignData, O_SIZED, E_NONE, 0),
    A(ImportSessionKey, O_NONE, E_SET_KEY, 0),
    A(DecryptInit, O_NONE, E_NONE, 0),
    A(Decrypt, O_SIZED, E_NONE, 0),
    A(CloseHandle, O_NONE, E_CLR_HANDLE, 0),
};
#undef A

static void apply_effect(host *h, int effect)
{
    switch (effect) {
    case E_SET_DEV: h->dev = h->made, h->app = h->con = h->hash = h->key = NULL; break;
    case E_SET_APP: h->app = h->made, h->con = h->key = NULL; break;
    case E_SET_CON: h->con = h->made, h->key = NULL; break;
    case E_SET_HASH: h->hash = h->made; break;
    case E_SET_KEY: h->key = h->made; break;
    case E_CLR_DEV: h->dev = h->app = h->con = h->hash = h->key = NULL; break;
    case E_CLR_APP: h->app = h->con = h->key = NULL; break;
    case E_CLR_CON: h->con = h->key = NULL; break;
    case E_CLR_HANDLE: *(h->u[0] == 0 ? &h->hash : &h->key) = NULL; break;
    default: break;
    }
}

#define CANARY 0xA5A5A5A500000000ull

/* Zeroed storage for an output; with out_width 4 its upper half is a
 * canary (the value is still the low 32 bits, zero). */
static void arm(const host *h, out_slot *w, uint32_t value)
{
    w->wide = h->out_width == 4 ? CANARY : 0;
    w->u = value;
}

/* Whether a library said to write 4-byte ULONG / BOOL outputs wrote 8. */
static bool wrote_wide(const host *h, const out_slot *lenw)
{
    if (h->out_width != 4)
        return false;
    bool wide = (lenw->wide & ~0xFFFFFFFFull) != CANARY;
    for (int i = 0; i < 4; i++)
        wide |= (h->w[i].wide & ~0xFFFFFFFFull) != CANARY;
    return wide;
}

/* One vendor invocation, timed alone. *lenw: the length in, and out. */
static ULONG invoke(host *h, const adapter *a, BYTE *out, out_slot *lenw, tr_skf_inv *inv)
{
    uint64_t t0 = tr_now_ns();
    ULONG r = a->call(h, out, &lenw->u);
    inv->ns = tr_now_ns() - t0;
    inv->sar = r;
    inv->size = lenw->u;
    return r;
}

/* The buffer the call writes into: its size and, for a sized output, the
 * query first. Returns 0 go on (*buf may be NULL for no output), 1 done
 * (the query failed), -1 rep says why (status set). */
static int prepare_out(host *h, const adapter *a, const char *fn, tr_skf_rep *rep, uint8_t **buf, size_t *cap,
                       out_slot *lenw)
{
    size_t n = 0;
    switch (a->mode) {
    case O_NONE: return 0;
    case O_FIXED: n = a->param ? a->param : h->devinfo_size; *cap = n; n = n < 512 ? 512 : n; break;
    case O_ARG: n = *cap = h->u[a->param]; break;
    case O_BUF: n = *cap = TR_SKF_EVENT_NAME_MAX; break;
    case O_SIZED:
        rep->ninv = 1;
        if (invoke(h, a, NULL, lenw, &rep->inv[0]) != SAR_OK)
            return rep->sar = rep->inv[0].sar, 1;
        n = *cap = rep->inv[0].size;
        break;
    default: break;
    }
    if (n > TR_SKF_OUT_MAX) {
        rep->status = a->mode == O_ARG ? TR_SKF_ST_CONFIG : TR_SKF_ST_BOGUS;
        snprintf(rep->msg, sizeof rep->msg, "%s: %s %zu bytes (at most %u)", fn,
                 a->mode == O_ARG ? "asked for" : "the library claims", n, TR_SKF_OUT_MAX);
        return -1;
    }
    arm(h, lenw, (ULONG)*cap);
    if (!(*buf = calloc(n + 1, 1))) {
        rep->status = TR_SKF_ST_BOGUS;
        snprintf(rep->msg, sizeof rep->msg, "%s: out of memory for %zu bytes", fn, n);
        return -1;
    }
    return 0;
}

/* Run one call; rep and *out (the byte output, *nout bytes) filled. */
static void run_call(host *h, uint32_t fn, const char *name, tr_skf_rep *rep, uint8_t **out, size_t *nout)
{
    const adapter *a = &adapters[fn];
    out_slot lenw;
    size_t cap = 0;
    arm(h, &lenw, 0);
    for (int i = 0; i < 4; i++)
        arm(h, &h->w[i], 0);
    h->made = NULL;
    int p = prepare_out(h, a, name, rep, out, &cap, &lenw);
    if (p != 0)
        return;
    tr_skf_inv *inv = &rep->inv[rep->ninv++];
    rep->sar = invoke(h, a, *out, &lenw, inv);
    for (int i = 0; i < 4; i++)
        rep->u[i] = h->w[i].u;
    if (wrote_wide(h, &lenw)) {
        rep->status = TR_SKF_ST_BOGUS;
        snprintf(rep->msg, sizeof rep->msg,
                 "%s wrote 8 bytes into a 4-byte ULONG / BOOL output (its ULONG is a C long: out_width=8)", name);
        return;
    }
    if (rep->sar != SAR_OK)
        return;
    apply_effect(h, a->effect);
    size_t said = a->mode == O_SIZED || a->mode == O_BUF || fn == TR_FN_SKF_ReadFile ? inv->size : cap;
    if (said > cap) {
        rep->status = TR_SKF_ST_BOGUS;
        snprintf(rep->msg, sizeof rep->msg, "%s: the library says it wrote %zu bytes into a buffer of %zu", name,
                 said, cap);
        return;
    }
    *nout = a->mode == O_NONE ? 0 : said;
}

/* The request's strings and byte strings, every length checked against
 * the payload (libhost.h). Returns 0, or -1 (a malformed request). */
static int unpack(host *h, const tr_skf_req *rq, const uint8_t *pl)
{
    if (rq->fn >= TR_SKF_NFN || rq->nu > 4)
        return -1;
    memcpy(h->u, rq->u, sizeof h->u);
    return tr_libhost_unpack(pl, rq->payload, rq->ns, rq->slen, rq->nb, rq->blen, h->s, h->b, h->blen);
}

static const char *const fn_names[TR_SKF_NFN] = {
#define NAME(name, params) #name,
    TR_SKF_FUNCTIONS(NAME)
#undef NAME
};

/* One request (its payload received): 0 answered, -1 the protocol broke
 * (the child ends). */
static int serve_one(void *ud, int fd, const void *hdr, const uint8_t *pl)
{
    host *h = ud;
    const tr_skf_req *rq = hdr;
    tr_err e;
    if (unpack(h, rq, pl) < 0)
        return -1;
    tr_skf_rep rep;
    memset(&rep, 0, sizeof rep);
    rep.magic = TR_SKF_WIRE_MAGIC;
    uint8_t *out = NULL;
    size_t nout = 0;
    if (!(h->have >> rq->fn & 1)) {
        rep.status = TR_SKF_ST_CONFIG;
        snprintf(rep.msg, sizeof rep.msg, "%s is not exported by the library", fn_names[rq->fn]);
    } else {
        run_call(h, rq->fn, fn_names[rq->fn], &rep, &out, &nout);
    }
    rep.payload = rep.status == TR_SKF_ST_DONE ? (uint32_t)nout : 0;
    int rc = tr_libhost_send(fd, &rep, sizeof rep, out, rep.payload, &e);
    free(out);
    return rc;
}

int tr_skfhost_serve(int fd, const char *library, unsigned devinfo_size, unsigned out_width)
{
    static host h; /* static: the vendor may keep pointers to it */
    tr_skf_hello hello;
    tr_err e;
    memset(&hello, 0, sizeof hello);
    hello.magic = TR_SKF_WIRE_MAGIC;
    h.devinfo_size = devinfo_size == 286 ? 286 : sizeof(DEVINFO);
    h.out_width = out_width == 4 ? 4 : 8;
    void *lib = dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *why = dlerror();
        snprintf(hello.msg, sizeof hello.msg, "%s", why ? why : "dlopen failed");
        return tr_libhost_send(fd, &hello, sizeof hello, NULL, 0, &e) < 0 ? 1 : 3;
    }
    hello.loaded = 1;
#define RESOLVE(name, params)                                     \
    *(void **)&h.api.name = dlsym(lib, #name);                    \
    if (h.api.name)                                               \
        h.have |= 1ull << TR_FN_##name;
    TR_SKF_FUNCTIONS(RESOLVE)
#undef RESOLVE
    hello.have = h.have;
    if (tr_libhost_send(fd, &hello, sizeof hello, NULL, 0, &e) < 0)
        return 1;
    tr_skf_req rq;
    return tr_libhost_serve(fd, TR_SKF_WIRE_MAGIC, &rq, sizeof rq, offsetof(tr_skf_req, payload), serve_one, &h);
}
