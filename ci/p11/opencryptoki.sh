#!/usr/bin/env bash
# opencryptoki's software token as a PKCS#11 target for the CI, hermetic:
# its daemon pkcsslotd and every client run in a private mount + IPC
# namespace where directories under DIR are bound over the fixed paths
# opencryptoki insists on:
#   DIR/etc  over /etc/opencryptoki       (opencryptoki.conf: one slot, 0, the sw token)
#   DIR/lib  over /var/lib/opencryptoki   (swtok/: NVTOK.DAT, MK_*, TOK_OBJ/)
#   DIR/run  over /run                    (pkcsslotd.socket and .pid; lock/opencryptoki,
#                                          as /var/lock is /run/lock; run/opencryptoki)
#   DIR/log  over /var/log                (the library creates /var/log/opencryptoki)
#   DIR/shm  over /dev/shm                (the token's POSIX shared memory)
# and a private IPC namespace, as pkcsslotd's SysV shared memory has the
# fixed key ftok("/usr/sbin/pkcsslotd"). The host's /etc, /var and /run are
# never written, and a system pkcsslotd, if any, is neither seen nor touched.
# Root only (mount namespaces, and the daemon gives its socket to the
# pkcs11 group, which must exist: ci/deps.sh makes it).
#
#   opencryptoki.sh up DIR [--role main|secondary] [--alg rsa|ecdsa]
#                          [--label L] [--org NAME] [--validity V]
#   opencryptoki.sh exec DIR -- COMMAND...   (COMMAND inside the namespace)
#   opencryptoki.sh env DIR                  (what up printed, again)
#   opencryptoki.sh down DIR                 (stops our pkcsslotd by its PID)
#
# opencryptoki 3.8 has one software token per daemon (slot 0 here); the
# token is labelled L (default: ock-sw) and initialized with REF-1's PINs
# (its factory SO PIN is 87654321), then provisioned by ci/p11/lib.sh.
# Debian 12's soft token has no EC mechanism at all, so rsa is the default
# (an ecdsa key is stored, but cannot sign: see ci/p11/README.md).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
OCK_FACTORY_SO_PIN=87654321
START_TIMEOUT_S=20
STOP_TIMEOUT_S=10

