#include "config.h"

#include <ctype.h>
#include <stddef.h>
#include <fnmatch.h>
#include <ini.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atr.h"
#include "db.h"
#include "faultnames.h"
#include "util.h"

/* ---- reading INI with line numbers -----------------------------------------
 * Debian's libinih is built without INI_HANDLER_LINENO, so we feed it through
 * our own reader that counts lines (and refuses lines libinih would cut at
 * INI_MAX_LINE instead of silently splitting them). */

typedef struct {
    FILE *f;
    const char *path;
    int line;
    int section_line;     /* line of the last [section] header */
    bool too_long;
    int too_long_line;
} ini_src;

static char *ini_read_line(char *str, int num, void *stream)
{
    ini_src *s = stream;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, s->f);
    if (n < 0) {
        free(line);
        return NULL;
    }
    s->line++;
    if (n > num - 3) {
        if (!s->too_long) {
            s->too_long = true;
            s->too_long_line = s->line;
        }
        n = 0; /* hand libinih an empty line; we report the error ourselves */
        line[0] = '\0';
    }
    const char *p = line;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '[')
        s->section_line = s->line;
    memcpy(str, line, (size_t)n + 1);
    free(line);
    return str;
}

typedef struct {
    ini_src src;
    tr_err *e;
    bool failed;
    void *target;
    const char *key;      /* the key being set (var.NAME needs its name) */
} ini_ctx;

static int ini_parse_path(const char *path, ini_handler h, ini_ctx *ctx, tr_err *e)
{
    ctx->src.f = fopen(path, "r");
    if (!ctx->src.f)
        return tr_fail(e, TR_E_CONFIG, "%s: cannot open: %m", path);
    ctx->src.path = path;
    ctx->e = e;
    int rc = ini_parse_stream(ini_read_line, &ctx->src, h, ctx);
    fclose(ctx->src.f);
    if (ctx->src.too_long)
        return tr_fail_at(e, TR_E_CONFIG, path, ctx->src.too_long_line, 0,
                          "line longer than %d characters", INI_MAX_LINE - 3);
    if (ctx->failed)
        return -1;
    if (rc > 0)
        return tr_fail_at(e, TR_E_CONFIG, path, rc, 0,
                          "not an INI line: expected [section], name = value, or a ; comment");
    if (rc < 0)
        return tr_fail(e, TR_E_CONFIG, "%s: cannot read", path);
    return 0;
}

/* Record the first error at the current line; libinih keeps going, we stop
 * caring after the first. */
static int ini_bad(ini_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int ini_bad(ini_ctx *c, const char *fmt, ...)
{
    if (c->failed)
        return 0;
    char msg[TR_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    tr_fail_at(c->e, TR_E_CONFIG, c->src.path, c->src.line, 0, "%s", msg);
    c->failed = true;
    return 0;
}

static bool copy_value(ini_ctx *c, const char *name, const char *value, char *dst, size_t cap)
{
    /* allow "quoted values" so patterns with spaces and ; read naturally */
    size_t n = strlen(value);
    char tmp[1024];
    if (n >= 2 && value[0] == '"' && value[n - 1] == '"' && n - 2 < sizeof tmp) {
        memcpy(tmp, value + 1, n - 2);
        tmp[n - 2] = '\0';
        value = tmp;
    }
    if (!tr_strlcpy(dst, value, cap)) {
        ini_bad(c, "value of '%s' is too long (at most %zu characters)", name, cap - 1);
        return false;
    }
    return true;
}

static bool parse_uint(ini_ctx *c, const char *name, const char *value, unsigned max, unsigned *out)
{
    uint64_t v;
    if (!tr_parse_u64(value, &v) || v > max) {
        ini_bad(c, "'%s' must be a whole number from 0 to %u, not '%s'", name, max, value);
        return false;
    }
    *out = (unsigned)v;
    return true;
}

static bool parse_bool(ini_ctx *c, const char *name, const char *value, bool *out)
{
    if (!strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "1") || !strcmp(value, "on"))
        *out = true;
    else if (!strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "0") || !strcmp(value, "off"))
        *out = false;
    else {
        ini_bad(c, "'%s' must be yes or no, not '%s'", name, value);
        return false;
    }
    return true;
}

static bool valid_var_name(const char *s)
{
    if (!*s || !(isalpha((unsigned char)*s) || *s == '_'))
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return false;
    return true;
}

/* Variables that name a file (the trust anchors of cert-info / seal-info
 * `trust`): a relative path in a profile or a rig file is taken relative to
 * that file's directory, so it means the same from any working directory. */
static const char *const FILE_VARS[] = {"CA_ROOT", "SEAL_MAKER_ROOT", NULL};

static bool resolve_file_var(ini_ctx *c, const char *name, const char *value, char *out, size_t cap)
{
    bool is_file = false;
    for (const char *const *f = FILE_VARS; *f; f++)
        is_file |= !strcmp(name, *f);
    if (!is_file || !value[0] || value[0] == '/') {
        if (!tr_strlcpy(out, value, cap))
            return ini_bad(c, "value of '%s' is too long (at most %zu characters)", name, cap - 1);
        return true;
    }
    char dir[TR_PATH_MAX];
    tr_strlcpy(dir, c->src.path, sizeof dir);
    int n = snprintf(out, cap, "%s/%s", dirname(dir), value);
    if (n < 0 || (size_t)n >= cap)
        return ini_bad(c, "'%s': the path %s relative to %s is too long", name, value, c->src.path);
    return true;
}

/* ---- profiles ---------------------------------------------------------------- */

static int profile_key(void *user, const char *section, const char *name, const char *value)
{
    ini_ctx *c = user;
    tr_profile *p = c->target;
    if (c->failed)
        return 1;
    if (!strcmp(section, "profile")) {
        if (!strcmp(name, "name"))
            return copy_value(c, name, value, p->name, sizeof p->name);
        if (!strcmp(name, "description"))
            return 1;
        return ini_bad(c, "unknown key '%s' in [profile] (known: name, description)", name);
    }
    if (!strcmp(section, "vars")) {
        if (!valid_var_name(name))
            return ini_bad(c, "variable name '%s': use letters, digits and _ only", name);
        char v[1024], path[TR_PATH_MAX];
        if (!copy_value(c, name, value, v, sizeof v) || !resolve_file_var(c, name, v, path, sizeof path))
            return 0;
        if (tr_vars_set(p->vars, name, path) < 0)
            return ini_bad(c, "out of memory");
        return 1;
    }
    return ini_bad(c, "unknown section [%s] (a profile has [profile] and [vars])", section);
}

