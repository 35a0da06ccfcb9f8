"""SQL for per-user status-page preferences (table ``user_prefs``, see :mod:`schema_prefs`)."""

from __future__ import annotations

import json
import time

import sqlalchemy as sa

from services87.engine.model import StoreUnavailable
from services87.engine.schema_prefs import user_prefs
from services87.engine.store import Store


class PrefsStore:
    """Stores one JSON object per user. Blocking: call through ``hs.run_blocking``."""

    def __init__(self, store: Store):
        self.engine = store.engine

    def get(self, user_id: int) -> dict | None:
        try:
            with self.engine.connect() as c:
                row = c.execute(sa.select(user_prefs.c.prefs).where(user_prefs.c.user_id == user_id)).first()
        except sa.exc.OperationalError as exc:
            raise StoreUnavailable(str(exc.orig) if exc.orig else str(exc)) from exc
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
        try:
            with self.engine.begin() as c:
                done = c.execute(user_prefs.update().where(user_prefs.c.user_id == user_id)
                                 .values(prefs=doc, updated_ts=now)).rowcount
                if not done:
                    c.execute(user_prefs.insert().values(user_id=user_id, prefs=doc, updated_ts=now))
        except sa.exc.OperationalError as exc:
            raise StoreUnavailable(str(exc.orig) if exc.orig else str(exc)) from exc
