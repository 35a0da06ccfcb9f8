"""scripts/background.sh (used by scripts/test): a background step's exit status is kept in a file, not in bash's
memory of its children, which forgets a finished child once another child gets its PID (PIDs wrap within
minutes on a busy machine; a CI run failed so, "wait: pid N is not a child of this shell", exit 127)."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def bash(script: str, work: Path) -> str:
    out = subprocess.run(["bash", "-c", f"set -euo pipefail\nwork={work}\n. scripts/background.sh\n{script}"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"exit {out.returncode}\nstdout:\n{out.stdout}\nstderr:\n{out.stderr}"
    return out.stdout + out.stderr


def test_the_status_does_not_depend_on_the_shell_remembering_the_child(tmp_path):
    out = bash("""
        run_bg ok sh -c 'exit 0'
        run_bg three sh -c 'echo hello; exit 3'
        # a shell that does not know the child (as after bash forgot it): `wait` cannot tell
        ( wait "${bg_pid[ok]}" 2>/dev/null && echo "wait: 0" || echo "wait: $?" )
        ( bg_status ok && echo "ok: 0" )
        ( bg_status three || echo "three: $?" )
        bg_status three || echo "three again: $?"
        cat "$work/three.log"
    """, tmp_path)
    assert "wait: 127" in out  # what scripts/test's old `wait PID` gave then, although the step succeeded
    assert "ok: 0" in out and "three: 3" in out and "three again: 3" in out and "hello" in out


def test_a_step_killed_before_it_wrote_its_status_is_a_failure_not_a_hang(tmp_path):
    out = bash("""
        run_bg killed sh -c 'kill -KILL $PPID; sleep 1'
        bg_status killed || echo "killed: $?"
    """, tmp_path)
    assert "killed: 1" in out and "killed ended without an exit status" in out
