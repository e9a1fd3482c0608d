#!/usr/bin/env bash
# The whole test suite, as the README's second command and .ci/run run it:
# the Debian peers the tests need (installed when missing), fmt check, lint, type check, tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# Real peers the tests talk to: openssl (test PKI), nginx (a collector nobody here wrote),
# curl (a client nobody here wrote), GNU tar (reads our tarballs); shellcheck and systemd's
# systemd-analyze check install.sh and the unit (no running systemd needed).
missing=()
command -v openssl >/dev/null || missing+=(openssl)
command -v curl >/dev/null || missing+=(curl)
command -v tar >/dev/null || missing+=(tar)
command -v gzip >/dev/null || missing+=(gzip)
command -v zstd >/dev/null || missing+=(zstd)
# strace: a pack test shows that `sync: false` leaves every fsync of the tarball to the caller.
command -v strace >/dev/null || missing+=(strace)
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null || missing+=(nginx-light)
command -v shellcheck >/dev/null || missing+=(shellcheck)
command -v systemd-analyze >/dev/null || missing+=(systemd)
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
deno check main.ts src/ tests/ devkit/ demo/ bench/ scripts/

# Tests spawn main.ts themselves under the build's permission flags; the runner needs more.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
NO_COLOR=1 deno test --allow-read --allow-write --allow-net --allow-env --allow-run --allow-sys tests/ bench/ 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
summary=$(grep -E '^(ok|FAILED) \| [0-9]+ passed' "$log" | tail -n 1 || true)
passed=$(sed -nE 's/.*\| ([0-9]+) passed.*/\1/p' <<<"$summary")
failed=$(sed -nE 's/.*\| ([0-9]+) failed.*/\1/p' <<<"$summary")
echo "${passed:-0} passed, ${failed:-0} failed"
if [ "$status" -eq 0 ] && [ "${passed:-0}" -eq 0 ]; then
  echo "no test ran" >&2
  exit 1
fi
exit "$status"
