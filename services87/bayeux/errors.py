"""Bayeux error values (``"NNN:arg1,arg2:message"``) and the exceptions that carry them.

Codes used by this server (see docs/bayeux.md):

===  ==============================================================
400  malformed request: bad JSON, non-object item, missing channel
401  missing ``clientId``
402  unknown ``clientId`` (advice: ``reconnect: handshake``)
403  denied by the application (handshake, subscribe, publish)
405  invalid channel name
406  unknown ``/meta`` channel or unsupported connection type
409  too many subscriptions for one session
413  request body, message or batch too large
500  an application hook failed
503  too many sessions
===  ==============================================================
"""

from __future__ import annotations

from typing import Any
from collections.abc import Iterable


def format_error(code: int, message: str, args: Iterable[object] = ()) -> str:
    """Render a Bayeux ``error`` field: ``"403:/foo/bar:Subscription denied"``."""
    return f"{code:03d}:{','.join(str(arg) for arg in args)}:{message}"


class BayeuxError(Exception):
    """An error that becomes a ``successful: false`` reply.

    :param code: three-digit error code
    :param message: human-readable text
    :param args: error arguments (e.g. the channel), joined with ``,``
    :param advice: optional ``advice`` object for the reply
    """

    def __init__(self, code: int, message: str, *, args: Iterable[object] = (),
                 advice: dict[str, Any] | None = None) -> None:
        super().__init__(format_error(code, message, args))
        self.code = code
        self.message = message
        self.error_args = list(args)
        self.advice = advice

    @property
    def error(self) -> str:
        """The wire form of the error."""
        return format_error(self.code, self.message, self.error_args)


class Denied(BayeuxError):
    """Raised by application hooks to refuse an operation with a 403 reply.

    ``raise Denied("Invalid API key")`` → ``"error": "403::Invalid API key"``.
    Pass ``advice={"reconnect": "none"}`` to tell the client to stop.
    """

    def __init__(self, message: str = "Denied", *, args: Iterable[object] = (),
                 advice: dict[str, Any] | None = None, code: int = 403) -> None:
        super().__init__(code, message, args=args, advice=advice)
