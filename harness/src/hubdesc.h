/* hubdesc.h — pure decoding of USB hub class data and USB locations.
 *
 * Owns: the hub descriptor (USB 2.0 §11.23.2.1 type 0x29, USB 3.x §10.15.2.1
 * type 0x2A), port status/change bits (USB 2.0 §11.24.2.7, USB 3.x
 * §10.16.2.6), the Container ID in a BOS descriptor (USB 3.x §9.6.2.3),
 * USB locations "bus-port.port..." exactly as uhubctl writes them, and the
 * PC/SC CCID SCARD_ATTR_CHANNEL_ID <-> bus/address mapping.
 * Must not: do any I/O (no libusb, no sysfs, no PC/SC). Everything here takes
 * bytes a device sent (untrusted: any length, any content) and returns
 * values, so it can be unit-tested and fuzzed on its own. usbhub.h does the
 * talking.
 */
#ifndef TR_HUBDESC_H
#define TR_HUBDESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Requests and constants of the hub class (USB 2.0 §11.24.2, table 11-15/17). */
#define TR_USB_DT_HUB 0x29          /* USB 2.0 hub descriptor */
#define TR_USB_DT_SS_HUB 0x2A       /* SuperSpeed hub descriptor */
#define TR_USB_DT_BOS 0x0F
#define TR_USB_RT_HUB_IN 0xA0       /* class, device, IN: GET_DESCRIPTOR(hub) */
#define TR_USB_RT_PORT_IN 0xA3      /* class, other (port), IN: GET_STATUS */
#define TR_USB_RT_PORT_OUT 0x23     /* class, other (port), OUT: SET/CLEAR_FEATURE */
#define TR_USB_REQ_GET_STATUS 0x00
#define TR_USB_REQ_CLEAR_FEATURE 0x01
#define TR_USB_REQ_SET_FEATURE 0x03
#define TR_USB_REQ_GET_DESCRIPTOR 0x06
#define TR_USB_PORT_FEAT_POWER 8

/* Logical power switching mode, wHubCharacteristics bits 1..0. */
typedef enum {
    TR_PWR_GANGED = 0,    /* 00: all ports switched together */
    TR_PWR_PER_PORT = 1,  /* 01: each port on its own */
    TR_PWR_NONE = 2       /* 1x: no power switching (USB 1.0 hubs) */
} tr_power_switching;

/* "ganged", "per-port", "none". */
const char *tr_power_switching_name(tr_power_switching s);

typedef struct {
    bool superspeed;            /* parsed as type 0x2A */
    uint8_t nports;             /* bNbrPorts, >= 1 */
    uint16_t characteristics;   /* wHubCharacteristics as sent */
    tr_power_switching switching;
    bool compound;              /* bit 2: part of a compound device */
    uint8_t overcurrent_mode;   /* bits 4..3: 0 global, 1 per-port, 2/3 none */
    unsigned power_good_ms;     /* bPwrOn2PwrGood * 2: wait after power-on */
} tr_hub_desc;

/* Parse a hub descriptor as returned by GET_DESCRIPTOR (type 0x29, or 0x2A
 * when superspeed). len is what the device actually returned. Fails with
 * TR_E_RIG on a short descriptor, a wrong type, bLength past the data or
 * shorter than the fixed part, zero ports, or more ports than the spec
 * allows (255 for USB 2, 15 for SuperSpeed). */
int tr_hub_desc_parse(const uint8_t *buf, size_t len, bool superspeed,
                      tr_hub_desc *out, tr_err *e);

/* True when one port can be powered off alone: per-port switching, or
 * ganged switching on a 1-port hub (the gang is that port). */
bool tr_hub_desc_per_port(const tr_hub_desc *d);

