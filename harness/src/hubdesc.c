#include "hubdesc.h"

#include <stdio.h>
#include <string.h>

const char *tr_power_switching_name(tr_power_switching s)
{
    switch (s) {
    case TR_PWR_GANGED: return "ganged";
    case TR_PWR_PER_PORT: return "per-port";
    case TR_PWR_NONE: return "none";
    }
    return "?";
}

/* Fixed part of the USB 2 hub descriptor (bLength .. bHubContrCurrent). */
#define HUB_DESC_FIXED 7
#define SS_HUB_DESC_SIZE 12
#define USB2_MAX_PORTS 255
#define SS_MAX_PORTS 15

int tr_hub_desc_parse(const uint8_t *buf, size_t len, bool superspeed,
                      tr_hub_desc *out, tr_err *e)
{
    const uint8_t want_type = superspeed ? TR_USB_DT_SS_HUB : TR_USB_DT_HUB;
    const size_t fixed = superspeed ? SS_HUB_DESC_SIZE : HUB_DESC_FIXED;
    if (!buf || len < 2)
        return tr_fail(e, TR_E_RIG, "hub descriptor: %zu bytes, too short", len);
    if (buf[1] != want_type)
        return tr_fail(e, TR_E_RIG, "hub descriptor: type 0x%02X, expected 0x%02X",
                       buf[1], want_type);
    /* Only trust bytes that are both claimed (bLength) and received (len). */
    size_t n = buf[0] < len ? buf[0] : len;
    if (buf[0] < fixed || n < fixed)
        return tr_fail(e, TR_E_RIG, "hub descriptor: bLength %u, %zu bytes received, "
                       "need at least %zu", buf[0], len, fixed);
    uint8_t nports = buf[2];
    if (nports == 0 || (superspeed && nports > SS_MAX_PORTS))
        return tr_fail(e, TR_E_RIG, "hub descriptor: %u ports is not a valid hub", nports);
    /* USB 2: the DeviceRemovable bitmap (bit 0 reserved, one bit per port)
     * must be there, as the Linux hub driver also insists. */
    if (!superspeed && n < HUB_DESC_FIXED + (size_t)nports / 8 + 1)
        return tr_fail(e, TR_E_RIG, "hub descriptor: %zu bytes cannot hold the "
                       "DeviceRemovable bits of %u ports", n, nports);
    memset(out, 0, sizeof *out);
    out->superspeed = superspeed;
    out->nports = nports;
    out->characteristics = (uint16_t)(buf[3] | buf[4] << 8);
    unsigned lpsm = out->characteristics & 3u;
    out->switching = lpsm == 0 ? TR_PWR_GANGED : lpsm == 1 ? TR_PWR_PER_PORT : TR_PWR_NONE;
    out->compound = (out->characteristics & 4u) != 0;
    out->overcurrent_mode = (uint8_t)((out->characteristics >> 3) & 3u);
    out->power_good_ms = 2u * buf[5];
    return 0;
}

bool tr_hub_desc_per_port(const tr_hub_desc *d)
{
    return d->switching == TR_PWR_PER_PORT ||
           (d->switching == TR_PWR_GANGED && d->nports == 1);
}

void tr_port_status_decode(uint16_t status, uint16_t change, bool superspeed,
                           tr_port_status *out)
{
    memset(out, 0, sizeof *out);
    out->superspeed = superspeed;
    out->status = status;
    out->change = change;
    out->connected = status & 0x0001;
    out->enabled = status & 0x0002;
    out->over_current = status & 0x0008;
    out->reset = status & 0x0010;
    if (superspeed) {
        out->link_state = (uint8_t)((status >> 5) & 0x0F);
        out->powered = status & 0x0200;
        out->ss_speed = (uint8_t)((status >> 10) & 0x07);
        out->suspended = out->link_state == 3; /* U3 */
    } else {
        out->suspended = status & 0x0004;
        out->powered = status & 0x0100;
        out->low_speed = status & 0x0200;
        out->high_speed = status & 0x0400;
        out->test_mode = status & 0x0800;
        out->indicator = status & 0x1000;
    }
}

