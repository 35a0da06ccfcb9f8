"""Logging for ``services87 serve``: stdlib logging, as text or one JSON object per line.

Twisted's own log events (twisted.logger, used by the Bayeux server) are routed into stdlib logging, so both
formats carry every event. Access log lines come from ``services87.access`` (services87/http/limits.py) with the
fields ``request_id``, ``contract``, ``user``, ``status``, ``duration_ms``, ``method``, ``path`` and ``client``.
Paths are logged without their query string, and no credential ever reaches a log call.

An access line is written by :func:`access`. Under the handler that :func:`setup` installs it formats the line
itself, as the handler's formatter would format the record (``tests/ops/test_logs.py`` proves the two equal for
both formats), without making a ``LogRecord``: a record and its generic formatting were about a tenth of the CPU
of a warm REST request. When anything else may see the records (a handler or filter on the way, as pytest's log
capture adds), it logs the record as before.

Access lines written on the reactor thread are held until the end of the reactor's turn
(:meth:`ServerHandler.hold_per_turn`) and written with one system call, in chunks of at most ``PIPE_BUF`` bytes
(so that lines of several worker processes on one pipe never mix); any other record writes them first, so lines
keep the order of events, and the logging module's flush at exit writes what is still held.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from twisted.logger import STDLibLogObserver, globalLogBeginner

#: The text format; ``{prefix}`` is ``[w<n>] `` in a worker process.
TEXT_FORMAT = "%(asctime)s %(levelname)s {prefix}%(name)s: %(message)s"

#: LogRecord attributes that are not ``extra`` fields.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


class TextFormatter(logging.Formatter):
    """``logging.Formatter`` whose time stamp (local time, milliseconds) is made once per second, not per line:
    the access log writes a line for every request. Its format is :data:`TEXT_FORMAT` after ``prefix``."""

    _second = -1
    _stamp = ""

    def __init__(self, fmt: str | None = None, prefix: str = ""):
        super().__init__(fmt if fmt is not None else TEXT_FORMAT.format(prefix=prefix))
        self.prefix = prefix

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 (stdlib)
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        return f"{self._stamp_of(record.created)},{int(record.msecs):03d}"  # default_msec_format, "%s,%03d"

    def _stamp_of(self, created: float) -> str:
        """The time stamp up to the second, made once per second."""
        second = int(created)
        if second != self._second:
            self._stamp = time.strftime(self.default_time_format, self.converter(created))
            self._second = second
        return self._stamp

    def access_line(self, created: float, msecs: float, name: str, message: str, fields: dict) -> str:
        """What :meth:`format` makes of an INFO record of logger ``name`` with this message (``fields``, the
        record's ``extra``, are not shown in text)."""
        return f"{self._stamp_of(created)},{int(msecs):03d} INFO {self.prefix}{name}: {message}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``message``, extra fields, ``exc`` if any."""

    def __init__(self, worker: int | None = None):
        super().__init__()
        self.worker = worker
        self._second = -1
        self._stamp = ""

    def timestamp(self, created: float) -> str:
        """ISO 8601 in UTC with milliseconds (``2026-11-30T14:00:00.123+00:00``); the part up to the second is
        made once per second."""
        second = int(created)
        micros = round((created - second) * 1e6)  # as datetime rounds it, then cut to milliseconds as isoformat does
        if micros >= 1_000_000:
            return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
        if second != self._second:
            self._stamp = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._second = second
        return f"{self._stamp}.{micros // 1000:03d}+00:00"

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {"ts": self.timestamp(record.created),
               "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        if self.worker is not None:
            doc["worker"] = self.worker
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_") and value is not None:
                doc[key] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=str)

    def access_line(self, created: float, msecs: float, name: str, message: str, fields: dict) -> str:
        """What :meth:`format` makes of an INFO record of logger ``name`` with this message and ``extra``."""
        doc: dict[str, object] = {"ts": self.timestamp(created), "level": "info", "logger": name, "message": message}
        if self.worker is not None:
            doc["worker"] = self.worker
        for key, value in fields.items():
            if value is not None:
                doc[key] = value
        return json.dumps(doc, ensure_ascii=False, default=str)


#: The most bytes one write to a pipe keeps whole (POSIX ``PIPE_BUF`` on Linux).
PIPE_BUF = 4096


class ServerHandler(logging.StreamHandler):
    """The handler of :func:`setup`: a ``StreamHandler`` that can hold the access lines of one reactor turn."""

    def __init__(self, stream=None):
        super().__init__(stream)
        self._held: list[str] = []
        self._held_size = 0
        self._schedule: Callable[[Callable[[], None]], object] | None = None
        self._thread: int | None = None

    def hold_per_turn(self, schedule: Callable[[Callable[[], None]], object] | None,
                      thread: int | None = None) -> None:
        """Hold lines written on ``thread`` (default: this one) until ``schedule(fn)``'s ``fn`` runs, at the end of
        the reactor's turn (``lambda fn: reactor.callLater(0, fn)``); ``None`` writes every line at once."""
        self.flush()
        self._schedule = schedule
        self._thread = threading.get_ident() if thread is None else thread

    def write_line(self, line: str) -> None:
        """Write one formatted line (held when on the reactor's thread and holding)."""
        self.acquire()
        try:
            line += self.terminator
            if self._schedule is None or threading.get_ident() != self._thread:
                self._write_held()
                self.stream.write(line)
                super().flush()
                return
            size = len(line) if line.isascii() else len(line.encode("utf-8", "replace"))  # PIPE_BUF is bytes
            if self._held_size + size > PIPE_BUF:
                self.flush()
            if not self._held:
                self._schedule(self.flush)
            self._held.append(line)
            self._held_size += size
        finally:
            self.release()

    def _write_held(self) -> None:
        if self._held:
            self.stream.write("".join(self._held))
            self._held.clear()
            self._held_size = 0

    def flush(self) -> None:
        self.acquire()
        try:
            self._write_held()
            super().flush()
        finally:
            self.release()

    def emit(self, record: logging.LogRecord) -> None:
        if self._held:
            self.flush()
        super().emit(record)


def make_handler(fmt: str = "text", worker: int | None = None, stream=None) -> ServerHandler:
    """The handler of :func:`setup`: ``stream`` (stderr) in the text or JSON format."""
    handler = ServerHandler(sys.stderr if stream is None else stream)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(worker))
    else:
        handler.setFormatter(TextFormatter(prefix=f"[w{worker}] " if worker is not None else ""))
    return handler


