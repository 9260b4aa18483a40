#include "vrig.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <ini.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "faultnames.h"
#include "transport.h"
#include "util.h"

#define VPCD_DRIVER "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
#define CONTROL_TIMEOUT_MS 5000
/* one vpcd reader.conf entry serves two slots */
#define ENTRY_SLOTS 2

typedef struct {
    char name[TR_NAME_MAX];
    char reader[128];
    char control[TR_PATH_MAX];
    pid_t pid;
    unsigned port;
    unsigned group;             /* the pcscd that serves its reader */
} vslot;

/* One private pcscd and the readers it serves (at most TR_VRIG_GROUP_SLOTS). */
typedef struct {
    char socket[TR_PATH_MAX];
    pid_t pid;
} vgroup;

struct tr_vrig {
    char dir[TR_PATH_MAX];
    char nv[TR_PATH_MAX];       /* where tokens keep keys, certificates, PIN state */
    vgroup groups[TR_VRIG_MAX_GROUPS]; /* [0] is the rig's socket and pcscd_pid */
    size_t ngroups;
    int active;                 /* the group this process talks to (tr_vrig_use_group), -1 none */
    pid_t owner_pid;            /* the process whose rig this is; 0 = brought up by `rig up` */
    unsigned long long owner_start; /* its start time (guards against PID reuse) */
    vslot *slots;
    size_t nslots;
};

/* ---- small process helpers ----------------------------------------------------- */

/* fork+exec argv with stdout/stderr to log (append). Detached from our
 * terminal's process group so Ctrl-C reaches only tokenrig, which then tears
 * the rig down in order. */
static pid_t spawn(char *const argv[], const char *log, tr_err *e)
{
    pid_t pid = fork();
    if (pid < 0)
        return tr_fail(e, TR_E_RIG, "fork: %m");
    if (pid == 0) {
        setsid();
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (nul >= 0)
            dup2(nul, 0);
        execvp(argv[0], argv);
        dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

static int run_to_end(char *const argv[], const char *log, tr_err *e)
{
    pid_t pid = spawn(argv, log, e);
    if (pid < 0)
        return -1;
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return tr_fail(e, TR_E_RIG, "waitpid: %m");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return tr_fail(e, TR_E_RIG, "%s failed (exit %d); see %s", argv[0],
                       WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), log);
    return 0;
}

/* Is pid alive and still the program we started (guards against PID reuse)? */
static bool pid_is_ours(pid_t pid, const char *needle)
{
    if (pid <= 0)
        return false;
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid)
        return false; /* our child, and it just ended */
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

/* A process's start time (field 22 of /proc/PID/stat), 0 when it is gone. */
static unsigned long long proc_start_time(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long long start = 0;
    for (int field = 2; p && *p && field < 22; p++)
        if (*p == ' ')
            field++;
    if (p)
        start = strtoull(p, NULL, 10);
    return start;
}

/* Liveness of a child we forked ourselves (its cmdline may still be ours
 * between fork and exec, so no cmdline check here). */
static bool child_alive(pid_t pid)
{
    return pid > 0 && waitpid(pid, NULL, WNOHANG) == 0;
}

static void stop_pid(pid_t pid, const char *needle)
{
    if (!pid_is_ours(pid, needle))
        return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 300; i++) { /* up to 3 s, then SIGKILL */
        if (!pid_is_ours(pid, needle))
            return;
        tr_sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* Where vtoken and mkpki are: beside tokenrig, or $TOKENRIG_LIBEXEC (unit
 * tests run from build/tests/). */
static const char *helper_dir(void)
{
    const char *d = getenv("TOKENRIG_LIBEXEC");
    return d && *d ? d : tr_exe_dir();
}

/* Serializes port choice between rigs coming up at once (flock; released
 * with the descriptor). */
static int ports_lock(tr_err *e)
{
    int fd = open("/tmp/tokenrig-vrig-ports.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return tr_fail(e, TR_E_RIG, "/tmp/tokenrig-vrig-ports.lock: %m");
    while (flock(fd, LOCK_EX) < 0)
        if (errno != EINTR) {
            close(fd);
            return tr_fail(e, TR_E_RIG, "locking /tmp/tokenrig-vrig-ports.lock: %m");
        }
    return fd;
}

/* ---- ports ------------------------------------------------------------------------ */

static bool port_free(unsigned port)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return false;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_ANY)};
    bool ok = bind(s, (struct sockaddr *)&a, sizeof a) == 0;
    close(s);
    return ok;
}

/* vpcd listens on CHANNELID and CHANNELID+1: find a free pair. Two rigs up at
 * once each probe for their own pairs; pcscd's bind is the final arbiter. */
static int pick_port_pair(unsigned *out, unsigned avoid_below, tr_err *e)
{
    unsigned base = 20000 + (unsigned)((getpid() * 7919u + (unsigned)time(NULL)) % 20000u) * 2u;
    for (unsigned i = 0; i < 2000; i++) {
        unsigned p = 20000 + ((base - 20000 + i * 2) % 40000);
        if (p + 1 < avoid_below && p >= 20000 && avoid_below)
            continue;
        if (port_free(p) && port_free(p + 1)) {
            *out = p;
            return 0;
        }
    }
    return tr_fail(e, TR_E_RIG, "no free TCP port pair for vpcd between 20000 and 60000");
}

/* ---- state file ------------------------------------------------------------------- */

static int write_state(const tr_vrig *v, tr_err *e)
{
    char tmp[TR_PATH_MAX + 16], path[TR_PATH_MAX + 16];
    snprintf(tmp, sizeof tmp, "%s/state.ini.tmp", v->dir);
    snprintf(path, sizeof path, "%s/state.ini", v->dir);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return tr_fail(e, TR_E_RIG, "%s: %m", tmp);
    fprintf(f, "; written by tokenrig rig up; read by tokenrig to find this rig\n");
    fprintf(f, "[rig]\ndir = %s\nnv_dir = %s\nsocket = %s\npcscd_pid = %d\nowner_pid = %d\nowner_start = %llu\n",
            v->dir, v->nv, v->groups[0].socket, (int)v->groups[0].pid, (int)v->owner_pid, v->owner_start);
    /* a rig of more than 16 slots: the other pcscds (the first is the rig's) */
    for (size_t g = 1; g < v->ngroups; g++)
        fprintf(f, "[pcscd %zu]\nsocket = %s\npid = %d\n", g, v->groups[g].socket, (int)v->groups[g].pid);
    for (size_t i = 0; i < v->nslots; i++)
        fprintf(f, "[slot %s]\nreader = %s\ncontrol = %s\npid = %d\nport = %u\npcscd = %u\n", v->slots[i].name,
                v->slots[i].reader, v->slots[i].control, (int)v->slots[i].pid, v->slots[i].port, v->slots[i].group);
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        return tr_fail(e, TR_E_RIG, "%s: %m", path);
    char envp[TR_PATH_MAX + 16];
    snprintf(envp, sizeof envp, "%s/env", v->dir);
    f = fopen(envp, "w");
    if (!f)
        return tr_fail(e, TR_E_RIG, "%s: %m", envp);
    char qs[2 * TR_PATH_MAX], qd[2 * TR_PATH_MAX];
    tr_shell_quote(v->groups[0].socket, qs, sizeof qs);
    tr_shell_quote(v->dir, qd, sizeof qd);
    fprintf(f, "export PCSCLITE_CSOCK_NAME=%s\nexport TOKENRIG_VRIG_DIR=%s\n", qs, qd);
    fclose(f);
    return 0;
}

