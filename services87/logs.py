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
from datetime import UTC, datetime

from twisted.logger import STDLibLogObserver, globalLogBeginner

#: LogRecord attributes that are not ``extra`` fields.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``message``, extra fields, ``exc`` if any."""

    def __init__(self, worker: int | None = None):
        super().__init__()
        self.worker = worker

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {"ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
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
        handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s {prefix}%(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    globalLogBeginner.beginLoggingTo([STDLibLogObserver(name="twisted")], redirectStandardIO=False,
                                     discardBuffer=True)
