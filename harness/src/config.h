/* config.h — profile and rig files (INI, parsed with Debian's libinih).
 *
 * Owns: reading a token profile (the token's variables: AID, PIN reference,
 * default PIN, tries, SO PIN, algorithm, file IDs, thresholds) and a rig
 * file (its slots: how each is powered — virtual / usb-hub / pcsc-only /
 * command / none — and how its token is reached — apdu / skf — with the
 * [rig] defaults of the interface and power-command keys), validating
 * every key and value with file:line in the error, and finding profiles
 * and suites by name on the search path.
 * Must not: start processes, talk to PC/SC or USB.
 *
 * Profile:                         Rig:
 *   [profile]                        [rig]
 *   name = ref1-sm2                  name = virtual-4
 *   [vars]                           profile = ref1-sm2      ; default for slots
 *   AID = F0544F4B52494701           [slot A1]
 *   ...                              type = virtual | usb-hub | pcsc-only
 *                                    ...  (see README "Rig files")
 */
#ifndef TR_CONFIG_H
#define TR_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "vars.h"

#define TR_NAME_MAX 64
#define TR_PATH_MAX 1024

typedef struct {
    char name[TR_NAME_MAX];
    char path[TR_PATH_MAX];
    tr_vars *vars; /* every key of [vars] */
} tr_profile;

int tr_profile_load(const char *path, tr_profile *out, tr_err *e);
void tr_profile_free(tr_profile *p);

/* How a slot's token is powered. command: the rig's own shell commands
 * switch it (power_on / power_off); none: no switch at all (tests that
 * power-cycle are not run); reload (pkcs11 slots): the power cycle of a
 * software token, whose state lives in files: the module unloaded and
 * loaded again in a new process (p11slot.h). */
typedef enum {
    TR_SLOT_VIRTUAL = 0,
    TR_SLOT_USB_HUB,
    TR_SLOT_PCSC_ONLY,
    TR_SLOT_COMMAND,
    TR_SLOT_NONE,
    TR_SLOT_RELOAD
} tr_slot_type;
#define TR_SLOT_NTYPES 6
const char *tr_slot_type_name(tr_slot_type t);

/* How a slot's token is reached, whatever powers it: APDUs over PC/SC, or
 * the vendor's GM/T 0016 (SKF) library. */
typedef enum { TR_IFACE_APDU = 0, TR_IFACE_SKF, TR_IFACE_PKCS11 } tr_slot_iface;
const char *tr_slot_iface_name(tr_slot_iface i);

/* An skf slot: the library and which device, application and container of
 * it is the slot's token. */
typedef struct {
    char library[TR_PATH_MAX]; /* a path (relative ones: to the rig file), or a bare name dlopen finds */
    char device[256];          /* fnmatch pattern on the SKF device name ("" = not by name) */
    char serial[64];           /* DEVINFO's SerialNumber ("" = not by serial) */
    char app[64];              /* application name */
    char container[64];        /* "" = the only one */
    struct {
        char text[128];        /* as given: out_width=4,devinfo=286 */
        unsigned out_width;    /* 4 | 8, 0 = not given (tr_skf_opts.out_width) */
        unsigned devinfo_size; /* 286 | 294, 0 = not given (tr_skf_opts.devinfo_size) */
    } quirks;
} tr_skf_cfg;

/* A pkcs11 slot: the module and which of its tokens is the slot's. */
typedef struct {
    char module[TR_PATH_MAX];  /* a path (relative ones: to the rig file), or a p11-kit module name */
    char token[256];           /* fnmatch pattern on the token's label or serial ("" = the slot's serial, else the only one) */
} tr_p11_cfg;

/* A command slot's switch: shell command lines (/bin/sh -c). */
#define TR_POWER_TIMEOUT_MS 10000
typedef struct {
    char on[512], off[512];
    unsigned timeout_ms;       /* past it the command's process group is killed */
} tr_power_cmd_cfg;

