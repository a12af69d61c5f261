"""A libvirt connection URI from an inventory (`connection: libvirt`, `uri: ...`), checked
before anything is opened, and completed with the inventory's key and known_hosts files.

    uri, problems = libvirt_uri.check("qemu+libssh://hvaudit@hv-c/system?sshauth=privkey",
                                      base=Path("inventories"), identity_file=None,
                                      known_hosts=Path("~/.ssh/hvaudit_known_hosts"))

What is refused, and why (each is a located inventory error, never a silent change):
- transports that are plaintext or run a local program: `tcp` (no encryption),
  `ext` and the `command=` parameter (a program of the inventory's choosing);
- anything that loosens host key checking: `no_verify=1`, `known_hosts_verify=auto|ignore`;
- a password in the URI; a driver other than qemu, an instance other than /system;
- parameters this tool does not know (libvirt would ignore a misspelt one silently).
Host keys: `qemu+libssh://` and `qemu+libssh2://` are checked by libvirt against the
`known_hosts=` file, which is the host's `ssh.known_hosts` unless the URI names one
(default ~/.ssh/known_hosts, as for SSH hosts); it must exist. `qemu+ssh://` runs
OpenSSH, which libvirt cannot point at another file: it checks ~/.ssh/known_hosts and
/etc/ssh/ssh_known_hosts (or what ~/.ssh/config says), so an inventory that names
another known_hosts file for such a host is an error (use qemu+libssh://). `no_tty=1`
is added for SSH transports: OpenSSH then runs in batch mode and never prompts.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

SSH_TRANSPORTS = ("ssh", "libssh", "libssh2")
KNOWN_HOSTS_TRANSPORTS = ("libssh", "libssh2")   # libvirt checks their keys against known_hosts=
LOCAL_TRANSPORTS = ("", "unix")
TRANSPORTS = LOCAL_TRANSPORTS + SSH_TRANSPORTS + ("tls",)
REFUSED_TRANSPORTS = {"tcp": "sends everything unencrypted",
                      "ext": "runs a local program named in the URI"}
# parameter -> transports it applies to (None: any), as libvirt's uri documentation lists them
PARAMS = {"keyfile": SSH_TRANSPORTS, "known_hosts": ("libssh", "libssh2"),
          "known_hosts_verify": ("libssh", "libssh2"), "sshauth": ("libssh", "libssh2"),
          "no_tty": SSH_TRANSPORTS, "netcat": SSH_TRANSPORTS, "proxy": SSH_TRANSPORTS,
          "pkipath": ("tls",), "tls_priority": ("tls",), "mode": None, "socket": None}
REFUSED_PARAMS = {"no_verify": "turns host key (or certificate) checking off",
                  "command": "runs a local program named in the URI"}
PATH_PARAMS = ("keyfile", "known_hosts", "pkipath")
DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"


def transport(uri: str) -> str:
    """'qemu+libssh://...' -> 'libssh'; 'qemu:///system' -> ''."""
    return urlsplit(uri).scheme.partition("+")[2]


def check(uri: str, base: Path, identity_file: Path | None = None,
          known_hosts: Path | None = None) -> tuple[str, list[str]]:
    """(the URI to open, problems). `base`: where relative paths start; `identity_file`
    and `known_hosts`: the host's ssh settings, used where the URI names none."""
    problems: list[str] = []
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError as exc:
        return uri, [f"not a URI: {exc}"]
    driver, _, trans = parts.scheme.partition("+")
    if driver != "qemu":
        problems.append(f"driver {driver or 'none'!r}: this suite audits QEMU/KVM hosts; "
                        "expected qemu:///system or qemu+TRANSPORT://[user@]host[:port]/system")
    if trans in REFUSED_TRANSPORTS:
        problems.append(f"transport {trans!r} refused: it {REFUSED_TRANSPORTS[trans]}; "
                        "use ssh, libssh, libssh2 or tls")
    elif trans not in TRANSPORTS:
        problems.append(f"unknown transport {trans!r} (known: {', '.join(t for t in TRANSPORTS if t)})")
    if parts.path != "/system":
        problems.append(f"path {parts.path or 'none'!r}: expected /system (the system "
                        "instance, where the hypervisor's domains are)")
    if parts.password is not None:
        problems.append("has a password: never put one in an inventory; use a key (keyfile=)")
    if trans in LOCAL_TRANSPORTS and parts.hostname:
        problems.append(f"names host {parts.hostname!r} but no transport: write qemu+ssh://, "
                        "qemu+libssh:// or qemu+tls://")
    if trans not in LOCAL_TRANSPORTS and not parts.hostname:
        problems.append(f"transport {trans!r} needs a host: qemu+{trans}://[user@]host/system")
    if port is not None and not 1 <= port <= 65535:
        problems.append(f"port {port}: expected 1 to 65535")
    params: dict[str, str] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in params:
            problems.append(f"parameter {name!r} given twice")
        params[name] = value
    for name, value in params.items():
        if name in REFUSED_PARAMS and not (name == "no_verify" and value == "0"):
            problems.append(f"parameter {name}= refused: it {REFUSED_PARAMS[name]}")
        elif name in REFUSED_PARAMS:
            continue
        elif name not in PARAMS:
            problems.append(f"unknown parameter {name!r} (known: {', '.join(PARAMS)})")
        elif PARAMS[name] is not None and trans not in PARAMS[name]:
            problems.append(f"parameter {name}= does not apply to transport {trans or 'none'!r}")
    if params.get("known_hosts_verify", "normal") != "normal":
        problems.append(f"known_hosts_verify={params['known_hosts_verify']} refused: an unknown "
                        "or changed host key must stop the connection (normal)")
    if params.get("no_tty", "1") != "1":
        problems.append("no_tty must be 1: a prompt would hang the audit")
    for name in PATH_PARAMS:
        if params.get(name):
            params[name] = _resolve(base, params[name])
    # files the URI names must exist; those from ssh: are checked where they are written
    for name, kind in (("keyfile", "file"), ("known_hosts", "file"), ("pkipath", "dir")):
        value = params.get(name)
        if value and not (os.path.isdir(value) if kind == "dir" else os.path.isfile(value)):
            problems.append(f"{name}: no such {'folder' if kind == 'dir' else 'file'}: {value}")
    if trans in SSH_TRANSPORTS:
        params.setdefault("no_tty", "1")
        if identity_file is not None:
            params.setdefault("keyfile", str(identity_file))
    if trans in KNOWN_HOSTS_TRANSPORTS:
        params.setdefault("known_hosts", str(known_hosts or Path(DEFAULT_KNOWN_HOSTS).expanduser()))
    elif trans == "ssh" and known_hosts is not None and \
            Path(known_hosts).expanduser() != Path(DEFAULT_KNOWN_HOSTS).expanduser():
        problems.append(f"qemu+ssh runs OpenSSH, which checks host keys against "
                        f"{DEFAULT_KNOWN_HOSTS} (and /etc/ssh/ssh_known_hosts); libvirt cannot "
                        f"point it at {known_hosts} (ssh.known_hosts): use qemu+libssh://, which "
                        "takes known_hosts=, or `ssh: {known_hosts: null}` for this host")
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe='/~.,_-')}" for k, v in params.items())
    # urlunsplit would drop the empty authority of qemu:///system
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + (f"?{query}" if query else ""), problems


def host_of(uri: str) -> str:
    """The host a URI reaches ('' for a local one), for display."""
    try:
        return urlsplit(uri).hostname or ""
    except ValueError:
        return ""


def _resolve(base: Path, value: str) -> str:
    return os.path.normpath(base / Path(value).expanduser())
