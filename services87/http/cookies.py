"""The one place that sets and clears cookies, so every cookie gets the same attributes.

Every cookie is ``Path=/`` and ``SameSite=Lax`` (browsers then send it on top-level navigations only, never
on cross-site subresource requests, form POSTs or WebSocket handshakes); ``HttpOnly`` unless the page's
JavaScript must read it; ``Secure`` when the request came over TLS.
"""

from __future__ import annotations

SAME_SITE = "lax"


def set_cookie(request, name: bytes | str, value: bytes | str, http_only: bool = True, **extra) -> None:
    name = name.encode() if isinstance(name, str) else name
    value = value.encode() if isinstance(value, str) else value
    request.addCookie(name, value, path=b"/", httpOnly=http_only, secure=bool(request.isSecure()),
                      sameSite=SAME_SITE, **extra)


def clear_cookie(request, name: bytes | str) -> None:
    set_cookie(request, name, b"", max_age=b"0", expires=b"Thu, 01 Jan 1970 00:00:00 GMT")


def header_value(name: str, value: str, secure: bool = False, http_only: bool = True) -> str:
    """A ``Set-Cookie`` value for code that writes raw headers (the Bayeux transports)."""
    out = f"{name}={value}; Path=/; SameSite=Lax"
    if http_only:
        out += "; HttpOnly"
    if secure:
        out += "; Secure"
    return out
