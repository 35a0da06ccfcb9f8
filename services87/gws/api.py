"""Genesys Web Services (GWS) API v2: Workbins ``RequestAgentStats`` with CometD ``WorkbinStatsMessage``.

Resources (see docs/workbins.md):

* ``GET  /api/v2/me`` - the logged-in user; starts a JSESSIONID session (HTTP Basic).
* ``POST /api/v2/workbins`` and ``POST /api/v2/users/{userId}/workbins`` - ``RequestAgentStats``: replies
  ``{"statusCode":0,"referenceId":N}`` at once, then publishes a ``WorkbinStatsMessage`` on the CometD
  channel ``/v2/me/workbins`` of ``/api/v2/notifications``.
* ``GET  /api/v2/workbins[?workbinType=&workbinOwner=]``, ``GET /api/v2/workbins/{id}`` and
  ``POST /api/v2/workbins/move`` - listing, contents and moves of requests (this server's additions).
* ``/api/v2/notifications`` - the Bayeux endpoint (long-polling and WebSocket).

The adapter stays thin: sessions (:mod:`services87.gws.sessions`), CSRF, parsing (:mod:`services87.gws.lenient`)
and serialization here, the resources in :mod:`services87.gws.resources`; workbins, owners, counts and moves
are in :mod:`services87.engine.storage.workbins`, called through ``hs.run_blocking``.
"""

from __future__ import annotations

import hmac
import logging
from functools import partial
from typing import TYPE_CHECKING, Any
from collections.abc import Callable

from twisted.internet import defer
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure

from services87.auth.http import client_address, parse_authorization, parse_basic, retry_after
from services87.auth.service import AuthError
from services87.bayeux import BayeuxServer, BayeuxSettings
from services87.engine.model import NotFound, ValidationError
from services87.engine.storage.workbins import HEX32, Owner, canonical_type
from services87.gws.errors import GwsError
from services87.gws.lenient import parse_body
from services87.gws.sessions import SESSION_COOKIE, GwsBayeuxHooks, GwsSession, GwsSessions, set_session_cookie
from services87.http import jsonguard
from services87.http.body import read_body
from services87.http.errors import classify
from services87.http.routing import JsonAnswers, detached

if TYPE_CHECKING:
    from services87.server import Services87Server

log = logging.getLogger(__name__)

CHANNEL = "/v2/me/workbins"
CSRF_HEADER = "X-CSRF-TOKEN"
UNSAFE_METHODS = frozenset({b"POST", b"PUT", b"DELETE", b"PATCH"})

#: How GWS answers: compact JSON, its own spelling of the content type, never cached.
ANSWERS = JsonAnswers(content_type=b"application/json;charset=UTF-8", cache_control=b"no-cache, no-store",
                      compact=True)
CHALLENGE = (b'Basic realm="GWS", charset="UTF-8"',)


