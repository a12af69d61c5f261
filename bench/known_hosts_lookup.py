"""Looking a fleet's hosts up in its known_hosts: paramiko's HostKeys against
hvconform.collect.known_hosts.KnownHosts, for plain and hashed names (`ssh-keyscan -H`,
`HashKnownHosts yes`).

    .venv/bin/python bench/known_hosts_lookup.py [--hosts 1000]

Prints one JSON line per form: {"form", "hosts", "paramiko_load_s", "paramiko_ms_per_host",
"ours_load_s", "ours_ms_per_host"}: the file parsed once, then every host looked up once,
as the collector does.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hvconform.collect.known_hosts import KnownHosts  # noqa: E402


def _timed(make, lookup, names) -> tuple[float, float]:
    t = time.process_time()
    table = make()
    loaded = time.process_time() - t
    t = time.process_time()
    for name in names:
        lookup(table, name)
    return loaded, (time.process_time() - t) / len(names) * 1000


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, default=1000)
    args = ap.parse_args(argv)
    names = [f"[127.0.0.1]:{20000 + i}" for i in range(args.hosts)]
    key = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    with tempfile.TemporaryDirectory() as d:
        for form in ("plain", "hashed"):
            path = Path(d) / form
            path.write_text("".join(f"{paramiko.HostKeys.hash_host(n) if form == 'hashed' else n} {key}\n"
                                    for n in names))
            theirs = _timed(lambda: paramiko.HostKeys(str(path)), lambda t, n: dict(t.lookup(n) or {}), names)
            ours = _timed(lambda: KnownHosts(str(path)), lambda t, n: t.keys_for(n), names)
            print(json.dumps({"form": form, "hosts": args.hosts, "paramiko_load_s": round(theirs[0], 3),
                              "paramiko_ms_per_host": round(theirs[1], 3), "ours_load_s": round(ours[0], 3),
                              "ours_ms_per_host": round(ours[1], 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
