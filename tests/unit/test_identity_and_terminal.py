"""Issue 10: who a host is (cloned hosts flagged, host-key labels that say what happened),
host text made inert on the terminal, and no run folder before the inventory is valid.
Each test is named after the issue's item."""

from __future__ import annotations

import types
from pathlib import Path

from hvconform.deliver.report.html import render
from hvconform.model import identity
from hvconform.model.results import document
from hvconform.model.run import Run
from hvconform.model.snapshot import Snapshot
from hvconform.model.terminal import printable
from fixtures import bundle as bundle_plugin
from fixtures import reporting
from fixtures.state import state
from fixtures.targets import progress_line
from tests.conftest import run_suite
from tests.unit.test_report_model import doc, rec

KEY_A, KEY_B = "ssh-ed25519 SHA256:aaaa", "ssh-ed25519 SHA256:bbbb"


def snap(name, host_key=None, hostname=None, machine_id=None, **kw) -> Snapshot:
    ident = {"connection": "ssh", "host_key": host_key, "host_key_verified": True,
             "hostname": hostname, "machine_id": machine_id}
    return Snapshot(host=name, identity={k: v for k, v in ident.items() if v is not None}, **kw)


def test_several_hosts_with_one_ssh_host_key_are_flagged():
    snaps = {"a": snap("a", KEY_A, "a", "1" * 32), "b": snap("b", KEY_A, "b", "2" * 32),
             "c": snap("c", KEY_B, "c", "3" * 32)}
    assert identity.conflicts(snaps) == [{"field": "host_key", "value": KEY_A, "hosts": ["a", "b"]}]


def test_a_host_claiming_another_hosts_hostname_or_machine_id_is_flagged():
    snaps = {"hv1": snap("hv1", KEY_A, "hv1.example.org", "1" * 32),
             "hv2": snap("hv2", KEY_B, "HV1.example.org", "1" * 32),   # a clone of hv1
             "hv3": snap("hv3", "ssh-rsa SHA256:c", "hv1", "3" * 32),  # says it is hv1
             "down": Snapshot(host="down", status="unreachable", error="refused")}
    found = identity.conflicts(snaps)
    assert {"field": "machine_id", "value": "1" * 32, "hosts": ["hv1", "hv2"]} in found
    assert {"field": "hostname", "value": "hv1.example.org", "hosts": ["hv1", "hv2"]} in found
    assert {"field": "hostname", "value": "hv1", "hosts": ["hv3"], "claims": "hv1"} in found
    assert {"field": "hostname", "value": "hv1.example.org", "hosts": ["hv2"], "claims": "hv1"} in found
    assert len(found) == 4                              # the unreached host claims nothing
    assert identity.conflicts({"local": Snapshot(host="local", identity={"connection": "local"}),
                               "x": snap("x", KEY_A, "x", "9" * 32)}) == []


def test_identity_conflicts_reach_results_json_the_terminal_and_the_report(tmp_path):
    run = Run("r", tmp_path, snapshots={"a": snap("a", KEY_A, "a", "1" * 32),
                                        "b": snap("b", KEY_A, "b", "1" * 32)})
    doc_ = document(run, "0" * 64, [])
    assert [c["field"] for c in doc_["identity_conflicts"]] == ["host_key", "machine_id"]
    lines = terminal_summary(doc_, tmp_path)
    assert (f"IDENTITY CONFLICT: a, b share one SSH host key ({KEY_A}): one machine listed "
            "twice, or clones") in lines
    page = render({**doc(rec("QEMU-001", "a", "pass")), "identity_conflicts": doc_["identity_conflicts"]})
    table = page[page.index('id="host-table"'):page.index("</table>", page.index('id="host-table"'))]
    assert table.count('class="t-fail small identity-conflict"') == 4   # 2 conflicts x 2 hosts
    assert "a, b share one machine-id" in table


