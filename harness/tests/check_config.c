/* check_config.c — the [slot] keys of a rig file (config.c's key table):
 * every key a virtual token is modelled on a profile with, their bounds
 * (errors carry file:line), the unknown-key error listing the keys of the
 * slot's type, keys of another slot type refused wherever `type =` comes;
 * and the ATR structure check (atr.h) the atr key relies on. The batch
 * manifest fails closed (every required column, every row complete, real
 * dates, file:line errors), and every command's options are spelled out
 * (tr_cli_spelled_out). The interface keys (interface, skf_*), the power
 * types command and none, and the [rig] defaults of those keys: every key
 * read, every refusal with its file:line. */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "atr.h"
#include "cli.h"
#include "config.h"
#include "faultnames.h"
#include "manifest.h"
#include "util.h"

static char path[64];
static tr_rig_cfg rig;
static tr_err err;

static void setup(void)
{
    snprintf(path, sizeof path, "/tmp/check_config.%d.ini", (int)getpid());
    memset(&rig, 0, sizeof rig);
}

static void teardown(void)
{
    tr_rig_free(&rig);
    unlink(path);
}

/* [rig] on lines 1-2, [slot A1] on line 3: the body starts at line 4. */
static int load(const char *slot_body)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "[rig]\nname = t\n[slot A1]\n%s\n", slot_body);
    fclose(f);
    tr_rig_free(&rig);
    tr_err_clear(&err);
    return tr_rig_load(path, &rig, &err);
}

START_TEST(profile_keys_of_a_virtual_slot)
{
    ck_assert_msg(load("pin_tries = 5\nso_tries = 3\ndefault_pin = 11223344\nso_pin = 5566778899\n"
                       "atr = 3b 0b 54 4f 4b 45 4e 52 49 47 20 54 35\naid = f0544f4b524947050a\n"
                       "firmware = 0203\nt0 = yes\nseal_version = 1\nseal_size = 3072") == 0,
                  "%s", err.msg);
    const tr_vtoken_cfg *vt = &rig.slots[0].vt;
    ck_assert_uint_eq(vt->pin_tries, 5);
    ck_assert_uint_eq(vt->so_tries, 3);
    ck_assert_str_eq(vt->default_pin, "11223344");
    ck_assert_str_eq(vt->so_pin, "5566778899");
    ck_assert_str_eq(vt->atr, "3B0B544F4B454E524947205435"); /* as vtoken is given it */
    ck_assert_str_eq(vt->aid, "F0544F4B524947050A");
    ck_assert_str_eq(vt->firmware, "0203");
    ck_assert(vt->t0);
    ck_assert_int_eq(vt->seal_version, 1);
    ck_assert_uint_eq(vt->seal_size, 3072);
    /* not given: vtoken's REF-1 defaults */
    ck_assert_int_eq(load("serial = CONFIGTEST000001"), 0);
    vt = &rig.slots[0].vt;
    ck_assert_uint_eq(vt->pin_tries + vt->so_tries, 0);
    ck_assert_str_eq(vt->default_pin, "");
    ck_assert_str_eq(vt->atr, "");
    ck_assert_str_eq(vt->aid, "");
    ck_assert_str_eq(vt->firmware, "");
    ck_assert_int_eq(vt->seal_version, 4);
    ck_assert_uint_eq(vt->seal_size, 0);
}
END_TEST

START_TEST(bad_values_name_file_line_and_key)
{
    static const char *const bad[] = {
        "pin_tries = 0", "pin_tries = 16", "pin_tries = five", "so_tries = 0", "so_tries = 16",
        "default_pin = 12345", "default_pin = 12345678901234567", "so_pin = 12345",
        "atr = 3B", "atr = 3A00", "atr = 3B8A8001544F4B454E52494730310E", "atr = 3B0B544F4B",
        "atr = 3B0F0102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F20",
        "atr = 3BXX", "aid = F0544F4B", "aid = F0544F4B52494701F0544F4B5249470102", "aid = F0544",
        "firmware = 01", "firmware = 010203", "firmware = zz00", "seal_version = 2", "t0 = maybe",
        "ready_ms = 600001", "role = boss", "alg = dsa", "serial = SHORT", "seal_size = 0",
        "seal_size = 32768", "seal_size = 3k",
        /* fault names are the table's (faultnames.h), with well-formed values */
        "faults = no-such-fault", "faults = no-lockout, no-such-fault", "fault = bad-signature",
        "faults = bad-signature=0", "faults = no-lockout=1", "faults = flaky-power=1.5",
        "faults = slow-apdu=10:B", "faults = slow-start=0", "faults = =3",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[160], key[32];
        snprintf(body, sizeof body, "serial = CONFIGTEST000001\n%s", bad[i]);
        sscanf(bad[i], "%31s", key);
        ck_assert_msg(load(body) == -1, "'%s' was accepted", bad[i]);
        ck_assert_int_eq(err.code, TR_E_CONFIG);
        ck_assert_str_eq(err.file, path);
        ck_assert_msg(err.line == 5, "'%s': line %d", bad[i], err.line);
        ck_assert_msg(strstr(err.msg, key) != NULL, "'%s': %s", bad[i], err.msg);
    }
    /* 6 and 16 characters, 5 and 16 bytes, 1 and 15 tries: the bounds themselves */
    ck_assert_msg(load("default_pin = 123456\nso_pin = abcdefghijklmnop\naid = F0544F4B52\n"
                       "pin_tries = 1\nso_tries = 15") == 0, "%s", err.msg);
    ck_assert_int_eq(load("aid = F0544F4B52494701F0544F4B52494701"), 0);
}
END_TEST

