/* p11host.c — the child's side of the PKCS#11 layer (build/tokenrig-p11host):
 * the module is dlopen()ed here and nowhere else.
 *
 * Owns: resolving a p11-kit module name to its path (p11-kit's own
 * configuration, as `p11-kit list-modules` reads it: the modules are loaded
 * unmanaged — in this process only — to ask each its name and file),
 * dlopen, C_GetFunctionList, C_Initialize with CKF_OS_LOCKING_OK; the
 * current session; one small adapter per call and one driver: the size
 * query then the call for variable-size outputs (the claimed size capped at
 * TR_P11_OUT_MAX, what the module says it wrote checked against the buffer
 * it was given), CK_ULONG arrays sent as uint64_t, each module function
 * timed alone and recorded as an invocation (a trace row in the parent).
 * Must not: trust the request beyond its checks, or format traces (the
 * parent does: it knows which argument is a PIN).
 */
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/p11-kit.h>
#include <p11-kit/pkcs11.h>

#include "libhost.h"
#include "p11_wire.h"
#include "util.h"

#ifndef TR_P11_MODULE_DIR
#define TR_P11_MODULE_DIR "/usr/lib/x86_64-linux-gnu/pkcs11"
#endif

typedef struct host host;
typedef CK_RV adapter_fn(host *h, uint8_t *out, CK_ULONG *len);

struct host {
    CK_FUNCTION_LIST *f;
    uint64_t have;
    CK_SESSION_HANDLE session;
    CK_ULONG u[4];
    const char *s[4];
    const uint8_t *b[4];
    uint32_t blen[4];
    CK_ULONG w[TR_P11_OUTS_MAX]; /* the number outputs */
    tr_p11_rep *rep;             /* the invocations go here */
    uint64_t t0;
    char bogus[256];             /* set by an adapter: the module broke a rule */
};

/* What a call's byte output is, to the driver. */
enum out_mode {
    O_NONE,  /* none */
    O_FIXED, /* a structure of param bytes */
    O_BYTES, /* NULL first for the size in bytes, then the call */
    O_ULONGS, /* NULL first for the count of CK_ULONGs, then the call; sent as uint64_t */
    O_FIND,  /* TR_P11_FIND_MAX handles at most, the adapter's loop; sent as uint64_t */
};
enum { E_NONE, E_SET_SESSION, E_CLR_SESSION };

typedef struct {
    adapter_fn *call;
    uint8_t mode, effect;
    uint16_t param;
    uint16_t need[3]; /* offsets in CK_FUNCTION_LIST of the functions it calls (0: none) */
} adapter;

static void inv_start(host *h)
{
    h->t0 = tr_now_ns();
}

static CK_RV inv_end(host *h, uint32_t which, CK_RV rv)
{
    uint64_t ns = tr_now_ns() - h->t0;
    if (h->rep->ninv < TR_P11_INV_MAX)
        h->rep->inv[h->rep->ninv++] = (tr_p11_inv){.rv = rv, .ns = ns, .which = which};
    return rv;
}

/* One module function, timed, recorded. */
#define CALL(which, expr) (inv_start(h), inv_end(h, (which), (expr)))
#define SELF TR_P11_INV_SELF
#define UNUSED_OUT (void)out, (void)len
#define PIN(i) ((CK_UTF8CHAR_PTR)h->s[i]), ((CK_ULONG)strlen(h->s[i]))

