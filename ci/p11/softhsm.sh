#!/usr/bin/env bash
# SoftHSM2 as a PKCS#11 target for the CI: a private SOFTHSM2_CONF and token
# directory under DIR (the system's /etc/softhsm and /var/lib/softhsm are
# never read or written), N tokens initialized with REF-1's PINs and
# provisioned by ci/p11/lib.sh. SoftHSM has no daemon: "down" only removes
# what "up" made. Facts about its PIN handling: ci/p11/README.md.
#
#   softhsm.sh up DIR [--slots N] [--role main|secondary[,...]]
#                     [--alg ecdsa|rsa[,...]] [--label-prefix P]
#                     [--org NAME] [--validity valid|renewal-due|expired|not-yet-valid]
#   softhsm.sh env DIR      (what up printed, again)
#   softhsm.sh down DIR
#
# A list gives the k-th token the k-th item (the last one repeating):
# --slots 2 --role main,secondary. Token k is labelled P<k> (P: softhsm-),
# and its certificate's CN is the serial SoftHSM gave the token.
# up prints the client's environment as shell assignments (eval-able) and
# one "# token ..." comment line per token; it is also kept in DIR/env.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
MODULE=${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}

usage() { sed -n '9,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# The serial SoftHSM assigned to the token labelled $1.
token_serial() {
  SOFTHSM2_CONF=$DIR/softhsm2.conf softhsm2-util --show-slots |
    awk -v want="$1" '/Serial number:/ {s = $3} /Label:/ {l = $2; if (l == want) {print s; exit}}'
}

# provision K: init token K, issue its PKI, import the pair and store the rest.
provision() {
  local k=$1 label=$PREFIX$1 role alg serial
  role=$(p11_nth "$ROLES" "$k")
  alg=$(p11_nth "$ALGS" "$k")
  SOFTHSM2_CONF=$DIR/softhsm2.conf softhsm2-util --init-token --free --label "$label" \
    --so-pin "$P11_SO_PIN" --pin "$P11_USER_PIN" >>"$DIR/provision.log" 2>&1 ||
    p11_die "softhsm2-util --init-token $label failed: see $DIR/provision.log"
  serial=$(token_serial "$label")
  [ -n "$serial" ] || p11_die "no serial for token $label"
  p11_issue "$DIR" "tok$k" "$alg" "$serial" "$role" "$ORG" "$VALIDITY"
  SOFTHSM2_CONF=$DIR/softhsm2.conf softhsm2-util --import "$DIR/tok$k.key.pem" --token "$label" \
    --label "$P11_KEY_LABEL" --id "$P11_KEY_ID" --pin "$P11_USER_PIN" >>"$DIR/provision.log" 2>&1 ||
    p11_die "softhsm2-util --import into $label failed: see $DIR/provision.log"
  if [ -f "$DIR/tok$k.enc.key.pem" ]; then
    SOFTHSM2_CONF=$DIR/softhsm2.conf softhsm2-util --import "$DIR/tok$k.enc.key.pem" --token "$label" \
      --label "$P11_ENC_LABEL" --id "$P11_ENC_ID" --pin "$P11_USER_PIN" >>"$DIR/provision.log" 2>&1 ||
      p11_die "softhsm2-util --import of the encryption key into $label failed: see $DIR/provision.log"
  fi
  SOFTHSM2_CONF=$DIR/softhsm2.conf p11_store "" "$MODULE" "$label" "$DIR" "tok$k" "$role" done
  p11_describe "$DIR" "tok$k" "$label" "$serial" "$role" "$alg" >>"$DIR/env"
}

up() {
  local n=1
  ROLES=main ALGS=ecdsa PREFIX=softhsm- ORG="tokenrig p11 test" VALIDITY=valid
  while [ $# -gt 0 ]; do
    case $1 in
      --slots) n=${2:?}; shift 2 ;;
      --role) ROLES=${2:?}; shift 2 ;;
      --alg) ALGS=${2:?}; shift 2 ;;
      --label-prefix) PREFIX=${2:?}; shift 2 ;;
      --org) ORG=${2:?}; shift 2 ;;
      --validity) VALIDITY=${2:?}; shift 2 ;;
      *) usage ;;
    esac
  done
  [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 32 ] || p11_die "--slots: 1..32, not '$n'"
  p11_check_list role "$ROLES" "main secondary"
  p11_check_list alg "$ALGS" "ecdsa rsa"
  [ -x "$(command -v softhsm2-util)" ] && [ -f "$MODULE" ] || p11_die "softhsm2 is not installed (ci/deps.sh)"
  [ ! -e "$DIR/softhsm2.conf" ] || p11_die "$DIR already holds a SoftHSM target (down it first)"
  mkdir -p "$DIR/tokens"
  # slots.removable: a token that can be "removed" is what a USB key is;
  # reset_on_fork: the harness forks a child per slot, which must start clean.
  printf '%s\n' "directories.tokendir = $DIR/tokens" "objectstore.backend = file" "log.level = ERROR" \
    "slots.removable = true" "slots.mechanisms = ALL" "library.reset_on_fork = true" >"$DIR/softhsm2.conf"
  printf 'SOFTHSM2_CONF=%s\nTOKENRIG_P11_MODULE=%s\nTOKENRIG_P11_CA_ROOT=%s\nTOKENRIG_P11_SEAL_MAKER_ROOT=%s\n' \
    "$DIR/softhsm2.conf" "$MODULE" "$DIR/pki/ca.crt.der" "$DIR/pki/sealroot.crt.der" >"$DIR/env"
  p11_ca "$DIR"
  for ((k = 0; k < n; k++)); do provision "$k"; done
  cat "$DIR/env"
}

down() {
  rm -rf "$DIR/tokens" "$DIR/pki" "$DIR"/tok[0-9]* "$DIR/softhsm2.conf" "$DIR/env" \
    "$DIR/provision.log" "$DIR/mkpki.log"
}

[ $# -ge 2 ] || usage
cmd=$1
DIR=$(realpath -m "$2")
shift 2
case $cmd in
  up) up "$@" ;;
  env) cat "$DIR/env" ;;
  down) down ;;
  *) usage ;;
esac
