/* The skf command: `tokenrig skf list --library L.so`, a read-only
 * inventory of the tokens a vendor's SKF library sees — devices, DEVINFO,
 * applications, PIN info (never a PIN, never a VerifyPIN), containers with
 * their certificates, files with sizes and rights, and whether a seal is
 * there (found by content: a file that parses as a seal, whatever its name).
 * A function the library lacks is a "not exported" line, a SAR_* error a
 * line with its name; the library crashing or hanging ends the command
 * (exit 2), never tokenrig.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "crypto.h"
#include "seal.h"
#include "skf.h"
#include "skf_abi.h"
#include "skfdata.h"
#include "util.h"

#define READ_MAX (1u << 20) /* the largest file read looking for a seal */

static void usage_skf(FILE *f)
{
    fprintf(f,
        "usage: tokenrig skf list --library L.so [--quirks out_width=4,devinfo=286] [--timeout-ms MS]\n"
        "\n"
        "What a vendor's GM/T 0016 (SKF) library sees, read-only: every device\n"
        "SKF_EnumDev(TRUE) lists with its state and DEVINFO, each application's\n"
        "PIN info (user and admin: tries and the default flag; no PIN is ever\n"
        "presented), containers with the sign and encryption certificates'\n"
        "subject, serial and notAfter, files with sizes and access rights, and\n"
        "whether one of them is an electronic seal (found by content).\n"
        "The library runs in a process of its own: if it crashes or does not\n"
        "answer within --timeout-ms (default 10000) the command ends with status 2.\n"
        "  --quirks  out_width=4|8: bytes the library writes for a ULONG / BOOL output;\n"
        "            devinfo=294|286: its DEVINFO size (older headers: 286)\n");
}

typedef struct {
    tr_skf *s;
    tr_err e;
    bool lost; /* the session died: stop */
} lister;

/* 1 the call gave SAR_OK; 0 it did not (a line at indent says why); -1
 * the library's process is gone (L->e says why). */
static int call(lister *L, int indent, const char *fn, const tr_skf_args *a, tr_skf_reply *r)
{
    if (L->lost)
        return -1;
    if (!tr_skf_has(L->s, fn)) {
        printf("%*s%s: not exported\n", indent, "", fn);
        return 0;
    }
    if (tr_skf_call(L->s, fn, a, r, &L->e) < 0) {
        if (tr_skf_dead(L->s, NULL) || L->e.code == TR_E_IO)
            return L->lost = true, -1;
        printf("%*s%s: %s\n", indent, "", fn, L->e.msg);
        return 0;
    }
    if (r->sar != SAR_OK) {
        printf("%*s%s: %s\n", indent, "", fn, tr_skf_sar_name(r->sar));
        return 0;
    }
    return 1;
}

/* A name list from fn (args a); 1 with *l filled, else call()'s 0 / -1. */
static int list_of(lister *L, int indent, const char *fn, const tr_skf_args *a, tr_skf_list *l)
{
    tr_skf_reply r;
    int rc = call(L, indent, fn, a, &r);
    if (rc != 1)
        return rc;
    tr_skf_list_split(r.out, r.nout, l);
    char why[256];
    if (l->flags)
        printf("%*s(%s: the list is %s)\n", indent, "", fn, tr_skf_list_problems(l->flags, why, sizeof why));
    return 1;
}

static void print_text_name(const char *what, const char *name, int indent)
{
    char t[TR_SKF_TEXT_CAP(TR_SKF_NAME_MAX)];
    tr_skf_text((const uint8_t *)name, strlen(name), t, sizeof t);
    printf("%*s%s \"%s\"", indent, "", what, t);
}

static void print_devinfo(const uint8_t *p, size_t n)
{
    tr_skf_devinfo d;
    tr_err e;
    if (tr_skf_devinfo_parse(p, n, &d, &e) < 0) {
        printf("  DEVINFO: %s\n", e.msg);
        return;
    }
    printf("  manufacturer \"%s\", issuer \"%s\", label \"%s\", serial \"%s\"\n", d.manufacturer, d.issuer, d.label,
           d.serial);
    printf("  versions: structure %u.%u, hardware %u.%u, firmware %u.%u\n", d.version[0], d.version[1],
           d.hw_version[0], d.hw_version[1], d.fw_version[0], d.fw_version[1]);
    printf("  algorithms: symmetric 0x%08X, asymmetric 0x%08X, hash 0x%08X, device auth 0x%08X\n", d.alg_sym,
           d.alg_asym, d.alg_hash, d.dev_auth_alg);
    printf("  space: total %u, free %u", d.total_space, d.free_space);
    if (d.has_buffer_sizes)
        printf("; buffers: ECC %u, max %u", d.max_ecc_buffer, d.max_buffer);
    printf("\n");
}

static void print_pin_info(lister *L, uint32_t type, const char *who)
{
    tr_skf_args a = {.u = {type}, .nu = 1};
    tr_skf_reply r;
    printf("    %s PIN: ", who);
    if (call(L, 0, "SKF_GetPINInfo", &a, &r) == 1)
        printf("max %u, remaining %u, default %s\n", r.u[0], r.u[1], r.u[2] ? "yes" : "no");
}

