"""What a transport knows about the request that carried a message."""

from __future__ import annotations

from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any, Mapping


@dataclass
class RequestInfo:
    """What the transport knows about the request that carried a message.

    :ivar transport: ``"long-polling"`` or ``"websocket"``
    :ivar headers: request headers, names lower-cased (for WebSocket: the
        headers of the HTTP upgrade request)
    :ivar cookies: cookies sent with the request
    :ivar peer: remote address as ``"host:port"``
    :ivar path: request path (bytes decoded as latin-1)
    :ivar request: the underlying object: a :class:`twisted.web.server.Request`
        for long-polling, an :class:`autobahn.websocket.types.ConnectionRequest`
        for WebSocket
    :ivar browser_id: value of the browser cookie (existing or newly assigned)
    :ivar session_cookie: value of the configured extra session cookie, if any
    """

    transport: str
    headers: Mapping[str, str] = field(default_factory=dict)
    cookies: Mapping[str, str] = field(default_factory=dict)
    peer: str = ""
    path: str = ""
    request: Any = None
    browser_id: str | None = None
    session_cookie: str | None = None

    def header(self, name: str, default: str | None = None) -> str | None:
        """Case-insensitive header lookup."""
        return self.headers.get(name.lower(), default)


def parse_cookie_header(value: str | None) -> dict[str, str]:
    """Parse a ``Cookie:`` header leniently (bad cookies are skipped)."""
    cookies: dict[str, str] = {}
    if not value:
        return cookies
    for part in value.split(";"):
        try:
            jar = SimpleCookie()
            jar.load(part.strip())
        except CookieError:
            continue
        for key, morsel in jar.items():
            cookies.setdefault(key, morsel.value)
    return cookies
