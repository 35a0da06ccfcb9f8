"""Workbins in the engine: every SQL statement about workbins lives here.

All methods are blocking; protocol layers call them off the reactor thread. Moving a request into or out of
a workbin is a write through :meth:`Store.write`: one transaction, a data-version bump and a
:class:`~services87.engine.storage.database.ChangeEvent` of kind ``"workbin"`` whose ``detail`` names the workbins and
owners whose counts changed::

    detail = {"request": 42, "from": {"uuid": ..., "owner_type": "Agent", "owner_ref": "3"} | None,
              "to": {...} | None, "owners": [["Agent", "3"], ["Place", "Place1"]]}

Bulk writes (demo data) emit ``detail = {"bulk": True}``: every owner may have changed.
"""

from __future__ import annotations

import random
import re
import time
import uuid as uuidlib
from dataclasses import dataclass
from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from services87.engine import schema as t
from services87.engine import schema_live  # noqa: F401  (its tables join the metadata _live_table looks in)
from services87.engine.model import NotFound, ValidationError
from services87.engine.schema_workbins import OWNER_TYPES, workbin_items, workbins
from services87.engine.storage import Store

#: Namespace of the deterministic workbin UUIDs (uuid5 of "type/owner/name").
WORKBIN_NAMESPACE = uuidlib.UUID("5e2c1b7a-87a0-4c1e-9f5d-0a7b1c2d3e4f")
HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")
MAX_NAME = 100
MAX_OWNER = 200


@dataclass(frozen=True)
class Owner:
    """A resolved workbin owner. ``ref`` is what is stored in ``workbins.owner_ref``; ``label`` is what
    GWS shows as ``Owner`` (the agent's 32-hex user id, or the name)."""

    type: str
    ref: str
    label: str
    user_id: int | None = None


@dataclass(frozen=True)
class WorkbinStat:
    uuid: str
    name: str
    type: str
    owner: str  # the GWS ``Owner`` label
    count: int


def canonical_type(value: object) -> str:
    """``"agentgroup"`` -> ``"AgentGroup"``; anything else raises :class:`ValidationError`."""
    if isinstance(value, str):
        for name in OWNER_TYPES:
            if name.lower() == value.strip().lower():
                return name
    raise ValidationError(f"workbinType must be one of {', '.join(OWNER_TYPES)}")


def workbin_uuid(owner_type: str, owner_key: str, name: str) -> str:
    """The stable UUID of a workbin: for an Agent ``owner_key`` is the user's 32-hex id, else the name."""
    return str(uuidlib.uuid5(WORKBIN_NAMESPACE, f"{owner_type}/{owner_key}/{name}"))


