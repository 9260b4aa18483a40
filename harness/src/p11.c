/* p11.c — the PKCS#11 layer's parent side (p11.h): the shape table, the
 * child (build/tokenrig-p11host, started and lost through libhost.h), the
 * call timeouts, the structures read into numbers and texts, the trace.
 *
 * Every length the child sends is checked against what this side can
 * hold; a child that breaks the protocol is killed like one that hangs.
 * A session is used by one thread at a time.
 */
#include "p11.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libhost.h"
#include "p11_wire.h"
#include "p11data.h"
#include "util.h"

#ifndef TR_LIBEXEC_DIR
#define TR_LIBEXEC_DIR "/usr/local/libexec/tokenrig"
#endif
#define HOST_NAME "tokenrig-p11host"
#define CKF_RW_SESSION_BIT 2u /* CKF_RW_SESSION: pkcs11.h stays with p11data.c and the host */

/* ---- the shape table ------------------------------------------------------------ */
#define TOKEN_OUTS                                                                                        \
    "flags,maxSessionCount,sessionCount,maxRwSessionCount,rwSessionCount,maxPinLen,minPinLen,"             \
    "totalPublicMemory,freePublicMemory,totalPrivateMemory,freePrivateMemory"
#define TOKEN_TEXTS "label,manufacturerID,model,serialNumber,hardwareVersion,firmwareVersion,utcTime"
#define F(name, in, outs, texts, out) [TR_P11_FN_##name] = {#name, in, outs, texts, out}
static const tr_p11_fn_info fn_info[TR_P11_NFN] = {
    F(C_GetInfo, "", "flags", "cryptokiVersion,manufacturerID,libraryDescription,libraryVersion", "info"),
    F(C_GetSlotList, "u", "count", "", "ids"),
    F(C_GetSlotInfo, "u", "flags", "slotDescription,manufacturerID,hardwareVersion,firmwareVersion", "slotinfo"),
    F(C_GetTokenInfo, "u", TOKEN_OUTS, TOKEN_TEXTS, "tokeninfo"),
    F(C_GetMechanismList, "u", "count", "", "ids"),
    F(C_GetMechanismInfo, "uu", "minKeySize,maxKeySize,flags", "", ""),
    F(C_OpenSession, "uu", "session", "", ""),
    F(C_CloseSession, "", "", "", ""),
    F(C_CloseAllSessions, "u", "", "", ""),
    F(C_GetSessionInfo, "", "slotID,state,flags,deviceError", "", ""),
    F(C_Login, "up", "", "", ""),
    F(C_Logout, "", "", "", ""),
    F(C_SetPIN, "pp", "", "", ""),
    F(C_InitPIN, "p", "", "", ""),
    F(find, "usb", "count,more", "", "ids"),
    F(C_GetAttributeValue, "uu", "", "", "data"),
    F(C_SignInit, "uub", "", "", ""),
    F(C_Sign, "b", "", "", "data"),
    F(C_DecryptInit, "uub", "", "", ""),
    F(C_Decrypt, "b", "", "", "data"),
    F(C_WaitForSlotEvent, "u", "slot", "", ""),
    F(C_Finalize, "", "", "", ""),
};
#undef F

/* How the trace names a call's number arguments, one letter per 'u' in
 * order: S a slot, B a CK_BBOOL, F session flags, W wait flags, U a user
 * type, M a mechanism, A an attribute type, C a class, H an object handle. */
static const char *const fn_usym[TR_P11_NFN] = {
    [TR_P11_FN_C_GetSlotList] = "B",       [TR_P11_FN_C_GetSlotInfo] = "S",      [TR_P11_FN_C_GetTokenInfo] = "S",
    [TR_P11_FN_C_GetMechanismList] = "S",  [TR_P11_FN_C_GetMechanismInfo] = "SM", [TR_P11_FN_C_OpenSession] = "SF",
    [TR_P11_FN_C_CloseAllSessions] = "S",  [TR_P11_FN_C_Login] = "U",            [TR_P11_FN_find] = "C",
    [TR_P11_FN_C_GetAttributeValue] = "HA", [TR_P11_FN_C_SignInit] = "MH",
    [TR_P11_FN_C_DecryptInit] = "MH",        [TR_P11_FN_C_WaitForSlotEvent] = "W",
};

