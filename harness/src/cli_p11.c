/* The p11 command: `tokenrig p11 list --module M`, a read-only inventory of
 * what a PKCS#11 module sees — the module's CK_INFO, every slot with its
 * CK_SLOT_INFO, the token in it (CK_TOKEN_INFO, its flags decoded: the PIN
 * counters, locks and to-be-changed flags), its mechanisms with key sizes
 * and flags, and its public objects (class, label, id; certificates'
 * subject, serial and notAfter read with OpenSSL). No login: no PIN is
 * asked for or printed, private objects stay unseen. A CKR_* error is a
 * line with its name; the module crashing or hanging ends the command
 * (exit 2), never tokenrig.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "crypto.h"
#include "p11.h"
#include "p11data.h"
#include "skfdata.h"
#include "util.h"

/* pkcs11.h stays with the layer's readers: the few numbers listing needs */
#define CKO_CERTIFICATE_ 1u
#define CKA_CLASS_ 0x0u
#define CKA_LABEL_ 0x3u
#define CKA_VALUE_ 0x11u
#define CKA_ID_ 0x102u
#define CK_UNAVAILABLE UINT64_MAX

static void usage_p11(FILE *f)
{
    fprintf(f,
        "usage: tokenrig p11 list --module M [--timeout-ms MS]\n"
        "\n"
        "What a PKCS#11 module sees, read-only: the module (C_GetInfo), every slot\n"
        "(C_GetSlotList(CK_FALSE), C_GetSlotInfo), the token in it (C_GetTokenInfo:\n"
        "label, manufacturer, model, serial, versions, PIN lengths and the flags\n"
        "decoded: USER_PIN_COUNT_LOW, FINAL_TRY, LOCKED, TO_BE_CHANGED, SO_PIN_*),\n"
        "its mechanisms (C_GetMechanismList, C_GetMechanismInfo) and its public\n"
        "objects (a read-only session without login: class, label, CKA_ID, and\n"
        "each certificate's subject, serial and notAfter).\n"
        "M is a module's path, or a p11-kit module name (softhsm2, opensc-pkcs11).\n"
        "The module runs in a process of its own: if it crashes or does not answer\n"
        "within --timeout-ms (default 10000) the command ends with status 2.\n");
}

typedef struct {
    tr_p11 *s;
    tr_err e;
    bool lost;
} lister;

/* 1 CKR_OK; 0 not (a line at indent says why); -1 the module's process is
 * gone (L->e says why). */
static int call(lister *L, int indent, const char *fn, const tr_p11_args *a, tr_p11_reply *r)
{
    if (L->lost)
        return -1;
    if (!tr_p11_has(L->s, fn)) {
        printf("%*s%s: not in the function list\n", indent, "", fn);
        return 0;
    }
    if (tr_p11_call(L->s, fn, a, r, &L->e) < 0) {
        if (tr_p11_dead(L->s, NULL) || L->e.code == TR_E_IO)
            return L->lost = true, -1;
        printf("%*s%s: %s\n", indent, "", fn, L->e.msg);
        return 0;
    }
    if (r->rv != 0) {
        printf("%*s%s: %s\n", indent, "", fn, tr_p11_rv_name(r->rv));
        return 0;
    }
    return 1;
}

static int call_u(lister *L, int indent, const char *fn, uint64_t u0, uint64_t u1, size_t nu, tr_p11_reply *r)
{
    tr_p11_args a = {.u = {u0, u1}, .nu = nu};
    return call(L, indent, fn, &a, r);
}

/* A number that may be CK_UNAVAILABLE_INFORMATION. */
static const char *num(uint64_t v, char *buf, size_t cap)
{
    if (v == CK_UNAVAILABLE)
        snprintf(buf, cap, "unavailable");
    else
        snprintf(buf, cap, "%llu", (unsigned long long)v);
    return buf;
}

