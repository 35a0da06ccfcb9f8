"""Database URLs: the file of a SQLite URL, and how to name a database to a person (no password)."""

from __future__ import annotations

from pathlib import Path


def make_url(url: str):
    """SQLAlchemy's URL parser, imported when first needed (the command line names databases before it opens one)."""
    from sqlalchemy.engine import make_url as parse  # noqa: PLC0415

    return parse(url)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (absolute), or None (another database, in-memory SQLite)."""
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:" or u.database.startswith("file:"):
        return None
    return Path(u.database).expanduser().resolve()


def describe_db(url: str) -> str:
    """A SQLite database as its file, any other as its URL without the password."""
    try:
        path = sqlite_path(url)
        return str(path) if path else make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: the caller's check says so
        return url
