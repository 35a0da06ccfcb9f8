"""``services87 import``: validation with line numbers, all-or-nothing, --skip-bad, upsert, batches, interruption."""

from __future__ import annotations

import csv
import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services87 import demo
from services87.engine.importer import ImportFileError, import_file
from services87.engine.model import StatContext, StatusScreenPanelType as P
from services87.engine.business_hours import BusinessCalendar
from services87.engine.storage import Store
from tests.engine.helpers import ROOT, assert_aggregates_consistent, cli_env, run_cli

HEADER = "external_id,title,category,status,priority,origin,owner,group,created,closed\n"
GOOD = "G{n},Title {n},Hardware/Printers,New,High,Email,anna,Support,2026-03-02T08:15:00+01:00,\n"


@pytest.fixture
def ref_store(store):
    """The demo data set's users, groups, statuses, priorities and categories, no requests."""
    demo.ensure_reference(store, hash_passwords=False)
    return store


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode() if isinstance(text, str) else text)
    return p


def count(store) -> int:
    return store.count_requests()


def reference_db(path: Path) -> str:
    """A database file holding the demo reference data (no requests), made in-process (no password hashing)."""
    store = Store(f"sqlite:///{path}")
    store.migrate()
    demo.ensure_reference(store, hash_passwords=False)
    store.close()
    return str(path)


# --------------------------------------------------------------------------- bad rows
BAD_CSV_ROWS = [
    ("B1,t,A//B,New,,,,,2026-01-01T00:00:00Z,", "category 'A//B': empty level"),
    ("B2,t,,Nope,,,,,2026-01-01T00:00:00Z,", "unknown status 'Nope'"),
    ("B3,t,,,,,,,2026-01-01T00:00:00Z,", "status is required"),
    ("B4,t,,New,Urgent,,,,2026-01-01T00:00:00Z,", "unknown priority 'Urgent'"),
    ("B5,t,,New,,Pigeon,,,2026-01-01T00:00:00Z,", "unknown origin 'Pigeon'"),
    ("B6,t,,New,,,zed,,2026-01-01T00:00:00Z,", "unknown owner 'zed'"),
    ("B7,t,,New,,,,Nobody,2026-01-01T00:00:00Z,", "unknown group 'Nobody'"),
    ("B8,t,,New,,,,,2026-01-01T00:00:00,", "has no UTC offset"),
    ("B9,t,,New,,,,,yesterday,", "neither ISO 8601 nor epoch seconds"),
    ("B10,t,,New,,,,,,", "created is required"),
    ("B11,t,,New,,,,,2026-01-02T00:00:00Z,2026-01-01T00:00:00Z", "closed is before created"),
    (",t,,New,,,,,2026-01-01T00:00:00Z,", "external_id is required"),
    ("B12,only three,cells", "3 cells, but the header has 10 columns"),
    ("G1,dup,,New,,,,,2026-01-01T00:00:00Z,", "external_id 'G1' already on line 2"),
    ("B13," + "x" * 501 + ",,New,,,,,1,", "title: longer than 500 characters"),
    ("B14,t,,New,,,,,99999999999999,", "out of range"),
    ("B15\x07,t,,New,,,,,1,", "external_id: control characters are not allowed"),
    ("B16,t,Hardware/,New,,,,,1,", "category 'Hardware/': empty level"),
]


def test_every_kind_of_bad_csv_row_is_reported_with_its_line(ref_store, tmp_path):
    lines = [GOOD.format(n=1)] + [row + "\n" for row, _ in BAD_CSV_ROWS] + [GOOD.format(n=2)]
    path = write(tmp_path, "bad.csv", HEADER + "".join(lines))
    version = ref_store.data_version()
    report = import_file(ref_store, path)
    assert not report.ok and report.loaded == 0
    assert [(e.line, ) for e in report.errors] == [(i + 3,) for i in range(len(BAD_CSV_ROWS))]
    for err, (_row, reason) in zip(report.errors, BAD_CSV_ROWS):
        assert reason in err.reason, (err.line, err.reason)
    # all-or-nothing: not a single row, category or version bump
    assert count(ref_store) == 0 and ref_store.data_version() == version
    assert "nothing imported" in report.summary() and report.rows == len(lines)


