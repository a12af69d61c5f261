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
BIND_PATHS="/etc/ssh /etc/libvirt /etc/pki /etc/hvconform /etc/hosts /etc/hostname
  /root /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt
  /var/backups/libvirt"

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
    while IFS= read -r f; do
        ensure_target "${f#$sim}"
        mount --bind "$f" "${f#$sim}" || fail "bind mount ${f#$sim}"
    done < <(find "$sim" -type f)
}

# A /proc file that this network namespace does not have (net.core.bpf_jit_harden
# exists only in the machine's first one) cannot be mounted over. Replace its
# directory by a snapshot of its current values, with the missing file added.
ensure_target() {
    local target=$1 dir snap f
    [ -e "$target" ] && return 0
    dir=$(dirname "$target")
    snap="$HV_TREE/proc-snapshots$dir"
    if [ ! -d "$snap" ]; then
        mkdir -p "$snap"
        for f in "$dir"/*; do
            [ -f "$f" ] && cat "$f" > "$snap/${f##*/}" 2>/dev/null
        done
        mount --bind "$snap" "$dir" || fail "bind mount snapshot of $dir"
        log "$dir is a snapshot (it lacks ${target##*/} here)"
    fi
    touch "$snap/${target##*/}"
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

# Definition backups a hardened site keeps (BKP-002) and the backup job's last
# success (BKP-003); written after define so they are not older than the definitions.
export_backups() {
    [ -f "$HV_LAB/hosts/$HV_NAME/backups" ] || return 0
    local name
    for name in $(virsh -q -c qemu:///system list --all --name); do
        virsh -q -c qemu:///system dumpxml --inactive --security-info "$name" \
            > "/var/backups/libvirt/$name.xml"
    done
    date -u +%Y-%m-%dT%H:%M:%SZ > /var/backups/libvirt/last-success
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
    export_backups
fi
apply_modes
if [ -z "$FAILED" ]; then echo ok > "$HV_READY"; else echo "failed: $FAILED" > "$HV_READY"; fi
log "exec sshd"
exec /usr/sbin/sshd -D -e
