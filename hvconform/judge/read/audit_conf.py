"""The Linux audit daemon's `key = value` files: auditd.conf(5), and the audisp
plugin files (plugins.d/*.conf, audisp-remote.conf(5)). Keys are case-insensitive,
`#` starts a comment."""

from __future__ import annotations


def settings(text: str) -> dict[str, str]:
    """`key = value` lines (auditd.conf, audisp plugins) -> {key: value}."""
    out = {}
    for line in text.splitlines():
        key, eq, value = line.split("#", 1)[0].partition("=")
        if eq and key.strip():
            out[key.strip().lower()] = value.strip()
    return out