static vslot *add_slot(tr_vrig *v, const char *name)
{
    for (size_t i = 0; i < v->nslots; i++)
        if (!strcmp(v->slots[i].name, name))
            return &v->slots[i];
    vslot *ns = realloc(v->slots, (v->nslots + 1) * sizeof *ns);
    if (!ns)
        return NULL;
    v->slots = ns;
    vslot *s = &v->slots[v->nslots++];
    memset(s, 0, sizeof *s);
    tr_strlcpy(s->name, name, sizeof s->name);
    return s;
}

/* [pcscd N] of the state file: the rig's N-th pcscd (N >= 1). */
static int state_group_key(tr_vrig *v, const char *section, const char *name, const char *value)
{
    unsigned long g = strtoul(section + 6, NULL, 10);
    if (g == 0 || g >= TR_VRIG_MAX_GROUPS)
        return 0;
    if (g >= v->ngroups)
        v->ngroups = g + 1;
    if (!strcmp(name, "socket"))
        tr_strlcpy(v->groups[g].socket, value, sizeof v->groups[g].socket);
    else if (!strcmp(name, "pid"))
        v->groups[g].pid = (pid_t)atoi(value);
    return 1;
}

static int state_key(void *user, const char *section, const char *name, const char *value)
{
    tr_vrig *v = user;
    if (!strncmp(section, "pcscd ", 6))
        return state_group_key(v, section, name, value);
    if (!strcmp(section, "rig")) {
        if (!strcmp(name, "socket"))
            tr_strlcpy(v->groups[0].socket, value, sizeof v->groups[0].socket);
        else if (!strcmp(name, "pcscd_pid"))
            v->groups[0].pid = (pid_t)atoi(value);
        else if (!strcmp(name, "owner_pid"))
            v->owner_pid = (pid_t)atoi(value);
        else if (!strcmp(name, "owner_start"))
            v->owner_start = strtoull(value, NULL, 10);
        else if (!strcmp(name, "nv_dir"))
            tr_strlcpy(v->nv, value, sizeof v->nv);
        return 1;
    }
    if (strncmp(section, "slot ", 5))
        return 0;
    vslot *s = add_slot(v, section + 5);
    if (!s)
        return 0;
    if (!strcmp(name, "reader"))
        tr_strlcpy(s->reader, value, sizeof s->reader);
    else if (!strcmp(name, "control"))
        tr_strlcpy(s->control, value, sizeof s->control);
    else if (!strcmp(name, "pid"))
        s->pid = (pid_t)atoi(value);
    else if (!strcmp(name, "port"))
        s->port = (unsigned)atoi(value);
    else if (!strcmp(name, "pcscd") && strtoul(value, NULL, 10) < TR_VRIG_MAX_GROUPS)
        s->group = (unsigned)strtoul(value, NULL, 10);
    return 1;
}

/* ---- bring-up steps ------------------------------------------------------------------ */

void tr_vrig_default_dir(const tr_rig_cfg *rig, char *out, size_t cap)
{
    const char *env = getenv("TOKENRIG_VRIG_DIR");
    if (env && *env)
        snprintf(out, cap, "%s", env);
    else
        snprintf(out, cap, "/tmp/tokenrig-%u/vrig-%s", (unsigned)getuid(), rig->name);
}

static int mkdirs(const char *path, tr_err *e)
{
    char tmp[TR_PATH_MAX];
    if (!tr_strlcpy(tmp, path, sizeof tmp))
        return tr_fail(e, TR_E_RIG, "path too long: %s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
                return tr_fail(e, TR_E_RIG, "mkdir %s: %m", tmp);
            *p = '/';
        }
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
        return tr_fail(e, TR_E_RIG, "mkdir %s: %m", tmp);
    return 0;
}

static int copy_file(const char *from, const char *to, tr_err *e)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return tr_fail(e, TR_E_RIG, "%s: %m (is vsmartcard-vpcd installed? run ci/deps.sh)", from);
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    if (out < 0) {
        close(in);
        return tr_fail(e, TR_E_RIG, "%s: %m", to);
    }
    char buf[65536];
    ssize_t n;
    int rc = 0;
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n) {
            rc = tr_fail(e, TR_E_RIG, "writing %s: %m", to);
            break;
        }
    close(in);
    if (close(out) != 0 && rc == 0)
        rc = tr_fail(e, TR_E_RIG, "writing %s: %m", to);
    return rc;
}

/* Where group g's pcscd keeps what (kind: "run", "conf", "pcscd.log"):
 * the first group's are the rig's run/, conf/, pcscd.log (as before there
 * were groups); group g's run-g/, conf-g/, pcscd-g.log. */
static void group_path(const tr_vrig *v, size_t g, const char *kind, char *out, size_t cap)
{
    if (g == 0)
        snprintf(out, cap, "%s/%s", v->dir, kind);
    else if (!strcmp(kind, "pcscd.log"))
        snprintf(out, cap, "%s/pcscd-%zu.log", v->dir, g);
    else
        snprintf(out, cap, "%s/%s-%zu", v->dir, kind, g);
}

/* One reader.conf entry (two slots) per private copy of the vpcd driver,
 * in the conf directory of the group whose pcscd serves the two slots
 * (slots 1-16 the first pcscd, 17-32 the second, ...). */
