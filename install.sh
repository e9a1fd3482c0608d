#!/usr/bin/env bash
# Installs (or upgrades in place, or removes) cis490-ship on a lab host: the binary, a config
# template, the data directories, the systemd unit; then drains the pre-stamp backlog and restarts
# the service. Safe to run again, from anywhere, including the directory it installed itself into.
# docs/install.md has the whole story.
set -Eeuo pipefail

usage() {
  cat <<'EOF'
Usage: install.sh [options]
       install.sh --uninstall [options]

Installs cis490-ship and its systemd unit, or upgrades them in place. Running it again changes
nothing but restarting the service.

Options:
  --binary PATH      the binary to install (default: dist/cis490-ship beside this script, else
                     the installed binary, when re-run from the installed copy of this script)
  --prefix DIR       binary in DIR/bin, this script and the packaging in DIR/share/cis490-ship
                     (default: /usr/local)
  --config-dir DIR   holds lab-host.toml, certificates and keys (default: /etc/cis490)
  --data-root DIR    episodes/ outbox/ shipped/ quarantine/ live here; keep it equal to
                     paths.data_root in the config (default: /var/lib/cis490/data)
  --user NAME        the service user, created when missing (default: cis490)
  --group NAME       the service group, created when missing (default: the user's name)
  --unit-dir DIR     where the unit goes (default: /etc/systemd/system)
  --root DIR         prefix DIR to every path written, for a staging tree or a package;
                     commands (useradd, systemctl, runuser) still run; no root needed
  --no-start         do not enable, start or restart the service
  --uninstall        stop and remove the service, the binary and the installed script;
                     never the config, the data or the user
  -h, --help         this text

Steps: 1 check, 2 user and group, 3 binary, 4 config, 5 data directories, 6 unit,
7 validate the config, 8 drain unstamped episodes, 9 start or restart.
EOF
}

die_usage() {
  echo "install.sh: $1 (see install.sh --help)" >&2
  exit 2
}

unit_name=cis490-ship.service
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)

binary=""
prefix=/usr/local
config_dir=/etc/cis490
data_root=/var/lib/cis490/data
user=cis490
group=""
unit_dir=/etc/systemd/system
root=""
start=1
action=install

while (($#)); do
  case "$1" in
    --binary | --prefix | --config-dir | --data-root | --user | --group | --unit-dir | --root)
      (($# >= 2)) || die_usage "$1 needs a value"
      case "$1" in
        --binary) binary=$2 ;;
        --prefix) prefix=$2 ;;
        --config-dir) config_dir=$2 ;;
        --data-root) data_root=$2 ;;
        --user) user=$2 ;;
        --group) group=$2 ;;
        --unit-dir) unit_dir=$2 ;;
        --root) root=$2 ;;
      esac
      shift 2
      ;;
    --no-start) start=0 && shift ;;
    --uninstall) action=uninstall && shift ;;
    -h | --help) usage && exit 0 ;;
    *) die_usage "unknown argument \"$1\"" ;;
  esac
done
group=${group:-$user}

