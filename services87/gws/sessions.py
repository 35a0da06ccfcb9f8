"""GWS ``JSESSIONID`` sessions (kept in the store, with each worker's local state) and the CometD hooks that
bind Bayeux clients to them."""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import TYPE_CHECKING

from twisted.internet import defer
from twisted.python.failure import Failure

from services87.auth.http import parse_authorization, parse_basic
from services87.auth.revocation import binding
from services87.auth.service import AuthError
from services87.bayeux import BayeuxHooks, Denied
from services87.bayeux.errors import BayeuxError
from services87.engine.model import StoreUnavailable, User
from services87.engine.storage.workbins import Owner
from services87.http.cookies import set_cookie

if TYPE_CHECKING:
    from services87.server import Services87Server

log = logging.getLogger(__name__)

SESSION_COOKIE = "JSESSIONID"
#: Owners one session may be kept informed about (oldest dropped first).
MAX_WATCHES = 100
MAX_SESSIONS = 10000


@dataclass(eq=False)
class GwsSession:
    """A JSESSIONID session: the user, its CSRF token, its referenceId counter, the owners it asked about
    (``watches``: key -> (owner, referenceId)) and the Bayeux clients bound to it."""

    id: str
    csrf: str
    user: User
    last_used: float
    next_ref: int = 0
    watches: OrderedDict = field(default_factory=OrderedDict)
    bayeux: set = field(default_factory=set)
    epoch: int = 0

    def reference_id(self) -> int:
        self.next_ref += 1
        return self.next_ref

    def watch(self, owner: Owner, reference_id: int) -> None:
        key = (owner.type, owner.ref)
        self.watches.pop(key, None)
        self.watches[key] = (owner, reference_id)
        while len(self.watches) > MAX_WATCHES:
            self.watches.popitem(last=False)


class GwsSessions:
    """GWS ``JSESSIONID`` sessions. The sessions themselves (user, CSRF token, idle and absolute lifetime,
    the user's credential epoch) live in the store (``auth_sessions``, kind ``gws``; only the SHA-256 of the
    id is stored), so every worker accepts every session, a restart keeps them, and a password change,
    deactivation, removal or admin revoke ends them. This object keeps each worker's local state of the
    sessions it has seen (referenceIds, watched owners, bound CometD clients); reactor thread only, except
    the ``*_blocking`` methods. A session bound to a CometD client is kept alive (touched by :meth:`prune`)."""

    KIND = "gws"

    def __init__(self, hs: Services87Server, timeout: float, lifetime: float, clock: Callable[[], float] = time.time,
                 max_sessions: int = MAX_SESSIONS):
        self.hs = hs
        self.timeout = timeout
        self.lifetime = lifetime
        self.clock = clock
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, GwsSession] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self):
        return iter(list(self._sessions.values()))

    @staticmethod
    def digest(sid: str) -> str:
        return hashlib.sha256(sid.encode("utf-8", "surrogatepass")).hexdigest()

    # ------------------------------------------------------------------ store (blocking)
    def open_blocking(self, user: User) -> tuple[str, str, User, int]:
        sid, csrf = secrets.token_hex(16).upper(), secrets.token_urlsafe(24)
        self.hs.get_auth().tickets.session_add(self.digest(sid), self.KIND, user.id, csrf, int(self.clock()),
                                         int(self.lifetime))
        row = self.hs.get_auth().tickets.session_get(self.digest(sid), self.KIND, int(self.clock()), int(self.timeout))
        return sid, csrf, user, int(row["epoch"]) if row else 0

    def lookup_blocking(self, sid: str | None) -> tuple[str, str, User, int] | None:
        """The live session ``sid`` as ``(sid, csrf, user, epoch)``, or ``None``."""
        if not sid or len(sid) > 128:
            return None
        row = self.hs.get_auth().tickets.session_get(self.digest(sid), self.KIND, int(self.clock()), int(self.timeout))
        if row is None:
            return None
        try:
            user = self.hs.get_auth().active_user(row["user_id"])
        except AuthError:
            return None
        return sid, row["csrf"], user, int(row["epoch"])

    def open(self, user: User) -> defer.Deferred:
        return self.hs.run_blocking(self.open_blocking, user).addCallback(lambda r: self.adopt(*r))

    def lookup(self, sid: str | None) -> defer.Deferred:
        """Deferred[GwsSession | None]: the store's answer for ``sid``, with this worker's local state."""
        if not sid:
            return defer.succeed(None)

        def found(r):
            if r is None:
                self._sessions.pop(sid, None)
                return None
            return self.adopt(*r)

        return self.hs.run_blocking(self.lookup_blocking, sid).addCallback(found)

    # ------------------------------------------------------------------ local state (reactor thread)
    def adopt(self, sid: str, csrf: str, user: User, epoch: int) -> GwsSession:
        s = self._sessions.get(sid)
        if s is None:
            s = self._sessions[sid] = GwsSession(sid, csrf, user, self.clock())
            if len(self._sessions) > self.max_sessions:
                for old in [k for k, o in self._sessions.items() if not o.bayeux]:
                    if len(self._sessions) <= self.max_sessions:
                        break
                    del self._sessions[old]
        s.user, s.csrf, s.epoch, s.last_used = user, csrf, epoch, self.clock()
        self._sessions.move_to_end(sid)
        return s

    def get(self, sid: str | None, touch: bool = True) -> GwsSession | None:
        """This worker's local state of session ``sid`` (not a validity check: see :meth:`lookup`)."""
        s = self._sessions.get(sid) if sid else None
        if s is not None and touch:
            s.last_used = self.clock()
        return s

    def drop(self, sid: str) -> None:
        self._sessions.pop(sid, None)

    def prune(self) -> int:
        """Forget local state of sessions unused here for the idle timeout (unless a CometD client is bound),
        and record a use of the bound ones in the store so that they do not idle out."""
        now = self.clock()
        dead = [sid for sid, s in self._sessions.items() if not s.bayeux and now - s.last_used > self.timeout]
        for sid in dead:
            del self._sessions[sid]
        bound = [self.digest(sid) for sid, s in self._sessions.items() if s.bayeux]
        if bound:
            self.hs.run_blocking(self.hs.get_auth().tickets.session_touch, bound, int(now)).addErrback(
                lambda f: log.warning("GWS session touch failed: %s", f.value))
        return len(dead)


