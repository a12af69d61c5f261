#!/bin/bash
# PID 1 of one lab host. Started by lab/lab inside the host's network namespace as
#   unshare -m -u -p -f --kill-child --mount-proc --propagation private host-init.sh
# It gives the host its own view of the machine (hostname, config trees, simulated
# kernel values), starts virtlogd and libvirtd, defines and starts the domains, then
# becomes sshd. Killing that sshd (PID 1 here) ends the whole host, guests included.
#
# Environment (set by lab/lab): HV_NAME, HV_TREE (per-host tree), HV_LAB (lab/),
# HV_READY (file written with "ok" or "failed: ..." just before sshd starts),
# HV_LIBVIRTD_ARGS (extra libvirtd options).
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C

FAILED=""
log() { echo "[$(date +%T.%N | cut -c1-12)] $HV_NAME: $*"; }
fail() { log "FAILED: $*"; FAILED="${FAILED:+$FAILED; }$*"; }

# Per-host copies replace the machine's own directories and files.
BIND_PATHS="/etc/ssh /etc/libvirt /etc/pki /etc/hosts /etc/hostname
  /root /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log /var/log/libvirt
  /var/backups/libvirt /etc/systemd/system /etc/cron.d /etc/borgmatic /etc/restic
  /etc/rsyslog.conf /etc/rsyslog.d /etc/usbguard /etc/aide /var/lib/aide"

mount_views() {
    hostname "$HV_NAME"
    # A private /run: pid files of sshd, virtlogd and libvirtd would collide otherwise.
    mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
    mkdir -p /run/sshd /run/libvirt /run/lock
    local p
    for p in $BIND_PATHS; do
        mount --bind "$HV_TREE$p" "$p" || fail "bind mount $p"
    done
    # Simulated kernel state: the kernel is shared by all lab hosts, so each host
    # gets small files over the /proc and /sys paths the controls read.
    local sim="$HV_LAB/hosts/$HV_NAME/sim" f
    [ -d "$sim" ] || return 0
    # Every target first: making one may replace its directory by a snapshot, which
    # would hide a file already bound there.
    while IFS= read -r f; do ensure_target "${f#$sim}"; done < <(find "$sim" -type f)
    while IFS= read -r f; do
        mount --bind "$f" "${f#$sim}" || fail "bind mount ${f#$sim}"
    done < <(find "$sim" -type f)
}

# A path this host does not have cannot be mounted over: net.core.bpf_jit_harden
# exists only in the machine's first network namespace, and this kernel has no Yama,
# kexec, lockdown or module signing (KMAC-013, -015, -018). The nearest directory that
# exists is replaced by a snapshot (its files' current values, its subdirectories bound
# back in) in which the missing path is made.
declare -A SNAPSHOTS=()
ensure_target() {
    local target=$1 dir base snap f
    [ -e "$target" ] && return 0
    dir=$(dirname "$target")
    base=$dir
    while [ ! -d "$base" ]; do base=$(dirname "$base"); done
    if [ -z "${SNAPSHOTS[$base]:-}" ]; then
        snap="$HV_TREE/proc-snapshots$base"
        mkdir -p "$snap"
        for f in "$base"/*; do
            if [ -d "$f" ] && [ ! -L "$f" ]; then
                mkdir "$snap/${f##*/}" && mount --bind "$f" "$snap/${f##*/}"
            elif [ -f "$f" ]; then
                cat "$f" > "$snap/${f##*/}" 2>/dev/null
            fi
        done
        mount --rbind "$snap" "$base" || fail "bind mount snapshot of $base"
        SNAPSHOTS[$base]=1
        log "$base is a snapshot (it lacks ${target#"$base"/} here)"
    fi
    mkdir -p "$dir" && SNAPSHOTS[$dir]=1
    touch "$target"
}

start_network() {
    ip link set lo up
    # A bridge inside the namespace, for the defined-only domains' NICs.
    ip link add hvbr0 type bridge 2>/dev/null
    ip link set hvbr0 up
    # the host's own network state (firewall rules, bridge options, sysctls): NET-*
    local hook="$HV_LAB/hosts/$HV_NAME/network.sh"
    if [ -f "$hook" ]; then bash "$hook" || fail "$hook"; fi
}

start_libvirt() {
    virtlogd -d || { fail "virtlogd did not start"; return 1; }
    # lock_manager = "lockd" (ISO-025) needs virtlockd: libvirtd in system mode never spawns it
    if grep -q '^lock_manager *= *"lockd"' /etc/libvirt/qemu.conf; then
        virtlockd -d || { fail "virtlockd did not start"; return 1; }
    fi
    # shellcheck disable=SC2086  # HV_LIBVIRTD_ARGS is a list of options
    libvirtd -d $HV_LIBVIRTD_ARGS || { fail "libvirtd did not start (see /var/log/libvirt/libvirtd.log in the host)"; return 1; }
    local i
    for i in $(seq 100); do
        [ -S /run/libvirt/libvirt-sock ] && return 0
        sleep 0.1
    done
    fail "libvirtd socket did not appear"; return 1
}