static int write_reader_conf(tr_vrig *v, const tr_rig_cfg *rig, tr_err *e)
{
    for (size_t g = 0; g < v->ngroups; g++) {
        char conf[TR_PATH_MAX + 16];
        group_path(v, g, "conf", conf, sizeof conf);
        if (mkdirs(conf, e) < 0)
            return -1;
    }
    size_t entries = (v->nslots + ENTRY_SLOTS - 1) / ENTRY_SLOTS;
    unsigned last = 0;
    for (size_t k = 0; k < entries; k++) {
        unsigned port = 0;
        if (pick_port_pair(&port, last, e) < 0)
            return -1;
        last = port + 2;
        size_t g = k * ENTRY_SLOTS / TR_VRIG_GROUP_SLOTS;
        char drv[TR_PATH_MAX + 32], conf[TR_PATH_MAX + 16], entry[TR_PATH_MAX + 64], friendly[96];
        snprintf(drv, sizeof drv, "%s/libifdvpcd-%zu.so", v->dir, k);
        if (copy_file(VPCD_DRIVER, drv, e) < 0)
            return -1;
        snprintf(friendly, sizeof friendly, "tokenrig %s %zu", rig->name, k);
        group_path(v, g, "conf", conf, sizeof conf);
        snprintf(entry, sizeof entry, "%s/vpcd-%zu", conf, k);
        FILE *f = fopen(entry, "w");
        if (!f)
            return tr_fail(e, TR_E_RIG, "%s: %m", entry);
        fprintf(f, "FRIENDLYNAME \"%s\"\nDEVICENAME /dev/null:0x%04X\nLIBPATH %s\nCHANNELID 0x%04X\n",
                friendly, port, drv, port);
        fclose(f);
        for (size_t j = 0; j < ENTRY_SLOTS && ENTRY_SLOTS * k + j < v->nslots; j++) {
            vslot *s = &v->slots[ENTRY_SLOTS * k + j];
            s->port = port + (unsigned)j;
            s->group = (unsigned)g;
            snprintf(s->reader, sizeof s->reader, "%s 00 %02zu", friendly, j);
        }
    }
    return 0;
}

/* Group g's pcscd in its own mount namespace with the group's run
 * directory over /run/pcscd: it binds its socket there, and nobody else's
 * pcscd is disturbed. */
static int start_pcscd(tr_vrig *v, size_t g, tr_err *e)
{
    char rundir[TR_PATH_MAX + 16], conf[TR_PATH_MAX + 16], log[TR_PATH_MAX + 16];
    group_path(v, g, "run", rundir, sizeof rundir);
    group_path(v, g, "conf", conf, sizeof conf);
    group_path(v, g, "pcscd.log", log, sizeof log);
    if (mkdirs(rundir, e) < 0)
        return -1;
    snprintf(v->groups[g].socket, sizeof v->groups[g].socket, "%s/pcscd.comm", rundir);
    static const char script[] =
        "mount --make-rprivate / 2>/dev/null;"
        "if [ -d /run/pcscd ]; then mount --bind \"$1\" /run/pcscd || exit 97;"
        "else mount -t tmpfs -o mode=755 tokenrig-run /run && mkdir /run/pcscd && "
        "mount --bind \"$1\" /run/pcscd || exit 97; fi;"
        "exec pcscd --foreground --config \"$2\"";
    char *argv[12];
    int i = 0;
    argv[i++] = "unshare";
    argv[i++] = geteuid() == 0 ? "-m" : "-rm";
    argv[i++] = "sh";
    argv[i++] = "-c";
    argv[i++] = (char *)script;
    argv[i++] = "tokenrig-pcscd";
    argv[i++] = rundir;
    argv[i++] = conf;
    argv[i] = NULL;
    v->groups[g].pid = spawn(argv, log, e);
    return v->groups[g].pid < 0 ? -1 : 0;
}

static int wait_pcscd(tr_vrig *v, size_t g, unsigned timeout_ms, tr_err *e)
{
    /* The daemon's socket appearing has no PC/SC event to wait on: poll the
     * file (bounded), then the first context proves pcscd answers. */
    uint64_t deadline = tr_now_ns() + (uint64_t)timeout_ms * 1000000u;
    struct stat st;
    char log[TR_PATH_MAX + 16];
    group_path(v, g, "pcscd.log", log, sizeof log);
    while (stat(v->groups[g].socket, &st) != 0) {
        if (!child_alive(v->groups[g].pid))
            return tr_fail(e, TR_E_RIG, "the private pcscd exited at start; see %s "
                           "(as a non-root user, user namespaces must be enabled)", log);
        if (tr_now_ns() > deadline)
            return tr_fail(e, TR_E_RIG, "the private pcscd did not create %s within %u ms", v->groups[g].socket,
                           timeout_ms);
        tr_sleep_ms(10);
    }
    return 0;
}

/* A token's own files (key, certificate, seal, PIN state) live in its NV
 * directory: the rig's nv_dir when it has one (they outlive the rig, as a
 * real token's memory outlives a crash of the bench), else the instance
 * directory (fresh tokens each bring-up). */
static void slot_file(const tr_vrig *v, const char *slot, const char *suffix, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s%s", v->nv[0] ? v->nv : v->dir, slot, suffix);
}

static bool file_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/* Faults the rig realizes by the PKI it issues, not by a vtoken switch
 * (faultnames.h): the certificate's dates, or who issued the certificate or
 * the seal; no encryption pair (no-enc-key), an encryption certificate for
 * another key (enc-cert-other-key). */
static bool is_pki_fault(const char *f)
{
    const tr_fault_def *d = tr_fault_find(f);
    return d && d->rig;
}

/* Is name one of the comma/space separated faults (whole names only)? */
static bool has_fault(const tr_vtoken_cfg *vt, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = vt->faults; (p = strstr(p, name)); p += n)
        if ((p == vt->faults || p[-1] == ',' || p[-1] == ' ') && (!p[n] || p[n] == ',' || p[n] == ' '))
            return true;
    return false;
}

/* SM2 and RSA tokens carry an encryption pair (REF-1), unless no-enc-key. */
static bool wants_enc_pair(const tr_vtoken_cfg *vt)
{
    return strcmp(vt->alg, "ecdsa") != 0 && !has_fault(vt, "no-enc-key");
}

static const char *effective_validity(const tr_vtoken_cfg *vt)
{
    if (has_fault(vt, "expired-cert"))
        return "expired";
    if (has_fault(vt, "renewal-due"))
        return "renewal-due";
    return vt->validity;
}

static bool wants_seal(const tr_vtoken_cfg *vt)
{
    return !strcmp(vt->role, "main") || has_fault(vt, "seal-on-secondary");
}