static void print_token(lister *L, uint64_t slot)
{
    tr_p11_reply r;
    char flags[512], a[24], b[24];
    printf("  token: ");
    if (call_u(L, 0, "C_GetTokenInfo", slot, 0, 1, &r) != 1)
        return;
    printf("label \"%s\", manufacturer \"%s\", model \"%s\", serial \"%s\"\n", r.text[0], r.text[1], r.text[2],
           r.text[3]);
    printf("    versions: hardware %s, firmware %s%s%s\n", r.text[4], r.text[5], r.text[6][0] ? ", clock " : "",
           r.text[6]);
    printf("    flags 0x%08llX: %s\n", (unsigned long long)r.u[0],
           tr_p11_flags_text(TR_P11_FLAGS_TOKEN, r.u[0], flags, sizeof flags));
    printf("    PIN length %s..%s", num(r.u[6], a, sizeof a), num(r.u[5], b, sizeof b));
    printf(", sessions %s of ", num(r.u[2], a, sizeof a));
    printf("%s", r.u[1] == 0 ? "any number" : num(r.u[1], b, sizeof b));
    printf(", public memory free %s of ", num(r.u[8], a, sizeof a));
    printf("%s\n", num(r.u[7], b, sizeof b));
}

static void print_mechanisms(lister *L, uint64_t slot)
{
    tr_p11_reply r;
    printf("  mechanisms: ");
    if (call_u(L, 0, "C_GetMechanismList", slot, 0, 1, &r) != 1)
        return;
    size_t n = r.nids;
    uint64_t *mechs = malloc((n + 1) * sizeof *mechs);
    if (!mechs)
        return (void)printf("out of memory\n");
    memcpy(mechs, r.ids, n * sizeof *mechs);
    printf("%zu\n", n);
    for (size_t i = 0; i < n && !L->lost; i++) {
        const char *name = tr_p11_mech_name(mechs[i]);
        char flags[256];
        if (name)
            printf("    %s: ", name);
        else
            printf("    0x%08llX: ", (unsigned long long)mechs[i]);
        if (call_u(L, 0, "C_GetMechanismInfo", slot, mechs[i], 2, &r) == 1)
            printf("key %llu..%llu, %s\n", (unsigned long long)r.u[0], (unsigned long long)r.u[1],
                   tr_p11_flags_text(TR_P11_FLAGS_MECH, r.u[2], flags, sizeof flags));
    }
    free(mechs);
}

/* An attribute's bytes into buf (at most cap), its length or -1. */
static long attribute(lister *L, uint64_t handle, uint64_t type, uint8_t *buf, size_t cap)
{
    tr_p11_reply r;
    tr_p11_args a = {.u = {handle, type}, .nu = 2};
    if (L->lost || tr_p11_call(L->s, "C_GetAttributeValue", &a, &r, &L->e) < 0) {
        L->lost = tr_p11_dead(L->s, NULL);
        return -1;
    }
    if (r.rv != 0 || r.nout > cap)
        return -1;
    memcpy(buf, r.out, r.nout);
    return (long)r.nout;
}

