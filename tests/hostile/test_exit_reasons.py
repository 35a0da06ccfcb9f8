"""A server that exits says why in its log: the signal that stopped it, or the fatal signal and the stacks
(faulthandler). Before, a server killed by SIGBUS left a log that ended in the middle of normal work."""

from __future__ import annotations

import signal

from tests.support import ServerProcess, exit_status


def test_sigterm_is_logged(tmp_path):
    proc = ServerProcess(tmp_path, demo_requests=20).start()
    assert proc.stop(signal.SIGTERM) == 0, proc.describe()
    log = proc.log()
    assert "shutting down: received SIGTERM" in log and log.rstrip().endswith("stopped"), proc.describe()


def test_fatal_signal_leaves_a_trace(tmp_path):
    proc = ServerProcess(tmp_path, demo_requests=20).start()
    proc.proc.send_signal(signal.SIGBUS)  # what a truncated SQLite wal-index mapping does to the process
    code = proc.stop()
    assert exit_status(code) == "killed by SIGBUS (-7)"
    assert "Fatal Python error: Bus error" in proc.log(), proc.describe()
