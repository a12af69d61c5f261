"""Every secret shape of issue 10, planted on the weak lab host for the length of
this module, reaches no file of an audit run: snapshots, sent logs, results, both
reports, exports, the bundle (unpacked and decompressed, each member read), nor the
terminal. Planted over SSH as root (the lab's own key), and all undone at the end:

  ps output       a process whose arguments hold a QEMU secret object's data=, a
                  -spice password=, the JSON form of a secret object, a --password=
  domain XML      a defined domain whose <qemu:arg value='secret,...,data=...'> and
                  JSON secret object libvirt keeps (virsh dumpxml and its file)
  URL userinfo    the restic repository URL of /etc/hvconform/backup-repository
  nova/neutron    nova.conf transport_url (two hosts), [database] connection,
                  metadata_proxy_shared_secret, [keystone_authtoken] password;
                  neutron's metadata_agent.ini shared secret
  sssd            ldap_default_authtok
  key blocks      a PGP private key block, and a private key with no END line
  GRUB            a pbkdf2 hash in grub.cfg and in user.cfg, a plaintext password
  killed batch    a login shell that kills the batch and prints a private key on
                  stderr 53 times (a second run: the batch dies, so it is alone)

/etc/nova, /etc/neutron, /etc/sssd, /boot/grub* (and /etc/hvconform) do not exist here:
each (or one weak cannot write) is covered by a tmpfs inside the weak host's own
mount namespace only, so nothing is written into the machine's /etc."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import tarfile

import pytest

from hvconform.model.snapshot import Snapshot
from tests.conftest import LAB_INVENTORY, ROOT, run_suite

STATE = ROOT / "lab" / "state"
SSH = ["ssh", "-i", str(STATE / "id_ed25519"), "-o", f"UserKnownHostsFile={STATE / 'known_hosts'}",
       "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "root@10.213.0.13"]
ARMOUR = "-----{} {}-----"   # built, so no scanner takes this file for holding a key


def key_block(kind: str, body: str, end: bool = True) -> str:
    return "\n".join([ARMOUR.format("BEGIN", kind), "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ",
                      body, *([ARMOUR.format("END", kind)] if end else [])]) + "\n"


FILES = {
    "/etc/nova/nova.conf": (
        "[DEFAULT]\ntransport_url = rabbit://nova:hvLabRabbitPwOne@ctl1:5672,nova:hvLabRabbitPwTwo@ctl2:5672/\n"
        "[database]\nconnection = mysql+pymysql://nova:hvLabNovaDbPw@ctl1/nova\n"
        "[neutron]\nmetadata_proxy_shared_secret = hvLabNovaMetaSecret\n"
        "[keystone_authtoken]\nauth_type = password\npassword = hvLabKeystonePw\n"),
    "/etc/neutron/metadata_agent.ini": "[DEFAULT]\nmetadata_proxy_shared_secret=hvLabNeutronMetaSecret\n",
    "/etc/sssd/sssd.conf": ("[domain/lab]\nldap_default_authtok_type = password\n"
                            "ldap_default_authtok = hvLabSssdAuthtok\n"),
    "/boot/grub/grub.cfg": ("set superusers=root\npassword_pbkdf2 root grub.pbkdf2.sha512.10000."
                            "0A1B2C3D4E5F60718293A4B5C6D7E8F9.00FFEE11DDCC22BBAA3344556677889\n"
                            "password hvadmin hvLabGrubPlainPw\n"),
    "/boot/grub2/user.cfg": "GRUB2_PASSWORD=grub.pbkdf2.sha512.10000.FEEDFACE0123.DEADBEEF4567ABCD\n",
    "/etc/hvconform/backup-repository": "rest:https://hvlab:hvLabResticUrlPw@backup.example:8000/weak\n",
    "/etc/pki/CA/cacrl.pem": key_block("PGP PRIVATE KEY BLOCK", "hvLabPgpKeyBody0123456789abcdef"),
    "/etc/pki/CA/cacert.pem": key_block("OPENSSH PRIVATE KEY", "hvLabNoEndKeyBody0123456789", end=False),
}
MOUNTED = ("/etc/nova", "/etc/neutron", "/etc/sssd", "/boot/grub", "/boot/grub2", "/etc/hvconform")
IN_TREE = ("/etc/pki/CA",)   # below a folder that is the weak host's own (lab/state)
PROCESS_ARGS = ("qemu-system-x86_64 -object secret,id=hvsec0,data=hvLabPsSecretData,format=raw "
                "-spice port=5999,password=hvLabPsSpicePw "
                "-object {\"qom-type\":\"secret\",\"id\":\"hvsec1\",\"data\":\"hvLabPsJsonData\"} "
                "--password=hvLabPsOptionPw")
DOMAIN = """<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>hvlab-secret-args</name>
  <memory unit='MiB'>64</memory>
  <os><type arch='x86_64'>hvm</type></os>
  <qemu:commandline>
    <qemu:arg value='-object'/>
    <qemu:arg value='secret,id=hvsec2,data=hvLabXmlArgData,format=raw'/>
    <qemu:arg value='-object'/>
    <qemu:arg value='{"qom-type":"secret","id":"hvsec3","data":"hvLabXmlJsonData"}'/>
  </qemu:commandline>