BAD_JSONL_ROWS = [
    ('[1, 2]', "expected a JSON object, got list"),
    ('{"external_id": "J1", ', "invalid JSON"),
    ('{"external_id": "J2", "status": "New", "created": 1, "colour": "red"}', "unknown field(s) 'colour'"),
    ('{"external_id": "J3", "status": "New", "created": true}', "created: expected a timestamp"),
    ('{"external_id": "J4", "status": "New", "created": 1, "messages": {"direction": "in"}}', "messages: expected a list"),
    ('{"external_id": "J5", "status": "New", "created": 1, "messages": [{"direction": "up", "at": 1}]}',
     "direction must be 'in' or 'out'"),
    ('{"external_id": "J6", "status": "New", "created": 1, "messages": [{"direction": "out", "at": 5}]}',
     "an outbound reply needs an author"),
    ('{"external_id": "J7", "status": "New", "created": 1, "messages": [{"direction": "out", "author": "nobody", "at": 5}]}',
     "unknown messages[1] author 'nobody'"),
    ('{"external_id": "J8", "status": "New", "created": 1, "messages": [{"direction": "in"}]}', "messages[1]: at is required"),
    ('{"external_id": "J9", "status": "New", "created": 1, "owner": ["anna"]}', "owner: expected text"),
]


def test_every_kind_of_bad_jsonl_row_is_reported_with_its_line(ref_store, tmp_path):
    good = '{"external_id": "OK1", "status": "New", "created": "2026-03-01T10:00:00Z"}'
    raw = "\n".join([good, ""] + [row for row, _ in BAD_JSONL_ROWS]).encode() + b"\n\xff\xfe not utf-8\n"
    report = import_file(ref_store, write(tmp_path, "bad.ndjson", raw))
    expected = [(i + 3, reason) for i, (_r, reason) in enumerate(BAD_JSONL_ROWS)]
    expected.append((len(BAD_JSONL_ROWS) + 3, "not valid UTF-8"))
    assert [e.line for e in report.errors] == [line for line, _ in expected]
    for err, (_line, reason) in zip(report.errors, expected):
        assert reason in err.reason, (err.line, err.reason)
    assert count(ref_store) == 0


def test_file_level_errors(ref_store, tmp_path):
    with pytest.raises(ImportFileError, match=r"h\.csv:1: bad header: unknown column"):
        import_file(ref_store, write(tmp_path, "h.csv", "external_id,status,created,colour\nX,New,1,red\n"))
    with pytest.raises(ImportFileError, match="missing column"):
        import_file(ref_store, write(tmp_path, "m.csv", "external_id,title\nX,t\n"))
    with pytest.raises(ImportFileError, match="extension"):
        import_file(ref_store, write(tmp_path, "x.txt", "{}"))
    with pytest.raises(ImportFileError, match=r"e\.csv: empty file"):
        import_file(ref_store, write(tmp_path, "e.csv", ""))
    with pytest.raises(ImportFileError, match="No such file"):
        import_file(ref_store, tmp_path / "missing.csv")
    # --format overrides the extension
    report = import_file(ref_store, write(tmp_path, "x.txt", '{"external_id": "F1", "status": "New", "created": 1}\n'),
                         fmt="jsonl")
    assert report.ok and count(ref_store) == 1


def test_skip_bad_loads_the_good_rows(ref_store, tmp_path):
    rows = [GOOD.format(n=1), "B1,t,,Nope,,,,,1,\n", GOOD.format(n=2)]
    report = import_file(ref_store, write(tmp_path, "s.csv", HEADER + "".join(rows)), skip_bad=True)
    assert [e.line for e in report.errors] == [3] and report.loaded == 2 and count(ref_store) == 2
    assert "1 bad row skipped" in report.summary()
    assert_aggregates_consistent(ref_store)


def test_csv_quoting_bom_multiline_and_timestamps(ref_store, tmp_path):
    text = ("\ufeffexternal_id,status,created,title,closed\n"
            'Q1,New,2026-03-01T10:00:00+05:45,"A, ""quoted""\nmultiline title",\n'
            "\n"
            "Q2,Closed,1772359200,plain,2026-03-01T12:00:00.5Z\n"
            "Q3,New,1772359200.75,,\n")
    report = import_file(ref_store, write(tmp_path, "q.csv", text))
    assert report.ok, report.errors
    q1 = ref_store.get_request(external_id="Q1")
    assert q1["title"] == 'A, "quoted"\nmultiline title'
    assert q1["created_ts"] == 1772338500  # 10:00 at +05:45 = 04:15 UTC
    assert ref_store.get_request(external_id="Q2")["closed_ts"] == 1772366400
    assert ref_store.get_request(external_id="Q3")["created_ts"] == 1772359200


