"""Which libvirt daemons manage this host, and so which file configures them.

REQUIREMENTS.md writes `$DCONF` for the driver daemon's configuration and `$PCONF`
for the remote-access daemon's:
  modular (virtqemud + virtproxyd)   $DCONF = virtqemud.conf   $PCONF = virtproxyd.conf
  monolithic (libvirtd)              $DCONF = $PCONF = libvirtd.conf
The model is decided, in this order, by
  1. systemd: `systemctl is-active virtqemud.socket libvirtd.socket ...`: exactly one
     of the two main sockets active decides (and the daemon is socket-activated);
  2. the process table (`cmd:ps`, always collected): a running virtqemud or libvirtd
     (where systemd is absent, as in the lab, or neither socket is active);
  3. the files: where no daemon runs, the one candidate file that exists.
Under socket activation the daemon ignores its listen_* and unix_sock_* settings
(libvirt docs/daemons.rst, "... Systemd Integration"): `effective()` replaces them by
what the socket units say (`systemctl cat`: ListenStream, SocketMode, SocketGroup).
A daemon started without socket activation listens on TCP only with --listen
(libvirtd.conf.in: "must pass the --listen flag"), so without it listen_tcp and
listen_tls are 0 whatever the file says.

    m = model(snap)     # Model(name="monolithic", socket_activated=False, why="...")
    m.conf("$DCONF")    # "/etc/libvirt/libvirtd.conf"
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from hvconform.model import verdict as v
from hvconform.judge.read import host_state
from hvconform.judge.read import artifacts, memo

DCONF, PCONF = "$DCONF", "$PCONF"
MODULAR, MONOLITHIC = "modular", "monolithic"
FILES = {MODULAR: {DCONF: "/etc/libvirt/virtqemud.conf", PCONF: "/etc/libvirt/virtproxyd.conf"},
         MONOLITHIC: {DCONF: "/etc/libvirt/libvirtd.conf", PCONF: "/etc/libvirt/libvirtd.conf"}}
# the daemon behind each file, by model: its process name and its socket units' prefix
DAEMON = {MODULAR: {DCONF: "virtqemud", PCONF: "virtproxyd"},
          MONOLITHIC: {DCONF: "libvirtd", PCONF: "libvirtd"}}
ACTIVE = "cmd:systemctl_libvirt_active"
SOCKETS = "cmd:systemctl_libvirt_sockets"
# the units of `systemctl_libvirt_active`, in the order systemctl prints their states
ACTIVE_UNITS = ("virtqemud.socket", "libvirtd.socket", "virtproxyd.socket", "virtproxyd-tcp.socket",
                "virtproxyd-tls.socket", "libvirtd-tcp.socket", "libvirtd-tls.socket")
NEEDS = [("cat", FILES[MODULAR][DCONF]), ("cat", FILES[MODULAR][PCONF]), ("cat", FILES[MONOLITHIC][DCONF]),
         ("systemctl_libvirt_active", ""), ("systemctl_libvirt_sockets", "")]
LIBVIRT_DAEMONS = ("libvirtd", "virtqemud", "virtproxyd")   # their ps command names
NO_SYSTEMD = ("not been booted with systemd", "Failed to connect to bus", "systemctl: not found",
              "systemctl: command not found")
SOCKET_MODE_DEFAULT = "0666"   # systemd.socket(5): SocketMode= defaults to 0666
SOCKET_GROUP_DEFAULT = "root"  # systemd.socket(5): nodes are owned by root unless SocketGroup=


class Undecided(artifacts.End):
    """The model cannot be told; `verdict` (an error) says why."""


@dataclass
class Model:
    name: str                       # MODULAR or MONOLITHIC
    why: str                        # the deciding facts, one line
    systemd: bool                   # systemctl answered
    active: dict = field(default_factory=dict)      # socket unit -> is-active state
    units: dict = field(default_factory=dict)       # socket unit -> {Key: [values]} ([Socket] only)
    daemons: dict = field(default_factory=dict)     # process name -> its ps line
    evidence: list = field(default_factory=list)

    def conf(self, which: str) -> str:
        return FILES[self.name][which]

    def socket_activated(self, which: str) -> bool:
        """True when systemd runs the daemon behind `which` from its main socket unit."""
        return self.systemd and self.active.get(f"{DAEMON[self.name][which]}.socket") == "active"

    def effective(self, which: str) -> dict[str, tuple[str, str]]:
        """Settings the daemon takes from elsewhere than its file: {key: (value, why)}."""
        daemon = DAEMON[self.name][which]
        if self.socket_activated(which):
            return self._from_units(daemon)
        line = self.daemons.get(daemon)
        if line is not None and not re.search(r"\s(--listen|-l)(\s|$)", line):
            why = f"{daemon} runs without --listen ({line}): it opens no TCP/TLS listener"
            return {"listen_tcp": ("0", why), "listen_tls": ("0", why)}
        return {}

    def _from_units(self, daemon: str) -> dict[str, tuple[str, str]]:
        out = {}
        for key, suffix, unit_key, default in (
                ("unix_sock_rw_perms", "", "SocketMode", SOCKET_MODE_DEFAULT),
                ("unix_sock_ro_perms", "-ro", "SocketMode", SOCKET_MODE_DEFAULT),
                ("unix_sock_admin_perms", "-admin", "SocketMode", SOCKET_MODE_DEFAULT),
                ("unix_sock_group", "", "SocketGroup", SOCKET_GROUP_DEFAULT)):
            unit = f"{daemon}{suffix}.socket"
            values = self.units.get(unit, {}).get(unit_key)
            if unit not in self.units:
                continue        # no such unit (virtqemud has no -ro? then nothing to say)
            out[key] = (values[-1], f"{unit}: {unit_key}={values[-1]}") if values else \
                (default, f"{unit}: {unit_key} not set (systemd default {default})")
        for kind in ("tcp", "tls"):
            unit = f"{daemon}-{kind}.socket"
            state = self.active.get(unit, "inactive")
            on = state == "active"
            out[f"listen_{kind}"] = ("1" if on else "0", f"{unit} is {state}")
            streams = self.units.get(unit, {}).get("ListenStream") or []
            if on and streams:
                host, port = split_listen(streams[-1])
                out[f"{kind}_port"] = (port, f"{unit}: ListenStream={streams[-1]}")
                if kind == "tls" or "listen_addr" not in out:
                    out["listen_addr"] = (host, f"{unit}: ListenStream={streams[-1]}"
                                          + (" (a bare port: every address)" if host == "::" else ""))
        return out


def split_listen(stream: str) -> tuple[str, str]:
    """systemd.socket(5) ListenStream: '16514' (every address, dual-stack), '1.2.3.4:16514',
    '[::1]:16514' -> (address, port); a bare port listens on '::'."""
    stream = stream.strip()
    if re.fullmatch(r"\d+", stream):
        return "::", stream
    m = re.fullmatch(r"\[([^\]]*)\]:(\d+)|([^:]+):(\d+)", stream)
    if not m:
        return stream, ""
    return (m.group(1), m.group(2)) if m.group(1) is not None else (m.group(3), m.group(4))


@memo.per_host
def parse_units(text: str) -> dict[str, dict[str, list[str]]]:
    """`systemctl cat` output -> {unit: {Key: [values]}} of the [Socket] sections.

    Format (systemctl(1), "cat"): each file is preceded by a comment naming it, the
    unit file first, then its drop-ins (<unit>.d/*.conf), which override it; an
    empty assignment resets a list setting (systemd.syntax(7)).
    Parsed once per text (judge/read/memo.py): every $DCONF/$PCONF row decides the
    model again; callers read the units, never change them.
    """
    units: dict[str, dict[str, list[str]]] = {}
    unit, section = None, None
    for line in text.splitlines():
        line = line.strip()
        m = re.fullmatch(r"#\s+(/\S+)", line)
        if m:
            path = m.group(1).rstrip("/")
            parent, _, base = path.rpartition("/")
            unit = parent.rpartition("/")[2][:-2] if parent.endswith(".d") else base
            units.setdefault(unit, {})
            section = None
            continue
        if not line or line.startswith(("#", ";")) or unit is None:
            continue
        if line.startswith("["):
            section = line
            continue
        key, eq, value = line.partition("=")
        if eq and section == "[Socket]":
            values = units[unit].setdefault(key.strip(), [])
            if value.strip():
                values.append(value.strip())
            else:
                values.clear()
    return units


def socket_states(snap) -> tuple[bool, dict[str, str], object]:
    """(systemd answered, {unit: state}, artifact)."""
    art = snap.get(ACTIVE)
    if art is None:
        raise Undecided(v.error("systemctl is-active of the libvirt sockets was not collected"))
    if not art.stdout.strip() and (art.rc == 127 or any(s in art.stderr for s in NO_SYSTEMD)):
        return False, {}, art
    states = art.stdout.split()
    # is-active exits 3 when a unit is not active; that is an answer, not a failure
    if len(states) != len(ACTIVE_UNITS):
        raise Undecided(artifacts.failure(art, "systemctl is-active of the libvirt sockets"))
    return True, dict(zip(ACTIVE_UNITS, states)), art


def running_daemons(snap) -> tuple[dict[str, str], object]:
    """{daemon: 'pid N: its command line'} of the libvirt daemons in the process table."""
    art = snap.get("cmd:ps")
    if art is None or not art.ok:
        raise Undecided(v.error("the process table (ps) was not collected"))
    return dict(_daemons_in(art.stdout)), art


@memo.per_host
def _daemons_in(ps_text: str) -> dict[str, str]:
    # once per process table: every $DCONF/$PCONF row decides the model again
    found = {}
    for cols, _ in host_state.ps_rows(ps_text):
        if cols[3] in LIBVIRT_DAEMONS:
            found.setdefault(cols[3], f"pid {cols[0]}: {cols[4] if len(cols) > 4 else cols[3]}")
    return found


def model(snap) -> Model:
    """The daemon model of this host; raise Undecided (an error verdict) when unknown."""
    systemd, active, active_art = socket_states(snap)
    daemons, ps_art = running_daemons(snap)
    evidence = [v.Evidence.of(active_art, "\n".join(f"{u}: {s}" for u, s in active.items())
                              or active_art.stderr.strip() or "no output"),
                v.Evidence.of(ps_art, "\n".join(daemons.values()) or "no libvirtd, virtqemud or virtproxyd process")]
    units = {}
    if systemd:
        sockets = snap.get(SOCKETS)
        if sockets is None:
            raise Undecided(v.error("systemctl cat of the libvirt socket units was not collected"))
        units = parse_units(sockets.stdout)   # rc 1 when some units do not exist: still an answer
        evidence.append(v.Evidence.of(sockets))
    on = [name for name, unit in ((MODULAR, "virtqemud.socket"), (MONOLITHIC, "libvirtd.socket"))
          if active.get(unit) == "active"]
    running = [name for name, proc in ((MODULAR, "virtqemud"), (MONOLITHIC, "libvirtd")) if proc in daemons]
    sockets_said = ", ".join(f"{u} {active[u]}" for u in ACTIVE_UNITS[:2]) if systemd else \
        "no systemd (" + (active_art.stderr.strip().splitlines() or ["systemctl failed"])[0] + ")"
    if len(on) == 1:
        name, why = on[0], f"{sockets_said}: socket-activated"
    elif len(running) == 1:
        name, why = running[0], f"{sockets_said}; ps: {daemons[DAEMON[running[0]][DCONF]]}"
    else:
        name, why = _by_files(snap, sockets_said, running, on)
    return Model(name, why, systemd, active, units, daemons, evidence)


def _by_files(snap, sockets_said: str, running: list, on: list) -> tuple[str, str]:
    if running or on:   # both models at once: which file the QEMU driver reads is not certain
        raise Undecided(v.error(f"both libvirt daemon models are in use ({sockets_said}; running: "
                                f"{', '.join(running) or 'neither'}): which file configures the "
                                "QEMU driver cannot be told (see LIBV-001)"))
    present = []
    for name in (MODULAR, MONOLITHIC):
        path = FILES[name][DCONF]
        art = snap.file(path)
        if art is None:
            raise Undecided(v.error(f"{path} was not collected"))
        if art.ok:
            present.append(name)
        elif not artifacts.is_absent(art):
            raise Undecided(artifacts.failure(art, path))
    if len(present) != 1:
        raise Undecided(v.error(f"no libvirt daemon runs ({sockets_said}; no libvirtd or virtqemud "
                                f"process) and {'both' if present else 'neither'} of virtqemud.conf "
                                "and libvirtd.conf exist: the daemon model cannot be told"))
    name = present[0]
    return name, f"{sockets_said}; no daemon running; only {FILES[name][DCONF].rsplit('/', 1)[1]} exists"


def describe(m: Model, which: str) -> str:
    """The evidence line naming the model and why: '$DCONF = /etc/libvirt/libvirtd.conf ...'."""
    mode = "socket-activated" if m.socket_activated(which) else "not socket-activated"
    return f"{which} = {m.conf(which)}: {m.name} daemons ({DAEMON[m.name][which]}, {mode}); decided by: {m.why}"


def model_evidence(m: Model, which: str) -> list[v.Evidence]:
    """The model's evidence, the first item headed by `describe`: which file and why."""
    return [v.Evidence(e.source, e.sha256, describe(m, which) + "\n" + e.excerpt, e.collected_at) if i == 0 else e
            for i, e in enumerate(m.evidence)]