class WorkbinStore:
    """Workbins, their owners and membership, on top of a :class:`Store` (same engine, same write path)."""

    def __init__(self, store: Store):
        self.store = store
        self.engine = store.engine

    # ------------------------------------------------------------------ owners
    def resolve_owner(self, owner_type: str, owner: str | int) -> Owner:
        """Find an owner. Agent: a user id (int), 32-hex user uuid or login. Others: the name.

        An agent must exist as a user. A place is known if a workbin or a live place (``live_places``) has
        that name; an agent group or place group if a workbin or a user group has that name (the engine's
        user groups are its agent groups and place groups). Unknown owners raise :class:`NotFound`.
        """
        owner_type = canonical_type(owner_type)
        with self.engine.connect() as c:
            if owner_type == "Agent":
                u = t.users.c
                if isinstance(owner, int):
                    cond = u.id == owner
                elif isinstance(owner, str) and HEX32.match(owner.strip()):
                    cond = sa.func.lower(u.uuid) == owner.strip().lower()
                elif isinstance(owner, str) and owner.strip():
                    cond = u.login == owner.strip()
                else:
                    raise NotFound("agent not found")
                row = c.execute(sa.select(u.id, u.uuid).where(cond)).first()
                if not row:
                    raise NotFound(f"agent {owner!r} not found")
                return Owner("Agent", str(row.id), row.uuid, row.id)
            if not isinstance(owner, str) or not owner.strip():
                raise ValidationError("workbinOwner must be a non-empty name")
            name = owner.strip()
            if len(name) > MAX_OWNER:
                raise ValidationError(f"workbinOwner is longer than {MAX_OWNER} characters")
            w = workbins.c
            if c.execute(sa.select(w.id).where(w.owner_type == owner_type, w.owner_ref == name).limit(1)).first():
                return Owner(owner_type, name, name)
            if owner_type in ("AgentGroup", "PlaceGroup"):
                # agent groups and place groups (GroupPlaces) are the engine's user groups
                if c.execute(sa.select(t.user_groups.c.id).where(t.user_groups.c.name == name)).first():
                    return Owner(owner_type, name, name)
            table = _live_table(owner_type)
            if table is not None and c.execute(sa.select(table.c.name).where(table.c.name == name).limit(1)).first():
                return Owner(owner_type, name, name)
        raise NotFound(f"{owner_type} {name!r} not found")

    # ------------------------------------------------------------------ workbins
    def create_workbin(self, name: str, owner_type: str, owner: str | int, uuid: str | None = None) -> dict:
        """Create a workbin (the owner must exist for Agent; other owners are created with their first workbin)."""
        rows = self.create_workbins([(name, owner_type, owner, uuid)])
        return rows[0]

    def create_workbins(self, specs: Sequence[tuple[str, str, str | int, str | None]]) -> list[dict]:
        """Create several workbins in one write; existing ones (same owner and name) are returned unchanged."""
        prepared = []
        for name, owner_type, owner, wb_uuid in specs:
            if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME:
                raise ValidationError(f"workbin id must be 1-{MAX_NAME} characters")
            owner_type = canonical_type(owner_type)
            if owner_type == "Agent":
                o = self.resolve_owner("Agent", owner)
            else:
                if not isinstance(owner, str) or not owner.strip() or len(owner.strip()) > MAX_OWNER:
                    raise ValidationError(f"owner name must be 1-{MAX_OWNER} characters")
                o = Owner(owner_type, owner.strip(), owner.strip())
            if wb_uuid is not None:
                try:
                    wb_uuid = str(uuidlib.UUID(str(wb_uuid)))
                except ValueError:
                    raise ValidationError("workbin UUID is not a UUID") from None
            prepared.append((name.strip(), o, wb_uuid or workbin_uuid(o.type, o.label, name.strip())))

        def do(c: Connection) -> list[dict]:
            out = []
            now = int(time.time())
            for name, o, wb_uuid in prepared:
                w = workbins.c
                row = c.execute(sa.select(workbins).where(w.owner_type == o.type, w.owner_ref == o.ref,
                                                          w.name == name)).first()
                if row is None:
                    c.execute(workbins.insert().values(uuid=wb_uuid, name=name, owner_type=o.type, owner_ref=o.ref,
                                                       user_id=o.user_id, created_ts=now))
                    row = c.execute(sa.select(workbins).where(w.uuid == wb_uuid)).first()
                out.append(_workbin_dict(row, o.label))
            return out

        try:
            return self.store.write("workbin", do, ids_of=lambda rows: [r["pk"] for r in rows],
                                     detail={"created": [p[2] for p in prepared]})
        except sa.exc.IntegrityError:
            raise ValidationError("a workbin with that UUID already exists") from None

    def get_workbin(self, wb_uuid: str) -> dict:
        if not isinstance(wb_uuid, str) or len(wb_uuid) > 64:
            raise NotFound("workbin not found")
        with self.engine.connect() as c:
            row = c.execute(_workbins_with_label().where(workbins.c.uuid == wb_uuid.strip().lower())).first()
        if not row:
            raise NotFound(f"workbin {wb_uuid!r} not found")
        return _workbin_dict(row, row.label)

    def find_workbin(self, owner: Owner, name: str) -> dict:
        with self.engine.connect() as c:
            row = c.execute(_workbins_with_label().where(
                workbins.c.owner_type == owner.type, workbins.c.owner_ref == owner.ref,
                workbins.c.name == name)).first()
        if not row:
            raise NotFound(f"{owner.type} {owner.label!r} has no workbin {name!r}")
        return _workbin_dict(row, row.label)

    def stats(self, owner: Owner) -> list[WorkbinStat]:
        """One entry per workbin of ``owner`` with its current count (one consistent SELECT)."""
        w, i = workbins.c, workbin_items.c
        q = (sa.select(w.uuid, w.name, sa.func.count(i.request_id))
             .select_from(workbins.outerjoin(workbin_items, i.workbin_id == w.id))
             .where(w.owner_type == owner.type, w.owner_ref == owner.ref)
             .group_by(w.id, w.uuid, w.name).order_by(w.name))
        with self.engine.connect() as c:
            return [WorkbinStat(r[0], r[1], owner.type, owner.label, int(r[2])) for r in c.execute(q)]

    def list_workbins(self, owner: Owner) -> list[dict]:
        return [{"id": s.uuid, "name": s.name, "type": s.type, "owner": s.owner, "count": s.count}
                for s in self.stats(owner)]

    def contents(self, wb_uuid: str, limit: int = 100) -> list[dict]:
        """The requests in a workbin (oldest first), at most ``limit``."""
        wb = self.get_workbin(wb_uuid)
        rq, i = t.requests.c, workbin_items.c
        with self.engine.connect() as c:
            return [{"requestId": r.id, "externalId": r.external_id, "title": r.title, "open": bool(r.is_open),
                     "addedAt": r.added_ts}
                    for r in c.execute(sa.select(rq.id, rq.external_id, rq.title, rq.is_open, i.added_ts)
                                       .select_from(workbin_items.join(t.requests, rq.id == i.request_id))
                                       .where(i.workbin_id == wb["pk"]).order_by(i.added_ts, rq.id)
                                       .limit(max(0, min(int(limit), 1000))))]

    def workbin_of(self, request_id: int) -> dict | None:
        with self.engine.connect() as c:
            row = c.execute(_workbins_with_label().where(workbins.c.id == sa.select(workbin_items.c.workbin_id)
                                                         .where(workbin_items.c.request_id == request_id)
                                                         .scalar_subquery())).first()
        return _workbin_dict(row, row.label) if row else None

    # ------------------------------------------------------------------ membership
    def move(self, request: int | str, to_uuid: str | None, actor: int | None = None) -> dict:
        """Put a request (numeric id or external id) into workbin ``to_uuid``, or take it out of its
        workbin when ``to_uuid`` is None. A request is in at most one workbin: moving takes it out of the
        previous one. Returns ``{"requestId", "externalId", "from", "to", "changed"}``; a move that changes
        nothing is not written."""
        rq = t.requests.c
        with self.engine.connect() as c:
            cond = rq.id == request if isinstance(request, int) else rq.external_id == str(request)
            req = c.execute(sa.select(rq.id, rq.external_id).where(cond)).first()
        if req is None:
            raise NotFound(f"request {request!r} not found")
        target = self.get_workbin(to_uuid) if to_uuid is not None else None
        current = self.workbin_of(req.id)
        result = {"requestId": req.id, "externalId": req.external_id, "from": _public(current),
                  "to": _public(target), "changed": False}
        if (current and target and current["pk"] == target["pk"]) or (current is None and target is None):
            return result

        def do(c: Connection) -> None:
            c.execute(workbin_items.delete().where(workbin_items.c.request_id == req.id))
            if target is not None:
                c.execute(workbin_items.insert().values(request_id=req.id, workbin_id=target["pk"],
                                                        added_ts=int(time.time())))

        owners = [[wb["type"], wb["ownerRef"]] for wb in (current, target) if wb]
        self.store.write("workbin", do, actor=actor, ids_of=lambda _: [req.id],
                          detail={"request": req.id, "from": _public(current), "to": _public(target),
                                  "owners": owners})
        result["changed"] = True
        return result

    def fill(self, pairs: Iterable[tuple[int, int]]) -> int:
        """Bulk membership ``(request_id, workbin pk)`` for demo data; one write, ``detail={"bulk": True}``."""
        now = int(time.time())
        rows = [{"request_id": r, "workbin_id": w, "added_ts": now} for r, w in pairs]
        if not rows:
            return 0

        def do(c: Connection) -> int:
            c.execute(workbin_items.delete().where(workbin_items.c.request_id.in_([r["request_id"] for r in rows])))
            c.execute(workbin_items.insert(), rows)
            return len(rows)

        return self.store.write("workbin", do, detail={"bulk": True})

    def open_requests(self, limit: int = 100000) -> list[tuple[int, int | None, int | None]]:
        """``(id, owner_id, group_id)`` of open requests, by id (for demo data)."""
        rq = t.requests.c
        with self.engine.connect() as c:
            return [tuple(r) for r in c.execute(sa.select(rq.id, rq.owner_id, rq.group_id)
                                                .where(rq.is_open == sa.true()).order_by(rq.id).limit(limit))]