class GwsBayeuxHooks(BayeuxHooks):
    """Handshakes authenticate like REST calls: the JSESSIONID cookie of a GWS session, or HTTP Basic (which
    starts a session and, on long-polling, sets its JSESSIONID cookie). The Bayeux client is then bound to
    that session. Clients may subscribe to any non-meta channel and publish nowhere."""

    def __init__(self, hs: Services87Server, sessions: GwsSessions):
        self.hs = hs
        self.sessions = sessions

    def authenticate_handshake(self, request, message):
        try:
            parsed = parse_authorization(request.header("authorization"))
            basic = None
            if parsed is not None:
                if parsed[0] != "basic":
                    raise AuthError("UnsupportedScheme", "Only HTTP Basic authentication is supported")
                basic = parse_basic(parsed[1])
        except AuthError as exc:
            raise Denied(exc.message) from None
        sid = request.cookies.get(SESSION_COOKIE)
        address = request.peer.rsplit(":", 1)[0]
        sessions = self.sessions

        def check():  # blocking: the cookie's session from the store, else a new one for Basic credentials
            found = sessions.lookup_blocking(sid) if sid else None
            if found is not None and (basic is None or basic[0] == found[2].login):
                return found, False
            if basic is None:
                raise AuthError("MissingCredentials",
                                "Authentication required: HTTP Basic or the JSESSIONID cookie of GET /api/v2/me")
            user = self.hs.get_auth().authenticate_password(basic[0], basic[1], address)
            return sessions.open_blocking(user), True

        def ok(result):
            found, created = result
            s = sessions.adopt(*found)
            req = request.request
            if created and hasattr(req, "addCookie") and not getattr(req, "startedWriting", True):
                set_session_cookie(req, s)
            return {"gws_session": s.id, "gws_user": s.user.id,
                    **binding(s.user.id, s.epoch, GwsSessions.digest(s.id))}

        def refused(f: Failure):
            if f.check(StoreUnavailable):
                raise BayeuxError(503, "StoreUnavailable: the store is unavailable; retry shortly")
            f.trap(AuthError)
            raise Denied(f.value.message)

        return self.hs.run_blocking(check).addCallbacks(ok, refused)

    def on_session_added(self, session) -> None:
        s = self.sessions.get(session.attributes.get("gws_session"))
        if s is not None:
            s.bayeux.add(session.id)

    def on_session_removed(self, session, reason: str) -> None:
        s = self.sessions.get(session.attributes.get("gws_session"), touch=False)
        if s is None:
            return
        s.bayeux.discard(session.id)
        s.last_used = self.sessions.clock()
        if reason == "disconnect" and not s.bayeux:
            # "kept informed" ends when the session's last CometD client disconnects
            s.watches.clear()


def set_session_cookie(request, s: GwsSession) -> None:
    set_cookie(request, SESSION_COOKIE, s.id, http_only=True)