static void print_cert(lister *L, bool sign)
{
    tr_skf_args a = {.u = {sign ? TRUE : FALSE}, .nu = 1};
    tr_skf_reply r;
    printf("      %s certificate: ", sign ? "sign" : "encryption");
    if (call(L, 0, "SKF_ExportCertificate", &a, &r) != 1)
        return;
    tr_cert_info ci;
    tr_err e;
    if (tr_cert_inspect(r.out, r.nout, time(NULL), 30, &ci, &e) < 0) {
        printf("%zu bytes that do not parse (%s)\n", r.nout, e.msg);
        return;
    }
    char when[32];
    struct tm tm;
    gmtime_r(&ci.not_after, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%SZ", &tm);
    printf("subject \"%s\", serial %s, notAfter %s (%s)\n", ci.subject, ci.serial_hex, when,
           tr_cert_class_name(ci.cls));
}

static int list_container(lister *L, const char *name)
{
    tr_skf_args a = {.s = {name}, .ns = 1};
    tr_skf_reply r;
    print_text_name("container", name, 4);
    printf("\n");
    if (call(L, 6, "SKF_OpenContainer", &a, &r) != 1)
        return L->lost ? -1 : 0;
    static const char *const types[] = {"empty", "RSA", "ECC"};
    if (call(L, 6, "SKF_GetContainerType", NULL, &r) == 1)
        printf("      type %s (%u)\n", r.u[0] < 3 ? types[r.u[0]] : "unknown", r.u[0]);
    print_cert(L, true);
    print_cert(L, false);
    call(L, 6, "SKF_CloseContainer", NULL, &r);
    return L->lost ? -1 : 0;
}

/* What the applications' files said about a seal. */
typedef struct {
    size_t files, unread;
    char seal[512];
} seal_search;

/* Read a file whole (or READ_MAX) and see whether it parses as a seal. */
static void probe_seal(lister *L, const char *name, uint32_t size, seal_search *ss)
{
    tr_skf_args a = {.s = {name}, .ns = 1, .u = {0, size && size < READ_MAX ? size : READ_MAX}, .nu = 2};
    tr_skf_reply r;
    ss->files++;
    if (call(L, 6, "SKF_ReadFile", &a, &r) != 1) {
        ss->unread++;
        return;
    }
    tr_seal_info si;
    tr_err e;
    if (tr_seal_inspect(r.out, r.nout, NULL, 0, time(NULL), &si, &e) == 0 && !ss->seal[0]) {
        char t[TR_SKF_TEXT_CAP(64)];
        tr_skf_text((const uint8_t *)name, strnlen(name, 64), t, sizeof t);
        snprintf(ss->seal, sizeof ss->seal, "file \"%s\": %s seal \"%s\" (id %s), maker signature %s", t,
                 si.version == 4 ? "GB/T 38540 v4" : "GM/T 0031 v1", si.seal_name, si.seal_id,
                 si.sig_ok ? "verifies" : "does NOT verify");
    }
}

static int list_file(lister *L, const char *name, seal_search *ss)
{
    tr_skf_args a = {.s = {name}, .ns = 1};
    tr_skf_reply r;
    print_text_name("file", name, 4);
    uint32_t size = 0;
    printf(": ");
    if (call(L, 0, "SKF_GetFileInfo", &a, &r) == 1) {
        char rd[16], wr[16];
        size = r.u[0];
        printf("size %u, read %s, write %s\n", size, tr_skf_rights_text(r.u[1], rd, sizeof rd),
               tr_skf_rights_text(r.u[2], wr, sizeof wr));
    }
    if (L->lost)
        return -1;
    probe_seal(L, name, size, ss);
    return L->lost ? -1 : 0;
}

static int list_files(lister *L, seal_search *ss)
{
    static tr_skf_list files;
    int rc = list_of(L, 4, "SKF_EnumFiles", NULL, &files);
    if (rc == 0)
        printf("    seal: not determined (no file list)\n");
    if (rc != 1)
        return rc;
    for (size_t i = 0; i < files.count; i++)
        if (list_file(L, files.name[i], ss) < 0)
            return -1;
    if (ss->seal[0])
        printf("    seal: present in %s\n", ss->seal);
    else if (ss->unread)
        printf("    seal: not determined (%zu of %zu files not readable without a PIN)\n", ss->unread, ss->files);
    else
        printf("    seal: none among %zu files\n", ss->files);
    return 0;
}

static int list_application(lister *L, const char *name)
{
    tr_skf_args a = {.s = {name}, .ns = 1};
    tr_skf_reply r;
    print_text_name("application", name, 2);
    printf("\n");
    if (call(L, 4, "SKF_OpenApplication", &a, &r) != 1)
        return L->lost ? -1 : 0;
    print_pin_info(L, USER_TYPE, "user");
    print_pin_info(L, ADMIN_TYPE, "admin");
    static tr_skf_list containers;
    if (list_of(L, 4, "SKF_EnumContainer", NULL, &containers) == 1) {
        if (!containers.count)
            printf("    no container\n");
        for (size_t i = 0; i < containers.count && !L->lost; i++)
            list_container(L, containers.name[i]);
    }
    seal_search ss = {0};
    if (!L->lost)
        list_files(L, &ss);
    if (!L->lost)
        call(L, 4, "SKF_CloseApplication", NULL, &r);
    return L->lost ? -1 : 0;
}

static int list_device(lister *L, const char *name)
{
    tr_skf_args a = {.s = {name}, .ns = 1};
    tr_skf_reply r;
    static const char *const states[] = {"absent", "present", "unknown"};
    print_text_name("device", name, 0);
    printf("\n");
    if (call(L, 2, "SKF_GetDevState", &a, &r) == 1)
        printf("  state %s (%u)\n", r.u[0] < 3 ? states[r.u[0]] : "?", r.u[0]);
    if (call(L, 2, "SKF_ConnectDev", &a, &r) != 1)
        return L->lost ? -1 : 0;
    if (call(L, 2, "SKF_GetDevInfo", NULL, &r) == 1)
        print_devinfo(r.out, r.nout);
    static tr_skf_list apps;
    if (list_of(L, 2, "SKF_EnumApplication", NULL, &apps) == 1) {
        if (!apps.count)
            printf("  no application\n");
        for (size_t i = 0; i < apps.count && !L->lost; i++)
            list_application(L, apps.name[i]);
    }
    if (!L->lost)
        call(L, 2, "SKF_DisConnectDev", NULL, &r);
    return L->lost ? -1 : 0;
}

static int list_all(lister *L, const char *library)
{
    size_t n, have = 0;
    const tr_skf_fn_info *t = tr_skf_fn_table(&n);
    for (size_t i = 0; i < n; i++)
        have += tr_skf_has(L->s, t[i].name);
    printf("library %s: %zu of %zu functions exported\n", library, have, n);
    static tr_skf_list devs;
    tr_skf_args a = {.u = {TRUE}, .nu = 1};
    int rc = list_of(L, 0, "SKF_EnumDev", &a, &devs);
    if (rc < 0)
        return -1;
    if (rc == 1 && !devs.count)
        printf("no device present\n");
    for (size_t i = 0; rc == 1 && i < devs.count; i++)
        if (list_device(L, devs.name[i]) < 0)
            return -1;
    return 0;
}

/* "out_width=4,devinfo=286" into o. */
static int parse_quirks(const char *s, tr_skf_opts *o, tr_err *e)
{
    char buf[128];
    if (!tr_strlcpy(buf, s, sizeof buf))
        return tr_fail(e, TR_E_USAGE, "--quirks too long");
    for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        uint64_t v;
        if (!eq || !tr_parse_u64(eq + 1, &v))
            return tr_fail(e, TR_E_USAGE, "--quirks: '%s' is not NAME=NUMBER", kv);
        *eq = '\0';
        if (!strcmp(kv, "out_width") && (v == 4 || v == 8))
            o->out_width = (unsigned)v;
        else if (!strcmp(kv, "devinfo") && (v == 286 || v == 294))
            o->devinfo_size = (unsigned)v;
        else
            return tr_fail(e, TR_E_USAGE, "--quirks: %s=%s (out_width=4|8, devinfo=294|286)", kv, eq + 1);
    }
    return 0;
}

