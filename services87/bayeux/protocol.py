"""Wire helpers shared by the transports: decoding batches, encoding replies,
building error replies."""

from __future__ import annotations

import json
import math
import re
import secrets
from typing import Any, Protocol
from urllib.parse import parse_qs

from .errors import BayeuxError

BAYEUX_VERSION = "1.0"

#: Channel used for replies to input that has no usable channel of its own
#: (unparseable body, non-object item, missing channel).
ERROR_CHANNEL = "/meta/error"

_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{8,128}$")


class BatchError(BayeuxError):
    """The request as a whole is unacceptable; *http_status* is the HTTP
    status the long-polling transport answers with."""

    def __init__(self, http_status: int, code: int, message: str) -> None:
        super().__init__(code, message)
        self.http_status = http_status


class JsonLoads(Protocol):
    """Parses one request body (text) into a JSON value.

    Raises :class:`ValueError` (or a subclass) for anything it refuses: text
    longer than *max_size* characters, malformed JSON, and whatever else the
    application's guard checks. ``BayeuxSettings.json_loads`` holds the one a
    server uses.
    """

    def __call__(self, text: str, *, max_size: int) -> Any: ...


def _not_a_number(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def stdlib_json_loads(text: str, *, max_size: int) -> Any:
    """The default :class:`JsonLoads`: the standard library's parser with a size cap; ``NaN``/``Infinity`` and
    numbers too large for a double are refused (a published value must stay JSON for every subscriber), and so
    is nesting deeper than the interpreter's recursion limit."""
    if len(text) > max_size:
        raise ValueError(f"longer than {max_size} characters")
    try:
        value = _decode(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    return value


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is too large")
    return value


_decode = json.JSONDecoder(parse_constant=_not_a_number, parse_float=_finite_float).decode


def new_token(nbytes: int = 20) -> str:
    """A random, URL- and cookie-safe identifier (``nbytes`` of entropy)."""
    return secrets.token_urlsafe(nbytes)


def valid_token(value: str | None) -> bool:
    """Whether a client-supplied cookie value looks like one of our tokens."""
    return bool(value) and _TOKEN_RE.match(value) is not None  # type: ignore[arg-type]


def decode_batch(body: bytes | str, *, max_size: int, max_batch: int,
                 json_loads: JsonLoads = stdlib_json_loads) -> list[Any]:
    """Parse a request body into a list of (not yet validated) messages.

    Accepts a JSON array or a single JSON object, and also the
    ``message=<json>`` form encoding used by some old clients. *json_loads*
    parses the JSON text (``BayeuxSettings.json_loads``).

    :raises BatchError: the body is too large, not JSON, empty or too long
    """
    if len(body) > max_size:
        raise BatchError(413, 413, "Message too large")
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError:
        raise BatchError(400, 400, "Malformed JSON") from None
    stripped = text.lstrip()
    if stripped.startswith("message="):
        values = parse_qs(stripped, max_num_fields=1).get("message") or [""]
        stripped = values[0]
    if not stripped:
        raise BatchError(400, 400, "Malformed JSON")
    try:
        data = json_loads(stripped, max_size=max_size)
    except ValueError:
        raise BatchError(400, 400, "Malformed JSON") from None
    items = data if isinstance(data, list) else [data]
    if not items:
        raise BatchError(400, 400, "Empty message batch")
    if len(items) > max_batch:
        raise BatchError(413, 413, "Too many messages in batch")
    return items


_encode_one = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode


def encode_json(value: Any) -> bytes:
    """``value`` as the transports send it: compact JSON, UTF-8, unknown types as ``str``. An application
    that hands :meth:`~services87.bayeux.server.BayeuxServer.deliver` the JSON of its data must make it so."""
    return _encode_one(value).encode("utf-8")


class Message(dict[str, Any]):
    """A message queued for delivery, possibly to many sessions: a ``dict`` that keeps its JSON once encoded,
    so a publish to N subscribers is encoded once, not N times. It must not be changed after it was queued."""

    __slots__ = ("_json",)

    def encoded(self) -> bytes:
        try:
            return self._json
        except AttributeError:
            self._json: bytes = encode_json(self)
            return self._json

    def prime(self, encoded: bytes) -> None:
        """Give the message its JSON, made by the caller (it must be what :meth:`encoded` would make)."""
        self._json = encoded


def encode(messages: list[dict[str, Any]]) -> bytes:
    """Serialise a reply batch (a JSON array; compact, UTF-8, unknown types as ``str``).

    The same bytes as ``json.dumps(messages, separators=(",", ":"), ensure_ascii=False, default=str)``:
    an array's text is its items' texts joined by ``,``, so each :class:`Message` contributes the text it
    was encoded to for the first of its recipients."""
    return b"[" + b",".join([m.encoded() if type(m) is Message else encode_json(m)
                             for m in messages]) + b"]"


def error_reply(message: Any, error: BayeuxError) -> dict[str, Any]:
    """Build a ``successful: false`` reply to *message* (which may be any JSON
    value) echoing its ``channel``, ``id``, ``clientId`` and ``subscription``
    where those are usable."""
    reply: dict[str, Any] = {"channel": ERROR_CHANNEL}
    if isinstance(message, dict):
        channel = message.get("channel")
        if isinstance(channel, str) and channel:
            reply["channel"] = channel
        for key in ("id", "clientId"):
            value = message.get(key)
            if isinstance(value, (str, int)) and not isinstance(value, bool):
                reply[key] = value
        if "subscription" in message and isinstance(message["subscription"], (str, list)):
            reply["subscription"] = message["subscription"]
    reply["successful"] = False
    reply["error"] = error.error
    if error.advice:
        reply["advice"] = dict(error.advice)
    return reply


def batch_error_reply(error: BayeuxError) -> list[dict[str, Any]]:
    """The reply body for a request that could not be split into messages."""
    return [error_reply(None, error)]