/* faults = ...: every name of the table, with its value, is taken; an
 * unknown one names the file, the line and every fault there is. */
START_TEST(fault_names_checked_when_the_file_is_read)
{
    ck_assert_msg(load("faults = counter-reset-on-power, bad-signature=7 slow-sign=40,flaky-power=0.5,"
                       "slow-apdu=900:B0, mute-after=2, expired-cert, power-keeps-verified") == 0,
                  "%s", err.msg);
    size_t n;
    const tr_fault_def *d = tr_fault_defs(&n);
    for (size_t i = 0; i < n; i++) {
        char body[96];
        snprintf(body, sizeof body, "faults = %s%s", d[i].name,
                 d[i].arg == TR_FARG_NONE ? "" : d[i].arg == TR_FARG_PROB ? "=1" : "=1000");
        ck_assert_msg(load(body) == 0, "%s: %s", body, err.msg);
    }
    ck_assert_int_eq(load("serial = CONFIGTEST000001\nfaults = no-lockout, no-such-fault"), -1);
    ck_assert_str_eq(err.file, path);
    ck_assert_int_eq(err.line, 5);
    ck_assert_msg(strstr(err.msg, "faults: unknown fault 'no-such-fault'"), "%s", err.msg);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(strstr(err.msg, d[i].name), "%s not listed: %s", d[i].name, err.msg);
    ck_assert_ptr_nonnull(strstr(err.msg, "bad-signature=K"));
    ck_assert_int_eq(load("faults = bad-signature=0"), -1);
    ck_assert_msg(strstr(err.msg, "fault 'bad-signature=0': bad-signature=K, K in 1..1000000000"), "%s", err.msg);
    ck_assert_int_eq(load("faults = slow-apdu=5:XYZ"), -1);
    ck_assert_msg(strstr(err.msg, "MS in 1..600000, INS two hex digits"), "%s", err.msg);
    char why[200];
    ck_assert(!tr_fault_check("no-lockout=", why, sizeof why));
    ck_assert(tr_fault_check("mute-after=0", why, sizeof why));
    ck_assert(tr_fault_find("rogue-seal-maker")->rig);
    ck_assert(!tr_fault_find("bad-atr")->rig);
}
END_TEST

START_TEST(unknown_key_lists_the_keys_of_the_slot_type)
{
    ck_assert_int_eq(load("serial = CONFIGTEST000001\npin_trys = 5"), -1);
    ck_assert_int_eq(err.line, 5);
    ck_assert_ptr_nonnull(strstr(err.msg, "unknown key 'pin_trys' in [slot A1]"));
    ck_assert_ptr_nonnull(strstr(err.msg, "a virtual slot takes: type, interface, profile, var.NAME, serial"));
    static const char *const virtual_keys[] = {"pin_tries", "so_tries", "default_pin", "so_pin", "atr",
                                               "aid", "firmware", "t0", "seal_version", "seal_size",
                                               "ready_ms"};
    for (size_t i = 0; i < sizeof virtual_keys / sizeof virtual_keys[0]; i++)
        ck_assert_msg(strstr(err.msg, virtual_keys[i]), "%s not listed: %s", virtual_keys[i], err.msg);
    ck_assert_ptr_null(strstr(err.msg, "companion"));

    ck_assert_int_eq(load("type = usb-hub\nbogus = 1"), -1);
    ck_assert_ptr_nonnull(
        strstr(err.msg, "a usb-hub slot takes: type, interface, profile, var.NAME, hub, port, companion;"));
    ck_assert_int_eq(load("type = pcsc-only\nbogus = 1"), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "a pcsc-only slot takes: type, interface, profile, var.NAME, reader;"));
}
END_TEST

