"""Users: accounts, passwords, activation and the credential epoch (what ends a user's tickets and sessions)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from services87.engine import schema as t
from services87.engine.model import NotFound, User, ValidationError
from services87.engine.storage.database import Database, inserted_id
from services87.engine.storage.tickets import bump_auth_version, end_user_credentials


class UserStore(Database):
    def add_user(self, login: str, full_name: str, email: str = "", password_hash: str | None = None,
                 time_zone: str | None = None, language: str | None = None, groups: Sequence[int] = (),
                 active: bool = True, uuid: str | None = None) -> int:
        def do(c: Connection) -> int:
            uid = inserted_id(c.execute(t.users.insert().values(
                login=login, full_name=full_name, email=email, password_hash=password_hash, time_zone=time_zone,
                language=language, active=active, uuid=uuid or secrets.token_hex(16),
                primary_group_id=groups[0] if groups else None)))
            for g in groups:
                c.execute(t.user_group_members.insert().values(user_id=uid, group_id=g))
            return uid

        try:
            return self.write("users", do, ids_of=lambda uid: [uid])
        except sa.exc.IntegrityError:
            raise ValidationError(f"user {login!r} already exists") from None

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        """Change a password: every credential issued before ends (tickets, tokens, sessions; the epoch moves)."""
        def do(c: Connection) -> None:
            end_user_credentials(c, user_id)
            c.execute(t.users.update().where(t.users.c.id == user_id).values(
                password_hash=password_hash, credential_epoch=t.users.c.credential_epoch + 1))
            bump_auth_version(c)

        self.write("users", do, ids_of=lambda _: [user_id])

    def password_hash(self, login: str) -> tuple[int, str | None] | None:
        row = self.read(lambda c: c.execute(
            sa.select(t.users.c.id, t.users.c.password_hash, t.users.c.active).where(t.users.c.login == login)).first())
        if not row or not row.active:
            return None
        return row.id, row.password_hash

    def _user_from_row(self, c: Connection, row) -> User:
        groups = tuple(g for (g,) in c.execute(
            sa.select(t.user_group_members.c.group_id).where(t.user_group_members.c.user_id == row.id)
            .order_by(t.user_group_members.c.group_id)))
        return User(id=row.id, login=row.login, full_name=row.full_name, email=row.email or "",
                    time_zone=row.time_zone, language=row.language, active=bool(row.active), uuid=row.uuid,
                    group_ids=groups, primary_group_id=row.primary_group_id)

    def get_user(self, user_id: int) -> User:
        def do(c: Connection) -> User:
            row = c.execute(sa.select(t.users).where(t.users.c.id == user_id)).first()
            if not row:
                raise NotFound(f"user {user_id} not found")
            return self._user_from_row(c, row)

        return self.read(do)

    def user_credential_state(self, user_id: int) -> tuple[bool, int] | None:
        """``(active, credential_epoch)`` of a user, or ``None`` when there is no such user."""
        row = self.read(lambda c: c.execute(sa.select(t.users.c.active, t.users.c.credential_epoch)
                                                  .where(t.users.c.id == user_id)).first())
        return (bool(row[0]), int(row[1])) if row else None

    def credential_states(self, user_ids: Iterable[int]) -> dict[int, tuple[bool, int]]:
        """:meth:`user_credential_state` of several users at once (missing users are left out)."""
        ids = sorted({int(u) for u in user_ids})
        if not ids:
            return {}
        rows = self.read(lambda c: c.execute(
            sa.select(t.users.c.id, t.users.c.active, t.users.c.credential_epoch).where(t.users.c.id.in_(ids))).all())
        return {r[0]: (bool(r[1]), int(r[2])) for r in rows}

    def set_user_active(self, user_id: int, active: bool) -> None:
        """Activate or deactivate a user; deactivation ends every credential of the user (the epoch moves)."""
        def do(c: Connection) -> None:
            values: dict[str, Any] = {"active": active}
            if not active:
                values["credential_epoch"] = t.users.c.credential_epoch + 1
                end_user_credentials(c, user_id)
            c.execute(t.users.update().where(t.users.c.id == user_id).values(**values))
            bump_auth_version(c)

        self.write("users", do, ids_of=lambda _: [user_id])

    def remove_user(self, user_id: int) -> bool:
        """Delete a user and, with it (cascades), every ticket, session and preference of theirs. A user the
        statistics still refer to (requests, messages) is kept, deactivated and without a password instead;
        ``True`` when the row was deleted."""
        def do(c: Connection) -> None:
            end_user_credentials(c, user_id)
            c.execute(t.user_group_members.delete().where(t.user_group_members.c.user_id == user_id))
            c.execute(t.users.delete().where(t.users.c.id == user_id))
            bump_auth_version(c)

        try:
            self.write("users", do, ids_of=lambda _: [user_id])
            return True
        except sa.exc.IntegrityError:
            def keep(c: Connection) -> None:
                end_user_credentials(c, user_id)
                c.execute(t.users.update().where(t.users.c.id == user_id).values(
                    active=False, password_hash=None, credential_epoch=t.users.c.credential_epoch + 1))
                bump_auth_version(c)

            self.write("users", keep, ids_of=lambda _: [user_id])
            return False

    def revoke_user_credentials(self, user_id: int) -> None:
        """Admin revoke: every ticket, token and session of the user ends (the epoch moves)."""
        def do(c: Connection) -> None:
            end_user_credentials(c, user_id)
            c.execute(t.users.update().where(t.users.c.id == user_id)
                      .values(credential_epoch=t.users.c.credential_epoch + 1))
            bump_auth_version(c)

        self.write(None, do)

    def find_user(self, login: str) -> User | None:
        with self.engine.connect() as c:
            row = c.execute(sa.select(t.users).where(t.users.c.login == login)).first()
            return self._user_from_row(c, row) if row else None

    def find_user_by_uuid(self, uuid: str) -> User | None:
        with self.engine.connect() as c:
            row = c.execute(sa.select(t.users).where(t.users.c.uuid == uuid)).first()
            return self._user_from_row(c, row) if row else None

    def list_users(self) -> list[User]:
        with self.engine.connect() as c:
            return [self._user_from_row(c, r) for r in c.execute(sa.select(t.users).order_by(t.users.c.login))]