/* ---- adapters: one per call, the C call and nothing else ----------------------------- */
static CK_RV a_C_GetInfo(host *h, uint8_t *out, CK_ULONG *len) { (void)len; return CALL(SELF, h->f->C_GetInfo((CK_INFO_PTR)out)); }
static CK_RV a_C_GetSlotList(host *h, uint8_t *out, CK_ULONG *len) { return CALL(SELF, h->f->C_GetSlotList(h->u[0] ? CK_TRUE : CK_FALSE, (CK_SLOT_ID_PTR)out, len)); }
static CK_RV a_C_GetSlotInfo(host *h, uint8_t *out, CK_ULONG *len) { (void)len; return CALL(SELF, h->f->C_GetSlotInfo(h->u[0], (CK_SLOT_INFO_PTR)out)); }
static CK_RV a_C_GetTokenInfo(host *h, uint8_t *out, CK_ULONG *len) { (void)len; return CALL(SELF, h->f->C_GetTokenInfo(h->u[0], (CK_TOKEN_INFO_PTR)out)); }
static CK_RV a_C_GetMechanismList(host *h, uint8_t *out, CK_ULONG *len) { return CALL(SELF, h->f->C_GetMechanismList(h->u[0], (CK_MECHANISM_TYPE_PTR)out, len)); }
static CK_RV a_C_CloseSession(host *h, uint8_t *out, CK_ULONG *len) { UNUSED_OUT; return CALL(SELF, h->f->C_CloseSession(h->session)); }
static CK_RV a_C_CloseAllSessions(host *h, uint8_t *out, CK_ULONG *len) { UNUSED_OUT; return CALL(SELF, h->f->C_CloseAllSessions(h->u[0])); }
static CK_RV a_C_Login(host *h, uint8_t *out, CK_ULONG *len) { UNUSED_OUT; return CALL(SELF, h->f->C_Login(h->session, h->u[0], PIN(0))); }
static CK_RV a_C_Logout(host *h, uint8_t *out, CK_ULONG *len) { UNUSED_OUT; return CALL(SELF, h->f->C_Logout(h->session)); }
static CK_RV a_C_SetPIN(host *h, uint8_t *out, CK_ULONG *len) { UNUSED_OUT; return CALL(SELF, h->f->C_SetPIN(h->session, PIN(0), PIN(1))); }
static CK_RV a_C_InitPIN(host *h, uint8_t *out, CK_ULONG *len) { UNUSED_OUT; return CALL(SELF, h->f->C_InitPIN(h->session, PIN(0))); }
static CK_RV a_C_Sign(host *h, uint8_t *out, CK_ULONG *len) { return CALL(SELF, h->f->C_Sign(h->session, (CK_BYTE_PTR)h->b[0], h->blen[0], out, len)); }
static CK_RV a_C_Decrypt(host *h, uint8_t *out, CK_ULONG *len) { return CALL(SELF, h->f->C_Decrypt(h->session, (CK_BYTE_PTR)h->b[0], h->blen[0], out, len)); }
static CK_RV a_C_WaitForSlotEvent(host *h, uint8_t *out, CK_ULONG *len) { UNUSED_OUT; return CALL(SELF, h->f->C_WaitForSlotEvent(h->u[0], &h->w[0], NULL)); }
static CK_RV a_C_Finalize(host *h, uint8_t *out, CK_ULONG *len) { UNUSED_OUT; return CALL(SELF, h->f->C_Finalize(NULL)); }

static CK_RV a_C_OpenSession(host *h, uint8_t *out, CK_ULONG *len)
{
    UNUSED_OUT;
    return CALL(SELF, h->f->C_OpenSession(h->u[0], h->u[1] | CKF_SERIAL_SESSION, NULL, NULL, &h->w[0]));
}

static CK_RV a_C_GetMechanismInfo(host *h, uint8_t *out, CK_ULONG *len)
{
    UNUSED_OUT;
    CK_MECHANISM_INFO mi = {0};
    CK_RV rv = CALL(SELF, h->f->C_GetMechanismInfo(h->u[0], h->u[1], &mi));
    h->w[0] = mi.ulMinKeySize, h->w[1] = mi.ulMaxKeySize, h->w[2] = mi.flags;
    return rv;
}

static CK_RV a_C_GetSessionInfo(host *h, uint8_t *out, CK_ULONG *len)
{
    UNUSED_OUT;
    CK_SESSION_INFO si = {0};
    CK_RV rv = CALL(SELF, h->f->C_GetSessionInfo(h->session, &si));
    h->w[0] = si.slotID, h->w[1] = si.state, h->w[2] = si.flags, h->w[3] = si.ulDeviceError;
    return rv;
}