/* The calls that reach every slot or wait on the module: the device timeout. */
static const int device_level[] = {TR_P11_FN_C_GetSlotList, TR_P11_FN_C_WaitForSlotEvent, TR_P11_FN_C_Finalize};

const tr_p11_fn_info *tr_p11_fn_table(size_t *n)
{
    *n = TR_P11_NFN;
    return fn_info;
}

static int fn_index(const char *fn)
{
    for (int i = 0; fn && i < TR_P11_NFN; i++)
        if (!strcmp(fn_info[i].name, fn))
            return i;
    return -1;
}

const tr_p11_fn_info *tr_p11_fn_lookup(const char *fn)
{
    int i = fn_index(fn);
    return i < 0 ? NULL : &fn_info[i];
}

static size_t count_names(const char *list)
{
    size_t n = *list ? 1 : 0;
    for (; *list; list++)
        n += *list == ',';
    return n;
}

/* ---- the session ------------------------------------------------------------------ */
#define TEXT_MAX TR_P11_TEXT_CAP(64)
struct tr_p11 {
    tr_libhost h; /* h.library: the module as given */
    char path[1024];
    double call_timeout_ms, device_timeout_ms;
    uint64_t have;
    bool initialized;
    uint8_t *out; /* the last reply's byte output */
    char text[TR_P11_TEXTS_MAX][TEXT_MAX];
    void (*trace)(void *ud, const tr_p11_trace *row);
    void *trace_ud;
};

static void trace_row(const tr_p11 *s, const char *fn, const char *args, const char *rv, const char *outputs,
                      double us)
{
    if (!s->trace)
        return;
    tr_p11_trace row = {fn, args, rv, outputs, us};
    s->trace(s->trace_ud, &row);
}

static const tr_p11_req quit = {.magic = TR_P11_WIRE_MAGIC, .op = TR_P11_OP_QUIT};

/* The child's hello: the module loaded and initialized. */
static int await_hello(tr_p11 *s, tr_err *e)
{
    static _Thread_local tr_p11_hello h;
    if (tr_libhost_hello(&s->h, &h, sizeof h, TR_P11_WIRE_MAGIC, e) < 0)
        return -1;
    h.msg[sizeof h.msg - 1] = h.path[sizeof h.path - 1] = '\0';
    tr_strlcpy(s->path, h.path[0] ? h.path : s->h.library, sizeof s->path);
    if (h.gfl_ns)
        trace_row(s, "C_GetFunctionList", "", tr_p11_rv_name(h.gfl_rv), "", h.gfl_ns / 1000.0);
    if (!h.loaded) {
        tr_libhost_stop(&s->h, &quit, sizeof quit);
        return tr_fail(e, TR_E_CONFIG, "the PKCS#11 module %s does not load: %s", s->h.library, h.msg);
    }
    s->have = h.have;
    if (!h.initialized) {
        tr_libhost_stop(&s->h, &quit, sizeof quit);
        return tr_fail(e, TR_E_CONFIG, "the PKCS#11 module %s has no C_Initialize in its function list", s->path);
    }
    trace_row(s, "C_Initialize", "CKF_OS_LOCKING_OK", tr_p11_rv_name(h.init_rv), "", h.init_ns / 1000.0);
    if (h.init_rv != 0) {
        tr_libhost_stop(&s->h, &quit, sizeof quit);
        return tr_fail(e, TR_E_CONFIG, "the PKCS#11 module %s: C_Initialize gave %s", s->path,
                       tr_p11_rv_name(h.init_rv));
    }
    s->initialized = true;
    return 0;
}

static int check_opts(const tr_p11_opts *o, tr_err *e)
{
    if (!o || !o->module || !*o->module)
        return tr_fail(e, TR_E_CONFIG, "no PKCS#11 module given");
    if (strlen(o->module) >= 1024)
        return tr_fail(e, TR_E_CONFIG, "PKCS#11 module path too long");
    if (o->call_timeout_ms < 0 || o->device_timeout_ms < 0)
        return tr_fail(e, TR_E_CONFIG, "a negative timeout");
    return 0;
}

