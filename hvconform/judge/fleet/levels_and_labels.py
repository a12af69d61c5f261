"""Isolation analyses of trust domains: one security level per host, and each
running VM with an sVirt/AppArmor label of its own.

  ISO-015   security_levels   VMs of different security levels on one host
  KMAC-006  shared_labels     running VMs without sVirt/AppArmor labels, or sharing one
"""

from __future__ import annotations

from collections import defaultdict

from hvconform.judge.fleet.registry import Finding, Result, all_guests, analysis, overview


# -- hosts and levels: ISO-015 --------------------------------------------------

@analysis("ISO-015", expected="every VM tagged with a security level, one level per host "
                              "(the host's declared security_level, if any)")
def security_levels(hosts) -> Result:
    result = Result()
    for host in hosts:
        for g in host.guests:
            meta = g.root.findall("metadata/*")
            declared, tagged = g.inventory_facts.get("security_level"), g.xml_facts.get("security-level")
            if not g.level:
                result.findings.append(Finding([g], (
                    f"{g.ref} has no security level: no <security-level> in its metadata "
                    f"namespace {host.policy['vm_metadata_namespace']} and none in the inventory"),
                    [g.evidence(meta)]))
            elif declared and tagged and declared != tagged:
                result.findings.append(Finding([g], (
                    f"{g.ref} is security level {tagged} in its domain XML but {declared} in "
                    f"the inventory"), [g.evidence(meta)]))
        by_level = defaultdict(list)
        for g in host.guests:
            if g.level:
                by_level[g.level].append(g)
        if len(by_level) > 1:
            groups = "; ".join(f"{lv}: {', '.join(x.ref for x in gs)}" for lv, gs in sorted(by_level.items()))
            mixed = [g for gs in by_level.values() for g in gs]
            result.findings.append(Finding(mixed, (
                f"VMs of {len(by_level)} security levels share host {host.name} ({groups})"),
                [g.evidence(g.root.findall("metadata/*")) for g in mixed]))
        host_level = (host.snap.facts or {}).get("security_level")
        strangers = [g for g in host.guests if host_level and g.level and g.level != host_level]
        for g in strangers:
            result.findings.append(Finding([g], (
                f"{g.ref} is security level {g.level} on host {host.name}, which the inventory "
                f"declares {host_level}"), [g.evidence(g.root.findall("metadata/*"))]))
    result.checked, result.evidence = overview(hosts, "each host runs VMs of one security level")
    if not all_guests(hosts):
        result.not_applicable = "no domain on any host"
    return result


# -- MAC labels: KMAC-006 -------------------------------------------------------

SVIRT_TYPES = ("svirt_t", "svirt_tcg_t")


def _mac_labels(root):
    """(model, label) of each sVirt/AppArmor <seclabel> with a label."""
    for sec in root.findall("seclabel"):
        label = (sec.findtext("label") or "").strip()
        if sec.get("model") in ("selinux", "apparmor") and sec.get("type") != "none" and label:
            yield sec, sec.get("model"), label


def _label_key(model: str, label: str) -> str:
    """SELinux: the MCS level (`s0:c1,c2`), which is what must be unique; AppArmor: the profile."""
    parts = label.split(":", 3)
    return f"selinux {parts[3]}" if model == "selinux" and len(parts) == 4 else f"{model} {label}"


@analysis("KMAC-006", expected="each running VM in svirt_t/svirt_tcg_t (or its own AppArmor "
                               "profile) with an MCS category pair no other VM has")
def shared_labels(hosts) -> Result:
    result, running, groups = Result(), 0, defaultdict(list)
    for g in all_guests(hosts):
        if not g.running:
            continue
        running += 1
        labels = list(_mac_labels(g.root))
        if not labels:
            shown = g.root.findall("seclabel")
            models = ", ".join(f"{s.get('model') or s.get('type')}" for s in shown) or "none"
            result.findings.append(Finding([g], (
                f"{g.ref} runs without an sVirt/AppArmor label (seclabel models: {models})"),
                [g.evidence(shown)]))
        for sec, model, label in labels:
            parts = label.split(":")
            if model == "selinux" and (len(parts) < 4 or parts[2] not in SVIRT_TYPES):
                result.findings.append(Finding([g], (
                    f"{g.ref} runs as {label}, not confined by svirt_t"), [g.evidence([sec])]))
            groups[(g.host, _label_key(model, label))].append((g, sec))
    # a static label in two definitions is shared as soon as both run
    for g in all_guests(hosts):
        for sec, model, label in _mac_labels(g.inactive):
            key = (g.host, _label_key(model, label))
            if sec.get("type") == "static" and g not in [x for x, _ in groups[key]]:
                groups[key].append((g, sec))
    for (host, key), holders in sorted(groups.items(), key=lambda kv: kv[0]):
        if len(holders) > 1:
            state = lambda g: "running" if g.running else "defined, static label"  # noqa: E731
            result.findings.append(Finding([g for g, _ in holders], (
                f"{' and '.join(f'{g.ref} ({state(g)})' for g, _ in holders)} share the label {key}"),
                [g.evidence([sec]) for g, sec in holders]))
    result.checked, result.evidence = overview(
        hosts, f"{running} running VM(s), each with its own sVirt label")
    if not running and not result.findings:
        result.not_applicable = "no running domain, and no static label shared by definitions"
    return result
