"""Live event ingest: ``POST /api/ingest/events`` (JSON, authenticated, batched, idempotent by event id).

The resource stays thin: :func:`normalize_batch` checks and normalises the JSON (pure, no store access),
:func:`submit` applies a batch through :meth:`LiveStore.apply_batch` on the store thread pool (one
transaction; the reply is written only after the commit, so an acknowledged event is durable). The
simulator calls the same :func:`submit`. Schema and errors: docs/genesys.md.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from twisted.internet import defer
from twisted.python.failure import Failure
from klein import Klein

from services87.auth.http import BEARER, SOTICKET, BASIC, authenticate_request, retry_after
from services87.auth.service import AuthError
from services87.engine.model import FieldError, StoreUnavailable, ValidationError, check_direction, request_fields
from services87.engine.storage.live import IngestError
from services87.engine.statserver.definitions import INSTANT_ACTIONS, canonical_status
from services87.http.tree import mount as mount_at
from services87.http import jsonguard
from services87.http.body import read_body
from services87.http.errors import HttpError, classify
from services87.http.routing import JsonAnswers, Routes, detached, json_errors

if TYPE_CHECKING:
    from services87.server import Services87Server

log = logging.getLogger(__name__)

EVENT_TYPES = {"agent-state": "agent-state", "agentstate": "agent-state", "agent": "agent-state",
               "dn-state": "dn-state", "dnstate": "dn-state", "dn": "dn-state",
               "interaction": "interaction", "call": "interaction",
               "place": "place", "queue": "queue", "request": "request", "ticket": "request",
               "message": "message"}
INTERACTION_EVENTS = ("offered", "answered", "abandoned", "released", "handled")
REQUEST_ACTIONS = ("create", "update", "close")
MAX_NAME = 100
PAST_LIMIT_MS = 400 * 86400 * 1000
FUTURE_LIMIT_MS = 5 * 60 * 1000


class BadEvent(ValidationError):
    kind = "InvalidEvent"

    def __init__(self, index: int, event_id: Any, message: str):
        super().__init__(message)
        self.index = index
        self.event_id = event_id


# ---------------------------------------------------------------------- validation
def _name(ev: dict, key: str, index: int, required: bool = True, limit: int = MAX_NAME) -> str | None:
    v = ev.get(key)
    if v is None or v == "":
        if required:
            raise BadEvent(index, ev.get("id"), f"{key} is required")
        return None
    if isinstance(v, bool) or not isinstance(v, (str, int)):
        raise BadEvent(index, ev.get("id"), f"{key} must be a string")
    v = str(v).strip()
    if not v or len(v) > limit or any(ord(ch) < 32 for ch in v):
        raise BadEvent(index, ev.get("id"), f"{key} must be 1-{limit} printable characters")
    return v


def parse_ts(value: Any, now_ms: int, index: int = 0, event_id: Any = None, key: str = "ts") -> int:
    """Epoch milliseconds (integer or float), or an ISO 8601 string with a zone; default now."""
    if value is None:
        return now_ms
    if isinstance(value, bool):
        raise BadEvent(index, event_id, f"{key} must be epoch milliseconds or an ISO 8601 time")
    if isinstance(value, (int, float)):
        if value != value:
            raise BadEvent(index, event_id, f"{key} is not a number")
        ms = int(value)
    elif isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise BadEvent(index, event_id, f"{key}: {value!r} is not an ISO 8601 time") from None
        if dt.tzinfo is None:
            raise BadEvent(index, event_id, f"{key}: {value!r} has no time zone")
        ms = int(dt.timestamp() * 1000)
    else:
        raise BadEvent(index, event_id, f"{key} must be epoch milliseconds or an ISO 8601 time")
    if ms < now_ms - PAST_LIMIT_MS or ms > now_ms + FUTURE_LIMIT_MS:
        raise BadEvent(index, event_id, f"{key} {value!r} is more than 400 days in the past or 5 minutes in the future"
                       " (epoch milliseconds expected)")
    return ms


def _status(ev: dict, index: int) -> str:
    raw = ev.get("status")
    st = canonical_status(raw)
    if st is None or st in INSTANT_ACTIONS or st == "CallWait":
        raise BadEvent(index, ev.get("id"), f"unknown status {raw!r} (e.g. LoggedIn, WaitForNextCall, "
                       "NotReadyForNextCall, AfterCallWork, CallInbound, CallOutbound, LoggedOut)")
    return st


def normalize_event(raw: Any, index: int, now_ms: int) -> dict:
    if not isinstance(raw, dict):
        raise BadEvent(index, None, "an event must be a JSON object")
    eid = raw.get("id", raw.get("eventId"))
    if isinstance(eid, bool) or not isinstance(eid, (str, int)) or not str(eid).strip() or len(str(eid)) > 128:
        raise BadEvent(index, eid, "id is required: a string of 1-128 characters, unique per event")
    eid = str(eid).strip()
    raw = dict(raw, id=eid)
    typ = EVENT_TYPES.get(re.sub(r"[\s_]", "", str(raw.get("type", ""))).lower())
    if typ is None:
        raise BadEvent(index, eid, f"unknown type {raw.get('type')!r} (one of agent-state, dn-state, interaction, "
                       "place, queue, request, message)")
    out: dict[str, Any] = {"id": eid, "type": typ}
    if typ in ("agent-state", "dn-state", "interaction", "message"):
        out["ts"] = parse_ts(raw.get("ts", raw.get("timestamp")), now_ms, index, eid)
    if typ == "agent-state":
        out.update(agent=_name(raw, "agent", index), status=_status(raw, index),
                   place=_name(raw, "place", index, False), dn=_name(raw, "dn", index, False, 64),
                   reason=_name(raw, "reason", index, False))
    elif typ == "dn-state":
        out.update(dn=_name(raw, "dn", index, True, 64), status=_status(raw, index),
                   agent=_name(raw, "agent", index, False), place=_name(raw, "place", index, False),
                   reason=_name(raw, "reason", index, False))
    elif typ == "interaction":
        kind = str(raw.get("event", "")).strip().lower()
        if kind not in INTERACTION_EVENTS:
            raise BadEvent(index, eid, f"event must be one of {', '.join(INTERACTION_EVENTS)}")
        out.update(interaction=_name(raw, "interaction", index), event=kind, queue=_name(raw, "queue", index, False),
                   agent=_name(raw, "agent", index, False),
                   media=(_name(raw, "media", index, False, 32) or "").lower() or None)
        if kind == "offered" and not out["queue"]:
            raise BadEvent(index, eid, "an offered interaction needs a queue")
    elif typ == "place":
        out["place"] = _name(raw, "place", index)
        if "dn" in raw:
            out["dn"] = _name(raw, "dn", index, False, 64)
        if "group" in raw:
            out["group"] = _name(raw, "group", index, False)
    elif typ == "queue":
        out["queue"] = _name(raw, "queue", index)
    elif typ == "request":
        out.update(_request(raw, index, now_ms))
    elif typ == "message":
        out["request"] = _name(raw, "request", index)
        try:
            out["direction"] = int(check_direction(raw.get("direction")))
        except FieldError as exc:
            raise BadEvent(index, eid, f"{exc} (inbound: from the customer, outbound: from a user)") from None
        out["author"] = _name(raw, "author", index, False)
    return out


def _request(raw: dict, index: int, now_ms: int) -> dict:
    eid = raw["id"]
    action = str(raw.get("action", "")).strip().lower()
    if action not in REQUEST_ACTIONS:
        raise BadEvent(index, eid, f"action must be one of {', '.join(REQUEST_ACTIONS)} (messages are type 'message')")
    req = raw.get("request")
    if not isinstance(req, dict):
        raise BadEvent(index, eid, "request must be a JSON object")
    # the fields every way in shares (the importer checks them with the same validator)
    given = {k: req[k] for k in ("title", "category", "origin") if k in req}
    given["external_id"] = req.get("external_id") or req.get("id")
    if "created" in req:
        given["created_ts"] = parse_ts(req["created"], now_ms, index, eid, "request.created") // 1000
    if action == "close":
        given["closed_ts"] = parse_ts(raw.get("ts"), now_ms, index, eid) // 1000
    try:
        row: dict[str, Any] = request_fields(**given)
    except FieldError as exc:
        raise BadEvent(index, eid, f"request: {exc}") from None
    if req.get("status"):
        row["status_name"] = _name(req, "status", index)
    elif action == "create":
        raise BadEvent(index, eid, "request.status is required to create a request")
    if "priority" in req:
        row["priority_name"] = _name(req, "priority", index, False)
    if "owner" in req:
        row["owner_login"] = _name(req, "owner", index, False)
    if "group" in req:
        row["group_name"] = _name(req, "group", index, False)
    if action == "close":
        row["_close"] = True
    return {"action": action, "row": row}


def normalize_batch(body: Any, max_events: int, now_ms: int | None = None) -> list[dict]:
    """The events of a request body (``{"events": [...]}`` or a bare list), normalised; :class:`BadEvent`."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    events = body.get("events") if isinstance(body, dict) else body
    if not isinstance(events, list):
        raise BadEvent(-1, None, 'the body must be {"events": [...]} or a JSON array of events')
    if not events:
        raise BadEvent(-1, None, "the batch is empty")
    if len(events) > max_events:
        raise BadEvent(-1, None, f"at most {max_events} events per batch")
    return [normalize_event(e, i, now_ms) for i, e in enumerate(events)]