START_TEST(keys_of_another_slot_type_are_refused)
{
    /* type = may come last: hub and port wait for it */
    ck_assert_msg(load("hub = 1-1.4\nport = 2\ntype = usb-hub") == 0, "%s", err.msg);
    ck_assert_int_eq(rig.slots[0].type, TR_SLOT_USB_HUB);
    ck_assert_str_eq(rig.slots[0].hub, "1-1.4");
    /* a virtual key in a usb-hub slot, before or after type = */
    ck_assert_int_eq(load("pin_tries = 5\nhub = 1-1.4\nport = 2\ntype = usb-hub"), -1);
    ck_assert_int_eq(err.line, 4);
    ck_assert_ptr_nonnull(strstr(err.msg, "key 'pin_tries' does not apply to [slot A1], a usb-hub slot"));
    ck_assert_int_eq(load("type = pcsc-only\nreader = \"x*\"\natr = 3B00"), -1);
    ck_assert_int_eq(err.line, 6);
    ck_assert_ptr_nonnull(strstr(err.msg, "'atr'"));
    /* a hub key in a (default) virtual slot */
    ck_assert_int_eq(load("serial = CONFIGTEST000001\nreader = x"), -1);
    ck_assert_int_eq(err.line, 5);
    /* keys every type takes */
    ck_assert_msg(load("type = pcsc-only\nreader = x\nprofile = ref1-rsa\nvar.USER_PIN = 123456") == 0, "%s",
                  err.msg);
    ck_assert_str_eq(rig.slots[0].profile, "ref1-rsa");
    ck_assert_int_eq(load("var.9 = 1"), -1);
}
END_TEST

/* ---- interfaces and power types --------------------------------------------- */

/* A whole rig file (for the [rig] defaults). */
static int load_rig(const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    tr_rig_free(&rig);
    tr_err_clear(&err);
    return tr_rig_load(path, &rig, &err);
}

/* The refusal is a config error at line of path, and its message has want. */
static void refused_at(int rc, int line, const char *want)
{
    ck_assert_msg(rc == -1, "accepted, expected: %s", want);
    ck_assert_int_eq(err.code, TR_E_CONFIG);
    ck_assert_str_eq(err.file, path);
    ck_assert_msg(err.line == line, "line %d, expected %d: %s", err.line, line, err.msg);
    ck_assert_msg(strstr(err.msg, want) != NULL, "'%s' not in: %s", want, err.msg);
}

START_TEST(skf_slot_keys)
{
    ck_assert_msg(load("interface = skf\nskf_library = lib/libskf-ref1.so\nskf_device = \"REF1 *\"\n"
                       "skf_app = TOKENRIG\nskf_container = SIGN\nskf_quirks = out_width=4, devinfo=286") == 0,
                  "%s", err.msg);
    const tr_slot_cfg *s = &rig.slots[0];
    ck_assert_int_eq(s->iface, TR_IFACE_SKF);
    ck_assert_int_eq(s->type, TR_SLOT_VIRTUAL); /* a vtoken reached through the library */
    char want[128];
    snprintf(want, sizeof want, "/tmp/lib/libskf-ref1.so"); /* relative: to the rig file */
    ck_assert_str_eq(s->skf.library, want);
    ck_assert_str_eq(s->skf.device, "REF1 *");
    ck_assert_str_eq(s->skf.serial, "");
    ck_assert_str_eq(s->skf.app, "TOKENRIG");
    ck_assert_str_eq(s->skf.container, "SIGN");
    ck_assert_uint_eq(s->skf.quirks.out_width, 4);
    ck_assert_uint_eq(s->skf.quirks.devinfo_size, 286);
    /* a bare name is dlopen's to find; an absolute path as given; quirks unset: 0 */
    ck_assert_int_eq(load("interface = skf\nskf_library = libskf.so\nskf_serial = 0123456789"), 0);
    ck_assert_str_eq(rig.slots[0].skf.library, "libskf.so");
    ck_assert_str_eq(rig.slots[0].skf.serial, "0123456789");
    ck_assert_uint_eq(rig.slots[0].skf.quirks.out_width + rig.slots[0].skf.quirks.devinfo_size, 0);
    ck_assert_int_eq(load("type = none\ninterface = skf\nskf_library = /opt/v/libv.so"), 0);
    ck_assert_str_eq(rig.slots[0].skf.library, "/opt/v/libv.so");
    ck_assert_str_eq(rig.slots[0].reader, ""); /* an skf slot needs no reader */
    /* the default interface is apdu */
    ck_assert_int_eq(load("serial = CONFIGTEST000001"), 0);
    ck_assert_int_eq(rig.slots[0].iface, TR_IFACE_APDU);
    ck_assert_int_eq(load("interface = apdu"), 0);
    ck_assert_str_eq(tr_slot_iface_name(TR_IFACE_SKF), "skf");
}
END_TEST

