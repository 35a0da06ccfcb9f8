"""Cross-origin rules for browser-facing requests (docs/security.md, "Browser-facing rules").

A browser sends ``Origin`` on every cross-origin request that could change something and on every WebSocket
handshake. Refused with ``403 CrossOriginRequest`` when the ``Origin`` is neither the server's own (its
host and port equal the request's ``Host``) nor listed in ``allowed_origins``:

* a request that carries cookies and is state-changing (any method but GET, HEAD, OPTIONS) or a WebSocket
  handshake — so a page elsewhere cannot ride on a user's ``JSESSIONID`` / session cookie (cross-site
  WebSocket hijacking, CSRF);
* a POST / DELETE to a log-in or log-out endpoint, cookies or not (login CSRF).

Requests without ``Origin`` (API clients, curl) are not browsers' cross-origin requests and pass.
"""

from __future__ import annotations

from urllib.parse import urlsplit

SAFE_METHODS = frozenset({b"GET", b"HEAD", b"OPTIONS"})
#: The Content-Security-Policy of the status page, which every other HTML answer gets too
#: (:meth:`services87.http.limits.LimitedRequest.write`).
PAGE_CSP = (b"default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
            b"style-src 'self'; script-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'")
SESSION_PATHS = frozenset({b"/api/v1/session", b"/statuspage/api/login", b"/statuspage/api/logout"})


def _netloc(origin: str) -> str | None:
    try:
        parts = urlsplit(origin.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return parts.netloc.lower()


def origin_allowed(origin: str, host: str | None, allowed: list[str]) -> bool:
    netloc = _netloc(origin)
    if netloc is None:
        return False  # "null" (sandboxed frames, file: pages) and junk
    if allowed:
        return origin.strip().rstrip("/").lower() in {a.strip().rstrip("/").lower() for a in allowed}
    return bool(host) and netloc == (host or "").strip().lower()


def refusal(request, allowed: list[str]) -> str | None:
    """Why ``request`` is refused under the rules above, or ``None``."""
    raw = request.getHeader(b"origin")
    if raw is None:
        return None
    unsafe = request.method not in SAFE_METHODS
    websocket = (request.getHeader(b"upgrade") or b"").lower() == b"websocket"
    path = (request.path or b"").split(b"?", 1)[0].rstrip(b"/")
    with_cookies = bool(request.getHeader(b"cookie"))
    if not ((with_cookies and (unsafe or websocket)) or (unsafe and path in SESSION_PATHS)):
        return None
    origin = raw.decode("latin-1") if isinstance(raw, bytes) else raw
    host = request.getHeader(b"host")
    host = host.decode("latin-1") if isinstance(host, bytes) else host
    if origin_allowed(origin, host, allowed):
        return None
    what = "WebSocket handshake" if websocket else "request"
    return f"Cross-origin {what} from {origin[:100]!r} refused (not in allowed_origins)"
