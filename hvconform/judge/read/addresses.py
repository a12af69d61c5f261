"""Addresses as the network checks compare them: loopback, inside a list of
networks (CIDRs), or a wildcard that listens on every address."""

from __future__ import annotations

import ipaddress

WILDCARDS = ("0.0.0.0", "::", "*")


def _ip(text: str):
    try:
        return ipaddress.ip_address(text.strip("[]").split("%")[0])
    except ValueError:
        return None


def is_loopback(addr: str) -> bool:
    ip = _ip(addr)
    return addr == "localhost" or (ip is not None and ip.is_loopback)


def in_networks(addr: str, cidrs) -> bool:
    ip = _ip(addr)
    return ip is not None and addr not in WILDCARDS and any(
        ip in ipaddress.ip_network(c, strict=False) for c in cidrs)
