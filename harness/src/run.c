#include "run.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "dbrun.h"
#include "db.h"
#include "yieldhist.h"
#include "interp.h"
#include "htmlreport.h"
#include "rig.h"
#include "libcall.h"
#include "p11slot.h"
#include "provenance.h"
#include "rigcmd.h"
#include "rowpipe.h"
#include "skfslot.h"
#include "suitevars.h"
#include "transport.h"
#include "util.h"

#define DEFAULT_RIG "virtual"
#define RIG_UP_TIMEOUT_MS 30000

/* ---- the lease: which process uses a rig ------------------------------------------------ */

/* A virtual rig's lease sits beside its instance directory; a hardware
 * rig's in /tmp/tokenrig-<uid>/. flock() is released by the kernel when the
 * holder dies however it dies, so a lease file whose content is still there
 * while nobody holds the lock was left by a process that died in a run. */
static void lease_path(const tr_rig_cfg *cfg, char *out, size_t cap)
{
    if (tr_rig_is_virtual(cfg)) {
        char dir[TR_PATH_MAX];
        tr_vrig_default_dir(cfg, dir, sizeof dir);
        snprintf(out, cap, "%s.lease", dir);
    } else {
        snprintf(out, cap, "/tmp/tokenrig-%u/rig-%s.lease", (unsigned)getuid(), cfg->name);
    }
}

static int lease_open_locked(const char *path, tr_err *e)
{
    char dir[TR_PATH_MAX + 32];
    tr_strlcpy(dir, path, sizeof dir);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
            return tr_fail(e, TR_E_RIG, "mkdir %s: %m", dir);
    }
    for (int attempt = 0; attempt < 10; attempt++) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
            return tr_fail(e, TR_E_RIG, "%s: %m", path);
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
            char who[256] = "";
            ssize_t n = pread(fd, who, sizeof who - 1, 0);
            who[n > 0 ? n : 0] = '\0';
            tr_trim(who);
            close(fd);
            return tr_fail(e, TR_E_RIG, "the rig is in use by another tokenrig (%s; lease %s)",
                           who[0] ? who : "no details", path);
        }
        /* the file may have been unlinked by its previous holder between
         * our open and our lock: lock the file that is at the path */
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
            return fd;
        close(fd);
    }
    return tr_fail(e, TR_E_RIG, "%s: could not take the lease", path);
}

/* Take the lease; *stale_by gets what the dead previous holder wrote ("" when
 * the last holder left cleanly). */
static int lease_take(tr_rig_session *rs, char *stale_by, size_t cap, tr_err *e)
{
    lease_path(&rs->cfg, rs->lease_path, sizeof rs->lease_path);
    int fd = lease_open_locked(rs->lease_path, e);
    if (fd < 0)
        return -1;
    ssize_t n = pread(fd, stale_by, cap - 1, 0);
    stale_by[n > 0 ? n : 0] = '\0';
    tr_trim(stale_by);
    char me[256];
    int len = snprintf(me, sizeof me, "PID %d, started %lld\n", (int)getpid(), (long long)time(NULL));
    if (ftruncate(fd, 0) < 0 || pwrite(fd, me, (size_t)len, 0) != len) {
        close(fd);
        return tr_fail(e, TR_E_RIG, "writing %s: %m", rs->lease_path);
    }
    rs->lease_fd = fd;
    return 0;
}

static void lease_release(tr_rig_session *rs)
{
    if (rs->lease_fd < 0)
        return;
    /* emptied and removed under the lock: the next process finds no
     * content, so nothing to recover */
    if (ftruncate(rs->lease_fd, 0) == 0)
        unlink(rs->lease_path);
    close(rs->lease_fd);
    rs->lease_fd = -1;
}

/* ---- opening a rig ------------------------------------------------------------------------ */

static int vrig_fresh(tr_rig_session *rs, const char *dir, pid_t owner, tr_err *e)
{
    if (tr_vrig_up(&rs->cfg, dir, RIG_UP_TIMEOUT_MS, &rs->vrig, e) < 0)
        return -1;
    tr_vrig_set_owner(rs->vrig, owner);
    rs->owns_vrig = owner > 0;
    return tr_vrig_save(rs->vrig, e);
}

/* Attach to the virtual rig, bring it up, or replace one left by a dead
 * process (its tokens keep their NV memory when the rig has an nv_dir). */
static int open_virtual(tr_rig_session *rs, const char *stale_by, tr_err *e)
{
    char dir[TR_PATH_MAX], why[300];
    tr_vrig_default_dir(&rs->cfg, dir, sizeof dir);
    tr_err ignored;
    if (tr_vrig_attach(dir, &rs->vrig, &ignored) < 0)
        return vrig_fresh(rs, dir, getpid(), e);
    bool stale = tr_vrig_stale(rs->vrig, why, sizeof why);
    if (!stale && stale_by[0]) {
        stale = true;
        snprintf(why, sizeof why, "the run that used it (%.200s) died", stale_by);
    }
    if (!stale)
        return 0;
    /* a rig `rig up` made stays the user's; one a dead run made is ours now */
    pid_t owner = tr_vrig_owned(rs->vrig) ? getpid() : 0;
    fprintf(stderr, "tokenrig: rig %s: left by a dead process (%s): taking it down and bringing it up again\n",
            rs->cfg.name, why);
    tr_vrig_free(rs->vrig);
    rs->vrig = NULL;
    tr_vrig_reap(dir);
    return vrig_fresh(rs, dir, owner, e);
}

/* A hardware rig after a crash: every port the dead run may have left off
 * is switched on again and checked. */
static int recover_hardware(tr_rig_session *rs, const char *stale_by, tr_err *e)
{
    fprintf(stderr, "tokenrig: rig %s: the previous run (%s) died: powering every port back on\n", rs->cfg.name,
            stale_by);
    for (size_t i = 0; i < rs->cfg.nslots; i++) {
        const tr_slot_cfg *c = &rs->cfg.slots[i];
        if (c->type != TR_SLOT_USB_HUB && c->type != TR_SLOT_COMMAND)
            continue;
        tr_slot *s = NULL;
        char desc[300], detail[300];
        if (tr_slot_open(&rs->cfg, c, NULL, &s, e) < 0 || tr_slot_power_detail(s, true, detail, sizeof detail, e) < 0) {
            tr_err_prefix(e, "slot %s: powering the port back on", c->name);
            tr_slot_close(s);
            return -1;
        }
        tr_slot_power_desc(s, desc, sizeof desc);
        fprintf(stderr, "tokenrig: slot %s: %s: %s\n", c->name, desc, detail);
        tr_slot_close(s);
    }
    return 0;
}

int tr_rig_session_open_cfg(tr_rig_session *rs, tr_err *e)
{
    rs->vrig = NULL;
    rs->owns_vrig = false;
    rs->journal = NULL;
    rs->lease_fd = -1;
    char stale_by[256];
    int rc = lease_take(rs, stale_by, sizeof stale_by, e);
    if (rc == 0 && tr_rig_is_virtual(&rs->cfg))
        rc = open_virtual(rs, stale_by, e);
    else if (rc == 0 && stale_by[0])
        rc = recover_hardware(rs, stale_by, e);
    if (rc < 0) {
        lease_release(rs);
        tr_rig_free(&rs->cfg);
    }
    return rc;
}

int tr_rig_session_open(const char *rig_arg, tr_rig_session *rs, tr_err *e)
{
    memset(rs, 0, sizeof *rs);
    rs->lease_fd = -1;
    char path[TR_PATH_MAX];
    if (tr_find_rig(rig_arg ? rig_arg : DEFAULT_RIG, path, sizeof path, e) < 0 || tr_rig_load(path, &rs->cfg, e) < 0)
        return -1;
    return tr_rig_session_open_cfg(rs, e);
}

int tr_rig_up(const char *rig_arg, unsigned timeout_ms, tr_rig_session *rs, tr_err *e)
{
    memset(rs, 0, sizeof *rs);
    rs->lease_fd = -1;
    char path[TR_PATH_MAX], dir[TR_PATH_MAX], stale_by[256];
    if (tr_find_rig(rig_arg ? rig_arg : DEFAULT_RIG, path, sizeof path, e) < 0 || tr_rig_load(path, &rs->cfg, e) < 0)
        return -1;
    if (lease_take(rs, stale_by, sizeof stale_by, e) < 0) {
        tr_rig_free(&rs->cfg);
        return -1;
    }
    tr_vrig_default_dir(&rs->cfg, dir, sizeof dir);
    /* a rig left by a dead process is taken down first (vrig.c says so) */
    if (tr_vrig_up(&rs->cfg, dir, timeout_ms, &rs->vrig, e) < 0) {
        /* a dead run's lease stays for the next run to act on */
        if (!stale_by[0])
            lease_release(rs);
        else if (ftruncate(rs->lease_fd, 0) < 0 || pwrite(rs->lease_fd, stale_by, strlen(stale_by), 0) < 0)
            fprintf(stderr, "tokenrig: %s: %s\n", rs->lease_path, strerror(errno));
        if (rs->lease_fd >= 0)
            close(rs->lease_fd);
        rs->lease_fd = -1;
        tr_rig_free(&rs->cfg);
        return -1;
    }
    if (stale_by[0])
        fprintf(stderr, "tokenrig: rig %s: the run that used it (%s) died: its lease is cleared\n", rs->cfg.name,
                stale_by);
    return 0;
}

/* The end of a run that abandoned a worker (blocked in SCardTransmit on a
 * mute token): the rig goes down and the lease is given back, but nothing
 * the worker may still read is freed or cleared — the process _exits next. */
static void session_close_for_exit(tr_rig_session *rs)
{
    tr_err ignored;
    if (rs->owns_vrig) /* the handle itself stays allocated */
        tr_vrig_stop(rs->vrig, &ignored);
    lease_release(rs);
}

void tr_rig_session_close(tr_rig_session *rs)
{
    tr_err ignored;
    tr_journal_close(rs->journal);
    rs->journal = NULL;
    if (rs->owns_vrig)
        tr_vrig_down(rs->vrig, &ignored);
    else
        tr_vrig_free(rs->vrig);
    rs->vrig = NULL;
    lease_release(rs);
    tr_rig_free(&rs->cfg);
}

int tr_rig_session_journal(tr_rig_session *rs, tr_err *e)
{
    if (rs->journal)
        return 0;
    char path[TR_PATH_MAX + 32];
    if (rs->cfg.journal[0])
        tr_strlcpy(path, rs->cfg.journal, sizeof path);
    else if (rs->vrig) /* beside the tokens' memory: they share their fate */
        snprintf(path, sizeof path, "%s/journal",
                 tr_vrig_nv_dir(rs->vrig)[0] ? tr_vrig_nv_dir(rs->vrig) : tr_vrig_dir(rs->vrig));
    else
        tr_journal_default_path(rs->cfg.name, path, sizeof path);
    return tr_journal_open(path, &rs->journal, e);
}

/* ---- a slot's profile and variables ------------------------------------------------------------ */

int tr_slot_profile_load(const tr_rig_cfg *rig, const tr_slot_cfg *slot, const char *override, tr_profile *out,
                         tr_err *e)
{
    char name[TR_PATH_MAX + 8], path[TR_PATH_MAX];
    if (override)
        tr_strlcpy(name, override, sizeof name);
    else if (slot->profile[0])
        tr_strlcpy(name, slot->profile, sizeof name);
    else if (rig->profile[0])
        tr_strlcpy(name, rig->profile, sizeof name);
    else if (slot->iface != TR_IFACE_APDU && slot->vt.alg[0])
        snprintf(name, sizeof name, "%s-%s", slot->iface == TR_IFACE_SKF ? "skf" : "p11", slot->vt.alg);
    else if (slot->type == TR_SLOT_VIRTUAL)
        snprintf(name, sizeof name, "ref1-%s", slot->vt.alg);
    else
        return tr_fail(e, TR_E_CONFIG, "slot %s has no profile: set profile = ... in [rig] or [slot %s], or --profile",
                       slot->name, slot->name);
    return tr_find_profile(name, path, sizeof path, e) < 0 ? -1 : tr_profile_load(path, out, e);
}

typedef struct run_ctx run_ctx;

