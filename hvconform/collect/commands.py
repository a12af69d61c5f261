"""Every command hvconform may send to a target, in one place.

Read-only by construction: collection builds its scripts only from these templates,
the transport refuses a script with any other line (`check_script`), and a test
proves every line sent to a lab host matches one of them. Arguments are always
shell-quoted; inventory values never reach a shell unquoted.
"""

from __future__ import annotations

import math
import re
import shlex

from hvconform.collect import settings_filters as filters

VIRSH = "virsh -r -c qemu:///system"
# Where the backup readers look (BKP-*): borgmatic's default configuration paths
# (borgmatic/config/collect.py), the systemd units and crontabs a site runs tools from.
_BORGMATIC_FILES = ("/etc/borgmatic/config.yaml /etc/borgmatic.d/*.yaml /etc/borgmatic.d/*.yml "
                    "/root/.config/borgmatic/config.yaml /root/.config/borgmatic.d/*.yaml "
                    "/root/.config/borgmatic.d/*.yml")
_SCHEDULES = ("/etc/crontab /etc/cron.d /etc/cron.hourly /etc/cron.daily /etc/cron.weekly "
              "/etc/cron.monthly /etc/anacrontab /var/spool/cron/crontabs /var/spool/cron")

COMMANDS: dict[str, str] = {
    # identity
    "hostname": "hostname",
    # files, /proc and /sys
    "cat": "cat -- {path}",
    "stat": "stat -c '%a %U %G %F' -- {path}",
    "readlink": "readlink -- {path}",
    # processes: the table, from which QEMU pids are taken
    # user:32, or procps cuts names longer than 8 characters ("libvirt+")
    "ps": "ps -eo pid=,uid=,user:32=,comm=,args=",
    # sshd's effective configuration (needs root for the host keys)
    "sshd_effective": "sshd -T",
    # libvirt, through the read-only socket only
    "virsh_list_all": f"{VIRSH} list --all --name",
    "virsh_list_running": f"{VIRSH} list --name",
    "virsh_capabilities": f"{VIRSH} capabilities",
    # `--` ends virsh's options: a domain named `--xpath=...` stays a domain name
    "virsh_dumpxml_inactive": f"{VIRSH} dumpxml --inactive -- {{domain}}",
    "virsh_dumpxml_live": f"{VIRSH} dumpxml -- {{domain}}",
    # kernel and MAC (KMAC-*); SELinux tools exist on the RHEL family only
    "getenforce": "getenforce",                  # KMAC-001: the running SELinux mode
    "sestatus": "sestatus",                      # KMAC-002: loaded policy and MLS status
    "getsebool_all": "getsebool -a",             # KMAC-008: every SELinux boolean, on or off
    "semanage_permissive": "semanage permissive -l",  # KMAC-009: permissive domains (root)
    # KMAC-007: the SELinux label of libvirt's default image directory
    "image_dir_context": "stat -c '%C' -- /var/lib/libvirt/images",
    # KMAC-020: install/blacklist rules of every modprobe.d directory (modprobe.d(5))
    "modprobe_rules": ("grep -rHE -e '^[[:space:]]*(install|blacklist)[[:space:]]' -- /etc/modprobe.d "
                       "/run/modprobe.d /usr/local/lib/modprobe.d /usr/lib/modprobe.d /lib/modprobe.d"),
    # backup (BKP-*)
    # BKP-009: creation time and memory state of every snapshot libvirt keeps (root)
    "snapshot_metadata": "grep -rHE -e '<creationTime>|<memory snapshot=' -- /var/lib/libvirt/qemu/snapshot",
    # ISO-005, ISO-016: which CPUs are SMT siblings of one physical core (the glob is
    # the shell's: one line per CPU, "<path>:<siblings>")
    "cpu_siblings": "grep -H . /sys/devices/system/cpu/cpu[0-9]*/topology/thread_siblings_list",
    # the libvirt daemon model (judge/read/daemons.py: $DCONF/$PCONF rows, LIBV-001): the state
    # of each socket unit, one line per unit in this order, and the socket unit files
    "systemctl_libvirt_active": ("systemctl is-active virtqemud.socket libvirtd.socket virtproxyd.socket "
                                 "virtproxyd-tcp.socket virtproxyd-tls.socket libvirtd-tcp.socket libvirtd-tls.socket"),
    "systemctl_libvirt_sockets": ("systemctl cat --no-pager virtqemud.socket virtqemud-ro.socket "
                                  "virtqemud-admin.socket virtproxyd.socket virtproxyd-ro.socket "
                                  "virtproxyd-admin.socket virtproxyd-tcp.socket virtproxyd-tls.socket "
                                  "libvirtd.socket libvirtd-ro.socket libvirtd-admin.socket "
                                  "libvirtd-tcp.socket libvirtd-tls.socket"),
    # qemu (QEMU-*)
    "qemu_modules": "ls -1d /usr/lib/*/qemu/*.so /usr/lib64/qemu-kvm/*.so",  # QEMU-017, both layouts
    # QEMU-016: the ELF hardening markers of one binary, filtered: from readelf the header
    # type, stack and RELRO segments, BIND_NOW; from nm the imports that show the stack
    # protector, _chk (FORTIFY) and fortifiable functions. nm lists the ~1,000 imports of
    # QEMU in 0.03 s where `readelf --dyn-syms` walked its ~20,000 exports in 0.5 s.
    "elf_hardening": ("(readelf -hlWd -- {path}; nm -D --undefined-only -- {path}) | grep -E "
                      "'Type:|GNU_STACK|GNU_RELRO|BIND_NOW|FLAGS| U (__stack_chk_fail|__[a-z0-9_]+_chk|"
                      "strn?cpy|strn?cat|v?s?n?printf|v?fprintf|gets|fgets|read|realpath|memmove|memset|"
                      "stpcpy)(@|$)'"),
    "stat_children": "stat -c '%a %U %G %F %n' -- {path}/*",              # QEMU-020: golden images
    # QEMU-022: the bridge helper of both families and its ACL file
    "bridge_helper_stat": ("stat -c '%a %U %G %F %n' -- /usr/libexec/qemu-bridge-helper "
                           "/usr/lib/qemu/qemu-bridge-helper /etc/qemu/bridge.conf"),
    # libvirt (LIBV-*)
    # LIBV-015: the hook scripts, two levels deep (qemu, network, ... and their *.d dirs)
    "libvirt_hooks_stat": ("stat -c '%a %U %G %F %n' -- /etc/libvirt/hooks /etc/libvirt/hooks/* "
                           "/etc/libvirt/hooks/*/*"),
    # LIBV-010: every line of every polkit rules file, as file:line:text
    "polkit_rules": "grep -r -n -e . -- /etc/polkit-1/rules.d /usr/share/polkit-1/rules.d",
    "getent_libvirt_groups": "getent group libvirt kvm",                  # LIBV-010, LIBV-012
    # host (HOST-*) and logging (LOG-*)
    # installed packages, both families (HOST-004, -006, -007, -015, -018); the epoch is not printed by rpm -qa
    "dpkg_list": "dpkg-query -l",
    "rpm_list": "rpm -qa",
    # HOST-002: pending security updates from the cached metadata only (never refreshed)
    "apt_upgradable": "apt list --upgradable",
    # HOST-002: how fresh that cached metadata is (apt dates each list file as the archive did)
    "apt_lists_dates": "find /var/lib/apt/lists -maxdepth 1 -type f -name '*Release' -printf '%TY-%Tm-%Td %f\\n'",
    "dnf_security_info": "dnf -C -q updateinfo info --security",
    # HOST-003: installed kernels; RHEL's own verdict on a pending reboot (rc 1 = needed)
    "ls_boot": "ls -1 -- /boot",
    "needs_restarting": "needs-restarting -r",
    # HOST-005: apt trust overrides (judged in Python), every line of every dnf repo file
    "apt_trust": "grep -rnIiE -- 'trusted|allow' /etc/apt",
    "dnf_repos": "grep -rHn -- '' /etc/yum.repos.d",
    # systemd: default target (HOST-006), unit-file states, which work without a running
    # systemd (HOST-007, -008, -015, -018, LOG-008), running services (HOST-008)
    "systemctl_default": "systemctl get-default",
    "systemctl_unit_files": "systemctl list-unit-files --no-legend --no-pager",
    "systemctl_running": "systemctl list-units --type=service --state=running --no-legend --plain --no-pager",
    # HOST-015: install/blacklist directives for usb-storage in every modprobe.d
    "modprobe_usb_storage": ("grep -rHnE -- '^[[:space:]]*(install|blacklist)[[:space:]]+usb[-_]storage' "
                             "/etc/modprobe.d /run/modprobe.d /lib/modprobe.d /usr/lib/modprobe.d"),
    # HOST-018: AIDE selection lines of both families' config layouts, and what schedules aide
    "aide_rules": "grep -rHnE -- '^[[:space:]]*[!=]?/' /etc/aide.conf /etc/aide/aide.conf /etc/aide/aide.conf.d",
    "aide_cron": "grep -rlI -- aide /etc/crontab /etc/cron.d /etc/cron.daily /var/spool/cron",
    # LOG-003: libvirt's VIRT_* audit records since boot
    "ausearch_virt": "ausearch -m VIRT_CONTROL,VIRT_MACHINE_ID,VIRT_RESOURCE -ts boot",
    # LOG-004, LOG-005: loaded audit rules; LOG-006: audit status (enabled 2 = immutable)
    "auditctl_rules": "auditctl -l",
    "auditctl_status": "auditctl -s",
    # LOG-007: every line of rsyslog's drop-in files (actions can span lines)
    "rsyslog_d": "grep -rHn -- '' /etc/rsyslog.d",
    # LOG-008: every line of journald's drop-in files
    "journald_conf_d": "grep -rHn -- '' /etc/systemd/journald.conf.d",
    # LOG-012: chronyd's sources (^* = the one synchronised to); systemd's sync flag
    "chronyc_sources": "chronyc -n sources",
    "timedatectl_ntp": "timedatectl show -p NTPSynchronized",
    # LOG-012: every line of chrony's and systemd-timesyncd's drop-in directories (Debian's
    # chrony.conf names conf.d, sources.d and /run/chrony-dhcp; timesyncd.conf(5) drop-ins)
    "time_sources_d": ("grep -rHn -e '' -- /etc/chrony/conf.d /etc/chrony/sources.d /run/chrony-dhcp "
                       "/etc/systemd/timesyncd.conf.d /run/systemd/timesyncd.conf.d "
                       "/usr/lib/systemd/timesyncd.conf.d"),
    # LOG-014: TCP listeners with their processes (root for other users' processes)
    "ss_listeners_procs": "ss -Htlnp",
    # LOG-015: free space where audit logs are written (1024-byte blocks)
    "df_audit": "df -Pk -- /var/log/audit",
    # isolation (ISO-*): host-wide facts, so per-VM checks need no round trip of their own
    "cpu_vulnerabilities": "grep -H . /sys/devices/system/cpu/vulnerabilities/*",  # ISO-003
    "iommu_units": "ls -1 /sys/class/iommu",                                       # ISO-009
    # ISO-009, ISO-012: '<group>/devices/<BDF>' per line
    "iommu_group_devices": "find /sys/kernel/iommu_groups/ -mindepth 3 -maxdepth 3 -printf '%P\\n'",
    # ISO-012: '<driver>/<BDF>' per line
    "pci_drivers": "find /sys/bus/pci/drivers/ -mindepth 2 -maxdepth 2 -name '*:*' -printf '%P\\n'",
    "pci_ids": ("grep -H . /sys/bus/pci/devices/*/vendor /sys/bus/pci/devices/*/device "
                "/sys/bus/pci/devices/*/class"),                                   # ISO-011, ISO-012
    "pci_reset_methods": "grep -H . /sys/bus/pci/devices/*/reset_method",           # ISO-014
    "virsh_list_autostart": f"{VIRSH} list --all --autostart --name",              # ISO-020
    # ISO-026, ISO-027: every storage pool's XML in turn; a failing virsh ends it with its rc.
    # Names are read line by line, never split or globbed by the shell ("my pool", "*");
    # only the blanks virsh pads `pool-list --name` with are cut from the end
    "virsh_pool_xmls": (f"(names=$({VIRSH} pool-list --all --name) || exit; "
                        "printf '%s\\n' \"$names\" | while IFS= read -r p; do p=${p%\"${p##*[! ]}\"}; "
                        f"if [ -n \"$p\" ]; then {VIRSH} pool-dumpxml -- \"$p\" || exit; fi; done)"),
    "images_open_to_others": "find /var/lib/libvirt/images -maxdepth 2 -type f -perm /o+rwx",  # ISO-026
    "virt_host_validate": "virt-host-validate qemu",                               # ISO-028
    # network (NET-*)
    "ss_listeners": "ss -Htlnu",                 # NET-003: every TCP/UDP listener, numeric
    "ip_links": "ip -d -j link show",            # NET-014, NET-018, NET-020: bridges, ports, VFs
    "ip_addrs": "ip -j addr show",               # NET-020: which link holds which address
    "bridge_vlans": "bridge -j vlan show",       # NET-014: VLANs of each bridge port
    "nft_ruleset": "nft -j list ruleset",        # NET-001, NET-002 (root)
    # NET-001: which firewall manager runs (systemd hosts; others fall back to ps)
    "systemctl_firewalls": "systemctl is-active firewalld.service nftables.service ufw.service "
                           "iptables.service netfilter-persistent.service",
    "virsh_net_list": f"{VIRSH} net-list --all",  # NET-011, NET-021: state and autostart
    # NET-011..013, NET-017, NET-021: every network's definition, each after a '### network' line
    "virsh_net_dumpxml_all": (f"{VIRSH} net-list --all --name | while IFS= read -r n; do "
                              f"if [ -n \"$n\" ]; then printf '### network %s\\n' \"$n\"; "
                              f"{VIRSH} net-dumpxml --inactive -- \"$n\"; fi; done"),
    # crypto (CRY-*)
    # CRY-012: the UEFI SecureBoot variable (4 attribute bytes, then 1 = enabled), as mokutil reads it
    "secureboot_efivar": "od -An -tu1 -- /sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-e0f2de73c6b0",
    "lsblk_tree": "lsblk -J -p -o NAME,KNAME,TYPE,MOUNTPOINT",  # CRY-009, CRY-011: what sits on dm-crypt
    # CRY-010: the secrets directory and each stored secret's mode and root element
    "libvirt_secret_modes": "stat -c '%a %U %G %F %n' -- /etc/libvirt/secrets /etc/libvirt/secrets/*",
    "libvirt_secret_roots": "grep -H -e '<secret' -- /etc/libvirt/secrets/*.xml",

    # ---- backup tools' own settings and records (BKP-001, -003 .. -006; judge/read/backup_*.py).
    # Settings are read on the host by the awk programs of collect/settings_filters.py,
    # which print only what the judge reads: no passphrase or password leaves the host.
    # Each file of borgmatic's: `### file <path> <mode> <owner> <group>`, the file line for
    # line (secrets withheld), `### end <rc>`
    "borgmatic_configs": (f"for f in {_BORGMATIC_FILES}; do if [ -f \"$f\" ]; then "
                          "printf '### file %s %s\\n' \"$f\" \"$(stat -c '%a %U %G' -- \"$f\")\"; "
                          f"awk '{filters.one_line(filters.BORGMATIC_YAML)}' \"$f\"; "
                          "printf '### end %s\\n' \"$?\"; fi; done"),
    # the key type borg recorded for each repository it opened (BKP-005), root's security directory
    "borg_security": "grep -H . /root/.config/borg/security/*/location /root/.config/borg/security/*/key-type",
    # units and crontabs running restic, the files they name; `@stat <path>` lines become
    # `### stat <path> <mode> <owner> <group>` (or stat's complaint)
    "restic_settings": ("find /etc/systemd/system /etc/crontab /etc/cron.d /var/spool/cron/crontabs "
                        f"-maxdepth 2 -type f -exec awk '{filters.one_line(filters.RESTIC)}' {{}} + "
                        "| while IFS= read -r l; do case \"$l\" in '@stat '*) "
                        "printf '### stat %s %s\\n' \"${l#@stat }\" \"$(stat -c '%a %U %G' -- \"${l#@stat }\" 2>&1)\" ;; "
                        "*) printf '%s\\n' \"$l\" ;; esac; done"),
    # rsnapshot.conf(5): only the directives read (never backup_exec or backup_script lines)
    "rsnapshot_conf": ("grep -HnE -- '^(config_version|snapshot_root|include_conf|backup|exclude|"
                       "exclude_file|include|include_file|logfile|retain|interval|one_fs)[[:space:]]' "
                       "/etc/rsnapshot.conf"),
    # a Director's FileSet and Storage (Name, Address) resources, the File Daemon's PKI lines
    "bacula_config": (f"find /etc/bacula /etc/bareos -maxdepth 3 -type f -name '*.conf' "
                      f"-exec awk '{filters.one_line(filters.BACULA)}' {{}} +"),
    # BKP-003: what schedules the tools: crontab lines and run-parts scripts naming one
    "backup_cron": (f"find {_SCHEDULES} -maxdepth 1 -type f "
                    f"-exec awk '{filters.one_line(filters.CRON)}' {{}} +"),
    # BKP-003 on systemd hosts: every timer, then each activated unit's last result and
    # program (ExecStart's path only: its arguments may hold secrets)
    "systemd_timer_runs": ("systemctl list-timers --all --no-legend --no-pager && printf '###\\n' && "
                           "systemctl show --timestamp=utc -p Id,Result,ExecMainStartTimestamp,ExecMainExitTimestamp,"
                           "ExecMainStatus,ExecStart --no-pager -- "
                           "$(systemctl list-timers --all --no-legend --no-pager | awk '{ print $NF }') "
                           "| sed -e 's/^ExecStart={ path=\\([^ ;]*\\).*/ExecStart=\\1/'"),
    # BKP-003 without systemd: the tools' own logs (borgmatic logs to syslog; rsnapshot to its
    # logfile; the Director's log holds Bacula's job reports)
    "borgmatic_log": "grep -h -e borgmatic -- /var/log/syslog /var/log/messages | tail -n 60",
    "rsnapshot_log": f"awk '{filters.one_line(filters.RSNAPSHOT_LOG)}' /etc/rsnapshot.conf",
    "bacula_log": ("grep -h -E -e 'Termination:|End time:|JobId:|Job:' -- /var/log/bacula/bacula.log "
                   "/var/log/bareos/bareos.log | tail -n 80"),
    # BKP-004, BKP-008: per domain, libvirt's checkpoints, the last completed job (kept:
    # without --keep-completed, reading them would discard them) and a running backup's XML
    "virsh_backup_state": (f"{VIRSH} list --all --name | while IFS= read -r d; do if [ -n \"$d\" ]; then "
                           "printf '### domain %s\\n' \"$d\"; "
                           f"{VIRSH} checkpoint-list -- \"$d\" 2>&1; printf '### completed-job\\n'; "
                           f"{VIRSH} domjobinfo --completed --keep-completed -- \"$d\" 2>&1; "
                           "printf '### backup-job\\n'; "
                           f"{VIRSH} backup-dumpxml -- \"$d\" 2>&1; fi; done"),
}

