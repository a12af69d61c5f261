"""The rules an inventory must follow; hvconform.inputs.inventory applies them.

Each rule reports through a Check, which turns a key path into
'file:line: dotted.key: message', and keeps going: the auditor fixes every mistake in
one edit instead of one per run.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path

from hvconform.inputs import inventory_files as files
from hvconform.inputs import libvirt_uri
from hvconform.model import safe_names

TOP_KEYS = ("defaults", "policy", "groups", "hosts", "overlays")
HOST_KEYS = ("connection", "address", "uri", "ssh", "sudo", "facts", "labels", "vms")
DEFAULTS_KEYS = ("connection", "ssh", "sudo", "facts", "labels")  # no address: one per host
SSH_KEYS = ("user", "port", "identity_file", "known_hosts", "jump_host", "connect_timeout",
            "command_timeout", "max_command_output", "max_host_output")
FACT_KEYS = ("security_level", "tenant", "role")
VM_KEYS = ("name",) + FACT_KEYS  # a `vms:` entry: a name, or a mapping with its facts
PATH_KEYS = ("identity_file", "known_hosts")

# Values handed to ssh: a leading '-' would be read as an option, blanks never belong.
_ADDRESS = re.compile(r"(?!-)[A-Za-z0-9._:%\[\]-]+\Z")
_USER = re.compile(r"(?!-)[A-Za-z0-9._-]+\Z")
_JUMP = re.compile(r"(?:(?P<user>[^@]+)@)?(?P<host>\[[^\]]+\]|[^:@\[\]]+)(?::(?P<port>\d+))?\Z")
BAD = object()  # a value already reported: checks that depend on it are skipped


def _int(v):
    return isinstance(v, int) and not isinstance(v, bool)  # YAML `true` is an int to Python


# Timeouts are bounded: `.inf` (YAML's infinity) once hung a run for good, and NaN
# compares false with everything.
MAX_CONNECT_TIMEOUT, MAX_COMMAND_TIMEOUT = 300, 3600


def _seconds_up_to(limit):
    return lambda v: (_int(v) or isinstance(v, float)) and 0 < v <= limit


def _file(v):
    return v is None or (isinstance(v, str) and v.strip() != "")


def _jump(v):
    return v is None or isinstance(v, str)  # whether it names a host is checked later


_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB)?\s*\Z")
_UNITS = {None: 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
SIZE_MIN, SIZE_MAX = 1 << 10, 1 << 40


def size_bytes(v) -> int | None:
    """An output cap: bytes (an integer), or a string like '16MiB' or '1.5 GiB'; None if not one."""
    if _int(v):
        n = v
    elif isinstance(v, str) and _SIZE.match(v):
        m = _SIZE.match(v)
        n = int(float(m[1]) * _UNITS[m[2]])
    else:
        return None
    return n if SIZE_MIN <= n <= SIZE_MAX else None


# key -> (test, what was expected)
RULES = {
    "connection": (lambda v: v in ("ssh", "local", "libvirt"), "ssh, local or libvirt"),
    "uri": (lambda v: isinstance(v, str) and 0 < len(v.strip()) <= 2048,
            "a libvirt URI such as qemu+libssh://user@host/system"),
    "address": (lambda v: isinstance(v, str) and _ADDRESS.match(v), "a host name or IP address"),
    "sudo": (lambda v: isinstance(v, bool), "true or false"),
    "user": (lambda v: isinstance(v, str) and _USER.match(v),
             "a user name (letters, digits, . _ -)"),
    "port": (lambda v: _int(v) and 1 <= v <= 65535, "an integer from 1 to 65535"),
    "identity_file": (_file, "a file path"),
    "known_hosts": (_file, "a file path"),
    "jump_host": (_jump, "a host name or [user@]host[:port]"),
    "connect_timeout": (_seconds_up_to(MAX_CONNECT_TIMEOUT),
                        f"a number of seconds greater than 0, at most {MAX_CONNECT_TIMEOUT}"),
    "command_timeout": (_seconds_up_to(MAX_COMMAND_TIMEOUT),
                        f"a number of seconds greater than 0, at most {MAX_COMMAND_TIMEOUT}"),
    "max_command_output": (lambda v: size_bytes(v) is not None,
                           "a size from 1 KiB to 1024 GiB: bytes, or like '16MiB'"),
    "max_host_output": (lambda v: size_bytes(v) is not None,
                        "a size from 1 KiB to 1024 GiB: bytes, or like '64MiB'"),
    "facts": (lambda v: isinstance(v, str), "a string"),
    "labels": (lambda v: isinstance(v, (str, int, float, bool)), "a string, number or true/false"),
}


class Check:
    """Collects problems as (line, 'file:line: dotted.key: message')."""

    def __init__(self, path: Path, lines: dict):
        self.path, self.lines, self.errors = path, lines, []

    def __call__(self, at: tuple, message: str):
        # A missing key has no line of its own: use its nearest parent's.
        line = next((self.lines[at[:n]] for n in range(len(at), -1, -1) if at[:n] in self.lines), 1)
        dotted = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in at).lstrip(".")
        where = f"{self.path}:{line}: {dotted}: " if dotted else f"{self.path}:{line}: "
        self.errors.append((line, where + message))

    def sorted_errors(self) -> list[str]:
        return [message for _, message in sorted(self.errors, key=lambda e: e[0])]

    def keys(self, at: tuple, mapping, known, hint="") -> dict:
        """The known part of `mapping` (None counts as empty); reports the rest."""
        if mapping is None:
            return {}
        if not isinstance(mapping, dict):
            self(at, f"expected a mapping, got {show(mapping)}")
            return {}
        for key in mapping:
            if known is None and not isinstance(key, str):
                self(at + (key,), f"expected a name in quotes, got {show(key)}")
            elif known is not None and key not in known:
                self(at + (key,), f"unknown key{suggest(key, known)}; "
                                  f"known keys: {', '.join(known) or 'none'}{hint}")
        return {k: v for k, v in mapping.items()
                if isinstance(k, str) and (known is None or k in known)}

    def value(self, at: tuple, value, rule: str):
        test, expected = RULES[rule]
        if test(value):
            return value
        self(at, f"expected {expected}, got {show(value)}")
        return BAD


def section(check: Check, at: tuple, raw, known, base: Path) -> dict | None:
    """One host or the defaults, checked; bad values become BAD. None: not a mapping."""
    if raw is not None and not isinstance(raw, dict):
        check(at, f"expected a mapping, got {show(raw)}")
        return None
    out = {}
    for key, value in check.keys(at, raw, known).items():
        if key == "ssh":
            ssh = check.keys(at + ("ssh",), value, SSH_KEYS)
            out["ssh"] = {k: check.value(at + ("ssh", k), v, k) for k, v in ssh.items()}
            for k in PATH_KEYS:
                if out["ssh"].get(k) not in (None, BAD):
                    try:
                        out["ssh"][k] = _resolve(base, out["ssh"][k])
                    except RuntimeError:   # "~name/...": no user called name
                        check(at + ("ssh", k), f"cannot expand {show(out['ssh'][k])}: no such user")
                        out["ssh"][k] = BAD
            key_file = out["ssh"].get("identity_file")
            if isinstance(key_file, Path) and not key_file.is_file():
                check(at + ("ssh", "identity_file"), f"no such file: {key_file}")
            elif isinstance(key_file, Path):
                problem = files.identity_file_problem(key_file)
                if problem:
                    check(at + ("ssh", "identity_file"), problem)
        elif key == "vms":
            out["vms"] = vms(check, at + ("vms",), value)
        elif key in ("facts", "labels"):
            hint = "; free-form ones go under labels:" if key == "facts" else ""
            entries = check.keys(at + (key,), value, FACT_KEYS if key == "facts" else None, hint)
            out[key] = {k: check.value(at + (key, k), v, key) for k, v in entries.items()}
        else:
            out[key] = check.value(at + (key,), value, key)
    return out


def vms(check: Check, at: tuple, raw) -> dict | object:
    """`vms: [name, {name: x, tenant: t, security_level: l}]` -> {name: facts}; BAD if wrong.

    The VMs the site expects on a host: reconciled with the domains found there, and
    their facts feed the isolation analysis (hvconform/judge/fleet).
    """
    if not isinstance(raw, list):
        check(at, f"expected a list of VM names or {{name: ..., tenant: ..., security_level: ...}}, "
                  f"got {show(raw)}")
        return BAD
    out: dict[str, dict] = {}
    for i, item in enumerate(raw):
        facts = {}
        if isinstance(item, dict):
            entries = check.keys(at + (i,), item, VM_KEYS)
            facts = {k: check.value(at + (i, k), v, "facts") for k, v in entries.items() if k != "name"}
            if "name" not in item:
                check(at + (i,), "a VM needs a name")
                continue
            item = item["name"]
        if not isinstance(item, str) or not item.strip() or "/" in item:
            check(at + (i,), f"expected a libvirt domain name (no '/'), got {show(item)}")
        elif item in out:
            check(at + (i,), f"VM {item!r} is listed twice")
        else:
            out[item] = {k: v for k, v in facts.items() if v is not BAD}
    return out


def _expands(value: str) -> bool:
    try:
        Path(value).expanduser()
    except RuntimeError:
        return False
    return True


def _resolve(base: Path, value: str) -> Path:
    return Path(os.path.normpath(base / Path(value).expanduser()))  # absolute stays absolute


def name_ok(check: Check, at: tuple, name, what: str) -> bool:
    # Names become pytest ids, --limit arguments and file names in the run folder and
    # the bundle: the one rule of hvconform.model.safe_names, so any name accepted here
    # can be written there.
    if safe_names.is_safe(name):
        return True
    if isinstance(name, str):  # non-strings were reported by Check.keys
        check(at, f"{what} name {name!r}: {safe_names.RULE} (it becomes a test id and a file name)")
    return False


def connections(check: Check, defaults: dict, own: dict, merged: dict):
    """What needs every host at once: address, known_hosts in use, jump hosts."""
    missing_known_hosts: dict[tuple, list[str]] = {}
    for name, m in merged.items():
        if not uses_known_hosts(m):
            continue
        if "address" not in m and m["connection"] == "ssh":
            check(("hosts", name, "address"), "required for an ssh host (or set connection: local)")
        origin = ("hosts", name) if "known_hosts" in own[name].get("ssh", {}) else ("defaults",)
        if m["ssh"].get("known_hosts") is None:
            # As ssh does; and explicit, so the transport always verifies against a file.
            m["ssh"]["known_hosts"] = Path("~/.ssh/known_hosts").expanduser()
            origin = None
        known_hosts = m["ssh"]["known_hosts"]
        if isinstance(known_hosts, Path) and not known_hosts.is_file():
            # Report it once, where it is written, even if many hosts inherit it.
            missing_known_hosts.setdefault(origin, []).append(name)
    for origin, names in missing_known_hosts.items():
        path = merged[names[0]]["ssh"]["known_hosts"]
        why = f"host keys are verified against it; used by {', '.join(names)}"
        if origin is None:  # written nowhere: point at the first host that needs it
            check(("hosts", names[0], "ssh", "known_hosts"),
                  f"not set, and ssh's default {path} does not exist ({why})")
        else:
            check(origin + ("ssh", "known_hosts"), f"no such file: {path} ({why})")
    _known_hosts_content(check, defaults, own, merged)
    written = [(("defaults",), defaults)] + [(("hosts", n), s) for n, s in own.items()]
    for origin, settings in written:
        jump = settings.get("ssh", {}).get("jump_host")
        if isinstance(jump, str) and jump not in merged and parse_jump(jump) is None:
            check(origin + ("ssh", "jump_host"),
                  f"{jump!r} names no host in this inventory and is not [user@]host[:port]")
    for name in merged:
        chain, jump = [name], merged[name]["ssh"].get("jump_host")
        while jump in merged and jump not in chain:
            if merged[jump]["connection"] != "ssh":
                check(("hosts", name, "ssh", "jump_host"),
                      f"jump host {jump!r} has connection: {merged[jump]['connection']}")
                break
            chain.append(jump)
            jump = merged[jump]["ssh"].get("jump_host")
        if jump == name:
            check(("hosts", name, "ssh", "jump_host"),
                  f"jumps in a circle: {' -> '.join(chain + [name])} "
                  "(a jump host inherited from defaults may need `jump_host: null`)")


def _known_hosts_content(check: Check, defaults: dict, own: dict, merged: dict) -> None:
    """Each known_hosts file in use, read once: a corrupt line is reported where the
    file is named (the host that names it, the defaults, or the first host using ssh's
    default file, which is named nowhere)."""
    seen = set()
    for name, m in merged.items():
        path = m["ssh"].get("known_hosts") if uses_known_hosts(m) else None
        if not isinstance(path, Path) or path in seen or not path.is_file():
            continue
        seen.add(path)
        problem = files.known_hosts_problem(path)
        if problem:
            named_by_defaults = ("known_hosts" not in own[name].get("ssh", {})
                                 and "known_hosts" in defaults.get("ssh", {}))
            check((("defaults",) if named_by_defaults else ("hosts", name)) + ("ssh", "known_hosts"),
                  problem)


def uses_known_hosts(m: dict) -> bool:
    """An ssh host, or a libvirt one whose transport checks keys against known_hosts=."""
    return m["connection"] == "ssh" or (
        m["connection"] == "libvirt" and isinstance(m.get("uri"), str)
        and libvirt_uri.transport(m["uri"]) in libvirt_uri.KNOWN_HOSTS_TRANSPORTS)


def libvirt_hosts(check: Check, merged: dict, base: Path):
    """`connection: libvirt` hosts: `uri:` required, checked and completed with the
    host's identity_file and known_hosts (hvconform/inputs/libvirt_uri.py); `address`
    becomes the URI's host. `uri:` on any other host is an error."""
    for name, m in merged.items():
        at = ("hosts", name)
        if m["connection"] != "libvirt":
            if "uri" in m:
                check(at + ("uri",), "only for connection: libvirt")
            continue
        if "address" in m:
            check(at + ("address",), "not used by a libvirt host: the uri says where it is")
        if isinstance(m["ssh"].get("jump_host"), str):
            check(at + ("ssh", "jump_host"), "a libvirt host takes no jump host: libvirt opens "
                  "the uri itself (set jump_host: null; for qemu+ssh, ProxyJump in ~/.ssh/config)")
        uri = m.get("uri")
        if uri is None:
            check(at + ("uri",), "required for a libvirt host, e.g. "
                                 "qemu+libssh://hvaudit@hv-c.example.net/system")
            continue
        if uri is BAD:
            continue
        ssh = m["ssh"]
        paths = {k: ssh.get(k) if isinstance(ssh.get(k), Path) else None
                 for k in ("identity_file", "known_hosts")}
        full, problems = libvirt_uri.check(uri, base, **paths)
        for problem in problems:
            check(at + ("uri",), problem)
        m["uri"], m["address"] = full, libvirt_uri.host_of(full)


