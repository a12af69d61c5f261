"""Every command hvconform may send to a target, in one place.

Read-only by construction: collection builds its scripts only from these templates,
the transport refuses a script with any other line (`check_script`), and a test
proves every line sent to a lab host matches one of them. Arguments are always
shell-quoted; inventory values never reach a shell unquoted.
"""

from __future__ import annotations

import re
import shlex

VIRSH = "virsh -r -c qemu:///system"

COMMANDS: dict[str, str] = {
    # identity
    "hostname": "hostname",
    # files, /proc and /sys
    "cat": "cat -- {path}",
    "stat": "stat -c '%a %U %G %F' -- {path}",
    "readlink": "readlink -- {path}",
    # processes: the table, from which QEMU pids are taken
    # user:32, or procps cuts names longer than 8 characters ("libvirt+")
    "ps": "ps -eo pid=,uid=,user:32=,comm=,args=",
    # sshd's effective configuration (needs root for the host keys)
    "sshd_effective": "sshd -T",
    # libvirt, through the read-only socket only
    "virsh_list_all": f"{VIRSH} list --all --name",
    "virsh_list_running": f"{VIRSH} list --name",
    "virsh_capabilities": f"{VIRSH} capabilities",
    "virsh_dumpxml_inactive": f"{VIRSH} dumpxml --inactive {{domain}}",
    "virsh_dumpxml_live": f"{VIRSH} dumpxml {{domain}}",
}

# Fixed lines that frame a batch; they run no program but printf and export.
PREAMBLE = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin; LC_ALL=C; export PATH LC_ALL"


def render(name: str, **args: str) -> str:
    """One command line, its arguments quoted. `render("cat", path="/etc/x")`."""
    template = COMMANDS[name]
    return template.format(**{k: shlex.quote(str(v)) for k, v in args.items()})


# what shlex.quote produces: safe characters, or '...' pieces joined by "'"
_QUOTED = r"(?:[A-Za-z0-9_@%+=:,./-]+|(?:'[^']*'|\"'\")+)"


def _pattern(template: str) -> re.Pattern:
    parts = re.split(r"(\{\w+\})", template)
    regex = "".join(_QUOTED if re.fullmatch(r"\{\w+\}", p) else re.escape(p) for p in parts)
    return re.compile(regex + r"\Z")


_PATTERNS = {name: _pattern(t) for name, t in COMMANDS.items()}
_MARKER = re.compile(r"printf '[^']*' '[0-9a-f]{16}'(?: [0-9]+)?(?: \"\$\?\")?(?: >&2)?\Z")


def allowed(line: str) -> str | None:
    """The name of the declared command this line is, or None."""
    return next((n for n, p in _PATTERNS.items() if p.match(line)), None)


class ForbiddenCommand(Exception):
    pass


def check_script(script: str) -> list[str]:
    """Return the command lines of a batch script; raise if any line is not declared."""
    commands = []
    for line in script.splitlines():
        if not line or line == PREAMBLE or _MARKER.match(line):
            continue
        if allowed(line) is None:
            raise ForbiddenCommand(f"not a declared read-only command: {line!r}")
        commands.append(line)
    return commands