int tr_profile_load(const char *path, tr_profile *out, tr_err *e)
{
    memset(out, 0, sizeof *out);
    tr_strlcpy(out->path, path, sizeof out->path);
    out->vars = tr_vars_new(NULL);
    char source[TR_PATH_MAX + 16], *real = realpath(path, NULL); /* a source must name its file from anywhere */
    snprintf(source, sizeof source, "profile %s", real ? real : path);
    free(real);
    if (!out->vars || tr_vars_set_source(out->vars, source) < 0) {
        tr_profile_free(out);
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    }
    ini_ctx c = {.target = out};
    if (ini_parse_path(path, profile_key, &c, e) < 0) {
        tr_profile_free(out);
        return -1;
    }
    if (!out->name[0]) {
        char tmp[TR_PATH_MAX];
        tr_strlcpy(tmp, path, sizeof tmp);
        tr_strlcpy(out->name, basename(tmp), sizeof out->name);
        char *dot = strrchr(out->name, '.');
        if (dot)
            *dot = '\0';
    }
    if (tr_vars_set(out->vars, "PROFILE", out->name) < 0) {
        tr_profile_free(out);
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    }
    return 0;
}

void tr_profile_free(tr_profile *p)
{
    if (p && p->vars) {
        tr_vars_free(p->vars);
        p->vars = NULL;
    }
}

/* ---- rigs --------------------------------------------------------------------- */

const char *tr_slot_type_name(tr_slot_type t)
{
    switch (t) {
    case TR_SLOT_VIRTUAL: return "virtual";
    case TR_SLOT_USB_HUB: return "usb-hub";
    case TR_SLOT_PCSC_ONLY: return "pcsc-only";
    case TR_SLOT_COMMAND: return "command";
    case TR_SLOT_NONE: return "none";
    case TR_SLOT_RELOAD: return "reload";
    }
    return "?";
}

const char *tr_slot_iface_name(tr_slot_iface i)
{
    return i == TR_IFACE_SKF ? "skf" : i == TR_IFACE_PKCS11 ? "pkcs11" : i == TR_IFACE_APDU ? "apdu" : "?";
}

static tr_slot_cfg *rig_slot_for_section(ini_ctx *c, tr_rig_cfg *r, const char *section)
{
    const char *name = section + 4;
    while (*name == ' ')
        name++;
    if (!*name) {
        ini_bad(c, "[slot] needs a name: [slot A1]");
        return NULL;
    }
    for (size_t i = 0; i < r->nslots; i++)
        if (!strcmp(r->slots[i].name, name))
            return &r->slots[i];
    if (r->nslots >= 256) {
        ini_bad(c, "too many slots (at most 256)");
        return NULL;
    }
    tr_slot_cfg *ns = realloc(r->slots, (r->nslots + 1) * sizeof *ns);
    if (!ns) {
        ini_bad(c, "out of memory");
        return NULL;
    }
    r->slots = ns;
    tr_slot_cfg *s = &r->slots[r->nslots++];
    memset(s, 0, sizeof *s);
    if (!tr_strlcpy(s->name, name, sizeof s->name)) {
        ini_bad(c, "slot name '%s' is too long", name);
        return NULL;
    }
    s->line = c->src.section_line;
    s->type = TR_SLOT_VIRTUAL;
    s->vars = tr_vars_new(NULL);
    strcpy(s->vt.role, "main");
    strcpy(s->vt.alg, "sm2");
    strcpy(s->vt.validity, "valid");
    strcpy(s->vt.org, "Example Trading Co., Ltd.");
    s->vt.seal_version = 4;
    s->vt.ready_ms = 50;
    s->vt.seed = (unsigned)r->nslots;
    s->power.timeout_ms = TR_POWER_TIMEOUT_MS;
    return s;
}

/* ---- [slot] keys: one table row per key ---------------------------------------
 * Each row: the key, the slot types that take it, the setter that checks and
 * stores the value (in the field at off), the setter's bounds, and one line
 * saying what it sets (used in the value errors; README "Rig files" says the
 * same). A key given for a type (or interface) that does not take it is
 * refused once the whole file is read (type = and interface = may come
 * after the slot's other keys). */

#define SLOT_V (1u << TR_SLOT_VIRTUAL)
#define SLOT_H (1u << TR_SLOT_USB_HUB)
#define SLOT_P (1u << TR_SLOT_PCSC_ONLY)
#define SLOT_C (1u << TR_SLOT_COMMAND)
#define SLOT_N (1u << TR_SLOT_NONE)
#define SLOT_R (1u << TR_SLOT_RELOAD)
#define SLOT_ANY (SLOT_V | SLOT_H | SLOT_P | SLOT_C | SLOT_N | SLOT_R)
#define SKF_ONLY (1u << 8)    /* only slots with interface = skf take it */
#define P11_ONLY (1u << 11)   /* only slots with interface = pkcs11 take it */
#define RIG_DEFAULT (1u << 9) /* may be given in [rig] as every slot's default */
#define SKF_ALSO (1u << 10)   /* also taken by every skf slot, whatever its type: an SKF token
                                 has no role object, so the rig says what it is */

typedef struct slot_key_def slot_key_def;
/* Check value, store it in s; false after ini_bad. */
typedef bool (*slot_setter)(ini_ctx *c, tr_slot_cfg *s, const slot_key_def *k, const char *value);

struct slot_key_def {
    const char *name;             /* "var." matches every var.NAME */
    unsigned types;               /* SLOT_* bits, SKF_ONLY, RIG_DEFAULT */
    slot_setter set;
    size_t off, cap;              /* the field in tr_slot_cfg and its size */
    unsigned min, max;            /* numbers: range; hex: bytes */
    const char *const *choices;   /* set_choice: the allowed words */
    const char *what;             /* one line: what the key sets */
};

#define FIELD(f) offsetof(tr_slot_cfg, f), sizeof(((tr_slot_cfg *)0)->f)
#define AT(s, k) ((char *)(s) + (k)->off)

