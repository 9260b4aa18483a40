/* usbhub_priv.h — shared internals of usbhub.c and portpower.c. Not for
 * other modules: include usbhub.h instead.
 *
 * Owns: the per-call libusb session (context + hotplug wake-ups), opened hub
 * handles, sysfs reads, and the event-driven wait.
 * Must not: be included outside usbhub.c / portpower.c.
 */
#ifndef TR_USBHUB_PRIV_H
#define TR_USBHUB_PRIV_H

#include <libusb.h>
#include <stdint.h>

#include "usbhub.h"

#define TR_USB_CTRL_TIMEOUT_MS 1000u

/* One libusb context for the length of one public call. */
typedef struct {
    libusb_context *ctx;
    bool hotplug;                       /* libusb delivers arrival/left events */
    libusb_hotplug_callback_handle cb;
    unsigned events;                    /* hotplug events seen (wake-ups) */
} tr_usbsess;

/* Start libusb. No bus (init fails, or no device at all) -> TR_HUBS_NONE with
 * "<context>: <reason>" (context NULL = "no USB hubs found"); other
 * failures -1. */
int tr_usbsess_open(tr_usbsess *s, const char *context, tr_err *e);
void tr_usbsess_close(tr_usbsess *s);

/* Fill a tr_usb_dev from a libusb device (no I/O to the device: descriptors
 * are cached by libusb, the serial comes from sysfs). False when the device
 * has no usable location. */
bool tr_usbdev_describe(libusb_device *d, tr_usb_dev *out);

/* Find a device by location in the current list (ref'd; unref it). */
libusb_device *tr_usbsess_find(tr_usbsess *s, const tr_usb_loc *loc);

/* The first device at any of the given locations: 1 (and *out filled), 0
 * none, or a negative libusb error when the device list cannot be read. */
int tr_usbsess_device_at(tr_usbsess *s, const tr_usb_loc *locs, int nlocs, tr_usb_dev *out);

/* Wait until pred() is true or the monotonic deadline passes; pred is
 * re-evaluated after every hotplug event (or every 20 ms without hotplug,
 * and at least every 100 ms with it). Returns pred's last value. */
typedef bool (*tr_usb_pred)(tr_usbsess *s, void *arg);
bool tr_usbsess_wait(tr_usbsess *s, tr_usb_pred pred, void *arg, uint64_t deadline_ns);

/* An opened hub. */
typedef struct {
    char location[TR_USB_LOC_MAX];
    tr_usb_loc loc;
    libusb_device_handle *h;
    tr_usb_dev dev;
    bool superspeed;
    tr_hub_desc desc;
} tr_hubh;

/* Find the hub at loc, open it and read its hub descriptor. TR_E_RIG when it
 * is not there or not a hub, TR_E_PERM (with the udev fix) when it cannot be
 * opened for lack of permission. */
int tr_hubh_open(tr_usbsess *s, const tr_usb_loc *loc, tr_hubh *hub, tr_err *e);
/* Re-open after tr_hubh_release (same location, fresh handle). */
int tr_hubh_reopen(tr_usbsess *s, tr_hubh *hub, tr_err *e);
/* Close the handle but keep what was learnt. */
void tr_hubh_release(tr_hubh *hub);

int tr_hubh_port_status(tr_hubh *hub, int port, tr_port_status *out, tr_err *e);
int tr_hubh_port_power(tr_hubh *hub, int port, bool on, tr_err *e);
/* BOS container id; false when the hub has none or will not say. */
bool tr_hubh_container_id(tr_hubh *hub, uint8_t id[16]);

/* The companion of `hub` among all hubs on the bus; "" when none. Opens
 * candidate hubs (same port chain or same chain below the root port, other
 * speed) to compare container ids, port counts and serials. */
int tr_usbsess_find_companion(tr_usbsess *s, tr_hubh *hub, char *out, size_t cap, tr_err *e);

/* Score how well b is a's other half, -1 when it is not. Used by discovery
 * and by tr_usbsess_find_companion. */
int tr_companion_score(const tr_usb_loc *la, bool ss_a, const tr_hub_desc *da, bool cid_a,
                       const uint8_t *id_a, const char *serial_a,
                       const tr_usb_loc *lb, bool ss_b, const tr_hub_desc *db, bool cid_b,
                       const uint8_t *id_b, const char *serial_b);

/* Fail with TR_E_PERM, the message naming what was denied and the fix. */
int tr_usb_perm_fail(tr_err *e, const char *what);

/* libusb return code -> tr_err (ACCESS -> TR_E_PERM, else TR_E_RIG). */
int tr_usb_fail(tr_err *e, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
