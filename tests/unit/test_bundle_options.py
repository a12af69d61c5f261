"""The bundle plugin's options fail early, naming the place, before any host is contacted."""

from __future__ import annotations

from tests.conftest import run_suite


def test_a_malformed_waivers_file_stops_the_run_with_located_errors(tmp_path):
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("waivers:\n  - control: QEMU-001\n    expires: someday\n")
    proc, run_dir = run_suite("--collect-only", f"--waivers={waivers}", reports_dir=tmp_path)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert f"{waivers}:2: waivers[0]: missing key 'scope'" in proc.stderr
    assert f"{waivers}:3: waivers[0].expires: 'someday' is not a date" in proc.stderr
    assert not (run_dir / "snapshots").exists()


def test_fail_on_new_failures_needs_a_baseline(tmp_path):
    proc, _ = run_suite("--collect-only", "--fail-on=new-failures", reports_dir=tmp_path)
    assert proc.returncode == 4 and "--fail-on new-failures needs --baseline" in proc.stderr


def test_an_unreadable_baseline_or_replay_is_named(tmp_path):
    missing = tmp_path / "nope.tar.gz"
    for option in ("--baseline", "--replay"):
        proc, _ = run_suite("--collect-only", f"{option}={missing}", reports_dir=tmp_path)
        assert proc.returncode == 4 and str(missing) in proc.stderr, proc.stderr
