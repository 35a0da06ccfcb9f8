"""services87/logs.py: the time stamps made once per second are the ones the standard library makes per line."""

from __future__ import annotations

import logging
import random
import time
from datetime import UTC, datetime

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
