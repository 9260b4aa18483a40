/* remedy.c — the remediation table (see remedy.h). Written for the bench
 * engineer holding the token: what to do with this token (and its lot)
 * now, in the order to do it. A security defect (a PIN that does not lock,
 * a key usable without the PIN) quarantines the whole lot: the same
 * firmware is in every token of it. A fault that may be the rig's (a port,
 * a cable) is retested on another port before the token is blamed. */
#include "remedy.h"

#include <string.h>

typedef struct {
    const char *code; /* a code, or a family ending in '.' */
    const char *hint;
} remedy;

#define QUARANTINE "Security defect: quarantine the whole lot (same firmware) and return it to the vendor with this report; do not ship any token of it."
#define RETURN_FW "Firmware defect: set the token aside and return it to the vendor with this report (the trace shows the exchange); check other tokens of the lot."
#define REPROVISION "Provisioning defect: do not ship; send the token back to personalisation (or the vendor) to be provisioned again, then certify it again."

static const remedy TABLE[] = {
    /* PIN handling */
    {"pin.no-lockout", QUARANTINE " Wrong PINs do not block the PIN: it can be guessed."},
    {"pin.counter-reset-by-power", QUARANTINE " A power cycle gives the PIN its tries back: it can be guessed."},
    {"pin.counter-reset-by-reset", QUARANTINE " A card reset gives the PIN its tries back: it can be guessed."},
    {"pin.so-no-lockout", QUARANTINE " The SO PIN never blocks: the user PIN can be reset by guessing it."},
    {"pin.so-wrong-pin-accepted", QUARANTINE " A wrong SO PIN was accepted."},
    {"pin.wrong-pin-accepted", QUARANTINE " A wrong PIN was accepted."},
    {"pin.old-pin-accepted", QUARANTINE " The PIN before a change still works."},
    {"pin.verified-after-reset", QUARANTINE " The PIN stays verified across a reset: the next user signs without it."},
    {"pin.verified-after-power", QUARANTINE " The PIN stays verified across a power cycle."},
    {"pin.verified-after-logout", QUARANTINE " Logging out does not end the verified state."},
    {"pin.verified-after-wrong-pin", QUARANTINE " A wrong PIN leaves the verified state in place."},
    {"pin.verified-after-unblock", QUARANTINE " An unblock leaves the token verified."},
    {"pin.not-factory-default", "Not in factory state: someone set a PIN. Set the token aside (it may have been used or tampered with), do not ship it; ask the vendor or the holder of its PIN; run `tokenrig recover` if this bench changed it."},
    {"pin.not-factory-state", "Not in factory state: set the token aside; run `tokenrig recover` if a crashed run of this bench left it so, else ask the vendor; do not ship it."},
    {"pin.default-flag-wrong", RETURN_FW " The 'factory PIN' flag does not follow PIN changes: middleware will not ask holders to change it."},
    {"pin.change-not-persistent", RETURN_FW " A PIN change is lost at the next power cycle."},
    {"pin.wrong-max-tries", "The try counter does not match the profile's PIN_MAX_TRIES: check the profile is this model's; if it is, return the lot to the vendor."},
    {"pin.counter-wrong", RETURN_FW " The try counter does not count as REF-1 says."},
    {"pin.so-counter-wrong", RETURN_FW " The SO try counter does not count as it should."},
    {"pin.so-counter-spent", "The SO counter was already spent before the test: run `tokenrig recover`, then certify again; if it is still spent, return the token to the vendor."},
    {"pin.not-restored", "The token may be left with a changed PIN: run `tokenrig recover` at once (it uses the journal), then certify it again; never ship it before."},
    {"pin.counter-not-restored", "The try counter was not restored: run `tokenrig recover`, then certify again; if it stays spent, return the token."},
    {"pin.so-counter-not-restored", "The SO try counter was not restored: run `tokenrig recover`, then certify again; if it stays spent, return the token."},
    {"pin.unblock-failed", "Unblocking with the SO PIN failed: check SO_PIN in the profile; run `tokenrig recover`; if it still fails, return the token (it may be blocked for good)."},
    {"pin.change-failed", "Changing the PIN failed: run `tokenrig recover`, retest once; if it fails again, return the token to the vendor."},
    {"pin.verify-failed", "The factory PIN was refused: check DEFAULT_PIN in the profile; run `tokenrig recover`; if it is still refused, set the token aside and ask the vendor."},
    {"pin.right-pin-refused", RETURN_FW " The right PIN was refused."},
    {"pin.logout-failed", RETURN_FW " Logging out failed."},
    {"pin.verified-state-lost", RETURN_FW " The verified state is lost where it must stay."},
    {"pin.verified-state-wrong", RETURN_FW " The token reports a wrong verified state."},
    {"pin.no-pin-info", "The PIN info could not be read: check the profile's DO_PIN_INFO; retest on another port; if it persists, return the token."},
    {"pin.state-model", RETURN_FW " The PIN state machine departs from the model (the message names the step)."},
    {"pin.generic", "A PIN test failed: read the message and the trace; retest once; if it repeats, return the token with this report."},
    {"pin.", "A PIN defect: set the token aside and return it to the vendor with this report; if the PIN may be left changed, run `tokenrig recover` first."},
    /* signing */
    {"sign.no-pin-required", QUARANTINE " The token signs without the PIN."},
    {"sign.bad-signature", RETURN_FW " A signature does not verify against the token's certificate."},
    {"sign.too-slow", "Below the profile's signing rate: retest once on another port (a slow hub or a busy bench host also slows it); if still slow, return the lot to the vendor."},
    {"sign.failed", "Signing failed: retest once on another port; if it fails again, return the token with this report."},
    {"sign.refused-after-verify", RETURN_FW " Signing is refused although the PIN was verified."},
    {"sign.", "A signing defect: retest once; if it repeats, return the token to the vendor with this report."},
    /* decryption (bid opening) */
    {"enc.no-pin-required", QUARANTINE " The token decrypts without the PIN: sealed bids can be opened early."},
    {"enc.uses-sign-key", QUARANTINE " The signing key opens envelopes: the encryption pair is not separate."},
    {"enc.missing", REPROVISION " The token has no encryption pair: it cannot open bids."},
    {"enc.decrypt-failed", "Bids sealed to this token do not open: check its encryption certificate is for its key (re-provision if not); else return the token to the vendor. Do not let it be used for a tender."},
    {"enc.cert-is-sign-key", REPROVISION " The encryption certificate holds the signing key."},
    {"enc.cert-other-holder", REPROVISION " The encryption certificate names another holder than the signing certificate."},
    {"enc.", "A decryption defect: do not let the token be used for a tender; re-provision its encryption pair or return it."},
    /* certificates */
    {"cert.expired", "The certificate has expired: renew (re-issue) it before the token is used; do not ship it as it is."},
    {"cert.renewal-due", "The certificate is within the renewal window: renew it before use (and before bids sealed to it are due); the token itself is fine."},
    {"cert.not-yet-valid", "The certificate is not valid yet: check the bench host's clock first; if the clock is right, have the CA re-issue it."},
    {"cert.not-valid", "The certificate is not valid today: check the bench host's clock, then renew or re-issue it."},
    {"cert.untrusted-ca", "Issued by a CA that does not chain to CA_ROOT: quarantine the token (possibly counterfeit) and report it to the CA; check first that CA_ROOT is the right root for this batch."},
    {"cert.missing", REPROVISION " The token holds no certificate."},
    {"cert.unparseable", REPROVISION " The certificate cannot be parsed."},
    {"cert.key-mismatch", REPROVISION " The certificate is not for the token's key."},
    {"cert.wrong-alg", "The certificate's key algorithm is not the profile's: check the slot's profile (sm2/ecdsa/rsa) is this token's; if it is, re-provision."},
    {"cert.manifest-mismatch", "The certificate does not match the batch manifest: check the manifest row first; if the manifest is right, re-provision the token."},
    {"cert.", "A certificate problem: renew or re-provision the certificate before the token is used."},
    /* the electronic seal */
    {"seal.present-on-secondary", "A secondary key carries the company seal: do not ship; send it back to personalisation to remove the seal (only main keys may seal)."},
    {"seal.missing-on-main", REPROVISION " The main key has no seal file."},
    {"seal.bad-signature", "The seal's signature does not verify: quarantine the token (possibly forged) and report it to the seal maker; re-provision."},
    {"seal.untrusted-maker", "The seal's maker does not chain to SEAL_MAKER_ROOT: quarantine the token (possibly forged) and report it; check SEAL_MAKER_ROOT first."},
    {"seal.no-pin-required", QUARANTINE " The seal reads without the PIN."},
    {"seal.expired", "The seal has expired: have it re-issued before the token is used."},
    {"seal.not-bound", REPROVISION " The seal is not bound to this token's key."},
    {"seal.wrong-certificate", REPROVISION " The seal does not list this token's certificate."},
    {"seal.bad-picture", REPROVISION " The seal's picture is malformed."},
    {"seal.unparseable", REPROVISION " The seal file cannot be parsed."},
    {"seal.unreadable", "The seal file cannot be read: retest once on another port; then re-provision or return the token."},
    {"seal.refused-after-verify", RETURN_FW " The seal is refused although the PIN was verified."},
    {"seal.", "A seal problem: do not ship; re-provision the seal (or return the token)."},
    /* identity */
    {"identity.not-in-manifest", "This serial is not in the batch manifest: set the token aside and find out where it came from (wrong batch, mix-up, counterfeit); do not certify it into this batch."},
    {"identity.serial-mismatch", "The serial is not the one expected in this slot: check the slot assignment and the manifest, reseat the right token, then retest."},
    {"identity.role-mismatch", "The token's role (main/secondary) is not the expected one: check the rig file or manifest; if they are right, re-provision."},
    {"role.mismatch", "The token's role (main/secondary) is not the expected one: check the rig file or manifest; if they are right, re-provision."},
    {"identity.bad-role", REPROVISION " The token reports no valid role."},
    {"identity.alg-mismatch", "The token's key algorithm is not the profile's: check the slot's profile; if it is right, return the token (wrong model)."},
    {"identity.no-serial", "The serial cannot be read: retest on another port; if it persists, return the token to the vendor."},
    {"identity.", "An identity problem: check the slot, the rig file and the manifest; then retest."},
    {"info.malformed", RETURN_FW " The token info object is malformed."},
    /* recognition and I/O */
    {"enum.no-card", "No card after power-on: reseat the token or replace the hub port (or cable), then retest; if it fails on a second port too, return it."},
    {"enum.no-device", "The USB device did not enumerate: try another hub port and cable, then retest; if it fails on a second port, return the token."},
    {"enum.no-reader", "pcscd listed no reader for it: check the CCID driver and the port, try another port; if it persists, return the token."},
    {"enum.no-answer", "The token gave no ATR or answer after power-on: reseat, try another port; if it persists, return the token."},
    {"enum.bad-atr", "The ATR is not the profile's: check the slot's profile is this model and firmware; if it is, return the token (wrong or changed firmware)."},
    {"enum.no-select", "The application does not select: check the profile's AID; retest on another port; if it persists, return the token."},
    {"enum.no-application", "The application does not select: check the profile's AID; if it is right, return the token."},
    {"enum.", "The token was not recognized: reseat it, try another hub port, then retest; if it fails on two ports, return it."},
    {"io.mute", "The token stopped answering: check it on another port (power-cycle it there); if it goes mute again, return it to the vendor with this report."},
    {"io.removed", "The token disappeared: reseat it, check the hub port and cable, retest on another port; if it drops again, return it."},
    {"io.first-apdu-failed", "The first command after power-on failed: retest on another port; if it repeats, return the token (the 'unrecognizable USB-KEY' fault)."},
    {"io.", "An I/O problem: reseat the token, try another port, then retest; if it repeats, return it."},
    {"time.slow-start", "Power-on to first answer over FIRST_APDU_MAX_MS (the 'unrecognizable USB-KEY' fault): retest once on another port; if still slow, return the lot to the vendor."},
    {"time.slow-apdu", "An answer came over the profile's time limit: retest once on another port (a loaded host slows answers too); if still slow, return the token."},
    {"time.", "Over a time limit: retest once on another port; if it repeats, return the token."},
    /* the APDU protocol */
    {"proto.endless-61xx", RETURN_FW " The GET RESPONSE chain never ends (61xx)."},
    {"proto.6cxx-loop", RETURN_FW " The token asks for another Le again and again (6Cxx)."},
    {"proto.trailing-bytes", RETURN_FW " Bytes after a data object's last BER-TLV object."},
    {"proto.short-read", RETURN_FW " READ BINARY gives fewer bytes with 9000 while the file goes on."},
    {"proto.", RETURN_FW},
    /* vendor libraries */
    {"lib.crash", "The vendor library (SKF/PKCS#11) crashed: report it to the vendor with this report; retest with a fixed library. The token may be fine."},
    /* the rig and the run: not the token's fault */
    {"rig.port-not-switched", "Rig problem, not the token: the hub port did not switch power. Check the hub's per-port switching (`tokenrig hubs`), move the token to a port that switches, rerun."},
    {"rig.hub-not-per-port", "Rig problem: the hub switches all ports together (ganged). Use a hub with per-port power switching for this slot, then rerun."},
    {"rig.pcsc-lost", "Rig problem: the PC/SC service (pcscd) went away during the run. Check the bench host (journal, USB), then rerun the tokens of this run."},
    {"rig.", "Rig problem, not the token: fix the rig (rig file, hub, pcscd), then rerun."},
    {"not-run.destructive", "Not certified: the destructive tests were not run. Rerun with --allow-destructive."},
    {"not-run.no-power", "Not certified: this slot cannot power-cycle its token. Move the token to a slot with a power switch (or give the slot one), then rerun."},
    {"not-run.no-expected-serial", "Not certified: no expected serial for this slot. Give a batch manifest (--manifest) or the slot's serial in the rig file, then rerun."},
    {"not-run.no-expected-role", "Not certified: no expected role for this slot. Give it in the manifest or the rig file, then rerun."},
    {"not-run.interrupted", "Not certified: the run was interrupted. Rerun these tokens (run `tokenrig recover` first if it asks)."},
    {"not-run.", "Not certified: the run left tests out (the message says why). Give what is missing, then rerun."},
    {"recovery.failed", "The token could not be given its factory PINs back: do not ship it; run `tokenrig recover` again, and if that fails, send the token to the vendor with the journal."},
    {"recovery.other-token", "Another token sits in the slot the journal names: put the journaled token back, run `tokenrig recover`, then certify."},
    {"config", "Configuration error, not the token: a variable the suites need is missing or wrong (profile, rig, -D). Fix it and rerun; these verdicts do not count."},
    {"suite", "Suite error, not the token: a suite file has a bug (the message gives file:line). Fix the suite and rerun."},
    /* harness error codes (error.c, tr_code_name) on an errored test */
    {"rig", "Rig error, not the token: the rig could not be brought up or a power switch failed (the message says which). Fix the rig, then rerun."},
    {"pcsc", "A PC/SC call failed: check pcscd and the reader, reseat the token, then rerun; if only this token shows it on two ports, return it."},
    {"timeout", "A wait ran out: reseat the token, try another port, then rerun; if it repeats on a second port, return the token."},
    {"token", "The token answered something impossible: retest once; if it repeats, return the token with this report (the trace shows the answer)."},
    {"crypto", "A cryptographic object could not be processed: check the profile and the PKI files it names; if they are right, re-provision the token."},
    {"permission", "Permission problem on the bench host (USB, sysfs): the message carries the fix; apply it and rerun."},
    {"io", "A file or socket error on the bench host: check disk space and the message, then rerun."},
    {"internal", "An internal error of tokenrig: keep this report directory and report it; rerun the token."},
    {"nomem", "The bench host ran out of memory: close other work and rerun."},
    {"unclassified", "A failure without a class: read the message and the trace; retest once; if it repeats, return the token with this report."},
};

#define GENERIC "No hint for this class yet: read the message and the trace excerpt, retest once on another port, and if it repeats set the token aside and contact the vendor with this report."

const char *tr_remedy_hint(const char *code, tr_remedy_match *match)
{
    const remedy *family = NULL;
    size_t best = 0;
    for (size_t i = 0; code && i < sizeof TABLE / sizeof TABLE[0]; i++) {
        size_t n = strlen(TABLE[i].code);
        if (TABLE[i].code[n - 1] != '.') {
            if (!strcmp(code, TABLE[i].code)) {
                if (match)
                    *match = TR_REMEDY_EXACT;
                return TABLE[i].hint;
            }
        } else if (!strncmp(code, TABLE[i].code, n) && n > best) {
            family = &TABLE[i];
            best = n;
        }
    }
    if (match)
        *match = family ? TR_REMEDY_FAMILY : TR_REMEDY_GENERIC;
    return family ? family->hint : GENERIC;
}
