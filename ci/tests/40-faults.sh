#!/usr/bin/env bash
# Issue 4 (and issue 11's and 15's new checks), the proof: every certification suite
# (suites/DEFAULT) on healthy tokens of every algorithm and both roles, and
# on one token per defect of the REF-1 fault table. Healthy: every test
# passes (or is skipped because the token's role makes it not apply, or —
# decrypt — because an ecdsa token has no encryption pair). Defective: the
# defect's own classification fails and nothing else does (a token that
# cannot answer at all — mute, dropped, never back from a power cycle — may
# end the rest of its tests as errors of that same classification). Prints
# the detection table and the signing and decryption rates measured per
# algorithm.
#
# Every rigs/faults*.ini, four at a time, each under its own private pcscd:
# one pcscd serves at most 16 readers (see rigs/faults.ini).
. "$(dirname "$0")/lib.sh"
FAULT_RIGS='faults*.ini' FAULT_IFACE=apdu
# four rigs at a time, not all seven: with 56 tokens at once on 2 shared CPUs
# the healthy tokens' sign-throughput fell under SIGN_MIN_RATE (50/s; 22/s
# measured), and four at a time take no longer (measured: 53 s either way)
FAULT_PARALLEL=${FAULT_PARALLEL:-4}
. "$(dirname "$0")/faulttable.sh"