int tr_port_status_parse(const uint8_t *buf, size_t len, bool superspeed,
                         tr_port_status *out, tr_err *e)
{
    if (!buf || len != 4)
        return tr_fail(e, TR_E_RIG, "port status: %zu bytes, expected 4", len);
    tr_port_status_decode((uint16_t)(buf[0] | buf[1] << 8),
                          (uint16_t)(buf[2] | buf[3] << 8), superspeed, out);
    return 0;
}

const char *tr_usb3_link_state_name(uint8_t ls)
{
    static const char *const names[] = {
        "U0", "U1", "U2", "U3", "SS.Disabled", "Rx.Detect", "SS.Inactive",
        "Polling", "Recovery", "HotReset", "Compliance", "Loopback",
    };
    return ls < sizeof names / sizeof names[0] ? names[ls] : "?";
}

/* Append " word" to buf at *pos, never past cap. */
static void put_word(char *buf, size_t cap, size_t *pos, const char *word)
{
    if (*pos >= cap)
        return;
    int n = snprintf(buf + *pos, cap - *pos, "%s%s", *pos ? " " : "", word);
    if (n > 0)
        *pos += (size_t)n < cap - *pos ? (size_t)n : cap - *pos - 1;
}

char *tr_port_status_describe(const tr_port_status *s, char *buf, size_t cap)
{
    if (!cap)
        return buf;
    buf[0] = '\0';
    size_t pos = 0;
    char hex[8];
    snprintf(hex, sizeof hex, "%04x", s->status);
    put_word(buf, cap, &pos, hex);
    if (s->powered)
        put_word(buf, cap, &pos, "power");
    else
        put_word(buf, cap, &pos, "off");
    if (s->superspeed) {
        if (s->connected || s->enabled)
            put_word(buf, cap, &pos, s->ss_speed == 0 ? "5gbps" : "ss+");
        put_word(buf, cap, &pos, tr_usb3_link_state_name(s->link_state));
    } else {
        if (s->low_speed)
            put_word(buf, cap, &pos, "lowspeed");
        if (s->high_speed)
            put_word(buf, cap, &pos, "highspeed");
        if (s->suspended)
            put_word(buf, cap, &pos, "suspend");
        if (s->test_mode)
            put_word(buf, cap, &pos, "test");
        if (s->indicator)
            put_word(buf, cap, &pos, "indicator");
    }
    if (s->reset)
        put_word(buf, cap, &pos, "reset");
    if (s->over_current)
        put_word(buf, cap, &pos, "oc");
    if (s->enabled)
        put_word(buf, cap, &pos, "enable");
    if (s->connected)
        put_word(buf, cap, &pos, "connect");
    if (s->change) {
        /* Change bits 0..4 share their meaning in USB 2 and 3 except bit 2
         * (USB 2 C_SUSPEND, reserved in USB 3); 5..7 are USB 3 only. */
        static const char *const names[] = {
            "c_connect", "c_enable", "c_suspend", "c_oc", "c_reset",
            "c_bh_reset", "c_link", "c_config_err",
        };
        put_word(buf, cap, &pos, "[");
        for (unsigned b = 0; b < 8; b++)
            if (s->change & (1u << b))
                put_word(buf, cap, &pos, names[b]);
        put_word(buf, cap, &pos, "]");
    }
    return buf;
}

int tr_bos_total_length(const uint8_t *buf, size_t len)
{
    if (!buf || len < 5 || buf[1] != TR_USB_DT_BOS || buf[0] < 5)
        return -1;
    int total = buf[2] | buf[3] << 8;
    return total < buf[0] ? -1 : total;
}

#define DT_DEVICE_CAPABILITY 0x10
#define CAP_CONTAINER_ID 0x04
#define CONTAINER_ID_CAP_SIZE 20

bool tr_bos_container_id(const uint8_t *buf, size_t len, uint8_t id[16])
{
    int total = tr_bos_total_length(buf, len);
    if (total < 0)
        return false;
    size_t end = (size_t)total < len ? (size_t)total : len;
    /* Walk the capabilities; each must be at least 3 bytes and fit. */
    for (size_t off = buf[0]; off + 3 <= end;) {
        size_t blen = buf[off];
        if (blen < 3 || off + blen > end)
            return false;
        if (buf[off + 1] == DT_DEVICE_CAPABILITY && buf[off + 2] == CAP_CONTAINER_ID) {
            if (blen < CONTAINER_ID_CAP_SIZE)
                return false;
            memcpy(id, buf + off + 4, 16); /* byte 3 is bReserved */
            return true;
        }
        off += blen;
    }
    return false;
}

