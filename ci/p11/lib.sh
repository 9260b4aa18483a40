# Shared by ci/p11/softhsm.sh and ci/p11/opencryptoki.sh (sourced): the PKI
# of a PKCS#11 target made by mkpki, and its provisioning through opensc's
# pkcs11-tool, the same on every implementation, so that a difference the
# certification finds is the implementation's, not the provisioning's.
#
# A provisioned token holds, as REF-1 does (fixtures/profiles/ref1-*.ini):
#   - the signing key pair (CKO_PRIVATE_KEY + CKO_PUBLIC_KEY) and its
#     certificate (CKO_CERTIFICATE), all three with CKA_ID 01 and
#     CKA_LABEL "sign";
#   - on a main key only, the seal: a private CKO_DATA object (CKA_PRIVATE:
#     listed and read only after a user login, as REF-1 guards it) labelled
#     "seal" whose CKA_VALUE is the DER seal mkpki made for the certificate;
#   - on an rsa token, the encryption pair of bid opening (mkpki enc: the
#     same subject and dates): private key, public key and certificate with
#     CKA_ID 02 and CKA_LABEL "enc";
#   - user PIN DEFAULT_PIN (12345678) and SO PIN SO_PIN (88888888).
set -euo pipefail
P11_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
P11_USER_PIN=12345678
P11_SO_PIN=88888888
P11_KEY_ID=01
P11_KEY_LABEL=sign
P11_SEAL_LABEL=seal
P11_ENC_ID=02
P11_ENC_LABEL=enc

p11_die() { echo "$(basename "$0"): $*" >&2; exit 1; }

# mkpki: $MKPKI, else beside tokenrig in $B (the tests' build directory),
# else the worktree's build/.
p11_mkpki() {
  local m=${MKPKI:-${B:-$P11_ROOT/build}/mkpki}
  [ -x "$m" ] || p11_die "mkpki not found at $m (run make, or set MKPKI)"
  echo "$m"
}

# p11_ca DIR: the CA, seal-maker root and seal maker in DIR/pki (once).
p11_ca() {
  [ -f "$1/pki/ca.crt.der" ] && return 0
  "$(p11_mkpki)" ca --out "$1/pki" >"$1/mkpki.log" 2>&1 || p11_die "mkpki ca failed: see $1/mkpki.log"
}

# p11_issue DIR NAME ALG SERIAL ROLE ORG VALIDITY: the key (PKCS#8 PEM), its
# public half, the certificate (DER, CN = SERIAL) and, for ROLE main, the
# seal, as DIR/NAME.key.pem, .pub.pem, .crt.der, .seal.der.
p11_issue() {
  local dir=$1 name=$2 alg=$3 serial=$4 role=$5 org=$6 validity=$7 m
  m=$(p11_mkpki)
  "$m" token --ca "$dir/pki" --alg "$alg" --serial "$serial" --org "$org" --validity "$validity" \
    --key-out "$dir/$name.key.pem" --cert-out "$dir/$name.crt.der" >>"$dir/mkpki.log" 2>&1 ||
    p11_die "mkpki token ($name) failed: see $dir/mkpki.log"
  openssl pkey -in "$dir/$name.key.pem" -pubout -out "$dir/$name.pub.pem" 2>>"$dir/mkpki.log" ||
    p11_die "openssl could not read $dir/$name.key.pem"
  if [ "$alg" = rsa ]; then # the encryption pair of bid opening (an ECDSA token has none)
    "$m" enc --ca "$dir/pki" --cert "$dir/$name.crt.der" --key-out "$dir/$name.enc.key.pem" \
      --cert-out "$dir/$name.enc.crt.der" >>"$dir/mkpki.log" 2>&1 || p11_die "mkpki enc ($name) failed: see $dir/mkpki.log"
    openssl pkey -in "$dir/$name.enc.key.pem" -pubout -out "$dir/$name.enc.pub.pem" 2>>"$dir/mkpki.log" ||
      p11_die "openssl could not read $dir/$name.enc.key.pem"
  fi
  if [ "$role" = main ]; then
    "$m" seal --ca "$dir/pki" --cert "$dir/$name.crt.der" --version 4 --org "$org" \
      --out "$dir/$name.seal.der" >>"$dir/mkpki.log" 2>&1 || p11_die "mkpki seal ($name) failed: see $dir/mkpki.log"
  fi
}