static bool one_of(const char *v, const char *const *options)
{
    for (; *options; options++)
        if (!strcmp(v, *options))
            return true;
    return false;
}

static bool set_text(ini_ctx *c, tr_slot_cfg *s, const slot_key_def *k, const char *value)
{
    return copy_value(c, k->name, value, AT(s, k), k->cap);
}

static bool set_choice(ini_ctx *c, tr_slot_cfg *s, const slot_key_def *k, const char *value)
{
    if (one_of(value, k->choices))
        return set_text(c, s, k, value);
    char list[160] = "";
    for (const char *const *o = k->choices; *o; o++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", o == k->choices ? "" : ", ", *o);
    return ini_bad(c, "%s '%s': expected one of %s (%s)", k->name, value, list, k->what);
}

static bool set_uint(ini_ctx *c, tr_slot_cfg *s, const slot_key_def *k, const char *value)
{
    uint64_t v;
    if (!tr_parse_u64(value, &v) || v < k->min || v > k->max)
        return ini_bad(c, "%s '%s': expected a whole number from %u to %u (%s)", k->name, value, k->min,
                       k->max, k->what);
    *(unsigned *)AT(s, k) = (unsigned)v;
    return true;
}

static bool set_bool(ini_ctx *c, tr_slot_cfg *s, const slot_key_def *k, const char *value)
{
    return parse_bool(c, k->name, value, (bool *)AT(s, k));
}

static bool set_type(ini_ctx *c, tr_slot_cfg *s, const slot_key_def *k, const char *value)
{
    for (int t = 0; t < TR_SLOT_NTYPES; t++) {
        if (!strcmp(value, tr_slot_type_name((tr_slot_type)t))) {
            s->type = (tr_slot_type)t;
            return true;
        }
    }
    (void)k;
    return ini_bad(c, "slot type '%s': expected virtual, usb-hub, pcsc-only, command, none or reload", value);
}

static bool set_iface(ini_ctx *c, tr_slot_cfg *s, const slot_key_def *k, const char *value)
{
    (void)k;
    if (!strcmp(value, "apdu"))
        s->iface = TR_IFACE_APDU;
    else if (!strcmp(value, "skf"))
        s->iface = TR_IFACE_SKF;
    else if (!strcmp(value, "pkcs11"))
        s->iface = TR_IFACE_PKCS11;
    else
        return ini_bad(c, "interface '%s': expected apdu (REF-1 APDUs over PC/SC), skf (the vendor's "
                          "GM/T 0016 library) or pkcs11 (a PKCS#11 module)", value);
    return true;
}

/* A path with a '/' is a file: relative ones are relative to the rig file.
 * A bare name (libskf.so) is left to dlopen's search. */
static bool set_library(ini_ctx *c, tr_slot_cfg *s, const slot_key_def *k, const char *value)
{
    char v[TR_PATH_MAX];
    if (!copy_value(c, k->name, value, v, sizeof v))
        return false;
    if (!v[0])
        return ini_bad(c, "%s is empty (%s)", k->name, k->what);
    if (v[0] == '/' || !strchr(v, '/'))
        return copy_value(c, k->name, v, AT(s, k), k->cap);
    char dir[TR_PATH_MAX], joined[2 * TR_PATH_MAX + 2];
    tr_strlcpy(dir, c->src.path, sizeof dir);
    snprintf(joined, sizeof joined, "%s/%s", dirname(dir), v);
    return copy_value(c, k->name, joined, AT(s, k), k->cap);
}

/* skf_quirks: the ABI differences the SKF layer takes (tr_skf_opts); the
 * vendor's other differences are profile settings. */
static const struct {
    const char *name;
    unsigned a, b; /* the two values it may take */
    size_t off;    /* in tr_skf_cfg's quirks */
} skf_quirks[] = {
    {"out_width", 4, 8, offsetof(tr_skf_cfg, quirks.out_width)},
    {"devinfo", 286, 294, offsetof(tr_skf_cfg, quirks.devinfo_size)},
};

static bool set_one_quirk(ini_ctx *c, tr_skf_cfg *q, const char *item)
{
    char name[32];
    const char *eq = strchr(item, '=');
    size_t n = eq ? (size_t)(eq - item) : strlen(item);
    snprintf(name, sizeof name, "%.*s", (int)(n < sizeof name ? n : sizeof name - 1), item);
    tr_trim(name);
    for (size_t i = 0; i < sizeof skf_quirks / sizeof skf_quirks[0]; i++) {
        if (strcmp(name, skf_quirks[i].name))
            continue;
        uint64_t v = 0;
        char num[32] = "";
        if (eq)
            snprintf(num, sizeof num, "%s", eq + 1);
        tr_trim(num);
        unsigned *dst = (unsigned *)((char *)q + skf_quirks[i].off);
        if (!eq || !tr_parse_u64(num, &v) || (v != skf_quirks[i].a && v != skf_quirks[i].b))
            return ini_bad(c, "skf_quirks: %s takes %u or %u, not '%s'", name, skf_quirks[i].a, skf_quirks[i].b,
                           eq ? num : "(no value)");
        if (*dst)
            return ini_bad(c, "skf_quirks: %s is given twice", name);
        *dst = (unsigned)v;
        return true;
    }
    return ini_bad(c, "skf_quirks: unknown quirk '%s' (known: out_width=4|8, the bytes a ULONG/BOOL output "
                      "takes; devinfo=286|294, the DEVINFO size)", name);
}

static bool set_quirks(ini_ctx *c, tr_slot_cfg *s, const slot_key_def *k, const char *value)
{
    tr_skf_cfg *q = &s->skf;
    memset(&q->quirks, 0, sizeof q->quirks);
    if (!copy_value(c, k->name, value, q->quirks.text, sizeof q->quirks.text))
        return false;
    char list[sizeof q->quirks.text];
    tr_strlcpy(list, q->quirks.text, sizeof list);
    char *save = NULL;
    for (char *item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save))
        if (!set_one_quirk(c, q, item))
            return false;
    return true;
}

static bool set_port(ini_ctx *c, tr_slot_cfg *s, const slot_key_def *k, const char *value)
{
    unsigned p;
    if (!parse_uint(c, k->name, value, 255, &p))
        return false;
    if (p == 0)
        return ini_bad(c, "hub ports are numbered from 1");
    s->port = (int)p;
    return true;
}

