"""The declared command list is the only thing a batch may contain."""

import pytest

from hvconform.collect import commands
from hvconform.collect.batch import Batch

NASTY = ["/etc/it's", "a b", "x; reboot", "$(reboot)", "`reboot`", "a\nreboot", "'", "--help", "*"]


@pytest.mark.parametrize("value", NASTY)
def test_rendered_arguments_stay_one_quoted_word(value):
    line = commands.render("cat", path=value)
    if "\n" in value:  # a newline in an argument makes two lines: refused as a whole
        with pytest.raises(commands.ForbiddenCommand):
            commands.check_script(line)
    else:
        assert commands.allowed(line) == "cat"


@pytest.mark.parametrize("line", ["rm -rf /", "cat -- /etc/x; reboot", "cat -- /etc/x && reboot",
                                  "virsh -c qemu:///system destroy vm", "cat -- $(reboot)",
                                  "sshd -T; id", "printf 'x' 'abc' ; reboot"])
def test_undeclared_lines_are_refused(line):
    with pytest.raises(commands.ForbiddenCommand):
        commands.check_script(f"{commands.PREAMBLE}\n{line}\n")


def test_a_whole_batch_passes_the_check_and_lists_its_commands():
    b = Batch()
    b.add("file:/etc/x", "cat", path="/etc/x")
    b.add("cmd:sshd_effective", "sshd_effective")
    b.add("domain:a b:inactive", "virsh_dumpxml_inactive", domain="a b")
    assert commands.check_script(b.script()) == [
        "cat -- /etc/x", "sshd -T", "virsh -r -c qemu:///system dumpxml --inactive -- 'a b'"]


def test_every_virsh_command_uses_the_read_only_connection():
    for name, template in commands.COMMANDS.items():
        if template.startswith("virsh"):
            assert template.startswith("virsh -r "), name


def _dict_literal(path: str, name: str):
    import ast
    from pathlib import Path
    tree = ast.parse((Path(__file__).resolve().parents[2] / path).read_text())
    for n in ast.walk(tree):
        targets = n.targets if isinstance(n, ast.Assign) else [n.target] if isinstance(n, ast.AnnAssign) else []
        if any(getattr(t, "id", None) == name for t in targets):
            return [ast.literal_eval(k) for k in n.value.keys]
    raise AssertionError(f"no {name} in {path}")


@pytest.mark.parametrize("path, name", [("hvconform/collect/commands.py", "COMMANDS"),
                                        ("hvconform/inputs/policy.py", "KEYS")])
def test_each_key_is_declared_once(path, name):
    """A dict literal keeps the last of two equal keys silently; a merge that pasted a
    block twice would hide an edit to the first copy."""
    keys = _dict_literal(path, name)
    assert sorted(k for k in set(keys) if keys.count(k) > 1) == []