/* The rig's PKI: <nv_dir or dir>/pki, made by `mkpki ca` (CA, seal-maker
 * root, seal maker); its rogue twin in pki/rogue, a second `mkpki ca` with
 * the same names and other keys (cert-other-ca, rogue-seal-maker). */
static void pki_dir(const tr_vrig *v, const char *sub, char *out, size_t cap)
{
    snprintf(out, cap, "%s/pki%s", v->nv[0] ? v->nv : v->dir, sub);
}

static int make_ca(const char *mkpki, const char *dir, const char *log, tr_err *e)
{
    char crt[TR_PATH_MAX + 48];
    snprintf(crt, sizeof crt, "%s/ca.crt.der", dir);
    char *ca[] = {(char *)mkpki, "ca", "--out", (char *)dir, NULL};
    return file_exists(crt) ? 0 : run_to_end(ca, log, e);
}

/* Key, certificate (+ seal) of one slot, from the rig's CA or, for
 * cert-other-ca / rogue-seal-maker, its look-alike. 0 or -1. */
static int make_token_files(const tr_slot_cfg *s, const char *mkpki, const char *pki, const char *rogue,
                            const char *key, const char *crt, const char *seal, const char *log)
{
    char ver[4], size[16];
    snprintf(ver, sizeof ver, "%d", s->vt.seal_version);
    snprintf(size, sizeof size, "%u", s->vt.seal_size);
    char *tok[] = {(char *)mkpki, "token", "--ca", (char *)(has_fault(&s->vt, "cert-other-ca") ? rogue : pki),
                   "--alg", (char *)s->vt.alg, "--serial", (char *)s->vt.serial, "--org", (char *)s->vt.org,
                   "--validity", (char *)effective_validity(&s->vt), "--key-out", (char *)key, "--cert-out",
                   (char *)crt, NULL};
    char *sl[] = {(char *)mkpki, "seal", "--ca", (char *)(has_fault(&s->vt, "rogue-seal-maker") ? rogue : pki),
                  "--cert", (char *)crt, "--version", ver, "--org", (char *)s->vt.org, "--out", (char *)seal,
                  s->vt.seal_size ? "--size" : NULL, size, NULL};
    tr_err sub;
    if (run_to_end(tok, log, &sub) < 0 || (wants_seal(&s->vt) && run_to_end(sl, log, &sub) < 0))
        return -1;
    return 0;
}

static bool rig_needs_rogue(const tr_rig_cfg *rig)
{
    for (size_t i = 0; i < rig->nslots; i++)
        if (has_fault(&rig->slots[i].vt, "cert-other-ca") || has_fault(&rig->slots[i].vt, "rogue-seal-maker"))
            return true;
    return false;
}

/* In the child of make_pki: one slot's key + certificate (+ seal) unless
 * kept in NV memory, then its encryption pair (unless kept or none), issued
 * by the CA that issued the signing certificate (the two of a pair are
 * issued together). Exits 0 or 1. */
static void make_slot_pki(const tr_vrig *v, const tr_slot_cfg *s, const char *mkpki, const char *log)
{
    char key[TR_PATH_MAX + 32], crt[TR_PATH_MAX + 32], seal[TR_PATH_MAX + 32];
    char ekey[TR_PATH_MAX + 32], ecrt[TR_PATH_MAX + 32];
    char pki[TR_PATH_MAX + 16], rogue[TR_PATH_MAX + 16];
    pki_dir(v, "", pki, sizeof pki);
    pki_dir(v, "/rogue", rogue, sizeof rogue);
    slot_file(v, s->name, ".key.pem", key, sizeof key);
    slot_file(v, s->name, ".crt.der", crt, sizeof crt);
    slot_file(v, s->name, ".seal.der", seal, sizeof seal);
    slot_file(v, s->name, ".enc.key.pem", ekey, sizeof ekey);
    slot_file(v, s->name, ".enc.crt.der", ecrt, sizeof ecrt);
    if (!(v->nv[0] && file_exists(crt)) && make_token_files(s, mkpki, pki, rogue, key, crt, seal, log) < 0)
        _exit(1);
    /* the encryption certificate: the signing one's holder and dates */
    char *enc[] = {(char *)mkpki, "enc", "--ca", has_fault(&s->vt, "cert-other-ca") ? rogue : pki,
                   "--cert", crt, "--key-out", ekey, "--cert-out", ecrt,
                   "--cert-for", has_fault(&s->vt, "enc-cert-other-key") ? "other" : "own", NULL};
    tr_err sub;
    if (wants_enc_pair(&s->vt) && !(v->nv[0] && file_exists(ecrt)) && run_to_end(enc, log, &sub) < 0)
        _exit(1);
    _exit(0);
}

/* CA once, then key + certificate (+ seal, + encryption pair) per slot, all
 * slots in parallel. */
static int make_pki(const tr_vrig *v, const tr_rig_cfg *rig, tr_err *e)
{
    char mkpki[TR_PATH_MAX + 16], pki[TR_PATH_MAX + 16], rogue[TR_PATH_MAX + 16], log[TR_PATH_MAX + 16];
    snprintf(mkpki, sizeof mkpki, "%s/mkpki", helper_dir());
    pki_dir(v, "", pki, sizeof pki);
    pki_dir(v, "/rogue", rogue, sizeof rogue);
    snprintf(log, sizeof log, "%s/mkpki.log", v->dir);
    if (make_ca(mkpki, pki, log, e) < 0 || (rig_needs_rogue(rig) && make_ca(mkpki, rogue, log, e) < 0))
        return -1;
    pid_t *pids = calloc(rig->nslots, sizeof *pids);
    if (!pids)
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < rig->nslots; i++) {
        const tr_slot_cfg *s = &rig->slots[i];
        char have[TR_PATH_MAX + 32], have_enc[TR_PATH_MAX + 32];
        slot_file(v, s->name, ".crt.der", have, sizeof have);
        slot_file(v, s->name, ".enc.crt.der", have_enc, sizeof have_enc);
        if (v->nv[0] && file_exists(have) && (!wants_enc_pair(&s->vt) || file_exists(have_enc)))
            continue; /* a token with NV memory keeps its keys and certificates */
        pid_t pid = fork();
        if (pid < 0) {
            rc = tr_fail(e, TR_E_RIG, "fork: %m");
            break;
        }
        if (pid == 0)
            make_slot_pki(v, s, mkpki, log);
        pids[i] = pid;
    }
    for (size_t i = 0; i < rig->nslots; i++) {
        int st;
        if (pids[i] > 0 && waitpid(pids[i], &st, 0) == pids[i] && (!WIFEXITED(st) || WEXITSTATUS(st)) && rc == 0)
            rc = tr_fail(e, TR_E_RIG, "making the certificate of slot %s failed; see %s", rig->slots[i].name, log);
    }
    free(pids);
    return rc;
}

