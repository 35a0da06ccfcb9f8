"""A reusable Bayeux 1.0 (CometD) server on Twisted.

Long-polling and WebSocket transports, bounded per-session queues, session
sweeping, and hooks for authentication and authorisation. It knows nothing
about the application that uses it.

    from twisted.internet import reactor
    from services87.bayeux import BayeuxServer, BayeuxSettings

    bayeux = BayeuxServer(reactor, BayeuxSettings(session_cookie_name="STATISTICS_SESSIONID"))
    root.putChild(b"notifications", bayeux.resource())
    bayeux.publish("/statistics/v3/service", {"serviceState": "AVAILABLE"})

See docs/bayeux.md.
"""

from .channel import ChannelId, InvalidChannel
from .errors import BayeuxError, Denied, format_error
from .hooks import BayeuxHooks
from .protocol import JsonLoads, encode_json, stdlib_json_loads
from .request import RequestInfo
from .server import BayeuxServer
from .session import Session
from .settings import BayeuxSettings
from .transport import BatchOutcome, BayeuxCore

__all__ = [
    "BatchOutcome",
    "BayeuxCore",
    "BayeuxError",
    "BayeuxHooks",
    "BayeuxServer",
    "BayeuxSettings",
    "ChannelId",
    "Denied",
    "InvalidChannel",
    "JsonLoads",
    "RequestInfo",
    "Session",
    "encode_json",
    "format_error",
    "stdlib_json_loads",
]
