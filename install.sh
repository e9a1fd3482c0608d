#!/usr/bin/env bash
# Installs (or upgrades in place, or removes) cis490-ship on a lab host, or stages it into an
# image tree (--root): the binary, a config template, the data directories, the systemd unit; then
# drains the pre-stamp backlog and restarts the service. Safe to run again, from anywhere,
# including the directory it installed itself into. docs/install.md has the whole story.
set -Eeuo pipefail

usage() {
  cat <<'EOF'
Usage: install.sh [options]
       install.sh --uninstall [options]

Installs cis490-ship and its systemd unit, or upgrades them in place. Running it again changes
nothing but restarting the service (a unit the operator disabled stays disabled).

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
  --root DIR         stage into the tree DIR (an image or a package) instead of this host:
                     every path is written under DIR; the account is added to DIR/etc/passwd
                     and DIR/etc/group and used by its numeric ids; the unit is enabled by its
                     .wants/ symlink in DIR. Nothing on this host is looked up, run, started or
                     written outside DIR. Each step left to the first boot is printed as
                     "left to first boot: ...".
  --no-start         do not enable, start or restart the service
  --uninstall        stop and remove the service, the binary and the installed script;
                     never the config, the data or the user
  -h, --help         this text

What needs root: without --root, everything (run it with sudo: it creates the account, writes
under /usr/local, /etc and /var/lib, sets owners and ACLs, runs systemctl and runuser). With
--root, nothing but setting the owners of the files in DIR to the service account (chown); run
it as root or under fakeroot for that, or it prints the chown as left to first boot.

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
user_given=0
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
        --user) user=$2 && user_given=1 ;;
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