def parse_jump(jump: str) -> tuple[str | None, str, int | None] | None:
    """'user@host:port' -> ('user', 'host', port); user and port may be None; None if invalid."""
    m = _JUMP.match(jump)
    if not m or not _ADDRESS.match(m["host"]):
        return None
    if m["user"] is not None and not _USER.match(m["user"]):
        return None
    port = None if m["port"] is None else int(m["port"])
    if port is not None and not 1 <= port <= 65535:
        return None
    return m["user"], m["host"].strip("[]"), port


def groups(check: Check, raw, hosts: list[str]) -> dict[str, list[str]]:
    out = {}
    for name, members in check.keys(("groups",), raw, None).items():
        if not name_ok(check, ("groups", name), name, "group"):
            continue
        if name in hosts:
            check(("groups", name), "a host has this name too; --limit could not tell them apart")
        if members is not None and not isinstance(members, list):
            check(("groups", name), f"expected a list of host names, got {show(members)}")
            continue
        out[name] = []
        for i, member in enumerate(members or []):
            if isinstance(member, str) and member in hosts:
                if member not in out[name]:
                    out[name].append(member)
            elif isinstance(member, str) and member in raw:
                check(("groups", name, i), f"{member!r} is a group; groups list hosts only")
            else:
                check(("groups", name, i), f"unknown host {show(member)}{suggest(member, hosts)}; "
                      f"hosts: {', '.join(hosts)}")
    return out


