"""Settings of a :class:`~services87.bayeux.server.BayeuxServer`.

Times are in seconds here; on the wire Bayeux expresses them in milliseconds.
The defaults follow the CometD Java server (``interval`` 0, ``maxInterval``
10 s, ``sweepPeriod`` ~1 s, cookie ``BAYEUX_BROWSER``) except where a bound is
needed against abuse (CometD's queues are unbounded by default, ours are not)
and the long-poll ``timeout``, which is capped at 25 s so that proxies with a
30 s idle timeout do not cut held ``/meta/connect`` requests.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .protocol import JsonLoads, stdlib_json_loads

#: Longest long-poll hold accepted (seconds).
MAX_TIMEOUT = 25.0

#: Connection types this server implements, in order of preference.
ALL_CONNECTION_TYPES = ("websocket", "long-polling")


@dataclass(frozen=True)
class BayeuxSettings:
    """Tunables of a Bayeux server; validated on construction."""

    #: How long a ``/meta/connect`` is held when nothing is queued (s, <= 25).
    timeout: float = 25.0
    #: Advised pause between a connect reply and the next connect (s).
    interval: float = 0.0
    #: A session with no ``/meta/connect`` pending or arriving within this
    #: time is swept (s).
    max_interval: float = 10.0
    #: How often the sweeper runs (s).
    sweep_period: float = 1.0
    #: Messages queued per session; on overflow the *oldest* is dropped.
    max_queue: int = 1000
    #: Largest HTTP request body / WebSocket message accepted (bytes).
    max_message_size: int = 256 * 1024
    #: Most Bayeux messages accepted in one batch (JSON array).
    max_batch: int = 100
    #: Concurrent sessions; further handshakes are refused.
    max_sessions: int = 10_000
    #: Concurrently held ``/meta/connect`` requests; further ones are answered
    #: at once with ``busy_interval`` advice.
    max_held_connects: int = 10_000
    #: ``interval`` advised when a connect cannot be held (s).
    busy_interval: float = 2.0
    #: Channels a single session may be subscribed to.
    max_subscriptions: int = 256
    #: Longest channel name accepted (characters).
    max_channel_length: int = 255
    #: Name of the browser cookie (set when the request lacks it).
    browser_cookie_name: str = "BAYEUX_BROWSER"
    #: Optional extra cookie set on every successful handshake (for example
    #: ``STATISTICS_SESSIONID``); its value is kept across re-handshakes.
    session_cookie_name: str | None = None
    cookie_path: str = "/"
    cookie_secure: bool = False
    cookie_http_only: bool = True
    #: ``SameSite`` attribute of the cookies (``"Lax"``, ``"Strict"``,
    #: ``"None"``) or ``None`` to omit it.
    cookie_same_site: str | None = "Lax"
    #: Connection types offered in the handshake reply.
    connection_types: tuple[str, ...] = ALL_CONNECTION_TYPES
    #: Parses request bodies (``text, *, max_size -> value``, raising
    #: ``ValueError`` for what it refuses; see :class:`.protocol.JsonLoads`).
    #: The default is the standard library's parser with a size cap; an
    #: application passes its own guard (depth, duplicate keys, ...).
    json_loads: JsonLoads = stdlib_json_loads

    def __post_init__(self) -> None:
        def positive(name: str) -> None:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0")

        for name in ("timeout", "max_interval", "sweep_period", "max_queue",
                     "max_message_size", "max_batch", "max_sessions",
                     "max_subscriptions", "max_channel_length"):
            positive(name)
        if self.timeout > MAX_TIMEOUT:
            raise ValueError(f"timeout must be <= {MAX_TIMEOUT:g} s (proxies cut longer polls)")
        for name in ("interval", "busy_interval", "max_held_connects"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if not self.browser_cookie_name:
            raise ValueError("browser_cookie_name must not be empty")
        if self.session_cookie_name == self.browser_cookie_name:
            raise ValueError("session_cookie_name must differ from browser_cookie_name")
        unknown = set(self.connection_types) - set(ALL_CONNECTION_TYPES)
        if unknown or not self.connection_types:
            raise ValueError(f"connection_types must be a non-empty subset of {ALL_CONNECTION_TYPES}")
        if self.cookie_same_site not in (None, "Lax", "Strict", "None"):
            raise ValueError("cookie_same_site must be Lax, Strict, None or unset")
        if not callable(self.json_loads):
            raise ValueError("json_loads must be callable")

    def replace(self, **changes: Any) -> BayeuxSettings:
        """Return a copy with *changes* applied (and validated)."""
        return dataclasses.replace(self, **changes)

    @property
    def timeout_ms(self) -> int:
        return int(self.timeout * 1000)

    @property
    def interval_ms(self) -> int:
        return int(self.interval * 1000)