/* Parse a decimal 1..255 at *p, advancing it; no sign, no leading zeros
 * beyond a single digit, at most 3 digits. */
static bool parse_u8_part(const char **p, int *out)
{
    const char *s = *p;
    int v = 0, digits = 0;
    while (*s >= '0' && *s <= '9') {
        if (++digits > 3)
            return false;
        v = v * 10 + (*s - '0');
        s++;
    }
    if (digits == 0 || v < 1 || v > 255 || (digits > 1 && **p == '0'))
        return false;
    *out = v;
    *p = s;
    return true;
}

bool tr_usb_loc_parse(const char *s, tr_usb_loc *out)
{
    tr_usb_loc loc = {0};
    if (!s || !parse_u8_part(&s, &loc.bus))
        return false;
    if (*s == '\0') {
        *out = loc;
        return true;
    }
    if (*s != '-')
        return false;
    char sep = '-';
    while (*s == sep) {
        s++;
        int port;
        if (loc.nports >= TR_USB_MAX_DEPTH || !parse_u8_part(&s, &port))
            return false;
        loc.ports[loc.nports++] = (uint8_t)port;
        sep = '.';
    }
    if (*s != '\0')
        return false;
    *out = loc;
    return true;
}

static bool loc_valid(const tr_usb_loc *loc)
{
    if (loc->bus < 1 || loc->bus > 255 || loc->nports < 0 || loc->nports > TR_USB_MAX_DEPTH)
        return false;
    for (int i = 0; i < loc->nports; i++)
        if (loc->ports[i] == 0)
            return false;
    return true;
}

bool tr_usb_loc_format(const tr_usb_loc *loc, char *buf, size_t cap)
{
    if (!cap)
        return false;
    buf[0] = '\0';
    if (!loc_valid(loc))
        return false;
    size_t pos = 0;
    int n = snprintf(buf, cap, "%d", loc->bus);
    if (n < 0 || (size_t)n >= cap)
        return false;
    pos = (size_t)n;
    for (int i = 0; i < loc->nports; i++) {
        n = snprintf(buf + pos, cap - pos, "%c%u", i ? '.' : '-', loc->ports[i]);
        if (n < 0 || (size_t)n >= cap - pos) {
            buf[0] = '\0';
            return false;
        }
        pos += (size_t)n;
    }
    return true;
}

bool tr_usb_loc_child(const tr_usb_loc *hub, int port, tr_usb_loc *out)
{
    if (!loc_valid(hub) || hub->nports >= TR_USB_MAX_DEPTH || port < 1 || port > 255)
        return false;
    *out = *hub;
    out->ports[out->nports++] = (uint8_t)port;
    return true;
}

bool tr_usb_loc_same_chain(const tr_usb_loc *a, const tr_usb_loc *b)
{
    if (a->nports != b->nports || a->nports < 0 || a->nports > TR_USB_MAX_DEPTH)
        return false;
    return memcmp(a->ports, b->ports, (size_t)a->nports) == 0;
}

bool tr_usb_loc_equal(const tr_usb_loc *a, const tr_usb_loc *b)
{
    return a->bus == b->bus && tr_usb_loc_same_chain(a, b);
}

bool tr_usb_loc_sysfs_name(const tr_usb_loc *loc, char *buf, size_t cap)
{
    if (loc_valid(loc) && loc->nports == 0) {
        int n = snprintf(buf, cap, "usb%d", loc->bus);
        return n > 0 && (size_t)n < cap;
    }
    return tr_usb_loc_format(loc, buf, cap);
}

#define CCID_CHANNEL_USB 0x0020u

bool tr_channel_id_to_usb(uint32_t chid, int *bus, int *addr)
{
    if ((chid >> 16) != CCID_CHANNEL_USB)
        return false;
    int b = (int)((chid >> 8) & 0xFF), a = (int)(chid & 0xFF);
    if (b == 0 || a < 1 || a > 127)
        return false;
    *bus = b;
    *addr = a;
    return true;
}

uint32_t tr_usb_to_channel_id(int bus, int addr)
{
    return CCID_CHANNEL_USB << 16 | (uint32_t)(bus & 0xFF) << 8 | (uint32_t)(addr & 0xFF);
}