def policy(check: Check, raw) -> dict:
    """Keys hvconform.inputs.policy knows, each of the same kind as its default."""
    if not raw or not isinstance(raw, dict):
        return check.keys(("policy",), raw, ())
    try:
        from hvconform.inputs.policy import DEFAULTS  # late: the policy module is another's to own
    except ImportError:
        check(("policy",), "cannot be checked: hvconform.inputs.policy is missing")
        return {}
    out = {}
    for key, value in check.keys(("policy",), raw, tuple(DEFAULTS)).items():
        default = DEFAULTS[key]
        if not _fits(value, default):
            check(("policy", key),
                  f"expected {kind(default)} like the default {show(default)}, got {show(value)}")
            continue
        bad = _control_in(value)
        if bad:
            where, char = bad
            check(("policy", key) + where, f"contains a control character ({char}): policy values "
                  "become paths, patterns and arguments sent to hosts, one per line")
            continue
        out[key] = value
        # A list's items too, when the default's items show what they should be.
        if isinstance(default, list) and default and all(_fits(d, default[0]) for d in default):
            for i, item in enumerate(value):
                if not _fits(item, default[0]):
                    check(("policy", key, i), f"expected {kind(default[0])} like the default's "
                                               f"items, got {show(item)}")
    return out


def _control_in(value, at=()) -> tuple[tuple, str] | None:
    """(where, character) of the first control character in a policy value's strings."""
    if isinstance(value, str):
        char = files.control_character(value)
        return (at, char) if char else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for k, v in items:
        found = _control_in(k, at + (k,)) if isinstance(k, str) else None
        found = found or _control_in(v, at + (k,))
        if found:
            return found
    return None


