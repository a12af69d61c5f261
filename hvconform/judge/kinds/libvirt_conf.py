"""Keys of a libvirt configuration file (qemu.conf, libvirtd.conf, virtlogd.conf).

    check: {kind: libvirt_conf, file: /etc/libvirt/qemu.conf,
            expect: [{key: user, op: not_in, value: [root, "+0"], default: libvirt-qemu}]}
    check: {kind: libvirt_conf, file: $DCONF, expect: [...]}     # or $PCONF
`$DCONF`/`$PCONF` are the driver / remote-access daemon's file, found by the daemon
model (judge/read/daemons.py: virtqemud.conf/virtproxyd.conf or libvirtd.conf); the
evidence names the model and why. Settings the daemon takes from elsewhere
(socket units under socket activation, no --listen) replace the file's, with the
reason in the evidence.
A key that is unset (absent or commented out) takes the row's `default`, the value
libvirt uses when the key is unset. A missing file is `not_applicable` (that part of
libvirt is not installed) unless the row says `missing: defaults` (judge as if
every key were unset) or `missing: fail`. A file libvirt could not parse is an
error verdict naming the line: the daemon would refuse to start with it.
"""

from __future__ import annotations

from hvconform.model import verdict as v
from hvconform.judge import conditions
from hvconform.judge.read import daemons
from hvconform.judge.read import artifacts
from hvconform.judge.read.libvirt_grammar import ConfSyntaxError, parse, shown

KIND = "libvirt_conf"
MISSING = ("not_applicable", "defaults", "fail")


def validate(check):
    errs = conditions.validate(check)
    if check.get("file") not in (daemons.DCONF, daemons.PCONF) and not str(check.get("file", "")).startswith("/"):
        errs.append(f"'file' must be an absolute path, {daemons.DCONF} or {daemons.PCONF}")
    if check.get("missing", "not_applicable") not in MISSING:
        errs.append(f"'missing' must be one of {MISSING}")
    return errs


def needs(check, policy=None):
    if check["file"] in (daemons.DCONF, daemons.PCONF):
        return list(daemons.NEEDS)
    return [("cat", check["file"])]


def judge(check, snap, vm):
    path, overrides, model_evidence = check["file"], {}, []
    if path in (daemons.DCONF, daemons.PCONF):
        try:
            model = daemons.model(snap)
        except daemons.Undecided as exc:
            return exc.verdict
        which, path = path, model.conf(path)
        overrides = {k: o for k, o in model.effective(which).items() if k in conditions.keys(check["expect"])}
        model_evidence = daemons.model_evidence(model, which)
    art = snap.file(path)
    if art is None:
        return v.error(f"{path} was not collected")
    expected_keys = conditions.keys(check["expect"])
    if artifacts.is_absent(art):
        missing = check.get("missing", "not_applicable")
        if missing == "not_applicable" and not overrides:
            return v.not_applicable(f"{path} does not exist",
                                    [v.Evidence.of(art, art.stderr.strip()), *model_evidence])
        if missing == "fail":
            _, expected, _, _ = conditions.evaluate(check["expect"], {})
            return v.failed(expected, f"{path} does not exist",
                            [v.Evidence.of(art, art.stderr.strip()), *model_evidence])
        settings = {}
    elif not art.ok:
        return artifacts.failure(art, path)
    else:
        try:
            settings = parse(art.stdout)
        except ConfSyntaxError as exc:
            return v.error(f"{path}:{exc.line}: libvirt cannot parse this file: {exc}",
                           [v.Evidence.of(art, _line(art.stdout, exc.line))])
    values = {k: shown(s.value) for k, s in settings.items()}
    values.update({k: value for k, (value, _) in overrides.items()})
    evidence = [v.Evidence.of(art, excerpt(path, settings, expected_keys, overrides)), *model_evidence]
    return conditions.verdict(check["expect"], values, evidence)


def excerpt(path: str, settings: dict, keys: list[str], overrides=None) -> str:
    """The deciding lines: `/etc/libvirt/qemu.conf:519: user = "root"` or `user: not set`;
    a key the daemon takes from elsewhere says where (`listen_tcp = 1: libvirtd-tcp.socket is active`)."""
    lines = []
    for key in keys:
        if key in (overrides or {}):
            value, why = overrides[key]
            ignored = f" ({path}:{settings[key].line}: {settings[key].text} is not honoured)" if key in settings else ""
            lines.append(f"{key} = {value}: {why}{ignored}")
            continue
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
