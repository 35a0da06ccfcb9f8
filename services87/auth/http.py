"""HTTP authentication: the one place that turns an HTTP request's credentials into a :class:`Principal`.

Every HTTP adapter (the SuperOffice REST twin, the Genesys APIs, Workbins, the status page) calls
:func:`authenticate_request`. Accepted ``Authorization`` schemes:

* ``Basic base64(login:password)`` -> :meth:`AuthService.authenticate_password` (throttled per login and
  client address),
* ``SoTicket <ticket>`` -> :meth:`AuthService.validate_ticket` (tickets from SoPrincipal or a session),
* ``Bearer <jwt>`` -> :meth:`AuthService.validate_access_token` (tokens from ``POST /auth/v3/oauth/token``).

Without an ``Authorization`` header, a caller may pass a session store (``services87.http.session``):
a session cookie plus a matching ``X-XSRF-TOKEN`` header then authenticates the request.

All verification is blocking (database, Argon2) and runs through ``hs.run_blocking``.
Failures are :class:`AuthError`; :func:`status_for` and :func:`challenge_headers` map them to HTTP.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING
from collections.abc import Iterable, Sequence

from twisted.internet import defer

from services87.auth.service import AuthError, AuthService, Principal

if TYPE_CHECKING:
    from services87.server import Services87Server

BASIC = "Basic"
SOTICKET = "SoTicket"
BEARER = "Bearer"
ALL_SCHEMES: tuple[str, ...] = (BASIC, SOTICKET, BEARER)
REALM = "services87"

#: AuthError kinds that mean "authenticated, but not allowed" (HTTP 403) rather than "who are you?" (401).
FORBIDDEN_KINDS = frozenset({"XsrfTokenMissing", "XsrfTokenMismatch", "MissingApplicationToken",
                             "InvalidApplicationToken"})
#: Kinds that mean "slow down" (HTTP 429).
THROTTLED_KINDS = frozenset({"TooManyAttempts"})


def _header(request, name: str) -> str | None:
    raw = request.getHeader(name)
    if raw is None:
        return None
    if isinstance(raw, bytes):
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")
    return raw


def parse_authorization(value: str | None) -> tuple[str, str] | None:
    """``"Basic abc"`` -> ``("basic", "abc")``; ``None`` when there is no header."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        raise AuthError("InvalidCredentials", "Empty Authorization header")
    scheme, _, rest = value.partition(" ")
    return scheme.lower(), rest.strip()