</domain>
"""
BASHRC = """# planted by tests/integration/test_secrets_planted_lab.py: a host that lies
KEY='%s'
# the batch starts as `timeout -k GRACE SECONDS sh -c SCRIPT` (WRAPPER in
# hvconform/collect/commands.py): its first word, a function here, runs `sh -c SCRIPT`
# itself, so killing it kills the batch
timeout() {
  shift 3
  command "$@" &
  p=$!
  sleep 0.3
  kill -9 "$p" 2>/dev/null
  wait "$p"
  i=0
  while [ "$i" -lt 53 ]; do printf '%%s\\n' "$KEY" >&2; i=$((i + 1)); done
  return 137
}
""" % key_block("OPENSSH PRIVATE KEY", "hvLabStderrKeyBody0123456789").rstrip("\n")

SECRETS = ("hvLabRabbitPwOne", "hvLabRabbitPwTwo", "hvLabNovaDbPw", "hvLabNovaMetaSecret",
           "hvLabKeystonePw", "hvLabNeutronMetaSecret", "hvLabSssdAuthtok", "0A1B2C3D4E5F6071",
           "FEEDFACE0123", "DEADBEEF4567", "hvLabGrubPlainPw", "hvLabResticUrlPw", "hvLabPgpKeyBody",
           "hvLabNoEndKeyBody", "hvLabPsSecretData", "hvLabPsSpicePw", "hvLabPsJsonData",
           "hvLabPsOptionPw", "hvLabXmlArgData", "hvLabXmlJsonData", "hvLabStderrKeyBody")


def on_weak(command: str, stdin: str | None = None) -> str:
    proc = subprocess.run([*SSH, command], input=stdin, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"{command}: {proc.stderr}"
    return proc.stdout


def put(path: str, text: str) -> None:
    on_weak(f"cat > {path}", text)


@pytest.fixture(scope="module")
def planted(lab):
    saved: dict[str, str | None] = {}
    made, made_in_tree, pid = [], [], None
    try:
        for folder in MOUNTED:
            # usable as it is (the host's own tree), or covered by a tmpfs in weak's
            # mount namespace; a folder made on the machine for that is removed after
            usable = f"touch {folder}/.hvlab-probe 2>/dev/null && rm {folder}/.hvlab-probe && echo yes || echo no"
            if on_weak(usable).strip() == "no":
                new = on_weak(f"test -d {folder} && echo no || echo yes").strip() == "yes"
                on_weak(f"mkdir -p {folder} && mount -t tmpfs -o size=1m,mode=0755 hvlab-secrets {folder}")
                made.append((folder, new))
        for folder in IN_TREE:
            if on_weak(f"test -e {folder} && echo yes || echo no").strip() == "no":
                on_weak(f"mkdir {folder}")
                made_in_tree.append(folder)
        for path, text in FILES.items():
            if not any(path.startswith(m + "/") for m in [f for f, _ in made] + made_in_tree):
                saved[path] = on_weak(f"if [ -e {path} ]; then cat {path}; else echo '<absent>'; fi")
            put(path, text)
        pid = on_weak(f"nohup bash -c 'exec -a \"{PROCESS_ARGS.replace(chr(34), chr(92) + chr(34))}\" "
                      f"sleep 900' >/dev/null 2>&1 & echo $!").strip()
        put("/tmp/hvlab-secret-args.xml", DOMAIN)
        on_weak("virsh -c qemu:///system define /tmp/hvlab-secret-args.xml && rm /tmp/hvlab-secret-args.xml")
        assert "hvLabPsSecretData" in on_weak("ps -eo args=")
        yield
    finally:
        subprocess.run([*SSH, "virsh -c qemu:///system undefine hvlab-secret-args"], capture_output=True)
        if pid:
            subprocess.run([*SSH, f"kill {pid}"], capture_output=True)
        for path, old in saved.items():
            if old == "<absent>\n":
                subprocess.run([*SSH, f"rm -f {path}"], capture_output=True)
            elif old is not None:
                subprocess.run([*SSH, f"cat > {path}"], input=old, text=True, capture_output=True)
        for folder, new in reversed(made):
            subprocess.run([*SSH, f"umount {folder}" + (f" && rmdir {folder}" if new else "")],
                           capture_output=True)
        for folder in made_in_tree:
            subprocess.run([*SSH, f"rm -r {folder}"], capture_output=True)


@pytest.fixture(scope="module")
def killed_batch(lab, planted_run):
    """A second run, whose batch the host's login shell kills: runs after the first."""
    old = on_weak("if [ -e /root/.bashrc ]; then cat /root/.bashrc; else echo '<absent>'; fi")
    try:
        put("/root/.bashrc", BASHRC)
        reports = planted_run[1].parent
        proc, run_dir = run_suite(f"--inventory={LAB_INVENTORY}", "--limit=weak", reports_dir=reports)
    finally:
        if old == "<absent>\n":
            on_weak("rm -f /root/.bashrc")
        else:
            put("/root/.bashrc", old)
    return proc, run_dir