# Fixed lines that frame a batch; they run no program but printf and export.
PREAMBLE = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; LC_ALL=C; export PATH LC_ALL"

# How a batch script is started on the target: `sh -c` keeps it POSIX whatever the login
# shell is, and coreutils' `timeout` (its own process group, killed as a whole) ends every
# process of the batch on the host itself once the round trip's time is up, even when the
# auditor is gone: a `cat` blocked on a FIFO or a hung mount never outlives the audit.
# The auditor gives up first (command_timeout); the host follows a second later.
WRAPPER = "timeout -k {grace} {seconds} sh -c {script}"
KILL_GRACE = 5     # seconds between timeout's SIGTERM and its SIGKILL
SUDO = "sudo -n "  # with `sudo: true`; a sudo that would prompt fails instead


def wrap(script: str, seconds: float, sudo: bool) -> str:
    """The command line that runs `script` on the target, bounded by `seconds`."""
    limit = math.ceil(seconds) + 1 if math.isfinite(seconds) else 10 ** 7
    line = WRAPPER.format(grace=KILL_GRACE, seconds=min(limit, 10 ** 7), script=shlex.quote(script))
    return SUDO + line if sudo else line


_WRAPPED = re.compile(rf"(?:{re.escape(SUDO)})?timeout -k {KILL_GRACE} (\d+) sh -c (.*)\Z", re.S)


