"""What Ansible's variables mean, for hvconform/inputs/ansible_inventory.py: its booleans,
values that cannot be taken as they are (vault-encrypted, Jinja templates), and the
few ssh options of ansible_ssh_common_args / ansible_ssh_extra_args that say where to
connect. Plain functions of values; no Ansible import (ansible-core stays optional).
"""

from __future__ import annotations

import shlex

from hvconform.inputs import inventory_schema as rules

# ssh options that change where or as whom to connect: honoured by ansible's ssh, not by
# our paramiko transport, so ignoring them would reach the wrong place
REFUSED_SSH_OPTIONS = {"proxycommand": "use -o ProxyJump= (or -J)", "hostname": "use ansible_host",
                       "port": "use ansible_port", "user": "use ansible_user",
                       "identityfile": "use ansible_ssh_private_key_file"}
_TRUE = ("y", "yes", "on", "1", "true", "t")
_FALSE = ("n", "no", "off", "0", "false", "f")


def ssh_options(value) -> tuple[list[tuple[str, str]], str | None]:
    """(the (option, value) pairs that matter, a problem): ProxyJump (from -J too),
    UserKnownHostsFile, and those of REFUSED_SSH_OPTIONS; other options are left out."""
    problem = unusable(value)
    if problem or not isinstance(value, str):
        return [], problem or f"expected a string of ssh options, got {rules.show(value)}"
    try:
        words = shlex.split(value)
    except ValueError as exc:
        return [], f"cannot split into ssh options: {exc}"
    options, i = [], 0
    while i < len(words):
        word = words[i]
        if word in ("-o", "-J") and i + 1 < len(words):
            options.append(("proxyjump", words[i + 1]) if word == "-J" else _option(words[i + 1]))
            i += 2
            continue
        if word.startswith("-o") and len(word) > 2:
            options.append(_option(word[2:]))
        elif word.startswith("-J") and len(word) > 2:
            options.append(("proxyjump", word[2:]))
        i += 1
    wanted = ("proxyjump", "userknownhostsfile") + tuple(REFUSED_SSH_OPTIONS)
    return [(k, v) for k, v in options if k in wanted], None


def _option(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep:
        key, _, value = text.partition(" ")
    return key.strip().lower(), value.strip()


def boolean(value):
    """Ansible's booleans: yes/no, true/false, on/off, 1/0, as strings too; else unchanged."""
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
        return bool(value)
    return value


def unusable(value) -> str | None:
    """Why a value cannot be taken as it is: vault-encrypted, or a template."""
    if isinstance(value, dict):
        if "__ansible_vault" in value:
            return ("vault-encrypted: hvconform does not decrypt Ansible Vault, and reads this "
                    "variable to connect or to judge: give it in clear")
        return next((p for p in map(unusable, value.values()) if p), None)
    if isinstance(value, list):
        return next((p for p in map(unusable, value) if p), None)
    if isinstance(value, str) and ("{{" in value or "{%" in value):
        return (f"{rules.show(value)} is a Jinja template: ansible-inventory --list does not "
                "render templates; give the value itself")
    return None
