/* tokenrig-skfhost — the process an SKF session's vendor library runs in
 * (skf.h). Started by the SKF layer with its socket as fd 3:
 *   tokenrig-skfhost LIBRARY [DEVINFO_SIZE [OUT_WIDTH]]
 * Not for people: it speaks skf_wire.h's protocol and exits when its
 * parent closes the socket.
 */
#include <stdio.h>
#include <stdlib.h>

#include "skf_wire.h"

/* the sanitizers' options: host_asan.c */

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
