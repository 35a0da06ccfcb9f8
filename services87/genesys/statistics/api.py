"""Genesys Statistics API v3 on the statistics engine: REST at ``/statistics/v3`` and CometD push.

REST (envelope ``{status:{code,message,detail}, data, errors:[{status}], path}``; ``status.code`` 0 = OK):

* ``POST /operations/get-statistic-ex`` - values of pre-configured statistics, no subscription.
* ``GET  /statistic-values/{name}?objectType=&objectId=`` - one value.
* ``POST /subscriptions?verbose=OFF|INFO`` - open a subscription; ``operationId`` becomes its id; items with
  a pre-configured ``name`` or an ad hoc ``definition``. Re-posting an id replaces the subscription.
* ``GET  /subscriptions/{id}/statistic-values?statisticIds=&verbose=`` - current values (``statisticIds``
  comma-joined and/or repeated).
* ``DELETE /subscriptions/{id}`` - always succeeds.

``/statistics/v3/notifications`` is a :class:`~services87.bayeux.BayeuxServer` (long-polling and WebSocket;
channels ``/statistics/v3/updates`` and ``/statistics/v3/service``), setting ``STATISTICS_SESSIONID``.
Authentication: ``x-api-key`` plus ``Authorization: Bearer`` (``genesys.require_bearer``). The adapter is
thin: parsing and serialisation here, statistics in :mod:`services87.engine.statserver`, push logic in
:mod:`services87.genesys.statistics.subscriptions`, the HTTP resources in
:mod:`services87.genesys.statistics.resources`. See docs/genesys.md.
"""

from __future__ import annotations

import logging
import uuid
from functools import partial
from typing import TYPE_CHECKING, Any

from twisted.internet import defer
from twisted.python.failure import Failure

from services87.auth.http import parse_authorization
from services87.auth.service import AuthError
from services87.cache import ResponseCache
from services87.bayeux.errors import BayeuxError
from services87.bayeux import BayeuxHooks, BayeuxServer, BayeuxSettings, Denied
from services87.engine.model import EngineError, NotFound, StoreUnavailable
from services87.engine.statserver import (
    InvalidDefinition,
    check_object_type,
    lookup,
    parse_definition,
    parse_object_type,
)
from services87.engine.statserver.evaluate import StatEvaluator
from services87.http.warm import WarmPath
from services87.genesys.statistics.subscriptions import (
    SERVICE,
    UPDATES,
    Item,
    Subscription,
    SubscriptionManager,
    now_ms,
)
from services87.http import jsonguard
from services87.http.errors import HttpError

if TYPE_CHECKING:
    from services87.server import Services87Server

log = logging.getLogger(__name__)

SESSION_COOKIE = "STATISTICS_SESSIONID"
BROWSER_COOKIE = "BAYEUX_BROWSER"
CHANNELS = frozenset({UPDATES, SERVICE, "/statistics/v3/*", "/statistics/v3/**"})
MAX_ID = 200
#: Seconds a REST evaluation may take before the reply is 504 Backend timeout.
BACKEND_TIMEOUT = 30.0


class ApiError(HttpError):
    """An error reply: HTTP ``http``; ``kind`` names it; ``errors`` lists per-item problems."""

    def __init__(self, http: int, kind: str, message: str, errors: list[dict] | None = None):
        super().__init__(http, kind, message)
        self.errors = errors or []

    @property
    def http(self) -> int:
        return self.status


def item_error(exc: Exception, index: int, statistic_id: str | None = None) -> dict:
    status = 404 if isinstance(exc, NotFound) else 400
    detail: dict[str, Any] = {"kind": getattr(exc, "kind", exc.__class__.__name__), "index": index}
    if statistic_id is not None:
        detail["statisticId"] = statistic_id
    return {"status": {"code": status, "message": str(exc), "detail": detail}}


def raise_item_errors(errors: list[dict]) -> None:
    if errors:
        http = 404 if all(e["status"]["code"] == 404 for e in errors) else 400
        first = errors[0]["status"]
        raise ApiError(http, first["detail"]["kind"], first["message"] if len(errors) == 1 else
                       f"{len(errors)} statistics cannot be opened; see errors", errors)