define_domains() {
    local dir="$HV_LAB/domains/$HV_NAME" xml name
    for xml in "$dir"/*.xml; do
        virsh -q -c qemu:///system define "$xml" >/dev/null || fail "define $(basename "$xml")"
    done
    [ -f "$dir/start" ] || return 0
    while read -r name; do
        [ -n "$name" ] || continue
        start_domain "$name"
    done < "$dir/start"
}

# libvirt raises RLIMIT_MEMLOCK of QEMU to <memtune><hard_limit>, which needs
# CAP_SYS_RESOURCE; where the machine withholds it (sandboxes), start without the
# limit and then set it again, live (memory cgroup) and in the persistent definition.
start_domain() {
    local name=$1 limit=""
    if ! has_cap_sys_resource; then
        limit=$(virsh -q -c qemu:///system memtune "$name" --config | awk '$1 == "hard_limit" { print $3 }')
        case "$limit" in ''|unlimited) limit="" ;;
            *) virsh -q -c qemu:///system memtune "$name" --config --hard-limit -1 ;;
        esac
    fi
    local err
    if ! err=$(virsh -q -c qemu:///system start "$name" 2>&1 >/dev/null); then
        fail "domain $name did not start: $(echo "$err" | tr '\n' ' ')"
        return
    fi
    log "started domain $name"
    if [ -n "$limit" ]; then
        virsh -q -c qemu:///system memtune "$name" --live --config --hard-limit "$limit" \
            && log "$name: hard_limit $limit KiB set after start (no CAP_SYS_RESOURCE here)" \
            || fail "$name: could not set hard_limit after start"
    fi
}

has_cap_sys_resource() {
    local eff
    eff=$(awk '/^CapEff:/ { print $2 }' /proc/self/status)
    (( (16#$eff >> 24) & 1 ))
}

# What the host's backup jobs have done (lab/hosts/<name>/backups.sh): definition exports,
# libvirt backups with checkpoints, a pull-mode job still running, restore-test records.
# After define, so no record is older than the definitions.
run_backups() {
    local hook="$HV_LAB/hosts/$HV_NAME/backups.sh"
    if [ -f "$hook" ]; then bash "$hook" || fail "$hook"; fi
}

# Old snapshots a weak site forgot (BKP-009): lab/hosts/<name>/snapshots/<domain>/*.xml,
# each a <domainsnapshot> without its <domain>, redefined with the domain's definition so
# libvirt writes the metadata itself, creationTime kept (it removes files left in its
# snapshot directory when a domain is defined).
redefine_snapshots() {
    local f name xml
    for f in "$HV_LAB/hosts/$HV_NAME"/snapshots/*/*.xml; do
        [ -f "$f" ] || continue
        name=$(basename "$(dirname "$f")")
        xml=$(virsh -q -c qemu:///system dumpxml --inactive "$name") || { fail "snapshot of $name: no such domain"; continue; }
        { grep -v '</domainsnapshot>' "$f"; printf '%s\n</domainsnapshot>\n' "$xml"; } > /run/hvlab-snapshot.xml
        virsh -q -c qemu:///system snapshot-create "$name" /run/hvlab-snapshot.xml --redefine >/dev/null \
            || fail "redefine snapshot $(basename "$f") of $name"
        rm -f /run/hvlab-snapshot.xml
    done
}

apply_modes() {
    local modes="$HV_LAB/hosts/$HV_NAME/modes" kind mode path
    [ -f "$modes" ] || return 0
    while read -r kind mode path; do
        case "$kind" in ''|'#'*) continue ;; esac
        [ "$kind" = dir ] && mkdir -p "$path"
        chmod "$mode" "$path" || fail "chmod $mode $path"
    done < "$modes"
}

log "init starting"
mount_views
start_network
if start_libvirt; then
    log "libvirtd up"
    define_domains
    redefine_snapshots
    run_backups
fi
apply_modes
# the host's own daemons (syslog, usbguard, an exporter) and baselines, last: an
# integrity baseline sees the host as finished
services="$HV_LAB/hosts/$HV_NAME/services.sh"
if [ -f "$services" ]; then bash "$services" || fail "$services"; fi
if [ -z "$FAILED" ]; then echo ok > "$HV_READY"; else echo "failed: $FAILED" > "$HV_READY"; fi
log "exec sshd"
exec /usr/sbin/sshd -D -e