static bool set_serial(ini_ctx *c, tr_slot_cfg *s, const slot_key_def *k, const char *value)
{
    /* a virtual slot's (a REF-1 token's) is 16 characters: slot_check_needs */
    if (!value[0] || strlen(value) > 32)
        return ini_bad(c, "serial '%s' must be 1 to 32 characters (as the token reports it)", value);
    for (const char *p = value; *p; p++)
        if (!isgraph((unsigned char)*p))
            return ini_bad(c, "serial '%s' must be printable ASCII without spaces", value);
    return set_text(c, s, k, value);
}

static bool set_seal_version(ini_ctx *c, tr_slot_cfg *s, const slot_key_def *k, const char *value)
{
    unsigned v;
    if (!parse_uint(c, k->name, value, 4, &v))
        return false;
    if (v != 4 && v != 1)
        return ini_bad(c, "seal_version must be 4 (GB/T 38540) or 1 (GM/T 0031)");
    s->vt.seal_version = (int)v;
    return true;
}

/* faults = NAME[=ARG], ...: every item a fault of the table with a
 * well-formed argument (faultnames.h), checked here so that a misspelt one
 * is this file's line, not a token that never comes up. */
static bool set_faults(ini_ctx *c, tr_slot_cfg *s, const slot_key_def *k, const char *value)
{
    if (!set_text(c, s, k, value))
        return false;
    char list[sizeof s->vt.faults], why[200];
    tr_strlcpy(list, s->vt.faults, sizeof list);
    char *save = NULL;
    for (char *f = strtok_r(list, ", ", &save); f; f = strtok_r(NULL, ", ", &save)) {
        if (tr_fault_check(f, why, sizeof why))
            continue;
        char known[2048];
        tr_fault_list(known, sizeof known);
        return ini_bad(c, "%s: %s (the faults are: %s; see README, \"Fault detection table\")", k->name, why,
                       known);
    }
    return true;
}

/* A PIN as the token is given it: 6..16 printable ASCII (REF-1 pads to 16). */
static bool set_pin(ini_ctx *c, tr_slot_cfg *s, const slot_key_def *k, const char *value)
{
    size_t n = strlen(value);
    bool printable = true;
    for (const char *p = value; *p; p++)
        printable = printable && *p >= 0x20 && *p <= 0x7E;
    if (n < 6 || n > 16 || !printable)
        return ini_bad(c, "%s: expected 6 to 16 printable ASCII characters, got %zu%s (%s)", k->name, n,
                       printable ? "" : " with a control or non-ASCII byte among them", k->what);
    return set_text(c, s, k, value);
}

/* min..max bytes of hex (spaces allowed) into b[64]; false after ini_bad. */
static bool hex_bytes(ini_ctx *c, const slot_key_def *k, const char *value, uint8_t b[64], size_t *n)
{
    long got = tr_hex_decode(value, b, k->max < 64 ? k->max : 64);
    if (got >= (long)k->min) {
        *n = (size_t)got;
        return true;
    }
    if (k->min == k->max)
        return ini_bad(c, "%s '%s': expected %u bytes in hex (%s)", k->name, value, k->min, k->what);
    return ini_bad(c, "%s '%s': expected %u to %u bytes in hex (%s)", k->name, value, k->min, k->max, k->what);
}

/* Stored upper case without spaces: what vtoken is given. */
static bool set_hex(ini_ctx *c, tr_slot_cfg *s, const slot_key_def *k, const char *value)
{
    uint8_t b[64];
    size_t n = 0;
    if (!hex_bytes(c, k, value, b, &n))
        return false;
    tr_hex_encode(b, n, AT(s, k), k->cap, 0);
    return true;
}

/* An ATR pcscd would refuse (or misread) is a typo, not a token to test. */
static bool set_atr(ini_ctx *c, tr_slot_cfg *s, const slot_key_def *k, const char *value)
{
    uint8_t b[64];
    size_t n = 0;
    char why[160];
    if (!hex_bytes(c, k, value, b, &n))
        return false;
    if (!tr_atr_check(b, n, why, sizeof why))
        return ini_bad(c, "atr '%s' is not a well-formed ATR: %s", value, why);
    tr_hex_encode(b, n, AT(s, k), k->cap, 0);
    return true;
}

static bool set_var(ini_ctx *c, tr_slot_cfg *s, const slot_key_def *k, const char *value)
{
    (void)k;
    const char *name = c->key + 4;
    if (!valid_var_name(name))
        return ini_bad(c, "variable name '%s': use letters, digits and _ only", name);
    char path[TR_PATH_MAX];
    if (!resolve_file_var(c, name, value, path, sizeof path))
        return false;
    if (tr_vars_set(s->vars, name, path) < 0)
        return ini_bad(c, "out of memory");
    return true;
}

static const char *const roles[] = {"main", "secondary", NULL};
static const char *const algs[] = {"sm2", "ecdsa", "rsa", NULL};
static const char *const validities[] = {"valid", "renewal-due", "expired", "not-yet-valid", NULL};

#define SKF_KEY (SLOT_ANY | SKF_ONLY | RIG_DEFAULT)

