/* fuzz_hubdesc — what a USB hub sends back, on arbitrary bytes (libFuzzer):
 * hub descriptors (USB 2 and SuperSpeed), port status, BOS container id,
 * status descriptions into small buffers, and location strings.
 * A crash or a sanitizer report is a bug; so is an accepted descriptor with
 * no ports, or a location that does not survive format -> parse.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hubdesc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_location(const uint8_t *data, size_t size)
{
    char s[48];
    size_t n = size < sizeof s - 1 ? size : sizeof s - 1;
    memcpy(s, data, n);
    s[n] = '\0';
    tr_usb_loc loc, back;
    if (!tr_usb_loc_parse(s, &loc))
        return;
    char text[TR_USB_LOC_MAX];
    if (!tr_usb_loc_format(&loc, text, sizeof text) || strcmp(text, s) != 0 ||
        !tr_usb_loc_parse(text, &back) || !tr_usb_loc_equal(&loc, &back))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size copy, so ASan sees any read past what the device sent */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    for (int ss = 0; ss < 2; ss++) {
        tr_hub_desc d;
        if (tr_hub_desc_parse(buf, size, ss, &d, NULL) == 0 && d.nports == 0)
            abort();
        tr_port_status st;
        if (tr_port_status_parse(buf, size, ss, &st, NULL) == 0) {
            char line[96], tiny[7];
            tr_port_status_describe(&st, line, sizeof line);
            tr_port_status_describe(&st, tiny, sizeof tiny);
        }
    }
    uint8_t id[16];
    (void)tr_bos_container_id(buf, size, id);
    free(buf);
    check_location(data, size);
    if (size >= 4) {
        int bus, addr;
        uint32_t chid = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 | (uint32_t)data[2] << 8 | data[3];
        if (tr_channel_id_to_usb(chid, &bus, &addr) && tr_usb_to_channel_id(bus, addr) != chid)
            abort();
    }
    return 0;
}
