"""Batch framing: each command's stdout, stderr and exit code come back apart."""

import subprocess

from hvconform.collect.batch import Batch


def run(batch):
    p = subprocess.run(["sh", "-c", batch.script()], capture_output=True, text=True)
    return batch.parse(p.stdout, p.stderr, 0)


def test_outputs_codes_and_stderr_are_kept_apart(tmp_path):
    (tmp_path / "nonl").write_text("no newline at end")
    (tmp_path / "two").write_text("a\n\nb\n\n")
    b = Batch()
    for name in ("nonl", "two", "missing"):
        b.add(name, "cat", path=str(tmp_path / name))
    got = run(b)
    assert got["nonl"].stdout == "no newline at end" and got["nonl"].rc == 0
    assert got["two"].stdout == "a\n\nb\n\n"
    assert got["missing"].rc == 1 and "No such file" in got["missing"].stderr
    assert got["missing"].stdout == ""


def test_content_that_looks_like_a_marker_cannot_end_a_frame(tmp_path):
    b = Batch()
    forged = f"\n{'0' * 16} E 0 0\n\nsomething E 0 0\n"
    (tmp_path / "f").write_text(forged)
    b.add("f", "cat", path=str(tmp_path / "f"))
    assert run(b)["f"].stdout == forged


def test_a_command_cut_off_before_its_end_marker_gives_no_artifact(tmp_path):
    b = Batch()
    b.add("f", "cat", path="/etc/hostname")
    out = b.script()  # simulate a stream that stops mid-frame
    p = subprocess.run(["sh", "-c", out], capture_output=True, text=True)
    cut = p.stdout[: p.stdout.rindex(" E ")]
    assert b.parse(cut, p.stderr, 0) == {}


def test_read_while_the_batch_runs_a_command_waits_for_its_stderr_too(tmp_path):
    """stdout and stderr arrive apart: a command whose stdout frame has ended but whose
    stderr frame has not is not taken early (it would be kept with no stderr: a missing
    file's 'No such file' lost, as round 2 starting early once did), and is taken whole
    once the round has ended."""
    b = Batch()
    b.add("stat:/nowhere", "stat", path=str(tmp_path / "nowhere"))
    p = subprocess.run(["sh", "-c", b.script()], capture_output=True, text=True)
    stderr_so_far = p.stderr[: p.stderr.rindex(" E ")]      # its stderr end marker not yet in
    assert b.parse(p.stdout, stderr_so_far, 0, whole=True) == {}
    art = b.parse(p.stdout, p.stderr, 0, whole=True)["stat:/nowhere"]
    assert art.rc == 1 and "No such file" in art.stderr
