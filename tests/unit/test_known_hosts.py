"""known_hosts.KnownHosts finds what paramiko's HostKeys.lookup finds, for plain and
hashed names, and reads a file with a damaged line instead of failing on it."""

from __future__ import annotations

import random

import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from hvconform.collect.known_hosts import KnownHosts


def _public(private) -> tuple[str, str]:
    kind, blob = private.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                                   serialization.PublicFormat.OpenSSH).decode().split()
    return kind, blob


KEYS = [_public(ed25519.Ed25519PrivateKey.generate()) for _ in range(3)] + \
       [_public(ec.generate_private_key(ec.SECP256R1())) for _ in range(2)]
NAMES = ["10.0.0.1", "[10.0.0.1]:2222", "hv-a.example", "[127.0.0.1]:20001", "hv-b", "HV-B", "10.0.0.10"]


def _line(rng: random.Random) -> str:
    names = rng.sample(NAMES, rng.randint(1, 3))
    shown = [paramiko.HostKeys.hash_host(n) if rng.random() < 0.5 else n for n in names]
    kind, blob = rng.choice(KEYS)
    return f"{','.join(shown)} {kind} {blob}"


@pytest.mark.parametrize("seed", range(40))
def test_the_keys_of_each_name_are_those_paramiko_finds(tmp_path, seed):
    rng = random.Random(seed)
    lines = [_line(rng) for _ in range(rng.randint(1, 12))]
    lines.insert(rng.randint(0, len(lines)), "# a comment")
    path = tmp_path / "known_hosts"
    path.write_text("\n".join(lines) + "\n")
    ours, theirs = KnownHosts(str(path)), paramiko.HostKeys(str(path))
    for name in NAMES + ["not-listed", theirs_hashed(lines)]:
        want = {t: k.asbytes() for t, k in dict(theirs.lookup(name) or {}).items()}
        assert {t: k.asbytes() for t, k in ours.keys_for(name).items()} == want, name


def theirs_hashed(lines: list[str]) -> str:
    """A hashed name as the name looked up: matched as a plain string, never by HMAC."""
    return next((n for line in lines for n in line.split()[0].split(",") if n.startswith("|1|")), "|1|x|y")


def test_a_damaged_line_is_skipped_and_the_others_still_found(tmp_path):
    kind, blob = KEYS[0]
    path = tmp_path / "known_hosts"
    path.write_bytes(b"bad-host ssh-ed25519 not*base64\n"
                     b"|1|c2hvcnQ=|AAAA ssh-ed25519 " + blob.encode() + b"\n"   # a salt too short
                     b"\xff\xfe-host ssh-ed25519 " + blob.encode() + b"\n"
                     + f"{paramiko.HostKeys.hash_host('hv-a')} {kind} {blob}\n".encode())
    with pytest.raises((paramiko.hostkeys.InvalidHostKey, UnicodeDecodeError)):
        paramiko.HostKeys(str(path))          # what the collector used: every host failed
    ours = KnownHosts(str(path))
    assert ours.keys_for("hv-a")[kind].get_base64() == blob
    assert ours.keys_for("bad-host") == {}
