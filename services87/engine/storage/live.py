"""All SQL of the live contact-centre data: timelines, interactions, ingest idempotency, subscriptions.

Writes of statistics data go through :meth:`Store.write` so that they bump the data version and emit a
:class:`~services87.engine.storage.database.ChangeEvent` (kind ``live``, or ``requests`` when a batch also changed
requests; ``detail["live"]`` then says which agents/places/queues changed). Subscription bookkeeping is not
statistics data: its writes pass ``kind=None`` (no version bump, no event, like tickets). Everything here is blocking.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from services87.engine import schema as t
from services87.engine import schema_live as lt
from services87.engine.model import BaseStatus, Direction, NotFound, StoreUnavailable, UnknownObject, ValidationError
from services87.engine.storage import Store
from services87.engine.storage.database import chunks, inserted_id


def now_ms() -> int:
    return int(time.time() * 1000)


class IngestError(ValidationError):
    """An event of a batch cannot be applied; ``index`` is its position in the batch."""

    kind = "InvalidEvent"

    def __init__(self, index: int, event_id: str | None, message: str, kind: str = "InvalidEvent"):
        super().__init__(message)
        self.index = index
        self.event_id = event_id
        self.kind = kind


#: A queue named "<Group> Queue" is served by the agents of user group <Group> (see :meth:`LiveStore.resolve`).
QUEUE_SUFFIX = " Queue"


@dataclass(frozen=True)
class ObjectRef:
    """A statistics object resolved to its members. ``None`` for a member list means "all".

    A Queue has ``queues`` (its interactions) and ``users`` (the agents of its agent group, for the agent
    statistics of the queue)."""

    object_type: str
    object_id: str
    users: tuple[int, ...] | None = None
    places: tuple[int, ...] | None = None
    queues: tuple[int, ...] | None = None


class LiveStore:
    def __init__(self, store: Store, outage_file: str = "", tenant: str = "Environment"):
        self.store = store
        self.engine = store.engine
        self.outage_file = outage_file
        self.tenant = tenant

    # ------------------------------------------------------------------ availability
    def check_available(self) -> None:
        """Raise :class:`StoreUnavailable` while the configured outage file exists (fault injection)."""
        if self.outage_file and os.path.exists(self.outage_file):
            raise StoreUnavailable(f"store marked unreachable by {os.path.basename(self.outage_file)}")

    def probe(self) -> None:
        """A real round trip to the live tables; raises :class:`StoreUnavailable` when it fails."""
        self.check_available()
        try:
            with self.engine.connect() as c:
                c.execute(sa.select(sa.func.count()).select_from(lt.ingest_events).limit(1)).scalar_one()
        except sa.exc.SQLAlchemyError as exc:
            raise StoreUnavailable(exc.__class__.__name__) from exc

    # ------------------------------------------------------------------ ingest
    def apply_batch(self, events: Sequence[dict], received_ms: int | None = None) -> list[str]:
        """Apply normalised events in ONE transaction; return ``accepted``/``duplicate`` per event.

        A repeated event id (in the store or earlier in the batch) is ``duplicate`` and not applied again.
        Any bad event raises :class:`IngestError` and nothing of the batch is stored.
        """
        self.check_available()
        received_ms = now_ms() if received_ms is None else received_ms
        touched: dict[str, set] = {"agents": set(), "places": set(), "queues": set(), "requests": set()}
        out: list[str] = []

        def do(c: Connection) -> list[int]:
            ids = [e["id"] for e in events]
            seen: set[int] = set()
            for chunk in chunks(ids, 500):
                seen.update(r[0] for r in c.execute(sa.select(lt.ingest_events.c.event_id)
                                                    .where(lt.ingest_events.c.event_id.in_(chunk))))
            request_ids: list[int] = []
            for i, ev in enumerate(events):
                if ev["id"] in seen:
                    out.append("duplicate")
                    continue
                seen.add(ev["id"])
                try:
                    self._apply(c, ev, touched, request_ids)
                except IngestError:
                    raise
                except (ValidationError, NotFound) as exc:
                    raise IngestError(i, ev["id"], str(exc), getattr(exc, "kind", "InvalidEvent")) from None
                except sa.exc.IntegrityError as exc:
                    raise IngestError(i, ev["id"], f"conflicts with stored data ({exc.orig})") from None
                c.execute(lt.ingest_events.insert().values(event_id=ev["id"], type=ev["type"], received_ms=received_ms))
                out.append("accepted")
            detail["live"] = {k: sorted(str(x) for x in v if x is not None) for k, v in touched.items()}
            return request_ids

        if not events:
            return []
        kind = "requests" if any(e["type"] in ("request", "message") for e in events) else "live"
        detail: dict[str, Any] = {}
        self.store.write(kind, do, ids_of=lambda ids: ids, detail=detail)
        return out

    def _apply(self, c: Connection, ev: dict, touched: dict, request_ids: list[int]) -> None:
        typ = ev["type"]
        if typ == "place":
            gid = self._group_id(c, ev["group"]) if ev.get("group") else None
            pid = self._place_id(c, ev["place"], create=True)
            values: dict[str, Any] = {}
            if "dn" in ev:
                values["dn"] = ev["dn"]
            if "group" in ev:
                values["group_id"] = gid
            if values:
                c.execute(lt.live_places.update().where(lt.live_places.c.id == pid).values(**values))
            touched["places"].add(ev["place"])
        elif typ == "queue":
            self._queue_id(c, ev["queue"], create=True)
            touched["queues"].add(ev["queue"])
        elif typ == "agent-state":
            uid: int | None = self._user_id(c, ev["agent"])
            place_id = self._place_id(c, ev["place"], create=True) if ev.get("place") else None
            cur = c.execute(sa.select(lt.live_states.c.place_id, lt.live_states.c.dn).where(
                lt.live_states.c.kind == "agent", lt.live_states.c.user_id == uid,
                lt.live_states.c.start_ms <= ev["ts"]).order_by(lt.live_states.c.start_ms.desc(),
                                                                 lt.live_states.c.id.desc()).limit(1)).first()
            if place_id is None and not ev.get("place_cleared"):
                place_id = cur[0] if cur else None
            dn = ev.get("dn")
            if not dn and place_id is not None:
                dn = c.execute(sa.select(lt.live_places.c.dn).where(lt.live_places.c.id == place_id)).scalar()
            if not dn and cur is not None and cur[0] == place_id:
                dn = cur[1]  # the DN sticks like the place: a later event without one stays on the same DN
            dn = dn or "@" + ev["agent"]
            self._set_state(c, "agent", ev["ts"], ev["status"], user_id=uid, place_id=place_id, dn=dn,
                            reason=ev.get("reason"))
            dn_status = "NotMonitored" if ev["status"] == "LoggedOut" else ev["status"]
            self._set_state(c, "dn", ev["ts"], dn_status, user_id=uid, place_id=place_id, dn=dn,
                            reason=ev.get("reason"))
            touched["agents"].add(ev["agent"])
            touched["places"].add(ev.get("place"))
        elif typ == "dn-state":
            uid = self._user_id(c, ev["agent"]) if ev.get("agent") else None
            place_id = self._place_id(c, ev["place"], create=True) if ev.get("place") else None
            if place_id is None:
                place_id = c.execute(sa.select(lt.live_places.c.id).where(lt.live_places.c.dn == ev["dn"])).scalar()
            self._set_state(c, "dn", ev["ts"], ev["status"], user_id=uid, place_id=place_id, dn=ev["dn"],
                            reason=ev.get("reason"))
            if ev.get("agent"):
                touched["agents"].add(ev["agent"])
        elif typ == "interaction":
            self._interaction(c, ev, touched)
        elif typ == "request":
            row = dict(ev["row"])
            if "owner_login" in row:
                login = row.pop("owner_login")
                row["owner_id"] = self._user_id(c, login) if login else None
            if "group_name" in row:
                name = row.pop("group_name")
                row["group_id"] = self._group_id(c, name) if name else None
            if "status_name" in row:
                row["status_id"] = self._named(c, t.statuses, row.pop("status_name"), "status")
            if "priority_name" in row:
                name = row.pop("priority_name")
                row["priority_id"] = self._named(c, t.priorities, name, "priority") if name else None
            if row.get("_close"):
                row.pop("_close")
                if "status_id" not in row:
                    row["status_id"] = self._closed_status(c)
            if "status_id" not in row and not c.execute(sa.select(t.requests.c.id).where(
                    t.requests.c.external_id == row["external_id"])).first():
                raise ValidationError(f"request {row['external_id']!r} does not exist; a new request needs a status")
            request_ids.extend(self.store.upsert_requests_in(c, [row]))
            touched["requests"].add(row["external_id"])
        elif typ == "message":
            rid = c.execute(sa.select(t.requests.c.id).where(t.requests.c.external_id == ev["request"])).scalar()
            if rid is None:
                raise NotFound(f"request {ev['request']!r} not found")
            author = self._user_id(c, ev["author"]) if ev.get("author") else None
            self.store.add_message_in(c, rid, Direction(ev["direction"]), author, ev["ts"] // 1000)
            request_ids.append(rid)
            touched["requests"].add(ev["request"])
        else:  # pragma: no cover - the ingest layer only passes known types
            raise ValidationError(f"unknown event type {typ!r}")

    def _interaction(self, c: Connection, ev: dict, touched: dict) -> None:
        ti = lt.live_interactions
        row = c.execute(sa.select(ti).where(ti.c.interaction_id == ev["interaction"])).first()
        values: dict[str, Any] = {}
        if ev.get("queue"):
            values["queue_id"] = self._queue_id(c, ev["queue"], create=True)
            touched["queues"].add(ev["queue"])
        if ev.get("agent"):
            values["user_id"] = self._user_id(c, ev["agent"])
            touched["agents"].add(ev["agent"])
        if ev.get("media"):
            values["media"] = ev["media"]
        kind, ts = ev["event"], ev["ts"]
        if kind == "offered":
            values["offered_ms"] = ts
        elif kind == "answered":
            if row is not None and row.ended_ms is not None and row.answered_ms is None:
                raise ValidationError(f"interaction {ev['interaction']!r} has already ended")
            values["answered_ms"] = ts
            if row is None or row.offered_ms is None:
                values["offered_ms"] = ts
        elif kind == "abandoned":
            if row is not None and row.answered_ms is not None:
                raise ValidationError(f"interaction {ev['interaction']!r} was answered; it cannot be abandoned")
            values.update(ended_ms=ts, abandoned=True)
            if row is None or row.offered_ms is None:
                values["offered_ms"] = ts
        elif kind in ("released", "handled"):
            values["ended_ms"] = ts
            if row is None or row.offered_ms is None:
                values["offered_ms"] = ts
        if row is None:
            values.setdefault("media", "voice")
            c.execute(ti.insert().values(interaction_id=ev["interaction"], abandoned=values.pop("abandoned", False),
                                         **values))
        elif values:
            c.execute(ti.update().where(ti.c.id == row.id).values(**values))
        if row is not None and row.queue_id is not None and not ev.get("queue"):
            touched["queues"].add(c.execute(sa.select(lt.live_queues.c.name).where(
                lt.live_queues.c.id == row.queue_id)).scalar())

    def _set_state(self, c: Connection, kind: str, ts: int, status: str, *, user_id: int | None,
                   place_id: int | None, dn: str | None, reason: str | None) -> None:
        """Insert a state change at ``ts`` into the timeline of (kind, key), keeping intervals contiguous."""
        s = lt.live_states
        key = (s.c.user_id == user_id) if kind == "agent" else (s.c.dn == dn)
        cur = c.execute(sa.select(s).where(s.c.kind == kind, key, s.c.start_ms <= ts,
                                           sa.or_(s.c.end_ms.is_(None), s.c.end_ms > ts))
                        .order_by(s.c.start_ms.desc()).limit(1)).first()
        new = {"kind": kind, "user_id": user_id, "place_id": place_id, "dn": dn, "status": status, "reason": reason}
        if cur is not None:
            if cur.start_ms == ts:
                c.execute(s.update().where(s.c.id == cur.id).values(**new))
                return
            if cur.status == status and cur.place_id == place_id and cur.reason == reason and cur.user_id == user_id:
                return  # no change
            c.execute(s.update().where(s.c.id == cur.id).values(end_ms=ts))
            c.execute(s.insert().values(start_ms=ts, end_ms=cur.end_ms, **new))
            return
        nxt = c.execute(sa.select(sa.func.min(s.c.start_ms)).where(s.c.kind == kind, key, s.c.start_ms > ts)).scalar()
        c.execute(s.insert().values(start_ms=ts, end_ms=nxt, **new))

    # ------------------------------------------------------------------ reference lookups
    def _user_id(self, c: Connection, login: str) -> int:
        uid = c.execute(sa.select(t.users.c.id).where(t.users.c.login == login)).scalar()
        if uid is None:
            raise NotFound(f"unknown agent {login!r} (agents are the server's users)")
        return uid

    def _group_id(self, c: Connection, name: str) -> int:
        gid = c.execute(sa.select(t.user_groups.c.id)
                        .where(sa.func.lower(t.user_groups.c.name) == name.lower())).scalar()
        if gid is None:
            raise NotFound(f"unknown agent group {name!r} (agent groups are the server's user groups)")
        return gid

    def _place_id(self, c: Connection, name: str, create: bool = False) -> int | None:
        pid = c.execute(sa.select(lt.live_places.c.id).where(lt.live_places.c.name == name)).scalar()
        if pid is None and create:
            pid = inserted_id(c.execute(lt.live_places.insert().values(name=name)))
        return pid

    def _queue_id(self, c: Connection, name: str, create: bool = False) -> int | None:
        qid = c.execute(sa.select(lt.live_queues.c.id).where(lt.live_queues.c.name == name)).scalar()
        if qid is None and create:
            qid = inserted_id(c.execute(lt.live_queues.insert().values(name=name)))
        return qid

    def _named(self, c: Connection, table: sa.Table, name: str, what: str) -> int:
        rid = c.execute(sa.select(table.c.id).where(sa.func.lower(table.c.name) == name.lower())).scalar()
        if rid is None:
            known = ", ".join(r[0] for r in c.execute(sa.select(table.c.name).order_by(table.c.id)))
            raise NotFound(f"unknown {what} {name!r} (known: {known})")
        return rid

    def _closed_status(self, c: Connection) -> int:
        sid = c.execute(sa.select(t.statuses.c.id).where(t.statuses.c.base_status == int(BaseStatus.Closed))
                        .order_by(t.statuses.c.id).limit(1)).scalar()
        if sid is None:
            raise ValidationError("no status with base status Closed is configured")
        return sid

    # ------------------------------------------------------------------ reads for statistics
    def resolve(self, object_type: str, object_id: str) -> ObjectRef:
        """Members of a statistics object; :class:`UnknownObject` if it does not exist."""
        self.check_available()
        if not isinstance(object_id, str) or not object_id.strip():
            raise UnknownObject(f"objectId is required for objectType {object_type}")
        with self.engine.connect() as c:
            if object_type == "Agent":
                uid = c.execute(sa.select(t.users.c.id).where(t.users.c.login == object_id)).scalar()
                if uid is None:
                    raise UnknownObject(f"unknown Agent {object_id!r}")
                return ObjectRef(object_type, object_id, users=(uid,))
            if object_type == "Place":
                pid = c.execute(sa.select(lt.live_places.c.id).where(lt.live_places.c.name == object_id)).scalar()
                if pid is None:
                    raise UnknownObject(f"unknown Place {object_id!r}")
                return ObjectRef(object_type, object_id, places=(pid,))
            if object_type in ("GroupAgents", "GroupPlaces"):
                gid = c.execute(sa.select(t.user_groups.c.id)
                                .where(sa.func.lower(t.user_groups.c.name) == object_id.lower())).scalar()
                if gid is None:
                    raise UnknownObject(f"unknown {object_type} {object_id!r}")
                if object_type == "GroupAgents":
                    users = tuple(r[0] for r in c.execute(sa.select(t.user_group_members.c.user_id)
                                                          .where(t.user_group_members.c.group_id == gid)))
                    return ObjectRef(object_type, object_id, users=users)
                places = tuple(r[0] for r in c.execute(
                    sa.select(lt.live_places.c.id).where(lt.live_places.c.group_id == gid)))
                return ObjectRef(object_type, object_id, places=places)
            if object_type == "Queue":
                qid = c.execute(sa.select(lt.live_queues.c.id).where(lt.live_queues.c.name == object_id)).scalar()
                if qid is None:
                    raise UnknownObject(f"unknown Queue {object_id!r}")
                # The queue's agent group: the user group named like the queue, or like it without a trailing
                # " Queue" ("Support Queue" is served by "Support"). Its members' timelines answer the agent
                # statistics of the queue (CurrentReadyAgents...); a queue without such a group has no agents.
                names = {object_id.lower()}
                if object_id.lower().endswith(QUEUE_SUFFIX.lower()):
                    names.add(object_id[: -len(QUEUE_SUFFIX)].strip().lower())
                gids = [r[0] for r in c.execute(sa.select(t.user_groups.c.id)
                                                .where(sa.func.lower(t.user_groups.c.name).in_(sorted(names)))
                                                .order_by(t.user_groups.c.id))]
                users = tuple(r[0] for r in c.execute(sa.select(t.user_group_members.c.user_id).distinct()
                                                      .where(t.user_group_members.c.group_id.in_(gids or [-1]))))
                return ObjectRef(object_type, object_id, users=users, queues=(qid,))
            if object_type == "Tenant":
                if object_id.lower() not in (self.tenant.lower(), "resources"):
                    raise UnknownObject(f"unknown Tenant {object_id!r} (this server's tenant is {self.tenant!r})")
                return ObjectRef(object_type, object_id)
        raise UnknownObject(f"unknown objectType {object_type!r}")

    def states(self, kind: str, ref: ObjectRef, since_ms: int, until_ms: int) -> list[dict]:
        """State intervals of the object's members overlapping [since_ms, until_ms] (current ones included)."""
        self.check_available()
        s = lt.live_states.c
        cond = [s.kind == kind, s.start_ms <= until_ms, sa.or_(s.end_ms.is_(None), s.end_ms >= since_ms)]
        if ref.users is not None:
            cond.append(s.user_id.in_(ref.users) if ref.users else sa.false())
        if ref.places is not None:
            cond.append(s.place_id.in_(ref.places) if ref.places else sa.false())
        if ref.queues is not None and ref.users is None:
            return []
        with self.engine.connect() as c:
            return [dict(r._asdict()) for r in c.execute(
                sa.select(lt.live_states, t.users.c.login, lt.live_places.c.name.label("place"))
                .select_from(lt.live_states.outerjoin(t.users, t.users.c.id == s.user_id)
                             .outerjoin(lt.live_places, lt.live_places.c.id == s.place_id))
                .where(*cond).order_by(s.start_ms, s.id))]

    def interactions(self, ref: ObjectRef, since_ms: int) -> list[dict]:
        """Interactions of the object that are open, or had an event at or after ``since_ms``."""
        self.check_available()
        i = lt.live_interactions.c
        cond = [sa.or_(i.ended_ms.is_(None), i.ended_ms >= since_ms, i.offered_ms >= since_ms,
                       i.answered_ms >= since_ms)]
        if ref.queues is not None:
            cond.append(i.queue_id.in_(ref.queues) if ref.queues else sa.false())
        elif ref.users is not None:  # a queue's users are its agent group: its calls are the queue's own
            cond.append(i.user_id.in_(ref.users) if ref.users else sa.false())
        if ref.places is not None:
            # interactions handled by agents while they were at these places: by the agent's current place
            with self.engine.connect() as c:
                users = [r[0] for r in c.execute(sa.select(sa.distinct(lt.live_states.c.user_id)).where(
                    lt.live_states.c.kind == "agent", lt.live_states.c.place_id.in_(ref.places or [-1])))]
            cond.append(i.user_id.in_(users) if users else sa.false())
        with self.engine.connect() as c:
            return [dict(r._asdict()) for r in c.execute(
                sa.select(lt.live_interactions, lt.live_queues.c.name.label("queue"), t.users.c.login)
                .select_from(lt.live_interactions.outerjoin(lt.live_queues, lt.live_queues.c.id == i.queue_id)
                             .outerjoin(t.users, t.users.c.id == i.user_id))
                .where(*cond).order_by(i.offered_ms, i.id))]

    def names(self) -> dict[str, list[str]]:
        """Agents, places, queues and groups known (for the simulator and docs)."""
        self.check_available()
        with self.engine.connect() as c:
            return {
                "agents": [r[0] for r in c.execute(sa.select(t.users.c.login).where(t.users.c.active == sa.true())
                                                   .order_by(t.users.c.login))],
                "places": [r[0] for r in c.execute(sa.select(lt.live_places.c.name).order_by(lt.live_places.c.name))],
                "queues": [r[0] for r in c.execute(sa.select(lt.live_queues.c.name).order_by(lt.live_queues.c.name))],
                "groups": [r[0] for r in c.execute(sa.select(t.user_groups.c.name).order_by(t.user_groups.c.name))],
            }

    def current_agent_status(self) -> dict[str, tuple[str, int]]:
        """login -> (status, since_ms) of every agent with a timeline."""
        s = lt.live_states.c
        with self.engine.connect() as c:
            return {r.login: (r.status, r.start_ms) for r in c.execute(
                sa.select(t.users.c.login, s.status, s.start_ms)
                .select_from(lt.live_states.join(t.users, t.users.c.id == s.user_id))
                .where(s.kind == "agent", s.end_ms.is_(None)))}

    def open_interactions(self) -> list[dict]:
        i = lt.live_interactions.c
        with self.engine.connect() as c:
            return [dict(r._asdict()) for r in c.execute(
                sa.select(i.interaction_id, i.offered_ms, i.answered_ms, t.users.c.login,
                          lt.live_queues.c.name.label("queue"))
                .select_from(lt.live_interactions.outerjoin(t.users, t.users.c.id == i.user_id)
                             .outerjoin(lt.live_queues, lt.live_queues.c.id == i.queue_id))
                .where(i.ended_ms.is_(None)))]

    def count_events(self) -> int:
        with self.engine.connect() as c:
            return c.execute(sa.select(sa.func.count()).select_from(lt.ingest_events)).scalar_one()

    # ------------------------------------------------------------------ subscriptions (not statistics data)
    def save_subscription(self, sub_id: str, session_cookie: str | None, user_id: int | None, body: dict) -> None:
        self.check_available()
        ls = lt.live_subscriptions

        def do(c: Connection) -> None:
            c.execute(ls.delete().where(ls.c.id == sub_id))
            c.execute(ls.insert().values(id=sub_id, session_cookie=session_cookie, user_id=user_id,
                                         body=json.dumps(body), created_ms=now_ms()))

        self.store.write(None, do)

    def delete_subscriptions(self, ids: Iterable[str] | None = None) -> int:
        """Delete the given subscriptions, or all of them with ``ids=None``."""
        ls = lt.live_subscriptions

        def do(c: Connection) -> int:
            if ids is None:
                return c.execute(ls.delete()).rowcount
            n = 0
            for chunk in chunks(list(ids), 500):
                n += c.execute(ls.delete().where(ls.c.id.in_(chunk))).rowcount
            return n

        return self.store.write(None, do)

    def load_subscriptions(self) -> list[dict]:
        ls = lt.live_subscriptions
        with self.engine.connect() as c:
            out = []
            for r in c.execute(sa.select(ls).order_by(ls.c.created_ms)):
                try:
                    body = json.loads(r.body)
                except ValueError:
                    continue
                out.append({"id": r.id, "session_cookie": r.session_cookie, "user_id": r.user_id, "body": body})
            return out
