"""Import requests from CSV or JSON Lines (schema: docs/import.md).

The whole file is read and validated first; every bad row is reported with its line number and reason.
By default nothing is written when any row is bad; with ``skip_bad`` the good rows are loaded. Rows are
upserted by external id through :meth:`Store.upsert_requests`, one transaction per batch, so the aggregate
tables move with the rows and an interrupted import leaves the store as it was after the last committed batch.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

from services87.engine.model import Direction, Origin, ValidationError
from services87.engine.store import Store

FIELDS = ("external_id", "title", "category", "status", "priority", "origin", "owner", "group", "created", "closed")
JSONL_FIELDS = FIELDS + ("messages",)
REQUIRED = ("external_id", "status", "created")
MAX_LEN = {"external_id": 100, "title": 500}
#: Earliest and latest accepted timestamps (1970-01-01 .. 9999-12-31): keeps every value a sane epoch second.
TS_MIN, TS_MAX = 0, 253402300799
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_ORIGINS = {o.name.lower(): int(o) for o in Origin}
_DIRECTIONS = {"in": Direction.Inbound, "inbound": Direction.Inbound, "out": Direction.Outbound,
               "outbound": Direction.Outbound}


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
            return (f"{self.path}: {self.rows} rows read, {bad} bad; nothing imported "
                    f"(fix the rows or use --skip-bad to load the {self.rows - bad} good ones)")
        text = (f"{self.path}: {self.rows} rows read, {self.loaded} imported ({self.inserted} new, "
                f"{self.updated} updated) in {self.batches} batches")
        return text + (f", {bad} bad rows skipped" if bad else "")


class _RowFailure(Exception):
    pass


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


def _read_csv(raw: bytes, errors: list[RowError]) -> Iterator[tuple[int, dict]]:
    numbered = list(_decoded_lines(raw, errors))
    texts = [t for _, t in numbered]
    reader = csv.reader(texts, strict=True)
    header: list[str] | None = None
    while True:
        start = reader.line_num  # lines consumed so far: the next record starts at this index
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            line = numbered[min(start, len(numbered) - 1)][0] if numbered else 1
            errors.append(RowError(line, f"malformed CSV: {exc}; the rest of the file was not read"))
            break
        line = numbered[start][0]
        if header is None:
            header = [h.strip().lower() for h in cells]
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
                raise ImportFileError(f"line {line}: bad header: " + "; ".join(problems)
                                      + f" (known columns: {', '.join(FIELDS)})")
            continue
        if not any(c.strip() for c in cells):
            continue  # blank line
        if len(cells) != len(header):
            errors.append(RowError(line, f"{len(cells)} cells, but the header has {len(header)} columns"))
            continue
        yield line, dict(zip(header, cells))
    if header is None:
        raise ImportFileError("empty file: a CSV import needs a header line")


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
        self.status = {name.lower(): sid for sid, (name, _b) in ref["statuses"].items()}
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
    text = str(value).strip()
    limit = MAX_LEN.get(key)
    if limit and len(text) > limit:
        raise _RowFailure(f"{key}: longer than {limit} characters")
    return text


def _category_path(value: str) -> list[str] | None:
    if not value:
        return None
    parts = [p.strip() for p in value.split("/")]
    if any(not p for p in parts):
        raise _RowFailure(f"category {value!r}: empty level in the path (write 'Top/Sub')")
    if any(len(p) > 200 for p in parts):
        raise _RowFailure(f"category {value!r}: a level is longer than 200 characters")
    return parts


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
        direction = _DIRECTIONS.get(str(m.get("direction", "")).strip().lower())
        if direction is None:
            raise _RowFailure(f"messages[{i}]: direction must be 'in' or 'out', got {m.get('direction')!r}")
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
    ext = _text(obj, "external_id")
    if not ext:
        raise _RowFailure("external_id is required")
    status = res.lookup("status", res.status, _text(obj, "status"), required=True)
    row: dict[str, Any] = {
        "external_id": ext,
        "title": _text(obj, "title"),
        "category_path": _category_path(_text(obj, "category")),
        "status_id": status,
        "priority_id": res.lookup("priority", res.priority, _text(obj, "priority")),
        "owner_id": res.user(_text(obj, "owner")),
        "group_id": res.lookup("group", res.group, _text(obj, "group")),
    }
    origin = _text(obj, "origin")
    if origin:
        if origin.lower() not in _ORIGINS:
            raise _RowFailure(f"unknown origin {origin!r} (one of {', '.join(o.name for o in Origin)})")
        row["origin"] = _ORIGINS[origin.lower()]
    else:
        row["origin"] = int(Origin.Unknown)
    created = parse_timestamp(obj.get("created"), "created")
    if created is None:
        raise _RowFailure("created is required")
    closed = parse_timestamp(obj.get("closed"), "closed")
    if closed is not None and closed < created:
        raise _RowFailure("closed is before created")
    row["created_ts"], row["closed_ts"] = created, closed
    if jsonl and "messages" in obj and obj["messages"] is not None:
        row["messages"] = _messages(obj["messages"], res)
    return row


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


def import_file(store: Store, path: str | Path, fmt: str | None = None, skip_bad: bool = False,
                batch_size: int = 1000, progress=None) -> ImportReport:
    """Validate the whole file, then upsert its rows in batches of ``batch_size`` (one transaction each).

    ``progress`` is a tqdm-like object (``total``, ``update(n)``, ``refresh()``, ``close()``) or ``None``.
    Returns an :class:`ImportReport`; when rows are bad and ``skip_bad`` is false nothing is written.
    """
    fmt = detect_format(path, fmt)
    if batch_size < 1:
        raise ImportFileError("batch size must be at least 1")
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ImportFileError(f"{path}: {exc.strerror or exc}") from None
    report = ImportReport(path=str(path), fmt=fmt, skip_bad=skip_bad)
    errors: list[RowError] = []
    res = _Resolver(store)
    good: list[dict] = []
    first_seen: dict[str, int] = {}
    reader = _read_csv if fmt == "csv" else _read_jsonl
    for line, obj in reader(raw, errors):
        try:
            row = validate_row(obj, res, jsonl=fmt == "jsonl")
        except _RowFailure as exc:
            errors.append(RowError(line, str(exc)))
            continue
        prev = first_seen.get(row["external_id"])
        if prev is not None:
            errors.append(RowError(line, f"external_id {row['external_id']!r} already on line {prev}"))
            continue
        first_seen[row["external_id"]] = line
        good.append(row)
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
            existing = store.existing_external_ids([r["external_id"] for r in batch])
            store.upsert_requests(batch, kind="import")
            report.batches += 1
            report.loaded += len(batch)
            report.updated += len(existing)
            report.inserted += len(batch) - len(existing)
            if progress is not None:
                progress.update(len(batch))
    finally:
        if progress is not None:
            progress.close()
    return report
