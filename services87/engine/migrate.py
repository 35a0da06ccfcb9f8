"""Alembic migrations, run programmatically (no alembic.ini needed by users)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Alembic is imported when a migration runs or is checked (half a second of start-up)
    from alembic.config import Config
    from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine | None = None) -> Config:
    from alembic.config import Config  # noqa: PLC0415 - see the imports above

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade to ``revision``, by default the one head (``0007_one_head`` joined the feature branches that
    started from 0001; a new revision builds on the head, so there is never more than one)."""
    from alembic import command  # noqa: PLC0415 - see the imports above

    command.upgrade(alembic_config(engine), revision)


_SCRIPT_HEADS: frozenset[str] | None = None


def at_head(engine: Engine) -> tuple[bool, list[str], list[str]]:
    """(database at the head, the database's revisions, the code's head): for the readiness probe."""
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415 - see the imports above
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    global _SCRIPT_HEADS
    if _SCRIPT_HEADS is None:
        _SCRIPT_HEADS = frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())
    with engine.connect() as conn:
        current = frozenset(MigrationContext.configure(conn).get_current_heads())
    return current == _SCRIPT_HEADS, sorted(current), sorted(_SCRIPT_HEADS)
