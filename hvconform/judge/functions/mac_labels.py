"""The sVirt label each VM really gets (KMAC-005): its own <seclabel>, else the host's
default, which qemu.conf and the host's MAC driver decide.

  KMAC-005  dynamic_mac_label   every VM confined with a dynamic, relabelled SELinux/AppArmor label

formatdomain.rst 'Security label': type 'none' disables confinement; "If no 'type'
attribute is provided in the input XML, then the security driver default setting will
be used, which may be either 'none' or 'dynamic'". That default is qemu.conf.in
`security_default_confined` (default 1; kbase/qemu-passthrough-security.rst: set it to 0
"to make QEMU run unconfined by default") over the MAC driver libvirt runs with, which
the capabilities XML names (`/capabilities/host/secmodel/model`; `security_driver =
"none"` leaves only none and dac). A running guest is judged on its live XML: the label
libvirt applied.
"""

from __future__ import annotations

from hvconform.model import verdict as v
from hvconform.judge.read import artifacts
from hvconform.judge.read import xmlsafe
from hvconform.judge.functions.registry import control
from hvconform.judge.read.libvirt_files import QCONF, settings_of, value_of

CONFINING = ("selinux", "apparmor")
CAPABILITIES = "cmd:virsh_capabilities"


def _own_problems(root) -> list[str]:
    """What the definition itself says against confinement: a label of type none, or a
    static / not relabelled SELinux or AppArmor label (no per-VM uniqueness)."""
    out = []
    for s in root.findall("seclabel"):
        model, kind = s.get("model"), s.get("type")
        if kind == "none":
            out.append(f"its <seclabel type='none'{f' model={model!r}' if model else ''}> turns confinement off")
        elif model in CONFINING and (kind == "static" or s.get("relabel") == "no"):
            out.append(f"its {model} label is {'static' if kind == 'static' else 'not relabelled'}")
    return out


def _own_dynamic(root) -> str | None:
    """The MAC model of the definition's own dynamic label, if it has one."""
    for s in root.findall("seclabel"):
        if s.get("model") in CONFINING and s.get("type") == "dynamic":
            return s.get("model")
    return None


def _host_mac_models(snap) -> tuple[list[str], v.Evidence]:
    """The MAC models libvirt runs with (capabilities), without none and dac; End when
    the capabilities were not read."""
    art = snap.get(CAPABILITIES)
    if art is None:
        raise artifacts.End(v.error("virsh capabilities was not collected: the host's MAC driver is unknown"))
    if not art.ok:
        raise artifacts.End(artifacts.failure(art, "virsh capabilities"))
    try:
        caps = xmlsafe.parse(art.stdout)
    except xmlsafe.XMLError as exc:
        raise artifacts.End(v.error(f"virsh capabilities printed malformed XML: {exc}"))
    models = [(m.findtext("model") or "").strip() for m in caps.xpath("/capabilities/host/secmodel")]
    return ([m for m in models if m in CONFINING],
            v.Evidence.of(art, "secmodel models: " + (", ".join(models) or "none")))


def _default_label(snap) -> tuple[list[str], str, list]:
    """(problems, what the default gives, evidence) for a VM without a MAC label of its own."""
    models, caps_evidence = _host_mac_models(snap)
    if not models:
        return (["no label: the host runs no SELinux/AppArmor security driver (capabilities)"],
                "no MAC label (host has no MAC driver)", [caps_evidence])
    qconf, qart = settings_of(snap, QCONF)
    confined = value_of(qconf, "security_default_confined", 1)
    evidence = [caps_evidence, v.Evidence.of(qart, f"{QCONF}: security_default_confined = "
                                                   + (str(confined) if "security_default_confined" in qconf
                                                      else "unset (default 1)"))]
    if str(confined) == "0":
        return ([f"no label of its own, and qemu.conf security_default_confined = 0 leaves it unconfined"],
                f"unconfined by default ({models[0]})", evidence)
    return [], f"dynamic {models[0]} label by default", evidence


@control("KMAC-005", needs=[("virsh_capabilities", ""), ("cat", QCONF)])
@artifacts.ends
def dynamic_mac_label(snap, vm, policy):
    expected = ("a dynamic, relabelled selinux/apparmor label: its own <seclabel>, else the host's MAC driver "
                "with qemu.conf security_default_confined unset/1; no seclabel type='none'")
    root, art = artifacts.domain_root(snap, vm)
    labels = root.findall("seclabel")
    evidence = [v.Evidence.of(art, "\n".join(xmlsafe.line_of(s) for s in labels) or "/domain/seclabel: no match")]
    problems = _own_problems(root)
    dom = snap.domain(vm)
    if dom is not None and dom.running:
        live, lart = artifacts.domain_root(snap, vm, live=True)
        applied = [s for s in live.findall("seclabel") if s.get("model") in CONFINING]
        evidence.append(v.Evidence.of(lart, "\n".join(xmlsafe.line_of(s) for s in live.findall("seclabel"))
                                      or "/domain/seclabel: no match (live)"))
        dynamic = [s for s in applied if s.get("type") == "dynamic" and s.get("relabel") != "no"]
        if not dynamic and not problems:
            models = sorted({s.get("model") or "none" for s in live.findall("seclabel")})
            problems.append("it runs without a dynamic selinux/apparmor label ("
                            + (f"live seclabel models: {', '.join(models)})" if models else "no live <seclabel>)"))
        actual = f"running with {dynamic[0].get('model')} label" if dynamic else "running without a MAC label"
    elif problems:
        actual = "its own label"
    elif _own_dynamic(root):
        actual = f"its own dynamic {_own_dynamic(root)} label"
    else:
        default_problems, actual, more = _default_label(snap)
        problems += default_problems
        evidence += more
    return artifacts.problems_verdict(expected, problems, actual, evidence, f"domain {vm}: ")