def test_many_identity_conflicts_stay_a_few_terminal_lines(tmp_path):
    snaps = {f"h{i}": snap(f"h{i}", f"k{i // 2}") for i in range(100)}   # 50 pairs
    lines = terminal_summary(document(Run("r", tmp_path, snapshots=snaps), "0" * 64, []), tmp_path)
    flagged = [line for line in lines if line.startswith("IDENTITY CONFLICT")]
    assert len(flagged) == reporting.MOST_CONFLICTS
    assert "  ... and 30 more identity conflicts (results.json)" in lines


def test_a_host_refused_before_login_is_not_labelled_accepted_by_the_flag(tmp_path):
    """Before: every host without a verified key, refused ones included, read 'NOT
    VERIFIED: accepted by --accept-new-host-keys' though the flag was not given."""
    refused = Snapshot(host="new", status="error", identity={"hostname": None, "machine_id": None},
                       error="root@10.0.0.9:22: host key ssh-ed25519 SHA256:z not in known_hosts")
    accepted = snap("jumped", KEY_A, "jumped")
    accepted.identity.update(host_key_verified=False, accepted_new_host_keys=["gw"])
    run = Run("r", tmp_path, snapshots={"new": refused, "jumped": accepted})
    rows = reporting.hosts_html(run).split("<tr>")
    new, jumped = next(r for r in rows if ">new<" in r), next(r for r in rows if ">jumped<" in r)
    assert "NOT VERIFIED" not in new and "NOT VERIFIED: accepted by --accept-new-host-keys" in jumped
    d = doc(rec("QEMU-001", "a", "pass"))
    d["hosts"][0].update(status="error", error="host key not in known_hosts",
                         identity={"hostname": None, "machine_id": None})
    assert "NOT VERIFIED" not in render(d)
    d["hosts"][1]["identity"] = accepted.identity
    page = render(d)
    assert "NOT VERIFIED: it was accepted by <code>--accept-new-host-keys</code> (the key of gw)" in page


def test_raw_terminal_escape_sequences_from_vm_names_and_errors_never_reach_the_terminal(tmp_path):
    hostile = "\x1b]2;owned\x07\x1b[2J\r\u202egnp.exe"
    assert printable(hostile) == "\\x1b]2;owned\\x07\\x1b[2J\\r\\u202egnp.exe"
    s = Snapshot(host="h", status="partial", error=f"domain {hostile}: failed\nsecond line")
    assert printable(progress_line(s, 1.0)) == (
        "  h: partial: domain \\x1b]2;owned\\x07\\x1b[2J\\r\\u202egnp.exe: failed\\nsecond line [1.0s]")
    d = document(Run("r", tmp_path, snapshots={"h": s}), "0" * 64, [])
    d["inventory"] = {"vms": [{"host": "h", "vm": hostile, "status": "not_listed"}]}
    d["run"]["interrupted"] = hostile
    lines = terminal_summary(d, tmp_path)
    assert lines and not [line for line in lines if "\x1b" in line or "\r" in line or "\u202e" in line]


def terminal_summary(doc_: dict, run_dir: Path) -> list[str]:
    """What fixtures/reporting.py and fixtures/bundle.py print at the end of a run."""
    lines = []
    tr = types.SimpleNamespace(section=lambda *a, **k: None, write_line=lines.append)
    config = types.SimpleNamespace(stash={}, option=types.SimpleNamespace(htmlpath=None),
                                   pluginmanager=types.SimpleNamespace(hasplugin=lambda name: False))
    st = state(config)
    st.results, st.run_dir = doc_, run_dir
    reporting.pytest_terminal_summary(tr, config)
    bundle_plugin.pytest_terminal_summary(tr, config)
    return lines


def test_an_inventory_error_leaves_no_empty_run_folder(tmp_path):
    (tmp_path / "inv.yaml").write_text("hosts:\n  a: {address: 'bad address'}\n")
    proc, run_dir = run_suite(f"--inventory={tmp_path / 'inv.yaml'}", "suites",
                              reports_dir=tmp_path / "reports", timeout=300)
    assert proc.returncode == 4, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "hosts.a.address: expected a host name or IP address" in proc.stderr
    assert not run_dir.exists() and not (tmp_path / "reports").exists()
