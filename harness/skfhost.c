/* tokenrig-skfhost — the process an SKF session's vendor library runs in
 * (skf.h). Started by the SKF layer with its socket as fd 3:
 *   tokenrig-skfhost LIBRARY [DEVINFO_SIZE [OUT_WIDTH]]
 * Not for people: it speaks skf_wire.h's protocol and exits when its
 * parent closes the socket.
 */
#include <stdio.h>
#include <stdlib.h>

#include "skf_wire.h"

/* In a sanitizer build, a vendor library's SIGSEGV must end this process
 * with the signal (the parent reports it), not become a sanitizer report and
 * exit status 1. Unused in other builds. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "handle_segv=0:handle_sigbus=0:handle_abort=0:handle_sigfpe=0:handle_sigill=0";
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: tokenrig-skfhost LIBRARY [DEVINFO_SIZE [OUT_WIDTH]] (started by tokenrig, socket on fd 3)\n");
        return 2;
    }
    unsigned devinfo = argc >= 3 ? (unsigned)strtoul(argv[2], NULL, 10) : 0;
    unsigned width = argc >= 4 ? (unsigned)strtoul(argv[3], NULL, 10) : 8;
    return tr_skfhost_serve(3, argv[1], devinfo, width);
}