def submit(hs: Services87Server, events: list[dict]) -> defer.Deferred:
    """Apply normalised events (store thread pool); fires with the per-event results after the commit."""
    ls = hs.get_live_store()
    started = time.monotonic()
    d = hs.run_blocking(ls.apply_batch, events)

    def results(statuses: list[str]) -> dict:
        metrics = hs.get_metrics()
        if metrics is not None:
            metrics.observe_ingest(statuses, time.monotonic() - started)
        return {"accepted": statuses.count("accepted"), "duplicates": statuses.count("duplicate"),
                "results": [{"id": e["id"], "status": s} for e, s in zip(events, statuses)]}

    return d.addCallback(results)


# ---------------------------------------------------------------------- HTTP
ANSWERS = JsonAnswers()
CHALLENGE = (b'Bearer realm="services87"',)


def error_body(status: int, kind: str, message: str, **extra: Any) -> dict:
    return {"error": {"kind": kind, "message": message, **extra}, "status": status}


class IngestApi:
    """``/api/ingest/events``: a Klein app (services87/http/routing.py); only ``POST /`` is routed."""

    app = Klein()

    def __init__(self, hs: Services87Server):
        self.hs = hs

    def resource(self):
        return Routes(self, _routing_error)

    @app.route("/", methods=["POST"], strict_slashes=False)
    def events(self, request):
        try:
            body = read_body(request, self.hs.settings.genesys.ingest_max_body, kind="TooLarge")
        except HttpError as exc:
            return ANSWERS.answer(request, exc.status, error_body(exc.status, exc.kind, exc.message))
        gone: list[bool] = []
        request.notifyFinish().addErrback(lambda _: gone.append(True))
        d = self._authenticate(request)
        d.addCallback(lambda _principal: self._process(body))
        d.addCallbacks(lambda result: self._write(request, gone, 200, result),
                       lambda f: self._fail(request, gone, f))
        return detached(d)

    def _authenticate(self, request) -> defer.Deferred:
        key = request.getHeader(b"x-api-key")
        if key is not None and request.getHeader(b"authorization") is None:
            # a comparison with the configured keys, on the reactor (the auth service is built at start): a
            # store thread and back cost every ingested batch 1-3 ms before its write on a busy server
            if not self.hs.get_auth().check_api_key(key.decode("utf-8", "replace")):
                return defer.fail(AuthError("InvalidApiKey", "The x-api-key is not valid"))
            return defer.succeed(None)
        return authenticate_request(self.hs, request, schemes=(BEARER, BASIC, SOTICKET))

    def _process(self, body: bytes) -> defer.Deferred:
        try:
            data = jsonguard.loads(body, max_size=self.hs.settings.genesys.ingest_max_body,
                                   max_depth=self.hs.settings.max_json_depth, expect=None)
        except jsonguard.JsonGuardError as exc:
            raise BadEvent(-1, None, f"the body is not valid JSON ({exc.kind}: {exc.message})") from None
        events = normalize_batch(data, self.hs.settings.genesys.ingest_max_events)
        return submit(self.hs, events)

    def _write(self, request, gone: list, status: int, body: dict) -> None:
        if not gone:
            request.write(ANSWERS.answer(request, status, body))
            request.finish()

    def _fail(self, request, gone: list, f: Failure) -> None:
        exc = f.value
        c = classify(exc, retry_after(self.hs))
        extra: dict[str, Any] = {}
        message = c.message
        if isinstance(exc, BadEvent):
            extra = {"index": exc.index, "id": exc.event_id} if exc.index >= 0 else {}
        elif isinstance(exc, IngestError):
            extra = {"index": exc.index, "id": exc.event_id}
        elif isinstance(exc, StoreUnavailable):
            message = "The store is unreachable; nothing was stored. Retry the batch (event ids make retries safe)"
        elif c.status == 500:
            log.error("ingest failed", exc_info=(f.type, f.value, f.getTracebackObject()))
            message = "The batch could not be stored; nothing was stored"
        if not gone:
            request.write(ANSWERS.error(request, c, error_body(c.status, c.kind, message, **extra), CHALLENGE))
            request.finish()


def _routing_error(request, status: int, kind: str, message: str) -> bytes:
    return ANSWERS.answer(request, status, error_body(status, kind, message))


json_errors(IngestApi.app, _routing_error, not_allowed=lambda allowed: "Use POST")


def mount(hs: Services87Server, root) -> None:
    mount_at(root, "api/ingest/events", IngestApi(hs).resource())
