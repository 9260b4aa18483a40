/* skf.c — the SKF layer's parent side (skf.h): the shape table, the child
 * (build/tokenrig-skfhost, started and lost through libhost.h, shared
 * with the PKCS#11 layer), the call timeouts, the trace.
 *
 * Every length the child sends is checked against what this side can
 * hold; a child that breaks the protocol is killed like one that hangs.
 * A session is used by one thread at a time.
 */
#include "skf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "libhost.h"
#include "skf_wire.h"
#include "skfdata.h"
#include "util.h"

#ifndef TR_LIBEXEC_DIR
#define TR_LIBEXEC_DIR "/usr/local/libexec/tokenrig"
#endif
#define HOST_NAME "tokenrig-skfhost"

/* ---- the shape table ------------------------------------------------------------ */
#define F(name, in, outs, out) [TR_FN_SKF_##name] = {"SKF_" #name, in, outs, out}
static const tr_skf_fn_info fn_info[TR_SKF_NFN] = {
    F(WaitForDevEvent, "", "event", "name"),
    F(CancelWaitForDevEvent, "", "", ""),
    F(EnumDev, "u", "", "list"),
    F(ConnectDev, "s", "", ""),
    F(DisConnectDev, "", "", ""),
    F(GetDevState, "s", "state", ""),
    F(GetDevInfo, "", "", "devinfo"),
    F(LockDev, "u", "", ""),
    F(UnlockDev, "", "", ""),
    F(EnumApplication, "", "", "list"),
    F(OpenApplication, "s", "", ""),
    F(CloseApplication, "", "", ""),
    F(GetPINInfo, "u", "max,remain,default", ""),
    F(VerifyPIN, "up", "retry", ""),
    F(ChangePIN, "upp", "retry", ""),
    F(UnblockPIN, "pp", "retry", ""),
    F(ClearSecureState, "", "", ""),
    F(EnumFiles, "", "", "list"),
    F(GetFileInfo, "s", "size,read,write", "fileattr"),
    F(ReadFile, "suu", "", "data"),
    F(EnumContainer, "", "", "list"),
    F(OpenContainer, "s", "", ""),
    F(CloseContainer, "", "", ""),
    F(GetContainerType, "", "type", ""),
    F(ExportCertificate, "u", "", "cert"),
    F(ExportPublicKey, "u", "", "blob"),
    F(GenRandom, "u", "", "data"),
    F(DigestInit, "ubb", "", ""),
    F(Digest, "b", "", "data"),
    F(DigestUpdate, "b", "", ""),
    F(DigestFinal, "", "", "data"),
    F(ECCSignData, "b", "", "blob"),
    F(RSASignData, "b", "", "data"),
    F(ImportSessionKey, "ub", "", ""),
    F(DecryptInit, "buu", "", ""),
    F(Decrypt, "b", "", "data"),
    F(CloseHandle, "u", "", ""),
};
#undef F

/* How the trace names a function's number arguments, one letter per 'u'
 * in order: P a PIN type, B a BOOL, S sign / encryption pair, A an
 * algorithm, H which handle; anything else (or none): decimal. */
static const char *const fn_usym[TR_SKF_NFN] = {
    [TR_FN_SKF_EnumDev] = "B",           [TR_FN_SKF_GetPINInfo] = "P",        [TR_FN_SKF_VerifyPIN] = "P",
    [TR_FN_SKF_ChangePIN] = "P",         [TR_FN_SKF_ExportCertificate] = "S", [TR_FN_SKF_ExportPublicKey] = "S",
    [TR_FN_SKF_DigestInit] = "A",        [TR_FN_SKF_ImportSessionKey] = "A",  [TR_FN_SKF_CloseHandle] = "H",
};

const tr_skf_fn_info *tr_skf_fn_table(size_t *n)
{
    *n = TR_SKF_NFN;
    return fn_info;
}

static int fn_index(const char *fn)
{
    for (int i = 0; fn && i < TR_SKF_NFN; i++)
        if (fn_info[i].name && !strcmp(fn_info[i].name, fn))
            return i;
    return -1;
}

