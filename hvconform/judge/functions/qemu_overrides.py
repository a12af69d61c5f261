"""Per-VM checks of the qemu domain where a domain's own setting overrides qemu.conf:
each VM is judged on what is in effect for it, its own setting, else qemu.conf's,
else libvirt's default, and, while it runs, on what its QEMU process really has.

  QEMU-002  qemu_not_root                   no QEMU runs as root; no DAC override to root
  QEMU-010  guest_ram_out_of_core_dumps     guest RAM left out of QEMU core dumps

Where the overrides are documented: formatdomain.rst 'Memory Allocation' (`<memory
dumpCore>`) and 'Security label' (`<seclabel model='dac'>`); qemu.conf.in
`dump_guest_core` ("ignored if the guest XML has set the dumpcore attribute"), `user`,
`group`; kbase/qemu-passthrough-security.rst 'Disabling security protection per VM'
(a DAC seclabel of root) versus 'host-wide' (user/group root in qemu.conf).
"""

from __future__ import annotations

import re

from hvconform.model import verdict as v
from hvconform.judge.kinds import process
from hvconform.judge.read import artifacts
from hvconform.judge.read import xmlsafe
from hvconform.judge.functions.registry import control
from hvconform.judge.read.libvirt_files import QCONF, settings_of, value_of

ROOT_IDS = ("root", "+0", "0")


def _nameless(snap, vm) -> v.Verdict:
    """The error for a running VM no QEMU process names (as the process kind says it)."""
    return v.error(f"domain {vm} is running but no QEMU process names it "
                   f"(pids {', '.join(map(str, snap.qemu_pids)) or 'none'})")


def _running_argv(snap, vm) -> tuple[list[str], object] | None:
    """The argv of the VM's QEMU while it runs, else None; End when it runs but no QEMU
    process names it or its cmdline was not read."""
    dom = snap.domain(vm)
    if dom is None or not dom.running:
        return None
    pid = process.pid_of(snap, vm)
    if pid is None:
        raise artifacts.End(_nameless(snap, vm))
    art = snap.file(f"/proc/{pid}/cmdline")
    return process.argv(art), art


# ---- QEMU-010 -------------------------------------------------------------------------

DUMP_GUEST_CORE = re.compile(r"(?:^|,)dump-guest-core=(on|off)(?:,|$)")


def _machine_dump_guest_core(argv: list[str]) -> str | None:
    """`-machine ...,dump-guest-core=on|off`: libvirt states it on the QEMU command line."""
    for i, arg in enumerate(argv[:-1]):
        if arg == "-machine":
            m = DUMP_GUEST_CORE.search(argv[i + 1])
            if m:
                return m[1]
    return None


@control("QEMU-010", needs=[("cat", QCONF)])
@artifacts.ends
def guest_ram_out_of_core_dumps(snap, vm, policy):
    expected = ("guest RAM left out of QEMU core dumps: <memory dumpCore='off'>, or no dumpCore and "
                "qemu.conf dump_guest_core unset/0; a running QEMU with dump-guest-core=off")
    root, art = artifacts.domain_root(snap, vm)
    memory = root.find("memory")
    own = memory.get("dumpCore") if memory is not None else None
    evidence = [v.Evidence.of(art, xmlsafe.line_of(memory) if memory is not None else "/domain/memory: no match")]
    if own in ("on", "off"):          # the domain decides; qemu.conf's key is then ignored
        defined, source = own, f"its <memory dumpCore='{own}'>"
    else:
        qconf, qart = settings_of(snap, QCONF)
        setting = value_of(qconf, "dump_guest_core", 0)
        defined = "on" if str(setting) == "1" else "off"
        source = (f"qemu.conf dump_guest_core = {setting}" if "dump_guest_core" in qconf
                  else "qemu.conf dump_guest_core unset (default 0)")
        evidence.append(v.Evidence.of(qart, source))
    problems = [f"dumps guest RAM: {source}"] if defined == "on" else []
    actual = f"dumpCore {defined} ({source})"
    running = _running_argv(snap, vm)
    if running is not None:
        argv, cart = running
        now = _machine_dump_guest_core(argv)
        if now is not None:
            evidence.append(v.Evidence.of(cart, f"-machine ...dump-guest-core={now}"))
            actual += f"; running QEMU dump-guest-core={now}"
            if now == "on":
                problems.append("the running QEMU has dump-guest-core=on"
                                + (" until it restarts" if defined == "off" else ""))
    return artifacts.problems_verdict(expected, problems, actual, evidence, f"domain {vm}: ")


# ---- QEMU-002 -------------------------------------------------------------------------

def _dac_override(root) -> tuple[str | None, object | None]:
    """The user:group a domain's own DAC seclabel names (formatdomain.rst 'Security
    label': "DAC: owner and group separated by colon"), and the element."""
    for label in root.findall("seclabel[@model='dac']"):
        text = (label.findtext("label") or "").strip()
        if text:
            return text, label
    return None, None


def _is_root(ids: str) -> bool:
    return any(part.strip() in ROOT_IDS for part in ids.split(":"))


@control("QEMU-002", needs=[("cat", QCONF)])
@artifacts.ends
def qemu_not_root(snap, vm, policy):
    expected = ("the VM's QEMU runs with uid != 0: its own <seclabel model='dac'> label, else qemu.conf "
                "user/group (default libvirt-qemu/qemu), never root or +0; a running QEMU's real uid != 0")
    root, art = artifacts.domain_root(snap, vm)
    label, element = _dac_override(root)
    problems, evidence, shown = [], [], []
    if label is not None:
        evidence.append(v.Evidence.of(art, xmlsafe.line_of(element)))
        shown.append(f"DAC label {label} (its own seclabel)")
        if _is_root(label):
            problems.append(f"its <seclabel model='dac'> runs QEMU as {label}")
    dom = snap.domain(vm)
    if dom is not None and dom.running:
        pid = process.pid_of(snap, vm)
        if pid is None:
            raise artifacts.End(_nameless(snap, vm))
        status = snap.file(f"/proc/{pid}/status")
        if status is None or not status.ok:
            raise artifacts.End(v.error(f"domain {vm} is running but the status of its QEMU was not collected"))
        uid, line = process.status_field(status.stdout, "Uid")
        evidence.append(v.Evidence.of(status, f"pid {pid}: {line}"))
        shown.append(f"running QEMU Uid = {uid}")
        if uid == "0":
            problems.append(f"pid {pid}: Uid = 0")
    elif label is None:               # stopped, no override: qemu.conf's user and group apply
        qconf, qart = settings_of(snap, QCONF)
        ids = {k: str(value_of(qconf, k, "default")) for k in ("user", "group")}
        evidence.append(v.Evidence.of(qart, "; ".join(f"{QCONF}: {k} = {val}" for k, val in ids.items())))
        shown.append(f"qemu.conf user {ids['user']}, group {ids['group']}")
        bad = [f"{k} = {val}" for k, val in ids.items() if val in ROOT_IDS]
        if bad:
            problems.append(f"it will run as root when started (qemu.conf {', '.join(bad)})")
    return artifacts.problems_verdict(expected, problems, "; ".join(shown), evidence, f"domain {vm}: ")
