/* libcall.c — see libcall.h. */
#include "libcall.h"

#include <string.h>

static const tr_libcall_iface *const interfaces[] = {&tr_skf_calls, &tr_p11_calls};

const tr_libcall_iface *tr_libcall_by_keyword(const char *kw)
{
    for (size_t k = 0; k < sizeof interfaces / sizeof interfaces[0]; k++)
        if (!strcmp(interfaces[k]->keyword, kw))
            return interfaces[k];
    return NULL;
}
