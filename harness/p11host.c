/* tokenrig-p11host — the process a PKCS#11 session's module runs in
 * (p11.h). Started by the PKCS#11 layer with its socket as fd 3:
 *   tokenrig-p11host MODULE
 * (a path, or a p11-kit module name). Not for people: it speaks
 * p11_wire.h's protocol and exits when its parent closes the socket.
 * The sanitizers' options: host_asan.c.
 */
#include <stdio.h>

#include "p11_wire.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: tokenrig-p11host MODULE (started by tokenrig, socket on fd 3)\n");
        return 2;
    }
    return tr_p11host_serve(3, argv[1]);
}
