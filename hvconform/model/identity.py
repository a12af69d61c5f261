"""Who each host of a run says it is, and the hosts that claim one identity.

A snapshot's `identity` holds the SSH host key (and whether it was verified against
known_hosts, on every hop of a jump chain), the hostname and the machine-id. Two
inventory entries with one SSH host key, one machine-id or one hostname are one
machine listed twice, or cloned machines (a template copied with its keys and
machine-id): an audit finding either way, since the two hosts' evidence may be
one host's. conflicts() lists them for results.json (`identity_conflicts`), the
terminal summary and the report's hosts table.
"""

from __future__ import annotations

FIELDS = {"host_key": "SSH host key", "machine_id": "machine-id", "hostname": "hostname"}


def conflicts(snapshots: dict) -> list[dict]:
    """[{"field", "value", "hosts"}] for each identity value two or more hosts share,
    and {"field": "hostname", "value", "hosts": [host], "claims": other} for a host
    whose hostname is another inventory host's name. Hosts never reached have no
    identity and claim nothing."""
    out = []
    for field in FIELDS:
        holders: dict[str, list[str]] = {}
        for name, snap in snapshots.items():
            value = _value(snap, field)
            if value:
                holders.setdefault(value, []).append(name)
        out += [{"field": field, "value": value, "hosts": sorted(hosts)}
                for value, hosts in sorted(holders.items()) if len(hosts) > 1]
    names = {n.lower(): n for n in snapshots}
    for name, snap in sorted(snapshots.items()):
        hostname = _value(snap, "hostname")
        if not hostname:
            continue
        for claimed in dict.fromkeys((hostname, hostname.split(".")[0])):
            other = names.get(claimed)
            if other is not None and other != name and claimed != name.lower():
                out.append({"field": "hostname", "value": hostname, "hosts": [name], "claims": other})
                break
    return out


def _value(snap, field: str) -> str | None:
    identity = snap.identity if hasattr(snap, "identity") else (snap.get("identity") or {})
    value = identity.get(field)
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().lower() if field == "hostname" else value.strip()


def describe(conflict: dict, most: int = 10) -> str:
    """One line: 'a, b share one machine-id (3d12...): one machine listed twice, or clones'."""
    label = FIELDS.get(conflict["field"], conflict["field"])
    hosts = conflict["hosts"]
    shown = ", ".join(hosts[:most]) + (f" and {len(hosts) - most} more" if len(hosts) > most else "")
    if conflict.get("claims"):
        return (f"{shown} says its hostname is {conflict['value']}, the name of inventory host "
                f"{conflict['claims']}: a misplaced address, or a clone")
    return f"{shown} share one {label} ({conflict['value']}): one machine listed twice, or clones"


def key_unverified(identity: dict) -> bool:
    """True only when a key was accepted unverified (--accept-new-host-keys), on the
    target or a jump host; a host refused before login, or never reached, has no key
    to call unverified."""
    return (identity or {}).get("host_key_verified") is False