def _str(value: Any, what: str, limit: int = MAX_ID) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
        raise InvalidDefinition(f"{what} is required (a string)")
    text = str(value).strip()
    if len(text) > limit or any(ord(c) < 32 for c in text):
        raise InvalidDefinition(f"{what} must be at most {limit} printable characters")
    return text


class StatisticsHooks(BayeuxHooks):
    """CometD: the same x-api-key / Bearer checks as REST; only the two statistics channels."""

    def __init__(self, api: StatisticsApi):
        self.api = api

    def authenticate_handshake(self, request, message):
        key = request.header("x-api-key")
        authz = request.header("authorization")
        ext = message.get("ext") if isinstance(message.get("ext"), dict) else {}
        # Browsers cannot set headers on a WebSocket upgrade: accept the same credentials in the handshake ext.
        if key is None and isinstance(ext.get("x-api-key"), str):
            key = ext["x-api-key"]
        if authz is None and isinstance(ext.get("authorization"), str):
            authz = ext["authorization"]
        return self.api.hs.run_blocking(self.api.credentials_checker(key, authz, bound=True)).addCallbacks(
            lambda found: {"user_id": found[0], "cookie": request.session_cookie, **found[1]},
            lambda f: _deny(f))

    def can_subscribe(self, session, channel, message):
        return channel in CHANNELS

    def on_session_removed(self, session, reason):
        if reason == "disconnect":
            self.api.forget_session(session)


def _deny(f: Failure):
    if f.check(StoreUnavailable):
        raise BayeuxError(503, "StoreUnavailable: the store is unavailable; retry shortly")
    if f.check(AuthError):
        raise Denied(f"{f.value.kind}: {f.value.message}")
    return f


