"""Running Ansible's own resolver, `ansible-inventory -i PATH --list`, as a bounded subprocess.

    doc = ansible_run.list_inventory("inventories/hosts.ini")        # the --list JSON
    doc = ansible_run.list_inventory(path, export=True)              # group vars kept apart

An argument list, never a shell; a deadline (the process group is killed past it, so a
dynamic inventory's own children go too); stdout and stderr read together and capped.
ansible-core is an optional dependency (requirements-ansible.txt): when the program is
missing the error names the package. The program is looked for on PATH, then beside
this Python (a virtualenv's bin/, where `pip install ansible-core` puts it), or where
$HVCONFORM_ANSIBLE_INVENTORY says.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROGRAM = "ansible-inventory"
PACKAGE = "ansible-core"
REQUIREMENTS = "requirements-ansible.txt"
TIMEOUT = 60.0                 # seconds: a dynamic inventory may ask a cloud API, not more
MAX_OUTPUT = 32 * 1024 * 1024  # bytes of --list JSON: thousands of hosts, not unbounded
MAX_STDERR = 256 * 1024
# Ansible only warns about an inventory it could not parse and lists no hosts;
# these make it fail instead, so a broken inventory is an error, not an empty audit.
ENV = {"ANSIBLE_INVENTORY_UNPARSED_FAILED": "True",
       "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "True",
       "ANSIBLE_NOCOLOR": "True", "ANSIBLE_FORCE_COLOR": "False",
       "ANSIBLE_DEPRECATION_WARNINGS": "False"}


# Ansible may quote the inventory line it could not parse: a password on it must not
# reach our error text (and through it, the terminal or a report)
_SECRET = re.compile(r"((?:pass(?:word)?|passwd|secret|token|key)\w*\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s;]+)",
                     re.I)


class AnsibleRunError(Exception):
    """ansible-inventory is missing, failed, timed out or printed something unusable."""


def find_program() -> str:
    """The ansible-inventory to run; AnsibleRunError naming the package when there is none."""
    forced = os.environ.get("HVCONFORM_ANSIBLE_INVENTORY")
    if forced:
        if os.path.isfile(forced) and os.access(forced, os.X_OK):
            return forced
        raise AnsibleRunError(f"$HVCONFORM_ANSIBLE_INVENTORY={forced}: not an executable file")
    found = shutil.which(PROGRAM)
    beside = Path(sys.executable).parent / PROGRAM
    if found:
        return found
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    raise AnsibleRunError(
        f"{PROGRAM} not found (on PATH or in {beside.parent}): reading an Ansible inventory "
        f"needs the {PACKAGE} package: pip install -r {REQUIREMENTS} (it pins {PACKAGE})")


def list_inventory(path: str, export: bool = False, timeout: float = TIMEOUT) -> dict:
    """The JSON of `ansible-inventory -i path --list [--export]`."""
    argv = [find_program(), "-i", path, "--list"] + (["--export"] if export else [])
    with tempfile.TemporaryDirectory(prefix="hvconform-ansible-") as tmp:
        # Ansible writes its temporary files here, not under the auditor's ~/.ansible
        env = {**os.environ, **ENV, "ANSIBLE_LOCAL_TEMP": tmp}
        rc, out, err = run_bounded(argv, env, timeout, MAX_OUTPUT)
    if rc != 0:
        raise AnsibleRunError(f"{PROGRAM} failed (exit {rc}): {summary(err)}")
    try:
        doc = json.loads(out.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise AnsibleRunError(f"{PROGRAM} printed no readable JSON ({exc}): {summary(err)}") from None
    if not isinstance(doc, dict):
        raise AnsibleRunError(f"{PROGRAM} printed {type(doc).__name__}, expected a mapping")
    return doc


def run_bounded(argv: list[str], env: dict, timeout: float, limit: int) -> tuple[int, bytes, bytes]:
    """(exit code, stdout, stderr) of `argv`, no shell, no stdin; AnsibleRunError past
    `timeout` seconds or `limit` bytes of stdout (the whole process group is killed)."""
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, start_new_session=True)
    except OSError as exc:
        raise AnsibleRunError(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
    out, err = bytearray(), bytearray()
    deadline = time.monotonic() + timeout
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, out)
    sel.register(proc.stderr, selectors.EVENT_READ, err)
    try:
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AnsibleRunError(f"{PROGRAM} did not finish within {timeout:g}s")
            for key, _ in sel.select(min(left, 1.0)):
                chunk = os.read(key.fd, 1 << 16)
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                key.data.extend(chunk)
            if len(out) > limit:
                raise AnsibleRunError(f"{PROGRAM} printed more than {limit // (1 << 20)} MiB")
            del err[:-MAX_STDERR]   # keep the end: that is where the error is
        rc = proc.wait(max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        _kill(proc)
        raise AnsibleRunError(f"{PROGRAM} did not exit within {timeout:g}s") from None
    except BaseException:
        _kill(proc)
        raise
    finally:
        sel.close()
        proc.stdout.close()
        proc.stderr.close()
    return rc, bytes(out), bytes(err)


def _kill(proc) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)   # its own session: a script's children too
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def summary(stderr: bytes, limit: int = 600) -> str:
    """Ansible's complaint on one line: its distinct lines, without the decoration."""
    seen: list[str] = []
    for line in stderr.decode("utf-8", "replace").splitlines():
        line = line.strip().removeprefix("[WARNING]:").removeprefix("[ERROR]:").strip()
        if line and line not in seen and line != "<<< caused by >>>":
            seen.append(line)
    text = _SECRET.sub(lambda m: m[1] + "[REDACTED]", "; ".join(seen) or "no message")
    return text if len(text) <= limit else "..." + text[-limit:]
