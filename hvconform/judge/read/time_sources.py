"""The time sources a host is configured with, as its NTP client reads them (LOG-012):

  chrony   chrony.conf(5): `server`, `pool` and `peer` lines of chrony.conf, of the *.conf
           files of each `confdir` directory and the *.sources files of each `sourcedir`
           directory it names (Debian's chrony.conf names /etc/chrony/conf.d,
           /etc/chrony/sources.d and /run/chrony-dhcp); `maxpoll` per source
  systemd-timesyncd  timesyncd.conf(5): `[Time]` NTP= and FallbackNTP= of timesyncd.conf
           and its drop-ins (timesyncd.conf.d/*.conf under /etc, /run and /usr/lib; a later
           assignment replaces an earlier one, an empty one resets the list); the
           fallback list is used when NTP= names none. "Entries in this file show the
           compile time defaults": the shipped file's commented `#FallbackNTP=` line is
           the built-in fallback (Debian's: 0..3.debian.pool.ntp.org).
           PollIntervalMaxSec= bounds polling (seconds; chrony's maxpoll is log2 of it)

    Source(kind, name, where, maxpoll) for each: `where` is path:line for evidence.
"""

from __future__ import annotations

import math
import posixpath
import re
from dataclasses import dataclass

TIMESYNCD = "/etc/systemd/timesyncd.conf"
TIMESYNCD_DIRS = ("/etc/systemd/timesyncd.conf.d", "/run/systemd/timesyncd.conf.d",
                  "/usr/lib/systemd/timesyncd.conf.d")


@dataclass
class Source:
    kind: str            # server, pool, peer (chrony) or NTP, FallbackNTP (timesyncd)
    name: str
    where: str
    maxpoll: int | None = None   # log2 seconds

    def cite(self) -> str:
        return f"{self.where}: {self.kind} {self.name}" + (f" maxpoll {self.maxpoll}" if self.maxpoll is not None else "")


def _chrony_lines(lines, path: str) -> list[Source]:
    """server/pool/peer lines of numbered chrony configuration lines [(n, text)]."""
    out = []
    for n, line in lines:
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and words[0] in ("server", "pool", "peer"):
            raw = words[words.index("maxpoll") + 1] if "maxpoll" in words[:-1] else None
            maxpoll = int(raw) if raw and raw.lstrip("-").isdigit() else None
            out.append(Source(words[0], words[1], f"{path}:{n}", maxpoll))
    return out


def dropins(text: str) -> dict[str, list[tuple[int, str]]]:
    """`grep -rHn -e ''` output -> {path: [(line, text)]}."""
    out: dict[str, list[tuple[int, str]]] = {}
    for line in text.splitlines():
        m = re.match(r"^(/[^:]*):(\d+):(.*)$", line)
        if m:
            out.setdefault(m[1], []).append((int(m[2]), m[3]))
    return out


def chrony_sources(conf_path: str, conf_text: str, extra: dict) -> list[Source]:
    """chrony.conf's sources and those of the confdir/sourcedir files it names."""
    out = _chrony_lines(enumerate(conf_text.splitlines(), 1), conf_path)
    dirs = []
    for line in conf_text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and words[0] in ("confdir", "sourcedir"):
            dirs += [(d.rstrip("/"), ".conf" if words[0] == "confdir" else ".sources") for d in words[1:]]
    for directory, suffix in dirs:
        for path in sorted(p for p in extra if posixpath.dirname(p) == directory and p.endswith(suffix)):
            out += _chrony_lines(sorted(extra[path]), path)
    return out


def timesyncd_sources(conf_text: str | None, extra: dict) -> tuple[list[Source], int | None, str | None]:
    """(the servers timesyncd uses, PollIntervalMaxSec as log2 or None, where it was set)."""
    files = [(TIMESYNCD, list(enumerate((conf_text or "").splitlines(), 1)))]
    names: dict[str, str] = {}
    for directory in TIMESYNCD_DIRS:          # earlier directories override later ones
        for path in extra:
            if posixpath.dirname(path) == directory and path.endswith(".conf"):
                names.setdefault(posixpath.basename(path), path)
    files += [(names[b], sorted(extra[names[b]])) for b in sorted(names)]
    setting: dict[str, tuple[list[str], str]] = {}
    default_fallback: tuple[list[str], str] | None = None
    poll, poll_at = None, None
    for path, lines in files:
        section = ""
        for n, line in lines:
            stripped = line.strip()
            if stripped.startswith("["):
                section = stripped
                continue
            if path == TIMESYNCD and (m := re.match(r"^#\s*FallbackNTP=(.*)$", stripped)):
                default_fallback = (m[1].split(), f"{path}:{n}")
                continue
            if section != "[Time]" or stripped.startswith(("#", ";")) or "=" not in stripped:
                continue
            key, _, value = (s.strip() for s in stripped.partition("="))
            if key in ("NTP", "FallbackNTP"):
                setting[key] = (value.split(), f"{path}:{n}")   # empty resets the list
            elif key == "PollIntervalMaxSec" and value.isdigit() and int(value) > 0:
                poll, poll_at = round(math.log2(int(value))), f"{path}:{n}"
    if setting.get("NTP", ([], ""))[0]:
        servers, where = setting["NTP"]
        kind = "NTP"
    else:
        servers, where = setting.get("FallbackNTP") or default_fallback or ([], TIMESYNCD)
        kind = "FallbackNTP"
    return [Source(kind, s, where, poll) for s in servers], poll, poll_at