/* One slot of a run (or of an identify / recover pass). */
typedef struct {
    run_ctx *rc;
    const tr_rig_cfg *rig;
    const tr_slot_cfg *cfg;
    tr_slot *slot;            /* its power (and, over apdu, its reader and card) */
    tr_skfslot *skf;          /* interface skf: the vendor library's session */
    tr_p11slot *p11;          /* interface pkcs11: the module's session */
    tr_libcall_tracer connect_tracer; /* its calls outside a suite: trace rows of "(connect)" */
    tr_profile profile;
    tr_vars *vars;            /* slot layer over the profile */
    const tr_suite *ops;      /* its interface's token operations (run_ctx owns it) */
    tr_slot_id who;
    char serial[64], role[16], reader[256];
    char current_suite[128];
    char current_test[128];   /* the test the worker is in (hook_test_start) */
    char power_level[32];     /* how far the last power-off was verified */
    const tr_suite *suite_now; /* the suite running (current_suite is its name) */
    unsigned destructive_ran, destructive_seen; /* destructive tests run / met */
    char firmware[64];        /* as the token reported it (read_info), "" unknown */
    tr_suite_outcome total;
    unsigned service_gen;     /* the pcscd generation this slot connected to */
    unsigned service_resumes; /* suites resumed after a pcscd restart */
    unsigned token_restarts;  /* pcscd_restart runs for a token not back after power-on */
    int journaled_answer;     /* TR_JOURNALED_*: what the answer to the journal's
                                 last record's command said (this process) */
} slot_run;

static int copy_layer(tr_vars *to, const tr_vars *from, tr_err *e)
{
    for (size_t i = 0; from && i < tr_vars_count(from); i++)
        if (tr_vars_set(to, tr_vars_name_at(from, i), tr_vars_value_at(from, i)) < 0)
            return tr_fail(e, TR_E_NOMEM, "out of memory");
    return 0;
}

/* The interface the slot's token is reached through (suites/README.md,
 * "Token operations"): apdu or skf. */
static const char *slot_interface(const tr_slot_cfg *c)
{
    return tr_slot_iface_name(c->iface);
}

/* suites/lib/ops-<iface>.tsuite, the token operations of an interface. */
static int load_ops_library(const char *iface, tr_suite **out, tr_err *e)
{
    *out = NULL;
    for (const char *p = iface; *p; p++) /* a name, never a path */
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
            return tr_fail(e, TR_E_CONFIG, "interface '%s': expected letters, digits, '-' or '_'", iface);
    char path[TR_PATH_MAX + 96];
    snprintf(path, sizeof path, "%s/suites/lib/ops-%s.tsuite", tr_data_dir(), iface);
    if (tr_suite_load(path, out, e) < 0)
        return -1;
    const tr_suite *l = *out; /* ops only: a file without tests is one implicit, here empty, test */
    if (l->prelude || (l->ntests && (!l->scriptor || l->tests[0].body))) {
        tr_suite_free(*out);
        *out = NULL;
        return tr_fail(e, TR_E_CONFIG, "%s: an interface library holds ops only (no tests, no top-level let)", path);
    }
    return 0;
}

