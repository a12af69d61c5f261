"""Batch framing: each command's stdout, stderr and exit code come back apart."""

import subprocess

import pytest

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



def test_streams_read_again_are_split_again_only_when_they_have_grown(tmp_path):
    """The collector reads a part while its round runs, from the bytearrays the
    channel appends to, and once more when the round ends."""
    b = Batch()
    b.add("a", "cat", path="/etc/hostname")
    b.add("b", "stat", path=str(tmp_path / "nowhere"))
    p = subprocess.run(["sh", "-c", b.script()], capture_output=True)
    cut = p.stdout.rindex(b" B ")                       # b's frame not begun yet
    out, err = bytearray(p.stdout[:cut]), bytearray(p.stderr)
    assert set(b.parse(out, err, 0)) == {"a"}
    assert set(b.parse(out, err, 0, skip={"a"})) == set()          # nothing new
    out += p.stdout[cut:]                                # the same stream, grown
    assert set(b.parse(out, err, 0, skip={"a"})) == {"b"}
    assert b.parse(bytearray(p.stdout), err, 0)["b"].rc == 1        # another object

# -- frames(): str.find in place of a regular expression, with the same matches -------

import re  # noqa: E402
from pathlib import Path  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from hvconform.collect.batch import frames  # noqa: E402
from hvconform.model.snapshot import Snapshot  # noqa: E402

NONCE = "0123456789abcdef"


def by_expression(text: str, nonce: str) -> dict:
    """What the collector used before frames(): the reference."""
    frame = re.compile(rf"\n{nonce} B (\d+)\n(.*?)\n{nonce} E \1(?: (\d+))?\n", re.S)
    return {int(m[1]): (m[2], int(m[3]) if m[3] else None) for m in frame.finditer(text)}


def recorded_batch() -> tuple[str, str]:
    """weak's recorded artifacts framed as its batch printed them (stdout, stderr)."""
    snap = Snapshot.load(Path(__file__).resolve().parents[1] / "data" / "lab-snapshots" / "weak.json")
    out, err = [], []
    for i, a in enumerate(snap.artifacts.values()):
        out.append(f"\n{NONCE} B {i}\n{a.stdout}\n{NONCE} E {i} {a.rc}\n")
        err.append(f"\n{NONCE} B {i}\n{a.stderr}\n{NONCE} E {i}\n")
    return "".join(out), "".join(err)


def test_frames_of_a_recorded_batch_read_whole_and_cut_anywhere_equal_the_expression():
    out, err = recorded_batch()
    whole = frames(out, NONCE)
    assert len(whole) > 250 and whole == by_expression(out, NONCE)
    assert frames(err, NONCE) == by_expression(err, NONCE)
    # read while the batch runs: the stream cut at any point, also inside a marker
    step = max(1, len(out) // 400)
    for cut in [*range(0, len(out), step), *(out.index(f"{NONCE} E 7 ") + k for k in range(24))]:
        assert frames(out[:cut], NONCE) == by_expression(out[:cut], NONCE), cut


B, E = f"\n{NONCE} B ", f"\n{NONCE} E "


@pytest.mark.parametrize("text", [
    f"{B}1\nout{E}1 x\n{E}1 0\n",         # a code that is not a number: not the end yet
    f"{B}1\nout{E}1 12x\n{E}1 3\n",
    f"{B}1\nout{E}12 0\n{E}1 0\n",        # another index that starts alike
    f"{B}1\n{E}1\n",                      # empty, no code (stderr)
    f"{B}1\n\n{E}1 0\n",
    f"{B}x\n{B}2\nout{E}2 0\n",            # a begin marker without an index
    f"{B}1\nout{E}1 0",                    # not ended by its newline yet
    f"{B}\u0663\nout{E}\u0663 \u0661\n",   # Unicode digits, as \\d takes them
])
def test_frames_equal_the_expression_at_the_edges(text):
    assert frames(text, NONCE) == by_expression(text, NONCE)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["\n", f"\n{NONCE} B ", f"\n{NONCE} E ", f"{NONCE}", "1", "12", "0",
                                 " ", " 0", "x", "\u0663", "B ", "E "]), max_size=40).map("".join))
def test_frames_equal_the_expression_on_generated_streams(text):
    assert frames(text, NONCE) == by_expression(text, NONCE)


# -- parts(): a channel only for enough expected work -----------------------------------

def test_a_round_of_quick_commands_stays_on_one_channel_and_slow_ones_get_their_own():
    quick = Batch()
    for i in range(26):
        quick.add(f"file:/etc/f{i}", "cat", path=f"/etc/f{i}")   # 2 ms each
    assert len(quick.parts(4)) == 1
    slow = Batch()
    slow.add("cmd:apt_upgradable", "apt_upgradable")             # 700 ms
    slow.add("cmd:systemctl_unit_files", "systemctl_unit_files") # 400 ms
    for i in range(100):
        slow.add(f"file:/etc/f{i}", "cat", path=f"/etc/f{i}")
    parts = slow.parts(4)
    assert len(parts) == 4 and sum(len(p) for p in parts) == len(slow)
    assert [len(p) for p in parts if "cmd:apt_upgradable" in p.costs] == [1]   # alone


# -- channels._Frames: the markers found as a stream's bytes arrive ---------------------

from hvconform.collect.channels import _Frames  # noqa: E402

NONCE = "0123456789abcdef"


class _RegexFrames(_Frames):
    """The reference: one pattern made for the nonce, as _Frames was first written."""

    def __init__(self, nonce: str):
        super().__init__(nonce)
        self.marker = re.compile(rb"\n" + nonce.encode() + rb" ([BE]) (\d+)(?: \d+)?\n")

    def _markers(self, buf, at):
        return self.marker.finditer(buf, at)


def _fed(frames_class, chunks: list[bytes]) -> list:
    frames, buf, seen = frames_class(NONCE), bytearray(), []
    for chunk in chunks:
        old = len(buf)
        buf += chunk
        frames.feed(buf, old, seen.append)
        seen.append((frames.open, frames.open_at, frames.pos))
    return seen


MARKER_PIECES = [f"\n{NONCE} B 1\n", f"\n{NONCE} E 1 0\n", f"\n{NONCE} E 2\n", f"\n{NONCE} B 22\n",
                 f"\n{NONCE} ", "\nfedcba9876543210 B 3\n", f"\n{NONCE} X 1\n", "\n", " ", "B", "E",
                 "1", "x", f"{NONCE}", "\n\n"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(MARKER_PIECES), max_size=30), st.lists(st.integers(1, 40), max_size=8))
def test_frames_as_bytes_arrive_equal_the_pattern_made_for_the_nonce(pieces, cuts):
    data = "".join(pieces).encode()
    chunks, at = [], 0
    for n in cuts:
        chunks.append(data[at:at + n])
        at += n
    chunks.append(data[at:])
    assert _fed(_Frames, chunks) == _fed(_RegexFrames, chunks)