const tr_skf_fn_info *tr_skf_fn_lookup(const char *fn)
{
    int i = fn_index(fn);
    return i < 0 ? NULL : &fn_info[i];
}

/* ---- the session ------------------------------------------------------------------ */
struct tr_skf {
    tr_libhost h;             /* the child; h.library the resolved path, h.timeout_ms the current call's */
    double call_timeout_ms, device_timeout_ms;
    unsigned devinfo_size, out_width;
    uint64_t have;
    uint8_t *out; /* the last reply's byte output */
    void (*trace)(void *ud, const tr_skf_trace *row);
    void *trace_ud;
};

/* The child's hello: the library loaded, the functions it has. */
static int await_hello(tr_skf *s, tr_err *e)
{
    tr_skf_hello h;
    if (tr_libhost_hello(&s->h, &h, sizeof h, TR_SKF_WIRE_MAGIC, e) < 0)
        return -1;
    h.msg[sizeof h.msg - 1] = '\0';
    if (!h.loaded) {
        tr_skf_req q = {.magic = TR_SKF_WIRE_MAGIC, .op = TR_SKF_OP_QUIT};
        tr_libhost_stop(&s->h, &q, sizeof q);
        return tr_fail(e, TR_E_CONFIG, "the SKF library %s does not load: %s", s->h.library, h.msg);
    }
    s->have = h.have;
    return 0;
}

static int check_opts(const tr_skf_opts *o, tr_err *e)
{
    if (!o || !o->library || !*o->library)
        return tr_fail(e, TR_E_CONFIG, "no SKF library given");
    if (strlen(o->library) >= TR_PATH_MAX)
        return tr_fail(e, TR_E_CONFIG, "SKF library path too long");
    if (o->out_width != 0 && o->out_width != 4 && o->out_width != 8)
        return tr_fail(e, TR_E_CONFIG, "out_width %u: 4 or 8", o->out_width);
    if (o->devinfo_size != 0 && o->devinfo_size != 286 && o->devinfo_size != 294)
        return tr_fail(e, TR_E_CONFIG, "devinfo size %u: 294 or 286", o->devinfo_size);
    if (o->call_timeout_ms < 0)
        return tr_fail(e, TR_E_CONFIG, "call timeout %.0f ms", o->call_timeout_ms);
    return 0;
}

/* A bare library name ("libskf-ref1.so") that lies beside tokenrig (the
 * build or install directory) is taken from there, so that a rig file
 * names the REF-1 library wherever tokenrig was built; any other name is
 * dlopen's to find (LD_LIBRARY_PATH, the system's directories). */
static void library_path(const char *name, char *out, size_t cap)
{
    tr_strlcpy(out, name, cap);
    if (strchr(name, '/'))
        return;
    char beside[TR_PATH_MAX + 256];
    snprintf(beside, sizeof beside, "%s/%s", tr_exe_dir(), name);
    if (access(beside, R_OK) == 0 && strlen(beside) < cap)
        tr_strlcpy(out, beside, cap);
}