def parse_basic(credentials: str) -> tuple[str, str]:
    """Decode the credentials of a Basic header into ``(user, password)``."""
    try:
        raw = base64.b64decode(credentials.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise AuthError("InvalidCredentials", "Malformed Basic credentials (not base64)") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    user, sep, password = text.partition(":")
    if not sep or not user:
        raise AuthError("InvalidCredentials", "Malformed Basic credentials (expected user:password)")
    return user, password


def client_address(request) -> str:
    addr = request.getClientAddress()
    return getattr(addr, "host", "") or ""


def note_user(request, principal):
    """Remember who ``principal`` is on ``request`` (the access log's ``user``); returns ``principal``."""
    user = getattr(principal, "user", None)
    if user is not None:
        try:
            request.user_login = user.login
        except AttributeError:  # a request class without the attribute (tests' fakes)
            pass
    return principal


def authenticate_request(hs: Services87Server, request, schemes: Sequence[str] = ALL_SCHEMES,
                         sessions=None) -> defer.Deferred:
    return _authenticate_request(hs, request, schemes, sessions).addCallback(lambda p: note_user(request, p))


def _authenticate_request(hs: Services87Server, request, schemes: Sequence[str] = ALL_SCHEMES,
                          sessions=None) -> defer.Deferred:
    """Authenticate ``request``; the Deferred fires with a :class:`Principal` or fails with :class:`AuthError`.

    ``schemes`` limits the accepted ``Authorization`` schemes (names as in :data:`ALL_SCHEMES`).
    ``sessions`` (a ``services87.http.session.SessionStore`` or ``None``) enables cookie sessions for requests
    without an ``Authorization`` header.
    """
    try:
        parsed = parse_authorization(_header(request, "authorization"))
    except AuthError:
        return defer.fail()
    if parsed is None:
        if sessions is not None and sessions.has_cookie(request):
            return sessions.authenticate(hs, request)
        return defer.fail(AuthError("MissingCredentials", "Authentication is required: send an Authorization "
                                    "header (" + ", ".join(schemes) + ")"))
    scheme, credentials = parsed
    allowed = {s.lower(): s for s in schemes}
    if scheme not in allowed:
        return defer.fail(AuthError("UnsupportedScheme", "Unsupported authorization scheme; use one of: "
                                    + ", ".join(schemes)))
    if scheme == "basic":
        try:
            user, password = parse_basic(credentials)
        except AuthError:
            return defer.fail()
        address = client_address(request)

        def by_password():
            return Principal(hs.get_auth().authenticate_password(user, password, address), "password")

        return hs.run_blocking(by_password)
    if not credentials:
        return defer.fail(AuthError("InvalidCredentials", f"{allowed[scheme]} credentials are missing"))
    if scheme == "soticket":
        return hs.run_blocking(hs.get_auth().validate_ticket, credentials)
    return hs.run_blocking(hs.get_auth().validate_access_token, credentials)


def header_authenticator(hs: Services87Server, request, schemes: Sequence[str] = ALL_SCHEMES):
    """For a request with an ``Authorization`` header: a blocking callable that authenticates it exactly as
    :func:`authenticate_request` does (returns the :class:`Principal`, raises :class:`AuthError`), so that an
    adapter can authenticate and do its work in one hop to the store threads. ``None`` without the header
    (cookie sessions then go through :func:`authenticate_request`)."""
    if _header(request, "authorization") is None:
        return None
    address = client_address(request)
    header = _header(request, "authorization")

    def check() -> Principal:
        return note_user(request, _check())

    def _check() -> Principal:
        parsed = parse_authorization(header)
        assert parsed is not None  # there is a header (above)
        scheme, credentials = parsed
        allowed = {s.lower(): s for s in schemes}
        if scheme not in allowed:
            raise AuthError("UnsupportedScheme", "Unsupported authorization scheme; use one of: " + ", ".join(schemes))
        if scheme == "basic":
            user, password = parse_basic(credentials)
            return Principal(hs.get_auth().authenticate_password(user, password, address), "password")
        if not credentials:
            raise AuthError("InvalidCredentials", f"{allowed[scheme]} credentials are missing")
        if scheme == "soticket":
            return hs.get_auth().validate_ticket(credentials)
        return hs.get_auth().validate_access_token(credentials)

    return check


def check_application_token(hs: Services87Server, request, header: str = "SO-AppToken") -> None:
    """Raise :class:`AuthError` when the installation requires an application token and this one is not valid."""
    hs.get_auth().check_application_token(_header(request, header))


def status_for(error: AuthError) -> int:
    """The HTTP status for an authentication failure."""
    if error.kind in FORBIDDEN_KINDS:
        return 403
    if error.kind in THROTTLED_KINDS:
        return 429
    return 401


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def challenge_headers(schemes: Iterable[str] = ALL_SCHEMES, error: AuthError | None = None,
                      realm: str = REALM) -> list[str]:
    """``WWW-Authenticate`` values, one challenge per scheme (RFC 7235); a bad bearer token gets RFC 6750's
    ``error="invalid_token"``."""
    out = []
    for scheme in schemes:
        value = f"{scheme} realm={_quote(realm)}"
        if scheme == BASIC:
            value += ', charset="UTF-8"'
        if scheme == BEARER and error is not None and error.kind in ("InvalidToken", "ExpiredToken"):
            value += f", error=\"invalid_token\", error_description={_quote(error.message)}"
        out.append(value)
    return out


def retry_after(hs: Services87Server | None = None) -> int:
    """Seconds a throttled client should wait: the failure window of the password throttle."""
    window = getattr(getattr(hs, "settings", None), "login_failure_window", None)
    return int(window or AuthService.FAILURE_WINDOW)


def apply_challenge(request, schemes: Iterable[str] = ALL_SCHEMES, error: AuthError | None = None,
                    hs: Services87Server | None = None) -> None:
    """Set the ``WWW-Authenticate`` headers (401) or ``Retry-After`` (429) for ``error`` on ``request``."""
    status = status_for(error) if error is not None else 401
    if status == 401:
        request.responseHeaders.setRawHeaders(b"www-authenticate",
                                              [v.encode() for v in challenge_headers(schemes, error)])
    elif status == 429:
        request.setHeader(b"retry-after", str(retry_after(hs)).encode())