START_TEST(skf_slot_refusals)
{
    /* skf_* keys on an apdu slot, before or after interface = */
    refused_at(load("skf_app = X"), 4, "key 'skf_app' does not apply to [slot A1], a virtual slot: skf_* keys "
                                       "need interface = skf");
    refused_at(load("skf_library = x.so\ninterface = apdu"), 4, "'skf_library'");
    refused_at(load("type = pcsc-only\nreader = r\nskf_quirks = devinfo=286"), 6, "'skf_quirks'");
    refused_at(load("interface = skf\nskf_app = X"), 3, "[slot A1] has interface = skf: it needs skf_library");
    refused_at(load("interface = skf\nskf_library = l.so\nskf_device = a*\nskf_serial = 1"), 7,
               "[slot A1] gives both skf_device and skf_serial");
    refused_at(load("interface = ccid"), 4, "interface 'ccid': expected apdu");
    refused_at(load("interface = pkcs11"), 3, "[slot A1] has interface = pkcs11: it needs pkcs11_module");
    refused_at(load("pkcs11_token = T*"), 4, "key 'pkcs11_token' does not apply to [slot A1]");
    refused_at(load("type = reload\ninterface = skf\nskf_library = l.so"), 3,
               "[slot A1] is reload (the module restarted, a software token's power cycle): only a slot with "
               "interface = pkcs11");
    ck_assert_int_eq(load("type = reload\ninterface = pkcs11\npkcs11_module = m.so\nserial = 123"), 0);
    refused_at(load("serial = 123"), 4, "serial '123' must be exactly 16 characters ([slot A1] is virtual");
    refused_at(load("interface = skf\nskf_library ="), 5, "skf_library is empty");
    static const char *const bad_quirks[][2] = {
        {"skf_quirks = out_width=5", "out_width takes 4 or 8, not '5'"},
        {"skf_quirks = devinfo=300", "devinfo takes 286 or 294, not '300'"},
        {"skf_quirks = out_width", "out_width takes 4 or 8, not '(no value)'"},
        {"skf_quirks = out_width=4,out_width=8", "out_width is given twice"},
        {"skf_quirks = wide=1", "unknown quirk 'wide'"},
        {"skf_quirks = out_width=four", "not 'four'"},
    };
    for (size_t i = 0; i < sizeof bad_quirks / sizeof bad_quirks[0]; i++) {
        char body[200];
        snprintf(body, sizeof body, "interface = skf\nskf_library = l.so\n%s", bad_quirks[i][0]);
        refused_at(load(body), 6, bad_quirks[i][1]);
    }
    /* an unknown key lists what an skf slot takes */
    refused_at(load("interface = skf\nskf_library = l.so\nskf_pin = 1"), 6, "an skf virtual slot takes:");
    ck_assert_ptr_nonnull(strstr(err.msg, "skf_container"));
}
END_TEST

START_TEST(command_and_none_slots)
{
    ck_assert_msg(load("type = command\nreader = \"Feitian*\"\nport = 3\npower_off = ykushcmd -d 3\n"
                       "power_on = ykushcmd -u 3\npower_timeout_ms = 2500") == 0, "%s", err.msg);
    const tr_slot_cfg *s = &rig.slots[0];
    ck_assert_int_eq(s->type, TR_SLOT_COMMAND);
    ck_assert_str_eq(tr_slot_type_name(s->type), "command");
    ck_assert_str_eq(s->power.off, "ykushcmd -d 3");
    ck_assert_str_eq(s->power.on, "ykushcmd -u 3");
    ck_assert_uint_eq(s->power.timeout_ms, 2500);
    ck_assert_int_eq(s->port, 3);
    ck_assert_int_eq(load("type = command\nreader = r\npower_off = a\npower_on = b"), 0);
    ck_assert_uint_eq(rig.slots[0].power.timeout_ms, TR_POWER_TIMEOUT_MS);
    /* an skf command slot needs no reader */
    ck_assert_int_eq(load("type = command\ninterface = skf\nskf_library = l.so\npower_off = a\npower_on = b"), 0);
    refused_at(load("type = command\nreader = r\npower_off = a"), 3,
               "[slot A1] is command: it needs power_on = <command> and power_off = <command>");
    refused_at(load("type = command\npower_off = a\npower_on = b"), 3, "[slot A1] is command: it needs reader");
    refused_at(load("type = command\nreader = r\npower_off = a\npower_on = b\npower_timeout_ms = 0"), 8,
               "power_timeout_ms '0': expected a whole number from 1 to 3600000");
    refused_at(load("type = command\nreader = r\npower_off = a\npower_on = b\nhub = 1-1"), 8,
               "key 'hub' does not apply to [slot A1], a command slot");
    refused_at(load("type = usb-hub\nhub = 1-1\nport = 1\npower_on = x"), 7, "'power_on' does not apply");
    refused_at(load("power_off = x"), 4, "'power_off' does not apply to [slot A1], a virtual slot");
    /* none: a reader and nothing that switches */
    ck_assert_int_eq(load("type = none\nreader = r\nvar.EXPECTED_SERIAL = X"), 0);
    ck_assert_int_eq(rig.slots[0].type, TR_SLOT_NONE);
    ck_assert_str_eq(tr_slot_type_name(TR_SLOT_NONE), "none");
    refused_at(load("type = none"), 3, "[slot A1] is none: it needs reader");
    refused_at(load("type = none\nreader = r\npower_on = x"), 6, "'power_on' does not apply to [slot A1], a none slot");
    refused_at(load("type = none\nreader = r\nport = 2"), 6, "'port' does not apply");
    refused_at(load("type = relay"), 4, "slot type 'relay': expected virtual, usb-hub, pcsc-only, command, none or reload");
}
END_TEST