# ---------------------------------------------------------------------- helpers
def _workbins_with_label():
    w = workbins.c
    label = sa.case((w.owner_type == "Agent", t.users.c.uuid), else_=w.owner_ref).label("label")
    return sa.select(workbins, label).select_from(workbins.outerjoin(t.users, t.users.c.id == w.user_id))


def _workbin_dict(row, label: str) -> dict:
    return {"pk": row.id, "id": row.uuid, "name": row.name, "type": row.owner_type, "ownerRef": row.owner_ref,
            "owner": label, "userId": row.user_id}


def _public(wb: dict | None) -> dict | None:
    if wb is None:
        return None
    return {"id": wb["id"], "name": wb["name"], "type": wb["type"], "owner": wb["owner"], "ownerRef": wb["ownerRef"]}


def _live_table(owner_type: str) -> sa.Table | None:
    """Places from the live-events schema (``live_places``), when it defines them with a ``name`` column."""
    wanted = {"Place": ("live_places", "places"), "PlaceGroup": ("place_groups",)}.get(owner_type, ())
    for name in wanted:
        table = t.metadata.tables.get(name)
        if table is not None and "name" in table.c:
            return table
    return None


# ---------------------------------------------------------------------- demo data
#: Agent workbins created for every demo user.
AGENT_WORKBINS = ("Draft", "Review", "Pending")
#: Workbins of the other owner types: (type, owner name, workbin ids). The names used in the GWS
#: documentation samples (Place1, ServiceAgentGroup, ServicePlaceGroup) are included.
GROUP_WORKBINS = (
    ("Place", "Place1", ("Pending", "Review")),
    ("Place", "Place2", ("Pending",)),
    ("AgentGroup", "ServiceAgentGroup", ("Backlog",)),
    ("AgentGroup", "Support", ("Backlog", "Escalated")),
    ("AgentGroup", "Billing", ("Backlog",)),
    ("PlaceGroup", "ServicePlaceGroup", ("Pending",)),
    ("PlaceGroup", "FrontOffice", ("Pending", "Review")),
)