/* Port status, GET_STATUS(port) -> wPortStatus, wPortChange (little endian). */
typedef struct {
    bool superspeed;          /* decoded with the USB 3 bit layout */
    uint16_t status, change;  /* raw words */
    bool connected;           /* bit 0 PORT_CONNECTION */
    bool enabled;             /* bit 1 PORT_ENABLE */
    bool suspended;           /* USB 2 bit 2; USB 3: link state U3 */
    bool over_current;        /* bit 3 */
    bool reset;               /* bit 4 */
    bool powered;             /* USB 2 bit 8, USB 3 bit 9 PORT_POWER */
    bool low_speed;           /* USB 2 bit 9 */
    bool high_speed;          /* USB 2 bit 10 */
    bool test_mode;           /* USB 2 bit 11 */
    bool indicator;           /* USB 2 bit 12 (software-controlled LED) */
    uint8_t link_state;       /* USB 3 bits 8..5 */
    uint8_t ss_speed;         /* USB 3 bits 12..10 (0 = 5 Gbps) */
} tr_port_status;

/* Decode the two words. */
void tr_port_status_decode(uint16_t status, uint16_t change, bool superspeed,
                           tr_port_status *out);

/* Decode the 4 bytes GET_STATUS returned; TR_E_RIG unless len == 4. */
int tr_port_status_parse(const uint8_t *buf, size_t len, bool superspeed,
                         tr_port_status *out, tr_err *e);

/* One line like uhubctl's: "0503 power highspeed enable connect", change
 * bits appended as "[c_connect c_enable ...]". Always NUL-terminated. */
char *tr_port_status_describe(const tr_port_status *s, char *buf, size_t cap);

/* USB 3 link state name ("U0", "U3", "Rx.Detect", ...); "?" when unknown. */
const char *tr_usb3_link_state_name(uint8_t link_state);

/* wTotalLength from the first bytes of a BOS descriptor; -1 when they are
 * not a BOS header (len < 5, wrong type, bLength < 5, total < bLength). */
int tr_bos_total_length(const uint8_t *buf, size_t len);

/* Find the Container ID capability (type 0x10, capability 0x04, 20 bytes)
 * in a BOS descriptor set; false when absent or the set is malformed. */
bool tr_bos_container_id(const uint8_t *buf, size_t len, uint8_t id[16]);

/* USB location: bus and the port chain from the root hub, as libusb's
 * libusb_get_port_numbers() gives it. A root hub has nports == 0. */
#define TR_USB_MAX_DEPTH 7
#define TR_USB_LOC_MAX 32   /* "255-255.255.255.255.255.255.255" + NUL */
typedef struct {
    int bus;
    int nports;
    uint8_t ports[TR_USB_MAX_DEPTH];
} tr_usb_loc;

/* Parse "1", "1-4", "1-1.4.2": bus 1..255, ports 1..255, at most 7 ports,
 * nothing else (no spaces, no empty parts, no leading '+'). */
bool tr_usb_loc_parse(const char *s, tr_usb_loc *out);

/* Write the uhubctl form; false when it does not fit or loc is invalid. */
bool tr_usb_loc_format(const tr_usb_loc *loc, char *buf, size_t cap);

/* The location of what is plugged into port `port` of hub `hub`. */
bool tr_usb_loc_child(const tr_usb_loc *hub, int port, tr_usb_loc *out);

bool tr_usb_loc_equal(const tr_usb_loc *a, const tr_usb_loc *b);

/* Same port chain, bus ignored (a USB 3 hub's two halves sit at the same
 * chain on the USB 2 and the SuperSpeed bus). */
bool tr_usb_loc_same_chain(const tr_usb_loc *a, const tr_usb_loc *b);

/* The sysfs name of a location: "usb1" for a root hub, else the location. */
bool tr_usb_loc_sysfs_name(const tr_usb_loc *loc, char *buf, size_t cap);

/* PC/SC CCID channel id: 0x0020 << 16 | bus << 8 | address. False when the
 * high word is not 0x0020 (not a USB reader), bus is 0, or the address is
 * outside 1..127 (USB addresses); outputs untouched then. */
bool tr_channel_id_to_usb(uint32_t chid, int *bus, int *addr);
uint32_t tr_usb_to_channel_id(int bus, int addr);

#endif