def unwrap(line: str) -> str | None:
    """The script of a line wrap() made, or None: what a simulated host runs."""
    m = _WRAPPED.match(line)
    if not m:
        return None
    words = shlex.split(m[2])
    return words[0] if len(words) == 1 else None


# What a command costs on a host, in ms of its own time (measured on the lab's hosts:
# bench/README.md), so that Batch.parts() can put the slow ones on channels of their
# own. Any virsh call: a connection to libvirtd, ~20 ms. Any other command: 2 ms.
# The loops over every domain cost that per domain (weak's 8: virsh_backup_state 450 ms).
COST_MS = {"apt_upgradable": 700, "dnf_security_info": 1000, "systemctl_unit_files": 400,
           "virsh_backup_state": 400, "rpm_list": 300, "needs_restarting": 300,
           "ausearch_virt": 200, "virsh_net_dumpxml_all": 60, "elf_hardening": 40, "dpkg_list": 30}


def cost(name: str) -> int:
    """The expected cost (ms) of the command called `name`."""
    return COST_MS.get(name, 20 if "virsh" in COMMANDS[name] else 2)


def render(name: str, **args: str) -> str:
    """One command line, its arguments quoted. `render("cat", path="/etc/x")`."""
    template = COMMANDS[name]
    if not args:        # a template without arguments is sent as written (awk braces and all)
        return template
    return template.format(**{k: shlex.quote(str(v)) for k, v in args.items()})