static const slot_key_def slot_keys[] = {
    {"type", SLOT_ANY, set_type, 0, 0, 0, 0, NULL, "virtual | usb-hub | pcsc-only | command | none | reload"},
    {"interface", SLOT_ANY | RIG_DEFAULT, set_iface, FIELD(iface), 0, 0, NULL, "apdu | skf | pkcs11"},
    {"profile", SLOT_ANY, set_text, FIELD(profile), 0, 0, NULL, "the slot's profile, name or path"},
    {"var.", SLOT_ANY, set_var, 0, 0, 0, 0, NULL, "a suite variable for this slot"},
    {"hub", SLOT_H, set_text, FIELD(hub), 0, 0, NULL, "the hub's location, bus-port.port..."},
    {"port", SLOT_H | SLOT_C, set_port, FIELD(port), 1, 255, NULL, "the token's port on the hub / switch"},
    {"companion", SLOT_H, set_text, FIELD(companion), 0, 0, NULL, "the USB 3 half of the same hub"},
    {"reader", SLOT_P | SLOT_C | SLOT_N, set_text, FIELD(reader), 0, 0, NULL, "reader name pattern (fnmatch)"},
    {"power_on", SLOT_C | RIG_DEFAULT, set_text, FIELD(power.on), 0, 0, NULL, "shell command that powers the token on"},
    {"power_off", SLOT_C | RIG_DEFAULT, set_text, FIELD(power.off), 0, 0, NULL, "shell command that powers it off"},
    {"power_timeout_ms", SLOT_C | RIG_DEFAULT, set_uint, FIELD(power.timeout_ms), 1, 3600000, NULL,
     "a power command still running after it is killed"},
    {"skf_library", SKF_KEY, set_library, FIELD(skf.library), 0, 0, NULL, "the vendor's SKF library (.so)"},
    {"pkcs11_module", SLOT_ANY | P11_ONLY | RIG_DEFAULT, set_library, FIELD(p11.module), 0, 0, NULL,
     "the PKCS#11 module (.so, or a p11-kit module name)"},
    {"pkcs11_token", SLOT_ANY | P11_ONLY | RIG_DEFAULT, set_text, FIELD(p11.token), 0, 0, NULL,
     "fnmatch on the token's label or serial"},
    {"skf_device", SKF_KEY, set_text, FIELD(skf.device), 0, 0, NULL, "SKF device name pattern (fnmatch)"},
    {"skf_serial", SKF_KEY, set_text, FIELD(skf.serial), 0, 0, NULL, "the device's DEVINFO serial"},
    {"skf_app", SKF_KEY, set_text, FIELD(skf.app), 0, 0, NULL, "the SKF application's name"},
    {"skf_container", SKF_KEY, set_text, FIELD(skf.container), 0, 0, NULL, "the container (default: the only one)"},
    {"skf_quirks", SKF_KEY, set_quirks, FIELD(skf.quirks), 0, 0, NULL, "out_width=4|8, devinfo=286|294"},
    {"serial", SLOT_V | SKF_ALSO, set_serial, FIELD(vt.serial), 0, 0, NULL, "the token's serial (virtual: 16 ASCII characters)"},
    {"role", SLOT_V | SKF_ALSO, set_choice, FIELD(vt.role), 0, 0, roles, "main keys carry the seal"},
    {"alg", SLOT_V | SKF_ALSO, set_choice, FIELD(vt.alg), 0, 0, algs, "the signing algorithm"},
    {"algorithm", SLOT_V | SKF_ALSO, set_choice, FIELD(vt.alg), 0, 0, algs, "the signing algorithm"},
    {"validity", SLOT_V, set_choice, FIELD(vt.validity), 0, 0, validities, "the certificate's validity class"},
    {"org", SLOT_V, set_text, FIELD(vt.org), 0, 0, NULL, "organisation in the certificate and seal"},
    {"faults", SLOT_V, set_faults, FIELD(vt.faults), 0, 0, NULL, "REF-1 fault table, comma-separated"},
    {"fault", SLOT_V, set_faults, FIELD(vt.faults), 0, 0, NULL, "REF-1 fault table, comma-separated"},
    {"seal_version", SLOT_V, set_seal_version, FIELD(vt.seal_version), 1, 4, NULL, "4 GB/T 38540, 1 GM/T 0031"},
    {"seal_size", SLOT_V, set_uint, FIELD(vt.seal_size), 1, 32767, NULL,
     "the seal's exact length in bytes, e.g. 3072 = 12 x 256 (a comment in its picture)"},
    {"t0", SLOT_V, set_bool, FIELD(vt.t0), 0, 0, NULL, "T=0 style: 61xx + GET RESPONSE, 6Cxx"},
    {"pin_tries", SLOT_V, set_uint, FIELD(vt.pin_tries), 1, 15, NULL, "user PIN max tries: the profile's PIN_MAX_TRIES"},
    {"so_tries", SLOT_V, set_uint, FIELD(vt.so_tries), 1, 15, NULL, "SO PIN max tries: the profile's SO_MAX_TRIES"},
    {"default_pin", SLOT_V, set_pin, FIELD(vt.default_pin), 0, 0, NULL, "factory user PIN: the profile's DEFAULT_PIN"},
    {"so_pin", SLOT_V, set_pin, FIELD(vt.so_pin), 0, 0, NULL, "SO PIN: the profile's SO_PIN"},
    {"atr", SLOT_V, set_atr, FIELD(vt.atr), 2, 33, NULL, "the ATR: the profile's ATR"},
    {"aid", SLOT_V, set_hex, FIELD(vt.aid), 5, 16, NULL, "application id: the profile's AID"},
    {"firmware", SLOT_V, set_hex, FIELD(vt.firmware), 2, 2, NULL, "firmware version: the profile's FIRMWARE"},
    {"ready_ms", SLOT_V, set_uint, FIELD(vt.ready_ms), 0, 600000, NULL, "power-on to ready, ms"},
    {"sign_latency_ms", SLOT_V, set_uint, FIELD(vt.sign_latency_ms), 0, 600000, NULL, "added to every signature"},
    {"apdu_latency_us", SLOT_V, set_uint, FIELD(vt.apdu_latency_us), 0, 10000000, NULL, "added to every APDU answer"},
    {"seed", SLOT_V, set_uint, FIELD(vt.seed), 0, 0x7fffffff, NULL, "PRNG seed of flaky-power"},
};
#define NSLOT_KEYS (sizeof slot_keys / sizeof slot_keys[0])
_Static_assert(NSLOT_KEYS <= TR_SLOT_KEYS_MAX, "raise TR_SLOT_KEYS_MAX (config.h)");

static const slot_key_def *find_slot_key(const char *name)
{
    for (size_t i = 0; i < NSLOT_KEYS; i++) {
        const char *k = slot_keys[i].name;
        size_t n = strlen(k);
        if (k[n - 1] == '.' ? !strncmp(name, k, n) : !strcmp(name, k))
            return &slot_keys[i];
    }
    return NULL;
}

/* Whether slot s (its type and interface as read so far) takes key k. */
static bool key_applies(const slot_key_def *k, const tr_slot_cfg *s)
{
    bool skf = s->iface == TR_IFACE_SKF, p11 = s->iface == TR_IFACE_PKCS11;
    bool by_iface = (!(k->types & SKF_ONLY) || skf) && (!(k->types & P11_ONLY) || p11);
    return ((k->types & (1u << s->type)) && by_iface) || ((k->types & SKF_ALSO) && (skf || p11));
}

