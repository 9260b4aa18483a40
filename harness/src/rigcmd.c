/* rigcmd.c — see rigcmd.h. */
#include "rigcmd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

extern char **environ;

/* How much of the command's stderr is kept, and how many lines of it go
 * into the error message. */
#define ERR_KEEP 768
#define ERR_LINES 3

/* environ with vars over it ("NAME=value" each, NULL-terminated), built
 * before fork: the child may only exec. */
static char **make_env(const tr_rigcmd_var *vars, size_t nvars)
{
    size_t n = 0;
    while (environ && environ[n])
        n++;
    char **env = calloc(n + nvars + 1, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool overridden = false;
        for (size_t j = 0; j < nvars && !overridden; j++) {
            size_t len = strlen(vars[j].name);
            overridden = !strncmp(environ[i], vars[j].name, len) && environ[i][len] == '=';
        }
        if (!overridden)
            env[k++] = environ[i];
    }
    size_t k0 = k;
    for (size_t j = 0; j < nvars; j++, k++) {
        if (asprintf(&env[k], "%s=%s", vars[j].name, vars[j].value ? vars[j].value : "") < 0) {
            while (k > k0)
                free(env[--k]);
            free(env);
            return NULL;
        }
    }
    return env;
}

static void free_env(char **env, size_t nvars)
{
    if (!env)
        return;
    size_t n = 0;
    while (env[n])
        n++;
    for (size_t i = n - nvars; i < n; i++)
        free(env[i]);
    free(env);
}

/* In the child: its own process group, stdin/stdout /dev/null, stderr the
 * pipe, then the shell. Async-signal-safe calls only. */
static void child_exec(const char *cmdline, char **env, int err_fd, int nul)
{
    static const char msg[] = "tokenrig: cannot run /bin/sh\n";
    setpgid(0, 0);
    dup2(nul, 0);
    dup2(nul, 1);
    dup2(err_fd, 2);
    char *argv[] = {"sh", "-c", (char *)cmdline, NULL};
    execve("/bin/sh", argv, env);
    if (write(2, msg, sizeof msg - 1) < 0)
        _exit(127);
    _exit(127);
}

/* Keep what fits of the pipe's content; false at end of file. */
static bool read_some(int fd, char *buf, size_t cap, size_t *n)
{
    char tmp[512];
    ssize_t r = read(fd, tmp, sizeof tmp);
    if (r < 0)
        return errno == EINTR || errno == EAGAIN;
    if (r == 0)
        return false;
    size_t take = (size_t)r < cap - 1 - *n ? (size_t)r : cap - 1 - *n;
    memcpy(buf + *n, tmp, take);
    *n += take;
    buf[*n] = '\0';
    return true;
}

/* Wait for pid's end, collecting its stderr from fd, until deadline.
 * 0: ended (*status set); 1: still running at the deadline. */
static int wait_end(pid_t pid, int fd, uint64_t deadline, char *err, size_t cap, int *status)
{
    size_t n = 0;
    bool open_fd = true;
    err[0] = '\0';
    for (;;) {
        pid_t w = waitpid(pid, status, WNOHANG);
        if (w == pid) {
            /* what it wrote before it ended (a child it left may keep the pipe open) */
            while (open_fd && poll(&(struct pollfd){.fd = fd, .events = POLLIN}, 1, 0) > 0)
                open_fd = read_some(fd, err, cap, &n);
            return 0;
        }
        uint64_t now = tr_now_ns();
        if (now >= deadline)
            return 1;
        uint64_t left_ms = (deadline - now) / 1000000u + 1;
        int slice = left_ms < 20 ? (int)left_ms : 20;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (open_fd && poll(&p, 1, slice) > 0)
            open_fd = read_some(fd, err, cap, &n);
        else if (!open_fd)
            poll(NULL, 0, slice);
    }
}

/* The first ERR_LINES non-empty lines of s, joined with " | ". */
static void first_lines(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    int lines = 0;
    out[0] = '\0';
    while (*s && lines < ERR_LINES && n + 1 < cap) {
        size_t len = strcspn(s, "\n");
        if (len > 0) {
            int w = snprintf(out + n, cap - n, "%s%.*s", lines ? " | " : "", (int)len, s);
            if (w < 0 || (size_t)w >= cap - n)
                return; /* cut at cap */
            n += (size_t)w;
            lines++;
        }
        s += len + (s[len] == '\n');
    }
}

static int report_end(const char *what, const char *cmdline, int status, const char *err, tr_err *e)
{
    char lines[400];
    first_lines(err, lines, sizeof lines);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    char how[64];
    if (WIFEXITED(status))
        snprintf(how, sizeof how, "exit status %d", WEXITSTATUS(status));
    else
        snprintf(how, sizeof how, "signal %s", WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "?");
    return tr_fail(e, TR_E_RIG, "%s command failed (%s): %s%s%s", what, how, cmdline,
                   lines[0] ? ": stderr: " : " (no stderr)", lines);
}

int tr_rigcmd_run(const char *what, const char *cmdline, const tr_rigcmd_var *vars, size_t nvars,
                  unsigned timeout_ms, tr_err *e)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return tr_fail(e, TR_E_RIG, "%s: pipe: %m", what);
    int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
    char **env = make_env(vars, nvars);
    pid_t pid = nul >= 0 && env ? fork() : -1;
    if (pid == 0)
        child_exec(cmdline, env, pfd[1], nul);
    int fork_errno = errno;
    close(pfd[1]);
    if (nul >= 0)
        close(nul);
    free_env(env, nvars);
    if (pid < 0) {
        close(pfd[0]);
        errno = fork_errno;
        return tr_fail(e, TR_E_RIG, "%s: cannot start the command %s: %m", what, cmdline);
    }
    setpgid(pid, pid); /* also here: the group exists before we may kill it */
    uint64_t t0 = tr_now_ns();
    char err[ERR_KEEP];
    int status = 0;
    int late = wait_end(pid, pfd[0], t0 + (uint64_t)timeout_ms * 1000000u, err, sizeof err, &status);
    if (late) {
        kill(-pid, SIGKILL); /* the shell and everything it started */
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    close(pfd[0]);
    if (late) {
        char lines[400];
        first_lines(err, lines, sizeof lines);
        return tr_fail(e, TR_E_RIG, "%s command did not end within %u ms (power_timeout_ms): killed it "
                       "(process group %d): %s%s%s", what, timeout_ms, (int)pid, cmdline,
                       lines[0] ? ": stderr: " : "", lines);
    }
    return report_end(what, cmdline, status, err, e);
}