def hold_per_turn(reactor) -> None:
    """Hold the access lines of each turn of ``reactor`` (run on this thread) and write them together."""
    if _handler is not None:
        _handler.hold_per_turn(lambda fn: reactor.callLater(0, fn))


def setup(level: str = "info", fmt: str = "text", worker: int | None = None) -> None:
    """Configure the root logger (stderr) and route twisted.logger events into it."""
    global _handler
    handler = make_handler(fmt, worker)
    # Neither format shows the caller's file and line, thread or process: do not collect them for every record
    # (the logging HOWTO's "Optimization"; the access log makes a record for every request).
    logging._srcfile = None  # noqa: SLF001 (the documented switch)
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    setattr(logging, "logAsyncioTasks", False)  # Python 3.12+  # noqa: B010
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    _handler = handler
    globalLogBeginner.beginLoggingTo([STDLibLogObserver(name="twisted")], redirectStandardIO=False,
                                     discardBuffer=True)


#: The handler :func:`setup` installed (its formatter has ``access_line``), or None.
_handler: ServerHandler | None = None


def _direct(logger: logging.Logger) -> ServerHandler | None:
    """The handler of :func:`setup` if it is the only one that would see an INFO record of ``logger``, with no
    filter on the way; else None."""
    handler = _handler
    if handler is None or handler.filters or handler.level > logging.INFO \
            or not hasattr(handler.formatter, "access_line"):
        return None
    node: logging.Logger | None = logger
    while node is not None:
        if node.filters:
            return None
        if node.handlers:
            return handler if node.parent is None and node.handlers == [handler] else None
        if not node.propagate:
            return None
        node = node.parent
    return None


def access(logger: logging.Logger, message: str, fields: dict) -> None:
    """Log ``message`` at INFO with ``fields`` as the record's ``extra``; the caller has checked
    ``logger.isEnabledFor(logging.INFO)``. See the module docstring."""
    handler = _direct(logger)
    if handler is None:
        logger.info("%s", message, extra=fields)
        return
    created = time.time()
    try:
        line = handler.formatter.access_line(created, (created - int(created)) * 1000,  # type: ignore[union-attr]
                                             logger.name, message, fields)
        handler.write_line(line)
    except Exception:  # as Handler.emit does: a log line never breaks the request
        handler.handleError(logging.LogRecord(logger.name, logging.INFO, "", 0, message, (), None))