/* A virtual slot's token (what vtoken and mkpki are started with). */
typedef struct {
    char serial[33];     /* virtual: 16 (REF-1); skf, pkcs11: as the token reports it */
    char role[16];       /* main | secondary */
    char alg[16];        /* sm2 | ecdsa | rsa */
    char org[128];
    char validity[24];   /* valid | renewal-due | expired | not-yet-valid */
    int seal_version;    /* 4 or 1 */
    unsigned seal_size;  /* the seal's exact length in bytes (mkpki seal --size); 0: as made */
    char faults[512];    /* comma-separated vtoken faults (cert faults included) */
    unsigned ready_ms, sign_latency_ms, apdu_latency_us;
    bool t0;
    unsigned seed;
    /* What a profile compares the token against; 0 / "" = vtoken's REF-1
     * default (vtoken --help). Hex is stored upper case without spaces. */
    unsigned pin_tries, so_tries;       /* 1..15 (PIN_MAX_TRIES, SO_MAX_TRIES) */
    char default_pin[17], so_pin[17];   /* 6..16 printable ASCII */
    char atr[2 * 33 + 1];               /* a well-formed ATR (atr.h) */
    char aid[2 * 16 + 1];               /* 5..16 bytes */
    char firmware[5];                   /* 2 bytes */
} tr_vtoken_cfg;

/* Rows of the [slot] key table (config.c); a bound for key_line. */
#define TR_SLOT_KEYS_MAX 48

typedef struct {
    char name[TR_NAME_MAX];
    tr_slot_type type;
    tr_slot_iface iface;
    int line;                    /* where [slot ...] starts */
    char profile[TR_PATH_MAX];   /* name or path, "" = rig default */
    char reader[256];            /* pcsc-only, command, none: reader name pattern (fnmatch) */
    /* usb-hub; port also names a command slot's switch port (TOKENRIG_PORT) */
    char hub[64];
    int port;
    char companion[64];
    tr_power_cmd_cfg power;      /* command */
    tr_skf_cfg skf;              /* interface = skf */
    tr_p11_cfg p11;              /* interface = pkcs11 */
    /* virtual */
    tr_vtoken_cfg vt;
    tr_vars *vars;               /* var.NAME = value entries */
    int key_line[TR_SLOT_KEYS_MAX]; /* line of each key given, 0 = not given:
                                       whether it suits the slot's type is
                                       checked once the whole file is read */
} tr_slot_cfg;

typedef struct {
    char name[TR_NAME_MAX];
    char path[TR_PATH_MAX];
    char profile[TR_PATH_MAX];   /* default profile for slots */
    unsigned apdu_timeout_ms;    /* per APDU: past it the token is io.mute */
    unsigned ready_timeout_ms;   /* per power-cycle stage */
    unsigned off_ms;             /* power-off time in a cycle */
    char nv_dir[TR_PATH_MAX];    /* virtual tokens' NV memory across rig down/up ("" = fresh tokens) */
    char journal[TR_PATH_MAX];   /* journal of destructive steps ("" = the default place) */
    char pcscd_restart[512];     /* command that restarts a system pcscd ("" = none) */
    char db[TR_PATH_MAX];        /* results database: a postgresql:// URL or a SQLite file
                                    (relative: to the rig file); "" = the default (db.h) */
    /* interface, skf_* and power_* given in [rig]: each slot that does not
     * give the key and takes it gets it (key_line says which were given) */
    tr_slot_cfg defaults;
    tr_slot_cfg *slots;
    size_t nslots;
} tr_rig_cfg;

int tr_rig_load(const char *path, tr_rig_cfg *out, tr_err *e);
void tr_rig_free(tr_rig_cfg *r);
/* A one-slot pcsc-only rig around a reader name pattern (tokenrig script
 * --reader), built in memory. */
int tr_rig_single_reader(const char *reader, tr_rig_cfg *out, tr_err *e);
const tr_slot_cfg *tr_rig_find_slot(const tr_rig_cfg *r, const char *name);
/* True when every slot is virtual (the rig needs the private pcscd). */
bool tr_rig_is_virtual(const tr_rig_cfg *r);

/* Directory tokenrig's data lives in: $TOKENRIG_HOME, else the source tree
 * the binary was built in (<exe>/..), else <exe>/../share/tokenrig. */
const char *tr_data_dir(void);
/* Resolve a profile ("ref1-sm2" or a path) / suite ("pin-lockout" or a
 * path) / rig ("virtual-4" or a path) to an existing file. */
int tr_find_profile(const char *name, char *out, size_t cap, tr_err *e);
int tr_find_suite(const char *name, char *out, size_t cap, tr_err *e);
int tr_find_rig(const char *name, char *out, size_t cap, tr_err *e);
/* Directory of helper programs (vtoken, mkpki): the tokenrig binary's own. */
const char *tr_exe_dir(void);

#endif