START_TEST(rig_defaults_of_interface_and_power)
{
    ck_assert_msg(load_rig("[rig]\nname = d\ninterface = skf\nskf_library = /l/libv.so\nskf_app = APP\n"
                           "skf_device = \"V*\"\nskf_quirks = devinfo=286\npower_on = on.sh\npower_off = off.sh\n"
                           "power_timeout_ms = 700\n"
                           "[slot A1]\ntype = command\n"
                           "[slot A2]\ntype = none\nskf_serial = S2\nskf_app = OTHER\n"
                           "[slot A3]\ninterface = apdu\ntype = pcsc-only\nreader = r\n") == 0, "%s", err.msg);
    const tr_slot_cfg *a1 = &rig.slots[0], *a2 = &rig.slots[1], *a3 = &rig.slots[2];
    ck_assert_int_eq(a1->iface, TR_IFACE_SKF);
    ck_assert_str_eq(a1->skf.library, "/l/libv.so");
    ck_assert_str_eq(a1->skf.app, "APP");
    ck_assert_str_eq(a1->skf.device, "V*");
    ck_assert_uint_eq(a1->skf.quirks.devinfo_size, 286);
    ck_assert_str_eq(a1->power.on, "on.sh");
    ck_assert_str_eq(a1->power.off, "off.sh");
    ck_assert_uint_eq(a1->power.timeout_ms, 700);
    /* a slot's own keys win; naming the device by serial drops the [rig] pattern */
    ck_assert_str_eq(a2->skf.app, "OTHER");
    ck_assert_str_eq(a2->skf.serial, "S2");
    ck_assert_str_eq(a2->skf.device, "");
    ck_assert_str_eq(a2->power.on, ""); /* none takes no power command */
    /* an apdu slot takes none of the skf defaults, and is not refused for them */
    ck_assert_int_eq(a3->iface, TR_IFACE_APDU);
    ck_assert_str_eq(a3->skf.library, "");
    /* in [rig]: bad values name their line; both device keys are refused; other keys are unknown */
    refused_at(load_rig("[rig]\nskf_quirks = devinfo=1\n[slot A1]\nprofile = p\n"), 2, "devinfo takes 286 or 294");
    refused_at(load_rig("[rig]\nskf_device = a\nskf_serial = b\n[slot A1]\nprofile = p\n"), 3,
               "[rig] gives both skf_device and skf_serial");
    refused_at(load_rig("[rig]\nreader = x\n[slot A1]\nprofile = p\n"), 2, "unknown key 'reader' in [rig]");
    ck_assert_ptr_nonnull(strstr(err.msg, "power_timeout_ms"));
    refused_at(load_rig("[rig]\ninterface = skf\n[slot A1]\nprofile = p\n"), 3,
               "it needs skf_library = <the vendor's .so> (here or in [rig])");
}
END_TEST

/* ---- ATR structure --------------------------------------------------------- */

static bool atr_ok(const char *hex, char *why, size_t cap)
{
    uint8_t b[64];
    long n = tr_hex_decode(hex, b, sizeof b);
    ck_assert_int_ge(n, 0);
    return tr_atr_check(b, (size_t)n, why, cap);
}

/* The trust anchor variables name files: relative to the profile or rig
 * file that sets them, absolute as given; other variables are left alone. */
