#include "config.h"

#include <ctype.h>
#include <fnmatch.h>
#include <ini.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
        char v[1024];
        if (!copy_value(c, name, value, v, sizeof v))
            return 0;
        if (tr_vars_set(p->vars, name, v) < 0)
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
    if (!out->vars)
        return tr_fail(e, TR_E_NOMEM, "out of memory");
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
    }
    return "?";
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
    return s;
}

static bool one_of(const char *v, const char *const *options)
{
    for (; *options; options++)
        if (!strcmp(v, *options))
            return true;
    return false;
}

static int slot_key(ini_ctx *c, tr_slot_cfg *s, const char *name, const char *value)
{
    static const char *const types[] = {"virtual", "usb-hub", "pcsc-only", NULL};
    static const char *const roles[] = {"main", "secondary", NULL};
    static const char *const algs[] = {"sm2", "ecdsa", "rsa", NULL};
    static const char *const validity[] = {"valid", "renewal-due", "expired", "not-yet-valid", NULL};
    tr_vtoken_cfg *vt = &s->vt;
    if (!strcmp(name, "type")) {
        if (!one_of(value, types))
            return ini_bad(c, "slot type '%s': expected virtual, usb-hub or pcsc-only", value);
        s->type = !strcmp(value, "virtual") ? TR_SLOT_VIRTUAL
                : !strcmp(value, "usb-hub") ? TR_SLOT_USB_HUB : TR_SLOT_PCSC_ONLY;
        return 1;
    }
    if (!strcmp(name, "profile"))
        return copy_value(c, name, value, s->profile, sizeof s->profile);
    if (!strcmp(name, "reader"))
        return copy_value(c, name, value, s->reader, sizeof s->reader);
    if (!strcmp(name, "hub"))
        return copy_value(c, name, value, s->hub, sizeof s->hub);
    if (!strcmp(name, "companion"))
        return copy_value(c, name, value, s->companion, sizeof s->companion);
    if (!strcmp(name, "port")) {
        unsigned p;
        if (!parse_uint(c, name, value, 255, &p))
            return 0;
        if (p == 0)
            return ini_bad(c, "hub ports are numbered from 1");
        s->port = (int)p;
        return 1;
    }
    if (!strcmp(name, "serial")) {
        if (strlen(value) != 16)
            return ini_bad(c, "serial '%s' must be exactly 16 characters (REF-1 serials are 16 ASCII)", value);
        for (const char *p = value; *p; p++)
            if (!isgraph((unsigned char)*p))
                return ini_bad(c, "serial '%s' must be printable ASCII without spaces", value);
        return copy_value(c, name, value, vt->serial, sizeof vt->serial);
    }
    if (!strcmp(name, "role")) {
        if (!one_of(value, roles))
            return ini_bad(c, "role '%s': expected main or secondary", value);
        return copy_value(c, name, value, vt->role, sizeof vt->role);
    }
    if (!strcmp(name, "alg") || !strcmp(name, "algorithm")) {
        if (!one_of(value, algs))
            return ini_bad(c, "algorithm '%s': expected sm2, ecdsa or rsa", value);
        return copy_value(c, name, value, vt->alg, sizeof vt->alg);
    }
    if (!strcmp(name, "validity")) {
        if (!one_of(value, validity))
            return ini_bad(c, "validity '%s': expected valid, renewal-due, expired or not-yet-valid", value);
        return copy_value(c, name, value, vt->validity, sizeof vt->validity);
    }
    if (!strcmp(name, "org"))
        return copy_value(c, name, value, vt->org, sizeof vt->org);
    if (!strcmp(name, "faults") || !strcmp(name, "fault"))
        return copy_value(c, name, value, vt->faults, sizeof vt->faults);
    if (!strcmp(name, "seal_version")) {
        unsigned v;
        if (!parse_uint(c, name, value, 4, &v))
            return 0;
        if (v != 4 && v != 1)
            return ini_bad(c, "seal_version must be 4 (GB/T 38540) or 1 (GM/T 0031)");
        vt->seal_version = (int)v;
        return 1;
    }
    if (!strcmp(name, "ready_ms"))
        return parse_uint(c, name, value, 600000, &vt->ready_ms);
    if (!strcmp(name, "sign_latency_ms"))
        return parse_uint(c, name, value, 600000, &vt->sign_latency_ms);
    if (!strcmp(name, "apdu_latency_us"))
        return parse_uint(c, name, value, 10000000, &vt->apdu_latency_us);
    if (!strcmp(name, "seed"))
        return parse_uint(c, name, value, 0x7fffffff, &vt->seed);
    if (!strcmp(name, "t0"))
        return parse_bool(c, name, value, &vt->t0);
    if (!strncmp(name, "var.", 4)) {
        if (!valid_var_name(name + 4))
            return ini_bad(c, "variable name '%s': use letters, digits and _ only", name + 4);
        if (tr_vars_set(s->vars, name + 4, value) < 0)
            return ini_bad(c, "out of memory");
        return 1;
    }
    return ini_bad(c, "unknown key '%s' in [slot %s] (see README, \"Rig files\")", name, s->name);
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
        if (!strcmp(name, "description"))
            return 1;
        return ini_bad(c, "unknown key '%s' in [rig] (known: name, profile, apdu_timeout_ms, "
                          "ready_timeout_ms, off_ms, nv_dir, journal, pcscd_restart, description)", name);
    }
    if (!strncmp(section, "slot", 4) && (section[4] == ' ' || section[4] == '\0')) {
        tr_slot_cfg *s = rig_slot_for_section(c, r, section);
        return s ? slot_key(c, s, name, value) : 0;
    }
    return ini_bad(c, "unknown section [%s] (a rig has [rig] and [slot NAME] sections)", section);
}

static int rig_check_slots(tr_rig_cfg *r, tr_err *e)
{
    if (r->nslots == 0)
        return tr_fail_at(e, TR_E_CONFIG, r->path, 0, 0, "no [slot NAME] sections: a rig needs at least one slot");
    for (size_t i = 0; i < r->nslots; i++) {
        tr_slot_cfg *s = &r->slots[i];
        if (!s->vars)
            return tr_fail(e, TR_E_NOMEM, "out of memory");
        if (s->type == TR_SLOT_USB_HUB && (!s->hub[0] || s->port == 0))
            return tr_fail_at(e, TR_E_CONFIG, r->path, s->line, 0,
                              "[slot %s] is usb-hub: it needs hub = <bus-port.port...> and port = N", s->name);
        if (s->type == TR_SLOT_PCSC_ONLY && !s->reader[0])
            return tr_fail_at(e, TR_E_CONFIG, r->path, s->line, 0,
                              "[slot %s] is pcsc-only: it needs reader = <name pattern>", s->name);
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
