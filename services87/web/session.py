"""Server-side browser sessions with double-submit XSRF protection.

A login (any adapter's login endpoint, e.g. ``POST /api/v1/session``) calls :meth:`SessionStore.login`,
which issues a SoPrincipal ticket for the user and keeps it server-side under a random session id. Two
cookies go to the browser:

* ``services87-session`` — the session id; ``HttpOnly``, ``SameSite=Lax``, ``Path=/`` (``Secure`` on HTTPS);
* ``XSRF-TOKEN`` — a random token, readable by the page's JavaScript (not ``HttpOnly``).

Every later request that authenticates with the session cookie must echo the XSRF token in the
``X-XSRF-TOKEN`` header (the double-submit pattern Angular and the vendor's Web API use); a cookie
without a matching header is refused with ``AuthError("XsrfTokenMissing"/"XsrfTokenMismatch")``, which
HTTP adapters answer with 403. Safe methods (GET, HEAD, OPTIONS) do not need the header.

Because a session wraps a ticket, it expires with the ticket (``ticket_lifetime``) and dies when the
ticket is revoked (``services87 users passwd`` revokes a user's tickets). Sessions live in memory: a
restart logs browsers out. The store is used from the reactor thread only.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass

from twisted.internet import defer

from services87.auth.service import AuthError, Principal

SESSION_COOKIE = b"services87-session"
XSRF_COOKIE = b"XSRF-TOKEN"
XSRF_HEADER = b"x-xsrf-token"
SAFE_METHODS = frozenset({b"GET", b"HEAD", b"OPTIONS"})


@dataclass
class Session:
    id: str
    xsrf: str
    ticket: str
    user_id: int
    login: str
    expires: float


class SessionStore:
    """Sessions by id, bounded in number (the oldest is dropped first)."""

    def __init__(self, lifetime: float, max_sessions: int = 10000, clock=time.time):
        self.lifetime = lifetime
        self.max_sessions = max_sessions
        self.clock = clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    # ------------------------------------------------------------------ bookkeeping
    def __len__(self) -> int:
        return len(self._sessions)

    def _prune(self) -> None:
        now = self.clock()
        for sid in [sid for sid, s in self._sessions.items() if s.expires <= now]:
            del self._sessions[sid]
        while len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        s = self._sessions.get(sid)
        if s is not None and s.expires <= self.clock():
            del self._sessions[sid]
            return None
        return s

    # ------------------------------------------------------------------ login / logout
    def login(self, hs, request, principal: Principal) -> defer.Deferred:
        """Open a session for ``principal``: issue a ticket, set both cookies. Fires with the :class:`Session`."""
        d = hs.run_blocking(hs.auth.issue_ticket, principal.user)

        def opened(ticket):
            s = Session(id=secrets.token_urlsafe(32), xsrf=secrets.token_urlsafe(32), ticket=ticket,
                        user_id=principal.user.id, login=principal.user.login,
                        expires=self.clock() + self.lifetime)
            self._sessions[s.id] = s
            self._prune()
            self.set_cookies(request, s)
            return s

        return d.addCallback(opened)

    def logout(self, hs, request) -> defer.Deferred:
        """End the request's session (if any), revoke its ticket and expire both cookies."""
        s = self._sessions.pop(self.cookie(request) or "", None)
        self.clear_cookies(request)
        if s is None:
            return defer.succeed(False)
        return hs.run_blocking(hs.auth.revoke_ticket, s.ticket).addCallback(lambda _: True)

    # ------------------------------------------------------------------ cookies
    @staticmethod
    def cookie(request) -> str | None:
        raw = request.getCookie(SESSION_COOKIE)
        if not raw:
            return None
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError:
            return None

    def has_cookie(self, request) -> bool:
        return bool(request.getCookie(SESSION_COOKIE))

    @staticmethod
    def set_cookies(request, s: Session) -> None:
        secure = bool(request.isSecure())
        request.addCookie(SESSION_COOKIE, s.id.encode(), path=b"/", httpOnly=True, secure=secure, sameSite="lax")
        request.addCookie(XSRF_COOKIE, s.xsrf.encode(), path=b"/", httpOnly=False, secure=secure, sameSite="lax")

    @staticmethod
    def clear_cookies(request) -> None:
        for name in (SESSION_COOKIE, XSRF_COOKIE):
            request.addCookie(name, b"", path=b"/", max_age=b"0", expires=b"Thu, 01 Jan 1970 00:00:00 GMT")

    # ------------------------------------------------------------------ authentication
    def check(self, request) -> Session:
        """The request's session, XSRF-checked for unsafe methods; raises :class:`AuthError`."""
        s = self.get(self.cookie(request))
        if s is None:
            raise AuthError("InvalidSession", "The session has expired or does not exist; log in again")
        if request.method not in SAFE_METHODS:
            given = request.getHeader(XSRF_HEADER)
            if not given:
                raise AuthError("XsrfTokenMissing", "A session cookie needs the X-XSRF-TOKEN header "
                                "(the value of the XSRF-TOKEN cookie)")
            if not hmac.compare_digest(given.encode("latin-1", "replace") if isinstance(given, str) else given,
                                       s.xsrf.encode()):
                raise AuthError("XsrfTokenMismatch", "The X-XSRF-TOKEN header does not match the session")
        return s

    def authenticate(self, hs, request) -> defer.Deferred:
        """Deferred[Principal] for a request carrying the session cookie (see :meth:`check`)."""
        try:
            s = self.check(request)
        except AuthError:
            return defer.fail()

        def valid(p: Principal) -> Principal:
            return Principal(p.user, "session", p.ticket)

        def invalid(f):
            f.trap(AuthError)
            self._sessions.pop(s.id, None)
            raise AuthError("InvalidSession", "The session has ended (" + f.value.message + "); log in again")

        return hs.run_blocking(hs.auth.validate_ticket, s.ticket).addCallbacks(valid, invalid)


def sessions_for(hs) -> SessionStore:
    """The server's one session store (created on first use, shared by every adapter via ``hs.services``)."""
    store = hs.services.get("web.sessions")
    if store is None:
        store = hs.services["web.sessions"] = SessionStore(lifetime=hs.settings.ticket_lifetime)
    return store