/* The values set in v from now on come from source (provenance.csv). */
static int from_source(tr_vars *v, tr_err *e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int from_source(tr_vars *v, tr_err *e, const char *fmt, ...)
{
    char source[TR_PATH_MAX + 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(source, sizeof source, fmt, ap);
    va_end(ap);
    return tr_vars_set_source(v, source) < 0 ? tr_fail(e, TR_E_NOMEM, "out of memory") : 0;
}

static int set_pairs(tr_vars *v, const char *const *kv, tr_err *e)
{
    for (const char *const *p = kv; p[0]; p += 2)
        if (p[1] && tr_vars_set(v, p[0], p[1]) < 0)
            return tr_fail(e, TR_E_NOMEM, "out of memory");
    return 0;
}

/* Slot variables: profile < built-ins and the slot's identity (and a
 * virtual rig's trust anchors) < rig var.* < manifest < -D. Each layer
 * says where its values come from, for the run's provenance. */
static int slot_vars(slot_run *sr, const tr_rig_cfg *rig, const tr_vrig *vrig, const tr_manifest *m,
                     const tr_vars *defs, tr_err *e)
{
    tr_vars *v = sr->vars = tr_vars_new(sr->profile.vars);
    if (!v)
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    const tr_slot_cfg *c = sr->cfg;
    /* a virtual token's identity is the rig's; an skf token's too (GM/T
     * 0016 has no role object: the rig or the manifest says what it is) */
    bool virt = c->type == TR_SLOT_VIRTUAL, ident = virt || c->iface != TR_IFACE_APDU;
    const char *builtin[] = {"SLOT", c->name, "RIG", rig->name, "INTERFACE", slot_interface(c),
                             "POWER", tr_slot_type_name(c->type), NULL, NULL};
    const char *identity[] = {"EXPECTED_SERIAL", ident && c->vt.serial[0] ? c->vt.serial : NULL,
                              "EXPECTED_ROLE", ident && c->vt.role[0] ? c->vt.role : NULL,
                              "EXPECTED_ALG", ident && c->vt.alg[0] ? c->vt.alg : NULL, NULL, NULL};
    char rig_path[TR_PATH_MAX];
    tr_prov_abs(rig->path, rig_path, sizeof rig_path);
    if (from_source(v, e, "built-in (the rig's slot)") < 0 || set_pairs(v, builtin, e) < 0 ||
        from_source(v, e, "rig %s [slot %s]", rig_path, c->name) < 0 || set_pairs(v, identity, e) < 0)
        return -1;
    /* a virtual token's certificate and seal come from its rig's PKI */
    if (virt && (from_source(v, e, "virtual rig %s (its PKI)", vrig ? tr_vrig_dir(vrig) : "") < 0 ||
                 tr_vrig_trust_vars(vrig, v, e) < 0))
        return -1;
    if (from_source(v, e, "rig %s [slot %s]", rig_path, c->name) < 0 || copy_layer(v, c->vars, e) < 0)
        return -1;
    char manifest_path[TR_PATH_MAX];
    tr_prov_abs(m ? m->path : "", manifest_path, sizeof manifest_path);
    if (m && (from_source(v, e, "manifest %s", manifest_path) < 0 ||
              tr_manifest_apply((tr_manifest *)m, ident && c->vt.serial[0] ? c->vt.serial : NULL, c->name, v, e) < 0))
        return -1;
    if (from_source(v, e, "command line -D") < 0 || copy_layer(v, defs, e) < 0)
        return -1;
    const char *serial = tr_vars_get(v, "EXPECTED_SERIAL");
    const char *role = tr_vars_get(v, "EXPECTED_ROLE");
    tr_strlcpy(sr->serial, serial ? serial : "", sizeof sr->serial);
    tr_strlcpy(sr->role, role ? role : "", sizeof sr->role);
    return 0;
}

/* Before any token is touched: the slot's variables give every name the
 * run's suites read from outside (suitevars.h). */
static int check_suite_vars(const slot_run *sr, const tr_run_opts *o, tr_err *e)
{
    char profile[TR_PATH_MAX + 80], whom[TR_NAME_MAX + 8];
    snprintf(profile, sizeof profile, "%s (%s)", sr->profile.name, sr->profile.path);
    snprintf(whom, sizeof whom, "slot %s", sr->cfg->name);
    for (size_t i = 0; i < o->nsuites; i++)
        if (tr_suite_check_vars(o->suites[i], sr->ops, sr->vars, profile, whom, e) < 0)
            return -1;
    return 0;
}

static void slot_free(slot_run *sr)
{
    tr_skfslot_close(sr->skf);
    sr->skf = NULL;
    tr_p11slot_close(sr->p11);
    sr->p11 = NULL;
    tr_slot_close(sr->slot);
    sr->slot = NULL;
    tr_vars_free(sr->vars);
    sr->vars = NULL;
    tr_profile_free(&sr->profile);
}

/* ---- a run --------------------------------------------------------------------------------------- */

struct run_ctx {
    const tr_run_opts *o;
    tr_rig_session *rs;
    tr_reports *rep;
    tr_dbrun *dbw;              /* the results database, or NULL */
    char run_id[128];
    slot_run *slots;
    size_t nslots;
    size_t *batch;              /* the slots this process runs (indices into slots): all of
                                   them, or a pcscd group's in its child (run_groups) */
    size_t nbatch;
    tr_suite *recover_suite;
    tr_suite *ops_lib[4];       /* the interface libraries the slots use, loaded once */
    char ops_iface[4][32];
    size_t nops_lib;
    pthread_mutex_t print_lock;
    bool tty;
    pthread_mutex_t service_lock;   /* one worker restarts pcscd, the others wait */
    unsigned service_gen;           /* pcscd restarts so far (any reason) */
    unsigned service_deaths;        /* of them, after pcscd died */
    _Atomic unsigned token_restarts; /* of them, for a token not back after power-on */
    uint64_t restarted_ns;          /* when the last restart ended */
};

static void say(run_ctx *rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(run_ctx *rc, const char *fmt, ...)
{
    if (rc->o->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&rc->print_lock);
    if (rc->tty)
        fputs("\r\033[K", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    pthread_mutex_unlock(&rc->print_lock);
    va_end(ap);
}

typedef struct {
    slot_run *sr;
    tr_batch_worker *w;
} hook_ud;

static void hook_test_start(void *ud, const char *test)
{
    hook_ud *h = ud;
    tr_strlcpy(h->sr->current_test, test ? test : "", sizeof h->sr->current_test);
    if (h->w)
        tr_batch_where(h->w, h->sr->current_suite, test);
}

/* Count the destructive tests a slot met and ran (a skip did not run). */
static void count_destructive(slot_run *sr, const char *test, tr_verdict v)
{
    const tr_suite *s = sr->suite_now;
    if (!s || strcmp(s->name, sr->current_suite))
        return;
    for (size_t t = 0; t < s->ntests; t++)
        if (!strcmp(s->tests[t].name, test) && (s->destructive || s->tests[t].destructive)) {
            sr->destructive_seen++;
            sr->destructive_ran += v != TR_SKIP;
            return;
        }
}

static void hook_progress(void *ud, const char *test, tr_verdict v, const char *cls, const char *msg)
{
    hook_ud *h = ud;
    count_destructive(h->sr, test, v);
    const char *mark = v == TR_PASS ? "pass" : v == TR_FAIL ? "FAIL" : v == TR_ERROR ? "ERROR" : "skip";
    if (v == TR_PASS)
        say(h->sr->rc, "[%s] %s / %s: %s", h->sr->cfg->name, h->sr->current_suite, test, mark);
    else
        say(h->sr->rc, "[%s] %s / %s: %s%s%s%s%s", h->sr->cfg->name, h->sr->current_suite, test, mark,
            cls && *cls ? " " : "", cls ? cls : "", msg && *msg ? ": " : "", msg ? msg : "");
}

static void hook_live(void *ud, const char *test, const char *what, unsigned long done, unsigned long total)
{
    hook_ud *h = ud;
    run_ctx *rc = h->sr->rc;
    if (rc->o->quiet || !rc->tty)
        return;
    pthread_mutex_lock(&rc->print_lock);
    fprintf(stderr, "\r\033[K[%s] %s / %s: %s %lu/%lu", h->sr->cfg->name, h->sr->current_suite, test, what, done,
            total);
    pthread_mutex_unlock(&rc->print_lock);
}

/* Remember how far power-offs were verified (a JUnit property of the slot). */
static void hook_cycle(void *ud, const tr_cycle_row *row)
{
    hook_ud *h = ud;
    if (row->power_level && *row->power_level)
        tr_strlcpy(h->sr->power_level, row->power_level, sizeof h->sr->power_level);
}

/* tokenrig script prints like scriptor: "> command" and "< answer SW". */
static void script_trace(void *ud, const tr_trace_row *row)
{
    hook_ud *h = ud;
    if (h->sr->rc->o->quiet)
        return;
    printf("> %s\n< %s%s%s\n", row->command, row->response, *row->response ? " " : "", row->sw);
}

static void script_log(void *ud, const char *test, const char *text)
{
    (void)test;
    hook_ud *h = ud;
    if (!h->sr->rc->o->quiet)
        printf("# %s\n", text);
}

/* The journal statement of a suite: open the token's sequence on its first
 * destructive step (with the factory PINs as the target), then record. */
static int hook_journal(void *ud, int ref, const char *if_lands, const char *if_not, tr_err *e)
{
    hook_ud *h = ud;
    slot_run *sr = h->sr;
    tr_journal *j = sr->rc->rs->journal;
    if (!j)
        return tr_fail(e, TR_E_INTERNAL, "no journal is open");
    sr->journaled_answer = TR_JOURNALED_UNKNOWN; /* until this record's command is answered */
    if (!tr_journal_is_open(j, sr->cfg->name, NULL)) {
        const char *fu = tr_vars_get(sr->vars, "DEFAULT_PIN"), *fs = tr_vars_get(sr->vars, "SO_PIN");
        if (!fu || !fs)
            return tr_fail(e, TR_E_CONFIG, "profile %s: the journal needs DEFAULT_PIN and SO_PIN (the factory PINs)",
                           sr->profile.name);
        if (tr_journal_begin(j, sr->cfg->name, sr->serial, sr->rc->run_id, fu, fs, e) < 0)
            return -1;
    }
    return tr_journal_pin(j, sr->cfg->name, sr->serial, ref ? TR_PIN_SO : TR_PIN_USER, if_lands, if_not,
                          TR_JOURNAL_BY_RUN, e);
}

/* Recovery's own records (its change back, its unblock) extend the open
 * sequence it is restoring: after a crash inside recovery the journal
 * still holds the PIN the token has (journal.h checks that recovery never
 * records a PIN it does not hold but the factory one). */
static int hook_recovery_journal(void *ud, int ref, const char *if_lands, const char *if_not, tr_err *e)
{
    hook_ud *h = ud;
    h->sr->journaled_answer = TR_JOURNALED_UNKNOWN;
    return tr_journal_pin(h->sr->rc->rs->journal, h->sr->cfg->name, h->sr->serial, ref ? TR_PIN_SO : TR_PIN_USER,
                          if_lands, if_not, TR_JOURNAL_BY_RECOVERY, e);
}

/* `journal user|so try|refused PIN`: recovery's marks on a candidate. */
static int hook_journal_mark(void *ud, int ref, int refused, const char *pin, tr_err *e)
{
    hook_ud *h = ud;
    tr_journal *j = h->sr->rc->rs->journal;
    if (!j)
        return tr_fail(e, TR_E_INTERNAL, "no journal is open");
    h->sr->journaled_answer = TR_JOURNALED_UNKNOWN;
    return tr_journal_mark(j, h->sr->cfg->name, h->sr->serial, ref ? TR_PIN_SO : TR_PIN_USER,
                           refused ? TR_JOURNAL_REFUSED : TR_JOURNAL_TRY, pin, e);
}

static void hook_journaled_sent(void *ud, int answer)
{
    hook_ud *h = ud;
    h->sr->journaled_answer = answer;
    tr_journal_crash_point(h->sr->rc->rs->journal, h->sr->cfg->name);
}

/* The token's firmware as its read_info op reported it (INFO_FIRMWARE;
 * "n/a" where the interface cannot tell), into the provenance once. */
static void hook_suite_end(void *ud, const tr_vars *vars)
{
    hook_ud *h = ud;
    slot_run *sr = h->sr;
    const char *fw = tr_vars_get(vars, "INFO_FIRMWARE");
    if (!fw || !*fw || !strcmp(fw, sr->firmware) || !sr->rc->rep)
        return;
    tr_strlcpy(sr->firmware, fw, sizeof sr->firmware);
    char source[200];
    snprintf(source, sizeof source, "the token: read_info over %s (suite %s)", slot_interface(sr->cfg),
             sr->current_suite);
    tr_err e;
    if (tr_prov_row(sr->rc->rep, &sr->who, "firmware", fw, source, &e) < 0)
        say(sr->rc, "[%s] %s", sr->cfg->name, e.msg);
}

static void fill_hooks(tr_interp_hooks *hooks, hook_ud *hu, bool script)
{
    *hooks = (tr_interp_hooks){.ud = hu, .test_start = hook_test_start, .progress = hook_progress,
                               .live = hook_live, .cycle = hook_cycle, .journal = hook_journal,
                               .journal_mark = hook_journal_mark, .journaled_sent = hook_journaled_sent,
                               .suite_end = hook_suite_end};
    if (script) {
        hooks->progress = NULL;
        hooks->trace = script_trace;
        hooks->log = script_log;
    }
}

/* ---- rows written by the engine ------------------------------------------------------------------- */

static void error_row(slot_run *sr, const char *suite, const char *test, const char *cls, const char *msg)
{
    tr_result_row row = {.who = &sr->who, .suite = suite, .test = test, .verdict = TR_ERROR,
                         .classification = cls, .message = msg};
    tr_err e;
    /* a row the reports could not write ends the run with exit 2 (kept by
     * the reports); the console line still carries it */
    bool written = !sr->rc->rep || tr_reports_result(sr->rc->rep, &row, &e) == 0;
    say(sr->rc, "[%s] %s / %s: ERROR %s: %s%s", sr->cfg->name, suite, test, cls, msg,
        written ? "" : " (not written to results.csv)");
}

/* Tests that cannot run any more: one error row each, from test from_test of
 * suite from_suite on, so every token has its full list of tests. */
static void not_run_rows(slot_run *sr, size_t from_suite, size_t from_test, const char *cls, const char *why)
{
    const tr_run_opts *o = sr->rc->o;
    for (size_t i = from_suite; i < o->nsuites; i++)
        for (size_t t = i == from_suite ? from_test : 0; t < o->suites[i]->ntests; t++)
            error_row(sr, o->suites[i]->name, o->suites[i]->tests[t].name, cls, why);
}

static void slot_property(slot_run *sr, const char *name, const char *value)
{
    tr_err e; /* a failure is kept by the reports too: the run ends with exit 2 */
    if (sr->rc->rep && tr_reports_slot_property(sr->rc->rep, &sr->who, name, value, &e) < 0)
        say(sr->rc, "[%s] %s", sr->cfg->name, e.msg);
}

static void record_slot_props(slot_run *sr)
{
    char atr_hex[100] = "", power[300];
    if (sr->slot && tr_slot_card(sr->slot)) {
        uint8_t atr[64];
        size_t n = tr_card_atr(tr_slot_card(sr->slot), atr, sizeof atr);
        tr_hex_encode(atr, n, atr_hex, sizeof atr_hex, 0);
    }
    tr_slot_power_desc(sr->slot, power, sizeof power);
    const char *props[][2] = {{"reader", sr->reader}, {"ATR", atr_hex}, {"serial", sr->serial},
                              {"role", sr->role}, {"profile", sr->profile.name}, {"power", power},
                              {"slot type", tr_slot_type_name(sr->cfg->type)}};
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++)
        slot_property(sr, props[i][0], props[i][1]);
}

/* ---- reaching the token -------------------------------------------------------------------------------- */

/* The library calls (SKF, PKCS#11) the slot makes outside a suite (finding
 * and connecting the token; the interpreter takes the trace over during a
 * suite) as trace rows of suite "(connect)": every call is a trace row. */
static void connect_trace(void *ud, const tr_libcall_trace *t)
{
    slot_run *sr = ud;
    if (!sr->rc || !sr->rc->rep)
        return;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "%s(%s)", t->function, t->args);
    tr_trace_row row = {.who = &sr->who, .suite = "(connect)", .test = "", .file = "", .line = 0, .command = cmd,
                        .response = t->outputs, .sw = t->result, .latency_us = (uint64_t)t->us};
    tr_err e;
    if (tr_reports_trace(sr->rc->rep, &row, &e) < 0)
        say(sr->rc, "[%s] %s", sr->cfg->name, e.msg);
}

/* The library session of an skf or pkcs11 slot and its interface; NULL
 * over apdu. */
static void *slot_lib(slot_run *sr)
{
    return sr->skf ? (void *)tr_skfslot_lib(sr->skf) : sr->p11 ? (void *)tr_p11slot_lib(sr->p11) : NULL;
}

static const tr_libcall_iface *slot_lib_iface(slot_run *sr)
{
    return sr->p11 ? &tr_p11_calls : &tr_skf_calls;
}

/* The slot's library calls outside a suite go to trace.csv (connect_trace). */
static void trace_connect(slot_run *sr)
{
    sr->connect_tracer = (tr_libcall_tracer){connect_trace, sr};
    slot_lib_iface(sr)->set_trace(slot_lib(sr), &sr->connect_tracer);
}

/* Connect the slot's token through its interface and fill the callbacks
 * the interpreter uses: over apdu the reader and card (rig.h), over skf the
 * vendor library's session (skfslot.h: the library in a child process of
 * its own, the token found among its devices). Called from the thread that
 * will use the slot. */
static int slot_connect(slot_run *sr, tr_cardio *io, tr_err *e)
{
    if (sr->cfg->iface == TR_IFACE_PKCS11) {
        if (!sr->p11 && tr_p11slot_open(sr->rig, sr->cfg, sr->slot, &sr->p11, e) < 0)
            return -1;
        trace_connect(sr);
        if (tr_p11slot_connect(sr->p11, e) < 0)
            return -1;
        tr_p11slot_cardio(sr->p11, io);
        snprintf(sr->reader, sizeof sr->reader, "PKCS#11 \"%s\" (%s)", tr_p11slot_label(sr->p11), sr->cfg->p11.module);
        if (!sr->serial[0]) /* no serial expected: the reports and the journal name the one found */
            tr_strlcpy(sr->serial, tr_p11slot_serial(sr->p11), sizeof sr->serial);
        return 0;
    }
    if (sr->cfg->iface != TR_IFACE_SKF) {
        if (tr_slot_connect(sr->slot, e) < 0)
            return -1;
        tr_slot_cardio(sr->slot, io);
        tr_strlcpy(sr->reader, tr_slot_reader(sr->slot), sizeof sr->reader);
        return 0;
    }
    if (!sr->skf && tr_skfslot_open(sr->rig, sr->cfg, sr->slot, &sr->skf, e) < 0)
        return -1;
    trace_connect(sr);
    if (tr_skfslot_connect(sr->skf, e) < 0)
        return -1;
    tr_skfslot_cardio(sr->skf, io);
    snprintf(sr->reader, sizeof sr->reader, "SKF %s (%s)", tr_skfslot_device(sr->skf), sr->cfg->skf.library);
    if (!sr->serial[0])
        tr_strlcpy(sr->serial, tr_skfslot_serial(sr->skf), sizeof sr->serial);
    return 0;
}

/* ---- recovery from the journal ---------------------------------------------------------------------- */

/* The journal's candidates as recover.tsuite reads them: per PIN (user:
 * CAND, SO: SO_CAND) the N_ left to present, none refused, in the order
 * tr_journal_candidates gives (CAND2 = CAND1 when there is one; "" when
 * none), and whether each was presented before (its answer unknown). */
static int set_candidate_vars(tr_vars *v, const tr_journal_entry *x, tr_pin_ref ref, tr_err *e)
{
    const char *pin[2] = {"", ""};
    bool tried[2] = {false, false};
    size_t n = tr_journal_candidates(x, ref, pin, tried);
    if (n == 1) {
        pin[1] = pin[0];
        tried[1] = tried[0];
    }
    const char *pre = ref == TR_PIN_SO ? "SO_" : "";
    char name[6][32], count[8];
    snprintf(count, sizeof count, "%zu", n);
    snprintf(name[0], sizeof name[0], "N_%sCAND", pre);
    for (int k = 0; k < 2; k++) {
        snprintf(name[1 + k], sizeof name[1], "%sCAND%d_PIN", pre, k + 1);
        snprintf(name[3 + k], sizeof name[3], "%sCAND%d_TRIED", pre, k + 1);
    }
    const char *kv[][2] = {{name[0], count}, {name[1], pin[0]}, {name[2], pin[1]},
                           {name[3], tried[0] ? "1" : "0"}, {name[4], tried[1] ? "1" : "0"}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (tr_vars_set(v, kv[i][0], kv[i][1]) < 0)
            return tr_fail(e, TR_E_NOMEM, "out of memory");
    return 0;
}

/* JOURNALED_ANSWER: what this process saw of the command of the
 * journal's last record for the slot (a recovery right after a suite);
 * after a crash, or a restart of pcscd, nothing is known. */
static int set_pin_vars(tr_vars *v, const tr_journal_entry *x, int answer, tr_err *e)
{
    const char *said = answer == TR_JOURNALED_LANDED    ? "landed"
                       : answer == TR_JOURNALED_REFUSED ? "refused"
                                                        : "unknown";
    const char *kv[][2] = {{"JOURNAL_SERIAL", x->serial}, {"FACTORY_PIN", x->factory[TR_PIN_USER]},
                           {"FACTORY_SO_PIN", x->factory[TR_PIN_SO]}, {"JOURNALED_ANSWER", said}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (tr_vars_set(v, kv[i][0], kv[i][1]) < 0)
            return tr_fail(e, TR_E_NOMEM, "out of memory");
    return set_candidate_vars(v, x, TR_PIN_USER, e) < 0 ? -1 : set_candidate_vars(v, x, TR_PIN_SO, e);
}

/* What recovery's suite said, for the line that reports a token it could
 * not restore: the message its test ended with and its log lines (the PIN
 * info it found, what the token answered), PIN-masked by the interpreter. */
typedef struct {
    hook_ud hu; /* first: the common hooks take the pointer as a hook_ud */
    bool rows;  /* console progress as in a run */
    char msg[256];
    char log[320];
} recovery_ud;

/* A row's message without the "FILE.tsuite:LINE: " it starts with (the
 * reason stands alone on the recover line). */
static const char *without_where(const char *msg)
{
    const char *at = strstr(msg, ".tsuite:");
    if (!at)
        return msg;
    at += strlen(".tsuite:");
    while (isdigit((unsigned char)*at))
        at++;
    return !strncmp(at, ": ", 2) ? at + 2 : msg;
}

static void recovery_progress(void *ud, const char *test, tr_verdict v, const char *cls, const char *msg)
{
    recovery_ud *r = ud;
    if (v != TR_PASS)
        snprintf(r->msg, sizeof r->msg, "%s", msg && *msg ? without_where(msg) : cls ? cls : "");
    if (r->rows)
        hook_progress(ud, test, v, cls, msg);
}

static void recovery_log(void *ud, const char *test, const char *text)
{
    (void)test;
    recovery_ud *r = ud;
    if (!strncmp(text, "reset", 5) || !strncmp(text, "power-cycle", 11)) /* the interpreter's own */
        return;
    size_t used = strlen(r->log);
    if (used + 3 < sizeof r->log)
        snprintf(r->log + used, sizeof r->log - used, "%s%s", used ? "; " : "", text);
}

/* suites/lib/recover.tsuite on the slot's (connected) token. Returns 1
 * restored, 0 not (why says it, PINs never), -1 harness error. Its own
 * secret-changing commands are journaled like a run's (a crash inside
 * recovery leaves the next one the token's PIN among the candidates). The
 * journal sequence is closed only when the token was proven back at
 * factory state: a token that was not restored keeps its entry (a refused
 * candidate is marked, never presented again). */
static int recover_slot(slot_run *sr, const tr_cardio *io, bool rows, char *why, size_t cap, tr_err *e)
{
    run_ctx *rc = sr->rc;
    tr_journal_entry x;
    if (!tr_journal_is_open(rc->rs->journal, sr->cfg->name, &x))
        return 1;
    tr_vars *v = tr_vars_new(sr->vars);
    if (!v || set_pin_vars(v, &x, sr->journaled_answer, e) < 0) {
        tr_vars_free(v);
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    }
    recovery_ud ru = {.hu = {sr, NULL}, .rows = rows};
    tr_interp_hooks hooks;
    fill_hooks(&hooks, &ru.hu, false);
    hooks.ud = &ru;
    hooks.journal = hook_recovery_journal;
    hooks.progress = recovery_progress;
    hooks.log = recovery_log;
    tr_strlcpy(sr->current_suite, rc->recover_suite->name, sizeof sr->current_suite);
    tr_interp_env env = {.card = io, .lib = slot_lib(sr), .lib_iface = slot_lib_iface(sr), .vars = v, .reports = rc->rep, .who = &sr->who,
                         .allow_destructive = true,
                         .no_result_rows = !rows, .hooks = &hooks, .ops = sr->ops};
    tr_suite_outcome out;
    int rc_run = tr_interp_run(rc->recover_suite, &env, &out, e);
    tr_vars_free(v);
    if (rc_run < 0)
        return -1;
    bool ok = out.counts[TR_PASS] == 1;
    bool other = out.nclasses && !strcmp(out.classes[0], "recovery.other-token");
    if (ok)
        snprintf(why, cap, "restored to its factory PINs");
    else
        snprintf(why, cap, "not restored: %s%s%s%s%s (the journal entry is kept)",
                 other ? "another token is in the slot: " : out.token_lost ? "the token was lost: " : "", ru.msg,
                 ru.log[0] ? " [" : "", ru.log, ru.log[0] ? "]" : "");
    if (ok && tr_journal_end(rc->rs->journal, sr->cfg->name, sr->serial, e) < 0)
        return -1;
    return ok ? 1 : 0;
}

/* ---- one slot's job ---------------------------------------------------------------------------------- */

static const char *cancel_class(int why)
{
    return why == TR_CANCEL_TIMEOUT ? "timeout" : "cancelled";
}

/* Recovery inside the worker, on its own connection: before the suites when
 * an earlier run left the token mid-way, and after them when this run was
 * stopped part-way. */
static void recover_in_worker(slot_run *sr, const tr_cardio *io, bool rows, const char *when)
{
    run_ctx *rc = sr->rc;
    if (!rc->rs->journal || !tr_journal_is_open(rc->rs->journal, sr->cfg->name, NULL))
        return;
    char why[768];
    tr_err e;
    tr_err_clear(&e);
    int r = recover_slot(sr, io, rows, why, sizeof why, &e);
    if (r < 0)
        say(rc, "[%s] recovery %s: %s", sr->cfg->name, when, e.msg);
    else
        say(rc, "[%s] %s (journal, %s)", sr->cfg->name, why, when);
}

/* ---- pcscd went away -------------------------------------------------------------------------------- */

#define MAX_SERVICE_RESTARTS 3
#define MAX_SLOT_RESUMES 6

int tr_rig_restart_pcscd(const tr_rig_cfg *cfg, tr_err *e)
{
    if (!cfg->pcscd_restart[0])
        return tr_fail(e, TR_E_SERVICE, "%s names no pcscd_restart command to restart pcscd with", cfg->path);
    unsigned limit = cfg->defaults.power.timeout_ms ? cfg->defaults.power.timeout_ms : TR_POWER_TIMEOUT_MS;
    const tr_rigcmd_var vars[] = {{"TOKENRIG_RIG", cfg->name}, {"TOKENRIG_RIG_FILE", cfg->path}};
    if (tr_rigcmd_run("pcscd_restart", cfg->pcscd_restart, vars, sizeof vars / sizeof vars[0], limit, e) < 0)
        return -1;
    tr_pcsc *p;
    uint64_t deadline = tr_now_ns() + (uint64_t)cfg->ready_timeout_ms * 1000000u;
    while (tr_pcsc_open(&p, e) < 0) {
        if (tr_now_ns() > deadline)
            return tr_fail(e, TR_E_SERVICE, "pcscd did not answer within %u ms (ready_timeout_ms) after "
                           "pcscd_restart (%s) exited 0", cfg->ready_timeout_ms, cfg->pcscd_restart);
        tr_sleep_ms(50); /* a daemon's socket appearing has no event to wait on */
    }
    tr_pcsc_close(p);
    return 0;
}

/* A pcscd that died: a system one (a real bench) is restarted by the rig's
 * pcscd_restart, if it names one. Whatever goes wrong, the service is
 * lost (rig.pcsc-lost). */
static int restart_system_pcscd(run_ctx *rc, tr_err *e)
{
    if (tr_rig_restart_pcscd(&rc->rs->cfg, e) == 0)
        return 0;
    e->code = TR_E_SERVICE;
    tr_err_prefix(e, "pcscd went away");
    return -1;
}

/* The first worker to see the service gone restarts it; the ones that saw
 * the same daemon die wait and find it done. */
static int restart_service(slot_run *sr, tr_err *e)
{
    run_ctx *rc = sr->rc;
    pthread_mutex_lock(&rc->service_lock);
    int r = 0;
    if (sr->service_gen == rc->service_gen && tr_pcsc_service_alive()) {
        /* the daemon is up: only this slot's connection was refused */
        say(rc, "tokenrig: slot %s: pcscd refused its connection: reconnecting", sr->cfg->name);
    } else if (sr->service_gen == rc->service_gen) {
        if (rc->service_deaths >= MAX_SERVICE_RESTARTS) {
            r = tr_fail(e, TR_E_SERVICE, "pcscd went away again after %u restarts: giving up", rc->service_deaths);
        } else {
            say(rc, "tokenrig: pcscd went away (slot %s saw it): restarting it", sr->cfg->name);
            /* from now on every connection to the old daemon is known dead,
             * even when a call on it fails after the new one is up */
            tr_pcsc_service_restarted();
            r = rc->rs->vrig ? tr_vrig_restart_pcscd(rc->rs->vrig, &rc->rs->cfg,
                                                    rc->rs->cfg.ready_timeout_ms + RIG_UP_TIMEOUT_MS, e)
                             : restart_system_pcscd(rc, e);
            if (r == 0) {
                rc->service_gen++;
                rc->service_deaths++;
                rc->restarted_ns = tr_now_ns();
                say(rc, "tokenrig: pcscd is back (restart %u); the slots resume where they were", rc->service_gen);
            }
        }
    }
    sr->service_gen = rc->service_gen;
    pthread_mutex_unlock(&rc->service_lock);
    return r;
}

/* pcscd went away under the slot: its switched token on again, the service
 * back (restarted by this slot, or found restarted by another), the old
 * handles dropped, a fresh connection into io. */
static int reconnect_after_service(slot_run *sr, tr_cardio *io, tr_err *e)
{
    /* a restart for another slot's token (pcscd_restart after a power-on)
     * is progress, not a connection lost again */
    if (sr->service_resumes >= MAX_SLOT_RESUMES + atomic_load(&sr->rc->token_restarts))
        return tr_fail(e, TR_E_SERVICE, "the slot lost its PC/SC connection %u times: giving up", sr->service_resumes);
    /* a token the old daemon's last power cycle left off comes back on,
     * first: its switch needs no PC/SC, and a token left on can be restored
     * later should the service not come back (the rig's own pcscd:
     * tr_vrig_restart_pcscd does it) */
    tr_slot_type type = sr->cfg->type;
    if (!sr->rc->rs->vrig && (type == TR_SLOT_COMMAND || type == TR_SLOT_USB_HUB) && tr_slot_power(sr->slot, true, e) < 0)
        return -1;
    if (restart_service(sr, e) < 0)
        return -1;
    tr_slot_drop_service(sr->slot);
    return slot_connect(sr, io, e);
}

/* After the restart: a fresh connection, the token back in factory state
 * from the journal (the interrupted test may have left it anywhere), and
 * the report says what happened. */
static int resume_after_service(slot_run *sr, const tr_cardio *io, const char *suite, const char *test, tr_err *e)
{
    tr_cardio fresh;
    if (reconnect_after_service(sr, &fresh, e) < 0)
        return -1;
    recover_in_worker(sr, io, true, "after the pcscd restart");
    sr->service_resumes++;
    char what[300];
    snprintf(what, sizeof what, "%u time(s); last resumed at %s / %s", sr->service_resumes, suite, test);
    slot_property(sr, "resumed after a pcscd restart", what);
    say(sr->rc, "[%s] resumed at %s / %s after the pcscd restart", sr->cfg->name, suite, test);
    return 0;
}

/* A restart for a token not back after power-on, as the report keeps it:
 * a trace row where the slot was (the command, the wait's error, ok or the
 * failure), and the slot's JUnit property. */
static void record_token_restart(slot_run *sr, const char *why, uint64_t t0, int r, const tr_err *e)
{
    char cmd[600], what[400];
    snprintf(cmd, sizeof cmd, "pcscd_restart (%s)", sr->rig->pcscd_restart);
    tr_trace_row row = {.who = &sr->who, .suite = sr->current_suite, .test = sr->current_test, .file = "",
                        .command = cmd, .response = why, .sw = r == 0 ? "ok" : e->msg,
                        .latency_us = (tr_now_ns() - t0) / 1000u};
    tr_err we;
    if (sr->rc->rep && tr_reports_trace(sr->rc->rep, &row, &we) < 0)
        say(sr->rc, "[%s] %s", sr->cfg->name, we.msg);
    snprintf(what, sizeof what, "%u time(s); last at %s / %s%s", sr->token_restarts, sr->current_suite,
             sr->current_test, r == 0 ? "" : " (it failed)");
    slot_property(sr, "pcscd restarted for a token not back after power-on", what);
}

/* A token not back after a power-on on a bench whose rig names
 * pcscd_restart (rig.h, tr_slot_on_not_back): the command, once for this
 * power cycle — unless a restart since this power-on began (another slot's)
 * already did it — and the other slots reconnect and resume as after a
 * pcscd that died. Said on stderr, in trace.csv and the JUnit properties.
 * A command that fails or hangs is a rig error naming it (rig.pcsc-lost
 * when the service is gone too). */
static int pcscd_restart_for_token(void *ud, uint64_t since_ns, const char *why, tr_err *e)
{
    slot_run *sr = ud;
    run_ctx *rc = sr->rc;
    uint64_t t0 = tr_now_ns();
    pthread_mutex_lock(&rc->service_lock);
    int r = 0;
    bool ran = rc->restarted_ns < since_ns;
    unsigned gen = rc->service_gen;
    if (ran) {
        say(rc, "[%s] the token is not back after power-on (%s): running pcscd_restart (%s)", sr->cfg->name, why,
            rc->rs->cfg.pcscd_restart);
        tr_pcsc_service_restarted(); /* every connection to the old daemon is dead from now on */
        r = tr_rig_restart_pcscd(&rc->rs->cfg, e);
        if (r == 0) {
            gen = ++rc->service_gen;
            atomic_fetch_add(&rc->token_restarts, 1);
            rc->restarted_ns = tr_now_ns();
        } else if (!tr_pcsc_service_alive()) {
            e->code = TR_E_SERVICE;
        }
    }
    sr->service_gen = gen; /* this slot reconnects now, to the daemon that is there */
    pthread_mutex_unlock(&rc->service_lock);
    if (!ran) {
        say(rc, "[%s] the token is not back after power-on: pcscd was restarted since; waiting again", sr->cfg->name);
        return 0;
    }
    sr->token_restarts++;
    record_token_restart(sr, why, t0, r, e);
    if (r < 0)
        tr_err_prefix(e, "the token did not come back after power-on (%s), and then", why);
    else
        say(rc, "[%s] pcscd is back (restart %u): waiting for the token again", sr->cfg->name, gen);
    return r;
}

/* Suites in order; returns the slot's status (0/1/2). */
static int run_suites_on_slot(slot_run *sr, tr_batch_worker *w, const tr_cardio *io)
{
    run_ctx *rc = sr->rc;
    hook_ud hu = {sr, w};
    tr_interp_hooks hooks;
    fill_hooks(&hooks, &hu, rc->o->script);
    char no_power[TR_NAME_MAX + 64];
    snprintf(no_power, sizeof no_power, "slot %s has no power switch (type none)", sr->cfg->name);
    tr_interp_env env = {.card = io, .lib = slot_lib(sr), .lib_iface = slot_lib_iface(sr), .vars = sr->vars, .reports = rc->rep, .who = &sr->who,
                         .no_power = sr->cfg->type == TR_SLOT_NONE ? no_power : NULL,
                         .allow_destructive = rc->o->allow_destructive, .cancel = &w->cancel, .hooks = &hooks,
                         .ops = sr->ops};
    int status = 0;
    tr_err e;
    for (size_t i = 0; i < rc->o->nsuites; i++) {
        int why = atomic_load(&w->cancel);
        if (why) {
            not_run_rows(sr, i, 0, cancel_class(why),
                         why == TR_CANCEL_TIMEOUT ? "not run: the slot timed out" : "not run: the run was stopped");
            return 2;
        }
        const tr_suite *s = rc->o->suites[i];
        tr_strlcpy(sr->current_suite, s->name, sizeof sr->current_suite);
        sr->suite_now = s;
        tr_suite_outcome out;
        int ran = tr_interp_run(s, &env, &out, &e);
        env.replay_until = 0;
        if (ran < 0) {
            char msg[TR_ERR_MSG_MAX];
            error_row(sr, s->name, "(harness)", tr_code_name(e.code), tr_err_format(&e, msg, sizeof msg));
            status = 2;
            continue;
        }
        if (out.service_lost) { /* resume this suite at the interrupted test */
            const char *test = out.resume_test < s->ntests ? s->tests[out.resume_test].name : "";
            if (resume_after_service(sr, io, s->name, test, &e) < 0) {
                char msg[TR_ERR_MSG_MAX];
                snprintf(msg, sizeof msg, "%s; then: %s", out.service_msg, e.msg);
                not_run_rows(sr, i, out.resume_test, "rig.pcsc-lost", msg);
                return 2;
            }
            env.replay_until = out.resume_test;
            i--;
            continue;
        }
        sr->total.apdus += out.apdus;
        for (int v = 0; v < 4; v++)
            sr->total.counts[v] += out.counts[v];
        status = out.counts[TR_FAIL] ? 1 : out.counts[TR_ERROR] && status == 0 ? 2 : status;
        /* a suite that ran to its end closes its journal sequence: its own
         * tests judged the state it left. One that failed part-way (a
         * defective token) may have left the PINs anywhere: the journal gives
         * them back (no rows: the suite's verdicts stand; a token that cannot
         * be restored is listed as not in factory state) */
        bool open = rc->rs->journal && tr_journal_is_open(rc->rs->journal, sr->cfg->name, NULL);
        if (open && !out.cancelled && !out.token_lost && (out.counts[TR_FAIL] || out.counts[TR_ERROR]))
            recover_in_worker(sr, io, false, "after a failed suite");
        else if (open && !out.cancelled && !out.token_lost &&
                 tr_journal_end(rc->rs->journal, sr->cfg->name, sr->serial, &e) < 0) {
            error_row(sr, s->name, "(journal)", tr_code_name(e.code), e.msg);
            status = 2;
        }
        if (out.token_lost) {
            char why_msg[160];
            snprintf(why_msg, sizeof why_msg, "not run: the token was lost in suite %s (%s)", s->name, out.lost_code);
            not_run_rows(sr, i + 1, 0, out.lost_code, why_msg);
            return status ? status : 2;
        }
    }
    return status;
}

/* Whether the slot's destructive tests ran (provenance). */
static void record_destructive(slot_run *sr)
{
    char value[32], source[160];
    snprintf(value, sizeof value, "%u", sr->destructive_ran);
    snprintf(source, sizeof source, "of %u destructive test(s) in the suites run; --allow-destructive %s",
             sr->destructive_seen, sr->rc->o->allow_destructive ? "given" : "not given");
    tr_err e;
    if (sr->rc->rep && tr_prov_row(sr->rc->rep, &sr->who, "destructive_tests_run", value, source, &e) < 0)
        say(sr->rc, "[%s] %s", sr->cfg->name, e.msg);
}

static int slot_job(void *ud, tr_batch_worker *w)
{
    run_ctx *rc = ud;
    slot_run *sr = &rc->slots[rc->batch[w->index]];
    tr_err e;
    tr_err_clear(&e);
    tr_batch_where(w, "connect", "");
    tr_cardio io;
    int connected = slot_connect(sr, &io, &e);
    if (connected < 0 && e.code == TR_E_SERVICE) { /* pcscd went away before the slot reached its token */
        sr->service_resumes++;
        say(rc, "[%s] pcscd went away while the slot connected: reconnecting", sr->cfg->name);
        connected = reconnect_after_service(sr, &io, &e);
    }
    if (connected < 0) {
        char msg[TR_ERR_MSG_MAX];
        tr_err_format(&e, msg, sizeof msg);
        not_run_rows(sr, 0, 0, e.code == TR_E_TIMEOUT ? "enum.no-card" : tr_code_name(e.code), msg);
        return 2;
    }
    record_slot_props(sr);
    tr_batch_where(w, "recovery", "journaled PINs restored");
    recover_in_worker(sr, &io, true, "left by an earlier run");
    int status = run_suites_on_slot(sr, w, &io);
    if (atomic_load(&w->cancel)) {
        tr_batch_where(w, "recovery", "journaled PINs restored");
        recover_in_worker(sr, &io, true, "the run was stopped");
    }
    if (sr->power_level[0])
        slot_property(sr, "power-off verified to", sr->power_level);
    record_destructive(sr);
    return status;
}

static void slot_abandoned(void *ud, tr_batch_worker *w, tr_worker_state why, const char *message)
{
    run_ctx *rc = ud;
    slot_run *sr = &rc->slots[rc->batch[w->index]];
    char where[256];
    pthread_mutex_lock(&w->lock);
    tr_strlcpy(where, w->where, sizeof where);
    pthread_mutex_unlock(&w->lock);
    char suite[128] = "", *test = strstr(where, " / ");
    if (test) {
        *test = '\0';
        test += 3;
        tr_strlcpy(suite, where, sizeof suite);
    }
    const char *cls = why == TR_WORKER_MUTE ? "io.mute" : why == TR_WORKER_TIMEOUT ? "timeout" : "cancelled";
    error_row(sr, suite, test && *test ? test : "(slot)", cls, message);
    /* and the tests after it, which the abandoned worker will never run */
    for (size_t i = 0; i < rc->o->nsuites; i++) {
        const tr_suite *s = rc->o->suites[i];
        if (strcmp(s->name, suite))
            continue;
        size_t t = 0;
        while (t < s->ntests && (!test || strcmp(s->tests[t].name, test)))
            t++;
        char why_not[160];
        snprintf(why_not, sizeof why_not, "not run: the token was lost earlier (%s)", cls);
        not_run_rows(sr, i, t < s->ntests ? t + 1 : 0, cls, why_not);
        break;
    }
}

/* ---- preparing and closing a run ---------------------------------------------------------------------- */

static bool slot_selected(const char *list, const char *name)
{
    if (!list)
        return true;
    size_t n = strlen(name);
    for (const char *p = list; (p = strstr(p, name)); p += n)
        if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
            return true;
    return false;
}

/* Every name in the comma-separated list given to --opt is one of
 * names[0..n): a typo must not quietly leave a token out. The error says
 * `'X' not_in (label: the names)`. */
static int check_name_list(const char *opt, const char *list, const char *const *names, size_t n, const char *not_in,
                           const char *label, tr_err *e)
{
    for (const char *p = list; p;) {
        size_t len = strcspn(p, ",");
        size_t k = 0;
        while (k < n && (strlen(names[k]) != len || strncmp(names[k], p, len)))
            k++;
        if (len == 0 || k == n) {
            char known[512] = "";
            for (size_t i = 0, used = 0; i < n && used < sizeof known; i++)
                used += (size_t)snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "", names[i]);
            if (len == 0)
                return tr_fail(e, TR_E_USAGE, "--%s '%s': an empty slot name (%s: %s)", opt, list, label,
                               n ? known : "none");
            return tr_fail(e, TR_E_USAGE, "--%s %s: '%.*s' %s (%s: %s)", opt, list, (int)len, p, not_in, label,
                           n ? known : "none");
        }
        p = p[len] ? p + len + 1 : NULL;
    }
    return 0;
}

/* Every name in --slots is a slot of the rig. */
static int check_slot_list(const tr_rig_cfg *rig, const char *list, tr_err *e)
{
    const char **names = malloc((rig->nslots ? rig->nslots : 1) * sizeof *names);
    if (!names)
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < rig->nslots; i++)
        names[i] = rig->slots[i].name;
    char not_in[TR_PATH_MAX + 32];
    snprintf(not_in, sizeof not_in, "is not a slot of %s", rig->path);
    int r = check_name_list("slots", list, names, rig->nslots, not_in, "its slots", e);
    free(names);
    return r;
}

/* The token operations of interface iface, loaded on first use. */
static int ops_for(run_ctx *rc, const char *iface, const tr_suite **out, tr_err *e)
{
    for (size_t k = 0; k < rc->nops_lib; k++)
        if (!strcmp(rc->ops_iface[k], iface))
            return *out = rc->ops_lib[k], 0;
    if (rc->nops_lib == sizeof rc->ops_lib / sizeof rc->ops_lib[0])
        return tr_fail(e, TR_E_CONFIG, "interface %s: at most %zu interfaces in one run", iface, rc->nops_lib);
    if (load_ops_library(iface, &rc->ops_lib[rc->nops_lib], e) < 0)
        return -1;
    tr_strlcpy(rc->ops_iface[rc->nops_lib], iface, sizeof rc->ops_iface[0]);
    *out = rc->ops_lib[rc->nops_lib++];
    return 0;
}

static int prepare_slots(run_ctx *rc, tr_err *e)
{
    const tr_rig_cfg *rig = &rc->rs->cfg;
    if (rc->o->slots && check_slot_list(rig, rc->o->slots, e) < 0)
        return -1;
    rc->slots = calloc(rig->nslots ? rig->nslots : 1, sizeof *rc->slots);
    rc->batch = calloc(rig->nslots ? rig->nslots : 1, sizeof *rc->batch);
    if (!rc->slots || !rc->batch)
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < rig->nslots; i++) {
        const tr_slot_cfg *c = &rig->slots[i];
        if (!slot_selected(rc->o->slots, c->name))
            continue;
        rc->batch[rc->nbatch++] = rc->nslots;
        slot_run *sr = &rc->slots[rc->nslots++];
        sr->rc = rc;
        sr->rig = rig;
        sr->cfg = c;
        if (tr_slot_profile_load(rig, c, rc->o->profile, &sr->profile, e) < 0 ||
            slot_vars(sr, rig, rc->rs->vrig, rc->o->manifest, rc->o->defs, e) < 0 ||
            ops_for(rc, slot_interface(c), &sr->ops, e) < 0 || check_suite_vars(sr, rc->o, e) < 0 ||
            tr_slot_open(rig, c, rc->rs->vrig, &sr->slot, e) < 0)
            return -1;
        if (!rc->rs->vrig && rig->pcscd_restart[0])
            tr_slot_on_not_back(sr->slot, pcscd_restart_for_token, sr);
        const char *reader = c->type == TR_SLOT_VIRTUAL ? tr_vrig_reader(rc->rs->vrig, c->name) : c->reader;
        tr_strlcpy(sr->reader, reader ? reader : "", sizeof sr->reader);
        sr->who = (tr_slot_id){.run_id = rc->run_id, .rig = rig->name, .slot = c->name, .reader = sr->reader,
                               .serial = sr->serial, .role = sr->role, .profile = sr->profile.name};
    }
    if (rc->nslots == 0)
        return tr_fail(e, TR_E_USAGE, "--slots %s matches no slot of %s", rc->o->slots, rig->path);
    return 0;
}

static void make_run_id(char *out, size_t cap)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(out, cap, "%s-%d", stamp, (int)getpid());
}