@pytest.fixture(scope="module")
def planted_run(planted, tmp_path_factory):
    reports = tmp_path_factory.mktemp("planted")
    proc, run_dir = run_suite(f"--inventory={LAB_INVENTORY}", "--limit=weak", reports_dir=reports)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc, run_dir


def every_text(run_dir) -> dict[str, str]:
    """Each file of the run as text, and each member of the bundle, gunzipped."""
    out = {}
    for path in sorted(run_dir.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        out[str(path)] = data.decode("utf-8", "replace")
        if path.suffix == ".gz":
            raw = gzip.decompress(data)
            out[f"{path} (gunzipped)"] = raw.decode("utf-8", "replace")
            with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
                for m in tar.getmembers():
                    if m.isfile():
                        out[f"{path}:{m.name}"] = tar.extractfile(m).read().decode("utf-8", "replace")
    return out


def snapshot_text(run_dir) -> str:
    """weak's snapshot as JSON text with every stdout in place: a long one is stored once
    in the run's blobs/ and the snapshot names it by its sha256."""
    return json.dumps(Snapshot.load(run_dir / "snapshots" / "weak.json").to_dict())


def test_every_planted_shape_was_collected_and_redacted(planted_run):
    _, run_dir = planted_run
    snap = snapshot_text(run_dir)
    for path in FILES:
        assert f"file:{path}" in snap, path
    assert "hvlab-secret-args" in snap and "-spice port=5999,password=[REDACTED]" in snap
    assert "data=[REDACTED]" in snap and "[REDACTED PGP PRIVATE KEY BLOCK]" in snap
    assert "ldap_default_authtok = [REDACTED]" in snap and "metadata_proxy_shared_secret" in snap


@pytest.mark.parametrize("run", ["planted_run", "killed_batch"])
def test_no_planted_secret_reaches_any_file_of_the_run(request, run):
    proc, run_dir = request.getfixturevalue(run)
    texts = every_text(run_dir)
    assert any("bundle.tar.gz:" in name for name in texts)
    texts["terminal"] = proc.stdout + proc.stderr
    leaks = [(secret, name) for name, text in texts.items() for secret in SECRETS if secret in text]
    assert not leaks, leaks[:10]


def test_the_killed_batch_error_names_the_key_as_redacted(killed_batch):
    proc, run_dir = killed_batch
    snap = snapshot_text(run_dir)
    assert '"status": "partial"' in snap or '"status": "error"' in snap, proc.stdout[-2000:]
    assert "[REDACTED OPENSSH PRIVATE KEY]" in snap
