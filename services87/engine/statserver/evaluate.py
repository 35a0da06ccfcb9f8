"""Evaluating a statistic definition for an object at a moment (blocking: reads the store).

Semantics (see docs/genesys.md for the full table):

* Timelines: subject ``AgentStatus``/``GroupStatus``/``PlaceStatus`` reads the agent timeline, ``DNStatus`` the DN
  timeline, ``DNAction`` the DN timeline (statuses are durable actions) plus interaction actions: durable
  ``CallWait`` (queued, for Queue and Tenant objects) and instantaneous ``CallEntered``, ``CallAnswered``,
  ``CallDistributed``, ``CallAbandoned``, ``CallReleased``.
* A Queue's members are the agents of its agent group (status subjects) and its own calls (``DNAction``: no
  agent timeline, but each answered call is a durable ``CallInbound`` from answer to release).
* ``CurrentNumber``: members whose current status/action matches the mask. ``CurrentTime``: seconds the
  (longest-running) matching current status/action has lasted. ``CurrentState``: a tree (agent, place, DNs).
* ``TotalNumber``: matching actions that started in the window. ``TotalTime``: time of matching actions that
  *ended* in the window (clipped to it). ``TotalAdjustedTime``: all matching time inside the window, the action
  in progress included up to now. ``AverageTime``: TotalTime of the main mask / number of relative-mask
  actions that ended in the window. ``ServiceFactor1``: percentage of interactions answered within
  ``timeRangeRight`` seconds among those answered or abandoned (after ``timeRangeLeft``) in the window.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, UTC
from typing import TYPE_CHECKING, Any

from services87.engine.model import StatContext, StatusScreenPanelType, Validity
from services87.engine.statserver.definitions import StatDefinition
from services87.engine.timebuckets import resolve_zone

if TYPE_CHECKING:  # pragma: no cover
    from services87.engine.storage.live import LiveStore, ObjectRef

INSTANT_FROM_INTERACTION = ("CallEntered", "CallAnswered", "CallDistributed", "CallAbandoned", "CallReleased")


@dataclass(frozen=True)
class Result:
    """``raw`` is compared for notification (number, or a JSON-able tree); ``value`` goes on the wire."""

    raw: Any
    value: Any
    timestamp: int

    @property
    def numeric(self) -> bool:
        return isinstance(self.raw, (int, float)) and not isinstance(self.raw, bool)


def wire_number(x: float, ts: int, interval_s: int = 0) -> dict:
    """A numeric value in the shape of a Stat Server EventInfo rendered as JSON."""
    iv = int(round(x))
    text = str(iv) if abs(x - iv) < 1e-9 else f"{x:.2f}"
    return {"intValue": iv, "floatValue": round(float(x), 3), "stringValue": text, "timestamp": ts,
            "intervalLength": interval_s, "tag": -1}


class StatEvaluator:
    #: A value is as of a moment; one evaluation stands for the rest of its second of the clock (the
    #: ``timestamp`` of a value at most a second earlier than the question).
    clock_step_ms = 1000

    def validity(self, version: int, at_ms: int) -> Validity:
        """How long values evaluated at ``at_ms`` under data version ``version`` hold: that clock step."""
        step = self.clock_step_ms
        first = at_ms // step * step
        return Validity(version, first / 1000, (first + step) / 1000)

    def __init__(self, live: LiveStore, engine, time_zone: str, default_reset: str = "00:00"):
        self.live = live
        self.engine = engine
        self.zone = resolve_zone(time_zone)
        self.default_reset = default_reset

    # ------------------------------------------------------------------ windows
    def window_start(self, defn: StatDefinition, now_ms: int) -> int:
        iv = defn.interval
        if iv is None:
            return now_ms
        if iv.kind == "sliding":
            return now_ms - iv.length_s * 1000
        return self.last_reset(defn, now_ms)

    def last_reset(self, defn: StatDefinition, now_ms: int) -> int:
        now = datetime.fromtimestamp(now_ms / 1000, self.zone)
        best = None
        for tod in defn.interval.reset_times:  # type: ignore[union-attr]
            for days in (0, 1):
                day = (now - timedelta(days=days)).date()
                cand = datetime.combine(day, tod).replace(tzinfo=self.zone)
                ms = int(cand.timestamp() * 1000)
                if ms <= now_ms:
                    best = ms if best is None else max(best, ms)
                    break
        return best if best is not None else now_ms

    def next_reset(self, defn: StatDefinition, now_ms: int) -> int | None:
        iv = defn.interval
        if iv is None or iv.kind != "growing":
            return None
        now = datetime.fromtimestamp(now_ms / 1000, self.zone)
        best = None
        for tod in iv.reset_times:
            for days in (0, 1):
                day = (now + timedelta(days=days)).date()
                ms = int(datetime.combine(day, tod).replace(tzinfo=self.zone).timestamp() * 1000)
                if ms > now_ms:
                    best = ms if best is None else min(best, ms)
                    break
        return best

    # ------------------------------------------------------------------ evaluate
    def evaluate(self, defn: StatDefinition, object_type: str, object_id: str, now_ms: int | None = None,
                 ref: ObjectRef | None = None) -> Result:
        now_ms = int(time.time() * 1000) if now_ms is None else int(now_ms)
        if defn.panel:
            return self._panel(defn, object_type, object_id, now_ms)
        ref = ref or self.live.resolve(object_type, object_id)
        ws = self.window_start(defn, now_ms)
        interval_s = (now_ms - ws) // 1000 if defn.interval else 0
        cat = defn.category
        if cat == "CurrentState":
            tree = self._state_tree(defn, ref, now_ms)
            return Result(tree, dict(tree, timestamp=now_ms), now_ms)
        if cat == "ServiceFactor1":
            x = self._service_factor(defn, ref, ws, now_ms)
        else:
            durables, instants = self._actions(defn, ref, ws, now_ms)
            mask = defn.main_mask
            if cat == "CurrentNumber":
                x = len({e for e, n, s, end in durables if end is None and mask.matches(n)})
            elif cat == "CurrentTime":
                cur = [now_ms - s for e, n, s, end in durables if end is None and mask.matches(n)]
                x = int(max(cur) // 1000) if cur else 0
            elif cat == "TotalNumber":
                x = sum(1 for e, n, s, end in durables if ws <= s <= now_ms and mask.matches(n))
                x += sum(1 for n, ts in instants if ws <= ts <= now_ms and mask.matches(n))
            elif cat == "TotalTime":
                x = int(_total(durables, mask, ws, now_ms, completed=True) // 1000)
            elif cat == "TotalAdjustedTime":
                x = int(_total(durables, mask, ws, now_ms, completed=False) // 1000)
            elif cat == "AverageTime":
                rel = defn.rel_mask or mask
                n = sum(1 for e, nm, s, end in durables if end is not None and ws <= end <= now_ms and rel.matches(nm))
                x = round(_total(durables, mask, ws, now_ms, completed=True) / 1000 / n, 2) if n else 0
            else:  # pragma: no cover - parse_definition only lets the categories above through
                raise ValueError(cat)
        return Result(x, wire_number(x, now_ms, int(interval_s)), now_ms)

    # ------------------------------------------------------------------ helpers
    def _panel(self, defn: StatDefinition, object_type: str, object_id: str, now_ms: int) -> Result:
        assert defn.panel is not None  # evaluate() comes here for a panel statistic only
        user = None
        if object_type == "Agent":
            ref = self.live.resolve("Agent", object_id)
            user = self.live.store.get_user(ref.users[0])  # type: ignore[index]
        else:
            self.live.resolve(object_type, object_id)
        ctx = StatContext(user=user, now=datetime.fromtimestamp(now_ms / 1000, UTC))
        ds = self.engine.compute(ctx, [StatusScreenPanelType.parse(defn.panel)])[0]
        value = ds.as_dict()
        return Result(value, value, now_ms)

    def _timeline_kind(self, defn: StatDefinition) -> str:
        return "agent" if defn.subject in ("AgentStatus", "GroupStatus") else "dn"

    def _actions(self, defn: StatDefinition, ref: ObjectRef, ws: int, now_ms: int):
        """``durables``: (entity, name, start, end|None) clipped to now; ``instants``: (name, ts)."""
        kind = self._timeline_kind(defn)
        durables = []
        # A queue's DN actions are its calls' (below); its agent group's timelines answer the status subjects.
        own_calls = ref.object_type == "Queue" and defn.subject == "DNAction"
        for r in ([] if own_calls else self.live.states(kind, ref, ws, now_ms)):
            end = r["end_ms"] if r["end_ms"] is not None and r["end_ms"] <= now_ms else None
            ent = r["user_id"] if kind == "agent" else r["dn"]
            durables.append((ent, r["status"], r["start_ms"], end))
        instants = []
        if defn.subject == "DNAction":
            for i in self._interactions(defn, ref, ws):
                with_queue = ref.object_type in ("Queue", "Tenant")
                if with_queue and i["offered_ms"] is not None and i["offered_ms"] <= now_ms:
                    stop = i["answered_ms"] if i["answered_ms"] is not None else i["ended_ms"]
                    durables.append(("i:" + i["interaction_id"], "CallWait", i["offered_ms"],
                                     stop if stop is not None and stop <= now_ms else None))
                    instants.append(("CallEntered", i["offered_ms"]))
                if own_calls and i["answered_ms"] is not None and i["answered_ms"] <= now_ms:
                    # handled by an agent: the queue's call is a CallInbound action from answer to release
                    stop = i["ended_ms"]
                    durables.append(("i:" + i["interaction_id"], "CallInbound", i["answered_ms"],
                                     stop if stop is not None and stop <= now_ms else None))
                if i["answered_ms"] is not None:
                    instants.append(("CallAnswered", i["answered_ms"]))
                    if i["user_id"] is not None:
                        instants.append(("CallDistributed", i["answered_ms"]))
                if i["ended_ms"] is not None:
                    instants.append(("CallAbandoned" if i["abandoned"] else "CallReleased", i["ended_ms"]))
        return durables, instants

    def _interactions(self, defn: StatDefinition, ref: ObjectRef, ws: int) -> list[dict]:
        rows = self.live.interactions(ref, ws)
        if defn.media:
            rows = [r for r in rows if (r["media"] or "").lower() == defn.media]
        return rows

    def _service_factor(self, defn: StatDefinition, ref: ObjectRef, ws: int, now_ms: int) -> float:
        right, left = defn.time_range_right * 1000, defn.time_range_left * 1000
        answered = within = abandoned = 0
        for i in self._interactions(defn, ref, ws):
            if i["answered_ms"] is not None and ws <= i["answered_ms"] <= now_ms:
                answered += 1
                if i["answered_ms"] - (i["offered_ms"] or i["answered_ms"]) <= right:
                    within += 1
            elif i["abandoned"] and i["ended_ms"] is not None and ws <= i["ended_ms"] <= now_ms:
                if i["ended_ms"] - (i["offered_ms"] or i["ended_ms"]) >= left:
                    abandoned += 1
        total = answered + abandoned
        return round(100.0 * within / total, 2) if total else 100.0

    def _state_tree(self, defn: StatDefinition, ref: ObjectRef, now_ms: int) -> dict:
        agent_rows = [r for r in self.live.states("agent", ref, now_ms, now_ms)
                      if r["end_ms"] is None or r["end_ms"] > now_ms]
        dn_rows = [r for r in self.live.states("dn", ref, now_ms, now_ms)
                   if r["end_ms"] is None or r["end_ms"] > now_ms]

        def agent_tree(uid: int | None, login: str | None) -> dict:
            a = next((r for r in agent_rows if r["user_id"] == uid), None)
            dns = [r for r in dn_rows if r["user_id"] == uid]
            status = a["status"] if a else "LoggedOut"
            node = {"agentId": login, "status": status, "time": a["start_ms"] if a else None,
                    "placeId": a["place"] if a else None, "reason": a["reason"] if a else None,
                    "dnStatuses": [{"dnId": d["dn"], "status": d["status"], "time": d["start_ms"],
                                    **({"actions": [{"action": d["status"], "time": d["start_ms"]}]}
                                       if defn.subject == "DNAction" else {})} for d in dns]}
            return node

        if ref.object_type == "Agent":
            uid = ref.users[0]  # type: ignore[index]
            node = agent_tree(uid, ref.object_id)
            return dict(node, stringValue=node["status"])
        if ref.object_type == "Place":
            a = next((r for r in agent_rows), None)
            if a is not None:
                node = agent_tree(a["user_id"], a["login"])
            else:
                dns = [r for r in dn_rows]
                node = {"agentId": None, "status": dns[0]["status"] if dns else "NotMonitored",
                        "time": dns[0]["start_ms"] if dns else None, "placeId": ref.object_id, "reason": None,
                        "dnStatuses": [{"dnId": d["dn"], "status": d["status"], "time": d["start_ms"]} for d in dns]}
            node["placeId"] = ref.object_id
            return dict(node, stringValue=node["status"])
        if ref.object_type == "Queue":
            waiting = [i for i in self.live.interactions(ref, now_ms)
                       if i["answered_ms"] is None and i["ended_ms"] is None and i["offered_ms"] is not None]
            return {"queueId": ref.object_id, "waiting": len(waiting), "stringValue": str(len(waiting)),
                    "interactions": [{"interactionId": i["interaction_id"], "since": i["offered_ms"],
                                      "media": i["media"]} for i in waiting]}
        # groups and the tenant: one node per member agent
        if ref.users is not None:
            uids = list(ref.users)
        else:
            uids = sorted({r["user_id"] for r in agent_rows if r["user_id"] is not None})
        logins = self.live.store.user_logins()  # only here: the other objects name no user
        agents = [agent_tree(u, logins.get(u)) for u in uids]
        counts: dict[str, int] = {}
        for a in agents:
            counts[a["status"]] = counts.get(a["status"], 0) + 1
        return {"objectId": ref.object_id, "objectType": ref.object_type, "agents": agents, "counts": counts,
                "stringValue": ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))}


def _total(durables, mask, ws: int, now_ms: int, completed: bool) -> float:
    total = 0
    for _e, name, start, end in durables:
        if not mask.matches(name):
            continue
        if end is None:
            if completed:
                continue
            stop = now_ms
        else:
            if completed and not (ws <= end <= now_ms):
                continue
            stop = min(end, now_ms)
        total += max(0, stop - max(start, ws))
    return total