static int open_reports(run_ctx *rc, tr_err *e)
{
    char dir[TR_PATH_MAX];
    if (rc->o->out_dir)
        tr_strlcpy(dir, rc->o->out_dir, sizeof dir);
    else
        snprintf(dir, sizeof dir, "reports/%s", rc->run_id);
    rc->rep = tr_reports_open(dir, e);
    if (!rc->rep)
        return -1;
    if (!rc->o->out_dir) { /* reports/latest -> <run-id> */
        unlink("reports/latest");
        if (symlink(rc->run_id, "reports/latest") < 0 && errno != EEXIST)
            fprintf(stderr, "tokenrig: note: cannot update reports/latest: %s\n", strerror(errno));
    }
    return 0;
}

/* What the run's verdicts are measured against (provenance.csv and the
 * JUnit properties): the run-wide facts, every file that decides a verdict
 * by its SHA-256 (rig, suites, interface libraries, recovery, manifest),
 * then per slot its profile and effective variables with their source.
 * -1 with e (the file and the reason) at the first row not written: no
 * token is touched yet, and a run that cannot record what its verdicts
 * mean stops there (exit 2). */
static int record_provenance(run_ctx *rc, tr_err *e)
{
    tr_reports *r = rc->rep;
    if (tr_prov_run_facts(r, rc->o->command_line, rc->run_id, rc->rs->cfg.name, rc->rs->cfg.path, e) < 0 ||
        tr_prov_row(r, NULL, "allow_destructive", rc->o->allow_destructive ? "yes" : "no",
                    rc->o->allow_destructive ? "--allow-destructive" : "default (no --allow-destructive)", e) < 0)
        return -1;
    char what[200];
    for (size_t i = 0; i < rc->o->nsuites; i++) {
        snprintf(what, sizeof what, "suite.%s", rc->o->suites[i]->name);
        if (tr_prov_file(r, NULL, what, rc->o->suites[i]->file, e) < 0)
            return -1;
    }
    for (size_t k = 0; k < rc->nops_lib; k++) {
        snprintf(what, sizeof what, "ops.%s", rc->ops_iface[k]);
        if (tr_prov_file(r, NULL, what, rc->ops_lib[k]->file, e) < 0)
            return -1;
    }
    if (tr_prov_file(r, NULL, "recover", rc->recover_suite->file, e) < 0 ||
        (rc->o->manifest && tr_prov_file(r, NULL, "manifest", rc->o->manifest->path, e) < 0))
        return -1;
    for (size_t i = 0; i < rc->nslots; i++) {
        slot_run *sr = &rc->slots[i];
        if (tr_prov_file(r, &sr->who, "profile", sr->profile.path, e) < 0 || tr_prov_vars(r, &sr->who, sr->vars, e) < 0)
            return -1;
    }
    return 0;
}