def overlays(check: Check, raw, base: Path) -> list[Path]:
    """`overlays: [site-overlay.yaml, ...]`: a site's catalog overlays (inputs/overlay.py),
    relative to the inventory's folder; their content is checked when they are applied."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        check(("overlays",), f"expected a list of overlay files, got {show(raw)}")
        return []
    out = []
    for i, value in enumerate(raw):
        if not isinstance(value, str) or not value.strip():
            check(("overlays", i), f"expected a file path, got {show(value)}")
        elif value.startswith("~") and not _expands(value):
            check(("overlays", i), f"cannot expand {show(value)}: no such user")
        elif not _resolve(base, value).is_file():
            check(("overlays", i), f"no such file: {_resolve(base, value)}")
        else:
            out.append(_resolve(base, value))
    return out


def _fits(value, default) -> bool:
    if default is None or kind(value) == kind(default):
        return True
    return isinstance(default, float) and _int(value)  # 2 is a fine value for a 1.5 default


def kind(value) -> str:
    for t, name in ((bool, "true or false"), (int, "an integer"), (float, "a number"),
                    (str, "a string"), (list, "a list"), (dict, "a mapping")):
        if isinstance(value, t):
            return name
    return "nothing" if value is None else f"a {type(value).__name__}"


def show(value) -> str:
    text = "nothing" if value is None else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def suggest(word, known) -> str:
    close = difflib.get_close_matches(str(word), [str(k) for k in known], 1)
    return f" (did you mean {close[0]!r}?)" if close else ""
