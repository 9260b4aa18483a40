/* host_asan.c — linked into each library host (tokenrig-skfhost,
 * tokenrig-p11host): in a sanitizer build, a vendor library's SIGSEGV must
 * end the host with the signal (the parent reports it), not become a
 * sanitizer report and exit status 1. Unused in other builds.
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "handle_segv=0:handle_sigbus=0:handle_abort=0:handle_sigfpe=0:handle_sigill=0";
}

/* The same for ThreadSanitizer (make test-tsan). */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
    return "handle_segv=0:handle_sigbus=0:handle_abort=0:handle_sigfpe=0:handle_sigill=0";
}