# Values end up in sed expressions, the unit and TOML strings: keep them plain.
for pair in "prefix:$prefix" "config-dir:$config_dir" "data-root:$data_root" "unit-dir:$unit_dir"; do
  [[ ${pair#*:} =~ ^/[A-Za-z0-9._/+-]*$ ]] ||
    die_usage "--${pair%%:*} \"${pair#*:}\" must be an absolute path of letters, digits and ._/+-"
done
[[ $user =~ ^[a-z_][a-z0-9_-]*$ ]] || die_usage "--user \"$user\" is not a valid user name"
[[ $group =~ ^[a-z_][a-z0-9_-]*$ ]] || die_usage "--group \"$group\" is not a valid group name"
if [ -n "$root" ]; then
  [ -d "$root" ] || die_usage "--root \"$root\" is not a directory"
  root=$(cd "$root" && pwd -P)
fi

bin_path=$prefix/bin/cis490-ship
share_dir=$prefix/share/cis490-ship
config=$config_dir/lab-host.toml
unit_path=$unit_dir/$unit_name

# --- steps: each announced; a failure names its step ----------------------------------------

step_no=0
step_total=9
step_name=""
tmp_files=()

step() {
  step_no=$1
  step_name=$2
  echo "==> [$step_no/$step_total] $step_name"
}

say() {
  echo "    $*"
}

fail() {
  echo "install.sh: step $step_no/$step_total ($step_name) failed: $1" >&2
  exit "${2:-1}"
}
trap 'fail "\"$BASH_COMMAND\" exited $?" $?' ERR

# Runs a command; a failure names the step and the command as it ran.
run() {
  local status=0
  "$@" || status=$?
  ((status == 0)) || fail "\"$*\" exited $status" "$status"
}

cleanup() {
  ((${#tmp_files[@]})) && rm -f -- "${tmp_files[@]}"
  return 0
}
trap cleanup EXIT

# Writes SOURCE to DEST with MODE (and OWNER when given) atomically: a temporary name beside
# DEST, then one rename. Nothing happens when DEST is SOURCE itself or already holds its bytes.
put_file() {
  local source=$1 dest=$2 mode=$3 owner=${4:-}
  if [ -e "$dest" ] && [ "$source" -ef "$dest" ]; then
    say "$dest: is the source itself, not copied"
    return 0
  fi
  if [ -e "$dest" ] && cmp -s -- "$source" "$dest" && [ "$(stat -c %a -- "$dest")" = "${mode#0}" ]; then
    say "$dest: unchanged"
    return 0
  fi
  local tmp
  tmp="$(dirname -- "$dest")/.$(basename -- "$dest").install-$$"
  tmp_files+=("$tmp")
  run cp -- "$source" "$tmp"
  run chmod "$mode" -- "$tmp"
  [ -z "$owner" ] || run chown "$owner" -- "$tmp"
  run sync -- "$tmp"
  run mv -f -- "$tmp" "$dest"
  say "$dest: installed (mode $mode${owner:+, owner $owner})"
}

# Creates directory DIR with MODE when missing (an existing one keeps its mode), and gives it to
# OWNER when it belongs to someone else.
ensure_dir() {
  local dir=$1 mode=$2 owner=$3
  if [ ! -d "$dir" ]; then
    run mkdir -p -- "$(dirname -- "$dir")"
    run mkdir -m "$mode" -- "$dir"
    say "$dir: created (mode $mode)"
  fi
  if [ "$(stat -c %U:%G -- "$dir")" != "$owner" ]; then
    run chown "$owner" -- "$dir"
  fi
}

account_exists() {
  local database=$1 name=$2
  if [ -n "$root" ]; then
    grep -q "^$name:" "$root/etc/$database" 2>/dev/null
  else
    getent "$database" "$name" >/dev/null
  fi
}

unit_state() {
  if systemctl is-enabled --quiet "$unit_name" 2>/dev/null; then
    echo enabled
  elif systemctl is-active --quiet "$unit_name" 2>/dev/null; then
    echo active
  else
    echo off
  fi
}

check_root() {
  if [ -z "$root" ] && [ "$(id -u)" -ne 0 ]; then
    fail "run as root (sudo), or stage into a tree with --root DIR"
  fi
}

# --- uninstall --------------------------------------------------------------------------------

if [ "$action" = uninstall ]; then
  step_total=3
  step 1 "check"
  check_root
  step 2 "stop and remove the unit"
  if [ -e "$root$unit_path" ]; then
    if [ "$(unit_state)" != off ]; then
      run systemctl disable --now "$unit_name"
    fi
    run rm -f -- "$root$unit_path"
    run systemctl daemon-reload
    say "$root$unit_path: removed"
  else
    say "$root$unit_path: not installed"
  fi
  step 3 "remove the binary and the installed script"
  for path in "$root$bin_path" "$root$share_dir"; do
    if [ -e "$path" ]; then
      run rm -rf -- "$path"
      say "$path: removed"
    fi
  done
  say "kept: $root$config_dir (config, certificates), $root$data_root (episodes), user $user"
  exit 0
fi

# --- install ----------------------------------------------------------------------------------

step 1 "check"
check_root
if [ -z "$binary" ]; then
  binary=$script_dir/dist/cis490-ship
  if [ ! -e "$binary" ] && [ -e "$root$bin_path" ]; then
    binary=$root$bin_path
    say "no dist/cis490-ship beside install.sh: reinstalling $binary"
  fi
fi
for file in "$script_dir/packaging/$unit_name" "$script_dir/packaging/lab-host.toml"; do
  if [ ! -f "$file" ]; then
    fail "$file is missing (run install.sh from a cis490-ship checkout)"
  fi
done
if [ ! -x "$binary" ]; then
  fail "binary \"$binary\" is missing or not executable (deno task build, or --binary PATH)"
fi
version=$("$binary" --version) || fail "\"$binary --version\" exited $?"
say "$binary: $version"

step 2 "user and group"
prefix_args=()
[ -z "$root" ] || prefix_args=(--prefix "$root")
if account_exists group "$group"; then
  say "group $group: exists"
else
  run groupadd --system "${prefix_args[@]}" "$group"
  say "group $group: created"
fi
if account_exists passwd "$user"; then
  say "user $user: exists"
else
  run useradd --system --gid "$group" --home-dir /nonexistent --no-create-home \
    --shell /usr/sbin/nologin --comment "cis490-ship episode shipper" "${prefix_args[@]}" "$user"
  say "user $user: created"
fi

step 3 "binary"
run mkdir -p -- "$root$prefix/bin" "$root$share_dir/packaging" "$root$share_dir/docs"
put_file "$binary" "$root$bin_path" 0755
# A copy of this script and its packaging beside the binary, so an upgrade can be re-run from
# the installed directory too.
put_file "$script_dir/install.sh" "$root$share_dir/install.sh" 0755
put_file "$script_dir/packaging/$unit_name" "$root$share_dir/packaging/$unit_name" 0644
put_file "$script_dir/packaging/lab-host.toml" "$root$share_dir/packaging/lab-host.toml" 0644
if [ -f "$script_dir/docs/install.md" ]; then
  put_file "$script_dir/docs/install.md" "$root$share_dir/docs/install.md" 0644
fi

step 4 "config"
config_fresh=0
ensure_dir "$root$config_dir" 0750 "root:$group"
if [ -e "$root$config" ]; then
  say "$root$config: exists, kept as it is"
else
  rendered=$(mktemp)
  tmp_files+=("$rendered")
  sed -e "s|^data_root = .*|data_root = \"$data_root\"|" \
    -e "s|/etc/cis490/|$config_dir/|g" \
    "$script_dir/packaging/lab-host.toml" >"$rendered"
  put_file "$rendered" "$root$config" 0640 "root:$group"
  config_fresh=1
  say "edit host_id, receiver.url and the certificate paths in $config, then run install.sh again"
fi

step 5 "data directories"
ensure_dir "$root$data_root" 0750 "$user:$group"
# The producer writes episodes/: give its user the group (setgid keeps new episodes in it).
ensure_dir "$root$data_root/episodes" 2770 "$user:$group"
for sub in outbox shipped quarantine; do
  ensure_dir "$root$data_root/$sub" 0750 "$user:$group"
done

step 6 "unit"
run mkdir -p -- "$root$unit_dir"
rendered=$(mktemp)
tmp_files+=("$rendered")
sed -e "s|^ExecStart=.*|ExecStart=$bin_path --config $config|" \
  -e "s|^User=.*|User=$user|" \
  -e "s|^Group=.*|Group=$group|" \
  -e "s|^ReadWritePaths=.*|ReadWritePaths=$data_root|" \
  -e "s|^Documentation=.*|Documentation=file:$share_dir/docs/install.md|" \
  -e "s|/etc/cis490/|$config_dir/|g" \
  "$script_dir/packaging/$unit_name" >"$rendered"
if [ -e "$root$unit_path" ] && cmp -s "$rendered" "$root$unit_path"; then
  say "$root$unit_path: unchanged"
else
  put_file "$rendered" "$root$unit_path" 0644
  run systemctl daemon-reload
fi

step 7 "validate the config"
if ((config_fresh)); then
  say "skipped: $config is the template just written"
else
  run runuser -u "$user" -- "$root$bin_path" check --offline --config "$root$config"
fi

step 8 "drain unstamped episodes"
if ((config_fresh)); then
  say "skipped: $config is the template just written"
else
  run runuser -u "$user" -- "$root$bin_path" quarantine-unstamped --config "$root$config"
fi

step 9 "start"
if ((!start)); then
  say "skipped (--no-start)"
else
  case "$(unit_state)" in
    enabled | active)
      run systemctl restart "$unit_name"
      say "$unit_name: restarted"
      ;;
    *)
      if ((config_fresh)); then
        run systemctl enable "$unit_name"
        say "$unit_name: enabled; start it once the config is edited: systemctl start $unit_name"
      else
        run systemctl enable --now "$unit_name"
        say "$unit_name: enabled and started"
      fi
      ;;
  esac
fi
echo "installed: $version"