int tr_vrig_trust_vars(const tr_vrig *v, tr_vars *vars, tr_err *e)
{
    if (!v)
        return 0;
    char pki[TR_PATH_MAX + 16], ca[TR_PATH_MAX + 48], maker[TR_PATH_MAX + 48];
    pki_dir(v, "", pki, sizeof pki);
    snprintf(ca, sizeof ca, "%s/ca.crt.der", pki);
    snprintf(maker, sizeof maker, "%s/sealroot.crt.der", pki);
    /* an NV PKI made before mkpki had a seal-maker root: its CA issued the
     * seal maker */
    if (!file_exists(maker) && file_exists(ca))
        tr_strlcpy(maker, ca, sizeof maker);
    if (tr_vars_set(vars, "CA_ROOT", ca) < 0 || tr_vars_set(vars, "SEAL_MAKER_ROOT", maker) < 0)
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    return 0;
}

static int start_token(tr_vrig *v, const tr_slot_cfg *s, vslot *vs, tr_err *e)
{
    char vtoken[TR_PATH_MAX + 16], key[TR_PATH_MAX + 32], crt[TR_PATH_MAX + 32], seal[TR_PATH_MAX + 32],
        state[TR_PATH_MAX + 32], log[TR_PATH_MAX + 32];
    char port[16], ready[16], sign[16], apdu[16], seed[16];
    snprintf(vtoken, sizeof vtoken, "%s/vtoken", helper_dir());
    slot_file(v, s->name, ".key.pem", key, sizeof key);
    slot_file(v, s->name, ".crt.der", crt, sizeof crt);
    slot_file(v, s->name, ".seal.der", seal, sizeof seal);
    slot_file(v, s->name, ".state", state, sizeof state);
    slot_file(v, s->name, ".ctl", vs->control, sizeof vs->control);
    slot_file(v, s->name, ".vtoken.log", log, sizeof log);
    snprintf(port, sizeof port, "%u", vs->port);
    snprintf(ready, sizeof ready, "%u", s->vt.ready_ms);
    snprintf(sign, sizeof sign, "%u", s->vt.sign_latency_ms);
    snprintf(apdu, sizeof apdu, "%u", s->vt.apdu_latency_us);
    snprintf(seed, sizeof seed, "%u", s->vt.seed);
    char *argv[64];
    int n = 0;
    char *fixed[] = {vtoken, "--port", port, "--serial", (char *)s->vt.serial, "--role", (char *)s->vt.role,
                     "--alg", (char *)s->vt.alg, "--key", key, "--cert", crt, "--state", state,
                     "--control", vs->control, "--ready-ms", ready, "--sign-latency-ms", sign,
                     "--apdu-latency-us", apdu, "--seed", seed};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        argv[n++] = fixed[i];
    if (wants_seal(&s->vt)) {
        argv[n++] = "--seal";
        argv[n++] = seal;
    }
    char ekey[TR_PATH_MAX + 32], ecrt[TR_PATH_MAX + 32];
    slot_file(v, s->name, ".enc.key.pem", ekey, sizeof ekey);
    slot_file(v, s->name, ".enc.crt.der", ecrt, sizeof ecrt);
    char *enc[] = {"--enc-key", ekey, "--enc-cert", ecrt};
    for (size_t i = 0; wants_enc_pair(&s->vt) && i < sizeof enc / sizeof enc[0]; i++)
        argv[n++] = enc[i];
    if (s->vt.t0)
        argv[n++] = "--t0";
    /* what the slot's profile compares: only those the rig file sets */
    char pin_tries[16], so_tries[16];
    snprintf(pin_tries, sizeof pin_tries, "%u", s->vt.pin_tries);
    snprintf(so_tries, sizeof so_tries, "%u", s->vt.so_tries);
    const char *profile_opts[][2] = {
        {"--pin-tries", s->vt.pin_tries ? pin_tries : ""}, {"--so-tries", s->vt.so_tries ? so_tries : ""},
        {"--default-pin", s->vt.default_pin}, {"--so-pin", s->vt.so_pin}, {"--atr", s->vt.atr},
        {"--aid", s->vt.aid}, {"--firmware", s->vt.firmware}};
    for (size_t i = 0; i < sizeof profile_opts / sizeof profile_opts[0]; i++) {
        if (profile_opts[i][1][0]) {
            argv[n++] = (char *)profile_opts[i][0];
            argv[n++] = (char *)profile_opts[i][1];
        }
    }
    char faults[sizeof s->vt.faults];
    tr_strlcpy(faults, s->vt.faults, sizeof faults);
    char *save = NULL;
    for (char *f = strtok_r(faults, ", ", &save); f && n < 60; f = strtok_r(NULL, ", ", &save)) {
        if (is_pki_fault(f))
            continue;
        argv[n++] = "--fault";
        argv[n++] = f;
    }
    argv[n] = NULL;
    vs->pid = spawn(argv, log, e);
    return vs->pid < 0 ? -1 : 0;
}

static bool slot_expects_card(const tr_slot_cfg *s)
{
    /* a token that never becomes ready on purpose is not a bring-up failure */
    return !strstr(s->vt.faults, "flaky-power=1");
}

static unsigned ms_left(uint64_t deadline)
{
    uint64_t now = tr_now_ns();
    return now >= deadline ? 0 : (unsigned)((deadline - now) / 1000000u);
}

/* Every reader of group g's slots present (and, when cards, its token
 * too), asked of that group's pcscd: this process must talk to it
 * (tr_pcsc_use_socket: a process talks to one pcscd). */
static int wait_group(const tr_vrig *v, const tr_rig_cfg *rig, size_t g, unsigned timeout_ms, bool cards,
                      tr_err *e)
{
    if (tr_pcsc_use_socket(v->groups[g].socket, e) < 0)
        return -1;
    tr_pcsc *p;
    uint64_t deadline = tr_now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) { /* pcscd may need a moment between creating its socket and answering */
        tr_err sub;
        if (tr_pcsc_open(&p, &sub) == 0)
            break;
        if (tr_now_ns() > deadline) {
            *e = sub;
            tr_err_prefix(e, "private pcscd");
            return -1;
        }
        tr_sleep_ms(10);
    }
    int rc = 0;
    for (size_t i = 0; i < v->nslots && rc == 0; i++) {
        if (v->slots[i].group != g)
            continue;
        char found[256];
        rc = tr_pcsc_wait_reader(p, v->slots[i].reader, true, ms_left(deadline), found, sizeof found, e);
        if (rc == 0 && cards && slot_expects_card(&rig->slots[i]))
            rc = tr_pcsc_wait_card(p, v->slots[i].reader, true, ms_left(deadline), e);
        if (rc < 0)
            tr_err_prefix(e, "slot %s (token log: %s/%s.vtoken.log)", v->slots[i].name, v->dir, v->slots[i].name);
    }
    tr_pcsc_close(p);
    return rc;
}

