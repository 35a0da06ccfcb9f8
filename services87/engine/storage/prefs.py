"""SQL for per-user status-page preferences (table ``user_prefs``, see :mod:`schema_prefs`)."""

from __future__ import annotations

import json
import time

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from services87.engine.schema_prefs import user_prefs
from services87.engine.storage import Store


class PrefsStore:
    """Stores one JSON object per user (not statistics data: ``kind=None`` writes). Blocking: call through
    ``hs.run_blocking``."""

    def __init__(self, store: Store):
        self.store = store

    def get(self, user_id: int) -> dict | None:
        row = self.store.read(lambda c: c.execute(
            sa.select(user_prefs.c.prefs).where(user_prefs.c.user_id == user_id)).first())
        if row is None:
            return None
        try:
            value = json.loads(row[0])
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def put(self, user_id: int, prefs: dict) -> None:
        doc = json.dumps(prefs, separators=(",", ":"), sort_keys=True)
        now = int(time.time())

        def do(c: Connection) -> None:
            done = c.execute(user_prefs.update().where(user_prefs.c.user_id == user_id)
                             .values(prefs=doc, updated_ts=now)).rowcount
            if not done:
                c.execute(user_prefs.insert().values(user_id=user_id, prefs=doc, updated_ts=now))

        self.store.write(None, do)