# p11_write RUNNER MODULE TOKEN LOG ARGS...: pkcs11-tool ARGS with the user
# PIN logged in, run through RUNNER (empty, or the command that enters the
# implementation's namespace), its output appended to LOG.
p11_write() {
  local runner=$1 module=$2 token=$3 log=$4
  shift 4
  $runner pkcs11-tool --module "$module" --token-label "$token" --login --pin "$P11_USER_PIN" "$@" >>"$log" 2>&1 ||
    p11_die "pkcs11-tool $* on token '$token' failed: see $log"
}

# p11_store RUNNER MODULE TOKEN DIR NAME ROLE KEY_BY: the objects of NAME on
# TOKEN. KEY_BY is "pkcs11-tool" (private and public key written through the
# module) or "done" (the caller imported the pair its own way).
p11_store() {
  local runner=$1 module=$2 token=$3 dir=$4 name=$5 role=$6 key_by=$7 log=$4/provision.log
  local obj=(--id "$P11_KEY_ID" --label "$P11_KEY_LABEL")
  if [ "$key_by" = pkcs11-tool ]; then
    p11_write "$runner" "$module" "$token" "$log" --write-object "$dir/$name.key.pem" --type privkey "${obj[@]}" --usage-sign
    p11_write "$runner" "$module" "$token" "$log" --write-object "$dir/$name.pub.pem" --type pubkey "${obj[@]}" --usage-sign
  fi
  p11_write "$runner" "$module" "$token" "$log" --write-object "$dir/$name.crt.der" --type cert "${obj[@]}"
  if [ -f "$dir/$name.enc.crt.der" ]; then
    local enc=(--id "$P11_ENC_ID" --label "$P11_ENC_LABEL")
    if [ "$key_by" = pkcs11-tool ]; then
      p11_write "$runner" "$module" "$token" "$log" --write-object "$dir/$name.enc.key.pem" --type privkey "${enc[@]}" --usage-decrypt
      p11_write "$runner" "$module" "$token" "$log" --write-object "$dir/$name.enc.pub.pem" --type pubkey "${enc[@]}" --usage-decrypt
    fi
    p11_write "$runner" "$module" "$token" "$log" --write-object "$dir/$name.enc.crt.der" --type cert "${enc[@]}"
  fi
  if [ "$role" = main ]; then
    p11_write "$runner" "$module" "$token" "$log" --write-object "$dir/$name.seal.der" --type data --label "$P11_SEAL_LABEL" --private
  fi
}

# The k-th (0-based) item of a comma-separated list, the last one repeating.
p11_nth() {
  local IFS=, k=$2
  local -a a
  read -r -a a <<<"$1"
  [ "$k" -lt "${#a[@]}" ] || k=$((${#a[@]} - 1))
  echo "${a[$k]}"
}

# Check a list of roles / algorithms against what is allowed.
p11_check_list() {
  local what=$1 list=$2 allowed=$3 x
  for x in ${list//,/ }; do
    case " $allowed " in *" $x "*) ;; *) p11_die "--$what: '$x' is not one of: $allowed" ;; esac
  done
}

# The line describing one provisioned token on stdout (a shell comment, so
# the whole output can be eval'd for its assignments).
p11_describe() {
  local dir=$1 name=$2 label=$3 serial=$4 role=$5 alg=$6 seal=-
  [ "$role" = main ] && seal=$dir/$name.seal.der
  local enc=-
  [ -f "$dir/$name.enc.crt.der" ] && enc=$dir/$name.enc.crt.der
  printf '# token label=%s serial=%s role=%s alg=%s key_id=%s key_label=%s cert=%s seal=%s enc_cert=%s\n' \
    "$label" "$serial" "$role" "$alg" "$P11_KEY_ID" "$P11_KEY_LABEL" "$dir/$name.crt.der" "$seal" "$enc"
}