static int skf_list(int argc, char **argv)
{
    static const struct option opts[] = {{"library", required_argument, 0, 'l'}, {"quirks", required_argument, 0, 'q'},
                                         {"timeout-ms", required_argument, 0, 't'}, {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    tr_skf_opts o = {.call_timeout_ms = 10000};
    tr_err e;
    tr_err_clear(&e);
    if (tr_cli_spelled_out("tokenrig skf list", argc, argv, "l:q:t:h", opts) < 0)
        return 2;
    int c;
    while ((c = getopt_long(argc, argv, "l:q:t:h", opts, NULL)) != -1) {
        uint64_t v;
        switch (c) {
        case 'l': o.library = optarg; break;
        case 'q':
            if (parse_quirks(optarg, &o, &e) < 0)
                return fprintf(stderr, "tokenrig skf list: %s\n", e.msg), 2;
            break;
        case 't':
            if (!tr_parse_u64(optarg, &v) || v == 0 || v > 3600000)
                return fprintf(stderr, "tokenrig skf list: --timeout-ms takes 1..3600000, not '%s'\n", optarg), 2;
            o.call_timeout_ms = (double)v;
            break;
        case 'h': usage_skf(stdout); return 0;
        default: usage_skf(stderr); return 2;
        }
    }
    if (optind != argc || !o.library) {
        usage_skf(stderr);
        return 2;
    }
    lister L = {0};
    if (tr_skf_open(&o, &L.s, &e) < 0)
        return tr_cli_report_error(&e);
    int rc = list_all(&L, o.library);
    fflush(stdout);
    tr_skf_close(L.s);
    return rc < 0 ? tr_cli_report_error(&L.e) : 0;
}

int tr_cmd_skf(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "list"))
        return skf_list(argc - 1, argv + 1);
    bool help = argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
    usage_skf(help ? stdout : stderr);
    return help ? 0 : 2;
}
