"""services87/logs.py: the time stamps made once per second are the ones the standard library makes per line."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import random
import threading
import time
from datetime import UTC, datetime

import pytest

from services87 import logs
from services87.logs import JsonFormatter, TextFormatter


def _instants() -> list[float]:
    rnd = random.Random(87)
    base = 1_764_511_200  # 2025-11-30T14:00:00Z
    edges = [base + s + f for s in (0, 1, 59, 3600) for f in (0.0, 0.0004, 0.0005, 0.0009996, 0.4995, 0.999, 0.9995,
                                                                0.99999, 0.9999999)]
    spread = [base + rnd.uniform(-4e8, 4e8) for _ in range(20_000)]
    # the same second again and again (the cache), then one second back (a clock set back)
    return edges + spread + [base + 0.1, base + 0.2, base - 0.7, base + 0.3]


def test_json_time_stamps_equal_isoformat_with_milliseconds():
    f = JsonFormatter()
    for t in _instants():
        assert f.timestamp(t) == datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds"), t


def test_text_time_stamps_equal_logging_formatter():
    ours = TextFormatter("%(asctime)s %(message)s")
    stdlib = logging.Formatter("%(asctime)s %(message)s")
    for t in _instants()[:5_000]:
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
        record.created = t
        record.msecs = int((t - int(t)) * 1000) + 0.0  # as LogRecord computes it
        assert ours.formatTime(record) == stdlib.formatTime(record), t
        assert ours.formatTime(record, "%H") == stdlib.formatTime(record, "%H")


def test_a_record_still_carries_what_the_formats_show():
    """The switched-off lookups (caller, thread, process) are none of the fields either format prints."""
    logging.getLogger("services87.test").handlers.clear()
    record = logging.LogRecord("services87.test", logging.WARNING, __file__, 7, "hello %s", ("there",), None)
    record.created = time.time()
    text = TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s").format(record)
    assert text.endswith(" WARNING services87.test: hello there")
    doc = JsonFormatter(worker=2).format(record)
    assert '"level": "warning"' in doc and '"message": "hello there"' in doc and '"worker": 2' in doc


# --------------------------------------------------------------------------- access lines without a LogRecord
ACCESS = logging.getLogger("services87.access")
FIELDS = [
    {"request_id": "ab12cd34", "contract": "rest", "user": "anna", "status": 200, "duration_ms": 1.23,
     "method": "POST", "path": "/api/v1/Agents/CustomerService/GetStatistics", "client": "127.0.0.1",
     "aborted": None},
    {"request_id": "x" * 16, "contract": None, "user": None, "status": 404, "duration_ms": 0.0, "method": "GET",
     "path": "/ünïcode/\u2603?", "client": None, "aborted": True},
]


@pytest.mark.parametrize("fmt,worker", [("text", None), ("text", 3), ("json", None), ("json", 1)])
@pytest.mark.parametrize("fields", FIELDS)
def test_an_access_line_is_what_the_formatter_makes_of_the_record(fmt, worker, fields):
    formatter = logs.make_handler(fmt, worker).formatter
    message = f"{fields['client'] or '-'} {fields['method']} {fields['path']} {fields['status']} 1.2ms x"
    for t in _instants()[:2_000]:
        record = ACCESS.makeRecord(ACCESS.name, logging.INFO, __file__, 1, "%s", (message,), None, extra=fields)
        record.created = t
        record.msecs = int((t - int(t)) * 1000) + 0.0
        assert formatter.access_line(t, record.msecs, ACCESS.name, message, fields) == formatter.format(record)


@contextlib.contextmanager
def installed(monkeypatch):
    """``logs.setup``'s handler on a StringIO as the root logger's only handler, inside a test's body (pytest's
    log capture, added for the body, is put back after); yields the stream and the names of the LogRecords made."""
    stream = io.StringIO()
    handler = logs.make_handler("json", None, stream)
    root = logging.getLogger()
    monkeypatch.setattr(logs, "_handler", handler)
    monkeypatch.setattr(root, "level", logging.INFO)
    made: list[str] = []
    factory = logging.getLogRecordFactory()
    monkeypatch.setattr(logging, "_logRecordFactory", lambda *a, **kw: made.append(a[0]) or factory(*a, **kw))
    saved = root.handlers[:]
    root.handlers[:] = [handler]
    root.manager._clear_cache()  # noqa: SLF001 (isEnabledFor's cache)
    try:
        yield stream, made
    finally:
        root.handlers[:] = saved
        root.manager._clear_cache()  # noqa: SLF001


def test_access_writes_the_line_itself_under_the_servers_handler(monkeypatch):
    with installed(monkeypatch) as (stream, made):
        logs.access(ACCESS, "127.0.0.1 GET /health 200 0.1ms r1", FIELDS[0])
    assert made == []  # no LogRecord
    doc = json.loads(stream.getvalue())
    assert doc["message"] == "127.0.0.1 GET /health 200 0.1ms r1" and doc["logger"] == "services87.access"
    assert doc["request_id"] == "ab12cd34" and "aborted" not in doc


@pytest.mark.parametrize("obstacle", ["handler", "filter", "no-propagate", "root-filter", "foreign-formatter"])
def test_access_logs_a_record_when_anything_else_may_see_it(monkeypatch, obstacle):
    seen: list[logging.LogRecord] = []
    other = logging.Handler()
    other.emit = seen.append  # type: ignore[method-assign]
    parent = logging.getLogger("services87")
    with installed(monkeypatch) as (stream, made), contextlib.ExitStack() as undo:
        if obstacle == "handler":
            parent.addHandler(other)
            undo.callback(parent.removeHandler, other)
        elif obstacle == "filter":
            ACCESS.addFilter(lambda r: seen.append(r) or True)
            undo.callback(ACCESS.filters.clear)
        elif obstacle == "root-filter":
            logs._handler.addFilter(lambda r: seen.append(r) or True)  # noqa: SLF001
        elif obstacle == "foreign-formatter":
            logs._handler.setFormatter(logging.Formatter("%(message)s"))  # noqa: SLF001
        else:
            ACCESS.propagate = False
            ACCESS.addHandler(other)
            undo.callback(setattr, ACCESS, "propagate", True)
            undo.callback(ACCESS.removeHandler, other)
        logs.access(ACCESS, "127.0.0.1 GET /health 200 0.1ms r2", FIELDS[0])
    assert made == ["services87.access"]
    if obstacle != "foreign-formatter":
        assert [r.getMessage() for r in seen] == ["127.0.0.1 GET /health 200 0.1ms r2"]
        assert seen[0].request_id == "ab12cd34"
    if obstacle in ("handler", "filter", "root-filter"):  # the server's handler still writes it
        assert json.loads(stream.getvalue())["request_id"] == "ab12cd34"


class _Writes(io.StringIO):
    """A stream that keeps each ``write`` apart."""

    def __init__(self):
        super().__init__()
        self.writes: list[str] = []

    def write(self, s):
        self.writes.append(s)
        return super().write(s)


def _held_handler():
    stream = _Writes()
    handler = logs.make_handler("text", None, stream)
    scheduled: list = []
    handler.hold_per_turn(scheduled.append)
    return handler, stream, scheduled


def test_access_lines_of_one_turn_are_written_together_at_its_end():
    handler, stream, scheduled = _held_handler()
    for i in range(3):
        handler.write_line(f"line {i}")
    assert stream.getvalue() == "" and len(scheduled) == 1  # one call at the end of the turn, not one per line
    scheduled.pop()()
    assert stream.writes == ["line 0\nline 1\nline 2\n"]
    handler.write_line("line 3")
    assert len(scheduled) == 1  # the next turn's


def test_any_other_record_writes_the_held_lines_first():
    handler, stream, scheduled = _held_handler()
    handler.write_line("GET /a")
    handler.handle(logging.LogRecord("services87.x", logging.WARNING, __file__, 1, "after a", (), None))
    assert stream.getvalue().startswith("GET /a\n") and stream.getvalue().endswith("WARNING services87.x: after a\n")
    scheduled.pop()()  # nothing left to write
    assert stream.getvalue().count("GET /a") == 1


def test_a_write_to_a_pipe_is_never_longer_than_pipe_buf():
    handler, stream, scheduled = _held_handler()
    lines = [f"127.0.0.1 POST /api/v1/{('x' if i % 2 else 'ü€') * (i % 300)} 200 1.0ms {i:08x}" for i in range(200)]
    for line in lines:
        handler.write_line(line)
    handler.flush()
    assert stream.getvalue() == "".join(line + "\n" for line in lines)
    assert len(stream.writes) > 1 and all(len(w.encode()) <= logs.PIPE_BUF for w in stream.writes)
    assert all(w.endswith("\n") for w in stream.writes)


def test_lines_from_another_thread_are_written_at_once():
    handler, stream, scheduled = _held_handler()
    handler.write_line("held")
    t = threading.Thread(target=handler.write_line, args=("from a store thread",))
    t.start()
    t.join()
    assert stream.writes == ["held\n", "from a store thread\n"] and len(scheduled) == 1


def test_held_lines_are_written_when_logging_shuts_down():
    handler, stream, scheduled = _held_handler()
    handler.write_line("last words")
    logging.shutdown([lambda: handler])  # what the logging module runs at exit, for this handler
    assert stream.getvalue() == "last words\n"