usage() { sed -n '18,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

module_path() {
  local m
  for m in /usr/lib/*/pkcs11/libopencryptoki.so /usr/lib/*/opencryptoki/libopencryptoki.so \
    /usr/lib64/opencryptoki/libopencryptoki.so; do
    [ -f "$m" ] && { echo "$m"; return 0; }
  done
  p11_die "libopencryptoki.so not found: is opencryptoki installed (ci/deps.sh)?"
}

# Our daemon's PID, only while that PID is still the process we started: it
# must live in the mount namespace recorded at start (a reused PID cannot).
our_pid() {
  local pid
  pid=$(cat "$DIR/pkcsslotd.pid" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && [ -f "$DIR/mntns" ] || return 1
  [ "$(readlink "/proc/$pid/ns/mnt" 2>/dev/null)" = "$(cat "$DIR/mntns")" ] || return 1
  grep -q '^State:[[:space:]]*[^Z]' "/proc/$pid/status" 2>/dev/null || return 1
  echo "$pid"
}

# Run "$@" in the daemon's namespaces, in the caller's directory.
in_ns() {
  local pid
  pid=$(our_pid) || p11_die "no pkcsslotd of ours runs for $DIR (up first)"
  nsenter --target "$pid" --mount --ipc --wd="$PWD" -- "$@"
}

make_dirs() {
  local d
  for d in /etc/opencryptoki /var/lib/opencryptoki /var/log /dev/shm /run; do
    [ -d "$d" ] || p11_die "$d is missing on this host: it is a bind target (is opencryptoki installed?)"
    case $DIR/ in "$d"/*) p11_die "DIR must not be under $d (it is bound over in the namespace)" ;; esac
  done
  mkdir -p "$DIR/etc" "$DIR/lib/swtok/TOK_OBJ" "$DIR/run/lock/opencryptoki/swtok" "$DIR/run/opencryptoki" \
    "$DIR/log" "$DIR/shm"
  # the host's other configuration files (strength.conf, policy, ... in
  # newer releases) as they are; our own slot table
  cp -a /etc/opencryptoki/. "$DIR/etc/"
  printf 'version opencryptoki-3.1\n\nslot 0\n{\nstdll = libpkcs11_sw.so\n}\n' >"$DIR/etc/opencryptoki.conf"
  chgrp -R pkcs11 "$DIR/lib" "$DIR/run/lock/opencryptoki" "$DIR/run/opencryptoki"
  chmod -R u=rwX,g=rwX,o= "$DIR/lib" "$DIR/run/lock/opencryptoki" "$DIR/run/opencryptoki"
  chmod 755 "$DIR/run" "$DIR/run/lock" "$DIR/log"
  chmod 1777 "$DIR/shm"
}

# pkcsslotd in the foreground in a new mount + IPC namespace; the shell
# writes its own PID, which exec makes the daemon's. /run is bound last, as
# DIR's own path is resolved by the earlier binds.
start_daemon() {
  local script pid
  script='echo $$ >"$1/pkcsslotd.pid" && mount --make-rprivate / &&
    mount --bind "$1/etc" /etc/opencryptoki && mount --bind "$1/lib" /var/lib/opencryptoki &&
    mount --bind "$1/shm" /dev/shm && mount --bind "$1/log" /var/log && mount --bind "$1/run" /run &&
    exec pkcsslotd -f'
  setsid unshare --mount --ipc sh -c "$script" tokenrig-ock "$DIR" </dev/null >"$DIR/pkcsslotd.log" 2>&1 &
  for ((i = 0; i < START_TIMEOUT_S * 10; i++)); do
    pid=$(cat "$DIR/pkcsslotd.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && { [ -S "$DIR/run/pkcsslotd.socket" ] || [ -S "$DIR/run/opencryptoki/pkcsslotd.socket" ]; }; then
      [ "$(readlink "/proc/$pid/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ] ||
        p11_die "pkcsslotd $pid is not in a namespace of its own"
      readlink "/proc/$pid/ns/mnt" >"$DIR/mntns"
      return 0
    fi
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      p11_die "pkcsslotd exited at start: see $DIR/pkcsslotd.log"
    fi
    sleep 0.1
  done
  p11_die "pkcsslotd did not create its socket in ${START_TIMEOUT_S} s: see $DIR/pkcsslotd.log"
}

# The SO PIN and user PIN of REF-1's profile on a fresh token, then its
# objects. pkcsconf reads the token label from stdin.
init_token() {
  local log=$DIR/provision.log
  echo "$LABEL" | in_ns pkcsconf -I -c 0 -S "$OCK_FACTORY_SO_PIN" >>"$log" 2>&1 || p11_die "pkcsconf -I failed: see $log"
  in_ns pkcsconf -P -c 0 -S "$OCK_FACTORY_SO_PIN" -n "$P11_SO_PIN" >>"$log" 2>&1 || p11_die "pkcsconf -P failed: see $log"
  in_ns pkcsconf -u -c 0 -S "$P11_SO_PIN" -n "$P11_USER_PIN" >>"$log" 2>&1 || p11_die "pkcsconf -u failed: see $log"
}

up() {
  local role=main alg=rsa serial pid module
  LABEL=ock-sw ORG="tokenrig p11 test" VALIDITY=valid
  while [ $# -gt 0 ]; do
    case $1 in
      --role) role=${2:?}; shift 2 ;;
      --alg) alg=${2:?}; shift 2 ;;
      --label) LABEL=${2:?}; shift 2 ;;
      --org) ORG=${2:?}; shift 2 ;;
      --validity) VALIDITY=${2:?}; shift 2 ;;
      *) usage ;;
    esac
  done
  p11_check_list role "$role" "main secondary"
  p11_check_list alg "$alg" "rsa ecdsa"
  [ "$(id -u)" -eq 0 ] || p11_die "root only (a mount namespace, and pkcsslotd's pkcs11 group)"
  getent group pkcs11 >/dev/null || p11_die "the pkcs11 group is missing: run ci/deps.sh as root (groupadd -r pkcs11)"
  command -v pkcsslotd >/dev/null && command -v pkcsconf >/dev/null || p11_die "opencryptoki is not installed (ci/deps.sh)"
  module=$(module_path)
  ! our_pid >/dev/null || p11_die "$DIR already has a running pkcsslotd (down it first)"
  make_dirs
  start_daemon
  pid=$(our_pid) || p11_die "pkcsslotd died after start: see $DIR/pkcsslotd.log"
  init_token
  serial=$(in_ns pkcsconf -t -c 0 | awk -F': ' '/Serial Number/ {gsub(/ +$/, "", $2); print $2; exit}')
  [ -n "$serial" ] || p11_die "no serial number for the sw token"
  p11_ca "$DIR"
  p11_issue "$DIR" tok0 "$alg" "$serial" "$role" "$ORG" "$VALIDITY"
  p11_store "$0 exec $DIR --" "$module" "$LABEL" "$DIR" tok0 "$role" pkcs11-tool
  {
    printf 'TOKENRIG_P11_MODULE=%s\nTOKENRIG_P11_NS_PID=%s\nTOKENRIG_P11_EXEC="%s exec %s --"\n' \
      "$module" "$pid" "$(realpath "$0")" "$DIR"
    printf 'TOKENRIG_P11_CA_ROOT=%s\nTOKENRIG_P11_SEAL_MAKER_ROOT=%s\n' "$DIR/pki/ca.crt.der" "$DIR/pki/sealroot.crt.der"
    p11_describe "$DIR" tok0 "$LABEL" "$serial" "$role" "$alg"
  } >"$DIR/env"
  cat "$DIR/env"
}

# Stop our daemon (by the PID we recorded, checked to be ours), wait for it
# to go, then remove what up made.
down() {
  local pid
  if pid=$(our_pid); then
    kill -TERM "$pid"
    for ((i = 0; i < STOP_TIMEOUT_S * 10; i++)); do
      our_pid >/dev/null || break
      sleep 0.1
    done
    if our_pid >/dev/null; then
      echo "$(basename "$0"): pkcsslotd $pid ignored SIGTERM for ${STOP_TIMEOUT_S} s: SIGKILL" >&2
      kill -KILL "$pid"
    fi
  fi
  rm -rf "$DIR/etc" "$DIR/lib" "$DIR/run" "$DIR/log" "$DIR/shm" "$DIR/pki" "$DIR"/tok[0-9]* "$DIR/env" \
    "$DIR/mntns" "$DIR/pkcsslotd.pid" "$DIR/pkcsslotd.log" "$DIR/provision.log" "$DIR/mkpki.log"
}

[ $# -ge 2 ] || usage
cmd=$1
DIR=$(realpath -m "$2")
shift 2
case $cmd in
  up) up "$@" ;;
  exec)
    [ "${1:-}" = -- ] && shift
    [ $# -ge 1 ] || usage
    in_ns "$@"
    ;;
  env) cat "$DIR/env" ;;
  down) down ;;
  *) usage ;;
esac