def test_upsert_by_external_id_updates_counts(ref_store, settings, tmp_path):
    from services87.engine.engine import StatisticsEngine

    engine = StatisticsEngine(ref_store, settings)
    ctx = StatContext(language="en")

    def per_status():
        return {v.label: v.value for v in engine.compute(ctx, [P.OpenRequestsPerStatus])[0].values}

    first = HEADER + "".join(GOOD.format(n=i) for i in range(5))
    assert import_file(ref_store, write(tmp_path, "a.csv", first)).inserted == 5
    assert per_status()["New"] == 5
    second = HEADER + GOOD.format(n=0).replace(",New,", ",Closed,") + GOOD.format(n=1).replace(
        ",New,", ",In progress,") + GOOD.format(n=9)
    report = import_file(ref_store, write(tmp_path, "b.csv", second))
    assert (report.inserted, report.updated) == (1, 2) and count(ref_store) == 6
    assert per_status() == {"New": 4, "In progress": 1}  # postponed statuses are not open
    assert ref_store.get_request(external_id="G0")["closed_ts"] is not None
    assert_aggregates_consistent(ref_store)


def test_jsonl_messages_give_response_times_and_are_replaced_on_reimport(ref_store, settings, tmp_path):
    from services87.engine.engine import StatisticsEngine
    from datetime import datetime, timezone

    def row(reply_after_min):
        return json.dumps({"external_id": "M1", "status": "New", "owner": "anna", "created": "2026-03-30T08:00:00Z",
                           "messages": [{"direction": "in", "at": "2026-03-30T08:00:00Z"},
                                        {"direction": "out", "author": "anna", "at": 1774857600 + reply_after_min * 60}]})

    now = datetime(2026, 3, 30, 20, tzinfo=timezone.utc)
    ctx = StatContext(time_zone="UTC", now=now)
    for minutes in (30, 45):
        assert import_file(ref_store, write(tmp_path, "m.jsonl", row(minutes) + "\n")).ok
        day = StatisticsEngine(ref_store, settings).compute(ctx, [P.UserResponseTimePerDay])[0].values[-1]
        assert (day.value, day.description) == (minutes, "1 request")
    assert_aggregates_consistent(ref_store)


def test_categories_are_created_from_paths_in_the_batch_transaction(ref_store, tmp_path):
    text = HEADER + "C1,t,Partners/Reseller portal/Logins,New,,,,,1,\n" + "C2,t,,Nope,,,,,1,\n"
    before = set(ref_store.reference()["categories"])
    assert not import_file(ref_store, write(tmp_path, "c.csv", text)).ok
    assert set(ref_store.reference()["categories"]) == before  # nothing written, no categories either
    assert import_file(ref_store, write(tmp_path, "c.csv", text), skip_bad=True).loaded == 1
    cats = ref_store.reference()["categories"]
    names = {cid: name for cid, (name, _p) in cats.items()}
    leaf = ref_store.get_request(external_id="C1")["category_id"]
    assert names[leaf] == "Logins" and names[cats[cats[leaf][1]][1]] == "Partners"


def test_one_transaction_per_batch(ref_store, tmp_path):
    path = write(tmp_path, "b.csv", HEADER + "".join(GOOD.format(n=i) for i in range(10)))
    version = ref_store.data_version()
    events = []
    ref_store.add_listener(events.append)
    report = import_file(ref_store, path, batch_size=3)
    assert report.batches == 4 and ref_store.data_version() == version + 4
    assert [len(e.ids) for e in events] == [3, 3, 3, 1] and {e.kind for e in events} == {"import"}


def test_samples_import_cleanly(ref_store):
    for name in ("requests.csv", "requests.jsonl"):
        report = import_file(ref_store, ROOT / "samples" / "import" / name)
        assert report.ok and report.loaded > 0, report.errors
    assert_aggregates_consistent(ref_store)


