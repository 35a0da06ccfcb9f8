"""Reference data: user groups, statuses, priorities, categories (with their access rules)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from services87.engine import schema as t
from services87.engine.model import BaseStatus, ValidationError
from services87.engine.storage.database import Database, inserted_id


class ReferenceStore(Database):
    #: status id -> base status, read once (statuses are only added through :meth:`ensure_status`)
    _status_base: dict[int, int] | None = None

    def ensure_group(self, name: str) -> int:
        return self._ensure(t.user_groups, {"name": name}, {})

    def ensure_status(self, name: str, base: BaseStatus, rank: int = 0) -> int:
        """A status by name; ``rank`` orders statuses in the panels (lowest first, then by name)."""
        self._status_base = None
        return self._ensure(t.statuses, {"name": name}, {"base_status": int(base), "rank": rank})

    def ensure_priority(self, name: str, rank: int) -> int:
        """A priority by name; ``rank`` is the vendor's ``sort_order``: 1 is listed first."""
        return self._ensure(t.priorities, {"name": name}, {"rank": rank})

    def ensure_category(self, path: str | Sequence[str]) -> int:
        """A category by its path (``"Hardware/Printers"`` or a list); parents are created as needed."""
        parts = [p.strip() for p in (path.split("/") if isinstance(path, str) else path) if p.strip()]
        if not parts:
            raise ValidationError("empty category path")
        parent = None
        for name in parts:
            parent = self._ensure(t.categories, {"name": name, "parent_id": parent}, {})
        return parent  # type: ignore[return-value]

    def _ensure(self, table: sa.Table, key: dict, extra: dict) -> int:
        cond = [table.c[k].is_(None) if v is None else table.c[k] == v for k, v in key.items()]
        with self.engine.connect() as c:
            row = c.execute(sa.select(table.c.id).where(*cond)).first()
        if row:
            return row[0]
        return self.write("reference",
                          lambda c: inserted_id(c.execute(table.insert().values(**key, **extra))))

    def reference(self) -> dict[str, Any]:
        """Categories, statuses, priorities, groups and users, for labelling."""
        with self.engine.connect() as c:
            return {
                "categories": {r.id: (r.name, r.parent_id) for r in c.execute(sa.select(t.categories))},
                "statuses": {r.id: (r.name, r.base_status, r.rank) for r in c.execute(sa.select(t.statuses))},
                "priorities": {r.id: (r.name, r.rank) for r in c.execute(sa.select(t.priorities))},
                "groups": {r.id: r.name for r in c.execute(sa.select(t.user_groups))},
                "users": {r.id: (r.login, r.full_name, r.active) for r in c.execute(
                    sa.select(t.users.c.id, t.users.c.login, t.users.c.full_name, t.users.c.active))},
                #: user id -> the user's (primary) user group, the vendor's ejuser.usergroup
                "user_group": {r.id: r.primary_group_id for r in c.execute(
                    sa.select(t.users.c.id, t.users.c.primary_group_id))},
            }

    def user_logins(self) -> dict[int, str]:
        """User id -> login (what :meth:`reference` gives as ``users[id][0]``, without the other tables)."""
        with self.engine.connect() as c:
            return {r.id: r.login for r in c.execute(sa.select(t.users.c.id, t.users.c.login))}

    def status_base(self) -> dict[int, int]:
        if self._status_base is None:
            with self.engine.connect() as c:
                self._status_base = {r.id: r.base_status for r in c.execute(sa.select(t.statuses))}
        return self._status_base

    def lookup_id(self, kind: str, name: str) -> int | None:
        table = {"status": t.statuses, "priority": t.priorities, "group": t.user_groups}[kind]
        with self.engine.connect() as c:
            row = c.execute(sa.select(table.c.id).where(sa.func.lower(table.c.name) == name.lower())).first()
        return row[0] if row else None

    # ------------------------------------------------------------------ category access
    def set_category_access(self, category_id: int, members_only: bool | None = None,
                            members: Sequence[int] | None = None, list_in_main: bool | None = None) -> None:
        """Set a category's MembersOnly / ListInMain flags and (``members``) replace its member users."""
        def do(c: Connection) -> None:
            values = {}
            if members_only is not None:
                values["members_only"] = members_only
            if list_in_main is not None:
                values["list_in_main"] = list_in_main
            if values:
                c.execute(t.categories.update().where(t.categories.c.id == category_id).values(**values))
            if members is not None:
                c.execute(t.category_members.delete().where(t.category_members.c.category_id == category_id))
                if members:
                    c.execute(t.category_members.insert(), [{"category_id": category_id, "user_id": u}
                                                            for u in dict.fromkeys(members)])

        self.write("reference", do, ids_of=lambda _: [category_id])

    def hidden_categories(self, user_id: int | None, version: int | None = None) -> frozenset[int]:
        """The categories whose requests ``user_id`` may not see: every members-only category the user is not a
        member of, with all its subcategories (``None`` = nobody logged in: every members-only subtree).
        Cached per data version (membership changes are writes and bump it)."""
        version = self.data_version() if version is None else version
        hit = self.known_hidden_categories(user_id, version)
        if hit is not None:
            return hit
        cache = self.__dict__.setdefault("_hidden_cache", {})
        key = (version, user_id)
        cc = t.categories.c
        with self.engine.connect() as c:
            rows = c.execute(sa.select(cc.id, cc.parent_id, cc.members_only)).all()
            if not any(r.members_only for r in rows):
                hidden: frozenset[int] = frozenset()
            else:
                mine = set() if user_id is None else {cid for (cid,) in c.execute(
                    sa.select(t.category_members.c.category_id).where(t.category_members.c.user_id == user_id))}
                parent = {r.id: r.parent_id for r in rows}
                roots = {r.id for r in rows if r.members_only and r.id not in mine}
                out = set()
                for cid in parent:
                    seen, cur = set(), cid
                    while cur is not None and cur not in seen:
                        if cur in roots:
                            out.add(cid)
                            break
                        seen.add(cur)
                        cur = parent.get(cur)
                hidden = frozenset(out)
        if len(cache) > 1024 or any(v != version for v, _u in list(cache)[:1]):
            cache.clear()
        cache[key] = hidden
        return hidden

    def known_hidden_categories(self, user_id: int | None, version: int) -> frozenset[int] | None:
        """:meth:`hidden_categories` if already read at ``version``, else ``None``. Reads nothing (safe on the
        reactor thread)."""
        return self.__dict__.get("_hidden_cache", {}).get((version, user_id))

    def category_flags(self) -> dict[int, tuple[bool, bool]]:
        """category id -> (members_only, list_in_main)."""
        cc = t.categories.c
        with self.engine.connect() as c:
            return {r.id: (bool(r.members_only), bool(r.list_in_main))
                    for r in c.execute(sa.select(cc.id, cc.members_only, cc.list_in_main))}


def category_in(c: Connection, parts: Sequence[str]) -> int:
    """The id of the category at ``parts`` (names from the root), creating missing levels on ``c``."""
    parent = None
    for name in parts:
        cc = t.categories.c
        cond = [cc.name == name, cc.parent_id.is_(None) if parent is None else cc.parent_id == parent]
        row = c.execute(sa.select(cc.id).where(*cond)).first()
        parent = row[0] if row else inserted_id(c.execute(
            t.categories.insert().values(name=name, parent_id=parent)))
    return parent  # type: ignore[return-value]
