"""Bayeux channel names: validation and wildcard matching.

A channel name is a ``/``-separated path such as ``/statistics/v3/updates``.
Rules enforced here:

* it starts with ``/`` and has at least one segment; no segment is empty
  (so no ``//`` and no trailing ``/``);
* no whitespace or control characters; bounded length;
* a segment containing ``*`` must be exactly ``*`` or ``**`` and may only be
  the last segment: ``/a/*`` matches ``/a/b`` (one level), ``/a/**`` matches
  ``/a/b`` and ``/a/b/c`` (any depth).

``/meta/**`` channels belong to the protocol, ``/service/**`` channels carry
client-to-server messages that are never broadcast.
"""

from __future__ import annotations

from .errors import BayeuxError

META_PREFIX = "/meta/"
SERVICE_PREFIX = "/service/"


class InvalidChannel(BayeuxError, ValueError):
    """The channel name violates the syntax rules."""

    def __init__(self, channel: object, reason: str = "Invalid channel") -> None:
        super().__init__(405, reason, args=[channel if isinstance(channel, str) else ""])


class ChannelId:
    """A validated channel name.

    >>> ChannelId("/a/*").matches("/a/b")
    True
    """

    __slots__ = ("name", "segments")

    def __init__(self, name: object, *, max_length: int = 255, allow_wildcards: bool = True) -> None:
        if not isinstance(name, str) or not name.startswith("/") or len(name) < 2:
            raise InvalidChannel(name)
        if len(name) > max_length:
            raise InvalidChannel(name, "Channel name too long")
        if any(ch.isspace() or not ch.isprintable() for ch in name):
            raise InvalidChannel(name)
        segments = tuple(name[1:].split("/"))
        if any(segment == "" for segment in segments):
            raise InvalidChannel(name)
        for position, segment in enumerate(segments):
            if "*" in segment:
                if segment not in ("*", "**") or position != len(segments) - 1:
                    raise InvalidChannel(name)
                if not allow_wildcards:
                    raise InvalidChannel(name, "Wildcards not allowed here")
        self.name = name
        self.segments = segments

    def __repr__(self) -> str:
        return f"ChannelId({self.name!r})"

    def __str__(self) -> str:
        return self.name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChannelId) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    @property
    def is_meta(self) -> bool:
        return self.segments[0] == "meta"

    @property
    def is_service(self) -> bool:
        return self.segments[0] == "service"

    @property
    def is_wildcard(self) -> bool:
        """True for ``/a/*`` and ``/a/**``."""
        return self.segments[-1] in ("*", "**")

    @property
    def is_deep_wildcard(self) -> bool:
        return self.segments[-1] == "**"

    @property
    def is_broadcast(self) -> bool:
        """True for channels whose messages go to every subscriber."""
        return not (self.is_meta or self.is_service)

    def matches(self, channel: ChannelId | str) -> bool:
        """Whether this (pattern) channel matches the concrete *channel*."""
        other = channel.segments if isinstance(channel, ChannelId) else tuple(channel[1:].split("/"))
        mine = self.segments
        if not self.is_wildcard:
            return mine == other
        prefix = mine[:-1]
        if other[: len(prefix)] != prefix:
            return False
        rest = len(other) - len(prefix)
        return rest >= 1 if self.is_deep_wildcard else rest == 1

    def patterns(self) -> list[str]:
        """Every subscription name that matches this concrete channel.

        For ``/a/b/c``: ``/a/b/c``, ``/a/b/*``, ``/a/b/**``, ``/a/**``, ``/**``.
        Used to look subscribers up in an index instead of scanning sessions.
        """
        if self.is_wildcard:
            raise ValueError("patterns() needs a concrete channel")
        segments = self.segments
        result = [self.name, "/" + "/".join(segments[:-1] + ("*",))]
        for depth in range(len(segments) - 1, -1, -1):
            result.append("/" + "/".join(segments[:depth] + ("**",)))
        return result
