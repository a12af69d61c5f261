"""Python controls of the crypto domain, what the host stores: the guests' disks
(encrypted at rest, protected on network storage protocols), libvirt's secrets and
swap.

  CRY-008  network_disks_protected   nbd over TLS, iscsi/rbd with a secret, no http/ftp image sources
  CRY-009  disks_encrypted           every data disk LUKS-encrypted or on dm-crypt
  CRY-010  secrets_private           libvirt secrets private, their files root-only, encrypt_data on
  CRY-011  swap_encrypted            no swap, zram only, or swap on dm-crypt

Formats read here: /proc/swaps (proc(5)); `lsblk -J` (util-linux lsblk(8), JSON with
nested "children").
"""

from __future__ import annotations

import json

from hvconform.model import verdict as v
from hvconform.judge.read import artifacts
from hvconform.judge.read import xmlsafe
from hvconform.judge.functions.registry import control
from hvconform.judge.read.libvirt_files import QCONF, settings_of, value_of

SECRET_CONF = "/etc/libvirt/secret.conf"
SWAPS = "/proc/swaps"


# ------------------------------------------------------------------ CRY-008, CRY-009

CLEARTEXT_PROTOCOLS = ("http", "https", "ftp", "ftps", "tftp")


@control("CRY-008", needs=[("cat", QCONF)])
@artifacts.ends
def network_disks_protected(snap, vm, policy):
    expected = ("nbd: tls='yes' or nbd_tls = 1; iscsi/rbd: <auth> with a libvirt secret; "
                "no http/https/ftp/tftp image sources")
    qconf, qart = settings_of(snap, QCONF)
    root, art = artifacts.domain_root(snap, vm)
    disks = root.findall("devices/disk[@type='network']")
    nbd_tls = str(value_of(qconf, "nbd_tls", 0)) == "1"
    bad = []
    for d in disks:
        src = d.find("source")
        proto = src.get("protocol") if src is not None else None
        if proto == "nbd" and src.get("tls") != "yes" and not (nbd_tls and src.get("tls") != "no"):
            bad.append(f"nbd {src.get('name')} without TLS")
        elif proto in ("iscsi", "rbd") and src.find("auth/secret") is None and d.find("auth/secret") is None:
            bad.append(f"{proto} {src.get('name')} without authentication")
        elif proto in CLEARTEXT_PROTOCOLS:
            bad.append(f"{proto} image source {src.get('name')}")
    evidence = [v.Evidence.of(art, "\n".join(xmlsafe.line_of(d) for d in disks) or "no network disks"),
                v.Evidence.of(qart, f"{QCONF}: nbd_tls = {value_of(qconf, 'nbd_tls', '0 (default)')}")]
    if bad:
        return v.failed(expected, "; ".join(bad), evidence, reason=f"domain {vm}: disk traffic unprotected")
    return v.passed(expected, f"{len(disks)} network disk(s), all protected", evidence)


def block_tree(snap):
    art = artifacts.output(snap, "lsblk_tree", "lsblk")
    try:
        return art, json.loads(art.stdout).get("blockdevices", [])
    except (ValueError, AttributeError) as exc:
        raise artifacts.End(v.error(f"lsblk printed malformed JSON: {exc}"))


def _paths(nodes, ancestors=()):
    """(node, [its ancestors' types]) for every node of the lsblk tree."""
    for n in nodes:
        yield n, [*ancestors, n.get("type")]
        yield from _paths(n.get("children") or [], (*ancestors, n.get("type")))


def on_crypt(tree, device: str | None = None, path: str | None = None) -> str | None:
    """The device (or the mount holding `path`) and whether dm-crypt is under it:
    returns the describing name when encrypted, else None."""
    best, best_len = None, -1
    for node, types in _paths(tree):
        if device is not None and device in (node.get("name"), node.get("kname")):
            return node.get("name") if "crypt" in types else None
        mount = node.get("mountpoint")
        if path is not None and mount and (path == mount or path.startswith(mount.rstrip("/") + "/")) \
                and len(mount) > best_len:
            best, best_len = (node, types), len(mount)
    if best is not None and "crypt" in best[1]:
        return f"{best[0].get('name')} (mounted on {best[0].get('mountpoint')})"
    return None


def mount_of(tree, path: str) -> str:
    best = max(((n.get("mountpoint"), n.get("name")) for n, _ in _paths(tree)
                if n.get("mountpoint") and (path == n["mountpoint"] or path.startswith(n["mountpoint"].rstrip("/") + "/"))),
               key=lambda m: len(m[0]), default=("?", "?"))
    return f"{best[1]} on {best[0]}"


