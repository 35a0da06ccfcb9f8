"""What a transport knows about the request that carried a message."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from http.cookies import CookieError, Morsel, SimpleCookie
from typing import Any
from collections.abc import Mapping


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


#: ``name=value`` with plain characters only: what the standard library's parser returns unchanged
_PLAIN_COOKIE = re.compile(r"([A-Za-z0-9_.-]+)=([A-Za-z0-9_.-]*)")
_ATTRIBUTES: Morsel[str] = Morsel()


def parse_cookie_header(value: str | None) -> dict[str, str]:
    """Parse a ``Cookie:`` header leniently (bad cookies are skipped); the first of a repeated name wins.

    Each ``;``-separated part is parsed by :class:`http.cookies.SimpleCookie`, except a plain ``name=value``
    (letters, digits, ``_.-``; the tokens this server and most others issue) that is not a cookie attribute
    name (``Path``, ``Expires``, ...): the standard parser gives that pair unchanged, so it is taken as is."""
    cookies: dict[str, str] = {}
    if not value:
        return cookies
    for part in value.split(";"):
        part = part.strip()
        plain = _PLAIN_COOKIE.fullmatch(part)
        if plain is not None and not _ATTRIBUTES.isReservedKey(plain[1]):
            cookies.setdefault(plain[1], plain[2])
            continue
        try:
            jar = SimpleCookie()
            jar.load(part)
        except CookieError:
            continue
        for key, morsel in jar.items():
            cookies.setdefault(key, morsel.value)
    return cookies