# Values end up in sed expressions, the unit, TOML strings and find(1) patterns: keep them plain.
for pair in "prefix:$prefix" "config-dir:$config_dir" "data-root:$data_root" "unit-dir:$unit_dir"; do
  [[ ${pair#*:} =~ ^/[A-Za-z0-9._/+-]*$ ]] ||
    die_usage "--${pair%%:*} \"${pair#*:}\" must be an absolute path of letters, digits and ._/+-"
done
[[ $user =~ ^[a-z_][a-z0-9_-]*$ ]] || die_usage "--user \"$user\" is not a valid user name"
[[ $group =~ ^[a-z_][a-z0-9_-]*$ ]] || die_usage "--group \"$group\" is not a valid group name"
staged=0
if [ -n "$root" ]; then
  [ -d "$root" ] || die_usage "--root \"$root\" is not a directory"
  root=$(cd "$root" && pwd -P)
  staged=1
fi

bin_path=$prefix/bin/cis490-ship
share_dir=$prefix/share/cis490-ship
config=$config_dir/lab-host.toml
unit_path=$unit_dir/$unit_name
# Where systemctl enable puts the .wants/ symlinks, whatever --unit-dir is.
wants_base=/etc/systemd/system

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

# One line for each thing a staged install leaves to the first boot of the image.
later() {
  say "left to first boot: $*"
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

# Owners can be set by root only (fakeroot counts): a staged install by another user leaves them
# to the first boot, in one line per step.
may_chown=1
if ((staged)) && [ "$(id -u)" != 0 ]; then
  may_chown=0
fi
pending_chown=()

# Gives PATHs to OWNER (numeric uid:gid), or remembers them for the first boot.
own() {
  local owner=$1
  shift
  if ((may_chown)); then
    run chown "$owner" -- "$@"
  else
    local path
    for path in "$@"; do pending_chown+=("$owner ${path#"$root"}"); done
  fi
}

# Prints the chowns this step could not do (staged, not root): one line per owner.
flush_pending_chown() {
  ((${#pending_chown[@]})) || return 0
  local owner paths entry
  for owner in $(printf '%s\n' "${pending_chown[@]}" | cut -d' ' -f1 | sort -u); do
    paths=()
    for entry in "${pending_chown[@]}"; do
      [ "${entry%% *}" != "$owner" ] || paths+=("${entry#* }")
    done
    later "chown $owner ${paths[*]} (owners need root; stage as root or under fakeroot to set them now)"
  done
  pending_chown=()
}

# Removes what an install.sh killed before its rename left beside DEST (its temporary files).
remove_stale_temps() {
  local dest=$1 stale
  for stale in "$(dirname -- "$dest")/.$(basename -- "$dest").install-"*; do
    [ -e "$stale" ] || [ -L "$stale" ] || continue
    [ "$stale" != "$(dirname -- "$dest")/.$(basename -- "$dest").install-$$" ] || continue
    run rm -f -- "$stale"
    say "$stale: removed (left by an install.sh that was killed)"
  done
}

# The temporary name beside DEST that this run writes before one rename.
temp_for() {
  local dest=$1
  echo "$(dirname -- "$dest")/.$(basename -- "$dest").install-$$"
}

# Whether DEST holds the bytes of SOURCE ("-": stdin) and has MODE.
same_file() {
  local source=$1 dest=$2 mode=$3
  [ -e "$dest" ] && cmp -s -- "$source" "$dest" && [ "$(stat -c %a -- "$dest")" = "${mode#0}" ]
}

# Renames TMP (already written) onto DEST with MODE (and OWNER). TMP is synced first, so a crash
# leaves the old file or the new one.
commit_file() {
  local tmp=$1 dest=$2 mode=$3 owner=${4:-}
  run chmod "$mode" -- "$tmp"
  if [ -n "$owner" ]; then
    if ((may_chown)); then run chown "$owner" -- "$tmp"; else pending_chown+=("$owner ${dest#"$root"}"); fi
  fi
  run sync -- "$tmp"
  run mv -f -- "$tmp" "$dest"
  say "$dest: installed (mode $mode${owner:+, owner $owner})"
}

# Writes SOURCE to DEST with MODE (and OWNER when given) atomically: a temporary name beside
# DEST, then one rename. Nothing happens when DEST is SOURCE itself or already holds its bytes.
put_file() {
  local source=$1 dest=$2 mode=$3 owner=${4:-}
  remove_stale_temps "$dest"
  if [ -e "$dest" ] && [ "$source" -ef "$dest" ]; then
    say "$dest: is the source itself, not copied"
    return 0
  fi
  if same_file "$source" "$dest" "$mode"; then
    say "$dest: unchanged"
    return 0
  fi
  local tmp
  tmp=$(temp_for "$dest")
  tmp_files+=("$tmp")
  run cp -- "$source" "$tmp"
  commit_file "$tmp" "$dest" "$mode" "$owner"
}

# Creates directory DIR with MODE when missing (an existing one keeps its mode), and gives it to
# OWNER (numeric uid:gid) when it belongs to someone else.
ensure_dir() {
  local dir=$1 mode=$2 owner=$3
  if [ ! -d "$dir" ]; then
    run mkdir -p -- "$(dirname -- "$dir")"
    run mkdir -m "$mode" -- "$dir"
    say "$dir: created (mode $mode)"
  fi
  if [ "$(stat -c %u:%g -- "$dir")" != "$owner" ]; then
    own "$owner" "$dir"
  fi
}

# --- accounts: the host's databases, or the staged tree's files ----------------------------

# The numeric id of NAME in DATABASE (passwd or group), empty when there is none. Staged: read
# from DIR/etc as a file, never through this host's name service.
account_id() {
  local database=$1 name=$2
  if ((staged)); then
    [ -f "$root/etc/$database" ] || return 0
    awk -F: -v n="$name" '$1 == n { print $3; exit }' "$root/etc/$database"
  else
    getent "$database" "$name" | cut -d: -f3 || true
  fi
}

# The highest system id (SYS_UID_MIN..SYS_UID_MAX of DIR/etc/login.defs, else 100..999) that
# none of the staged DATABASES (passwd, group) uses, as useradd --system picks one.
free_staged_id() {
  local min=100 max=999 defs=$root/etc/login.defs value files=()
  if [ -f "$defs" ]; then
    value=$(awk '$1 == "SYS_UID_MIN" { print $2 }' "$defs")
    [[ $value =~ ^[0-9]+$ ]] && min=$value
    value=$(awk '$1 == "SYS_UID_MAX" { print $2 }' "$defs")
    [[ $value =~ ^[0-9]+$ ]] && max=$value
  fi
  for value in "$@"; do
    [ ! -f "$root/etc/$value" ] || files+=("$root/etc/$value")
  done
  awk -F: -v min="$min" -v max="$max" '{ used[$3] = 1 }
    END { for (i = max; i >= min; i--) if (!(i in used)) { print i; exit } }' \
    "${files[@]}" /dev/null
}

# Appends LINE to DIR/etc/FILE (created 0644, or 0640 for a shadow file, when missing).
append_staged() {
  local file=$root/etc/$1 line=$2 mode=0644
  case $1 in shadow | gshadow) mode=0640 ;; esac
  if [ ! -e "$file" ]; then
    run mkdir -p -- "$root/etc"
    run install -m "$mode" /dev/null "$file"
  fi
  printf '%s\n' "$line" >>"$file" || fail "cannot append to $file"
}

create_group() {
  if ((staged)); then
    local id
    # Free in both files, so that the user can get the same number.
    id=$(free_staged_id passwd group)
    [ -n "$id" ] || fail "no free system group id in $root/etc/group"
    append_staged group "$group:x:$id:"
    [ ! -e "$root/etc/gshadow" ] || append_staged gshadow "$group:!::"
  else
    run groupadd --system "$group"
  fi
}

create_user() {
  local comment="cis490-ship episode shipper"
  if ((staged)); then
    local id=$gid
    # The group's number when no user has it, as useradd does.
    if [ -n "$(awk -F: -v n="$gid" '$3 == n { print; exit }' "$root/etc/passwd" 2>/dev/null || true)" ]; then
      id=$(free_staged_id passwd)
    fi
    [ -n "$id" ] || fail "no free system user id in $root/etc/passwd"
    append_staged passwd "$user:x:$id:$gid:$comment:/nonexistent:/usr/sbin/nologin"
    [ ! -e "$root/etc/shadow" ] || append_staged shadow "$user:!:::::::"
  else
    run useradd --system --gid "$group" --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin --comment "$comment" "$user"
  fi
}

# --- the unit's state ------------------------------------------------------------------------

# The targets the rendered unit's [Install] section names (WantedBy=).
wanted_by() {
  sed -n 's/^WantedBy=//p' "$1" | tr ' ' '\n' | sed '/^$/d'
}

# enabled, active (running, not enabled) or off. Staged: enabled when a .wants/ symlink exists.
unit_state() {
  if ((staged)); then
    local link
    for link in "$root$wants_base"/*.wants/"$unit_name"; do
      if [ -L "$link" ]; then
        echo enabled
        return 0
      fi
    done
    echo off
  elif systemctl is-enabled --quiet "$unit_name" 2>/dev/null; then
    echo enabled
  elif systemctl is-active --quiet "$unit_name" 2>/dev/null; then
    echo active
  else
    echo off
  fi
}

# Enables the staged unit as systemctl enable would: a symlink in each WantedBy= target's .wants/.
enable_staged() {
  local target dir
  for target in $(wanted_by "$root$unit_path"); do
    dir=$root$wants_base/$target.wants
    run mkdir -p -- "$dir"
    run ln -sfn -- "$unit_path" "$dir/$unit_name"
    say "$dir/$unit_name -> $unit_path"
  done
}

check_root() {
  if ((!staged)) && [ "$(id -u)" -ne 0 ]; then
    fail "run as root (sudo), or stage into a tree with --root DIR"
  fi
}

# --- uninstall --------------------------------------------------------------------------------

if [ "$action" = uninstall ]; then
  step_total=3
  step 1 "check"
  check_root
  # Name the account the installed unit runs as, not this run's default.
  kept_user=$user
  if [ -f "$root$unit_path" ]; then
    installed_user=$(sed -n 's/^User=//p' "$root$unit_path" | tail -n 1)
    if [ -n "$installed_user" ]; then
      ((!user_given)) || [ "$installed_user" = "$user" ] ||
        say "the installed unit runs as $installed_user, not --user $user"
      kept_user=$installed_user
    fi
  fi
  step 2 "stop and remove the unit"
  if [ -e "$root$unit_path" ]; then
    if ((staged)); then
      for link in "$root$wants_base"/*.wants/"$unit_name"; do
        if [ -L "$link" ]; then
          run rm -f -- "$link"
          say "$link: removed"
        fi
      done
    elif [ "$(unit_state)" != off ]; then
      run systemctl disable --now "$unit_name"
    fi
    run rm -f -- "$root$unit_path"
    ((staged)) || run systemctl daemon-reload
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
  say "kept: $root$config_dir (config, certificates), $root$data_root (episodes), user $kept_user"
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
status=0
version=$("$binary" --version) || status=$?
if ((status == 126 && staged)) && head -c 4 -- "$binary" | grep -q "ELF"; then
  # An image for another architecture: the binary cannot run on the build host.
  version="version not checked ($binary cannot run on this host: another architecture?)"
  later "check the binary runs: $bin_path --version"
elif ((status != 0)); then
  fail "\"$binary --version\" exited $status"
fi
say "$binary: $version"
if ((staged)); then
  say "staging into $root: nothing outside it is touched"
fi

step 2 "user and group"
gid=$(account_id group "$group")
if [ -n "$gid" ]; then
  say "group $group: exists (gid $gid)"
else
  create_group
  gid=$(account_id group "$group")
  [ -n "$gid" ] || fail "group $group was not created"
  say "group $group: created (gid $gid)"
fi
uid=$(account_id passwd "$user")
if [ -n "$uid" ]; then
  say "user $user: exists (uid $uid)"
else
  create_user
  uid=$(account_id passwd "$user")
  [ -n "$uid" ] || fail "user $user was not created"
  say "user $user: created (uid $uid)"
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
ensure_dir "$root$config_dir" 0750 "0:$gid"
remove_stale_temps "$root$config"
if [ -e "$root$config" ]; then
  say "$root$config: exists, kept as it is"
else
  tmp=$(temp_for "$root$config")
  tmp_files+=("$tmp")
  sed -e "s|^data_root = .*|data_root = \"$data_root\"|" \
    -e "s|/etc/cis490/|$config_dir/|g" \
    "$script_dir/packaging/lab-host.toml" >"$tmp" || fail "cannot write $tmp"
  commit_file "$tmp" "$root$config" 0640 "0:$gid"
  config_fresh=1
  say "edit host_id, receiver.url and the certificate paths in $config, then run install.sh again"
fi
flush_pending_chown

step 5 "data directories"
data=$root$data_root
ensure_dir "$data" 0750 "$uid:$gid"
ensure_dir "$data/episodes" 2770 "$uid:$gid"
for sub in outbox shipped quarantine; do
  ensure_dir "$data/$sub" 0750 "$uid:$gid"
done
flush_pending_chown
# Producers write episodes/ with their own umask: 022 leaves episode directories the service
# cannot move (rename(2) to another folder needs write on the directory itself), 077 leaves files
# it cannot read. Setgid gives new episodes the service group; a default ACL gives the service
# user and group rwx on everything created below, whatever the umask.
mode=$(stat -c %a -- "$data/episodes")
if (((8#$mode & 8#2070) != 8#2070)); then
  run chmod g+rwxs -- "$data/episodes"
  say "$data/episodes: group rwx and setgid added (was $mode)"
fi
acl="d:u::rwx,d:g::rwx,d:o::---,d:u:$uid:rwx,d:g:$gid:rwx"
if ! command -v setfacl >/dev/null; then
  say "WARNING: setfacl not found (install the acl package and run install.sh again): episodes written with umask 022 or 077 cannot be shipped until fixed by hand (docs/install.md, \"Producers\")"
elif getfacl -n -c -p -E -- "$data/episodes" 2>/dev/null |
  grep -qx "default:user:$uid:rwx" && getfacl -n -c -p -E -- "$data/episodes" |
  grep -qx "default:group:$gid:rwx"; then
  say "$data/episodes: default ACL for $user and $group: present"
elif acl_error=$(setfacl -m "$acl" -- "$data/episodes" 2>&1); then
  say "$data/episodes: default ACL set: $user and $group get rwx on every new episode, whatever the producer's umask"
else
  say "WARNING: $data/episodes: cannot set a default ACL ($acl_error): episodes written with umask 022 or 077 cannot be shipped until fixed by hand (docs/install.md, \"Producers\")"
fi
# A host that ran the earlier (Python) shipper, or where root ran commands: whatever is not the
# service's in outbox/, shipped/, quarantine/ and the shipper's own files becomes the service's,
# so it can move, prune and requeue it. episodes/ stays the producers'.
shopt -s nullglob
own_files=("$data"/.cis490-ship.*)
shopt -u nullglob
foreign=$(find "$data/outbox" "$data/shipped" "$data/quarantine" "${own_files[@]}" \
  \( ! -uid "$uid" -o ! -gid "$gid" \) -print | wc -l)
if ((foreign > 0)); then
  if ((may_chown)); then
    run find "$data/outbox" "$data/shipped" "$data/quarantine" "${own_files[@]}" \
      \( ! -uid "$uid" -o ! -gid "$gid" \) -exec chown -h "$uid:$gid" -- {} +
    say "$data: $foreign files in outbox/, shipped/, quarantine/ re-owned to $user:$group"
  else
    later "chown -R -h $uid:$gid $data_root/outbox $data_root/shipped $data_root/quarantine ($foreign files not the service's; owners need root)"
  fi
fi
# Tarballs in outbox/ without cis490-ship's state file were left by an earlier shipper (its state
# file is always written before its tarball): never trusted, never sent. The episode is packed
# again from episodes/; one whose episode is nowhere is kept aside for the operator.
for tarball in "$data/outbox"/*.tar.gz "$data/outbox"/*.tar.zst "$data/outbox"/*.tar; do
  if [ ! -f "$tarball" ] || [ -L "$tarball" ]; then continue; fi
  name=${tarball##*/}
  case $name in
    *.tar.gz) id=${name%.tar.gz} ;;
    *.tar.zst) id=${name%.tar.zst} ;;
    *) id=${name%.tar} ;;
  esac
  [ ! -e "$data/outbox/$id.state.json" ] || continue
  if [ -d "$data/episodes/$id" ]; then
    why="cis490-ship packs episodes/$id again"
  elif [ -d "$data/shipped/$id" ] || [ -d "$data/quarantine/$id" ]; then
    why="its episode already left episodes/"
  else
    ensure_dir "$data/legacy-outbox" 0750 "$uid:$gid"
    run mv -n -- "$tarball" "$data/legacy-outbox/$name"
    say "$tarball: left by an earlier shipper and no episodes/$id to pack again: kept in $data/legacy-outbox/"
    continue
  fi
  run rm -f -- "$tarball"
  say "$tarball: left by an earlier shipper, removed, not sent: $why"
done
flush_pending_chown

step 6 "unit"
unit_existed=0
[ ! -e "$root$unit_path" ] || unit_existed=1
run mkdir -p -- "$root$unit_dir"
remove_stale_temps "$root$unit_path"
render_unit() {
  sed -e "s|^ExecStart=.*|ExecStart=$bin_path --config $config|" \
    -e "s|^User=.*|User=$user|" \
    -e "s|^Group=.*|Group=$group|" \
    -e "s|^ReadWritePaths=.*|ReadWritePaths=$data_root|" \
    -e "s|^Documentation=.*|Documentation=file:$share_dir/docs/install.md|" \
    -e "s|/etc/cis490/|$config_dir/|g" \
    "$script_dir/packaging/$unit_name"
}
# Compared before anything is written: an unchanged unit leaves its directory untouched.
if render_unit | same_file - "$root$unit_path" 0644; then
  say "$root$unit_path: unchanged"
else
  tmp=$(temp_for "$root$unit_path")
  tmp_files+=("$tmp")
  render_unit >"$tmp" || fail "cannot write $tmp"
  commit_file "$tmp" "$root$unit_path" 0644
  ((staged)) || run systemctl daemon-reload
fi

step 7 "validate the config"
check_line="$bin_path check --offline --config $config"
if ((config_fresh)); then
  say "skipped: $config is the template just written"
elif ((staged)); then
  later "validate the config as the service user: runuser -u $user -- $check_line"
else
  run runuser -u "$user" -- "$root$bin_path" check --offline --config "$root$config"
fi

step 8 "drain unstamped episodes"
drain_line="$bin_path quarantine-unstamped --config $config"
if ((config_fresh)); then
  say "skipped: $config is the template just written"
elif ((staged)); then
  later "drain unstamped episodes as the service user: runuser -u $user -- $drain_line"
else
  run runuser -u "$user" -- "$root$bin_path" quarantine-unstamped --config "$root$config"
fi

step 9 "start"
if ((!start)); then
  say "skipped (--no-start); install.sh never enables it afterwards: systemctl enable --now $unit_name"
else
  case "$(unit_state)" in
    enabled | active)
      if ((staged)); then
        say "$unit_name: enabled in the tree"
        later "systemd starts $unit_name"
      else
        run systemctl restart "$unit_name"
        say "$unit_name: restarted"
      fi
      ;;
    *)
      if ((unit_existed)); then
        # The unit was installed before and is not enabled: the operator's choice, kept.
        if ((staged)); then
          say "$unit_name: disabled in the tree, left disabled (enable it: systemctl --root=DIR enable $unit_name)"
        else
          say "$unit_name: disabled by the operator, left disabled and stopped (to start it: systemctl enable --now $unit_name)"
        fi
      elif ((staged)); then
        enable_staged
        say "$unit_name: enabled"
        if ((config_fresh)); then
          later "edit $config before the first boot (on the template the unit stops with exit 78), then systemd starts $unit_name"
        else
          later "systemd starts $unit_name"
        fi
      elif ((config_fresh)); then
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