class GwsWorkbins:
    def __init__(self, hs: Services87Server, bayeux_settings: BayeuxSettings | None = None):
        self.hs = hs
        self.settings = hs.settings
        self.workbins = hs.get_workbin_store()
        self.sessions = GwsSessions(hs, hs.settings.gws_session_timeout, hs.settings.session_max_lifetime)
        guard = partial(jsonguard.loads, max_depth=hs.settings.max_json_depth, expect=None)
        self.bayeux = BayeuxServer(hs.reactor, bayeux_settings or BayeuxSettings(json_loads=guard),
                                   hooks=GwsBayeuxHooks(hs, self.sessions))
        self._pending: set[tuple[str, str]] = set()
        self._pending_all = False
        self._flush_call = None
        hs.get_store().add_listener(self._on_change_thread)
        self._pruner = LoopingCall(self.sessions.prune)
        self._pruner.clock = hs.reactor

    def start(self) -> None:
        self._pruner.start(60, now=False)
        self.hs.get_revocation()
        self.hs.reactor.addSystemEventTrigger("before", "shutdown", self.stop)

    def stop(self) -> None:
        if self._pruner.running:
            self._pruner.stop()
        self.hs.get_store().remove_listener(self._on_change_thread)
        self.bayeux.stop()

    # ------------------------------------------------------------------ request plumbing
    def handle(self, request, fn: Callable[[Any, GwsSession], Any], csrf: bool = True):
        """Authenticate, check CSRF, run ``fn(request, session)`` and write its reply. ``fn`` returns a reply
        dict, or ``(reply, after)`` where ``after()`` runs once the reply is written; it may return a
        Deferred of either."""
        gone: list[bool] = []
        request.notifyFinish().addErrback(lambda _: gone.append(True))
        d = self.authenticate(request)

        def authed(pair):
            s, created = pair
            request.setHeader(b"X-CSRF-HEADER", CSRF_HEADER.encode())
            request.setHeader(CSRF_HEADER.encode(), s.csrf.encode())
            if csrf and self.settings.gws_csrf_protection and request.method in UNSAFE_METHODS:
                given = request.getHeader(CSRF_HEADER) or ""
                if created or not given or not hmac.compare_digest(given.encode("utf-8", "replace"),
                                                                   s.csrf.encode()):
                    raise GwsError(3, "Missing or invalid Csrf token", http=403)
            return fn(request, s)

        d.addCallback(authed)
        d.addCallbacks(lambda result: self._reply(request, result, gone), lambda f: self._fail(request, f, gone))
        d.addErrback(lambda f: log.error("GWS reply failed: %s", f.getTraceback()))
        return detached(d)

    def authenticate(self, request) -> defer.Deferred:
        """Deferred[(GwsSession, created)]: the JSESSIONID session (checked in the store), or a new one for
        valid Basic credentials."""
        raw = request.getCookie(SESSION_COOKIE.encode())
        sid = raw.decode("latin-1") if raw else None
        header = request.getHeader("authorization")
        try:
            parsed = parse_authorization(header)
            login = password = None
            if parsed is not None:
                if parsed[0] != "basic":
                    raise AuthError("UnsupportedScheme", "Only HTTP Basic authentication is supported")
                login, password = parse_basic(parsed[1])
            elif not sid:
                raise AuthError("MissingCredentials", "Authentication is required: HTTP Basic or the JSESSIONID "
                                "session cookie")
        except AuthError:
            return defer.fail()
        address = client_address(request)
        sessions = self.sessions

        def check():  # blocking
            found = sessions.lookup_blocking(sid) if sid else None
            if found is not None and (login is None or found[2].login == login):
                return found, False
            if login is None:
                raise AuthError("InvalidSession", "The session has expired or does not exist; log in again")
            user = self.hs.get_auth().authenticate_password(login, password, address)
            return sessions.open_blocking(user), True

        def opened(result):
            found, created = result
            if sid and found[0] != sid:  # the cookie's session is over: forget its local state
                sessions.drop(sid)
            s = sessions.adopt(*found)
            if created:
                set_session_cookie(request, s)
            return s, created

        return self.hs.run_blocking(check).addCallback(opened)

    def _write(self, request, status: int, body: dict, gone: list) -> None:
        if gone or request.finished:
            return
        request.write(ANSWERS.answer(request, status, body))
        request.finish()

    def _reply(self, request, result, gone: list) -> None:
        after = None
        if isinstance(result, tuple):
            result, after = result
        self._write(request, 200, result, gone)
        if after is not None:
            after()

    def _fail(self, request, f: Failure, gone: list) -> None:
        exc = f.value
        c = classify(exc, retry_after(self.hs))
        message = c.message
        if isinstance(exc, GwsError):
            code = exc.code
        elif isinstance(exc, AuthError):
            code = 20  # not authenticated
        elif isinstance(exc, NotFound):
            code = 6
        elif c.status < 500:
            code = 10  # input validation
        else:
            code = 4  # internal error
            if c.status == 500:
                log.error("GWS request failed: %s", f.getTraceback())
                message = "Internal error"
        if not gone and not request.finished:
            request.write(ANSWERS.error(request, c, {"statusCode": code, "statusMessage": message}, CHALLENGE))
            request.finish()

    def body(self, request) -> dict:
        """The JSON object body (at most ``max_body_size`` bytes: 413 with statusCode 10 through :meth:`_fail`)."""
        return parse_body(read_body(request, self.settings.max_body_size), self.settings.max_json_depth)

    # ------------------------------------------------------------------ operations
    def me(self, request, s: GwsSession) -> dict:
        u = s.user
        first, _, last = u.full_name.partition(" ")
        return {"statusCode": 0, "user": {
            "id": u.uuid, "userName": u.login, "firstName": first, "lastName": last, "emailAddress": u.email,
            "enabled": u.active, "roles": ["ROLE_AGENT"], "changePasswordOnFirstLogin": False,
            "uri": self._base(request) + "/api/v2/users/" + u.uuid, "path": "/users/" + u.uuid}}

    @staticmethod
    def _base(request) -> str:
        host = (request.getHeader("host") or "localhost").strip()
        return ("https://" if request.isSecure() else "http://") + host

    def request_agent_stats(self, request, s: GwsSession, user_id: str | None = None):
        body = self.body(request)
        op = body.get("operationName")
        if op is None:
            raise GwsError(1, "Missing parameter: operationName")
        if op != "RequestAgentStats":
            raise GwsError(10, f"Unsupported operationName {op!r}: this resource supports RequestAgentStats")
        wtype, wowner = body.get("workbinType"), body.get("workbinOwner")
        if wtype is not None and not isinstance(wtype, str):
            raise GwsError(10, "workbinType must be a string")
        if wowner is not None and not isinstance(wowner, str):
            raise GwsError(10, "workbinOwner must be a string")
        owner: int | str  # a user id (int), or the name of a group / place / queue
        if user_id is not None:
            if wtype not in (None, "Agent") or wowner is not None:
                raise GwsError(10, "POST /api/v2/users/{userId}/workbins requests the Agent workbins of that "
                               "user: workbinType must be Agent or absent and workbinOwner absent")
            if not HEX32.match(user_id):
                raise GwsError(6, f"User {user_id!r} not found")
            owner_type, owner = "Agent", user_id
        elif wtype is None:
            if wowner is not None:
                raise GwsError(1, "Missing parameter: workbinType (required with workbinOwner)")
            owner_type, owner = "Agent", s.user.id
        else:
            try:
                owner_type = canonical_type(wtype)
            except ValidationError as exc:
                raise GwsError(10, str(exc)) from None
            if owner_type == "Agent":
                owner = s.user.id if wowner is None else wowner
            elif wowner is None or not wowner.strip():
                raise GwsError(1, f"Missing parameter: workbinOwner (the {owner_type} name)")
            else:
                owner = wowner

        def compute():
            o = self.workbins.resolve_owner(owner_type, owner)
            return o, self.workbins.stats(o)

        def computed(result):
            o, stats = result
            ref = s.reference_id()
            s.watch(o, ref)
            payload = stats_message(stats, ref)
            return {"statusCode": 0, "referenceId": ref}, lambda: self.publish(s, payload)

        return self.hs.run_blocking(compute).addCallback(computed)

    def list_workbins(self, request, s: GwsSession):
        args = {k.decode("latin-1"): v[-1].decode("utf-8", "replace") for k, v in request.args.items()}
        wtype, wowner = args.get("workbinType"), args.get("workbinOwner")
        if wtype is None and wowner is not None:
            raise GwsError(1, "Missing parameter: workbinType (required with workbinOwner)")
        try:
            owner_type = canonical_type(wtype) if wtype is not None else "Agent"
        except ValidationError as exc:
            raise GwsError(10, str(exc)) from None
        if owner_type != "Agent" and not wowner:
            raise GwsError(1, f"Missing parameter: workbinOwner (the {owner_type} name)")
        owner = wowner if wowner else s.user.id

        def compute():
            return self.workbins.list_workbins(self.workbins.resolve_owner(owner_type, owner))

        return self.hs.run_blocking(compute).addCallback(lambda rows: {"statusCode": 0, "workbins": rows})

    def workbin_contents(self, request, s: GwsSession, wb_uuid: str):
        raw = request.args.get(b"limit", [b"100"])[-1]
        try:
            limit = int(raw)
        except ValueError:
            raise GwsError(10, "limit must be an integer") from None
        if not 0 <= limit <= 1000:
            raise GwsError(10, "limit must be between 0 and 1000")

        def compute():
            wb = self.workbins.get_workbin(wb_uuid)
            items = self.workbins.contents(wb_uuid, limit)
            count = next((st.count for st in self.workbins.stats(
                Owner(wb["type"], wb["ownerRef"], wb["owner"], wb["userId"])) if st.uuid == wb["id"]), 0)
            return {"statusCode": 0, "workbin": {"id": wb["id"], "name": wb["name"], "type": wb["type"],
                                                 "owner": wb["owner"], "count": count},
                    "interactions": items}

        return self.hs.run_blocking(compute)

    def move(self, request, s: GwsSession):
        body = self.body(request)
        req = body.get("request")
        if req is None:
            raise GwsError(1, "Missing parameter: request (a request's id or external id)")
        if isinstance(req, bool) or not isinstance(req, (int, str)) or (isinstance(req, str) and not req.strip()):
            raise GwsError(10, "request must be a request id (integer) or external id (string)")
        if isinstance(req, str):
            req = req.strip()
        if "workbin" in body:
            target = body["workbin"]
            if target is not None and not isinstance(target, str):
                raise GwsError(10, "workbin must be a workbin id (UUID) or null")
            by_name = None
        elif "workbinId" in body:
            name, wtype, wowner = body.get("workbinId"), body.get("workbinType", "Agent"), body.get("workbinOwner")
            if not isinstance(name, str) or not name.strip():
                raise GwsError(10, "workbinId must be a workbin id such as \"Draft\"")
            if not isinstance(wtype, str) or (wowner is not None and not isinstance(wowner, str)):
                raise GwsError(10, "workbinType and workbinOwner must be strings")
            try:
                owner_type = canonical_type(wtype)
            except ValidationError as exc:
                raise GwsError(10, str(exc)) from None
            if owner_type != "Agent" and not wowner:
                raise GwsError(1, f"Missing parameter: workbinOwner (the {owner_type} name)")
            by_name = (owner_type, wowner if wowner else s.user.id, name.strip())
            target = None
        else:
            raise GwsError(1, "Missing parameter: workbin (a workbin id, or null to take the request out) or "
                           "workbinId/workbinType/workbinOwner")

        def compute():
            to = target
            if by_name is not None:
                to = self.workbins.find_workbin(self.workbins.resolve_owner(by_name[0], by_name[1]), by_name[2])["id"]
            return self.workbins.move(req, to, actor=s.user.id)

        def done(result):
            for key in ("from", "to"):
                if result[key]:
                    result[key].pop("ownerRef", None)
            return {"statusCode": 0, **result}

        return self.hs.run_blocking(compute).addCallback(done)

    # ------------------------------------------------------------------ CometD delivery
    def targets(self, s: GwsSession) -> list:
        """Bayeux sessions that get ``s``'s WorkbinStatsMessages: the ones bound to ``s`` and subscribed to
        /v2/me/workbins; if there are none, every subscribed Bayeux session of the same user."""
        subscribed = self.bayeux.subscribers(CHANNEL)
        bound = [b for b in subscribed if b.id in s.bayeux]
        return bound or [b for b in subscribed if b.attributes.get("gws_user") == s.user.id]

    def publish(self, s: GwsSession, payload: dict) -> int:
        n = 0
        for b in self.targets(s):
            n += bool(self.bayeux.deliver(b, CHANNEL, payload))
        return n

    def _on_change_thread(self, ev) -> None:
        if ev.kind == "workbin":
            self.hs.call_from_thread(self._on_change, ev)

    def _on_change(self, ev) -> None:
        owners = ev.detail.get("owners")
        if owners is None:
            self._pending_all = True
        else:
            self._pending.update((o[0], o[1]) for o in owners)
        if self._flush_call is None or not self._flush_call.active():
            self._flush_call = self.hs.reactor.callLater(0.02, self._flush)

    def _flush(self) -> None:
        """Send a fresh WorkbinStatsMessage to every session watching an owner whose counts changed."""
        pending, everything = self._pending, self._pending_all
        self._pending, self._pending_all = set(), False
        jobs: dict[tuple[str, str], list] = {}
        for s in self.sessions:
            for key, (owner, ref) in list(s.watches.items()):
                if everything or key in pending:
                    jobs.setdefault(key, []).append((s, owner, ref))
        for _key, watchers in jobs.items():
            owner = watchers[0][1]

            def send(stats, watchers=watchers):
                for s, _owner, ref in watchers:
                    if (_owner.type, _owner.ref) in s.watches:
                        self.publish(s, stats_message(stats, ref))

            d = self.hs.run_blocking(self.workbins.stats, owner)
            d.addCallbacks(send, lambda f: log.warning("workbin stats refresh failed: %s", f.value))


def stats_message(stats, reference_id: int) -> dict:
    """The CometD ``data`` of a WorkbinStatsMessage."""
    return {"workbinStats": {st.uuid: {"Count": st.count, "Owner": st.owner, "Type": st.type} for st in stats},
            "messageType": "WorkbinStatsMessage", "referenceId": reference_id}