/* wait_group of every group, each in a child process of its own (a
 * process talks to one pcscd), all at once. The first failure is e. */
static int wait_groups_apart(const tr_vrig *v, const tr_rig_cfg *rig, unsigned timeout_ms, bool cards, tr_err *e)
{
    pid_t pid[TR_VRIG_MAX_GROUPS];
    int fd[TR_VRIG_MAX_GROUPS];
    fflush(NULL);
    for (size_t g = 0; g < v->ngroups; g++) {
        int pfd[2];
        if (pipe2(pfd, O_CLOEXEC) < 0 || (pid[g] = fork()) < 0) {
            for (size_t k = 0; k < g; k++) /* those started end with their wait */
                waitpid(pid[k], NULL, 0), close(fd[k]);
            return tr_fail(e, TR_E_RIG, "waiting for the rig's pcscd %zu: %m", g);
        }
        if (pid[g] == 0) {
            close(pfd[0]);
            tr_err ce;
            tr_err_clear(&ce);
            int rc = wait_group(v, rig, g, timeout_ms, cards, &ce);
            if (rc < 0 && write(pfd[1], &ce, sizeof ce) != (ssize_t)sizeof ce)
                _exit(2);
            _exit(rc < 0);
        }
        close(pfd[1]);
        fd[g] = pfd[0];
    }
    int rc = 0;
    for (size_t g = 0; g < v->ngroups; g++) {
        tr_err ce;
        int st = 0;
        ssize_t n = read(fd[g], &ce, sizeof ce);
        while (waitpid(pid[g], &st, 0) < 0 && errno == EINTR)
            ;
        close(fd[g]);
        if (rc == 0 && (!WIFEXITED(st) || WEXITSTATUS(st))) {
            rc = -1;
            if (n == (ssize_t)sizeof ce)
                *e = ce;
            else
                tr_fail(e, TR_E_RIG, "waiting for the readers of pcscd %zu failed (status %d)", g, st);
        }
    }
    return rc;
}

/* Every slot's reader present (and, when cards, its token too): of the
 * group this process talks to, or of every group. */
static int wait_slots(const tr_vrig *v, const tr_rig_cfg *rig, unsigned timeout_ms, bool cards, tr_err *e)
{
    if (v->active >= 0)
        return wait_group(v, rig, (size_t)v->active, timeout_ms, cards, e);
    if (v->ngroups == 1)
        return wait_group(v, rig, 0, timeout_ms, cards, e);
    return wait_groups_apart(v, rig, timeout_ms, cards, e);
}

/* Stop what an up that failed started (by PID). The directory stays: the
 * logs named in the error message are the way to find out what went wrong. */
static void stop_started(tr_vrig *v)
{
    for (size_t i = 0; i < v->nslots; i++)
        stop_pid(v->slots[i].pid, "vtoken");
    for (size_t g = 0; g < v->ngroups; g++)
        stop_pid(v->groups[g].pid, "pcscd");
}

/* A rig already up in dir is refused; one left by a dead process is taken
 * down (saying so). */
static int clear_dir(const tr_rig_cfg *rig, const char *dir, tr_err *e)
{
    char state[TR_PATH_MAX + 16];
    snprintf(state, sizeof state, "%s/state.ini", dir);
    if (access(state, F_OK) != 0)
        return 0;
    tr_vrig *old = NULL;
    tr_err ignored;
    char why[256];
    if (tr_vrig_attach(dir, &old, &ignored) == 0 && !tr_vrig_stale(old, why, sizeof why)) {
        tr_vrig_free(old);
        return tr_fail(e, TR_E_RIG, "a virtual rig is already up in %s (tokenrig rig down --rig %s)", dir,
                       rig->path);
    }
    if (!old)
        snprintf(why, sizeof why, "its pcscd is gone");
    tr_vrig_free(old);
    fprintf(stderr, "tokenrig: the virtual rig in %s was left by a dead process (%s): taking it down\n", dir, why);
    tr_vrig_reap(dir);
    return 0;
}

static tr_vrig *vrig_new(const tr_rig_cfg *rig, const char *dir, tr_err *e)
{
    tr_vrig *v = calloc(1, sizeof *v);
    if (v && !(v->slots = calloc(rig->nslots ? rig->nslots : 1, sizeof *v->slots))) {
        free(v);
        v = NULL;
    }
    if (!v) {
        tr_fail(e, TR_E_NOMEM, "out of memory");
        return NULL;
    }
    tr_strlcpy(v->dir, dir, sizeof v->dir);
    tr_strlcpy(v->nv, rig->nv_dir, sizeof v->nv);
    v->active = -1;
    v->nslots = rig->nslots;
    /* one pcscd serves at most 16 readers (PCSCLITE_MAX_READERS_CONTEXTS) */
    v->ngroups = (rig->nslots + TR_VRIG_GROUP_SLOTS - 1) / TR_VRIG_GROUP_SLOTS;
    if (v->ngroups == 0)
        v->ngroups = 1;
    for (size_t i = 0; i < rig->nslots; i++)
        tr_strlcpy(v->slots[i].name, rig->slots[i].name, sizeof v->slots[i].name);
    return v;
}

/* reader.conf, every group's pcscd, until each has its readers. From
 * choosing free ports until vpcd has bound them another rig coming up on
 * this machine could choose the same ones: one at a time. */
static int start_daemons(tr_vrig *v, const tr_rig_cfg *rig, unsigned timeout_ms, tr_err *e)
{
    int lock = ports_lock(e);
    if (lock < 0)
        return -1;
    int rc = write_reader_conf(v, rig, e);
    for (size_t g = 0; g < v->ngroups && rc == 0; g++)
        rc = start_pcscd(v, g, e);
    if (rc == 0)
        rc = write_state(v, e);
    for (size_t g = 0; g < v->ngroups && rc == 0; g++)
        rc = wait_pcscd(v, g, timeout_ms, e);
    if (rc == 0)
        rc = wait_slots(v, rig, timeout_ms, false, e);
    close(lock);
    return rc;
}

