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
    log = proc.log()
    assert "Fatal Python error: Bus error" in log, proc.describe()
    # The signal goes to any thread of the process; faulthandler dumps every thread's stack, and reading the
    # frames of another thread that is running can itself crash it (seen on Python 3.12: "Fatal Python error:
    # Segmentation fault" in the middle of the dump). The process then dies of SIGSEGV, after the trace.
    if "Fatal Python error: Segmentation fault" in log:
        assert exit_status(code) == "killed by SIGSEGV (-11)", proc.describe()
    else:
        assert exit_status(code) == "killed by SIGBUS (-7)", proc.describe()
