"""``services87 serve --workers N``: several server processes on one port.

The parent process prepares the database (migrations, demo data), binds one listening socket per worker on
the same port with ``SO_REUSEPORT`` (so the kernel spreads new connections over the workers by a hash of the
connection, instead of handing them all to whichever worker wakes first) and starts N worker processes
(``services87 serve --worker-fd FD``) that each inherit their socket and adopt it with
``reactor.adoptStreamPort``. A restarted worker gets the same socket back, so connections queued on it while
it was down are not lost. Without ``SO_REUSEPORT`` all workers share one socket. The parent only
supervises: SIGTERM/SIGINT stop every worker; a worker that dies is restarted (at most ``MAX_RESTARTS`` within a
minute, then the whole server stops).

Workers share state through the database and a bus on PostgreSQL LISTEN/NOTIFY (:mod:`services87.engine.notify`):
change events reach the push subscribers of every worker, and Bayeux sessions are replicated
(:mod:`services87.bayeux.cluster`). SQLite has no such bus, so several workers need PostgreSQL; see
docs/deployment.md.
"""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from services87 import __version__
from services87.engine.storage.urls import describe_db

if TYPE_CHECKING:
    from services87.server import Services87Server

log = logging.getLogger("services87.workers")

MAX_RESTARTS = 5


class WorkersRefused(SystemExit):
    pass


def check_store(db_url: str, workers: int) -> None:
    if workers > 1 and not db_url.startswith("postgresql"):
        raise WorkersRefused(
            f"--workers {workers} needs PostgreSQL (db_url = postgresql+psycopg://...): workers share change events "
            "and Bayeux sessions through PostgreSQL LISTEN/NOTIFY, which SQLite does not have. Run one process on "
            "SQLite (it serves the benchmarked load on its own, see docs/deployment.md).")


def bind(host: str, port: int, backlog: int = 1024, reuseport: bool = False, listen: bool = True) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuseport:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    if listen:
        sock.listen(backlog)
    sock.setblocking(False)
    sock.set_inheritable(True)
    return sock


def bind_workers(host: str, port: int, workers: int) -> tuple[list[socket.socket], int]:
    """One listening socket per worker on the same port (``SO_REUSEPORT``), or one shared socket without it."""
    if not hasattr(socket, "SO_REUSEPORT"):
        sock = bind(host, port)
        return [sock] * workers, sock.getsockname()[1]
    # A bound, never-listening probe reserves the port (port 0 picks one) while the workers' sockets join it;
    # it takes no connections itself and is closed once they listen.
    probe = bind(host, port, reuseport=True, listen=False)
    actual = probe.getsockname()[1]
    try:
        socks = [bind(host, actual, reuseport=True) for _ in range(workers)]
    finally:
        probe.close()
    return socks, actual


def worker_args(args, fd: int, index: int) -> list[str]:
    out = [sys.executable, "-m", "services87", "serve", "--worker-fd", str(fd), "--worker-index", str(index),
           "--db", args.resolved_db_url]
    if args.config:
        out += ["--config", args.config]
    if args.host:
        out += ["--host", args.host]
    if getattr(args, "log_format", None):
        out += ["--log-format", args.log_format]
    if args.simulate and index == 0:
        out.append("--simulate")  # one simulator for the whole server
    return out


def run_parent(args, settings) -> int:
    """Bind, start ``args.workers`` workers, supervise them until SIGTERM/SIGINT. Returns the exit code."""
    check_store(settings.db_url, args.workers)
    socks, actual = bind_workers(settings.host, settings.port, args.workers)
    args.resolved_db_url = settings.db_url
    procs: dict[int, subprocess.Popen] = {}
    restarts: list[float] = []
    stopping = False

    def start(i: int) -> None:
        fd = socks[i].fileno()
        procs[i] = subprocess.Popen(worker_args(args, fd, i), pass_fds=(fd,))

    def stop(signum=None, frame=None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, lambda signum, frame: log.warning(
        "SIGHUP ignored: services87 has no reload; restart it to apply changed settings"))
    for i in range(args.workers):
        start(i)
    if args.port_file:
        tmp = Path(args.port_file + ".tmp")
        tmp.write_text(str(actual))
        tmp.replace(args.port_file)
    print(f"services87 {__version__} listening on http://{settings.host}:{actual}/ with {args.workers} workers "
          f"(database {describe_db(settings.db_url)})", flush=True)
    code = 0
    while not stopping:
        time.sleep(0.2)
        for i, p in list(procs.items()):
            if p.poll() is None or stopping:
                continue
            now = time.monotonic()
            restarts[:] = [t for t in restarts if now - t < 60] + [now]
            if len(restarts) > MAX_RESTARTS:
                log.error("workers keep dying (last exit code %s); stopping", p.returncode)
                code, stopping = 1, True
                break
            log.warning("worker %d exited with %s; restarting it", i, p.returncode)
            start(i)
    for p in procs.values():
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 30
    for p in procs.values():
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
    for sock in set(socks):
        sock.close()
    return code


def run_worker(hs: Services87Server, fd: int, index: int):
    """In a worker process (``hs`` built with ``worker=index``): join the bus, build the site, adopt the
    inherited socket. Returns the port."""
    settings = hs.settings
    check_store(settings.db_url, 2)
    hs.get_bus()  # first: the Bayeux servers the site builds replicate their sessions over it
    site = hs.get_site()
    tag = str(index).encode()
    base = site.requestFactory

    class WorkerRequest(base):  # type: ignore[valid-type, misc]  # the site's request class  # which worker answered: for operators and the multi-worker test
        def process(self):
            self.setHeader(b"x-services87-worker", tag)
            return super().process()

    site.requestFactory = WorkerRequest
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    return hs.adopt(fd, family)  # the connection cap applies per worker process