/* "type, profile, var.NAME, ..." : the keys slot s takes. */
static void list_slot_keys(const tr_slot_cfg *s, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < NSLOT_KEYS && n < cap; i++) {
        const char *k = slot_keys[i].name;
        if (key_applies(&slot_keys[i], s))
            n += (size_t)snprintf(out + n, cap - n, "%s%s%s", n ? ", " : "", k,
                                  k[strlen(k) - 1] == '.' ? "NAME" : "");
    }
}

/* "a usb-hub slot", "an skf command slot", "a pkcs11 reload slot" (the
 * interface as known so far: a [rig] default is applied once the file is
 * read) */
static void slot_kind(const tr_slot_cfg *s, char *out, size_t cap)
{
    bool skf = s->iface == TR_IFACE_SKF, p11 = s->iface == TR_IFACE_PKCS11;
    snprintf(out, cap, "%s %s%s slot", skf ? "an" : "a", skf ? "skf " : p11 ? "pkcs11 " : "",
             tr_slot_type_name(s->type));
}

static int slot_key(ini_ctx *c, tr_slot_cfg *s, const char *name, const char *value)
{
    const slot_key_def *k = find_slot_key(name);
    if (!k) {
        char known[1000], kind[48];
        list_slot_keys(s, known, sizeof known);
        slot_kind(s, kind, sizeof kind);
        return ini_bad(c, "unknown key '%s' in [slot %s] (%s takes: %s; see README, \"Rig files\")",
                       name, s->name, kind, known);
    }
    s->key_line[k - slot_keys] = c->src.line;
    c->key = name;
    return k->set(c, s, k, value) ? 1 : 0;
}

/* Every key given suits the slot's type and interface (known only once
 * the file is read). */
static int slot_check_keys(const tr_rig_cfg *r, const tr_slot_cfg *s, tr_err *e)
{
    for (size_t i = 0; i < NSLOT_KEYS; i++) {
        if (!s->key_line[i] || key_applies(&slot_keys[i], s))
            continue;
        char known[1000], kind[48];
        list_slot_keys(s, known, sizeof known);
        slot_kind(s, kind, sizeof kind);
        bool iface = (slot_keys[i].types & (1u << s->type)) != 0;
        return tr_fail_at(e, TR_E_CONFIG, r->path, s->key_line[i], 0,
                          "key '%s' does not apply to [slot %s], %s%s (it takes: %s)", slot_keys[i].name,
                          s->name, kind, iface ? ": skf_* keys need interface = skf" : "", known);
    }
    return 0;
}

/* A [rig] key that is every slot's default (interface, skf_*, power_*). */
static int rig_default_key(ini_ctx *c, tr_rig_cfg *r, const char *name, const char *value)
{
    const slot_key_def *k = find_slot_key(name);
    if (!k || !(k->types & RIG_DEFAULT))
        return -1;
    tr_slot_cfg *d = &r->defaults;
    d->key_line[k - slot_keys] = c->src.line;
    c->key = name;
    return k->set(c, d, k, value) ? 1 : 0;
}

static bool given(const tr_slot_cfg *s, const char *key)
{
    const slot_key_def *k = find_slot_key(key);
    return k && s->key_line[k - slot_keys] != 0;
}

/* The [rig] defaults a slot does not give itself and takes: interface
 * first (it decides whether the skf_* keys apply). A slot that names its
 * device (skf_device or skf_serial) takes neither from [rig]. */
static void slot_take_defaults(const tr_rig_cfg *r, tr_slot_cfg *s)
{
    const tr_slot_cfg *d = &r->defaults;
    bool names_device = given(s, "skf_device") || given(s, "skf_serial");
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < NSLOT_KEYS; i++) {
            const slot_key_def *k = &slot_keys[i];
            bool is_iface = k->set == set_iface;
            if ((pass == 0) != is_iface || !d->key_line[i] || s->key_line[i] || !key_applies(k, s))
                continue;
            if (names_device && (!strcmp(k->name, "skf_device") || !strcmp(k->name, "skf_serial")))
                continue;
            memcpy(AT(s, k), (const char *)d + k->off, k->cap);
        }
    }
}

/* skf_device and skf_serial both in one section: which device is meant? */
static int check_one_device(const tr_rig_cfg *r, const tr_slot_cfg *s, const char *section, tr_err *e)
{
    if (!given(s, "skf_device") || !given(s, "skf_serial"))
        return 0;
    const slot_key_def *a = find_slot_key("skf_device"), *b = find_slot_key("skf_serial");
    int la = s->key_line[a - slot_keys], lb = s->key_line[b - slot_keys];
    return tr_fail_at(e, TR_E_CONFIG, r->path, la > lb ? la : lb, 0,
                      "%s gives both skf_device and skf_serial: give one (the device by name pattern, or "
                      "by its DEVINFO serial)", section);
}

/* A path in a rig file: relative ones are relative to the rig file. */
static int copy_rig_path(ini_ctx *c, const tr_rig_cfg *r, const char *name, const char *value, char *out, size_t cap)
{
    if (!*value)
        return ini_bad(c, "%s is empty", name);
    if (value[0] == '/')
        return copy_value(c, name, value, out, cap);
    char dir[TR_PATH_MAX], joined[2 * TR_PATH_MAX + 2];
    tr_strlcpy(dir, r->path, sizeof dir);
    snprintf(joined, sizeof joined, "%s/%s", dirname(dir), value);
    return copy_value(c, name, joined, out, cap);
}

/* db = a postgresql:// URL, or a SQLite file (relative: to the rig file). */
static int set_rig_db(ini_ctx *c, tr_rig_cfg *r, const char *value)
{
    tr_err de;
    if (tr_db_check_where(value, &de) < 0)
        return ini_bad(c, "db = %s: %s", value, de.msg);
    return tr_db_is_url(value) ? copy_value(c, "db", value, r->db, sizeof r->db)
                               : copy_rig_path(c, r, "db", value, r->db, sizeof r->db);
}