int tr_vrig_up(const tr_rig_cfg *rig, const char *dir, unsigned timeout_ms, tr_vrig **out, tr_err *e)
{
    if (!tr_rig_is_virtual(rig))
        return tr_fail(e, TR_E_RIG, "%s: only rigs whose slots are all virtual can be brought up", rig->path);
    if (rig->nslots > TR_VRIG_GROUP_SLOTS * TR_VRIG_MAX_GROUPS)
        return tr_fail(e, TR_E_CONFIG, "%s: %zu virtual slots, at most %d (%d pcscds of %d readers)", rig->path,
                       rig->nslots, TR_VRIG_GROUP_SLOTS * TR_VRIG_MAX_GROUPS, TR_VRIG_MAX_GROUPS,
                       TR_VRIG_GROUP_SLOTS);
    if (strlen(dir) > 60)
        return tr_fail(e, TR_E_RIG, "rig directory '%s' is too long: UNIX socket paths inside it must stay "
                       "under 108 bytes (use a shorter TOKENRIG_VRIG_DIR)", dir);
    if (clear_dir(rig, dir, e) < 0)
        return -1;
    tr_vrig *v = vrig_new(rig, dir, e);
    if (!v)
        return -1;
    if (mkdirs(dir, e) < 0 || (v->nv[0] && mkdirs(v->nv, e) < 0) || make_pki(v, rig, e) < 0 ||
        start_daemons(v, rig, timeout_ms, e) < 0)
        goto fail;
    for (size_t i = 0; i < rig->nslots; i++)
        if (start_token(v, &rig->slots[i], &v->slots[i], e) < 0)
            goto fail;
    if (write_state(v, e) < 0 || wait_slots(v, rig, timeout_ms, true, e) < 0)
        goto fail;
    *out = v;
    return 0;
fail:
    stop_started(v);
    char state[TR_PATH_MAX + 16];
    snprintf(state, sizeof state, "%s/state.ini", dir);
    unlink(state);
    tr_vrig_free(v);
    return -1;
}

/* What the state file in dir recorded (even partly); NULL on no memory. */
static tr_vrig *read_state(const char *dir, int *rc)
{
    tr_vrig *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    tr_strlcpy(v->dir, dir, sizeof v->dir);
    v->active = -1;
    v->ngroups = 1; /* [pcscd N] sections add the others */
    char state[TR_PATH_MAX + 16];
    snprintf(state, sizeof state, "%s/state.ini", dir);
    *rc = ini_parse(state, state_key, v);
    return v;
}

int tr_vrig_attach(const char *dir, tr_vrig **out, tr_err *e)
{
    int rc;
    tr_vrig *v = read_state(dir, &rc);
    if (!v)
        return tr_fail(e, TR_E_NOMEM, "out of memory");
    if (rc != 0 || !v->groups[0].socket[0]) {
        tr_vrig_free(v);
        return tr_fail(e, TR_E_RIG, "no virtual rig in %s (bring one up: tokenrig rig up --rig FILE)", dir);
    }
    if (!pid_is_ours(v->groups[0].pid, "pcscd")) {
        tr_vrig_free(v);
        return tr_fail(e, TR_E_RIG, "the virtual rig in %s is down (its pcscd is gone)", dir);
    }
    /* one pcscd: this process talks to it (a process that already talks to
     * another fails when it reaches for a reader, saying so) */
    tr_err ignored;
    if (v->ngroups == 1)
        tr_pcsc_use_socket(v->groups[0].socket, &ignored);
    *out = v;
    return 0;
}

int tr_vrig_stop(const tr_vrig *v, tr_err *e)
{
    (void)e;
    if (!v)
        return 0;
    for (size_t i = 0; i < v->nslots; i++)
        stop_pid(v->slots[i].pid, "vtoken");
    for (size_t g = 0; g < v->ngroups; g++)
        stop_pid(v->groups[g].pid, "pcscd");
    if (v->dir[0])
        nftw(v->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

int tr_vrig_down(tr_vrig *v, tr_err *e)
{
    int rc = tr_vrig_stop(v, e);
    tr_vrig_free(v);
    return rc;
}

void tr_vrig_free(tr_vrig *v)
{
    if (!v)
        return;
    free(v->slots);
    free(v);
}

const char *tr_vrig_dir(const tr_vrig *v) { return v->dir; }
const char *tr_vrig_socket(const tr_vrig *v) { return v->groups[0].socket; }
size_t tr_vrig_groups(const tr_vrig *v) { return v->ngroups; }
const char *tr_vrig_group_socket(const tr_vrig *v, size_t g) { return g < v->ngroups ? v->groups[g].socket : NULL; }
pid_t tr_vrig_group_pcscd(const tr_vrig *v, size_t g) { return g < v->ngroups ? v->groups[g].pid : -1; }

static const vslot *find_vslot(const tr_vrig *v, const char *slot)
{
    for (size_t i = 0; i < v->nslots; i++)
        if (!strcmp(v->slots[i].name, slot))
            return &v->slots[i];
    return NULL;
}

const char *tr_vrig_reader(const tr_vrig *v, const char *slot)
{
    const vslot *s = find_vslot(v, slot);
    return s ? s->reader : NULL;
}

pid_t tr_vrig_token_pid(const tr_vrig *v, const char *slot)
{
    const vslot *s = find_vslot(v, slot);
    return s ? s->pid : -1;
}

int tr_vrig_slot_group(const tr_vrig *v, const char *slot)
{
    const vslot *s = find_vslot(v, slot);
    return s ? (int)s->group : -1;
}

int tr_vrig_use_group(tr_vrig *v, size_t g, tr_err *e)
{
    if (g >= v->ngroups)
        return tr_fail(e, TR_E_INTERNAL, "the virtual rig has no pcscd %zu", g);
    if (tr_pcsc_use_socket(v->groups[g].socket, e) < 0)
        return -1;
    v->active = (int)g;
    return 0;
}

int tr_vrig_use_slot(const tr_vrig *v, const char *slot, tr_err *e)
{
    int g = tr_vrig_slot_group(v, slot);
    if (g < 0)
        return tr_fail(e, TR_E_RIG, "slot %s is not part of the running virtual rig", slot);
    return tr_pcsc_use_socket(v->groups[g].socket, e);
}

/* One request line to the token's control socket, one reply line back. */
static int control_call(const tr_vrig *v, const char *slot, const char *cmd, char *reply, size_t cap, tr_err *e)
{
    const vslot *s = find_vslot(v, slot);
    if (!s)
        return tr_fail(e, TR_E_RIG, "no slot '%s' in the virtual rig", slot);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return tr_fail(e, TR_E_RIG, "socket: %m");
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (!tr_strlcpy(a.sun_path, s->control, sizeof a.sun_path)) {
        close(fd);
        return tr_fail(e, TR_E_RIG, "control socket path too long: %s", s->control);
    }
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return tr_fail(e, TR_E_RIG, "slot %s: the virtual token does not answer on %s (%m): has it died?",
                       slot, s->control);
    }
    char line[64];
    int n = snprintf(line, sizeof line, "%s\n", cmd);
    if (write(fd, line, (size_t)n) != n) {
        close(fd);
        return tr_fail(e, TR_E_RIG, "slot %s: control write: %m", slot);
    }
    size_t got = 0;
    uint64_t deadline = tr_now_ns() + CONTROL_TIMEOUT_MS * 1000000ull;
    while (got + 1 < cap) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        uint64_t now = tr_now_ns();
        int left = now >= deadline ? 0 : (int)((deadline - now) / 1000000u);
        if (poll(&pfd, 1, left) <= 0) {
            close(fd);
            return tr_fail(e, TR_E_RIG, "slot %s: no answer to '%s' from the virtual token", slot, cmd);
        }
        ssize_t r = read(fd, reply + got, 1);
        if (r <= 0 || reply[got] == '\n')
            break;
        got++;
    }
    reply[got] = '\0';
    close(fd);
    if (strncmp(reply, "ok", 2) != 0)
        return tr_fail(e, TR_E_RIG, "slot %s: virtual token refused '%s': %s", slot, cmd, reply);
    return 0;
}