static int load_recover_suite(run_ctx *rc, tr_err *e)
{
    char path[TR_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/suites/lib/recover.tsuite", tr_data_dir());
    return tr_suite_load(path, &rc->recover_suite, e);
}

static int init_run(run_ctx *rc, tr_rig_session *rs, const tr_run_opts *o, tr_err *e)
{
    memset(rc, 0, sizeof *rc);
    rc->o = o;
    rc->rs = rs;
    rc->tty = isatty(2);
    pthread_mutex_init(&rc->print_lock, NULL);
    pthread_mutex_init(&rc->service_lock, NULL);
    if (o->run_id)
        tr_strlcpy(rc->run_id, o->run_id, sizeof rc->run_id);
    else
        make_run_id(rc->run_id, sizeof rc->run_id);
    if (tr_rig_session_journal(rs, e) < 0 || load_recover_suite(rc, e) < 0 || prepare_slots(rc, e) < 0)
        return -1;
    return 0;
}

static void free_run(run_ctx *rc)
{
    for (size_t i = 0; i < rc->nslots; i++)
        slot_free(&rc->slots[i]);
    free(rc->slots);
    free(rc->batch);
    tr_suite_free(rc->recover_suite);
    for (size_t k = 0; k < rc->nops_lib; k++)
        tr_suite_free(rc->ops_lib[k]);
    pthread_mutex_destroy(&rc->print_lock);
    pthread_mutex_destroy(&rc->service_lock);
}

/* Is code one of the ";"-separated codes of list? */
static bool has_code(const char *list, const char *code)
{
    size_t n = strlen(code);
    for (const char *p = list; (p = strstr(p, code)); p += n)
        if ((p == list || p[-1] == ';') && (p[n] == ';' || p[n] == '\0'))
            return true;
    return false;
}

/* Exit status from the token verdicts: 1 any token failed, 2 rig errors
 * or INCOMPLETE tokens only (not certified, though no defect was shown),
 * 0 all passed. A `config` error anywhere (a variable the run did not give)
 * is 2 whatever else happened: that run's verdicts are not to be trusted.
 * *incomplete gets the number of INCOMPLETE tokens. */
static int batch_status(run_ctx *rc, size_t *incomplete, tr_err *e)
{
    size_t n;
    *incomplete = 0;
    tr_token_summary *s = tr_reports_token_summary(rc->rep, &n, e);
    if (!s)
        return 2;
    int status = n ? 0 : 2;
    bool config = false;
    for (size_t i = 0; i < n; i++) {
        config |= has_code(s[i].classifications, "config");
        *incomplete += s[i].verdict == TR_INCOMPLETE;
        if (s[i].verdict == TR_FAIL)
            status = 1;
        else if (s[i].verdict != TR_PASS && status == 0)
            status = 2;
    }
    tr_reports_token_summary_free(s, n);
    return config ? 2 : status;
}

/* Tokens the run leaves with an open journal sequence: listed with the
 * command that restores them. */
static size_t report_not_factory(run_ctx *rc, FILE *out)
{
    size_t n = 0;
    for (size_t i = 0; i < rc->nslots; i++) {
        slot_run *sr = &rc->slots[i];
        if (!rc->rs->journal || !tr_journal_is_open(rc->rs->journal, sr->cfg->name, NULL))
            continue;
        /* a virtual rig without nv_dir that this run brought up goes down
         * with its tokens' memory: nothing to restore */
        bool gone = rc->rs->owns_vrig && !tr_vrig_nv_dir(rc->rs->vrig)[0];
        if (n++ == 0)
            fprintf(out, "not left in factory state (journal %s):\n", tr_journal_path(rc->rs->journal));
        if (gone)
            fprintf(out, "  %-8s %-18s a virtual token without nv_dir: it goes down with the rig\n", sr->cfg->name,
                    sr->serial[0] ? sr->serial : "-");
        else
            fprintf(out, "  %-8s %-18s restore: tokenrig recover --rig %s\n", sr->cfg->name,
                    sr->serial[0] ? sr->serial : "-", rc->rs->cfg.path);
    }
    return n;
}

/* report.html from the files just written (htmlreport.h). A page that
 * cannot be written is a report file that could not be written: said on
 * stderr, the run exits 2. */
static bool write_html(run_ctx *rc)
{
    tr_err he;
    tr_html_report_opts ho = {.written_by = "tokenrig run"};
    /* the yield history from the run's database (every host's runs), as
     * tokenrig report reads it; one that does not open: the run directories */
    tr_db *db = NULL;
    tr_yield_source src;
    if (rc->dbw && rc->o->db && tr_db_open(rc->o->db, false, &db, &he) == 0 &&
        tr_yield_source_db(db, tr_dbrun_label(rc->dbw), rc->run_id, &src, &he) == 0)
        ho.history = &src;
    int w = tr_html_report_write(tr_reports_dir(rc->rep), NULL, &ho, &he);
    if (ho.history)
        src.close(&src);
    tr_db_close(db);
    if (w == 0)
        return true;
    fflush(stdout);
    fprintf(stderr, "tokenrig: report files incomplete: report.html: %s\n", he.msg);
    return false;
}

/* junit.xml, summary.csv and the CSVs synced to disk, then the verdict
 * table and yield on stdout (not for script) whatever happened to the
 * files, then the run's first write failure on stderr. Returns 0 when
 * every report file is complete, else -1 (the run exits 2). */
static int close_run_files(run_ctx *rc)
{
    /* each failure is kept by the reports: tr_reports_sync returns the first */
    tr_err we, pe;
    int junit = tr_reports_write_junit(rc->rep, &we);
    int summary = tr_reports_write_summary(rc->rep, &we);
    summary |= tr_reports_write_cycle_summary(rc->rep, &we);
    int files = tr_reports_sync(rc->rep, &we);
    if (!rc->o->script && tr_reports_print_summary(rc->rep, stdout, &pe) < 0)
        fprintf(stderr, "tokenrig: %s\n", pe.msg);
    if (junit | summary | files) {
        fflush(stdout);
        fprintf(stderr, "tokenrig: report files incomplete: %s\n", we.msg);
        return -1;
    }
    return 0;
}

/* The run's end into the database with its exit status (2 when a row
 * could not be written there). A run that abandoned a worker keeps the
 * writer allocated: the worker may still call it (it does nothing then)
 * and the process _exits next. */
static void close_db(run_ctx *rc, tr_run_result *res, bool abandoned)
{
    if (!rc->dbw)
        return;
    tr_err de;
    int status = tr_dbrun_failed(rc->dbw, NULL) ? 2 : res->status;
    tr_strlcpy(res->db, tr_dbrun_label(rc->dbw), sizeof res->db);
    tr_strlcpy(res->batch, tr_dbrun_batch(rc->dbw), sizeof res->batch);
    if (tr_dbrun_end(rc->dbw, status, &de) < 0) {
        fflush(stdout);
        fprintf(stderr, "tokenrig: database incomplete: %s\n", de.msg);
        res->db_failed = true;
        res->status = 2;
    }
    if (!abandoned)
        tr_dbrun_free(rc->dbw);
    rc->dbw = NULL;
}

static void finish_reports(run_ctx *rc, tr_run_result *res)
{
    tr_err je;
    res->write_failed = close_run_files(rc) < 0;
    if (!rc->o->script && !res->write_failed) {
        res->html = write_html(rc);
        res->write_failed = !res->html;
    } else if (!rc->o->script) { /* a page of incomplete files would not say what is missing */
        fprintf(stderr, "tokenrig: report.html not written: the report files are incomplete\n");
    }
    size_t incomplete = 0;
    res->status = res->write_failed ? 2 : batch_status(rc, &incomplete, &je);
    tr_strlcpy(res->run_id, rc->run_id, sizeof res->run_id);
    if (incomplete)
        fprintf(stderr, "tokenrig: %zu token(s) INCOMPLETE: the run left out tests it was asked for (not-run.* in "
                        "results.csv; the verdict table says which): not certified\n", incomplete);
    res->not_factory = report_not_factory(rc, rc->o->script ? stderr : stdout);
    if (res->not_factory)
        report_not_factory(rc, stderr);
    tr_strlcpy(res->dir, tr_reports_dir(rc->rep), sizeof res->dir);
    res->apdus = rc->slots[0].total.apdus;
    memcpy(res->counts, rc->slots[0].total.counts, sizeof res->counts);
}

/* The workers of one process's batch (rc->batch), one per slot. */
typedef struct {
    tr_slot **slots;
    tr_batch_worker *ws;
} worker_set;

/* Run the batch's workers until each is done or abandoned. An abandoned
 * worker still writes its record: set is freed (worker_set_free) only when
 * none was. */
static int run_workers(run_ctx *rc, worker_set *set, tr_batch_result *br, tr_err *e)
{
    memset(br, 0, sizeof *br);
    set->slots = calloc(rc->nbatch ? rc->nbatch : 1, sizeof *set->slots);
    set->ws = calloc(rc->nbatch ? rc->nbatch : 1, sizeof *set->ws);
    if (!set->slots || !set->ws) {
        free(set->slots);
        free(set->ws);
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < rc->nbatch; i++)
        set->slots[i] = rc->slots[rc->batch[i]].slot;
    tr_batch_opts bo = {.apdu_timeout_ms = rc->rs->cfg.apdu_timeout_ms,
                        .slot_timeout_ms = rc->o->slot_timeout_s * 1000u,
                        .job = slot_job, .abandon = slot_abandoned, .ud = rc};
    tr_batch_run(set->slots, rc->nbatch, set->ws, &bo, br, e);
    return 0;
}

static bool abandoned(const tr_batch_result *br)
{
    return br->mute || br->timeout || br->cancelled;
}

/* The end of the batch: the journal keeps only what is still open (closed
 * sequences are history nobody needs), the report files, the verdicts. */
static void end_batch(run_ctx *rc, tr_run_result *res, bool interrupted)
{
    tr_err je;
    if (tr_journal_compact(rc->rs->journal, &je) < 0)
        fprintf(stderr, "tokenrig: %s\n", je.msg);
    finish_reports(rc, res);
    res->interrupted = interrupted;
    if (interrupted) {
        fprintf(stderr, "tokenrig: interrupted; finished rows are in %s\n", tr_reports_dir(rc->rep));
        res->status = 2;
    }
}

static int run_groups(run_ctx *rc, tr_run_result *res, tr_err *e);
static size_t plan_groups(run_ctx *rc, tr_err *e);

static int run_batch(run_ctx *rc, tr_run_result *res, tr_err *e)
{
    size_t groups = plan_groups(rc, e);
    if (groups == 0)
        return -1;
    if (groups > 1)
        return run_groups(rc, res, e);
    worker_set set;
    tr_batch_result br;
    if (run_workers(rc, &set, &br, e) < 0)
        return -1;
    end_batch(rc, res, br.interrupted);
    close_db(rc, res, abandoned(&br));
    /* A mute worker is still blocked in SCardTransmit and wakes up when the
     * rig goes down: it must find everything it uses still allocated, and
     * the process must end before it gets far. */
    if (abandoned(&br)) {
        tr_reports_freeze(rc->rep);
        fflush(stdout);
        fflush(stderr);
        session_close_for_exit(rc->rs);
        _exit(res->status);
    }
    free(set.slots);
    free(set.ws);
    return 0;
}

/* ---- a virtual rig of more than 16 slots: one process per pcscd -------------------------------- */

/* How many pcscds the run's slots sit behind (0 on error). One — any rig
 * of up to 16 slots, or --slots within one group of a bigger one — and
 * this process talks to it; more: run_groups. */
static size_t plan_groups(run_ctx *rc, tr_err *e)
{
    tr_vrig *v = rc->rs->vrig;
    if (!v || tr_vrig_groups(v) < 2)
        return 1;
    bool seen[TR_VRIG_MAX_GROUPS] = {false};
    size_t n = 0, last = 0;
    for (size_t i = 0; i < rc->nslots; i++) {
        int g = tr_vrig_slot_group(v, rc->slots[i].cfg->name);
        if (g >= 0 && g < TR_VRIG_MAX_GROUPS && !seen[g]) {
            seen[g] = true;
            n++;
            last = (size_t)g;
        }
    }
    if (n == 1 && tr_vrig_use_group(v, last, e) < 0)
        return 0;
    return n ? n : 1;
}

/* One child process per pcscd group. */
typedef struct {
    size_t group;
    pid_t pid;
    int fd;     /* its report rows; -1 once they ended */
} group_proc;

/* In the child of group g (never returns): talk to the group's pcscd, run
 * its slots' workers as a run of one pcscd does, every report row to the
 * parent over fd (tr_reports_forward), then end. A parent that dies takes
 * it down in order (SIGTERM: its tokens are given back first). */
static void group_child(run_ctx *rc, size_t g, int fd, pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        raise(SIGTERM);
    tr_err e;
    tr_reports *fwd = tr_reports_forward(fd, tr_reports_dir(rc->rep), &e);
    if (!fwd)
        _exit(2);
    rc->rep = fwd; /* the parent's object stays as it was, unused here */
    rc->nbatch = 0;
    for (size_t i = 0; i < rc->nslots; i++)
        if (tr_vrig_slot_group(rc->rs->vrig, rc->slots[i].cfg->name) == (int)g)
            rc->batch[rc->nbatch++] = i;
    worker_set set;
    tr_batch_result br;
    if (tr_vrig_use_group(rc->rs->vrig, g, &e) < 0 || run_workers(rc, &set, &br, &e) < 0) {
        for (size_t i = 0; i < rc->nbatch; i++)
            not_run_rows(&rc->slots[rc->batch[i]], 0, 0, tr_code_name(e.code), e.msg);
        _exit(2);
    }
    if (abandoned(&br)) /* a worker still blocked in the token: no rows after it */
        tr_reports_freeze(fwd);
    fflush(stdout);
    fflush(stderr);
    _exit(br.interrupted ? 3 : 0);
}

/* Fork the child of every group that has slots of the run. */
static int start_groups(run_ctx *rc, group_proc *gp, size_t *n, tr_err *e)
{
    tr_vrig *v = rc->rs->vrig;
    bool has[TR_VRIG_MAX_GROUPS] = {false};
    for (size_t i = 0; i < rc->nslots; i++) {
        int g = tr_vrig_slot_group(v, rc->slots[i].cfg->name);
        if (g >= 0 && g < TR_VRIG_MAX_GROUPS)
            has[g] = true;
    }
    fflush(NULL);
    *n = 0;
    pid_t me = getpid();
    for (size_t g = 0; g < tr_vrig_groups(v); g++) {
        int pfd[2];
        if (!has[g])
            continue;
        if (pipe2(pfd, O_CLOEXEC) < 0)
            return tr_fail(e, TR_E_RIG, "pipe for pcscd %zu's slots: %m", g);
        pid_t pid = fork();
        if (pid < 0) {
            close(pfd[0]);
            close(pfd[1]);
            return tr_fail(e, TR_E_RIG, "fork for pcscd %zu's slots: %m", g);
        }
        if (pid == 0) {
            close(pfd[0]);
            for (size_t k = 0; k < *n; k++)
                close(gp[k].fd);
            group_child(rc, g, pfd[1], me);
        }
        close(pfd[1]);
        gp[(*n)++] = (group_proc){.group = g, .pid = pid, .fd = pfd[0]};
    }
    return 0;
}

/* Take the children's rows until every stream ends. A stop signal (Ctrl-C,
 * SIGTERM, SIGHUP, SIGPIPE: batch.h) is passed on to them — again every
 * second, as a child may be past its own check — and they stop in order. */
static bool pump_groups(run_ctx *rc, group_proc *gp, size_t n)
{
    tr_batch_stop_begin(); /* the children inherit the handlers at fork */
    size_t open = n;
    while (open) {
        struct pollfd pfd[TR_VRIG_MAX_GROUPS];
        size_t map[TR_VRIG_MAX_GROUPS], k = 0;
        for (size_t i = 0; i < n; i++)
            if (gp[i].fd >= 0) {
                pfd[k] = (struct pollfd){.fd = gp[i].fd, .events = POLLIN};
                map[k++] = i;
            }
        int ready = poll(pfd, k, 1000);
        int sig = tr_batch_signal();
        for (size_t i = 0; sig && i < n; i++)
            if (gp[i].fd >= 0)
                kill(gp[i].pid, sig == SIGPIPE ? SIGTERM : sig);
        for (size_t j = 0; ready > 0 && j < k; j++) {
            if (!(pfd[j].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            group_proc *c = &gp[map[j]];
            tr_err te;
            int t = tr_rowpipe_take(c->fd, rc->rep, &te);
            if (t < 0)
                say(rc, "tokenrig: pcscd %zu's slots: %s", c->group, te.msg);
            if (t <= 0) {
                close(c->fd);
                c->fd = -1;
                open--;
            }
        }
    }
    bool interrupted = tr_batch_interrupted();
    tr_batch_stop_end(); /* SIGPIPE ignored after it, as after a batch */
    return interrupted;
}

/* Wait for the children. One that did not end by itself (killed, crashed)
 * leaves its slots' tests without verdicts: an error row says why. */
static void reap_groups(run_ctx *rc, const group_proc *gp, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int st = 0;
        while (waitpid(gp[i].pid, &st, 0) < 0 && errno == EINTR)
            ;
        if (WIFEXITED(st))
            continue;
        char msg[200];
        snprintf(msg, sizeof msg, "the process running the slots of pcscd %zu died (signal %d, %s)", gp[i].group,
                 WTERMSIG(st), strsignal(WTERMSIG(st)));
        for (size_t s = 0; s < rc->nslots; s++)
            if (tr_vrig_slot_group(rc->rs->vrig, rc->slots[s].cfg->name) == (int)gp[i].group)
                error_row(&rc->slots[s], "", "(pcscd group)", tr_code_name(TR_E_INTERNAL), msg);
    }
}

/* A run whose slots sit behind several pcscds (a virtual rig of more than
 * 16 slots). libpcsclite talks to one pcscd per process (it reads
 * PCSCLITE_CSOCK_NAME once and keeps one reader cache), so each pcscd's
 * slots run in a child process of their own, all at once, and send their
 * report rows here (rowpipe.h), where they are written: one report
 * directory, one verdict table, one exit status. The children wrote the
 * journal: it is read again before it is compacted. */
static int run_groups(run_ctx *rc, tr_run_result *res, tr_err *e)
{
    group_proc gp[TR_VRIG_MAX_GROUPS];
    size_t n = 0;
    if (start_groups(rc, gp, &n, e) < 0) { /* the groups started run; the others' slots say why not */
        if (n == 0)
            return -1;
        for (size_t s = 0; s < rc->nslots; s++) {
            bool started = false;
            for (size_t i = 0; i < n; i++)
                started |= tr_vrig_slot_group(rc->rs->vrig, rc->slots[s].cfg->name) == (int)gp[i].group;
            if (!started)
                not_run_rows(&rc->slots[s], 0, 0, tr_code_name(e->code), e->msg);
        }
    }
    bool interrupted = pump_groups(rc, gp, n);
    reap_groups(rc, gp, n);
    tr_journal_close(rc->rs->journal);
    rc->rs->journal = NULL;
    tr_err je;
    if (tr_rig_session_journal(rc->rs, &je) < 0) { /* then nothing to compact, nobody to list */
        fprintf(stderr, "tokenrig: %s\n", je.msg);
        finish_reports(rc, res);
        res->interrupted = interrupted;
        res->status = 2;
        close_db(rc, res, false);
        return 0;
    }
    end_batch(rc, res, interrupted);
    close_db(rc, res, false); /* the children have ended: nobody writes rows any more */
    return 0;
}

/* The batch a run names: --batch, else the manifest's batch column, else
 * the manifest's file name without its extension, else "" (the run id). */
static void batch_name(const tr_run_opts *o, char *out, size_t cap)
{
    out[0] = '\0';
    if (o->batch) {
        tr_strlcpy(out, o->batch, cap);
    } else if (o->manifest && o->manifest->batch[0]) {
        tr_strlcpy(out, o->manifest->batch, cap);
    } else if (o->manifest) {
        const char *slash = strrchr(o->manifest->path, '/');
        tr_strlcpy(out, slash ? slash + 1 : o->manifest->path, cap);
        char *dot = strrchr(out, '.');
        if (dot && dot != out)
            *dot = '\0';
    }
}

/* The database (when the run has one): the run's row claims its run id
 * before any token is touched; a made id taken by another host's run is
 * made unique first (the reports are named after it). */
static int open_db(run_ctx *rc, tr_err *e)
{
    const tr_run_opts *o = rc->o;
    if (!o->db)
        return 0;
    char batch[512];
    batch_name(o, batch, sizeof batch);
    tr_dbrun_opts d = {.where = o->db, .run_id = rc->run_id, .run_id_given = o->run_id != NULL, .kind = "run",
                       .batch = batch, .rig = rc->rs->cfg.name,
                       .profile = o->profile ? o->profile : rc->rs->cfg.profile, .command_line = o->command_line,
                       .destructive = o->allow_destructive};
    if (tr_dbrun_open(&d, &rc->dbw, e) < 0)
        return -1;
    return tr_strlcpy(rc->run_id, tr_dbrun_run_id(rc->dbw), sizeof rc->run_id)
               ? 0
               : tr_fail(e, TR_E_INTERNAL, "run id %s too long", tr_dbrun_run_id(rc->dbw));
}

/* A stop signal before the workers started (while the rig came up, the
 * reports opened): no token is touched — every test a `cancelled` row,
 * JUnit and the summary written, exit 2. */
static void stopped_before_start(run_ctx *rc, tr_run_result *res)
{
    say(rc, "tokenrig: stopped by signal %d before the tests started: no token was touched", tr_batch_signal());
    for (size_t i = 0; i < rc->nslots; i++)
        not_run_rows(&rc->slots[i], 0, 0, "cancelled",
                     "not run: the run was stopped (a signal) before it touched the tokens");
    end_batch(rc, res, true);
}

/* A stop signal after the workers ended (while the reports were written):
 * they were finished first; the run still ends with exit 2. */
static void stopped_at_end(const run_ctx *rc, tr_run_result *res)
{
    if (res->interrupted || !tr_batch_interrupted())
        return;
    res->interrupted = true;
    res->status = 2;
    fflush(stdout);
    fprintf(stderr, "tokenrig: interrupted (signal %d) after the tests; the reports were finished first: %s\n",
            tr_batch_signal(), tr_reports_dir(rc->rep));
}

int tr_run_suites(tr_rig_session *rs, const tr_run_opts *o, tr_run_result *res, tr_err *e)
{
    memset(res, 0, sizeof *res);
    res->status = 2;
    run_ctx rc;
    int ret = -1;
    tr_batch_stop_begin(); /* the command's span when it opened one (cli_run.c), else this one */
    if (init_run(&rc, rs, o, e) < 0 || open_db(&rc, e) < 0 || open_reports(&rc, e) < 0)
        goto out;
    if (rc.dbw)
        tr_dbrun_attach(rc.dbw, rc.rep);
    /* no token touched yet: a run that cannot write its rows stops here */
    if ((o->manifest && tr_manifest_report_unmatched(o->manifest, rc.rep, rc.run_id, rs->cfg.name, e) < 0) ||
        record_provenance(&rc, e) < 0)
        goto out;
    if (!o->script)
        say(&rc, "tokenrig: run %s on rig %s: %zu slot(s), %zu suite(s) -> %s", rc.run_id, rs->cfg.name, rc.nslots,
            o->nsuites, tr_reports_dir(rc.rep));
    if (tr_batch_interrupted()) {
        stopped_before_start(&rc, res);
        ret = 0;
    } else {
        ret = run_batch(&rc, res, e);
    }
    if (ret == 0)
        stopped_at_end(&rc, res);
out:
    for (size_t i = 0; i < rc.nslots; i++) { /* before the rig goes down */
        tr_slot_close(rc.slots[i].slot);
        rc.slots[i].slot = NULL;
    }
    close_db(&rc, res, false); /* a run that could not start: its end, exit 2 */
    tr_reports_close(rc.rep);
    free_run(&rc);
    tr_batch_stop_end();
    return ret;
}

/* ---- tokenrig recover ------------------------------------------------------------------------------------ */

/* One journaled slot: 1 restored, 0 not (the line says why). */
static int recover_one(slot_run *sr, FILE *out)
{
    char why[768];
    tr_err se;
    tr_err_clear(&se);
    int r = -1;
    tr_cardio io;
    if (slot_connect(sr, &io, &se) == 0)
        r = recover_slot(sr, &io, true, why, sizeof why, &se);
    if (r < 0) {
        snprintf(why, sizeof why, "not restored: %s (the journal entry is kept)", se.msg);
        r = 0;
    }
    fprintf(out, "  %-8s %-18s %s\n", sr->cfg->name, sr->serial[0] ? sr->serial : "-", why);
    return r;
}

int tr_rig_session_each_group(tr_rig_session *rs, int (*fn)(tr_rig_session *rs, int group, void *ud), void *ud,
                              tr_err *e)
{
    size_t groups = rs->vrig ? tr_vrig_groups(rs->vrig) : 1;
    if (groups < 2)
        return fn(rs, -1, ud);
    int sum = 0;
    for (size_t g = 0; g < groups; g++) {
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0)
            return tr_fail(e, TR_E_RIG, "fork for pcscd %zu: %m", g);
        if (pid == 0) {
            tr_err ce;
            if (tr_vrig_use_group(rs->vrig, g, &ce) < 0) {
                fprintf(stderr, "tokenrig: %s\n", ce.msg);
                _exit(125);
            }
            int st = fn(rs, (int)g, ud);
            fflush(NULL);
            _exit(st < 0 ? 125 : st > 125 ? 125 : st);
        }
        int st = 0;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        if (!WIFEXITED(st) || WEXITSTATUS(st) == 125)
            return tr_fail(e, TR_E_RIG, "the process for pcscd %zu's slots failed (status %d)", g, st);
        sum += WEXITSTATUS(st);
    }
    return sum;
}

/* Is slot one of group's (-1: every slot)? */
static bool in_group(const tr_rig_session *rs, const char *slot, int group)
{
    return group < 0 || (rs->vrig && tr_vrig_slot_group(rs->vrig, slot) == group);
}

typedef struct {
    FILE *out;
    tr_journal_entry *open;
    size_t n;
    tr_err err;     /* why the slots could not be prepared */
} recover_job;

/* The journaled tokens of group's slots: the number not restored. */
static int recover_group(tr_rig_session *rs, int group, void *ud)
{
    recover_job *job = ud;
    tr_run_opts o = {.quiet = true};
    run_ctx rc;
    tr_err e;
    int failed = 0;
    if (init_run(&rc, rs, &o, &e) < 0) {
        if (group >= 0) /* a child: its caller cannot see e */
            fprintf(stderr, "tokenrig: %s\n", e.msg);
        job->err = e;
        failed = -1;
    }
    for (size_t k = 0; k < job->n && failed >= 0; k++) {
        if (!in_group(rs, job->open[k].slot, group))
            continue;
        for (size_t i = 0; i < rc.nslots; i++)
            if (!strcmp(rc.slots[i].cfg->name, job->open[k].slot) && recover_one(&rc.slots[i], job->out) != 1)
                failed++;
    }
    free_run(&rc);
    return failed;
}

/* The rig's journal opened, and its open sequences (free() them). */
static tr_journal_entry *session_open_entries(tr_rig_session *rs, size_t *n, tr_err *e)
{
    return tr_rig_session_journal(rs, e) < 0 ? NULL : tr_journal_open_entries(rs->journal, n, e);
}

int tr_run_recover(tr_rig_session *rs, FILE *out, tr_err *e)
{
    size_t n;
    tr_journal_entry *open = session_open_entries(rs, &n, e);
    if (!open)
        return -1;
    fprintf(out, "journal %s: %zu token(s) left mid-way\n", tr_journal_path(rs->journal), n);
    int failed = 0;
    for (size_t k = 0; k < n; k++)
        if (!tr_rig_find_slot(&rs->cfg, open[k].slot)) {
            fprintf(out, "  %-8s %-18s not restored: the rig has no such slot (the journal entry is kept)\n",
                    open[k].slot, open[k].serial);
            failed++;
        }
    recover_job job = {.out = out, .open = open, .n = n};
    tr_err_clear(&job.err);
    int r = tr_rig_session_each_group(rs, recover_group, &job, e);
    free(open);
    if (r < 0 && job.err.code != TR_OK)
        *e = job.err;
    /* a group's child wrote the journal: read it again before compacting */
    if (r >= 0 && rs->vrig && tr_vrig_groups(rs->vrig) > 1) {
        tr_journal_close(rs->journal);
        rs->journal = NULL;
        if (tr_rig_session_journal(rs, e) < 0)
            return -1;
    }
    if (r < 0 || tr_journal_compact(rs->journal, e) < 0)
        return -1;
    if (failed + r > 0)
        fprintf(out, "a token not restored keeps its entry, and its destructive tests stop at it: put it right by "
                     "hand or set it aside, then tokenrig recover --rig %s --forget SLOT\n",
                rs->cfg.path);
    return failed + r;
}

/* recover --forget: the entries of list's slots dropped from the journal
 * (closed, then compacted away), no token touched. */
int tr_run_forget(tr_rig_session *rs, const char *list, FILE *out, tr_err *e)
{
    size_t n;
    tr_journal_entry *open = session_open_entries(rs, &n, e);
    if (!open)
        return -1;
    const char **names = malloc((n ? n : 1) * sizeof *names);
    if (!names) {
        free(open);
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    }
    for (size_t k = 0; k < n; k++)
        names[k] = open[k].slot;
    char not_in[TR_PATH_MAX + 64];
    snprintf(not_in, sizeof not_in, "has no entry in the journal %s", tr_journal_path(rs->journal));
    /* every name checked before any entry is dropped */
    int r = check_name_list("forget", list, names, n, not_in, "the slots it holds", e);
    for (size_t k = 0; k < n && r == 0; k++) {
        if (!slot_selected(list, open[k].slot))
            continue;
        r = tr_journal_end(rs->journal, open[k].slot, open[k].serial, e);
        if (r == 0)
            fprintf(out, "  %-8s %-18s forgotten: the journal no longer holds the PINs run %s left it with; "
                    "certify it only once it is back at its factory PINs\n", open[k].slot, open[k].serial,
                    open[k].run_id);
    }
    free(names);
    free(open);
    if (r < 0 || tr_journal_compact(rs->journal, e) < 0)
        return -1;
    return 0;
}

/* ---- identify (tokenrig list) ------------------------------------------------------------------------------- */

typedef struct {
    char *out;
    size_t cap, used;
} log_sink;

static void identify_log(void *ud, const char *test, const char *text)
{
    (void)test;
    log_sink *ls = ud;
    if (strncmp(text, "reset", 5) == 0 || strncmp(text, "power-cycle", 11) == 0)
        return;
    int n = snprintf(ls->out + ls->used, ls->cap - ls->used, "%s%s", ls->used ? "; " : "", text);
    if (n > 0 && (size_t)n < ls->cap - ls->used)
        ls->used += (size_t)n;
}

int tr_slot_identify(tr_rig_session *rs, const tr_slot_cfg *c, char *out, size_t cap, tr_err *e)
{
    slot_run sr = {.rig = &rs->cfg, .cfg = c};
    tr_suite *suite = NULL, *ops = NULL;
    tr_cardio io;
    char path[TR_PATH_MAX + 64];
    out[0] = '\0';
    snprintf(path, sizeof path, "%s/suites/lib/identify.tsuite", tr_data_dir());
    int status = -1;
    if (tr_suite_load(path, &suite, e) < 0 || load_ops_library(slot_interface(c), &ops, e) < 0 ||
        tr_slot_profile_load(&rs->cfg, c, NULL, &sr.profile, e) < 0 ||
        slot_vars(&sr, &rs->cfg, rs->vrig, NULL, NULL, e) < 0 || tr_slot_open(&rs->cfg, c, rs->vrig, &sr.slot, e) < 0 ||
        slot_connect(&sr, &io, e) < 0)
        goto out;
    log_sink ls = {out, cap, 0};
    tr_interp_hooks hooks = {.ud = &ls, .log = identify_log};
    tr_interp_env env = {.card = &io, .lib = slot_lib(&sr), .lib_iface = slot_lib_iface(&sr), .vars = sr.vars, .hooks = &hooks, .ops = ops};
    tr_suite_outcome res;
    if (tr_interp_run(suite, &env, &res, e) == 0) {
        status = 0;
        if (res.counts[TR_PASS] != 1 && !out[0])
            snprintf(out, cap, "does not answer as profile %s describes", sr.profile.name);
    }
out:
    slot_free(&sr);
    tr_suite_free(suite);
    tr_suite_free(ops);
    return status;
}
