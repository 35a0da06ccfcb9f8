"""Credentials that are not statistics data: hashed tickets and refresh tokens, server-side sessions and the
log-in throttle. Their writes go through :meth:`Database.write` with ``kind=None`` (no data-version bump);
revocations bump ``auth_version`` instead."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from services87.engine import schema as t
from services87.engine.model import NotFound
from services87.engine.schema_sessions import auth_sessions, login_throttle

if TYPE_CHECKING:
    from services87.engine.storage import Store


class TicketStore:
    """Hashed SoPrincipal tickets, refresh tokens, server-side sessions and the log-in throttle: the one
    truth every worker reads. Not statistics data: writes do not bump the data version. Store errors are
    :class:`StoreUnavailable`."""

    def __init__(self, store: Store):
        self.store = store
        self.engine = store.engine

    # ------------------------------------------------------------------ tickets and refresh tokens
    def add(self, digest: str, user_id: int, created_ts: int, expires_ts: int, kind: str) -> None:
        self.store.write(None, lambda c: c.execute(t.tickets.insert().values(
            hash=digest, user_id=user_id, created_ts=created_ts, expires_ts=expires_ts, revoked=False, kind=kind)))

    def get(self, digest: str, kind: str) -> dict | None:
        row = self.store.read(lambda c: c.execute(
            sa.select(t.tickets).where(t.tickets.c.hash == digest, t.tickets.c.kind == kind)).first())
        return dict(row._asdict()) if row else None

    def revoke(self, digest: str) -> bool:
        def do(c: Connection) -> bool:
            n = c.execute(t.tickets.update().where(t.tickets.c.hash == digest).values(revoked=True)).rowcount
            bump_auth_version(c)
            return n > 0

        return self.store.write(None, do)

    def bump_auth_version(self) -> None:
        """Invalidate every cache of validated credentials (after a revocation recorded by :meth:`add`)."""
        self.store.write(None, bump_auth_version)

    def revoke_user(self, user_id: int) -> int:
        """Revoke every credential of a user (see :meth:`UserStore.revoke_user_credentials`)."""
        self.store.revoke_user_credentials(user_id)
        return 1

    def purge_expired(self, now_ts: int) -> int:
        """Delete tickets, refresh tokens, revoked-token marks and sessions that ended before ``now_ts``,
        and throttle windows older than a day."""
        def do(c: Connection) -> int:
            n = c.execute(t.tickets.delete().where(t.tickets.c.expires_ts < now_ts)).rowcount
            n += c.execute(auth_sessions.delete().where(auth_sessions.c.expires_ts < now_ts)).rowcount
            c.execute(login_throttle.delete().where(login_throttle.c.window_start < now_ts - 86400))
            return n

        return self.store.write(None, do)

    # ------------------------------------------------------------------ sessions
    def session_add(self, digest: str, kind: str, user_id: int, csrf: str, now_ts: int, lifetime: int,
                    ticket_hash: str | None = None) -> None:
        def do(c: Connection) -> None:
            row = c.execute(sa.select(t.users.c.active, t.users.c.credential_epoch)
                            .where(t.users.c.id == user_id)).first()
            if row is None or not row[0]:
                raise NotFound(f"user {user_id} is not active")
            c.execute(auth_sessions.insert().values(
                hash=digest, kind=kind, user_id=user_id, csrf=csrf, epoch=int(row[1]), ticket_hash=ticket_hash,
                created_ts=now_ts, last_seen_ts=now_ts, expires_ts=now_ts + lifetime))

        self.store.write(None, do)

    def session_get(self, digest: str, kind: str, now_ts: int, idle: int, touch_after: int = 15) -> dict | None:
        """A live session (``hash``, ``user_id``, ``csrf``, ``ticket_hash``, ``expires_ts``...) or ``None``:
        absent, past its absolute end, idle longer than ``idle`` seconds, its user inactive or gone, or the
        user's credential epoch moved since it opened. A use more than ``touch_after`` seconds after the last
        recorded one moves ``last_seen_ts`` (so the idle clock is shared by every worker)."""
        a = auth_sessions
        q = (sa.select(a, t.users.c.active, t.users.c.credential_epoch)
             .join(t.users, t.users.c.id == a.c.user_id).where(a.c.hash == digest, a.c.kind == kind))
        row = self.store.read(lambda c: c.execute(q).first())
        if row is None:
            return None
        m = dict(row._asdict())
        if (not m["active"] or int(m["credential_epoch"]) != int(m["epoch"]) or m["expires_ts"] <= now_ts
                or now_ts - m["last_seen_ts"] > idle):
            return None
        if now_ts - m["last_seen_ts"] >= touch_after:
            self.store.write(None, lambda c: c.execute(
                a.update().where(a.c.hash == digest).values(last_seen_ts=now_ts)))
        return m

    def session_delete(self, digest: str) -> dict | None:
        """End a session (and the ticket it wraps); the deleted row, or ``None``."""
        a = auth_sessions

        def do(c: Connection) -> dict | None:
            row = c.execute(sa.select(a).where(a.c.hash == digest)).first()
            if row is None:
                return None
            c.execute(a.delete().where(a.c.hash == digest))
            if row.ticket_hash:
                c.execute(t.tickets.update().where(t.tickets.c.hash == row.ticket_hash).values(revoked=True))
            bump_auth_version(c)
            return dict(row._asdict())

        return self.store.write(None, do)

    def session_touch(self, digests: Iterable[str], now_ts: int) -> None:
        """Record a use of these sessions now (e.g. GWS sessions a CometD client is bound to)."""
        a = auth_sessions
        digests = sorted(set(digests))
        if digests:
            self.store.write(None, lambda c: c.execute(
                a.update().where(a.c.hash.in_(digests)).values(last_seen_ts=now_ts)))

    def sessions_alive(self, digests: Iterable[str], now_ts: int) -> set[str]:
        """Which of these session digests are still live (user active, epoch unchanged, not past the end)."""
        a = auth_sessions
        digests = sorted(set(digests))
        if not digests:
            return set()
        q = (sa.select(a.c.hash).join(t.users, t.users.c.id == a.c.user_id)
             .where(a.c.hash.in_(digests), a.c.expires_ts > now_ts, t.users.c.active == sa.true(),
                    t.users.c.credential_epoch == a.c.epoch))
        return {r[0] for r in self.store.read(lambda c: c.execute(q).all())}

    # ------------------------------------------------------------------ log-in throttle
    def throttle_failures(self, keys: Sequence[str], now_ts: int, window: int) -> dict[str, int]:
        """Failures counted per key in its current window (keys without a live window are left out)."""
        lt = login_throttle
        rows = self.store.read(lambda c: c.execute(
            sa.select(lt.c.key, lt.c.failures)
            .where(lt.c.key.in_(list(keys)), lt.c.window_start > now_ts - window)).all())
        return {r[0]: int(r[1]) for r in rows}

    def throttle_record(self, keys: Sequence[str], now_ts: int, window: int) -> None:
        """Count one failure for each key (a window older than ``window`` seconds starts again)."""
        lt = login_throttle

        def do(c: Connection) -> None:
            for key in keys:
                row = c.execute(sa.select(lt.c.window_start, lt.c.failures).where(lt.c.key == key)).first()
                if row is None:
                    try:
                        with c.begin_nested():
                            c.execute(lt.insert().values(key=key, window_start=now_ts, failures=1))
                        continue
                    except sa.exc.IntegrityError:  # another worker counted the first failure just now
                        row = c.execute(sa.select(lt.c.window_start, lt.c.failures).where(lt.c.key == key)).one()
                if row.window_start <= now_ts - window:
                    c.execute(lt.update().where(lt.c.key == key).values(window_start=now_ts, failures=1))
                else:
                    c.execute(lt.update().where(lt.c.key == key).values(failures=lt.c.failures + 1))

        self.store.write(None, do)


def end_user_credentials(c: Connection, user_id: int) -> None:
    """Revoke a user's tickets and refresh tokens and delete their sessions (inside a write)."""
    c.execute(t.tickets.update().where(t.tickets.c.user_id == user_id).values(revoked=True))
    c.execute(auth_sessions.delete().where(auth_sessions.c.user_id == user_id))


def bump_auth_version(c: Connection) -> None:
    """Revocations bump ``auth_version`` so that caches of validated tickets (keyed by it) never outlive them."""
    row = c.execute(sa.select(t.meta.c.value).where(t.meta.c.key == "auth_version")).first()
    if row:
        c.execute(t.meta.update().where(t.meta.c.key == "auth_version").values(value=str(int(row[0]) + 1)))
    else:
        c.execute(t.meta.insert().values(key="auth_version", value="1"))
