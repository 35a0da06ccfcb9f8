"""Server-side browser sessions with double-submit XSRF protection, kept in the store.

A login (any adapter's login endpoint, e.g. ``POST /api/v1/session``) calls :meth:`SessionStore.login`,
which issues a SoPrincipal ticket for the user and records a session row (table ``auth_sessions``, kind
``web``; only the SHA-256 of the id is stored) naming that ticket. Two cookies go to the browser:

* ``services87-session`` — the session id; ``HttpOnly``, ``SameSite=Lax``, ``Path=/`` (``Secure`` on HTTPS);
* ``XSRF-TOKEN`` — a random token, readable by the page's JavaScript (not ``HttpOnly``).

Every later request that authenticates with the session cookie must echo the XSRF token in the
``X-XSRF-TOKEN`` header (the double-submit pattern Angular and the vendor's Web API use); a cookie
without a matching header is refused with ``AuthError("XsrfTokenMissing"/"XsrfTokenMismatch")``, which
HTTP adapters answer with 403. Safe methods (GET, HEAD, OPTIONS) do not need the header.

Because the store holds the sessions, every worker accepts every session and a restart logs nobody out.
A session ends after ``session_idle_timeout`` seconds without a request, ``session_max_lifetime`` seconds
after it opened, on logout, and when its user's credentials change (password change, deactivation,
removal, admin revoke: the user's credential epoch moves). Logout also revokes the session's ticket and
every bearer token issued to the session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from twisted.internet import defer

from services87.auth.service import AuthError, Principal
from services87.http.cookies import clear_cookie, set_cookie

if TYPE_CHECKING:
    from services87.server import Services87Server

SESSION_COOKIE = b"services87-session"
XSRF_COOKIE = b"XSRF-TOKEN"
XSRF_HEADER = b"x-xsrf-token"
SAFE_METHODS = frozenset({b"GET", b"HEAD", b"OPTIONS"})
KIND = "web"


@dataclass
class Session:
    id: str
    xsrf: str
    user_id: int
    login: str
    expires: float


def digest(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8", "surrogatepass")).hexdigest()


class SessionStore:
    """Browser sessions in the store (see the module docstring). Blocking work runs through ``hs.run_blocking``."""

    def __init__(self, hs: Services87Server, lifetime: float, idle: float, clock=time.time):
        self.hs = hs
        self.lifetime = lifetime
        self.idle = idle
        self.clock = clock

    # ------------------------------------------------------------------ login / logout
    def login(self, hs: Services87Server, request, principal: Principal) -> defer.Deferred:
        """Open a session for ``principal``: issue a ticket, record the session, set both cookies.
        Fires with the :class:`Session`."""

        def open_() -> Session:
            auth = hs.get_auth()
            ticket = auth.issue_ticket(principal.user)
            s = Session(id=secrets.token_urlsafe(32), xsrf=secrets.token_urlsafe(32), user_id=principal.user.id,
                        login=principal.user.login, expires=self.clock() + self.lifetime)
            auth.tickets.session_add(digest(s.id), KIND, s.user_id, s.xsrf, int(self.clock()), int(self.lifetime),
                                     ticket_hash=auth.digest(ticket))
            return s

        def opened(s: Session) -> Session:
            self.set_cookies(request, s)
            return s

        return hs.run_blocking(open_).addCallback(opened)

    def logout(self, hs: Services87Server, request, strict: bool = False) -> defer.Deferred:
        """End the request's session (XSRF-checked), revoke its ticket and the tokens issued to it, expire
        both cookies. Fires with ``True`` when a session ended; without a live session, ``False`` (or
        ``AuthError("InvalidSession")`` when ``strict``). XSRF failures are :class:`AuthError`."""
        sid = self.cookie(request)
        if not sid:
            self.clear_cookies(request)
            return defer.succeed(False)

        def end() -> bool:
            row = self._row(sid)
            if row is None:
                if strict:
                    raise AuthError("InvalidSession", "The session has expired or does not exist; log in again")
                return False
            self._check_xsrf(request, row)
            return hs.get_auth().tickets.session_delete(digest(sid)) is not None

        def ended(had: bool) -> bool:
            self.clear_cookies(request)
            return had

        return hs.run_blocking(end).addCallback(ended)

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
        set_cookie(request, SESSION_COOKIE, s.id, http_only=True)
        set_cookie(request, XSRF_COOKIE, s.xsrf, http_only=False)

    @staticmethod
    def clear_cookies(request) -> None:
        for name in (SESSION_COOKIE, XSRF_COOKIE):
            clear_cookie(request, name)

    # ------------------------------------------------------------------ authentication
    def _row(self, sid: str) -> dict | None:
        if len(sid) > 256:
            return None
        return self.hs.get_auth().tickets.session_get(digest(sid), KIND, int(self.clock()), int(self.idle))

    @staticmethod
    def _check_xsrf(request, row: dict) -> None:
        if request.method in SAFE_METHODS:
            return
        given = request.getHeader(XSRF_HEADER)
        if not given:
            raise AuthError("XsrfTokenMissing", "A session cookie needs the X-XSRF-TOKEN header "
                            "(the value of the XSRF-TOKEN cookie)")
        if not hmac.compare_digest(given.encode("latin-1", "replace") if isinstance(given, str) else given,
                                   row["csrf"].encode()):
            raise AuthError("XsrfTokenMismatch", "The X-XSRF-TOKEN header does not match the session")

    def check_blocking(self, request) -> Principal:
        """Blocking: the principal of the request's session, XSRF-checked for unsafe methods."""
        sid = self.cookie(request)
        row = self._row(sid) if sid else None
        if row is None:
            raise AuthError("InvalidSession", "The session has expired or does not exist; log in again")
        self._check_xsrf(request, row)
        try:
            user = self.hs.get_auth().active_user(row["user_id"])
        except AuthError as exc:
            raise AuthError("InvalidSession", "The session has ended (" + exc.message + "); log in again") from None
        return Principal(user, "session", None, session=row["hash"])

    def authenticate(self, hs: Services87Server, request) -> defer.Deferred:
        """Deferred[Principal] for a request carrying the session cookie (see :meth:`check_blocking`)."""
        return hs.run_blocking(self.check_blocking, request)