# --------------------------------------------------------------------------- command line
def test_cli_import_exit_codes_and_messages(tmp_path):
    db = reference_db(tmp_path / "cli.db")
    bad = write(tmp_path, "bad.csv", HEADER + GOOD.format(n=1) + "B1,t,,Nope,,,,,1,\n")
    res = run_cli("import", str(bad), "--db", db, cwd=tmp_path)
    assert res.returncode == 1
    assert f"{bad}:3: unknown status 'Nope'" in res.stderr and "nothing imported" in res.stdout
    res = run_cli("import", str(bad), "--db", db, "--skip-bad", cwd=tmp_path)
    assert res.returncode == 1 and "1 imported (1 new, 0 updated)" in res.stdout
    res = run_cli("import", str(ROOT / "samples" / "import" / "requests.jsonl"), "--db", db, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    res = run_cli("import", str(write(tmp_path, "h.csv", "colour\nred\n")), "--db", db, cwd=tmp_path)
    assert res.returncode == 2 and "unknown column(s) 'colour'" in res.stderr and "Traceback" not in res.stderr


def _write_big_csv(path: Path, n: int) -> None:
    owners = ["anna", "bjorn", "", "clara", "demo"]
    statuses = ["New", "In progress", "Waiting for customer", "Closed"]
    cats = ["Hardware/Printers", "Imported/Bulk", "", "Network/VPN"]
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["external_id", "title", "category", "status", "priority", "origin", "owner", "group", "created"])
        for i in range(n):
            w.writerow([f"K{i:06d}", "bulk", cats[i % 4], statuses[i % 4], ["Low", "High", ""][i % 3],
                        ["Email", "Web", "Phone"][i % 3], owners[i % 5], ["Support", "Sales", ""][i % 3],
                        1767225600 + i * 37])


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_interrupted_import_leaves_whole_batches_and_can_be_rerun(tmp_path, sig):
    db = Path(reference_db(tmp_path / "big.db"))
    n, batch = 20000, 200
    big = tmp_path / "big.csv"
    _write_big_csv(big, n)
    proc = subprocess.Popen([sys.executable, "-m", "services87", "import", str(big), "--db", str(db), "--batch",
                             str(batch)], cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    seen = 0
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as c:
                seen = c.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
            if seen >= 2 * batch:
                break
            time.sleep(0.01)
        assert proc.poll() is None, "the import finished before it could be interrupted"
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err, \
            (proc.returncode, err[-2000:])
    else:
        assert proc.returncode == -signal.SIGKILL
    store = Store(f"sqlite:///{db}", BusinessCalendar([1, 2, 3, 4, 5], "08:00", "16:00", "Europe/Oslo"))
    try:
        rows = store.count_requests()
        assert seen <= rows < n and rows % batch == 0, rows
        assert_aggregates_consistent(store)
        # every stored row belongs to the committed prefix of the file
        assert store.get_request(external_id=f"K{rows - 1:06d}")
        with pytest.raises(Exception):
            store.get_request(external_id=f"K{rows:06d}")
    finally:
        store.close()
    if sig == signal.SIGKILL:
        res = run_cli("import", str(big), "--db", str(db), "--batch", "5000", cwd=tmp_path, timeout=240)
        assert res.returncode == 0, res.stderr
        assert f"{n} imported ({n - rows} new, {rows} updated)" in res.stdout
        store = Store(f"sqlite:///{db}")
        try:
            assert store.count_requests() == n
            assert_aggregates_consistent(store)
        finally:
            store.close()


# --------------------------------------------------------------------------- column-wise CSV validation
TRICKY_CELLS = [
    # (external_id, title, category, status, priority, origin, owner, group, created, closed)
    ("T1", "t", "Hardware/Printers", "New", "High", "Email", "anna", "Support", "1772359200", ""),
    ("T2", " padded ", " Hardware / Printers ", " new ", " HIGH ", " email ", " Anna ", " support ", " 1772359200 ", ""),
    ("T3", "t", "", "Closed", "", "", "", "", "2026-03-01T10:00:00+05:45", "2026-03-01T12:00:00.5Z"),
    ("T4", "t", "", "New", "", "", "", "", "2026-03-01 10:00:00+00:00", ""),
    ("T5", "t", "", "New", "", "", "", "", "1772359200.75", "+1772359300"),
    ("T6", "t", "", "New", "", "", "", "", "2026-03-01T10:00:00", ""),
    ("T7", "t", "", "New", "", "", "", "", "\u0661\u0662", ""),  # Arabic-Indic digits
    ("T8", "t", "", "New", "", "", "", "", "\u00b2", ""),  # superscript two: isdigit() but no number
    ("T9", "t", "", "New", "", "", "", "", "1" * 13, ""),
    ("T10", "t", "", "New", "", "", "", "", "1" * 400, ""),
    ("T11", "t", "", "New", "", "", "", "", "253402300800", ""),
    ("T12", "t", "", "New", "", "", "", "", "1_000", ""),
    ("T13", "t", "", "New", "", "", "", "", "20260301", ""),
    ("T14", "t", "", "New", "", "", "", "", "1772359200", "1772359199"),
    ("T15", "t", "", "New", "", "", "", "", "1772359200", "2026-03-01T00:00:00Z"),
    ("", "t", "", "New", "", "", "", "", "1", ""),
    ("   ", "t", "", "Nope", "", "", "", "", "1", ""),
    ("T16", "x" * 501, "A//B", "Nope", "", "", "", "", "", ""),  # several problems: the first one is reported
    ("T17", "t", "A//B", "New", "Urgent", "Pigeon", "zed", "Nobody", "", ""),
    ("T18", "t", "", "New", "", "Pigeon", "zed", "", "x", ""),
    ("T19", "t", "", "New", "", "", "", "", "", ""),
    ("T20", "t", "X/" + "y" * 201, "New", "", "", "", "", "1", ""),
    ("T21", "t", "", "New", "", "", "ANNA", "", "1", ""),
    ("x" * 101, "t", "", "New", "", "", "", "", "1", ""),
    ("T22", "t", "", "In progress", "low", "SMS", "bjorn", "Sales", "-1", ""),
    ("T23", "t", "", "New", "", "", "", "", "2026-03-01T10:00:00+00:00 ", ""),
    ("T\x1f24", "t", "", "New", "", "", "", "", "1", ""),
    ("T25", "t", "/Hardware", "New", "", "", "", "", "1", ""),
    ("T26", "t", "  ", "New", "", "", "", "", "1", ""),
]


@pytest.mark.parametrize("columns", [list(range(10)), [8, 3, 0], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]],
                         ids=["all", "required-only", "reversed"])