int tr_skf_open(const tr_skf_opts *o, tr_skf **out, tr_err *e)
{
    char host[TR_PATH_MAX];
    *out = NULL;
    if (check_opts(o, e) < 0 || tr_libhost_find(HOST_NAME, "TOKENRIG_SKF_HOST", TR_LIBEXEC_DIR, host, sizeof host, e) < 0)
        return -1;
    tr_skf *s = calloc(1, sizeof *s);
    if (!s)
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    s->h.what = "SKF library";
    library_path(o->library, s->h.library, sizeof s->h.library);
    s->call_timeout_ms = o->call_timeout_ms > 0 ? o->call_timeout_ms : 10000;
    s->device_timeout_ms = o->device_timeout_ms > s->call_timeout_ms ? o->device_timeout_ms : s->call_timeout_ms;
    s->h.timeout_ms = s->device_timeout_ms;
    s->devinfo_size = o->devinfo_size ? o->devinfo_size : 294;
    s->out_width = o->out_width ? o->out_width : 8;
    s->trace = o->trace, s->trace_ud = o->trace_ud;
    char dsz[16], width[16];
    snprintf(dsz, sizeof dsz, "%u", s->devinfo_size);
    snprintf(width, sizeof width, "%u", s->out_width);
    char *argv[] = {host, s->h.library, dsz, width, NULL};
    if (tr_libhost_start(&s->h, host, argv, e) < 0 || await_hello(s, e) < 0) {
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}

void tr_skf_close(tr_skf *s)
{
    if (!s)
        return;
    tr_skf_req q = {.magic = TR_SKF_WIRE_MAGIC, .op = TR_SKF_OP_QUIT};
    tr_libhost_stop(&s->h, &q, sizeof q);
    free(s->out);
    free(s);
}

bool tr_skf_has(const tr_skf *s, const char *fn)
{
    int i = fn_index(fn);
    return s && i >= 0 && (s->have >> i & 1);
}

bool tr_skf_dead(const tr_skf *s, int *signal)
{
    if (signal)
        *signal = s ? s->h.signal : 0;
    return s && s->h.dead;
}

/* ---- the trace -------------------------------------------------------------------- */

static const char *alg_name(uint32_t v)
{
    static const struct {
        uint32_t id;
        const char *name;
    } algs[] = {{SGD_SM3, "SGD_SM3"},         {SGD_SHA1, "SGD_SHA1"},       {SGD_SHA256, "SGD_SHA256"},
                {SGD_SM4_ECB, "SGD_SM4_ECB"}, {SGD_SM4_CBC, "SGD_SM4_CBC"}, {SGD_SM2_1, "SGD_SM2_1"},
                {SGD_RSA, "SGD_RSA"}};
    for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++)
        if (algs[i].id == v)
            return algs[i].name;
    return NULL;
}

/* The symbolic name of number v as argument kind k (fn_usym). */
static void fmt_number(char k, uint32_t v, char *buf, size_t cap)
{
    const char *n = NULL;
    switch (k) {
    case 'P': n = v == USER_TYPE ? "USER_TYPE" : v == ADMIN_TYPE ? "ADMIN_TYPE" : NULL; break;
    case 'B': n = v == 1 ? "TRUE" : v == 0 ? "FALSE" : NULL; break;
    case 'S': n = v == 1 ? "TRUE (sign)" : v == 0 ? "FALSE (encryption)" : NULL; break;
    case 'H': n = v == 0 ? "the hash" : v == 1 ? "the session key" : NULL; break;
    case 'A': n = alg_name(v); break;
    default: break;
    }
    if (n)
        snprintf(buf, cap, "%s", n);
    else if (k == 'A')
        snprintf(buf, cap, "0x%08X", v);
    else
        snprintf(buf, cap, "%u", v);
}

/* Number i of a call's arguments by its kind (fn_usym). */
typedef struct {
    int fn;
    const tr_skf_args *a;
} arg_ctx;
static void fmt_arg_number(const void *ud, size_t i, char *buf, size_t cap)
{
    const arg_ctx *c = ud;
    const char *sym = fn_usym[c->fn] ? fn_usym[c->fn] : "";
    fmt_number(i < strlen(sym) ? sym[i] : '-', c->a->u[i], buf, cap);
}

/* The arguments in prototype order, PINs as <pin>. */
static void fmt_args(int fn, const tr_skf_args *a, char *buf, size_t cap)
{
    arg_ctx c = {fn, a};
    tr_libhost_vec v = {a->s, a->ns, a->b, a->blen, a->nb};
    tr_libhost_fmt_args(fn_info[fn].in, fmt_arg_number, &c, &v, buf, cap);
}