/* The template's one attribute: out NULL asks the length. */
static CK_RV a_C_GetAttributeValue(host *h, uint8_t *out, CK_ULONG *len)
{
    CK_ATTRIBUTE t = {.type = h->u[1], .pValue = out, .ulValueLen = out ? *len : 0};
    CK_RV rv = CALL(SELF, h->f->C_GetAttributeValue(h->session, h->u[0], &t, 1));
    *len = t.ulValueLen;
    return rv;
}

/* (mechanism, key, parameter): the mechanism of C_SignInit and C_DecryptInit */
static CK_MECHANISM mechanism_of(const host *h)
{
    return (CK_MECHANISM){.mechanism = h->u[0], .pParameter = h->blen[0] ? (void *)h->b[0] : NULL,
                          .ulParameterLen = h->blen[0]};
}

static CK_RV a_C_SignInit(host *h, uint8_t *out, CK_ULONG *len)
{
    UNUSED_OUT;
    CK_MECHANISM m = mechanism_of(h);
    return CALL(SELF, h->f->C_SignInit(h->session, &m, h->u[1]));
}

static CK_RV a_C_DecryptInit(host *h, uint8_t *out, CK_ULONG *len)
{
    UNUSED_OUT;
    CK_MECHANISM m = mechanism_of(h);
    return CALL(SELF, h->f->C_DecryptInit(h->session, &m, h->u[1]));
}



/* C_FindObjectsInit with the template of what was given, C_FindObjects
 * in batches until it gives none (or TR_P11_FIND_MAX handles, or the
 * invocations run out: w[1] "more" says the list was cut),
 * C_FindObjectsFinal. *len: the handles found. */
static CK_RV a_find(host *h, uint8_t *out, CK_ULONG *len)
{
    CK_OBJECT_CLASS cls = h->u[0];
    CK_ATTRIBUTE t[3];
    CK_ULONG n = 0, total = 0;
    if (cls != CK_UNAVAILABLE_INFORMATION)
        t[n++] = (CK_ATTRIBUTE){CKA_CLASS, &cls, sizeof cls};
    if (h->s[0][0])
        t[n++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)h->s[0], strlen(h->s[0])};
    if (h->blen[0])
        t[n++] = (CK_ATTRIBUTE){CKA_ID, (void *)h->b[0], h->blen[0]};
    *len = 0;
    CK_RV rv = CALL(TR_P11_INV_FIND_INIT, h->f->C_FindObjectsInit(h->session, n ? t : NULL, n));
    if (rv != CKR_OK)
        return rv;
    CK_OBJECT_HANDLE *objs = (CK_OBJECT_HANDLE *)(void *)out;
    for (;;) {
        CK_ULONG want = TR_P11_FIND_MAX - total < TR_P11_FIND_BATCH ? TR_P11_FIND_MAX - total : TR_P11_FIND_BATCH;
        if (!want || h->rep->ninv >= TR_P11_INV_MAX - 1) {
            h->w[1] = 1;
            break;
        }
        CK_ULONG got = 0;
        rv = CALL(TR_P11_INV_FIND, h->f->C_FindObjects(h->session, objs + total, want, &got));
        h->rep->inv[h->rep->ninv - 1].size = got;
        if (rv == CKR_OK && got > want)
            snprintf(h->bogus, sizeof h->bogus, "C_FindObjects says it wrote %lu handles where %lu fit", got, want);
        if (rv != CKR_OK || got == 0 || got > want)
            break;
        total += got;
    }
    CK_RV fin = CALL(TR_P11_INV_FIND_FINAL, h->f->C_FindObjectsFinal(h->session));
    *len = total;
    h->w[0] = total;
    return rv != CKR_OK ? rv : fin;
}

