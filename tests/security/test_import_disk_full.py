"""Issue #18, finding 6: a full disk during an import is a store failure (exit 3), not an unusable file (2)."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys

from tests.support import ROOT


def test_disk_full_during_import_exits_3(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVICES87_")}
    env["SERVICES87_PASSWORD_HASH_PROFILE"] = "test"
    db = "sqlite:///" + str(tmp_path / "s.db")
    subprocess.run([sys.executable, "-m", "services87", "demo", "--db", db, "--requests", "10"], cwd=ROOT, env=env,
                   check=True, capture_output=True, timeout=300)
    rows = ["external_id,title,category,status,priority,origin,owner,group,created,closed"]
    rows += [f"BIG-{i:06d},Request {i} {'x' * 100},Hardware/Printers,New,High,Email,anna,Support,"
             "2026-03-02T08:15:00+01:00," for i in range(20000)]
    csv = tmp_path / "big.csv"
    csv.write_text("\n".join(rows) + "\n")
    cap = os.path.getsize(tmp_path / "s.db") + 200_000

    def small_disk():  # files may not grow beyond the cap: writes fail as on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (cap, cap))

    out = subprocess.run([sys.executable, "-m", "services87", "import", str(csv), "--db", db], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300, preexec_fn=small_disk)
    assert out.returncode == 3, (out.returncode, out.stderr[-500:])
    assert "the store failed" in out.stderr