/* "max=5 remain=5 default=1", then the byte output. */
static void fmt_outputs(int fn, const tr_skf_reply *r, bool bytes, char *buf, size_t cap)
{
    const tr_skf_fn_info *f = &fn_info[fn];
    char names[64], piece[512];
    tr_strlcpy(names, f->outs, sizeof names);
    buf[0] = '\0';
    size_t i = 0;
    for (char *save = NULL, *n = strtok_r(names, ",", &save); n && i < r->nu; n = strtok_r(NULL, ",", &save), i++) {
        size_t len = strlen(buf);
        snprintf(buf + len, cap - len, "%s%s=%u", len ? " " : "", n, r->u[i]);
    }
    if (!f->out[0] || !bytes)
        return;
    if (!strcmp(f->out, "list")) {
        static _Thread_local tr_skf_list l;
        tr_skf_list_split(r->out, r->nout, &l);
        char t[400];
        tr_skf_list_text(&l, t, sizeof t);
        snprintf(piece, sizeof piece, "list=[%s]", t);
    } else {
        char b[2 * TR_LIBHOST_HEX_HEAD + 32];
        tr_libhost_fmt_bytes(r->out, r->nout, b, sizeof b);
        snprintf(piece, sizeof piece, "%s=%s", f->out, b);
    }
    size_t len = strlen(buf);
    snprintf(buf + len, cap - len, "%s%s", len ? " " : "", piece);
}

static void trace_row(const tr_skf *s, int fn, const char *args, const char *sar, const char *outputs, double us)
{
    if (!s->trace)
        return;
    tr_skf_trace row = {fn_info[fn].name, args, sar, outputs, us};
    s->trace(s->trace_ud, &row);
}

/* The rows of a call the child answered: a size query, then the call. */
static void trace_reply(const tr_skf *s, int fn, const char *args, const tr_skf_rep *rep, const tr_skf_reply *r)
{
    char outputs[768], query[600];
    for (uint32_t i = 0; i < rep->ninv; i++) {
        bool last = i + 1 == rep->ninv;
        if (!last)
            snprintf(outputs, sizeof outputs, "size=%u", rep->inv[i].size);
        else if (rep->status == TR_SKF_ST_DONE)
            fmt_outputs(fn, r, rep->inv[i].sar == SAR_OK, outputs, sizeof outputs);
        else
            snprintf(outputs, sizeof outputs, "%s", rep->msg);
        snprintf(query, sizeof query, "%s%sNULL", args, args[0] ? ", " : "");
        trace_row(s, fn, last ? args : query, tr_skf_sar_name(rep->inv[i].sar), outputs, rep->inv[i].ns / 1000.0);
    }
}

/* ---- a call --------------------------------------------------------------------------- */

/* args against the shape; the request header and its payload. */
static int pack(int fn, const tr_skf_args *a, tr_skf_req *rq, uint8_t **payload, tr_err *e)
{
    tr_libhost_vec v = {a->s, a->ns, a->b, a->blen, a->nb};
    memset(rq, 0, sizeof *rq);
    if (tr_libhost_pack(fn_info[fn].name, fn_info[fn].in, a->nu, &v, rq->slen, rq->blen, &rq->payload, payload, e) < 0)
        return -1;
    rq->magic = TR_SKF_WIRE_MAGIC, rq->op = TR_SKF_OP_CALL, rq->fn = (uint32_t)fn;
    rq->nu = (uint32_t)a->nu, rq->ns = (uint32_t)a->ns, rq->nb = (uint32_t)a->nb;
    memcpy(rq->u, a->u, a->nu * sizeof a->u[0]);
    return 0;
}

/* No answer, the socket closed, or an answer that breaks the protocol: the
 * session dead (libhost.h) with one trace row. */
static int lost_child(tr_skf *s, int fn, const char *args, int how, tr_err *e)
{
    char sar[64];
    double us;
    int rc = tr_libhost_lost(&s->h, fn_info[fn].name, how, sar, sizeof sar, &us, e);
    trace_row(s, fn, args, sar, "", us);
    return rc;
}

/* The answer: header checked, payload into s->out. Returns 1, or what
 * tr_libhost_recv_* gave (0 closed, -2 late, -1 bad). */