class StatisticsApi:
    def __init__(self, hs: Services87Server):
        self.hs = hs
        g = hs.settings.genesys
        self.g = g
        self.live = hs.get_live_store()
        self.evaluator = StatEvaluator(self.live, hs.get_engine(), g.time_zone or hs.settings.default_time_zone,
                                       g.reset_time)
        bs = BayeuxSettings(timeout=g.cometd_timeout_ms / 1000.0, max_interval=g.cometd_max_interval_ms / 1000.0,
                            max_queue=g.cometd_max_queue, session_cookie_name=SESSION_COOKIE,
                            json_loads=partial(jsonguard.loads, max_depth=hs.settings.max_json_depth, expect=None))
        self.bayeux = BayeuxServer(hs.reactor, bs, StatisticsHooks(self))
        self.manager = SubscriptionManager(hs, self.live, self.evaluator, self.bayeux, self.build_items)
        self.warm = WarmPath(hs, "genesys")
        #: get-statistic-ex bodies already answered -> the statistics they ask (the part of the cache key)
        self._asked = ResponseCache(4096, max_bytes=8 * 1024 * 1024)

    def start(self) -> None:
        try:
            restored = self.manager.restore(self.live.load_subscriptions())
            if restored:
                log.info("restored %d statistics subscriptions", restored)
        except Exception as exc:  # the store may be down at start-up: start with none
            log.warning("could not restore subscriptions: %s", exc)
        self.manager.start()
        self.hs.get_revocation()
        self.hs.reactor.addSystemEventTrigger("before", "shutdown", self.stop)

    def stop(self) -> None:
        self.manager.stop()
        self.bayeux.stop()

    # ------------------------------------------------------------------ auth
    def check_credentials(self, api_key: str | None, authorization: str | None) -> defer.Deferred:
        """Fires with the user id (or None without a bearer when not required); fails with AuthError."""
        return self.hs.run_blocking(self.credentials_checker(api_key, authorization))

    def credentials_checker(self, api_key: str | None, authorization: str | None, bound: bool = False):
        """The blocking check of :meth:`check_credentials`, to run on a store thread. ``bound``: return
        ``(user_id, binding)`` where ``binding`` names the credential (services87/auth/revocation.py)."""
        hs = self.hs
        check_one = self._checker(api_key, authorization)
        if not bound:
            return check_one

        def check_bound():
            uid = check_one()
            if uid is None:
                return None, {}
            return uid, hs.get_auth().token_binding(parse_authorization(authorization)[1])

        return check_bound

    def _checker(self, api_key: str | None, authorization: str | None):
        hs = self.hs

        def check():
            if not hs.get_auth().check_api_key(api_key):
                raise AuthError("InvalidApiKey", "A valid x-api-key header is required")
            if not authorization:
                if self.g.require_bearer:
                    raise AuthError("MissingCredentials", "Authorization: Bearer <token> is required "
                                    "(POST /auth/v3/oauth/token)")
                return None
            scheme, token = parse_authorization(authorization)
            if scheme != "bearer" or not token:
                raise AuthError("UnsupportedScheme", "Use Authorization: Bearer <token>")
            return hs.get_auth().validate_access_token(token).user.id

        return check

    def forget_session(self, session) -> None:
        """An explicit /meta/disconnect ends the subscriptions of that client (if no other session has its cookie)."""
        cookie = session.session_cookie
        if not cookie or self.bayeux.sessions_by_cookie(cookie):
            return
        ids = [s.id for s in self.manager.subs.values() if s.cookie == cookie]
        for i in ids:
            self.manager.remove(i)
        if ids:
            self.hs.run_blocking(self.live.delete_subscriptions, ids).addErrback(lambda f: None)

    # ------------------------------------------------------------------ parsing
    def build_items(self, body: Any, named_only: bool = False) -> dict[str, Item]:
        """Items of a subscription (or get-statistic-ex) body; :class:`ApiError` listing every bad item."""
        data = body.get("data") if isinstance(body, dict) else None
        stats = data.get("statistics") if isinstance(data, dict) else None
        if not isinstance(stats, list):
            raise ApiError(400, "InvalidRequest", 'the body must be {"data": {"statistics": [...]}}')
        if not stats:
            raise ApiError(400, "InvalidRequest", "data.statistics is empty")
        if len(stats) > self.g.max_statistics:
            raise ApiError(400, "InvalidRequest", f"at most {self.g.max_statistics} statistics per request")
        items: dict[str, Item] = {}
        errors = []
        for i, raw in enumerate(stats):
            sid = None
            try:
                if not isinstance(raw, dict):
                    raise InvalidDefinition("a statistic must be a JSON object")
                sid = _str(raw["statisticId"], "statisticId") if raw.get("statisticId") not in (None, "") else (
                    str(i) if named_only else str(uuid.uuid4()))
                if sid in items:
                    raise InvalidDefinition(f"statisticId {sid!r} is used twice")
                object_type = parse_object_type(raw.get("objectType"))
                object_id = _str(raw.get("objectId"), "objectId")
                name = raw.get("name")
                definition = raw.get("definition")
                if named_only or definition is None:
                    if name in (None, ""):
                        raise InvalidDefinition("name (a pre-configured statistic) is required" if named_only else
                                                "each statistic needs a name or a definition")
                    defn = lookup(name, self.g.reset_time)
                    name = defn.name
                else:
                    if name not in (None, "") and not isinstance(name, str):
                        raise InvalidDefinition("name must be a string")
                    defn = parse_definition(definition, self.g.reset_time, name=name or None)
                check_object_type(defn, object_type)
                items[sid] = Item(sid, object_type, object_id, defn, name=name or None)
            except (EngineError, KeyError) as exc:
                errors.append(item_error(exc if isinstance(exc, EngineError) else InvalidDefinition(str(exc)), i, sid))
        raise_item_errors(errors)
        return items

    # ------------------------------------------------------------------ operations
    def _require_available(self) -> None:
        if not self.manager.available:
            raise ApiError(503, "ServiceUnavailable", "Statistics are unavailable: the store is unreachable")

    def _evaluate(self, items: list[Item]) -> defer.Deferred:
        """Evaluate items off the reactor (504 after BACKEND_TIMEOUT); per-item errors become ApiError."""
        pairs = list(enumerate(items))
        d = self.hs.run_blocking(self.manager.evaluate_many, [("", it, None) for _i, it in pairs])
        return self._evaluated(d, pairs)

    def _evaluated(self, d: defer.Deferred, pairs: list) -> defer.Deferred:
        d.addTimeout(BACKEND_TIMEOUT, self.hs.reactor)
        return d.addCallback(lambda results: self._check_results(pairs, results))

    @staticmethod
    def _check_results(pairs: list, results: list) -> list[Item]:
        """Set ``item.last`` from evaluation results; per-item errors become ApiError."""
        errors = []
        for (i, item), (_sid, _it, res) in zip(pairs, results):
            if isinstance(res, StoreUnavailable):
                raise res
            if isinstance(res, Exception):
                errors.append(item_error(res, i, item.statistic_id))
            else:
                item.last = res
        if len(results) < len(pairs):
            raise StoreUnavailable("evaluation stopped")
        raise_item_errors(errors)
        return [item for _i, item in pairs]

    def get_statistic_ex(self, request, user_id, body) -> defer.Deferred:
        self._require_available()
        items = list(self.build_items(body, named_only=True).values())
        return self._evaluate(items).addCallback(lambda its: {"statistics": [_peeked(i) for i in its]})

    def reactor_hit(self, api_key: str | None, authorization: str | None, body_bytes: bytes):
        """Reactor thread, no hop: the stored get-statistic-ex answer when the version watch proves the
        versions read last are current, the credentials pass (the API key against the settings, a bearer
        token validated under those versions and not expired) and the same body was answered with values
        that still hold (the evaluator's validity: data version and clock step); else ``None`` (the normal
        path)."""
        asked = self._asked.get(body_bytes)
        if asked is None or not self.manager.available or not self.hs.get_auth().check_api_key(api_key):
            return None
        token = None
        if not authorization:
            if self.g.require_bearer:
                return None
        else:
            try:
                scheme, token = parse_authorization(authorization)  # type: ignore[misc]
            except (AuthError, TypeError, ValueError):
                return None
            if scheme != "bearer":
                return None

        def key_of(versions):
            user_id = None
            if token is not None:
                principal = self.hs.get_auth().cached_principal("bearer", token, versions)
                if principal is None:
                    return None
                user_id = principal.user.id
            return ("get-statistic-ex", user_id, asked)

        return self.warm.on_reactor(key_of)

    def get_statistic_ex_cached(self, check, parse_body, body_bytes: bytes | None = None,
                                encode=lambda data: data) -> defer.Deferred:
        """get-statistic-ex in one hop to the store threads, through the response cache (docs/performance.md).

        On the store thread, in the order of the other operations: ``check()`` (the credentials, every time),
        ``parse_body()``, the items, then the cache. One evaluation answers every identical request within the
        same clock step of the evaluator (a second), with the values as of its ``timestamp``: the key is (user,
        the statistics asked), the answer's validity (:meth:`StatEvaluator.validity`) the data version and
        that step, and a write bumps the version, so an answer never misses a write made before the request.
        Answers with any error are never stored. ``encode(data)`` serializes an answer: what is stored (and
        what :meth:`reactor_hit` gives) is its result."""

        def work():
            user_id = check()
            body = parse_body()
            self._require_available()
            items = list(self.build_items(body, named_only=True).values())
            asked = tuple((i.statistic_id, i.object_type, i.object_id, i.defn.name) for i in items)
            if body_bytes is not None:
                self._asked.put(body_bytes, asked, size=len(body_bytes) + 64)
            key = ("get-statistic-ex", user_id, asked)
            version = self.hs.get_store().versions()[0]
            hit = self.warm.get(key, version)
            if hit is not None:
                return hit, None, None, None, None
            at = now_ms()
            results = self.manager.evaluate_many([("", it, at) for it in items])
            return None, key, list(enumerate(items)), results, self.evaluator.validity(version, at)

        def answer(out):
            hit, key, pairs, results, validity = out
            if hit is not None:
                return hit
            its = self._check_results(pairs, results)
            payload = encode({"statistics": [_peeked(i) for i in its]})
            self.warm.put(key, payload, validity, size=256 * len(its) + 64)
            return payload

        d = self.hs.run_blocking(work)
        d.addTimeout(BACKEND_TIMEOUT, self.hs.reactor)
        return d.addCallback(answer)

    def get_statistic_value(self, request, user_id, name: str) -> defer.Deferred:
        self._require_available()
        object_type = _arg(request, "objectType")
        object_id = _arg(request, "objectId")
        if object_type is None or object_id is None:
            raise ApiError(400, "InvalidRequest", "objectType and objectId query parameters are required")
        try:
            defn = lookup(name, self.g.reset_time)
            ot = parse_object_type(object_type)
            check_object_type(defn, ot)
            oid = _str(object_id, "objectId")
        except EngineError as exc:
            raise_item_errors([item_error(exc, 0)])
        item = Item("0", ot, oid, defn, name=defn.name)
        return self._evaluate([item]).addCallback(lambda its: {"statistic": _peeked(its[0])})

    def create_subscription(self, request, user_id, body) -> defer.Deferred:
        self._require_available()
        verbose = _verbose(request)
        if not isinstance(body, dict):
            raise ApiError(400, "InvalidRequest", "the body must be a JSON object")
        try:
            sub_id = _str(body.get("operationId"), "operationId")
        except InvalidDefinition as exc:
            raise ApiError(400, "InvalidRequest", str(exc)) from None
        items = self.build_items(body)
        if sub_id not in self.manager.subs and len(self.manager.subs) >= self.g.max_subscriptions:
            raise ApiError(503, "TooManySubscriptions", f"at most {self.g.max_subscriptions} subscriptions are kept")
        existing = self.manager.subs.get(sub_id)
        if existing is not None and existing.user_id not in (None, user_id):
            raise ApiError(403, "Forbidden", f"subscription {sub_id!r} belongs to another user")
        cookie = _cookie(request, SESSION_COOKIE) or _cookie(request, BROWSER_COOKIE)
        stored = {"operationId": sub_id, "data": body["data"]}

        def save(its):
            self.live.save_subscription(sub_id, cookie, user_id, stored)
            return its

        def saved(its):
            sub = Subscription(sub_id, user_id, cookie, items, stored)
            self.manager.add(sub)
            return {"subscriptionId": sub_id, "operationId": sub_id,
                    "statistics": [i.wire(None, verbose) for i in items.values()]}

        d = self._evaluate(list(items.values()))
        d.addCallback(lambda its: self.hs.run_blocking(save, its))
        return d.addCallback(saved)

    def peek_subscription(self, request, user_id, sub_id: str) -> defer.Deferred:
        self._require_available()
        verbose = _verbose(request)
        sub = self.manager.get(sub_id, user_id)
        if sub is None:
            raise ApiError(404, "UnknownSubscription", f"no subscription {sub_id!r}")
        wanted: list[str] = []
        for raw in request.args.get(b"statisticIds", []):
            wanted.extend(p.strip() for p in raw.decode("utf-8", "replace").split(",") if p.strip())
        if wanted:
            missing = [w for w in wanted if w not in sub.items]
            if missing:
                raise ApiError(404, "UnknownStatistic", f"no statistic {', '.join(missing)} in subscription {sub_id!r}",
                               [{"status": {"code": 404, "message": f"unknown statisticId {m!r}",
                                            "detail": {"kind": "UnknownStatistic", "statisticId": m}}}
                                for m in missing])
            items = [sub.items[w] for w in dict.fromkeys(wanted)]
        else:
            items = list(sub.items.values())
        return self._evaluate(items).addCallback(lambda its: {
            "subscriptionId": sub_id, "operationId": sub_id, "statistics": [i.wire(None, verbose) for i in its]})

    def delete_subscription(self, request, user_id, sub_id: str) -> defer.Deferred:
        sub = self.manager.get(sub_id, user_id)
        if sub is not None:
            self.manager.remove(sub_id)
        d = self.hs.run_blocking(self.live.delete_subscriptions, [sub_id])
        d.addErrback(lambda f: log.warning("could not delete stored subscription %s: %s", sub_id, f.value))
        return d.addCallback(lambda _: {})


def _peeked(item: Item) -> dict:
    assert item.last is not None  # peeked after _evaluate(), which sets it or raises
    return {"name": item.name, "objectId": item.object_id, "objectType": item.object_type,
            "value": item.last.value, "timestamp": item.last.timestamp}


def _arg(request, name: str) -> str | None:
    vals = request.args.get(name.encode())
    if not vals:
        return None
    return vals[0].decode("utf-8", "replace")


def _verbose(request) -> bool:
    v = _arg(request, "verbose")
    if v is None or v.strip().upper() == "INFO":
        return True
    if v.strip().upper() == "OFF":
        return False
    raise ApiError(400, "InvalidRequest", f"verbose must be OFF or INFO, not {v!r}")


def _cookie(request, name: str) -> str | None:
    raw = request.getCookie(name.encode())
    return raw.decode("latin-1") if raw else None