#define OFF(fn) ((uint16_t)offsetof(CK_FUNCTION_LIST, fn))
#define A(name, mode, effect, param) [TR_P11_FN_##name] = {a_##name, mode, effect, param, {OFF(name), 0, 0}}
static const adapter adapters[TR_P11_NFN] = {
    A(C_GetInfo, O_FIXED, E_NONE, sizeof(CK_INFO)),
    A(C_GetSlotList, O_ULONGS, E_NONE, 0),
    A(C_GetSlotInfo, O_FIXED, E_NONE, sizeof(CK_SLOT_INFO)),
    A(C_GetTokenInfo, O_FIXED, E_NONE, sizeof(CK_TOKEN_INFO)),
    A(C_GetMechanismList, O_ULONGS, E_NONE, 0),
    A(C_GetMechanismInfo, O_NONE, E_NONE, 0),
    A(C_OpenSession, O_NONE, E_SET_SESSION, 0),
    A(C_CloseSession, O_NONE, E_CLR_SESSION, 0),
    A(C_CloseAllSessions, O_NONE, E_CLR_SESSION, 0),
    A(C_GetSessionInfo, O_NONE, E_NONE, 0),
    A(C_Login, O_NONE, E_NONE, 0),
    A(C_Logout, O_NONE, E_NONE, 0),
    A(C_SetPIN, O_NONE, E_NONE, 0),
    A(C_InitPIN, O_NONE, E_NONE, 0),
    [TR_P11_FN_find] = {a_find, O_FIND, E_NONE, 0,
                        {OFF(C_FindObjectsInit), OFF(C_FindObjects), OFF(C_FindObjectsFinal)}},
    A(C_GetAttributeValue, O_BYTES, E_NONE, 0),
    A(C_SignInit, O_NONE, E_NONE, 0),
    A(C_Sign, O_BYTES, E_NONE, 0),
    A(C_DecryptInit, O_NONE, E_NONE, 0),
    A(C_Decrypt, O_BYTES, E_NONE, 0),
    A(C_WaitForSlotEvent, O_NONE, E_NONE, 0),
    A(C_Finalize, O_NONE, E_CLR_SESSION, 0),
};
#undef A

/* Whether the function list has every function the call needs (a module
 * may leave an entry NULL). */
static bool has_call(const CK_FUNCTION_LIST *f, int fn)
{
    for (int k = 0; k < 3; k++) {
        uint16_t off = adapters[fn].need[k];
        void *p = NULL;
        if (!off)
            continue;
        memcpy(&p, (const char *)f + off, sizeof p);
        if (!p)
            return false;
    }
    return true;
}

/* CK_ULONG values to the uint64_t of the wire, in place when they are
 * the same width (x86-64), else into a new buffer. */
static uint8_t *to_u64(uint8_t *buf, size_t count)
{
    if (sizeof(CK_ULONG) == sizeof(uint64_t))
        return buf;
    uint64_t *w = calloc(count + 1, sizeof *w);
    CK_ULONG v;
    for (size_t i = 0; w && i < count; i++)
        memcpy(&v, buf + i * sizeof v, sizeof v), w[i] = v;
    free(buf);
    return (uint8_t *)w;
}

static void bogus(tr_p11_rep *rep, const char *fmt, const char *fn, size_t a, size_t b)
{
    rep->status = TR_P11_ST_BOGUS;
    snprintf(rep->msg, sizeof rep->msg, fmt, fn, a, b);
}

/* The buffer the call writes into: for a sized output the query first.
 * Returns 0 go on (*buf NULL for no output), 1 done (the query failed),
 * -1 rep says why. *cap: the room in units (bytes or CK_ULONGs). */