static int receive(tr_skf *s, tr_skf_rep *rep, tr_err *e)
{
    uint64_t dl = tr_libhost_deadline(&s->h);
    int r = tr_libhost_recv_hdr(s->h.fd, rep, sizeof *rep, dl, e);
    if (r != 1)
        return r;
    rep->msg[sizeof rep->msg - 1] = '\0';
    if (rep->magic != TR_SKF_WIRE_MAGIC || rep->ninv > 2 || rep->status > TR_SKF_ST_BOGUS ||
        rep->payload > TR_SKF_OUT_MAX || (rep->status != TR_SKF_ST_DONE && rep->payload))
        return tr_fail(e, TR_E_IO, "a malformed answer (%u invocations, %u bytes)", rep->ninv, rep->payload);
    free(s->out);
    if (!(s->out = malloc(rep->payload + 1u)))
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    return tr_libhost_recv_payload(s->h.fd, s->out, rep->payload, dl, e);
}

static size_t count_outs(const char *outs)
{
    size_t n = *outs ? 1 : 0;
    for (; *outs; outs++)
        n += *outs == ',';
    return n;
}

int tr_skf_call(tr_skf *s, const char *fn, const tr_skf_args *args, tr_skf_reply *r, tr_err *e)
{
    int i = fn_index(fn);
    memset(r, 0, sizeof *r);
    if (i < 0)
        return tr_fail(e, TR_E_CONFIG, "%s is not an SKF function tokenrig calls", fn ? fn : "(null)");
    if (tr_libhost_check(&s->h, e) < 0)
        return -1;
    if (!(s->have >> i & 1))
        return tr_fail(e, TR_E_CONFIG, "%s is not exported by %s", fn, s->h.library);
    /* the device-level calls list or reach every device the library sees:
     * they take longer with more tokens (and while others power-cycle) */
    static const char *const device_level[] = {"SKF_EnumDev", "SKF_ConnectDev", "SKF_GetDevState",
                                               "SKF_WaitForDevEvent"};
    s->h.timeout_ms = s->call_timeout_ms;
    for (size_t k = 0; k < sizeof device_level / sizeof device_level[0]; k++)
        if (!strcmp(fn, device_level[k]))
            s->h.timeout_ms = s->device_timeout_ms;
    static const tr_skf_args none;
    tr_skf_req rq;
    uint8_t *payload = NULL;
    if (pack(i, args ? args : &none, &rq, &payload, e) < 0) {
        free(payload);
        return -1;
    }
    char targs[512];
    fmt_args(i, args ? args : &none, targs, sizeof targs);
    int rc = tr_libhost_send(s->h.fd, &rq, sizeof rq, payload, rq.payload, e);
    free(payload);
    tr_skf_rep rep;
    int got = rc < 0 ? 0 : receive(s, &rep, e); /* a failed send: the child is gone, say how */
    if (got != 1)
        return lost_child(s, i, targs, got, e);
    r->sar = rep.sar;
    r->nu = count_outs(fn_info[i].outs);
    memcpy(r->u, rep.u, sizeof r->u);
    r->out = s->out, r->nout = rep.payload;
    for (uint32_t k = 0; k < rep.ninv; k++)
        r->us += rep.inv[k].ns / 1000.0;
    trace_reply(s, i, targs, &rep, r);
    if (rep.status == TR_SKF_ST_CONFIG)
        return tr_fail(e, TR_E_CONFIG, "%s (%s)", rep.msg, s->h.library);
    if (rep.status == TR_SKF_ST_BOGUS)
        return tr_fail(e, TR_E_TOKEN, "the SKF library %s: %s", s->h.library, rep.msg);
    return 0;
}

void tr_skf_set_trace(tr_skf *s, void (*fn)(void *ud, const tr_skf_trace *row), void *ud)
{
    s->trace = fn;
    s->trace_ud = ud;
}

_Static_assert(TR_SAR_DEVICE_REMOVED == SAR_DEVICE_REMOVED, "skf.h's copy of SAR_DEVICE_REMOVED");
