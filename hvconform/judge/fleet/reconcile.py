"""The inventory's `vms:` lists against the domains found: what the site expects and
what runs are compared on every host whose entry lists its VMs.

    reconcile(snapshots) -> [{"host": "weak", "vm": "weak-old", "status": "not_found"}, ...]

`not_found`: listed in the inventory, no such domain on the host; `not_listed`: a
domain the host has and the inventory does not name. Hosts without `vms:`, or whose
domains could not be listed, are not compared (their domain list is unknown).
"""

from __future__ import annotations

NOT_FOUND, NOT_LISTED = "not_found", "not_listed"


def reconcile(snapshots: dict) -> list[dict]:
    out = []
    for host, snap in snapshots.items():
        declared = (snap.facts or {}).get("vms")
        listed = snap.get("cmd:virsh_list_all")
        if declared is None or listed is None or not listed.ok:
            continue
        found = [d.name for d in snap.domains]
        out += [{"host": host, "vm": name, "status": NOT_FOUND} for name in declared if name not in found]
        out += [{"host": host, "vm": name, "status": NOT_LISTED} for name in found if name not in declared]
    return out


def summary(entries: list[dict]) -> list[str]:
    """Terminal lines: `inventory VMs not found: weak/weak-old` and `... not listed: ...`."""
    lines = []
    for status, words in ((NOT_FOUND, "listed in the inventory but not found"),
                          (NOT_LISTED, "found but not listed in the inventory")):
        refs = [f"{e['host']}/{e['vm']}" for e in entries if e["status"] == status]
        if refs:
            lines.append(f"VMs {words}: {', '.join(refs)}")
    return lines
