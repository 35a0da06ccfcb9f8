"""``bench/run --scaling``: the panels series runs end to end on a small database and its report is written
from the saved figures (``--from-json``), between the markers of a copy of docs/performance.md.

The workers (PostgreSQL, wrk, Node) and long-polling (Node) series need the bench's tools and minutes of
load: they are run by ``bench/run --scaling``, not here. Nothing asserts on a timing.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support import ROOT, explain


def test_scaling_panels_series_and_report(tmp_path):
    cache = tmp_path / "cache"
    out = subprocess.run([sys.executable, "bench/main.py", "--scaling", "--only", "panels", "--sizes", "1500,3000",
                          "--runs", "3", "--cache-dir", str(cache), "--no-write"],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, explain(out)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("panels: ")]
    assert [ln.split()[1] for ln in lines] == ["requests=1500", "requests=3000"], out.stdout
    assert (cache / "demo-1500.db").exists() and (cache / "demo-3000.db").exists()

    saved = json.loads((cache / "scaling-last.json").read_text())
    assert [r["requests"] for r in saved["panels"]] == [1500, 3000]
    assert all(r["cold_p50_ms"] > 0 and r["warm_p50_ms"] > 0 and r["base_runs"] >= 3 for r in saved["panels"])

    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import scaling  # noqa: PLC0415  (bench/ is not a package: importable once on sys.path)
    finally:
        sys.path.remove(str(ROOT / "bench"))
    doc = tmp_path / "performance.md"
    doc.write_text(f"# Performance\n\nbefore\n\n{scaling.START}\nold figures\n{scaling.END}\n\nafter\n")
    text = scaling.report(saved)
    doc.write_text(doc.read_text().replace("old figures", text))
    written = doc.read_text()
    assert "| 1,500 |" in written and "| 3,000 |" in written and "before" in written and "after" in written
    assert "From 1,500 to 3,000 requests (2×)" in written