@control("CRY-009", needs=[("lsblk_tree", "")])
@artifacts.ends
def disks_encrypted(snap, vm, policy):
    expected = "every data disk: <encryption format='luks'> with a secret, or its storage on a dm-crypt device"
    root, art = artifacts.domain_root(snap, vm)
    lart, tree = block_tree(snap)
    bad, good = [], []
    for d in root.findall("devices/disk[@device='disk']"):
        src = d.find("source")
        enc = d.find("source/encryption")
        enc = enc if enc is not None else d.find("encryption")
        where = (src.get("file") or src.get("dev") or src.get("name") or "?") if src is not None else "?"
        if enc is not None and enc.get("format") == "luks" and enc.find("secret") is not None:
            good.append(f"{where}: LUKS")
            continue
        crypt = (on_crypt(tree, device=src.get("dev")) if d.get("type") == "block" and src is not None
                 else on_crypt(tree, path=src.get("file")) if d.get("type") == "file" and src is not None else None)
        if crypt:
            good.append(f"{where}: on {crypt}")
        elif d.get("type") == "file" and src is not None and src.get("file"):
            bad.append(f"{where} (on {mount_of(tree, src.get('file'))}, no dm-crypt)")
        else:
            bad.append(f"{where} ({d.get('type')} disk, no LUKS)")
    evidence = [v.Evidence.of(art, "\n".join(xmlsafe.line_of(d) for d in root.findall("devices/disk[@device='disk']"))
                              or "no disks"),
                v.Evidence.of(lart, "\n".join(good + bad) or "no disks")]
    if bad:
        return v.failed(expected, "unencrypted: " + "; ".join(bad), evidence,
                        reason=f"domain {vm}: guest data readable from the host's storage")
    return v.passed(expected, "; ".join(good) or "no data disks", evidence)


# ------------------------------------------------------------------ CRY-010

@control("CRY-010", needs=[("libvirt_secret_modes", ""), ("libvirt_secret_roots", ""), ("cat", SECRET_CONF)])
@artifacts.ends
def secrets_private(snap, vm, policy):
    expected = ("/etc/libvirt/secrets 0700 root, files 0600 root; every secret ephemeral='no' private='yes'; "
                "secret.conf encrypt_data unset or 1")
    modes = snap.get("cmd:libvirt_secret_modes")
    roots = snap.get("cmd:libvirt_secret_roots")
    if modes is None or roots is None:
        raise artifacts.End(v.error("the libvirt secrets listing was not collected"))
    lines = [line for line in modes.stdout.splitlines() if " /etc/libvirt/secrets" in line]
    if not lines:
        if "No such file or directory" in modes.stderr:
            return v.not_applicable("no /etc/libvirt/secrets: this host stores no libvirt secrets",
                                    [v.Evidence.of(modes, modes.stderr.strip())])
        raise artifacts.End(artifacts.failure(modes, "stat of /etc/libvirt/secrets"))
    if modes.rc != 0 and "secrets/*" not in modes.stderr:
        raise artifacts.End(artifacts.failure(modes, "stat of /etc/libvirt/secrets"))
    bad = []
    for line in lines:
        mode, owner, rest = line.split(" ", 2)[0], line.split(" ", 2)[1], line.split(" ", 2)[2]
        name = rest[rest.index(" /etc/libvirt/secrets") + 1:]
        limit = 0o700 if name == "/etc/libvirt/secrets" else 0o600
        if int(mode, 8) & ~limit or owner != "root":
            bad.append(f"{name}: {mode} {owner} (want {limit:o} root)")
    if roots.rc not in (0, 1) and "secrets/*.xml" not in roots.stderr:
        raise artifacts.End(artifacts.failure(roots, "grep of the secrets' XML"))
    secrets = [line for line in roots.stdout.splitlines() if "<secret" in line]
    for line in secrets:
        path, _, element = line.partition(":")
        attrs = xmlsafe.parse(element.strip().rstrip(">").rstrip("/") + "/>").attrib \
            if element.strip().startswith("<secret") else {}
        if attrs.get("private") != "yes" or attrs.get("ephemeral", "no") != "no":
            bad.append(f"{path}: private={attrs.get('private', 'no')} ephemeral={attrs.get('ephemeral', 'no')}")
    settings, sart = settings_of(snap, SECRET_CONF)
    if str(value_of(settings, "encrypt_data", 1)) == "0":
        bad.append(f"{SECRET_CONF}: encrypt_data = 0")
    evidence = [v.Evidence.of(modes, "\n".join(lines)), v.Evidence.of(roots, "\n".join(secrets) or "no secrets")]
    actual = f"{len(secrets)} secret(s); " + ("; ".join(bad) if bad else "all private, modes within limits")
    if bad:
        return v.failed(expected, actual, evidence, reason="secret values or their files readable beyond root")
    return v.passed(expected, actual, evidence)


# ------------------------------------------------------------------ CRY-011

@control("CRY-011", needs=[("cat", SWAPS), ("lsblk_tree", "")])
@artifacts.ends
def swap_encrypted(snap, vm, policy):
    expected = "no swap, zram only, or swap on a dm-crypt device"
    art = artifacts.optional_file(snap, SWAPS)
    if art is None:
        raise artifacts.End(v.error(f"{SWAPS} does not exist: not a Linux /proc"))
    entries = [line.split() for line in art.stdout.splitlines()[1:] if line.strip()]
    if not entries:
        return v.passed(expected, "no swap", [v.Evidence.of(art, f"{SWAPS}: no entries")])
    lart, tree = block_tree(snap)
    bad, good = [], []
    for entry in entries:
        name, kind = entry[0], entry[1] if len(entry) > 1 else "?"
        if name.startswith("/dev/zram"):
            good.append(f"{name}: zram")
            continue
        crypt = on_crypt(tree, device=name) if kind == "partition" else on_crypt(tree, path=name)
        (good if crypt else bad).append(f"{name} ({kind}){': on ' + crypt if crypt else ', not encrypted'}")
    evidence = [v.Evidence.of(art), v.Evidence.of(lart, "\n".join(good + bad))]
    if bad:
        return v.failed(expected, "; ".join(bad), evidence, reason="guest memory paged out lands on disk in the clear")
    return v.passed(expected, "; ".join(good), evidence)
