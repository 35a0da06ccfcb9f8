"""Import requests from CSV or JSON Lines (schema: docs/import.md).

The whole file is read and validated first; every bad row is reported with its line number and reason.
By default nothing is written when any row is bad; with ``skip_bad`` the good rows are loaded. Rows are
upserted by external id through :meth:`Store.replace_requests`, one transaction per batch, so the aggregate
tables move with the rows and an interrupted import leaves the store as it was after the last committed batch.

Speed: the file is parsed once; validated rows are kept as compact tuples (:data:`ROW`) until they are
loaded. CSV records are read and validated a chunk at a time, column by column, with each distinct status,
priority, owner, group, origin and category text resolved once; only records with something unusual go
through the row-by-row validator, which gives the reason. :func:`validate_row` is the reference the CSV
path must agree with (tests check it on tricky cells). The fields a request has whatever way it comes in
(external id, title, category, origin, closed after created, message direction) are checked by the engine's
one validator, :func:`services87.engine.model.request_fields` and its ``check_*`` parts, which Genesys ingest
uses too.
"""

from __future__ import annotations

import csv
import gc
import io
import json
import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from itertools import compress, islice, repeat
from operator import is_not, lt
from pathlib import Path
from typing import Any
from collections.abc import Iterable, Iterator, Sequence

from services87.engine.model import (CONTROL_CHARACTERS, MAX_EXTERNAL_ID, MAX_TITLE, Direction, ValidationError,
                                     check_category_path, check_direction, check_external_id, check_origin,
                                     check_period, check_title)
from services87.engine.storage import Store
from services87.engine.storage.requests import FULL_ROW

FIELDS = ("external_id", "title", "category", "status", "priority", "origin", "owner", "group", "created", "closed")
JSONL_FIELDS = FIELDS + ("messages",)
REQUIRED = ("external_id", "status", "created")
#: Earliest and latest accepted timestamps (1970-01-01 .. 9999-12-31): keeps every value a sane epoch second.
TS_MIN, TS_MAX = 0, 253402300799
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


class ImportFileError(ValidationError):
    """The file as a whole cannot be read (unknown format, missing header columns...)."""

    kind = "ImportFileError"


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class ImportReport:
    path: str
    fmt: str
    rows: int = 0  # data rows read (good + bad)
    loaded: int = 0  # rows written (inserted or updated)
    inserted: int = 0
    updated: int = 0
    batches: int = 0
    skip_bad: bool = False
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def written(self) -> bool:
        return self.loaded > 0

    def summary(self) -> str:
        bad = len(self.errors)
        if bad and not self.skip_bad:
            return (f"{self.path}: {_n(self.rows, 'row')} read, {bad} bad; nothing imported "
                    f"(fix the rows or use --skip-bad to load the {_n(self.rows - bad, 'good row')})")
        text = (f"{self.path}: {_n(self.rows, 'row')} read, {self.loaded} imported ({self.inserted} new, "
                f"{self.updated} updated) in {_n(self.batches, 'batch', 'batches')}")
        return text + (f", {_n(bad, 'bad row')} skipped" if bad else "")


def _n(count: int, singular: str, plural: str | None = None) -> str:
    """``1 row``, ``2 rows``."""
    return f"{count} {singular if count == 1 else plural or singular + 's'}"


class _RowFailure(Exception):
    pass


def _checked(check, value: Any) -> Any:
    """A field through the engine's validator of request fields (:func:`services87.engine.model.request_fields`,
    shared with Genesys ingest); its error is this row's reason."""
    try:
        return check(value)
    except ValidationError as exc:
        raise _RowFailure(str(exc)) from None


def _origin(text: str) -> int:
    """An origin cell: the vendor's name or number (``Email`` or ``1``); empty = Unknown. The former
    services87 names Manual and Web are read as Internal and CustomerCentre (docs/import.md)."""
    return _checked(check_origin, text)


