"""How batch scripts reach a target: this machine (`local`) or SSH (collect.ssh).

`open_transport(host)` gives an object with `run(parts, timeout)`, `identity`, `log`
and `close()`. `run` starts every part of a round trip at once (SSH channels of one
session, or processes here) and reads them together, bounded in time and bytes
(collect.channels). Every script is checked against hvconform.collect.commands
before it is sent, wrapped in the declared `timeout` (commands.wrap), and logged
with its time, exit code and each command's duration.
"""

from __future__ import annotations

import os

from hvconform.collect import commands
from hvconform.collect.channels import ProcessStream, Reader, TransportError, limits_of
from hvconform.collect.rounds import RoundTrips, SentLog
from hvconform.collect.ssh import SSHTransport, fingerprint, jump_chain  # noqa: F401 (the API)

__all__ = ["TransportError", "open_transport", "limits_of", "fingerprint", "jump_chain"]


class LocalTransport(RoundTrips):
    """This machine, no SSH: for `inventories/local.yaml` and the first run."""

    def __init__(self, host, reader: Reader | None = None):
        self.host = host
        self.log = SentLog()
        self.reader = reader or Reader(limits_of(host))
        self.sudo = host.sudo and os.geteuid() != 0
        self.identity = {"host_key": None, "connection": "local"}

    def _open(self, script: str, timeout: float) -> ProcessStream:
        return ProcessStream(["sh", "-c", commands.wrap(script, timeout, self.sudo)])

    def close(self) -> None:
        pass


def open_transport(host, accept_new_host_keys: bool = False, jump_hosts=None):
    """A transport to `host`. `jump_hosts`: the inventory's hosts (by name, or a list)
    that a jump_host may name."""
    reader = Reader(limits_of(host))
    if host.connection == "local":
        return LocalTransport(host, reader)
    if jump_hosts is not None and not isinstance(jump_hosts, dict):
        jump_hosts = {h.name: h for h in jump_hosts}
    hops = jump_chain(host, jump_hosts or {})
    return SSHTransport(host, accept_new_host_keys, hops, reader)