static int prepare_out(host *h, const adapter *a, const char *fn, tr_p11_rep *rep, uint8_t **buf, CK_ULONG *cap)
{
    size_t unit = a->mode == O_ULONGS || a->mode == O_FIND ? sizeof(CK_ULONG) : 1, n = 0;
    switch (a->mode) {
    case O_NONE: return 0;
    case O_FIXED: n = *cap = a->param; break;
    case O_FIND: n = *cap = TR_P11_FIND_MAX; break;
    default:
        if (a->call(h, NULL, cap) != CKR_OK)
            return rep->rv = rep->inv[0].rv, rep->inv[0].size = *cap, 1;
        rep->inv[0].size = *cap;
        n = *cap;
        if (n > TR_P11_OUT_MAX / unit) {
            bogus(rep, "%s: the module claims %zu units of %zu bytes", fn, n, unit);
            return -1;
        }
        break;
    }
    /* room to spare for a structure: a module built against another
     * version of it may write more */
    if (!(*buf = calloc(n * unit + (a->mode == O_FIXED ? 1024 : 1), 1))) {
        bogus(rep, "%s: out of memory for %zu units of %zu bytes", fn, n, unit);
        return -1;
    }
    return 0;
}

/* Run one call; rep and *out (the byte output, *nout bytes) filled. */
static void run_call(host *h, uint32_t fn, const char *name, tr_p11_rep *rep, uint8_t **out, size_t *nout)
{
    const adapter *a = &adapters[fn];
    CK_ULONG cap = 0, said;
    memset(h->w, 0, sizeof h->w);
    h->bogus[0] = '\0';
    h->rep = rep;
    if (prepare_out(h, a, name, rep, out, &cap) != 0)
        return;
    said = cap;
    rep->rv = a->call(h, *out, &said);
    if (a->mode == O_BYTES || a->mode == O_ULONGS)
        rep->inv[rep->ninv - 1].size = said;
    for (int i = 0; i < TR_P11_OUTS_MAX; i++)
        rep->u[i] = h->w[i];
    if (h->bogus[0]) {
        rep->status = TR_P11_ST_BOGUS;
        snprintf(rep->msg, sizeof rep->msg, "%s", h->bogus);
        return;
    }
    if (rep->rv != CKR_OK && a->mode != O_FIND)
        return;
    if (a->effect == E_SET_SESSION)
        h->session = h->w[0];
    else if (a->effect == E_CLR_SESSION)
        h->session = CK_INVALID_HANDLE;
    if (a->mode != O_FIXED && said > cap) {
        bogus(rep, "%s: the module says it wrote %zu units into room for %zu", name, said, cap);
        return;
    }
    if (a->mode == O_ULONGS || a->mode == O_FIND) {
        *out = to_u64(*out, said);
        *nout = *out ? said * sizeof(uint64_t) : 0;
    } else {
        *nout = a->mode == O_NONE ? 0 : said;
    }
}

/* The request's arguments, every length checked (numbers: they must fit a
 * CK_ULONG). Returns 0, or -1 (a malformed request). */
static int unpack(host *h, const tr_p11_req *rq, const uint8_t *pl)
{
    if (rq->fn >= TR_P11_NFN || rq->nu > 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        if (rq->u[i] > (CK_ULONG)-1)
            return -1;
        h->u[i] = (CK_ULONG)rq->u[i];
    }
    return tr_libhost_unpack(pl, rq->payload, rq->ns, rq->slen, rq->nb, rq->blen, h->s, h->b, h->blen);
}

static const char *const call_names[TR_P11_NFN] = {
#define NAME(name) #name,
    TR_P11_CALLS(NAME)
#undef NAME
};

/* One request (its payload received), answered: 0, or -1 the protocol
 * broke (the child ends). A call the function list lacks is refused
 * before any module code runs. */
static int serve_one(void *ud, int fd, const void *hdr, const uint8_t *pl)
{
    host *h = ud;
    const tr_p11_req *rq = hdr;
    static tr_p11_rep rep;
    uint8_t *out = NULL;
    size_t nout = 0;
    tr_err e;
    if (unpack(h, rq, pl) < 0)
        return -1;
    rep = (tr_p11_rep){.magic = TR_P11_WIRE_MAGIC};
    if (h->have >> rq->fn & 1)
        run_call(h, rq->fn, call_names[rq->fn], &rep, &out, &nout);
    else
        rep.status = TR_P11_ST_CONFIG,
        snprintf(rep.msg, sizeof rep.msg, "%s is not in the module's function list", call_names[rq->fn]);
    rep.payload = rep.status == TR_P11_ST_DONE ? (uint32_t)nout : 0;
    int rc = tr_libhost_send(fd, &rep, sizeof rep, out, rep.payload, &e);
    free(out);
    return rc;
}

