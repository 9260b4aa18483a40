/* usbhub.h — the USB hubs of a usb-hub rig: discovery, per-port power with
 * verification, and which USB device sits on a port.
 *
 * Owns: libusb contexts and hub handles (opened inside each call and closed
 * before it returns: children get new addresses after a cycle, hubs can go
 * away), the kernel's per-port files
 * /sys/bus/usb/devices/<hub>:1.0/<hub>-port<N>/disable (Linux >= 6.0), the
 * hub class requests (USB 2.0 §11.24: GET_DESCRIPTOR 0x29/0x2A, GET_STATUS,
 * SET/CLEAR_FEATURE(PORT_POWER)), and the udev fix quoted in permission
 * errors (rigs/52-tokenrig-usb-hubs.rules).
 * Must not: talk PC/SC (callers map a reader to its USB device through
 * SCARD_ATTR_CHANNEL_ID, tr_channel_id_to_usb and tr_usb_device_by_address),
 * read rig files, or sleep: every wait follows libusb hotplug events (or a
 * bounded poll of the device list when hotplug is missing) up to a deadline,
 * and the only deliberate idle time is the off period a caller asks for.
 * Pure decoding (descriptors, status bits, locations) lives in hubdesc.h.
 */
#ifndef TR_USBHUB_H
#define TR_USBHUB_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"
#include "hubdesc.h"

#define TR_USB_SERIAL_MAX 128

/* One USB device as the bus shows it now. */
typedef struct {
    char location[TR_USB_LOC_MAX];   /* "1-1.4.2" */
    int bus, address;                /* address changes on every re-enumeration */
    uint16_t vid, pid, bcd_usb;
    uint8_t device_class;
    unsigned speed_mbps;             /* 1 (low), 12, 480, 5000, 10000, 20000; 0 unknown */
    char serial[TR_USB_SERIAL_MAX];  /* sysfs "serial" (printable ASCII), "" if none */
} tr_usb_dev;

/* ---- discovery (`tokenrig hubs`) ------------------------------------------ */

typedef struct {
    int port;                        /* 1-based */
    bool have_status;
    tr_port_status status;
    bool has_device;
    tr_usb_dev dev;                  /* valid when has_device */
} tr_hub_port;

typedef struct {
    tr_usb_dev dev;                  /* the hub itself */
    bool superspeed;                 /* bcdUSB >= 3.0: the SuperSpeed half */
    bool have_desc;                  /* hub descriptor read and valid */
    tr_hub_desc desc;
    bool have_container_id;          /* from its BOS descriptor */
    uint8_t container_id[16];
    char companion[TR_USB_LOC_MAX];  /* the other half of a USB 3 hub, "" none */
    char problem[192];               /* why desc/status are missing, "" if none */
    bool perm_denied;                /* problem is a permission error */
    int nports;                      /* entries in ports[] */
    tr_hub_port *ports;
} tr_hub_info;

typedef struct {
    tr_hub_info *hubs;
    size_t n;
} tr_hub_list;

/* Returned when the machine has no USB hub at all (no USB bus, libusb cannot
 * start, or no device of class 9). e is set (TR_E_RIG, one line); the CLI
 * turns it into exit 2. Distinct from -1 (a real error). */
#define TR_HUBS_NONE (-2)

/* Every hub (bDeviceClass 9) with its hub descriptor, container id,
 * companion, and each port's status and device. A hub that cannot be opened
 * (permission) or answers garbage is listed with `problem` set rather than
 * failing the whole list. Returns 0, TR_HUBS_NONE or -1. Free with
 * tr_hub_list_free. */
int tr_hubs_discover(tr_hub_list *out, tr_err *e);
void tr_hub_list_free(tr_hub_list *l);
const tr_hub_info *tr_hub_list_find(const tr_hub_list *l, const char *location);

/* `tokenrig hubs`: a readable table on out. Returns 0; TR_HUBS_NONE with the
 * one-line reason in e (e.g. "no USB hubs found: this machine has no USB bus
 * (/sys/bus/usb missing)"); or -1 with TR_E_PERM in e, after printing the
 * table, when some hub could not be opened (the message carries the udev
 * fix). */
int tr_hubs_print(FILE *out, tr_err *e);

/* ---- devices ----------------------------------------------------------------- */

/* The device plugged into `port` of hub `hub_location` right now.
 * Returns 1 (found, *out filled), 0 (port empty), -1 (error: no USB bus,
 * bad location). */
int tr_usb_device_on_port(const char *hub_location, int port, tr_usb_dev *out, tr_err *e);

/* The device at bus/address (from SCARD_ATTR_CHANNEL_ID through
 * tr_channel_id_to_usb). Returns 1 found, 0 none, -1 error. */
int tr_usb_device_by_address(int bus, int address, tr_usb_dev *out, tr_err *e);

/* ---- port power ---------------------------------------------------------------- */

/* A slot's power switch: a hub port, and the same port number on the USB 3
 * companion hub (both halves of a USB 3 hub must be switched or the token
 * stays powered through the other half). companion "" = look for it (same
 * BOS container id; else same port chain, port count and serial on the bus
 * of the other speed); none found = a USB 2 only hub. */
