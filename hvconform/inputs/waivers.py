"""Waivers: a failure the site has accepted, for a while, with a name behind it.

    waivers:
      - control: QEMU-004
        scope: {hosts: [weak, "lab-*"], vms: ["legacy-*"]}   # vms optional: all of them
        justification: Legacy guest needs it until the migration
        approver: Jane Doe (CISO)
        ticket: SEC-1234
        expires: 2027-03-31

`load(path)` checks the file and lists every problem as file:line: key: message.
`apply(...)` turns a failing verdict in scope into `waived` while the waiver holds,
judged as of the day the evidence was collected (so a replay of a bundle gives
the same verdicts); after `expires` the failure stays a failure and says so.
Only failures are waived: an error (nothing could be read) is never hidden.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

from hvconform.model import verdict as v
from hvconform.inputs.yamlload import LocatedError, load_located

KEYS = ("control", "scope", "justification", "approver", "ticket", "expires")
SCOPE_KEYS = ("hosts", "vms")
CONTROL_ID = re.compile(r"^[A-Z]+-[0-9]{3}$")


class WaiverError(Exception):
    """Every problem in a waivers file, each 'file:line: waivers[i].key: message'."""

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


@dataclass(frozen=True)
class Waiver:
    control: str
    hosts: tuple[str, ...]
    vms: tuple[str, ...] | None     # None: the host's own verdict and every VM on it
    justification: str
    approver: str
    ticket: str
    expires: dt.date
    source: str                     # "waivers.yaml:12"

    def covers(self, control: str, host: str, vm: str | None) -> bool:
        if control != self.control or not any(fnmatch.fnmatchcase(host, h) for h in self.hosts):
            return False
        if self.vms is None:
            return True
        return vm is not None and any(fnmatch.fnmatchcase(vm, p) for p in self.vms)

    def expired(self, as_of: dt.date) -> bool:
        return as_of > self.expires   # valid through its expiry day

    def record(self, as_of: dt.date) -> dict:
        """The `waiver` field of a results.json verdict."""
        return {"approver": self.approver, "expires": self.expires.isoformat(),
                "justification": self.justification, "ticket": self.ticket,
                "expired": self.expired(as_of)}

    def scope_text(self) -> str:
        return ",".join(self.hosts) + ("" if self.vms is None else "/" + ",".join(self.vms))


def load(path: str | Path, name: str | None = None) -> list[Waiver]:
    """Read and check a waivers file; raise WaiverError listing every problem.
    `name`: what messages and sources call the file (e.g. 'b.tar.gz:waivers.yaml')."""
    shown = Path(name) if name else Path(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise WaiverError([f"{shown}: cannot read: {exc.strerror}"]) from None
    except UnicodeDecodeError as exc:
        raise WaiverError([f"{shown}: not UTF-8 text (byte {exc.start})"]) from None
    path = shown
    try:
        doc, lines = load_located(path, text)
    except LocatedError as exc:
        raise WaiverError([str(exc)]) from None
    if doc is None:
        return []
    if not isinstance(doc, dict) or set(doc) != {"waivers"} or not isinstance(doc["waivers"], list):
        raise WaiverError([f"{path}:{lines.get((), 1)}: expected a mapping with one key, "
                           f"'waivers', holding a list"])
    errors, waivers = [], []
    for i, row in enumerate(doc["waivers"]):
        got = _waiver(path, lines, i, row)
        (waivers.append if isinstance(got, Waiver) else errors.extend)(got)
    if errors:
        raise WaiverError(errors)
    return waivers


def _waiver(path, lines, i, row):
    def at(*keys):
        for n in range(len(keys), -1, -1):  # the deepest place the file has a line for
            if ("waivers", i) + keys[:n] in lines:
                return f"{path}:{lines[('waivers', i) + keys[:n]]}: waivers[{i}]" + \
                    "".join(f".{k}" for k in keys)
        return f"{path}:1: waivers[{i}]"

    if not isinstance(row, dict):
        return [f"{at()}: a waiver must be a mapping with {', '.join(KEYS)}"]
    errs = [f"{at()}: missing key '{k}'" for k in KEYS if k not in row]
    errs += [f"{at(k)}: unknown key (known: {', '.join(KEYS)})" for k in row if k not in KEYS]
    if isinstance(row.get("ticket"), int) and not isinstance(row["ticket"], bool):
        row = {**row, "ticket": str(row["ticket"])}   # `ticket: 1234` is a ticket too
    for key in ("justification", "approver", "ticket"):
        if key in row and (not isinstance(row[key], str) or not row[key].strip()):
            errs.append(f"{at(key)}: must say something (a non-empty text)")
    control = row.get("control")
    if "control" in row and not (isinstance(control, str) and CONTROL_ID.match(control)):
        errs.append(f"{at('control')}: '{control}' is not a control id like QEMU-004")
    expires = row.get("expires")
    if isinstance(expires, str):
        try:
            expires = dt.date.fromisoformat(expires)
        except ValueError:
            pass
    if "expires" in row and (not isinstance(expires, dt.date) or isinstance(expires, dt.datetime)):
        errs.append(f"{at('expires')}: '{row['expires']}' is not a date (YYYY-MM-DD)")
    hosts, vms = (), None
    scope = row.get("scope")
    if "scope" in row:
        if not isinstance(scope, dict):
            errs.append(f"{at('scope')}: must be a mapping with hosts (and optionally vms)")
        else:
            errs += [f"{at('scope', k)}: unknown key (known: hosts, vms)"
                     for k in scope if k not in SCOPE_KEYS]
            if "hosts" not in scope:
                errs.append(f"{at('scope')}: missing key 'hosts' (names or globs; '*' for all)")
            hosts = _names(scope.get("hosts"), at("scope", "hosts"), errs)
            if "vms" in scope:
                vms = _names(scope["vms"], at("scope", "vms"), errs)
    if errs:
        return errs
    return Waiver(control, hosts, vms, row["justification"].strip(), row["approver"].strip(),
                  row["ticket"].strip(), expires,
                  f"{path}:{lines.get(('waivers', i), 1)}")


def _names(value, where, errs) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or \
            not all(isinstance(x, str) and x.strip() for x in items):
        errs.append(f"{where}: expected a name or glob, or a non-empty list of them")
        return ()
    return tuple(x.strip() for x in items)


def as_of_date(started: str) -> dt.date:
    """The day a run collected its evidence ('2026-11-23T14:51:56Z' -> 2026-11-23)."""
    try:
        return dt.date.fromisoformat(started[:10])
    except (TypeError, ValueError):
        return dt.datetime.now(dt.timezone.utc).date()


def apply(waivers, control: str, host: str, vm: str | None, verdict: v.Verdict,
          as_of: dt.date) -> tuple[v.Verdict, dict | None]:
    """The verdict after waivers, and the `waiver` record that decided (or None).
    Of several waivers in scope, one still valid wins, the longest-lasting first."""
    if verdict.status != v.FAIL:
        return verdict, None
    matching = sorted((w for w in waivers or () if w.covers(control, host, vm)),
                      key=lambda w: (not w.expired(as_of), w.expires), reverse=True)
    if not matching:
        return verdict, None
    w = matching[0]
    why = f"{w.approver}, ticket {w.ticket}: {w.justification}"
    if w.expired(as_of):
        note = f"waiver expired on {w.expires.isoformat()} ({why})"
        return dataclasses.replace(verdict, reason=_join(verdict.reason, note)), w.record(as_of)
    note = f"waived until {w.expires.isoformat()} by {why}"
    return (dataclasses.replace(verdict, status=v.WAIVED, reason=_join(note, verdict.reason)),
            w.record(as_of))


def _join(first, second) -> str:
    return "; ".join(x for x in (first, second) if x)


def unmatched(waivers, records, control_ids) -> list[dict]:
    """Waivers that cover no judged verdict, each with why, for results.json."""
    out = []
    for w in waivers or ():
        if any(w.covers(r["control"], r["host"], r.get("vm")) for r in records):
            continue
        why = (f"no control {w.control} in the catalog" if w.control not in control_ids
               else f"no {w.control} verdict on a target in scope {w.scope_text()}")
        out.append({"control": w.control, "scope": {"hosts": list(w.hosts),
                                                    "vms": None if w.vms is None else list(w.vms)},
                    "ticket": w.ticket, "approver": w.approver, "expires": w.expires.isoformat(),
                    "source": w.source, "reason": why})
    return out