/* The results database of [rig]: a URL as given, a path relative to the
 * rig file, anything else a config error at its line. */
START_TEST(rig_db_key)
{
#define RIG_DB(line) "[rig]\nname = r\n" line "\n[slot A1]\nserial = CONFIGTEST000001\n"
    ck_assert_msg(load_rig(RIG_DB("db = postgresql://qa@db.lab/tokenrig")) == 0, "%s", err.msg);
    ck_assert_str_eq(rig.db, "postgresql://qa@db.lab/tokenrig");
    ck_assert_int_eq(load_rig(RIG_DB("db = results/lab.db")), 0);
    ck_assert_str_eq(rig.db, "/tmp/results/lab.db");
    ck_assert_int_eq(load_rig(RIG_DB("db = /var/lib/tokenrig/r.db")), 0);
    ck_assert_str_eq(rig.db, "/var/lib/tokenrig/r.db");
    refused_at(load_rig(RIG_DB("db = mysql://db.lab/x")), 3,
               "db = mysql://db.lab/x: database 'mysql://...': only postgresql://");
    refused_at(load_rig(RIG_DB("db =")), 3, "db = : the database is empty");
    ck_assert_int_eq(load_rig(RIG_DB("")), 0);
    ck_assert_str_eq(rig.db, "");
#undef RIG_DB
}
END_TEST

