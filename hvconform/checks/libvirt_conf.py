"""Keys of a libvirt configuration file (qemu.conf, libvirtd.conf, virtlogd.conf).

    check: {kind: libvirt_conf, file: /etc/libvirt/qemu.conf,
            expect: [{key: user, op: not_in, value: [root, "+0"], default: libvirt-qemu}]}
A key that is unset (absent or commented out) takes the row's `default`, the value
libvirt uses when the key is unset. A missing file is `not_applicable` (that part of
libvirt is not installed) unless the row says `missing: defaults` (judge as if
every key were unset) or `missing: fail`. A file libvirt could not parse is an
error verdict naming the line: the daemon would refuse to start with it.
"""

from __future__ import annotations

from hvconform import verdict as v
from hvconform.checks import conditions, reading
from hvconform.checks.libvirtconf_parser import ConfSyntaxError, parse, shown

KIND = "libvirt_conf"
MISSING = ("not_applicable", "defaults", "fail")


def validate(check):
    errs = conditions.validate(check)
    if not str(check.get("file", "")).startswith("/"):
        errs.append("'file' must be an absolute path")
    if check.get("missing", "not_applicable") not in MISSING:
        errs.append(f"'missing' must be one of {MISSING}")
    return errs


def needs(check, policy=None):
    return [("cat", check["file"])]


def judge(check, snap, vm):
    path = check["file"]
    art = snap.file(path)
    if art is None:
        return v.error(f"{path} was not collected")
    expected_keys = conditions.keys(check["expect"])
    if reading.is_absent(art):
        missing = check.get("missing", "not_applicable")
        if missing == "not_applicable":
            return v.not_applicable(f"{path} does not exist", [v.Evidence.of(art, art.stderr.strip())])
        if missing == "fail":
            _, expected, _, _ = conditions.evaluate(check["expect"], {})
            return v.failed(expected, f"{path} does not exist", [v.Evidence.of(art, art.stderr.strip())])
        settings = {}
    elif not art.ok:
        return reading.failure(art, path)
    else:
        try:
            settings = parse(art.stdout)
        except ConfSyntaxError as exc:
            return v.error(f"{path}:{exc.line}: libvirt cannot parse this file: {exc}",
                           [v.Evidence.of(art, _line(art.stdout, exc.line))])
    values = {k: shown(s.value) for k, s in settings.items()}
    evidence = [v.Evidence.of(art, excerpt(path, settings, expected_keys))]
    return conditions.verdict(check["expect"], values, evidence)


def excerpt(path: str, settings: dict, keys: list[str]) -> str:
    """The deciding lines: `/etc/libvirt/qemu.conf:519: user = "root"` or `user: not set`."""
    lines = []
    for key in keys:
        s = settings.get(key)
        if s is None:
            lines.append(f"{path}: {key}: not set (commented out or absent)")
            continue
        lines.append(f"{path}:{s.line}: {s.text}")
        lines += [f"{path}:{n}: {key} set again, ignored (libvirt uses the first)" for n in s.shadowed]
    return "\n".join(lines)


def _line(text: str, n: int) -> str:
    lines = text.splitlines()
    return f"line {n}: {lines[n - 1]}" if 0 < n <= len(lines) else f"line {n}"
