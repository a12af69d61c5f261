"""Reading libvirt's own configuration files (qemu.conf, libvirtd.conf, network.conf,
secret.conf ...) from a snapshot, for control functions that need more than the
declarative `libvirt_conf` kind (hvconform/judge/kinds/libvirt_conf.py) offers. The syntax
is libvirtconf_parser's.

A missing file means libvirt runs on its built-in defaults: every key unset. A file
libvirt cannot parse is an error naming the line: the daemon would refuse it too.

    settings, art = settings_of(snap, QCONF)     # {key: Setting}; End when unreadable
    value_of(settings, "nbd_tls", 0)
"""

from __future__ import annotations

from hvconform.model import verdict as v
from hvconform.judge.read import artifacts
from hvconform.judge.read.libvirt_grammar import ConfSyntaxError, parse

QCONF = "/etc/libvirt/qemu.conf"


def settings_of(snap, path: str) -> tuple[dict, object]:
    """({key: Setting}, artifact) of a libvirt config file; {} when it does not exist;
    artifacts.End when it was not collected, is unreadable or does not parse."""
    art = snap.file(path)
    if art is None:
        raise artifacts.End(v.error(f"{path} was not collected"))
    if artifacts.is_absent(art):
        return {}, art
    if not art.ok:
        raise artifacts.End(artifacts.failure(art, path))
    try:
        return parse(art.stdout), art
    except ConfSyntaxError as exc:
        raise artifacts.End(v.error(f"{path}:{exc.line}: libvirt cannot parse this file: {exc}"))


def value_of(settings: dict, key: str, default=None):
    """A key's value, `default` (libvirt's built-in) when unset."""
    return settings[key].value if key in settings else default


def qemu_conf(snap, keys: list[str]) -> tuple[dict, v.Evidence]:
    """qemu.conf's settings (unset keys absent) and the evidence naming `keys`' lines."""
    settings, art = settings_of(snap, QCONF)
    if artifacts.is_absent(art):
        return {}, v.Evidence.of(art, f"{QCONF}: absent (every key takes its default)")
    lines = [f"{QCONF}:{settings[k].line}: {settings[k].text}" if k in settings
             else f"{QCONF}: {k}: not set (commented out or absent)" for k in keys]
    return settings, v.Evidence.of(art, "\n".join(lines))