START_TEST(file_vars_relative_to_their_file)
{
    ck_assert_msg(load("var.CA_ROOT = roots/ca.der\nvar.SEAL_MAKER_ROOT = /etc/seal.pem\nvar.OTHER = x/y") == 0,
                  "%s", err.msg);
    ck_assert_str_eq(tr_vars_get(rig.slots[0].vars, "CA_ROOT"), "/tmp/roots/ca.der");
    ck_assert_str_eq(tr_vars_get(rig.slots[0].vars, "SEAL_MAKER_ROOT"), "/etc/seal.pem");
    ck_assert_str_eq(tr_vars_get(rig.slots[0].vars, "OTHER"), "x/y");
    char prof[80];
    snprintf(prof, sizeof prof, "/tmp/check_config.%d.profile.ini", (int)getpid());
    FILE *f = fopen(prof, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "[profile]\nname = p\n[vars]\nCA_ROOT = ../pki/ca.crt.der\nSEAL_MAKER_ROOT = \"sr.pem\"\n");
    fclose(f);
    tr_profile p;
    ck_assert_msg(tr_profile_load(prof, &p, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(tr_vars_get(p.vars, "CA_ROOT"), "/tmp/../pki/ca.crt.der");
    ck_assert_str_eq(tr_vars_get(p.vars, "SEAL_MAKER_ROOT"), "/tmp/sr.pem");
    tr_profile_free(&p);
    unlink(prof);
}
END_TEST

START_TEST(atr_structure)
{
    static const char *const good[] = {
        "3B8A8001544F4B454E52494730310D", /* REF-1: TD1 T=0, TD2 T=1, TCK */
        "3B8A8001424144544F4B454E303116", /* REF-1's bad-atr: same shape */
        "3B0B544F4B454E524947205435",     /* T=0 only: no TCK */
        "3B00",                           /* the shortest */
        "3F00",                           /* inverse convention */
        "3B72 9600 00 3180",              /* TA1 TB1 TC1, 2 historical bytes, T=0 */
    };
    char why[160];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        ck_assert_msg(atr_ok(good[i], why, sizeof why), "%s: %s", good[i], why);
    /* TD1 says T=1 with TA2 following, 1 historical byte: TCK required */
    uint8_t t1[] = {0x3B, 0x81, 0x11, 0xFF, 0x41, 0x00};
    ck_assert(!tr_atr_check(t1, sizeof t1, why, sizeof why));
    ck_assert_ptr_nonnull(strstr(why, "TCK is 00"));
    t1[5] = 0x81 ^ 0x11 ^ 0xFF ^ 0x41;
    ck_assert_msg(tr_atr_check(t1, sizeof t1, why, sizeof why), "%s", why);
    ck_assert(!tr_atr_check(t1, sizeof t1 - 1, why, sizeof why)); /* without it */

    static const struct {
        const char *hex, *why;
    } bad[] = {
        {"3B", "1 bytes"},
        {"3A00", "TS is 3A"},
        {"3B8A8001544F4B454E52494730310E", "TCK is 0E, expected 0D"},
        {"3B8A8001544F4B454E524947303131", "TCK is 31"},
        {"3B8A8001544F4B454E5249473031", "not 14"}, /* TCK missing */
        {"3B0B544F4B454E52494720543535", "not 14"}, /* one byte too many */
        {"3B8A80", "run past"},
        {"3BF0", "run past"},
        {"3B0F0102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F20", "34 bytes"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(!atr_ok(bad[i].hex, why, sizeof why), "%s passed", bad[i].hex);
        ck_assert_msg(strstr(why, bad[i].why), "%s: '%s' does not say '%s'", bad[i].hex, why, bad[i].why);
    }
    ck_assert(!atr_ok("3A00", NULL, 0)); /* no reason wanted */
}
END_TEST

/* ---- the batch manifest --------------------------------------------------------------- */

static tr_manifest man;

/* Load text as a manifest: 0, or -1 with err set. */
static int load_manifest(const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    tr_err_clear(&err);
    return tr_manifest_load(path, &man, &err);
}

/* The manifest is refused at line with a message containing needle. */
static void refused(const char *text, int line, const char *needle)
{
    ck_assert_msg(load_manifest(text) < 0, "accepted: %s", text);
    ck_assert_int_eq(err.code, TR_E_CONFIG);
    ck_assert_str_eq(err.file, path);
    ck_assert_msg(err.line == line, "line %d, expected %d (%s)", err.line, line, err.msg);
    ck_assert_msg(strstr(err.msg, needle), "\"%s\" lacks \"%s\"", err.msg, needle);
    ck_assert_ptr_null(man.entries);
}

START_TEST(manifest_complete_rows_load)
{
    ck_assert_msg(load_manifest("\xEF\xBB\xBFserial,role,org,not_after,slot\n"
                                "TRV0000000000001,main,\"Example, Ltd.\",2028-02-29,A1\n"
                                "\n"
                                "TRV0000000000002 , secondary,Example,2030-12-31,\n") == 0,
                  "%s", err.msg);
    ck_assert_uint_eq(man.n, 2);
    ck_assert_str_eq(man.entries[0].org, "Example, Ltd.");
    ck_assert_str_eq(man.entries[0].not_after, "2028-02-29");
    ck_assert_str_eq(man.entries[0].slot, "A1");
    ck_assert_str_eq(man.entries[1].serial, "TRV0000000000002"); /* trimmed */
    ck_assert_str_eq(man.entries[1].role, "secondary");
    ck_assert_str_eq(man.entries[1].slot, "");                   /* slot is optional */
    ck_assert_int_eq(man.entries[1].line, 4);
    tr_manifest_free(&man);
    /* columns in any order */
    ck_assert_msg(load_manifest("not_after,org,role,serial\n2031-01-01,E,main,S1\n") == 0, "%s", err.msg);
    ck_assert_str_eq(man.entries[0].serial, "S1");
    ck_assert_str_eq(man.batch, ""); /* no batch column */
    tr_manifest_free(&man);
    /* a batch column names the batch of the results database; a blank cell says nothing */
    ck_assert_msg(load_manifest("serial,role,org,not_after,batch\nS1,main,E,2031-01-01,lot-7\n"
                                "S2,main,E,2031-01-01,\nS3,main,E,2031-01-01,lot-7\n") == 0,
                  "%s", err.msg);
    ck_assert_str_eq(man.batch, "lot-7");
    tr_manifest_free(&man);
}
END_TEST

START_TEST(manifest_fails_closed)
{
    /* the header names every required column, once */
    refused("serial,role,org\nS1,main,E\n", 1, "no 'not_after' column");
    refused("serial,role,not_after\nS1,main,2030-01-01\n", 1, "no 'org' column");
    refused("role,org,not_after\nmain,E,2030-01-01\n", 1, "no 'serial' column");
    refused("serial,role,org,not_after,serial\n", 1, "column 'serial' named twice");
    refused("serial,role,org,not_after,colour\n", 1, "unknown column 'colour'");
    refused("serial,role,org,not_after,batch\nS1,main,E,2030-01-01,lot-1\nS2,main,E,2030-01-01,lot-2\n", 3,
            "batch 'lot-2' is not the batch the rows above name (one manifest is one batch)");
    refused("", 1, "empty manifest");
    /* every row complete */
    refused("serial,role,org,not_after\nS1,main,E,2030-01-01\nS2,main,E,\n", 3, "row has no not_after");
    refused("serial,role,org,not_after\nS1,main,,2030-01-01\n", 2, "row has no org");
    refused("serial,role,org,not_after\nS1,,E,2030-01-01\n", 2, "row has no role");
    refused("serial,role,org,not_after\n,main,E,2030-01-01\n", 2, "row has no serial");
    refused("serial,role,org,not_after\nS1,main,E\n", 2, "row has 3 fields, the header has 4 columns");
    refused("serial,role,org,not_after\nS1,main,E,2030-01-01,A1\n", 2, "more fields than the header");
    /* values */
    refused("serial,role,org,not_after\nS1,boss,E,2030-01-01\n", 2, "role 'boss': expected main or secondary");
    refused("serial,role,org,not_after\nS1,main,E,2030-1-01\n", 2, "not_after '2030-1-01'");
    refused("serial,role,org,not_after\nS1,main,E,2030-13-01\n", 2, "not_after '2030-13-01'");
    refused("serial,role,org,not_after\nS1,main,E,2029-02-29\n", 2, "not_after '2029-02-29'");
    refused("serial,role,org,not_after\nS1,main,E,1900-02-29\n", 2, "not_after '1900-02-29'");
    refused("serial,role,org,not_after\nS1,main,E,2030-04-31\n", 2, "not_after '2030-04-31'");
    refused("serial,role,org,not_after\nS1,main,E,2030-0a-01\n", 2, "not_after '2030-0a-01'");
    refused("serial,role,org,not_after\nS1,main,E,2030-01-01\nS1,main,E,2030-01-01\n", 3, "serial S1 appears twice");
    /* a value longer than its field is refused, never cut */
    char text[512];
    snprintf(text, sizeof text, "serial,role,org,not_after\n%0*d,main,E,2030-01-01\n", 64, 7);
    refused(text, 2, "serial (at most 63 characters) is too long");
    snprintf(text, sizeof text, "serial,role,org,not_after\n%0*d,main,E,2030-01-01\n", 63, 7);
    ck_assert_msg(load_manifest(text) == 0, "%s", err.msg);
    tr_manifest_free(&man);
}
END_TEST

/* ---- options are spelled out --------------------------------------------------------------- */

START_TEST(options_spelled_out)
{
    static const struct option opts[] = {
        {"rig", required_argument, 0, 'r'},   {"slots", required_argument, 0, 's'},
        {"slot-timeout", required_argument, 0, 'T'}, {"allow-destructive", no_argument, 0, 'A'},
        {"out", required_argument, 0, 'o'},   {0, 0, 0, 0}};
    static const char shortopts[] = "r:s:T:Ao:D:q";
    static const struct {
        const char *args[6];
        int want;
    } cases[] = {
        {{"run", "--allow-destructive", "--rig", "x", "suite", NULL}, 0},
        {{"run", "--allow", NULL}, -1},
        {{"run", "--allow=1", NULL}, -1},
        {{"run", "--slo", "A1", NULL}, -1},            /* ambiguous: --slots or --slot-timeout */
        {{"run", "--rig=x", "--slots=A1", NULL}, 0},
        {{"run", "--out", "--allow", NULL}, 0},         /* the value of --out, not an option */
        {{"run", "-o", "--allow", NULL}, 0},
        {{"run", "-qo", "--allow", NULL}, 0},           /* -o ends the cluster, takes the next argument */
        {{"run", "-D--allow=1", "--al", NULL}, -1},     /* -D's value is glued: --al is an option */
        {{"run", "--", "--allow", NULL}, 0},            /* after --: operands */
        {{"run", "--no-such-option", NULL}, 0},         /* unknown: getopt_long says so */
        {{"run", "-", "--a", NULL}, -1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int argc = 0;
        char *argv[7];
        while (cases[k].args[argc]) {
            argv[argc] = (char *)cases[k].args[argc];
            argc++;
        }
        argv[argc] = NULL;
        ck_assert_msg(tr_cli_spelled_out("tokenrig run", argc, argv, shortopts, opts) == cases[k].want,
                      "case %zu", k);
    }
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("slot keys");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, profile_keys_of_a_virtual_slot);
    tcase_add_test(tc, rig_db_key);
    tcase_add_test(tc, bad_values_name_file_line_and_key);
    tcase_add_test(tc, unknown_key_lists_the_keys_of_the_slot_type);
    tcase_add_test(tc, fault_names_checked_when_the_file_is_read);
    tcase_add_test(tc, keys_of_another_slot_type_are_refused);
    tcase_add_test(tc, file_vars_relative_to_their_file);
    tcase_add_test(tc, atr_structure);
    tcase_add_test(tc, skf_slot_keys);
    tcase_add_test(tc, skf_slot_refusals);
    tcase_add_test(tc, command_and_none_slots);
    tcase_add_test(tc, rig_defaults_of_interface_and_power);
    suite_add_tcase(s, tc);
    tc = tcase_create("manifest");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, manifest_complete_rows_load);
    tcase_add_test(tc, manifest_fails_closed);
    suite_add_tcase(s, tc);
    tc = tcase_create("options");
    tcase_add_test(tc, options_spelled_out);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(config_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
