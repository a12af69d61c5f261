"""A complete, normal audit of N simulated hosts, measured.

    .venv/bin/python bench/fleet.py --hosts 1000 [--max-connections 32] [--keep DIR]

Starts bench/fleet_sim.py (N hosts over real SSH on loopback, in its own process),
then runs `python -m hvconform audit` in this process against its inventory
(collection, judging, every file the run writes by default, the bundle) and prints
one JSON line:

  hosts, items (verdicts), wall_s (the whole audit), collect_s, judge_s, report_s
  (results.json, junit.xml, CSV, OSCAL, commands.tsv, report.html), bundle_s,
  cpu_s (this process: the auditor; the simulator's CPU is not in it), peak_rss_mib
  (this process), run_dir_mib, report_html_mib (report.html and its host pages)

--profile FILE writes a cProfile of the audit (the main thread: judging and
reporting; collection runs in threads, profile it with py-spy).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hvconform.cli import audit as audit_cli  # noqa: E402
from hvconform.deliver.run_folder import REPORT  # noqa: E402

MIB = 1024 * 1024


def start_fleet(hosts: int, where: Path, timeout: float) -> tuple[subprocess.Popen, Path]:
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "fleet_sim.py"), "--hosts", str(hosts),
                             "--dir", str(where), "--timeout", str(timeout)],
                            stdout=subprocess.PIPE, stderr=sys.stderr, text=True)
    line = proc.stdout.readline()
    if not line:
        proc.wait(timeout=10)
        raise SystemExit(f"fleet_sim did not start (exit {proc.returncode})")
    return proc, Path(json.loads(line)["inventory"])


def size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def measure(inventory: Path, reports: Path, hosts: int, max_connections: int,
            profile: Path | None = None, quiet: bool = True) -> dict:
    # the options as `python -m hvconform audit` parses them, so every option has its default
    parser = argparse.ArgumentParser()
    audit_cli.add_arguments(parser)
    args = parser.parse_args([f"--inventory={inventory}", f"--max-connections={max_connections}",
                              f"--run-id=bench-{hosts}", f"--reports-dir={reports}"])
    out = io.StringIO() if quiet else sys.stderr
    profiler = cProfile.Profile() if profile else None
    before = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    if profiler:
        profiler.enable()
    outcome = audit_cli.execute(args, out)
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_SELF)
    if outcome.code not in (audit_cli.OK, audit_cli.FINDINGS):
        raise SystemExit(f"the audit ended with {outcome.code}:\n{out.getvalue() if quiet else ''}")
    collected = sum(h["status"] == "collected" for h in outcome.results["hosts"])
    if collected != hosts:
        raise SystemExit(f"only {collected} of {hosts} hosts collected:\n"
                         + (out.getvalue()[-3000:] if quiet else ""))
    t = outcome.timings
    print("cpu by phase (s): " + ", ".join(f"{k.removesuffix('_cpu')} {v:.2f}" for k, v in t.items()
                                           if k.endswith("_cpu")), file=sys.stderr)
    print(f"run folder steps (s): {t.get('steps')}", file=sys.stderr)
    run_dir = outcome.run_dir
    report = run_dir / REPORT
    pages = run_dir / "report-hosts"
    return {"hosts": hosts, "wall_s": round(wall, 2), "collect_s": round(t["collect"], 2),
            "judge_s": round(t["judge"], 2), "report_s": round(t["report"], 2),
            "bundle_s": round(t["bundle"], 2),
            "cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 2),
            "peak_rss_mib": round(after.ru_maxrss / 1024, 1),
            "run_dir_mib": round(size(run_dir) / MIB, 1),
            "report_html_mib": round((size(report) + (size(pages) if pages.exists() else 0)) / MIB, 1),
            "items": len(outcome.results["verdicts"])}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hosts", type=int, required=True)
    ap.add_argument("--max-connections", type=int, default=audit_cli.DEFAULT_MAX_CONNECTIONS)
    ap.add_argument("--keep", type=Path, default=None, help="write the run folder here and keep it")
    ap.add_argument("--profile", type=Path, default=None, help="cProfile output of the audit")
    ap.add_argument("--verbose", action="store_true", help="show the audit's own output")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hvconform-fleet-") as tmp:
        fleet, inventory = start_fleet(args.hosts, Path(tmp) / "fleet", timeout=3600)
        try:
            figures = measure(inventory, args.keep or Path(tmp) / "reports", args.hosts,
                              args.max_connections, args.profile, quiet=not args.verbose)
        finally:
            fleet.terminate()
            fleet.wait(timeout=30)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