static void print_cert(lister *L, uint64_t handle)
{
    static uint8_t der[65536];
    long n = attribute(L, handle, CKA_VALUE_, der, sizeof der);
    tr_cert_info ci;
    tr_err e;
    if (n < 0) {
        printf("      CKA_VALUE not readable\n");
        return;
    }
    if (tr_cert_inspect(der, (size_t)n, time(NULL), 30, &ci, &e) < 0) {
        printf("      %ld bytes that do not parse (%s)\n", n, e.msg);
        return;
    }
    char when[32];
    struct tm tm;
    gmtime_r(&ci.not_after, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%SZ", &tm);
    printf("      subject \"%s\", serial %s, notAfter %s (%s)\n", ci.subject, ci.serial_hex, when,
           tr_cert_class_name(ci.cls));
}

static void print_object(lister *L, uint64_t handle)
{
    uint8_t buf[256], id[128];
    uint64_t cls = CK_UNAVAILABLE;
    tr_err e;
    long n = attribute(L, handle, CKA_CLASS_, buf, sizeof buf);
    if (n < 0 || tr_p11_attr_ulong(buf, (size_t)n, &cls, &e) < 0)
        cls = CK_UNAVAILABLE;
    const char *cname = tr_p11_class_name(cls);
    printf("    object %llu: %s", (unsigned long long)handle, cname ? cname : "class unknown");
    n = attribute(L, handle, CKA_LABEL_, buf, sizeof buf);
    char label[TR_P11_TEXT_CAP(256)];
    tr_skf_text(buf, n > 0 ? (size_t)n : 0, label, sizeof label);
    printf(", label \"%s\"", n >= 0 ? label : "?");
    long idn = attribute(L, handle, CKA_ID_, id, sizeof id);
    char hex[2 * sizeof id + 1] = "";
    if (idn > 0)
        tr_hex_encode(id, (size_t)idn, hex, sizeof hex, 0);
    printf(", id %s\n", idn > 0 ? hex : idn == 0 ? "(empty)" : "?");
    if (cls == CKO_CERTIFICATE_)
        print_cert(L, handle);
}

static void print_objects(lister *L, uint64_t slot)
{
    tr_p11_reply r;
    printf("  public objects: ");
    if (call_u(L, 0, "C_OpenSession", slot, 0, 2, &r) != 1)
        return;
    tr_p11_args f = {.u = {TR_P11_ANY}, .nu = 1, .s = {""}, .ns = 1, .nb = 1};
    if (call(L, 0, "find", &f, &r) == 1) {
        size_t n = r.nids;
        uint64_t *objs = malloc((n + 1) * sizeof *objs);
        if (objs) {
            memcpy(objs, r.ids, n * sizeof *objs);
            printf("%zu%s\n", n, r.u[1] ? " (the list was cut)" : "");
            for (size_t i = 0; i < n && !L->lost; i++)
                print_object(L, objs[i]);
        }
        free(objs);
    }
    if (!L->lost)
        call(L, 2, "C_CloseSession", NULL, &r);
}

static int list_all(lister *L)
{
    tr_p11_reply r;
    if (call(L, 0, "C_GetInfo", NULL, &r) == 1)
        printf("module %s: cryptoki %s, manufacturer \"%s\", \"%s\", version %s\n", tr_p11_module_path(L->s),
               r.text[0], r.text[1], r.text[2], r.text[3]);
    if (call_u(L, 0, "C_GetSlotList", 0, 0, 1, &r) != 1)
        return L->lost ? -1 : 0;
    size_t n = r.nids;
    uint64_t *slots = malloc((n + 1) * sizeof *slots);
    if (!slots)
        return tr_fail(&L->e, TR_E_NOMEM, "out of memory");
    memcpy(slots, r.ids, n * sizeof *slots);
    if (!n)
        printf("no slot\n");
    for (size_t i = 0; i < n && !L->lost; i++) {
        char flags[256];
        printf("slot %llu: ", (unsigned long long)slots[i]);
        if (call_u(L, 0, "C_GetSlotInfo", slots[i], 0, 1, &r) != 1)
            continue;
        printf("\"%s\", manufacturer \"%s\", flags %s\n", r.text[0], r.text[1],
               tr_p11_flags_text(TR_P11_FLAGS_SLOT, r.u[0], flags, sizeof flags));
        if (!(r.u[0] & 1u)) /* CKF_TOKEN_PRESENT */
            continue;
        print_token(L, slots[i]);
        if (!L->lost)
            print_mechanisms(L, slots[i]);
        if (!L->lost)
            print_objects(L, slots[i]);
    }
    free(slots);
    return L->lost ? -1 : 0;
}

static int p11_list(int argc, char **argv)
{
    static const struct option opts[] = {{"module", required_argument, 0, 'm'},
                                         {"timeout-ms", required_argument, 0, 't'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    tr_p11_opts o = {.call_timeout_ms = 10000};
    if (tr_cli_spelled_out("tokenrig p11 list", argc, argv, "m:t:h", opts) < 0)
        return 2;
    int c;
    while ((c = getopt_long(argc, argv, "m:t:h", opts, NULL)) != -1) {
        uint64_t v;
        switch (c) {
        case 'm': o.module = optarg; break;
        case 't':
            if (!tr_parse_u64(optarg, &v) || v == 0 || v > 3600000)
                return fprintf(stderr, "tokenrig p11 list: --timeout-ms takes 1..3600000, not '%s'\n", optarg), 2;
            o.call_timeout_ms = (double)v;
            break;
        case 'h': usage_p11(stdout); return 0;
        default: usage_p11(stderr); return 2;
        }
    }
    if (optind != argc || !o.module) {
        usage_p11(stderr);
        return 2;
    }
    lister L = {0};
    if (tr_p11_open(&o, &L.s, &L.e) < 0)
        return tr_cli_report_error(&L.e);
    int rc = list_all(&L);
    fflush(stdout);
    tr_p11_close(L.s);
    return rc < 0 ? tr_cli_report_error(&L.e) : 0;
}

int tr_cmd_p11(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "list"))
        return p11_list(argc - 1, argv + 1);
    bool help = argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
    usage_p11(help ? stdout : stderr);
    return help ? 0 : 2;
}
