"""What a bundle's run.json, snapshots and sent logs must look like before a replay
uses them. A bundle is hostile input even when it verifies (anyone can re-sign one
with a key of their own), so each member is checked for the shape the code that
reads it expects, and the first problem is one line naming the member and the key:

    meta = run_meta(files)                          # BadMember: run.json: hosts[2]: ...
    snap = snapshot(files, "weak")                  # a Snapshot, or BadMember
    sent = sent_log(files, "weak")                  # [] when the bundle has none

Host names go through hvconform.model.safe_names, like every name that becomes a path.
"""

from __future__ import annotations

import binascii

from hvconform.inputs import policy as site_policy
from hvconform.inputs.inventory_schema import kind
from hvconform.model import safe_names
from hvconform.model import results
from hvconform.model.snapshot import (AUTH_FAILED, COLLECTED, ERROR, PARTIAL, TIMEOUT, UNREACHABLE,
                                      BlobError, Blobs, Snapshot, bundle_blobs)

STATUSES = (COLLECTED, PARTIAL, UNREACHABLE, AUTH_FAILED, TIMEOUT, ERROR)
RUN_KEYS = {"id": str, "inventory": str, "started": str, "accepted_new_host_keys": bool,
            "hosts": list}
RUN_OPTIONAL = {"shard": (dict, type(None))}   # a shard's share (merge reads it; a replay keeps none)
SNAPSHOT_KEYS = {"host": str, "status": str, "error": (str, type(None)), "identity": dict,
                 "facts": dict, "policy": dict, "domains": list, "qemu_pids": list,
                 "artifacts": dict, "started": str, "finished": str, "round_trips": int}
ARTIFACT_KEYS = {"key": str, "source": str, "rc": int, "stdout": str, "stderr": str,
                 "collected_at": str, "sha256": str, "redacted": bool,
                 "blob": str,   # stdout stored once as blobs/<sha256> (model/snapshot.py)
                 "stdout_base64": (str, type(None))}   # the bytes of output that is not UTF-8
ARTIFACT_REQUIRED = ("key", "source", "rc")
_WHAT = {str: "a string", bool: "true or false", int: "an integer", list: "a list",
         dict: "a mapping", (str, type(None)): "a string or null",
         (dict, type(None)): "a mapping or null"}


class BadMember(ValueError):
    """A bundle member that is not what a replay can use: 'member: key: problem'."""


def run_meta(files: dict[str, bytes]) -> dict:
    meta = _json(files, "run.json")
    _fields("run.json", meta, {**RUN_KEYS, **RUN_OPTIONAL}, required=tuple(RUN_KEYS))
    seen = set()
    for i, host in enumerate(meta["hosts"]):
        try:
            safe_names.check(host, "host name")
        except safe_names.UnsafeName as exc:
            raise BadMember(f"run.json: hosts[{i}]: {exc}") from None
        if host in seen:
            raise BadMember(f"run.json: hosts[{i}]: {host!r} is listed twice")
        seen.add(host)
        if f"snapshots/{host}.json" not in files:
            raise BadMember(f"run.json: hosts[{i}]: {host!r} has no snapshots/{host}.json in the bundle")
    return meta


def snapshot(files: dict[str, bytes], host: str, blobs: Blobs | None = None) -> Snapshot:
    """snapshots/<host>.json of a bundle, checked; `blobs`: the bundle's, shared by its
    snapshots (snapshot.bundle_blobs), or read for this one."""
    member = f"snapshots/{host}.json"
    data = _json(files, member)
    _fields(member, data, SNAPSHOT_KEYS, required=("host",))
    if data["host"] != host:
        raise BadMember(f"{member}: host: {data['host']!r}, not the host run.json names ({host!r})")
    if data.get("status", COLLECTED) not in STATUSES:
        raise BadMember(f"{member}: status: {data['status']!r} is not one of {', '.join(STATUSES)}")
    for i, d in enumerate(data.get("domains", [])):
        _fields(f"{member}: domains[{i}]", d, {"name": str, "running": bool}, ("name", "running"))
    for i, pid in enumerate(data.get("qemu_pids", [])):
        if not _is(pid, int):
            raise BadMember(f"{member}: qemu_pids[{i}]: expected an integer")
    for key, art in data.get("artifacts", {}).items():
        _fields(f"{member}: artifacts.{key}", art, ARTIFACT_KEYS, ARTIFACT_REQUIRED)
        if art["key"] != key:
            raise BadMember(f"{member}: artifacts.{key}: key: {art['key']!r} differs from its entry")
        if ("stdout" in art) == ("blob" in art):
            raise BadMember(f"{member}: artifacts.{key}: needs its stdout or a blob, not both or neither")
    _policy(member, data.get("policy", {}))
    try:   # a blob's name must be a sha256 and its bytes must hash to it
        return Snapshot.from_dict(data, blobs or bundle_blobs(files))
    except (BlobError, binascii.Error) as exc:   # binascii: stdout_base64 that is not base64
        raise BadMember(f"{member}: {exc}") from None


def sent_log(files: dict[str, bytes], host: str) -> list:
    member = f"sent/{host}.json"
    if member not in files:
        return []
    data = _json(files, member)
    if not isinstance(data, list):
        raise BadMember(f"{member}: expected a list of batches, got {kind(data)}")
    for i, batch in enumerate(data):
        _fields(f"{member}[{i}]", batch, {"commands": list, "sent_at": str, "rc": (int, type(None))},
                ("commands", "sent_at", "rc"), open_=True)
        if not all(isinstance(c, str) for c in batch["commands"]):
            raise BadMember(f"{member}[{i}]: commands: expected a list of strings")
    return data


def _policy(member: str, values: dict) -> None:
    """The values a run judged with: keys the policy knows, of the default's kind."""
    for key, value in values.items():
        if key not in site_policy.DEFAULTS:
            raise BadMember(f"{member}: policy.{key}: not a policy key")
        default = site_policy.DEFAULTS[key]
        if default is not None and kind(value) != kind(default) and not (
                isinstance(default, float) and _is(value, int)):
            raise BadMember(f"{member}: policy.{key}: expected {kind(default)}, got {kind(value)}")


def _json(files: dict[str, bytes], member: str):
    if member not in files:
        raise BadMember(f"no {member} in the bundle")
    try:
        return results.loads(files[member])
    except (ValueError, RecursionError) as exc:   # UnicodeDecodeError is a ValueError
        raise BadMember(f"{member}: not JSON ({str(exc)[:120]})") from None


def _is(value, types) -> bool:
    if types is int or (isinstance(types, tuple) and int in types):
        if isinstance(value, bool):   # JSON true is not a number here
            return False
    return isinstance(value, types)


def _fields(where: str, data, shape: dict, required: tuple = (), open_: bool = False) -> None:
    if not isinstance(data, dict):
        raise BadMember(f"{where}: expected a mapping, got {kind(data)}")
    for key in required:
        if key not in data:
            raise BadMember(f"{where}: {key}: missing")
    for key, value in data.items():
        if key not in shape:
            if open_:
                continue
            raise BadMember(f"{where}: {str(key)[:60]}: unknown key")
        if not _is(value, shape[key]):
            what = _WHAT.get(shape[key], "a number or null")
            raise BadMember(f"{where}: {key}: expected {what}, got {kind(value)}")