/* A p11-kit module name to its file (hello->path), or the path as given. */
static int resolve(const char *module, tr_p11_hello *hello)
{
    if (strchr(module, '/'))
        return snprintf(hello->path, sizeof hello->path, "%s", module) < (int)sizeof hello->path ? 0 : -1;
    CK_FUNCTION_LIST **mods = p11_kit_modules_load(NULL, P11_KIT_MODULE_UNMANAGED);
    CK_FUNCTION_LIST *m = mods ? p11_kit_module_for_name(mods, module) : NULL;
    char *file = m ? p11_kit_module_get_filename(m) : NULL;
    if (file && file[0] != '/')
        snprintf(hello->path, sizeof hello->path, "%s/%s", TR_P11_MODULE_DIR, file);
    else if (file)
        snprintf(hello->path, sizeof hello->path, "%s", file);
    else
        snprintf(hello->msg, sizeof hello->msg, "no p11-kit module named '%s' (p11-kit list-modules)%s%s", module,
                 p11_kit_message() ? ": " : "", p11_kit_message() ? p11_kit_message() : "");
    free(file);
    if (mods)
        p11_kit_modules_release(mods);
    return hello->path[0] ? 0 : -1;
}

/* dlopen, C_GetFunctionList (timed), the calls its list has. */
static int load(host *h, tr_p11_hello *hello)
{
    void *lib = dlopen(hello->path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *why = dlerror();
        snprintf(hello->msg, sizeof hello->msg, "%s", why ? why : "dlopen failed");
        return -1;
    }
    CK_C_GetFunctionList gfl;
    *(void **)&gfl = dlsym(lib, "C_GetFunctionList");
    if (!gfl) {
        snprintf(hello->msg, sizeof hello->msg, "%s exports no C_GetFunctionList", hello->path);
        return -1;
    }
    uint64_t t0 = tr_now_ns();
    CK_RV rv = gfl(&h->f);
    hello->gfl_rv = rv, hello->gfl_ns = tr_now_ns() - t0;
    if (rv != CKR_OK || !h->f) {
        snprintf(hello->msg, sizeof hello->msg, "C_GetFunctionList gave %s", rv != CKR_OK ? "an error" : "NULL");
        return -1;
    }
    for (int i = 0; i < TR_P11_NFN; i++)
        if (has_call(h->f, i))
            h->have |= 1ull << i;
    return 0;
}

int tr_p11host_serve(int fd, const char *module)
{
    static host h; /* static: the module may keep pointers to it */
    static tr_p11_hello hello;
    tr_err e;
    hello.magic = TR_P11_WIRE_MAGIC;
    if (resolve(module, &hello) < 0 || load(&h, &hello) < 0)
        return tr_libhost_send(fd, &hello, sizeof hello, NULL, 0, &e) < 0 ? 1 : 3;
    hello.loaded = 1;
    hello.have = h.have;
    if (h.f->C_Initialize) {
        CK_C_INITIALIZE_ARGS ia = {.flags = CKF_OS_LOCKING_OK};
        uint64_t t0 = tr_now_ns();
        hello.init_rv = h.f->C_Initialize(&ia);
        hello.init_ns = tr_now_ns() - t0;
        hello.initialized = 1;
    }
    if (tr_libhost_send(fd, &hello, sizeof hello, NULL, 0, &e) < 0)
        return 1;
    tr_p11_req rq;
    return tr_libhost_serve(fd, TR_P11_WIRE_MAGIC, &rq, sizeof rq, offsetof(tr_p11_req, payload), serve_one, &h);
}
