#!/usr/bin/env bash
# The whole test suite, as the README's second command and .ci/run run it:
# the Debian peers the tests need (installed when missing), fmt check, lint, type check, tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# Real peers the tests talk to: openssl (test PKI), nginx (a collector nobody here wrote),
# curl (a client nobody here wrote), GNU tar (reads our tarballs); shellcheck and systemd's
# systemd-analyze check install.sh and the unit (no running systemd needed); setfacl/getfacl
# (install.sh's default ACL on episodes/, and the permission tests), useradd/userdel, setpriv and
# runuser (the tests that run the service as its own user and commands as root);
# Ceph's monitor, OSD and RADOS Gateway are the S3 store the object-store tests run
# (devkit/ceph.ts, no systemd); libfaketime skews a shipper's clock without a sleep.
missing=()
command -v openssl >/dev/null || missing+=(openssl)
command -v curl >/dev/null || missing+=(curl)
command -v tar >/dev/null || missing+=(tar)
command -v gzip >/dev/null || missing+=(gzip)
command -v zstd >/dev/null || missing+=(zstd)
# The system trust store: a config without ca_bundle reads it (src/config/trust_store.ts).
[ -e /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)
# strace: a pack test shows that `sync: false` leaves every fsync of the tarball to the caller.
command -v strace >/dev/null || missing+=(strace)
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null || missing+=(nginx-light)
# nginx's stream module: one address in front of two collectors, TLS passed through.
[ -e /usr/lib/nginx/modules/ngx_stream_module.so ] || missing+=(libnginx-mod-stream)
command -v shellcheck >/dev/null || missing+=(shellcheck)
command -v systemd-analyze >/dev/null || missing+=(systemd)
command -v setfacl >/dev/null || missing+=(acl)
command -v useradd >/dev/null || missing+=(passwd)
command -v setpriv >/dev/null || missing+=(util-linux)
command -v radosgw >/dev/null || missing+=(radosgw)
command -v ceph-mon >/dev/null || missing+=(ceph-mon)
command -v ceph-osd >/dev/null || missing+=(ceph-osd)
command -v ceph >/dev/null || missing+=(ceph-common)
# libfaketime moves the shipper's wall clock for the clock-skew tests (tests/s3/_helpers.ts).
[ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 ] || missing+=(libfaketime)
if ((${#missing[@]})); then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "installing test peers: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "missing test peers: ${missing[*]} (install: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi

deno fmt --check
deno lint
deno check main.ts src/ tests/ devkit/ demo/ bench/ scripts/ sim/

# Tests spawn main.ts themselves under the build's permission flags; the runner needs more.
# The simulator's 100,000 histories (tests/sim/) are pure CPU work on both cores, while the
# rest of the suite mostly waits on child processes, sockets and disks: the two run side by side,
# and each one's result counts.
log=$(mktemp)
simlog=$(mktemp)
trap 'rm -f "$log" "$simlog"' EXIT
run_tests() {
  NO_COLOR=1 deno test --allow-read --allow-write --allow-net --allow-env --allow-run --allow-sys "$@"
}
set +e
run_tests tests/sim/ >"$simlog" 2>&1 &
simpid=$!
run_tests --ignore=tests/sim tests/ bench/ 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
wait "$simpid"
simstatus=$?
cat "$simlog"
set -e
count() { # count FILE WORD: the number before WORD in the runner's last summary line, or 0
  local n
  n=$(grep -E '^(ok|FAILED) \| [0-9]+ passed' "$1" | tail -n 1 | sed -nE "s/.*\| ([0-9]+) $2.*/\1/p")
  echo "${n:-0}"
}
passed=$(($(count "$log" passed) + $(count "$simlog" passed)))
failed=$(($(count "$log" failed) + $(count "$simlog" failed)))
echo "${passed} passed, ${failed} failed"
if [ "$status" -eq 0 ] && [ "$simstatus" -eq 0 ] && [ "$passed" -eq 0 ]; then
  echo "no test ran" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then exit "$status"; fi
exit "$simstatus"