def test_column_wise_csv_validation_agrees_with_validate_row(ref_store, columns):
    """The CSV fast path (per record and a chunk at a time) gives exactly what validate_row gives."""
    from services87.engine.importer import FIELDS, _compact, _CsvRows, _Resolver, _RowFailure, validate_row

    res = _Resolver(ref_store)
    header = [FIELDS[i] for i in columns]
    records = [[cells[i] for i in columns] for cells in TRICKY_CELLS]

    def expected(cells):
        try:
            return _compact(validate_row(dict(zip(header, cells)), res, jsonl=False))
        except _RowFailure as exc:
            return str(exc)

    want = [expected(cells) for cells in records]
    assert sum(isinstance(w, str) for w in want) >= 10 and sum(isinstance(w, tuple) for w in want) >= 3
    for parse in (_CsvRows(header, res), _CsvRows(header, res)):  # cold caches each time
        got = [r if isinstance(r, tuple) else str(r) for r in parse.rows(records)]
        assert got == want
        # the same records again (warm caches), one at a time and mixed in a chunk with good ones
        one = []
        for cells in records:
            try:
                one.append(parse(cells))
            except _RowFailure as exc:
                one.append(str(exc))
        assert one == want
        good = [c for c, w in zip(records, want) if isinstance(w, tuple)]
        mixed = good * 3 + records
        got = [r if isinstance(r, tuple) else str(r) for r in parse.rows(mixed)]
        assert got == [expected(c) for c in mixed]


def test_line_numbers_across_chunks_multiline_records_blank_lines_and_malformed_csv(ref_store, tmp_path):
    """Line numbers stay exact past the reader's chunk size, with quoted line breaks, blank lines, CRLF."""
    lines = [HEADER.rstrip("\n")]
    bad_at = {}
    for i in range(9000):
        if i in (10, 5000):
            lines.append(f'ML{i},"two\r\nlines",,New,,,,,1,')  # one record on two physical lines
            lines.append("")  # a blank line
            continue
        if i in (4095, 4096, 8191, 8999):
            lines.append(f"BAD{i},t,,Nope,,,,,1,")
            bad_at[len(lines) + (i > 10) + (i > 5000)] = "unknown status 'Nope'"
            continue
        if i == 6000:
            lines.append(",,, ,,,,,,")  # only commas and spaces: a blank line
            continue
        lines.append(f"L{i},t,,New,,,,,{1772359200 + i},")
    text = "\r\n".join(lines) + "\r\n"
    report = import_file(ref_store, write(tmp_path, "chunks.csv", text))
    assert [(e.line, e.reason) for e in report.errors] == sorted(bad_at.items())
    assert report.rows == 9000 - 1 and count(ref_store) == 0  # the commas-only line is blank
    report = import_file(ref_store, write(tmp_path, "chunks.csv", text), skip_bad=True)
    assert report.loaded == 9000 - 1 - len(bad_at) == count(ref_store)
    assert ref_store.get_request(external_id="ML5000")["title"] == "two\r\nlines"
    # a malformed record after the first chunk: the records before it are read, the rest is not
    broken = "\n".join([HEADER.rstrip("\n")] + [f"M{i},t,,New,,,,,1," for i in range(5000)]
                       + ['M5000,"unterminated,,New,,,,,1,', "M5001,t,,New,,,,,1,"]) + "\n"
    report = import_file(ref_store, write(tmp_path, "broken.csv", broken))
    assert [e.line for e in report.errors] == [5002] and "malformed CSV" in report.errors[0].reason
    assert report.rows == 5001