static int rig_key(void *user, const char *section, const char *name, const char *value)
{
    ini_ctx *c = user;
    tr_rig_cfg *r = c->target;
    if (c->failed)
        return 1;
    if (!strcmp(section, "rig")) {
        if (!strcmp(name, "name"))
            return copy_value(c, name, value, r->name, sizeof r->name);
        if (!strcmp(name, "profile"))
            return copy_value(c, name, value, r->profile, sizeof r->profile);
        if (!strcmp(name, "apdu_timeout_ms"))
            return parse_uint(c, name, value, 3600000, &r->apdu_timeout_ms);
        if (!strcmp(name, "ready_timeout_ms"))
            return parse_uint(c, name, value, 3600000, &r->ready_timeout_ms);
        if (!strcmp(name, "off_ms"))
            return parse_uint(c, name, value, 3600000, &r->off_ms);
        if (!strcmp(name, "nv_dir"))
            return copy_rig_path(c, r, name, value, r->nv_dir, sizeof r->nv_dir);
        if (!strcmp(name, "journal"))
            return copy_rig_path(c, r, name, value, r->journal, sizeof r->journal);
        if (!strcmp(name, "pcscd_restart"))
            return copy_value(c, name, value, r->pcscd_restart, sizeof r->pcscd_restart);
        if (!strcmp(name, "db"))
            return set_rig_db(c, r, value);
        if (!strcmp(name, "description"))
            return 1;
        int d = rig_default_key(c, r, name, value);
        if (d >= 0)
            return d;
        return ini_bad(c, "unknown key '%s' in [rig] (known: name, profile, apdu_timeout_ms, "
                          "ready_timeout_ms, off_ms, nv_dir, journal, pcscd_restart, db, description; and as "
                          "the slots' defaults: interface, power_on, power_off, power_timeout_ms, skf_library, "
                          "skf_device, skf_serial, skf_app, skf_container, skf_quirks)", name);
    }
    if (!strncmp(section, "slot", 4) && (section[4] == ' ' || section[4] == '\0')) {
        tr_slot_cfg *s = rig_slot_for_section(c, r, section);
        return s ? slot_key(c, s, name, value) : 0;
    }
    return ini_bad(c, "unknown section [%s] (a rig has [rig] and [slot NAME] sections)", section);
}

/* What the slot's type and interface cannot do without. */
static int slot_check_needs(const tr_rig_cfg *r, const tr_slot_cfg *s, tr_err *e)
{
    const char *type = tr_slot_type_name(s->type);
    bool apdu = s->iface == TR_IFACE_APDU;
    const slot_key_def *serial = find_slot_key("serial");
    if (s->type == TR_SLOT_VIRTUAL && s->vt.serial[0] && strlen(s->vt.serial) != 16)
        return tr_fail_at(e, TR_E_CONFIG, r->path, s->key_line[serial - slot_keys], 0,
                          "serial '%s' must be exactly 16 characters ([slot %s] is virtual: it makes a REF-1 "
                          "token, whose serials are 16 ASCII)", s->vt.serial, s->name);
    if (s->type == TR_SLOT_USB_HUB && (!s->hub[0] || s->port == 0))
        return tr_fail_at(e, TR_E_CONFIG, r->path, s->line, 0,
                          "[slot %s] is usb-hub: it needs hub = <bus-port.port...> and port = N", s->name);
    /* pcsc-only cycles by a cold reset of its reader, whatever the interface */
    if (!s->reader[0] && (s->type == TR_SLOT_PCSC_ONLY || (apdu && (s->type == TR_SLOT_COMMAND ||
                                                                    s->type == TR_SLOT_NONE))))
        return tr_fail_at(e, TR_E_CONFIG, r->path, s->line, 0, "[slot %s] is %s: it needs reader = <name pattern>%s",
                          s->name, type, s->type == TR_SLOT_PCSC_ONLY ? "" : " (how its token is reached)");
    if (s->type == TR_SLOT_COMMAND && (!s->power.on[0] || !s->power.off[0]))
        return tr_fail_at(e, TR_E_CONFIG, r->path, s->line, 0,
                          "[slot %s] is command: it needs power_on = <command> and power_off = <command> "
                          "(here or in [rig])", s->name);
    if (s->type == TR_SLOT_RELOAD && s->iface != TR_IFACE_PKCS11)
        return tr_fail_at(e, TR_E_CONFIG, r->path, s->line, 0,
                          "[slot %s] is reload (the module restarted, a software token's power cycle): only a "
                          "slot with interface = pkcs11 has a module to restart", s->name);
    if (s->iface == TR_IFACE_PKCS11 && !s->p11.module[0])
        return tr_fail_at(e, TR_E_CONFIG, r->path, s->line, 0,
                          "[slot %s] has interface = pkcs11: it needs pkcs11_module = <the module's .so, or its "
                          "p11-kit name> (here or in [rig])", s->name);
    if (s->iface == TR_IFACE_SKF && !s->skf.library[0])
        return tr_fail_at(e, TR_E_CONFIG, r->path, s->line, 0,
                          "[slot %s] has interface = skf: it needs skf_library = <the vendor's .so> (here or in "
                          "[rig])", s->name);
    return 0;
}

static int rig_check_slots(tr_rig_cfg *r, tr_err *e)
{
    if (check_one_device(r, &r->defaults, "[rig]", e) < 0)
        return -1;
    if (r->nslots == 0)
        return tr_fail_at(e, TR_E_CONFIG, r->path, 0, 0, "no [slot NAME] sections: a rig needs at least one slot");
    for (size_t i = 0; i < r->nslots; i++) {
        tr_slot_cfg *s = &r->slots[i];
        if (!s->vars)
            return tr_fail(e, TR_E_NOMEM, "out of memory");
        char section[TR_NAME_MAX + 8];
        snprintf(section, sizeof section, "[slot %s]", s->name);
        if (check_one_device(r, s, section, e) < 0)
            return -1;
        slot_take_defaults(r, s);
        if (slot_check_keys(r, s, e) < 0 || slot_check_needs(r, s, e) < 0)
            return -1;
        if (s->type == TR_SLOT_VIRTUAL && !s->vt.serial[0])
            snprintf(s->vt.serial, sizeof s->vt.serial, "TRV%013u", (unsigned)(i + 1) % 1000000u);
        for (size_t j = 0; j < i; j++)
            if (s->type == TR_SLOT_VIRTUAL && r->slots[j].type == TR_SLOT_VIRTUAL &&
                !strcmp(r->slots[j].vt.serial, s->vt.serial))
                return tr_fail_at(e, TR_E_CONFIG, r->path, s->line, 0,
                                  "[slot %s] has the same serial as [slot %s]", s->name, r->slots[j].name);
    }
    return 0;
}