# what shlex.quote produces: safe characters, or '...' pieces joined by "'"
_QUOTED = r"(?:[A-Za-z0-9_@%+=:,./-]+|(?:'[^']*'|\"'\")+)"


def _pattern(template: str) -> re.Pattern:
    parts = re.split(r"(\{\w+\})", template)
    regex = "".join(_QUOTED if re.fullmatch(r"\{\w+\}", p) else re.escape(p) for p in parts)
    return re.compile(regex + r"\Z")


_PATTERNS = {name: _pattern(t) for name, t in COMMANDS.items()}
# the templates without arguments, sent as written: most of a batch's lines, found by
# one lookup instead of a match against every pattern
_LITERAL = frozenset(t for t in COMMANDS.values() if not re.search(r"\{\w+\}", t))
_MARKER = re.compile(r"printf '[^']*' '[0-9a-f]{16}'(?: [0-9]+)?(?: \"\$\?\")?(?: >&2)?\Z")


def allowed(line: str) -> str | None:
    """The name of the declared command this line is, or None."""
    return next((n for n, p in _PATTERNS.items() if p.match(line)), None)


class ForbiddenCommand(Exception):
    pass


def check_script(script: str) -> list[str]:
    """Return the command lines of a batch script; raise if any line is not declared."""
    commands = []
    # the shell's lines end at "\n" only: a quoted argument may hold "\r" or "\x1e"
    for line in script.split("\n"):
        if not line or line == PREAMBLE or _MARKER.match(line):
            continue
        if line not in _LITERAL and allowed(line) is None:
            raise ForbiddenCommand(f"not a declared read-only command: {line!r}")
        commands.append(line)
    return commands