def test_duplicates_across_and_within_chunks(ref_store, tmp_path):
    rows = [f"D{i},t,,New,,,,,1,\n" for i in range(5000)] + ["D7,t,,New,,,,,1,\n", "D4999,t,,New,,,,,1,\n"]
    report = import_file(ref_store, write(tmp_path, "d.csv", HEADER + "".join(rows)))
    assert [(e.line, e.reason) for e in report.errors] == [
        (5002, "external_id 'D7' already on line 9"), (5003, "external_id 'D4999' already on line 5001")]


def test_reimport_of_a_mix_of_new_and_stored_rows_in_one_batch(ref_store, tmp_path):
    """One batch holding both new and stored external ids: counts, values and aggregates are right."""
    first = HEADER + "".join(f"X{i},t{i},Hardware/Printers,New,High,Email,anna,Support,{1772359200 + i * 900},\n"
                             for i in range(0, 40, 2))
    assert import_file(ref_store, write(tmp_path, "a.csv", first)).inserted == 20
    second = HEADER + "".join(
        f"X{i},u{i},{'Imported/Mixed' if i % 3 else ''},{'Closed' if i % 4 == 0 else 'In progress'},Low,Web,"
        f"{'bjorn' if i % 5 else ''},Sales,{1772359200 + 86400 + i * 60},\n" for i in range(40))
    report = import_file(ref_store, write(tmp_path, "b.csv", second), batch_size=1000)
    assert (report.inserted, report.updated, report.batches) == (20, 20, 1)
    assert count(ref_store) == 40
    for i in (0, 1, 2, 3):
        r = ref_store.get_request(external_id=f"X{i}")
        assert r["title"] == f"u{i}" and r["created_ts"] == 1772359200 + 86400 + i * 60
        assert r["is_open"] == (i % 4 != 0) and (r["closed_ts"] is not None) == (i % 4 == 0)
        assert (r["owner_id"] is None) == (i % 5 == 0) and (r["category_id"] is None) == (i % 3 == 0)
    assert_aggregates_consistent(ref_store)


def test_default_batch_and_gc_restored(ref_store, tmp_path):
    import gc

    from services87.engine.importer import DEFAULT_BATCH

    path = write(tmp_path, "g.csv", HEADER + "".join(GOOD.format(n=i) for i in range(3)))
    assert gc.isenabled()
    report = import_file(ref_store, path)
    assert report.batches == 1 and DEFAULT_BATCH >= 1000 and gc.isenabled()
    with pytest.raises(ImportFileError):
        import_file(ref_store, tmp_path / "missing.csv")
    assert gc.isenabled()


def test_origins_by_vendor_name_or_number(ref_store, tmp_path):
    """The vendor's 13 TicketOrigin names and numbers are accepted; the former Manual/Web are read as
    Internal/CustomerCentre (the mapping of migration 0004)."""
    import sqlalchemy as sa
    from services87.engine import schema as t

    cells = ["Email", "fax", "CustomerCentre", "12", "0", "Manual", "Web", "AutoGenerated", "7"]
    text = HEADER + "".join(f"O{i},t,,New,,{o},,,2026-01-01T00:00:00Z,\n" for i, o in enumerate(cells))
    assert import_file(ref_store, write(tmp_path, "o.csv", text)).inserted == len(cells)
    with ref_store.engine.connect() as c:
        got = dict(c.execute(sa.select(t.requests.c.external_id, t.requests.c.origin)).all())
    assert [got[f"O{i}"] for i in range(len(cells))] == [1, 3, 8, 12, 0, 7, 8, 10, 7]
    bad = HEADER + "B1,t,,New,,13,,,2026-01-01T00:00:00Z,\n"
    assert import_file(ref_store, write(tmp_path, "b.csv", bad)).inserted == 0