/* The child started, the module loaded and initialized (s->h.library
 * names it). */
static int load_module(tr_p11 *s, tr_err *e)
{
    char host[TR_PATH_MAX];
    if (tr_libhost_find(HOST_NAME, "TOKENRIG_P11_HOST", TR_LIBEXEC_DIR, host, sizeof host, e) < 0)
        return -1;
    s->h.timeout_ms = s->device_timeout_ms;
    char *argv[] = {host, s->h.library, NULL};
    if (tr_libhost_start(&s->h, host, argv, e) < 0 || await_hello(s, e) < 0) {
        /* a later call says the module is not loaded, not what killed an old child */
        s->h.dead = true, s->h.signal = 0;
        s->h.death = *e;
        return -1;
    }
    return 0;
}

int tr_p11_open(const tr_p11_opts *o, tr_p11 **out, tr_err *e)
{
    *out = NULL;
    if (check_opts(o, e) < 0)
        return -1;
    tr_p11 *s = calloc(1, sizeof *s);
    if (!s)
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    s->h.what = "PKCS#11 module";
    tr_strlcpy(s->h.library, o->module, sizeof s->h.library);
    s->call_timeout_ms = o->call_timeout_ms > 0 ? o->call_timeout_ms : 10000;
    s->device_timeout_ms = o->device_timeout_ms > s->call_timeout_ms ? o->device_timeout_ms : s->call_timeout_ms;
    s->trace = o->trace, s->trace_ud = o->trace_ud;
    if (load_module(s, e) < 0) {
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}

void tr_p11_unload(tr_p11 *s)
{
    if (s->initialized && !s->h.dead) {
        tr_p11_reply r;
        tr_err e;
        tr_p11_call(s, "C_Finalize", NULL, &r, &e);
    }
    tr_libhost_stop(&s->h, &quit, sizeof quit);
    s->initialized = false;
    if (!s->h.dead) {
        s->h.dead = true, s->h.signal = 0;
        tr_err_clear(&s->h.death);
        tr_fail(&s->h.death, TR_E_LIBRARY, "the PKCS#11 module %s is unloaded", s->path);
    }
}

int tr_p11_load(tr_p11 *s, tr_err *e)
{
    if (!s->h.dead || s->h.pid > 0)
        return tr_fail(e, TR_E_INTERNAL, "the PKCS#11 module %s is still loaded", s->path);
    return load_module(s, e);
}

void tr_p11_close(tr_p11 *s)
{
    if (!s)
        return;
    tr_p11_unload(s);
    free(s->out);
    free(s);
}

void tr_p11_set_trace(tr_p11 *s, void (*fn)(void *ud, const tr_p11_trace *row), void *ud)
{
    s->trace = fn;
    s->trace_ud = ud;
}

const char *tr_p11_module_path(const tr_p11 *s)
{
    return s->path;
}

bool tr_p11_has(const tr_p11 *s, const char *fn)
{
    int i = fn_index(fn);
    return s && i >= 0 && (s->have >> i & 1);
}

bool tr_p11_dead(const tr_p11 *s, int *signal)
{
    if (signal)
        *signal = s ? s->h.signal : 0;
    return s && s->h.dead;
}

/* ---- the trace -------------------------------------------------------------------- */

/* The symbolic name of number v as argument kind k (fn_usym). */
static void fmt_number(char k, uint64_t v, char *buf, size_t cap)
{
    const char *n = NULL;
    switch (k) {
    case 'B': n = v == 1 ? "CK_TRUE" : v == 0 ? "CK_FALSE" : NULL; break;
    case 'U': n = tr_p11_user_name(v); break;
    case 'M': n = tr_p11_mech_name(v); break;
    case 'A': n = tr_p11_attr_name(v); break;
    case 'C': n = v == TR_P11_ANY ? "any" : tr_p11_class_name(v); break;
    case 'F': n = v == CKF_RW_SESSION_BIT ? "CKF_RW_SESSION" : v == 0 ? "0" : NULL; break;
    case 'W': n = v == 1 ? "CKF_DONT_BLOCK" : v == 0 ? "0" : NULL; break;
    default: break;
    }
    if (n && *n)
        snprintf(buf, cap, "%s", n);
    else if (strchr("MACFW", k))
        snprintf(buf, cap, "0x%08llX", (unsigned long long)v);
    else
        snprintf(buf, cap, "%llu", (unsigned long long)v);
}

/* The numbers of a call and how the trace names each (fn_usym). */
typedef struct {
    const char *sym;
    const uint64_t *u;
} numbers;

static void fmt_arg_number(const void *ud, size_t i, char *buf, size_t cap)
{
    const numbers *n = ud;
    fmt_number(i < strlen(n->sym) ? n->sym[i] : '-', n->u[i], buf, cap);
}

/* "count=2 ids=[1, 2]", "slot=0", "label=\"T\" flags=0x0000040D ...", or
 * the hex of a byte output. */
static void fmt_outputs(int fn, const tr_p11_reply *r, char *buf, size_t cap)
{
    const tr_p11_fn_info *f = &fn_info[fn];
    char names[256], piece[600];
    buf[0] = '\0';
    tr_strlcpy(names, f->outs, sizeof names);
    size_t i = 0;
    for (char *sv = NULL, *n = strtok_r(names, ",", &sv); n && i < r->nu; n = strtok_r(NULL, ",", &sv), i++) {
        bool hex = strstr(n, "flags") != NULL;
        snprintf(piece, sizeof piece, hex ? "%s=0x%llX" : "%s=%llu", n, (unsigned long long)r->u[i]);
        tr_libhost_append(buf, cap, piece);
    }
    tr_strlcpy(names, f->texts, sizeof names);
    i = 0;
    for (char *sv = NULL, *n = strtok_r(names, ",", &sv); n && i < r->ntext; n = strtok_r(NULL, ",", &sv), i++) {
        snprintf(piece, sizeof piece, "%s=\"%s\"", n, r->text[i]);
        tr_libhost_append(buf, cap, piece);
    }
    if (!strcmp(f->out, "ids")) {
        size_t len = (size_t)snprintf(piece, sizeof piece, "ids=[");
        for (size_t k = 0; k < r->nids && k < 16 && len < sizeof piece; k++)
            len += (size_t)snprintf(piece + len, sizeof piece - len, "%s%llu", k ? " " : "",
                                    (unsigned long long)r->ids[k]);
        if (len < sizeof piece)
            snprintf(piece + len, sizeof piece - len, "%s]", r->nids > 16 ? " …" : "");
        tr_libhost_append(buf, cap, piece);
    } else if (!strcmp(f->out, "data")) {
        char b[2 * TR_LIBHOST_HEX_HEAD + 32];
        tr_libhost_fmt_bytes(r->out, r->nout, b, sizeof b);
        snprintf(piece, sizeof piece, "data=%s", b);
        tr_libhost_append(buf, cap, piece);
    }
}

static const char *const inv_names[] = {[TR_P11_INV_FIND_INIT] = "C_FindObjectsInit",
                                        [TR_P11_INV_FIND] = "C_FindObjects",
                                        [TR_P11_INV_FIND_FINAL] = "C_FindObjectsFinal"};

/* The rows of a call the child answered: each module function it invoked
 * (a size query, the call; find's init, batches and final). */
static void trace_reply(const tr_p11 *s, int fn, const char *args, const tr_p11_rep *rep, const tr_p11_reply *r)
{
    char outputs[1024], query[600];
    snprintf(query, sizeof query, "%s%sNULL", args, args[0] ? ", " : "");
    for (uint32_t i = 0; i < rep->ninv; i++) {
        const tr_p11_inv *v = &rep->inv[i];
        bool last = i + 1 == rep->ninv;
        const char *name = v->which && v->which < 4 ? inv_names[v->which] : fn_info[fn].name;
        const char *a = v->which == TR_P11_INV_FIND_INIT ? args : v->which ? "" : last ? args : query;
        if (rep->status != TR_P11_ST_DONE && last)
            snprintf(outputs, sizeof outputs, "%s", rep->msg);
        else if (v->which == TR_P11_INV_FIND)
            snprintf(outputs, sizeof outputs, "count=%llu", (unsigned long long)v->size);
        else if (last && !v->which && v->rv == 0)
            fmt_outputs(fn, r, outputs, sizeof outputs);
        else if (!last && !v->which)
            snprintf(outputs, sizeof outputs, "size=%llu", (unsigned long long)v->size);
        else
            outputs[0] = '\0';
        trace_row(s, name, a, tr_p11_rv_name(v->rv), outputs, v->ns / 1000.0);
    }
}

/* ---- a call --------------------------------------------------------------------------- */

static int pack(int fn, const tr_p11_args *a, tr_p11_req *rq, uint8_t **payload, tr_err *e)
{
    tr_libhost_vec v = {a->s, a->ns, a->b, a->blen, a->nb};
    memset(rq, 0, sizeof *rq);
    if (tr_libhost_pack(fn_info[fn].name, fn_info[fn].in, a->nu, &v, rq->slen, rq->blen, &rq->payload, payload, e) < 0)
        return -1;
    rq->magic = TR_P11_WIRE_MAGIC, rq->op = TR_P11_OP_CALL, rq->fn = (uint32_t)fn;
    rq->nu = (uint32_t)a->nu, rq->ns = (uint32_t)a->ns, rq->nb = (uint32_t)a->nb;
    memcpy(rq->u, a->u, a->nu * sizeof a->u[0]);
    return 0;
}

/* The answer: header checked, payload into s->out. Returns 1, or what
 * tr_libhost_recv_* gave (0 closed, -2 late, -1 bad). */
static int receive(tr_p11 *s, int fn, tr_p11_rep *rep, tr_err *e)
{
    uint64_t dl = tr_libhost_deadline(&s->h);
    int r = tr_libhost_recv_hdr(s->h.fd, rep, sizeof *rep, dl, e);
    if (r != 1)
        return r;
    rep->msg[sizeof rep->msg - 1] = '\0';
    bool ids = !strcmp(fn_info[fn].out, "ids");
    if (rep->magic != TR_P11_WIRE_MAGIC || rep->ninv > TR_P11_INV_MAX || rep->status > TR_P11_ST_BOGUS ||
        rep->payload > TR_P11_OUT_MAX || (rep->status != TR_P11_ST_DONE && rep->payload) ||
        (ids && rep->payload % sizeof(uint64_t)) || (!fn_info[fn].out[0] && rep->payload))
        return tr_fail(e, TR_E_IO, "a malformed answer (%u invocations, %u bytes)", rep->ninv, rep->payload);
    free(s->out);
    if (!(s->out = malloc(rep->payload + 8u)))
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    return tr_libhost_recv_payload(s->h.fd, s->out, rep->payload, dl, e);
}

/* A structure's numbers and texts into r (the table's order). */
static int read_structure(tr_p11 *s, int fn, tr_p11_reply *r, tr_err *e)
{
    const char *kind = fn_info[fn].out;
    static _Thread_local union {
        tr_p11_info i;
        tr_p11_slot sl;
        tr_p11_token t;
    } u;
    const char *texts[TR_P11_TEXTS_MAX] = {0};
    int rc = 0;
    if (!strcmp(kind, "info") && (rc = tr_p11_info_parse(r->out, r->nout, &u.i, e)) == 0) {
        const char *t[] = {u.i.cryptoki_version, u.i.manufacturer, u.i.description, u.i.library_version};
        memcpy(texts, t, sizeof t);
        r->u[0] = u.i.flags;
    } else if (!strcmp(kind, "slotinfo") && (rc = tr_p11_slot_parse(r->out, r->nout, &u.sl, e)) == 0) {
        const char *t[] = {u.sl.description, u.sl.manufacturer, u.sl.hardware_version, u.sl.firmware_version};
        memcpy(texts, t, sizeof t);
        r->u[0] = u.sl.flags;
    } else if (!strcmp(kind, "tokeninfo") && (rc = tr_p11_token_parse(r->out, r->nout, &u.t, e)) == 0) {
        const char *t[] = {u.t.label, u.t.manufacturer, u.t.model, u.t.serial,
                           u.t.hardware_version, u.t.firmware_version, u.t.utc_time};
        memcpy(texts, t, sizeof t);
        memcpy(r->u, u.t.num, sizeof u.t.num);
    }
    if (rc < 0)
        return -1;
    r->ntext = count_names(fn_info[fn].texts);
    for (size_t i = 0; i < r->ntext; i++) {
        tr_strlcpy(s->text[i], texts[i] ? texts[i] : "", TEXT_MAX);
        r->text[i] = s->text[i];
    }
    return 0;
}

/* The reply from the answer. */
static int fill_reply(tr_p11 *s, int fn, const tr_p11_rep *rep, tr_p11_reply *r, tr_err *e)
{
    r->rv = rep->rv;
    r->nu = count_names(fn_info[fn].outs);
    memcpy(r->u, rep->u, sizeof r->u);
    r->out = s->out, r->nout = rep->payload;
    for (uint32_t k = 0; k < rep->ninv; k++)
        r->us += rep->inv[k].ns / 1000.0;
    if (!strcmp(fn_info[fn].out, "ids")) {
        r->ids = (const uint64_t *)(const void *)s->out;
        r->nids = rep->payload / sizeof(uint64_t);
        r->u[0] = r->nids;
    }
    if (rep->status == TR_P11_ST_DONE && rep->rv == 0 && strstr(fn_info[fn].out, "info"))
        return read_structure(s, fn, r, e);
    return 0;
}

static int lost_child(tr_p11 *s, int fn, const char *args, int how, tr_err *e)
{
    char rv[64];
    double us;
    int rc = tr_libhost_lost(&s->h, fn_info[fn].name, how, rv, sizeof rv, &us, e);
    trace_row(s, fn_info[fn].name, args, rv, "", us);
    return rc;
}

static void set_timeout(tr_p11 *s, int fn)
{
    s->h.timeout_ms = s->call_timeout_ms;
    for (size_t k = 0; k < sizeof device_level / sizeof device_level[0]; k++)
        if (fn == device_level[k])
            s->h.timeout_ms = s->device_timeout_ms;
}

int tr_p11_call(tr_p11 *s, const char *fn, const tr_p11_args *args, tr_p11_reply *r, tr_err *e)
{
    static const tr_p11_args none;
    int i = fn_index(fn);
    memset(r, 0, sizeof *r);
    if (i < 0)
        return tr_fail(e, TR_E_CONFIG, "%s is not a PKCS#11 call tokenrig makes", fn ? fn : "(null)");
    if (tr_libhost_check(&s->h, e) < 0)
        return -1;
    if (!(s->have >> i & 1))
        return tr_fail(e, TR_E_CONFIG, "%s is not in the function list of %s", fn, s->path);
    args = args ? args : &none;
    tr_p11_req rq;
    uint8_t *payload = NULL;
    if (pack(i, args, &rq, &payload, e) < 0) {
        free(payload);
        return -1;
    }
    set_timeout(s, i);
    char targs[512];
    numbers nums = {fn_usym[i] ? fn_usym[i] : "", args->u};
    tr_libhost_vec v = {args->s, args->ns, args->b, args->blen, args->nb};
    tr_libhost_fmt_args(fn_info[i].in, fmt_arg_number, &nums, &v, targs, sizeof targs);
    int rc = tr_libhost_send(s->h.fd, &rq, sizeof rq, payload, rq.payload, e);
    free(payload);
    static _Thread_local tr_p11_rep rep;
    int got = rc < 0 ? 0 : receive(s, i, &rep, e); /* a failed send: the child is gone, say how */
    if (got != 1)
        return lost_child(s, i, targs, got, e);
    rc = fill_reply(s, i, &rep, r, e);
    trace_reply(s, i, targs, &rep, r);
    if (rep.status == TR_P11_ST_CONFIG)
        return tr_fail(e, TR_E_CONFIG, "%s (%s)", rep.msg, s->path);
    if (rep.status == TR_P11_ST_BOGUS)
        return tr_fail(e, TR_E_TOKEN, "the PKCS#11 module %s: %s", s->path, rep.msg);
    if (i == TR_P11_FN_C_Finalize && r->rv == 0)
        s->initialized = false;
    return rc;
}