# --------------------------------------------------------------------------- reading
def _decoded_lines(raw: bytes, errors: list[RowError]) -> Iterator[tuple[int, str]]:
    """(physical line number, text) for every line; undecodable lines are reported and skipped."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    for no, line in enumerate(raw.splitlines(keepends=True), start=1):
        try:
            yield no, line.decode("utf-8")
        except UnicodeDecodeError as exc:
            errors.append(RowError(no, f"not valid UTF-8 (byte {exc.start + 1} of the line)"))


def _read_csv(raw: bytes, errors: list[RowError], chunk: int = 4096, path: str | Path = "<csv>") -> Iterator[tuple]:
    """``(line, header)`` first, then ``(lines, records)`` chunks: the data records (each with as many cells as
    the header has columns; blank lines skipped, other cell counts reported) and the line each starts on.

    Records are read a chunk at a time by the C reader; a record's line follows from the reader's line count,
    directly when every record of the chunk is one line, else (quoted line breaks, a malformed record) by
    reading that stretch again one record at a time.
    """
    try:
        text = raw.decode("utf-8")
        # newline="": lines split exactly like bytes.splitlines (\n, \r, \r\n), as in the per-line fallback
        lines = io.StringIO(text.removeprefix("\ufeff"), newline="").readlines()
        numbered = None
        del text
    except UnicodeDecodeError:
        numbered = list(_decoded_lines(raw, errors))
        lines = [t for _, t in numbered]
    del raw

    def line_no(index: int) -> int:  # index of a line in ``lines`` -> its physical line number
        if numbered is None:
            return index + 1
        return numbered[min(index, len(numbered) - 1)][0] if numbered else 1

    reader = csv.reader(lines, strict=True)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except (StopIteration, csv.Error):
        raise ImportFileError(f"{path}: empty file: a CSV import needs a header line") from None
    unknown = [h for h in header if h not in FIELDS]
    missing = [h for h in REQUIRED if h not in header]
    dup = sorted({h for h in header if header.count(h) > 1})
    problems = []
    if unknown:
        problems.append("unknown column(s) " + ", ".join(repr(h) for h in unknown))
    if missing:
        problems.append("missing column(s) " + ", ".join(missing))
    if dup:
        problems.append("repeated column(s) " + ", ".join(dup))
    if problems:
        raise ImportFileError(f"{path}:{line_no(0)}: bad header: " + "; ".join(problems)
                              + f" (known columns: {', '.join(FIELDS)})")
    ncols = len(header)
    yield line_no(0), header
    while True:
        before = reader.line_num
        malformed = None
        try:
            recs = list(islice(reader, chunk))
            starts: Iterable[int] = range(before, reader.line_num)
            if len(recs) != reader.line_num - before:
                starts, _ = _record_starts(lines, before, reader.line_num)
        except csv.Error:
            # read the stretch again record by record: the good records before the malformed one count
            starts, malformed = _record_starts(lines, before, len(lines))
            recs = list(csv.reader(lines[before:malformed[0]], strict=True)) if malformed else []
        if recs:
            lines_of = [line_no(i) for i in starts] if numbered is not None else [i + 1 for i in starts]
            if len(set(map(len, recs))) == 1 and len(recs[0]) == ncols:
                yield lines_of, recs
            else:
                keep_lines, keep_recs = [], []
                for line, cells in zip(lines_of, recs):
                    if len(cells) == ncols:
                        keep_lines.append(line)
                        keep_recs.append(cells)
                    elif any(c.strip() for c in cells):
                        errors.append(RowError(line, f"{len(cells)} cells, but the header has {ncols} columns"))
                if keep_recs:
                    yield keep_lines, keep_recs
        if malformed is not None:
            index, exc = malformed
            errors.append(RowError(line_no(index), f"malformed CSV: {exc}; the rest of the file was not read"))
            return
        if len(recs) < chunk:
            return


def _record_starts(lines: list[str], begin: int, end: int) -> tuple[list[int], tuple[int, csv.Error] | None]:
    """Indexes of the lines the records of ``lines[begin:end]`` start on, and ``(index, error)`` of a malformed
    record (reading stops there)."""
    sub = csv.reader(lines[begin:end], strict=True)
    starts: list[int] = []
    prev = 0
    try:
        for _ in sub:
            starts.append(begin + prev)
            prev = sub.line_num
    except csv.Error as exc:
        return starts, (begin + prev, exc)
    return starts, None


def _read_jsonl(raw: bytes, errors: list[RowError]) -> Iterator[tuple[int, dict]]:
    for line, text in _decoded_lines(raw, errors):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            errors.append(RowError(line, f"invalid JSON: {exc.msg} (column {exc.colno})"))
            continue
        if not isinstance(obj, dict):
            errors.append(RowError(line, f"expected a JSON object, got {type(obj).__name__}"))
            continue
        yield line, obj


# --------------------------------------------------------------------------- validation
def parse_timestamp(value: Any, name: str) -> int | None:
    """ISO 8601 with a UTC offset (``2026-03-30T10:00:00+02:00``, ``...Z``) or epoch seconds → epoch seconds."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise _RowFailure(f"{name}: expected a timestamp, got {value!r}")
    ts: int | None
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise _RowFailure(f"{name}: {value!r} is not a timestamp")
        ts = int(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            ts = int(float(text)) if _looks_numeric(text) else None
        except (ValueError, OverflowError):
            ts = None
        if ts is None:
            try:
                dt = datetime.fromisoformat(text)
            except ValueError:
                raise _RowFailure(f"{name}: {text!r} is neither ISO 8601 nor epoch seconds") from None
            if dt.tzinfo is None or dt.utcoffset() is None:
                raise _RowFailure(f"{name}: {text!r} has no UTC offset (add Z or +hh:mm)")
            ts = int(dt.timestamp())
    else:
        raise _RowFailure(f"{name}: expected a timestamp, got {type(value).__name__}")
    if not TS_MIN <= ts <= TS_MAX:
        raise _RowFailure(f"{name}: {value!r} is out of range")
    return ts


def _looks_numeric(text: str) -> bool:
    body = text[1:] if text[:1] in "+-" else text
    return bool(body) and body.replace(".", "", 1).isdigit()


class _Resolver:
    """Name → id maps, read once per import (the importer never creates users, statuses, priorities, groups)."""

    def __init__(self, store: Store):
        ref = store.reference()
        self.status = {name.lower(): sid for sid, (name, *_rest) in ref["statuses"].items()}
        self.priority = {name.lower(): pid for pid, (name, _r) in ref["priorities"].items()}
        self.group = {name.lower(): gid for gid, name in ref["groups"].items()}
        self.user_exact = {login: uid for uid, (login, _f, _a) in ref["users"].items()}
        self.user_lower = {login.lower(): uid for uid, (login, _f, _a) in ref["users"].items()}

    def lookup(self, kind: str, table: dict, value: str, required: bool = False) -> int | None:
        if not value:
            if required:
                raise _RowFailure(f"{kind} is required")
            return None
        found = table.get(value.lower())
        if found is None:
            raise _RowFailure(f"unknown {kind} {value!r}")
        return found

    def user(self, value: str, what: str = "owner") -> int | None:
        if not value:
            return None
        found = self.user_exact.get(value, self.user_lower.get(value.lower()))
        if found is None:
            raise _RowFailure(f"unknown {what} {value!r} (no user with that login)")
        return found


def _text(obj: dict, key: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    if isinstance(value, (dict, list, bool)):
        raise _RowFailure(f"{key}: expected text, got {type(value).__name__}")
    return str(value).strip()


def _messages(value: Any, res: _Resolver) -> list[tuple[int, int | None, int]]:
    if not isinstance(value, list):
        raise _RowFailure("messages: expected a list of {direction, author, at} objects")
    out = []
    for i, m in enumerate(value, start=1):
        if not isinstance(m, dict):
            raise _RowFailure(f"messages[{i}]: expected an object")
        unknown = set(m) - {"direction", "author", "at"}
        if unknown:
            raise _RowFailure(f"messages[{i}]: unknown field(s) {', '.join(sorted(unknown))}")
        try:
            direction = check_direction(m.get("direction"))
        except ValidationError as exc:
            raise _RowFailure(f"messages[{i}]: {exc}") from None
        author = m.get("author")
        if author is not None and not isinstance(author, str):
            raise _RowFailure(f"messages[{i}]: author must be a login name")
        author_id = res.user((author or "").strip(), f"messages[{i}] author")
        if direction == Direction.Outbound and author_id is None:
            raise _RowFailure(f"messages[{i}]: an outbound reply needs an author")
        at = parse_timestamp(m.get("at"), f"messages[{i}].at")
        if at is None:
            raise _RowFailure(f"messages[{i}]: at is required")
        out.append((int(direction), author_id, at))
    return out


def validate_row(obj: dict, res: _Resolver, jsonl: bool) -> dict:
    """One input record → a row for :meth:`Store.upsert_requests`, or :class:`_RowFailure`."""
    allowed = JSONL_FIELDS if jsonl else FIELDS
    unknown = [k for k in obj if k not in allowed]
    if unknown:
        raise _RowFailure(f"unknown field(s) {', '.join(repr(k) for k in unknown)}")
    ext = _checked(check_external_id, _text(obj, "external_id"))
    status = res.lookup("status", res.status, _text(obj, "status"), required=True)
    row: dict[str, Any] = {
        "external_id": ext,
        "title": _checked(check_title, _text(obj, "title")),
        "category_path": _checked(check_category_path, _text(obj, "category")),
        "status_id": status,
        "priority_id": res.lookup("priority", res.priority, _text(obj, "priority")),
        "owner_id": res.user(_text(obj, "owner")),
        "group_id": res.lookup("group", res.group, _text(obj, "group")),
    }
    row["origin"] = _origin(_text(obj, "origin"))
    created = parse_timestamp(obj.get("created"), "created")
    if created is None:
        raise _RowFailure("created is required")
    closed = parse_timestamp(obj.get("closed"), "closed")
    _checked(lambda _: check_period(created, closed), None)
    row["created_ts"], row["closed_ts"] = created, closed
    if jsonl and "messages" in obj and obj["messages"] is not None:
        row["messages"] = _messages(obj["messages"], res)
    return row


#: The compact form of a validated row kept between the validation and the load pass (a tuple per row, the
#: category path a tuple shared by all rows naming it); ``messages`` ``None`` = keep the stored messages.
ROW = FULL_ROW
_MISS = object()


def _compact(row: dict) -> tuple:
    if row.get("category_path") is not None:
        row["category_path"] = tuple(row["category_path"])
    return tuple(row.get(k) for k in ROW)


class _CsvRows:
    """Validates a CSV record (its cells in header order) exactly like :func:`validate_row` (same checks, same
    reasons, in the same order) into a compact :data:`ROW` tuple, but by position and with the columns of few
    distinct values (status, priority, owner, group, origin, category) resolved once per distinct cell text."""

    def __init__(self, header: list[str], res: _Resolver):
        at = {h: i for i, h in enumerate(header)}
        self.ext, self.status, self.created = at["external_id"], at["status"], at["created"]
        self.title, self.closed = at.get("title"), at.get("closed")
        self.res = res
        self.lookups = []  # (cell index, cache, resolve) in the order validate_row checks them
        for name, resolve in (("category", self._category), ("priority", self._priority),
                              ("owner", self._owner), ("group", self._group), ("origin", self._origin)):
            cache: dict = {}
            if at.get(name) is None:
                cache[""] = resolve("")  # an absent column reads as empty cells
            self.lookups.append((at.get(name), cache, resolve))
        self.status_cache: dict[str, int] = {}

    @staticmethod
    def _warm(cache: dict, cells: Iterable[str], resolve) -> set[str]:
        """Resolve the distinct cell texts not cached yet; the bad ones stay out and are returned."""
        bad = set()
        for cell in set(cells).difference(cache):
            try:
                cache[cell] = resolve(cell)
            except _RowFailure:
                bad.add(cell)
        return bad

    def _status(self, cell: str) -> int:
        status = self.res.lookup("status", self.res.status, cell.strip(), required=True)
        assert status is not None  # required: an unknown status raises
        return status

    @staticmethod
    def _category(cell: str):
        return _checked(check_category_path, cell)

    def _priority(self, cell: str):
        return self.res.lookup("priority", self.res.priority, cell.strip())

    def _owner(self, cell: str):
        return self.res.user(cell.strip())

    def _group(self, cell: str):
        return self.res.lookup("group", self.res.group, cell.strip())

    @staticmethod
    def _origin(cell: str) -> int:
        return _origin(cell)

    def __call__(self, cells: list[str]) -> tuple:
        ext = _checked(check_external_id, cells[self.ext])
        cell = cells[self.status]
        status = self.status_cache.get(cell)
        if status is None:
            status = self.status_cache[cell] = self._status(cell)
        title = "" if self.title is None else _checked(check_title, cells[self.title])
        looked = []
        for i, cache, resolve in self.lookups:
            cell = "" if i is None else cells[i]
            value = cache.get(cell, _MISS)
            if value is _MISS:
                value = cache[cell] = resolve(cell)
            looked.append(value)
        created = _csv_timestamp(cells[self.created], "created")
        if created is None:
            raise _RowFailure("created is required")
        closed = None
        if self.closed is not None and cells[self.closed]:
            closed = _csv_timestamp(cells[self.closed], "closed")
            _checked(lambda _: check_period(created, closed), None)
        category, priority, owner, group, origin = looked
        return ext, title, category, status, priority, origin, owner, group, created, closed, None


    def rows(self, cells: list[list[str]]) -> list[tuple | _RowFailure | None]:
        """Many records at once: per record a ROW tuple or the :class:`_RowFailure` (as ``self(cells)`` gives), or
        ``None`` for a blank one.

        Column by column with C-level ``map``/``zip`` over the cached lookups; a record where anything is not
        plainly fine (a cell not seen before, an empty or long value, a timestamp that needs the full parser,
        closed before created) goes through ``self(cells)``, which gives the reason (and fills the caches).
        """
        n = len(cells)
        if not n:
            return []
        cols = list(zip(*cells))
        odd: set[int] = set()  # records to check one by one

        def flag(values, bad) -> None:
            odd.update(i for i, v in enumerate(values) if bad(v))

        exts = list(map(str.strip, cols[self.ext]))
        if not all(exts) or max(map(len, exts)) > MAX_EXTERNAL_ID or CONTROL_CHARACTERS.search("".join(exts)):
            flag(exts, lambda v: not v or len(v) > MAX_EXTERNAL_ID or CONTROL_CHARACTERS.search(v))
        bad = self._warm(self.status_cache, cols[self.status], self._status)
        statuses = list(map(self.status_cache.get, cols[self.status]))
        if bad:
            flag(cols[self.status], bad.__contains__)
        if self.title is None:
            titles: Iterable[str] = repeat("", n)
        else:
            titles = list(map(str.strip, cols[self.title]))
            if max(map(len, titles)) > MAX_TITLE:
                flag(titles, lambda v: len(v) > MAX_TITLE)
        looked = []
        for i, cache, _resolve in self.lookups:
            if i is None:
                values = [cache[""]] * n
            else:
                bad = self._warm(cache, cols[i], _resolve)
                values = list(map(cache.get, cols[i]))
                if bad:
                    flag(cols[i], bad.__contains__)
            looked.append(values)
        created, unusual = _ts_column(cols[self.created])
        if unusual:
            flag(created, lambda v: v is None or v is _MISS)
        if self.closed is None:
            closed: Iterable[int | None] = repeat(None, n)
        else:
            closed, closed_unusual = _ts_column(cols[self.closed])
            if _MISS in closed_unusual:
                flag(closed, lambda v: v is _MISS)
            if unusual or _MISS in closed_unusual:
                before = True
            else:  # numbers (or None for closed): compare where closed is given, a column at a time
                given = list(map(is_not, closed, repeat(None)))
                before = any(map(lt, compress(closed, given), compress(created, given)))
            if before:
                odd.update(i for i, (c, o) in enumerate(zip(created, closed))
                           if o is not None and o is not _MISS and c is not None and c is not _MISS and o < c)
        category, priority, owner, group, origin = looked
        out: list = list(zip(exts, titles, category, statuses, priority, origin, owner, group, created, closed,
                             repeat(None, n)))
        for i in odd:
            if not any(c.strip() for c in cells[i]):
                out[i] = None  # a blank line (only commas and spaces)
                continue
            try:
                out[i] = self(cells[i])
            except _RowFailure as exc:
                out[i] = exc
        return out


def _ts_column(cells: Sequence[str]) -> tuple[list, set]:
    """Epoch seconds per cell for the plain cases (epoch digits, ISO 8601 with an offset that
    ``datetime.fromisoformat`` reads as is), ``None`` for an empty cell, ``_MISS`` for anything else (out of
    range, no offset, needs stripping or the numeric parser...) so that :func:`parse_timestamp` decides.
    The set holds which of ``None`` and ``_MISS`` occur (empty: every cell was plain epoch digits)."""
    given = list(filter(None, cells))
    if all(map(str.isdigit, given)) and all(map(str.isascii, given)) and max(map(len, given), default=0) <= 12:
        if len(given) == len(cells):  # C-level map: every cell epoch digits
            every = list(map(int, cells))
            if max(every, default=0) <= TS_MAX:
                return every, set()
        else:  # epoch digits and empty cells (a closed column)
            numbers = list(map(int, given))
            if max(numbers, default=0) <= TS_MAX:
                it = iter(numbers)
                return [next(it) if cell else None for cell in cells], {None}
    out: list[int | object | None] = []
    for cell in cells:
        if not cell:
            out.append(None)
            continue
        if cell.isdigit() and cell.isascii():
            ts = int(cell) if len(cell) <= 12 else _MISS
        else:
            try:
                dt = datetime.fromisoformat(cell)
            except ValueError:
                ts = _MISS
            else:
                ts = _MISS if dt.tzinfo is None or dt.utcoffset() is None else int(dt.timestamp())
        if isinstance(ts, int) and not TS_MIN <= ts <= TS_MAX:
            ts = _MISS
        out.append(ts)
    return out, {marker for marker in (None, _MISS) if marker in out}


def _csv_timestamp(cell: str, name: str) -> int | None:
    """:func:`parse_timestamp` of a CSV cell, with a shortcut for plain epoch seconds."""
    if len(cell) <= 12 and cell.isdigit() and cell.isascii():
        ts = int(cell)
        if ts > TS_MAX:
            raise _RowFailure(f"{name}: {cell!r} is out of range")
        return ts
    return parse_timestamp(cell, name)


# --------------------------------------------------------------------------- import
def detect_format(path: str | Path, fmt: str | None = None) -> str:
    if fmt:
        fmt = fmt.lower()
        if fmt in ("csv", "jsonl", "ndjson"):
            return "jsonl" if fmt == "ndjson" else fmt
        raise ImportFileError(f"unknown import format {fmt!r} (csv or jsonl)")
    found = FORMATS.get(Path(path).suffix.lower())
    if not found:
        raise ImportFileError(f"{path}: cannot tell the format from the extension (.csv, .jsonl, .ndjson); "
                              "use --format")
    return found


#: Rows per transaction: large enough that the per-transaction work (version bump, aggregate upserts,
#: commit) is spread thin, small enough that a batch commits in well under a second.
DEFAULT_BATCH = 10000


def import_file(store: Store, path: str | Path, fmt: str | None = None, skip_bad: bool = False,
                batch_size: int | None = None, progress=None) -> ImportReport:
    """Validate the whole file, then upsert its rows in batches of ``batch_size`` (one transaction each).

    ``progress`` is a tqdm-like object (``total``, ``update(n)``, ``refresh()``, ``close()``) or ``None``.
    Returns an :class:`ImportReport`; when rows are bad and ``skip_bad`` is false nothing is written.
    """
    fmt = detect_format(path, fmt)
    batch_size = DEFAULT_BATCH if batch_size is None else batch_size
    if batch_size < 1:
        raise ImportFileError("batch size must be at least 1")
    with _no_cyclic_gc():
        return _import(store, path, fmt, skip_bad, batch_size, progress)


@contextmanager
def _no_cyclic_gc():
    """Pause the cyclic garbage collector: an import allocates millions of small acyclic tuples, and every
    collection would walk all the ones still alive (a third of the run time at 20,000 rows). Reference
    counting still frees everything; the collector is switched back on (if it was on) afterwards."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _import(store: Store, path: str | Path, fmt: str, skip_bad: bool, batch_size: int, progress) -> ImportReport:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ImportFileError(f"{path}: {exc.strerror or exc}") from None
    report = ImportReport(path=str(path), fmt=fmt, skip_bad=skip_bad)
    errors: list[RowError] = []
    res = _Resolver(store)
    good: list[tuple] = []  # compact ROW tuples: the file is parsed once, and 10^6 rows stay affordable
    first_seen: dict[str, int] = {}

    def keep(lines: Sequence[int], rows: list) -> None:
        if all(map(tuple.__instancecheck__, rows)):  # no failures: check duplicates set-wise
            ids = dict(zip([r[0] for r in rows], lines))
            if len(ids) == len(rows) and ids.keys().isdisjoint(first_seen.keys()):
                first_seen.update(ids)
                good.extend(rows)
                return
        for line, row in zip(lines, rows):
            if row is None:
                continue
            if isinstance(row, _RowFailure):
                errors.append(RowError(line, str(row)))
                continue
            prev = first_seen.setdefault(row[0], line)
            if prev != line:
                errors.append(RowError(line, f"external_id {row[0]!r} already on line {prev}"))
                continue
            good.append(row)

    if fmt == "csv":
        records = _read_csv(raw, errors, path=path)
        del raw  # the reader decodes it once and then drops it
        _line, header = next(records)
        parse = _CsvRows(header, res)
        for lines, cells in records:  # column-wise validation, a chunk of records at a time
            keep(lines, parse.rows(cells))
    else:
        records = _read_jsonl(raw, errors)
        del raw
        for line, obj in records:
            try:
                row: tuple | _RowFailure = _compact(validate_row(obj, res, jsonl=True))
            except _RowFailure as exc:
                row = exc
            keep((line,), [row])
    first_seen.clear()  # only needed while reading
    report.rows = len(good) + len(errors)  # every error is exactly one data row
    report.errors = sorted(errors, key=lambda e: e.line)
    if report.errors and not skip_bad:
        if progress is not None:
            progress.close()
        return report
    if progress is not None:
        progress.total = len(good)
        progress.refresh()
    try:
        for i in range(0, len(good), batch_size):
            batch = good[i:i + batch_size]
            _ids, updated = store.replace_requests(batch, kind="import")
            report.batches += 1
            report.loaded += len(batch)
            report.updated += updated
            report.inserted += len(batch) - updated
            if progress is not None:
                progress.update(len(batch))
    finally:
        if progress is not None:
            progress.close()
    return report