def generate_demo(store: Store, user_ids: Sequence[int], seed: int = 87) -> dict[str, int]:
    """Deterministic demo workbins: Draft/Review/Pending per demo user plus Place, AgentGroup and PlaceGroup
    workbins, each holding a few open requests (agents' workbins hold their own requests). Idempotent for
    the workbins; membership is only added to workbins that are all still empty."""
    ws = WorkbinStore(store)
    specs: list[tuple[str, str, str | int, str | None]] = []
    for uid in user_ids:
        specs.extend((name, "Agent", int(uid), None) for name in AGENT_WORKBINS)
    for owner_type, owner, names in GROUP_WORKBINS:
        specs.extend((name, owner_type, owner, None) for name in names)
    created = ws.create_workbins(specs)
    with store.engine.connect() as c:
        if c.execute(sa.select(sa.func.count()).select_from(workbin_items)).scalar_one():
            return {"workbins": len(created), "items": 0}
    rnd = random.Random(seed)
    by_user: dict[int, list[int]] = {}
    group_bins = [wb["pk"] for wb in created if wb["type"] != "Agent"]
    for wb in created:
        if wb["type"] == "Agent":
            by_user.setdefault(wb["userId"], []).append(wb["pk"])
    pairs = []
    for rid, owner_id, _group in ws.open_requests():
        r = rnd.random()
        if owner_id in by_user and r < 0.12:
            pairs.append((rid, rnd.choice(by_user[owner_id])))
        elif group_bins and 0.12 <= r < 0.17:
            pairs.append((rid, rnd.choice(group_bins)))
    # every workbin gets at least one request when there are enough open requests
    used = {rid for rid, _ in pairs}
    spare = [(rid, owner_id) for rid, owner_id, _g in ws.open_requests() if rid not in used]
    filled = {wb for _, wb in pairs}
    for wb in sorted(created, key=lambda w: w["type"] == "Agent"):  # group workbins first
        if wb["pk"] in filled:
            continue
        # an agent's workbin takes one of the agent's own spare requests, the others any spare request
        pick = next((i for i, (_rid, owner_id) in enumerate(spare)
                     if wb["type"] != "Agent" or owner_id == wb["userId"]), None)
        if pick is not None:
            pairs.append((spare.pop(pick)[0], wb["pk"]))
    return {"workbins": len(created), "items": ws.fill(pairs)}