int tr_vrig_power(const tr_vrig *v, const char *slot, bool on, tr_err *e)
{
    char reply[256];
    return control_call(v, slot, on ? "on" : "off", reply, sizeof reply, e);
}

int tr_vrig_respawn(tr_vrig *v, const tr_rig_cfg *rig, const char *slot, tr_err *e)
{
    const tr_slot_cfg *sc = tr_rig_find_slot(rig, slot);
    vslot *vs = (vslot *)find_vslot(v, slot);
    if (!sc || !vs)
        return tr_fail(e, TR_E_RIG, "no slot '%s' in the virtual rig", slot);
    stop_pid(vs->pid, "vtoken");
    /* PC/SC must have seen the old token leave before the new one arrives,
     * or a client could connect to the stale card and fail its first APDU. */
    tr_pcsc *p;
    if (tr_vrig_use_slot(v, slot, e) < 0 || tr_pcsc_open(&p, e) < 0)
        return -1;
    int rc = tr_pcsc_wait_card(p, vs->reader, false, 5000, e);
    if (rc == 0)
        rc = start_token(v, sc, vs, e) < 0 || write_state(v, e) < 0 ? -1 : 0;
    if (rc == 0 && slot_expects_card(sc))
        rc = tr_pcsc_wait_card(p, vs->reader, true, 5000 + sc->vt.ready_ms, e);
    tr_pcsc_close(p);
    return rc;
}

int tr_vrig_token_status(const tr_vrig *v, const char *slot, char *out, size_t cap, tr_err *e)
{
    return control_call(v, slot, "status", out, cap, e);
}

void tr_vrig_set_owner(tr_vrig *v, pid_t pid)
{
    v->owner_pid = pid;
    v->owner_start = pid > 0 ? proc_start_time(pid) : 0;
}

int tr_vrig_save(const tr_vrig *v, tr_err *e)
{
    return write_state(v, e);
}

bool tr_vrig_owned(const tr_vrig *v)
{
    return v->owner_pid > 0;
}

const char *tr_vrig_nv_dir(const tr_vrig *v)
{
    return v->nv;
}

bool tr_vrig_stale(const tr_vrig *v, char *why, size_t cap)
{
    if (v->owner_pid > 0 && (proc_start_time(v->owner_pid) == 0 ||
                             (v->owner_start && proc_start_time(v->owner_pid) != v->owner_start))) {
        snprintf(why, cap, "its owner, PID %d, is gone", (int)v->owner_pid);
        return true;
    }
    for (size_t g = 0; g < v->ngroups; g++)
        if (!pid_is_ours(v->groups[g].pid, "pcscd")) {
            snprintf(why, cap, "its pcscd, PID %d, is gone", (int)v->groups[g].pid);
            return true;
        }
    for (size_t i = 0; i < v->nslots; i++)
        if (!pid_is_ours(v->slots[i].pid, "vtoken")) {
            snprintf(why, cap, "slot %s's token process, PID %d, is gone", v->slots[i].name, (int)v->slots[i].pid);
            return true;
        }
    return false;
}

int tr_vrig_restart_pcscd(tr_vrig *v, const tr_rig_cfg *rig, unsigned timeout_ms, tr_err *e)
{
    /* the pcscd this process talks to: of a rig of more than 16 slots, the
     * one its group child was given (tr_vrig_use_group) */
    if (v->active < 0 && v->ngroups > 1)
        return tr_fail(e, TR_E_INTERNAL, "restarting pcscd: the rig has %zu, and this process talks to none",
                       v->ngroups);
    size_t g = v->active < 0 ? 0 : (size_t)v->active;
    stop_pid(v->groups[g].pid, "pcscd");
    /* a dead daemon leaves its socket file behind: the wait below must see
     * the new one */
    unlink(v->groups[g].socket);
    int lock = ports_lock(e); /* its vpcd ports are free until it binds them */
    if (lock < 0)
        return -1;
    int rc = start_pcscd(v, g, e) < 0 || wait_pcscd(v, g, timeout_ms, e) < 0 || write_state(v, e) < 0 ? -1 : 0;
    if (rc == 0)
        rc = wait_group(v, rig, g, timeout_ms, false, e);
    close(lock);
    /* a token the dead daemon's last power cycle left off comes back on;
     * the tokens reconnect to vpcd by themselves (vtoken retries while its
     * connection is down) */
    for (size_t i = 0; i < v->nslots && rc == 0; i++)
        if (v->slots[i].group == g)
            rc = tr_vrig_power(v, v->slots[i].name, true, e);
    if (rc == 0)
        rc = wait_group(v, rig, g, timeout_ms, true, e);
    if (rc < 0)
        tr_err_prefix(e, "restarting the rig's pcscd");
    return rc;
}

void tr_vrig_reap(const char *dir)
{
    int rc;
    tr_vrig *v = read_state(dir, &rc); /* whatever it recorded, even partly */
    if (!v)
        return;
    stop_started(v);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    tr_vrig_free(v);
}