typedef struct {
    char hub[64];          /* location, "1-1.4" (uhubctl's form) */
    int port;              /* 1-based */
    char companion[64];    /* "2-1.4", or "" */
    unsigned gone_ms;      /* after power-off, how long the device may take to
                              leave the bus; 0 = TR_HUBPORT_GONE_MS */
    unsigned settle_ms;    /* `off`: how long the port must stay off (kernels
                              power ports back on); `on`: how long to wait for
                              the device; 0 = TR_HUBPORT_SETTLE_MS */
} tr_hubport_spec;

#define TR_HUBPORT_GONE_MS 3000u
#define TR_HUBPORT_SETTLE_MS 1000u

typedef enum {
    TR_POWER_VIA_NONE = 0,
    TR_POWER_VIA_SYSFS,    /* wrote the port's sysfs `disable` file */
    TR_POWER_VIA_LIBUSB    /* SET/CLEAR_FEATURE(PORT_POWER) to the hub */
} tr_power_method;
const char *tr_power_method_name(tr_power_method m); /* "none" "sysfs" "libusb" */

/* How far a power-off was verified. Each level includes the ones below. */
typedef enum {
    TR_VERIFY_NONE = 0,
    TR_VERIFY_STATUS_BITS,  /* GET_STATUS: power and connection bits clear on
                               every switched port, right after switching and
                               still at the end of the off period */
    TR_VERIFY_DEVICE_GONE,  /* ... and the device that was on the port left
                               the bus (and did not come back while off) */
    TR_VERIFY_READER_GONE   /* ... and its PC/SC reader left (set by callers) */
} tr_verify_level;
const char *tr_verify_level_name(tr_verify_level v); /* "none" "status-bits" "device-gone" "reader-gone" */

#define TR_CLASS_PORT_NOT_SWITCHED "rig.port-not-switched"
#define TR_CLASS_HUB_NOT_PER_PORT "rig.hub-not-per-port"

/* What a power operation did and saw. */
typedef struct {
    tr_power_method method;            /* hub port */
    tr_power_method companion_method;  /* companion port, NONE without one */
    char companion[64];                /* companion switched too, "" none */
    bool companion_found;              /* found by discovery, not from the spec */
    tr_power_switching switching;      /* hub's mode (the companion's is checked too) */
    /* Port status: before switching, at the end of the off period, after
     * power-on. comp_* are the companion's, when there is one. */
    bool have_before, have_off, have_on;
    tr_port_status before, off, on;
    tr_port_status comp_before, comp_off, comp_on;
    bool device_before;                /* a device was on the port */
    tr_usb_dev dev_before;
    bool device_gone;                  /* it left the bus after power-off */
    unsigned gone_ms;                  /* off command -> device gone */
    unsigned off_ms;                   /* off command -> on command (cycle) */
    bool device_back;                  /* a device on the port after power-on */
    unsigned back_ms;                  /* on command -> device on the bus */
    tr_usb_dev dev_after;              /* new bus/address/serial */
    tr_verify_level level;             /* how far the power-off was verified */
    char classification[32];           /* TR_CLASS_* when the rig is at fault, else "" */
    char detail[256];                  /* one line: what verification saw */
} tr_power_check;

/* Power the slot's port on or off (hub and companion). Off: refuses hubs
 * without per-port switching (TR_E_RIG, rig.hub-not-per-port), switches
 * USB 2 half then SuperSpeed half, waits up to gone_ms for the device to
 * leave, keeps watching for settle_ms, and reads the status bits back; a port
 * whose power/connection bits stay set or whose device stays (or comes back)
 * fails with TR_E_RIG and classification rig.port-not-switched (a rig
 * problem, not a token fault) with out->level saying how far it got. On:
 * SuperSpeed half first, checks the power bit, waits up to settle_ms for a
 * device (its absence is reported in out, not an error).
 * Permission problems: TR_E_PERM, the message carries the udev fix.
 * Returns 0 or -1. */
int tr_hubport_power(const tr_hubport_spec *spec, bool on, tr_power_check *out, tr_err *e);

/* Off, verified (as above; the port stays off for off_ms in total, longer
 * only if the device takes longer to leave), then on, then wait up to
 * timeout_ms for a device on the port. Returns 0 when the power was switched
 * and verified, whether or not a device came back (see out->device_back: a
 * token that does not re-enumerate is the token's failure, the caller's to
 * classify). When the off is not verified the port is switched back on, the
 * device awaited, and -1 returned with rig.port-not-switched. */
int tr_hubport_cycle(const tr_hubport_spec *spec, unsigned off_ms, unsigned timeout_ms,
                     tr_power_check *out, tr_err *e);

/* What a slot's port looks like now, without switching anything. */
typedef struct {
    tr_power_method method;            /* what on/off would use */
    bool sysfs_disabled;               /* the port's sysfs `disable` reads 1 */
    tr_power_switching switching;
    bool per_port;                     /* one port can be switched alone */
    unsigned nports;
    char companion[64];
    bool companion_found;
    tr_port_status status, comp_status;
    bool powered;                      /* power bit set on the hub port (or the companion's) */
    bool has_device;
    tr_usb_dev dev;
} tr_hubport_state;

int tr_hubport_status(const tr_hubport_spec *spec, tr_hubport_state *out, tr_err *e);

/* The udev fix quoted in every permission error (also for callers that hit
 * EACCES elsewhere). */
const char *tr_usbhub_udev_fix(void);

#endif
