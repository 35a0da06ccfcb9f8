"""Logging for ``services87 serve``: stdlib logging, as text or one JSON object per line.

Twisted's own log events (twisted.logger, used by the Bayeux server) are routed into stdlib logging, so both
formats carry every event. Access log lines come from ``services87.access`` (services87/http/limits.py) with the
fields ``request_id``, ``contract``, ``user``, ``status``, ``duration_ms``, ``method``, ``path`` and ``client``.
Paths are logged without their query string, and no credential ever reaches a log call.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime

from twisted.logger import STDLibLogObserver, globalLogBeginner

#: LogRecord attributes that are not ``extra`` fields.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


class TextFormatter(logging.Formatter):
    """``logging.Formatter`` whose time stamp (local time, milliseconds) is made once per second, not per line:
    the access log writes a line for every request."""

    _second = -1
    _stamp = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 (stdlib)
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        if second != self._second:
            self._stamp = time.strftime(self.default_time_format, self.converter(record.created))
            self._second = second
        return f"{self._stamp},{int(record.msecs):03d}"  # logging's default_msec_format, "%s,%03d"


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


def setup(level: str = "info", fmt: str = "text", worker: int | None = None) -> None:
    """Configure the root logger (stderr) and route twisted.logger events into it."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(worker))
    else:
        prefix = f"[w{worker}] " if worker is not None else ""
        handler.setFormatter(TextFormatter(f"%(asctime)s %(levelname)s {prefix}%(name)s: %(message)s"))
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
    globalLogBeginner.beginLoggingTo([STDLibLogObserver(name="twisted")], redirectStandardIO=False,
                                     discardBuffer=True)