int tr_rig_load(const char *path, tr_rig_cfg *out, tr_err *e)
{
    memset(out, 0, sizeof *out);
    tr_strlcpy(out->path, path, sizeof out->path);
    out->apdu_timeout_ms = 5000;
    out->ready_timeout_ms = 10000;
    out->off_ms = 200;
    ini_ctx c = {.target = out};
    if (ini_parse_path(path, rig_key, &c, e) < 0 || rig_check_slots(out, e) < 0) {
        tr_rig_free(out);
        return -1;
    }
    if (!out->name[0]) {
        char tmp[TR_PATH_MAX];
        tr_strlcpy(tmp, path, sizeof tmp);
        tr_strlcpy(out->name, basename(tmp), sizeof out->name);
        char *dot = strrchr(out->name, '.');
        if (dot)
            *dot = '\0';
    }
    return 0;
}

int tr_rig_single_reader(const char *reader, tr_rig_cfg *out, tr_err *e)
{
    memset(out, 0, sizeof *out);
    out->apdu_timeout_ms = 5000;
    out->ready_timeout_ms = 10000;
    out->off_ms = 200;
    tr_strlcpy(out->name, "reader", sizeof out->name);
    snprintf(out->path, sizeof out->path, "(--reader %.900s)", reader);
    out->slots = calloc(1, sizeof *out->slots);
    if (!out->slots || !(out->slots[0].vars = tr_vars_new(NULL))) {
        free(out->slots);
        out->slots = NULL;
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    }
    out->nslots = 1;
    tr_slot_cfg *s = &out->slots[0];
    s->type = TR_SLOT_PCSC_ONLY;
    tr_strlcpy(s->name, "R", sizeof s->name);
    if (!*reader || !tr_strlcpy(s->reader, reader, sizeof s->reader))
        return tr_fail(e, TR_E_USAGE, "--reader: a reader name pattern of 1 to %zu characters", sizeof s->reader - 1);
    return 0;
}

void tr_rig_free(tr_rig_cfg *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nslots; i++)
        tr_vars_free(r->slots[i].vars);
    free(r->slots);
    r->slots = NULL;
    r->nslots = 0;
}

const tr_slot_cfg *tr_rig_find_slot(const tr_rig_cfg *r, const char *name)
{
    for (size_t i = 0; i < r->nslots; i++)
        if (!strcmp(r->slots[i].name, name))
            return &r->slots[i];
    return NULL;
}

bool tr_rig_is_virtual(const tr_rig_cfg *r)
{
    for (size_t i = 0; i < r->nslots; i++)
        if (r->slots[i].type != TR_SLOT_VIRTUAL)
            return false;
    return r->nslots > 0;
}

/* ---- search paths ------------------------------------------------------------ */

const char *tr_exe_dir(void)
{
    static char dir[TR_PATH_MAX];
    if (!dir[0]) {
        char exe[TR_PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n <= 0)
            return ".";
        exe[n] = '\0';
        tr_strlcpy(dir, dirname(exe), sizeof dir);
    }
    return dir;
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

const char *tr_data_dir(void)
{
    static char dir[TR_PATH_MAX];
    if (dir[0])
        return dir;
    const char *env = getenv("TOKENRIG_HOME");
    char cand[TR_PATH_MAX + 64];
    if (env && *env) {
        tr_strlcpy(dir, env, sizeof dir);
        return dir;
    }
    /* built in the source tree: <src>/build/tokenrig */
    snprintf(cand, sizeof cand, "%s/../suites", tr_exe_dir());
    if (is_dir(cand)) {
        snprintf(cand, sizeof cand, "%s/..", tr_exe_dir());
        if (!realpath(cand, dir))
            tr_strlcpy(dir, cand, sizeof dir);
        return dir;
    }
    snprintf(cand, sizeof cand, "%s/../share/tokenrig", tr_exe_dir());
    if (!realpath(cand, dir))
        tr_strlcpy(dir, cand, sizeof dir);
    return dir;
}

/* name with a '/' or an existing file: taken as a path; otherwise looked up
 * as <data>/<subdir>/<name><ext>. */
static int find_named(const char *kind, const char *subdir_src, const char *subdir_inst,
                      const char *ext, const char *name, char *out, size_t cap, tr_err *e)
{
    if (strchr(name, '/') || is_file(name)) {
        if (!is_file(name))
            return tr_fail(e, TR_E_CONFIG, "%s file '%s' does not exist", kind, name);
        return tr_strlcpy(out, name, cap) ? 0 : tr_fail(e, TR_E_CONFIG, "path too long: %s", name);
    }
    const char *subdirs[] = {subdir_src, subdir_inst};
    char cand[TR_PATH_MAX * 2];
    for (size_t i = 0; i < 2; i++) {
        for (int with_ext = 1; with_ext >= 0; with_ext--) {
            snprintf(cand, sizeof cand, "%s/%s/%s%s", tr_data_dir(), subdirs[i], name, with_ext ? ext : "");
            if (is_file(cand))
                return tr_strlcpy(out, cand, cap) ? 0 : tr_fail(e, TR_E_CONFIG, "path too long: %s", cand);
        }
    }
    return tr_fail(e, TR_E_CONFIG, "no %s named '%s' (looked in %s/%s)", kind, name, tr_data_dir(), subdir_src);
}

int tr_find_profile(const char *name, char *out, size_t cap, tr_err *e)
{
    return find_named("profile", "fixtures/profiles", "profiles", ".ini", name, out, cap, e);
}

int tr_find_suite(const char *name, char *out, size_t cap, tr_err *e)
{
    return find_named("suite", "suites", "suites", ".tsuite", name, out, cap, e);
}

int tr_find_rig(const char *name, char *out, size_t cap, tr_err *e)
{
    return find_named("rig", "rigs", "rigs", ".ini", name, out, cap, e);
}
