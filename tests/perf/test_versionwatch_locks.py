"""Regression: reading the version watch's change signal must not drop this process's SQLite locks.

SQLite's locks on the ``-shm`` wal-index are POSIX advisory locks: closing any descriptor of that file in the
process releases them all. The watch used to open and close ``-shm`` on every read; the next process opening
the database (``services87 simulate`` / ``users`` / ``import`` beside a running server) then found no other
user, re-initialised the ``-shm``, and the server, which has it mapped, died of SIGBUS without a word in its
log (tests/genesys/test_live_feed.py failed with "Connection refused" from test_cli_simulate on).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap

from services87.engine.versionwatch import sqlite_signal

#: SQLite's "dead man switch" byte in the -shm file (UNIX_SHM_BASE 120 + SQLITE_SHM_NLOCK 8): every process
#: with the database open holds a shared lock on it; an exclusive lock means "nobody else, re-initialise".
DMS = 128

PROBE = textwrap.dedent("""
    import fcntl, os, sys
    fd = os.open(sys.argv[1], os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, int(sys.argv[2]))
    except OSError:
        print("held")
    else:
        print("free")  # (released again when this process exits; nothing is written)
""")


def dms_lock(path: str) -> str:
    """'held' while some other process keeps SQLite's shared lock on the -shm, 'free' otherwise."""
    out = subprocess.run([sys.executable, "-c", PROBE, path + "-shm", str(DMS)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_reading_the_signal_keeps_sqlite_locks_on_the_wal_index(tmp_path):
    path = str(tmp_path / "w.db")
    con = sqlite3.connect(path, isolation_level=None)  # as the server's pool: a connection kept open
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE t (x INTEGER)")
    con.execute("INSERT INTO t VALUES (1)")
    assert dms_lock(path) == "held"  # the probe sees SQLite's lock
    for _ in range(3):
        assert sqlite_signal(path) is not None
    assert dms_lock(path) == "held", "reading the signal released this process's SQLite locks on the -shm"
    con.execute("INSERT INTO t VALUES (2)")
    assert sqlite_signal(path) is not None
    assert dms_lock(path) == "held"
    con.close()


def test_signal_follows_a_recreated_database(tmp_path):
    """-wal/-shm deleted when the last connection closes and created again: the signal reads the new files."""
    path = str(tmp_path / "w.db")
    for round_ in range(3):
        con = sqlite3.connect(path, isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
        before = sqlite_signal(path)
        con.execute("INSERT INTO t VALUES (?)", (round_,))
        after = sqlite_signal(path)
        assert before is not None and after is not None and after != before
        con.close()
        assert sqlite_signal(path) is None  # files gone with the last connection
