"""Stat Server statistic definitions, parsed leniently.

A definition is what Genesys configures per statistic (``category``, ``subject``, ``mainMask``, ...). Keys are
matched case-insensitively and without ``_``/``-``; known aliases are accepted (``relMask``/``relativeMask``,
``dynamicProfile``/``dynamicTimeProfile``, ``objects``/``objectTypes``); enumerated values are matched
case-insensitively (``PERIODICAL``); numbers may arrive as strings. Anything that cannot be understood is an
:class:`InvalidDefinition` naming the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import time as dtime
from collections.abc import Mapping
from typing import Any

from services87.engine.model import NotFound, UnknownObject, ValidationError  # noqa: F401 - UnknownObject: re-exported


class InvalidDefinition(ValidationError):
    kind = "InvalidDefinition"


class UnknownStatistic(NotFound):
    kind = "UnknownStatistic"


class InvalidObjectType(ValidationError):
    kind = "InvalidObjectType"


CATEGORIES = ("CurrentState", "CurrentTime", "CurrentNumber", "TotalNumber", "TotalTime", "TotalAdjustedTime",
              "AverageTime", "ServiceFactor1")
#: Categories that need a time window (historical and time-range categories).
WINDOWED = frozenset({"TotalNumber", "TotalTime", "TotalAdjustedTime", "AverageTime", "ServiceFactor1"})
SUBJECTS = ("AgentStatus", "DNStatus", "DNAction", "GroupStatus", "PlaceStatus")
SUBJECT_ALIASES = {"action": "DNAction"}
OBJECT_TYPES = ("Agent", "Place", "GroupAgents", "GroupPlaces", "Queue", "Tenant")
OBJECT_ALIASES = {"agentgroup": "GroupAgents", "placegroup": "GroupPlaces", "acdqueue": "Queue"}
MODES = ("Immediate", "Periodical", "Reset", "NoNotification")
MODE_ALIASES = {"changebased": "Immediate", "timebased": "Periodical", "resetbased": "Reset", "none": "NoNotification"}

#: DN/agent status names, lowest to highest priority (Stat Server status priority table).
STATUSES = ("NotMonitored", "Monitored", "LoggedIn", "OnHook", "WaitForNextCall", "OffHook", "CallDialing",
            "CallRinging", "NotReadyForNextCall", "AfterCallWork", "CallOnHold", "CallUnknown", "CallConsult",
            "CallInternal", "CallOutbound", "CallInbound", "LoggedOut")
#: Instantaneous actions recorded from interaction events.
INSTANT_ACTIONS = ("CallEntered", "CallAnswered", "CallAbandoned", "CallDistributed", "CallReleased")
#: Durable actions of interactions in queues.
QUEUE_ACTIONS = ("CallWait",)
ALL_NAMES = STATUSES + INSTANT_ACTIONS + QUEUE_ACTIONS
_CANON = {n.lower(): n for n in ALL_NAMES}
#: Friendly aliases accepted in masks and ingest events.
STATUS_ALIASES = {"ready": "WaitForNextCall", "notready": "NotReadyForNextCall", "acw": "AfterCallWork",
                  "wrapup": "AfterCallWork", "talking": "CallInbound", "logout": "LoggedOut", "login": "LoggedIn",
                  "hold": "CallOnHold", "ringing": "CallRinging", "dialing": "CallDialing"}


def canonical_status(name: Any) -> str | None:
    if not isinstance(name, str):
        return None
    key = re.sub(r"[\s_\-]", "", name).lower()
    return _CANON.get(key) or STATUS_ALIASES.get(key)


def _enum(value: Any, allowed: tuple[str, ...], aliases: dict[str, str], key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidDefinition(f"{key}: expected one of {', '.join(allowed)}, got {value!r}")
    k = re.sub(r"[\s_\-]", "", value).lower()
    for a in allowed:
        if a.lower() == k:
            return a
    if k in aliases:
        return aliases[k]
    raise InvalidDefinition(f"{key}: unknown value {value!r} (expected one of {', '.join(allowed)})")


def parse_object_type(value: Any) -> str:
    try:
        return _enum(value, OBJECT_TYPES, OBJECT_ALIASES, "objectType")
    except InvalidDefinition:
        raise InvalidObjectType(f"unknown objectType {value!r} (expected one of {', '.join(OBJECT_TYPES)})") from None


def _number(value: Any, key: str, minimum: float = 0, maximum: float = 10**9) -> float:
    if isinstance(value, bool):
        raise InvalidDefinition(f"{key}: expected a number, got {value!r}")
    try:
        n = float(value.strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise InvalidDefinition(f"{key}: expected a number, got {value!r}") from None
    if n != n or n < minimum or n > maximum:
        raise InvalidDefinition(f"{key}: {value!r} is out of range [{minimum:g}, {maximum:g}]")
    return n


@dataclass(frozen=True)
class Mask:
    """``*`` and/or names, comma-separated; ``~Name`` excludes. Only exclusions means ``*`` minus them."""

    include_all: bool
    include: frozenset[str]
    exclude: frozenset[str]
    text: str = "*"

    @classmethod
    def parse(cls, value: Any, key: str = "mainMask") -> Mask:
        if value is None:
            return cls(True, frozenset(), frozenset(), "*")
        if isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        if not isinstance(value, str):
            raise InvalidDefinition(f"{key}: expected a mask string, got {value!r}")
        inc: set[str] = set()
        exc: set[str] = set()
        star = False
        parts = [p.strip() for p in value.split(",") if p.strip()]
        if not parts:
            raise InvalidDefinition(f"{key}: empty mask")
        for p in parts:
            neg = p.startswith("~")
            name = p[1:].strip() if neg else p
            if name == "*":
                if neg:
                    raise InvalidDefinition(f"{key}: '~*' excludes everything")
                star = True
                continue
            canon = canonical_status(name)
            if canon is None:
                raise InvalidDefinition(f"{key}: unknown status or action {name!r}")
            (exc if neg else inc).add(canon)
        if not inc and not star:
            star = True
        return cls(star, frozenset(inc), frozenset(exc), value)

    def matches(self, name: str) -> bool:
        if name in self.exclude:
            return False
        return self.include_all or name in self.include


@dataclass(frozen=True)
class Interval:
    kind: str  # "growing" | "sliding"
    reset_times: tuple[dtime, ...] = ()  # growing: time(s) of day of the reset, tenant time zone
    length_s: int = 0  # sliding: window length

    def describe(self) -> str:
        if self.kind == "sliding":
            return f"SlidingWindow {self.length_s}s"
        return "GrowingWindow reset at " + ",".join(t.strftime("%H:%M:%S") for t in self.reset_times)


@dataclass(frozen=True)
class Notification:
    mode: str = "Immediate"
    frequency: int = 10  # seconds (Periodical)
    insensitivity: float = 0.0


@dataclass(frozen=True)
class StatDefinition:
    category: str
    subject: str = "DNStatus"
    main_mask: Mask = field(default_factory=lambda: Mask.parse("*"))
    rel_mask: Mask | None = None
    interval: Interval | None = None
    notification: Notification = field(default_factory=Notification)
    time_range_left: int = 0
    time_range_right: int = 20
    object_types: tuple[str, ...] = ()  # empty = any the subject allows
    media: str | None = None  # from dynamicFilter "MediaType=voice"
    panel: str | None = None  # wire name of a StatusScreenPanelType (pre-configured panel statistics)
    name: str | None = None


def _norm_key(k: str) -> str:
    return re.sub(r"[\s_\-]", "", k).lower()


_KEY_ALIASES = {
    "relmask": "relativemask", "dynamicprofile": "dynamictimeprofile", "timeprofile": "dynamictimeprofile",
    "objects": "objecttypes", "objecttype": "objecttypes", "filter": "dynamicfilter",
    "frequency": "notificationfrequency",
    "mode": "notificationmode", "timerangeleft2": "timerangeleft", "timerangeright2": "timerangeright",
}
KNOWN_KEYS = {"category", "subject", "mainmask", "relativemask", "intervaltype", "intervallength", "dynamictimeprofile",
              "dynamicfilter", "notificationmode", "notificationfrequency", "insensitivity", "objecttypes",
              "timerangeleft", "timerangeright", "name", "location", "features", "masktype", "description"}

_TOD = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_SLIDE = re.compile(r"^(\d+):(\d+)$")


def parse_time_of_day(text: str, key: str = "dynamicTimeProfile") -> dtime:
    m = _TOD.match(text.strip())
    if not m:
        raise InvalidDefinition(f"{key}: expected HH:MM[:SS], got {text!r}")
    h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if h > 23 or mi > 59 or s > 59:
        raise InvalidDefinition(f"{key}: {text!r} is not a time of day")
    return dtime(h, mi, s)


def parse_definition(raw: Any, default_reset: str = "00:00", name: str | None = None) -> StatDefinition:
    """A :class:`StatDefinition` from a JSON object (see the module docstring for the leniency rules)."""
    if not isinstance(raw, Mapping):
        raise InvalidDefinition(f"definition must be a JSON object, got {type(raw).__name__}")
    d: dict[str, Any] = {}
    for k, v in raw.items():
        if not isinstance(k, str):
            continue
        nk = _norm_key(k)
        nk = _KEY_ALIASES.get(nk, nk)
        if nk not in KNOWN_KEYS:
            raise InvalidDefinition(f"unknown definition key {k!r}")
        d[nk] = v
    if "category" not in d:
        raise InvalidDefinition("category is required")
    category = _enum(d["category"], CATEGORIES, {}, "category")
    subject = _enum(d.get("subject") or "DNStatus", SUBJECTS, SUBJECT_ALIASES, "subject")
    if subject == "PlaceStatus":
        subject = "AgentStatus"  # a place's status is the status of the agent logged in there
    main = Mask.parse(d.get("mainmask"), "mainMask")
    rel = Mask.parse(d["relativemask"], "relativeMask") if d.get("relativemask") not in (None, "") else None

    interval = None
    itype = d.get("intervaltype")
    profile = d.get("dynamictimeprofile")
    if category in WINDOWED or itype is not None:
        kind = "growing"
        if itype is not None:
            k = _norm_key(str(itype))
            if k in ("growingwindow", "growing"):
                kind = "growing"
            elif k in ("slidingwindow", "sliding"):
                kind = "sliding"
            else:
                raise InvalidDefinition(f"intervalType: unknown value {itype!r} (GrowingWindow or SlidingWindow)")
        elif isinstance(profile, str) and _SLIDE.match(profile.strip()) and int(profile.split(":")[0]) > 23:
            kind = "sliding"  # "3600:10" is LENGTH:STEP; a time of day never has an hour above 23
        if kind == "growing":
            text = profile if isinstance(profile, str) and profile.strip() else default_reset
            times = tuple(sorted({parse_time_of_day(p) for p in text.split(",") if p.strip()}))
            if not times:
                raise InvalidDefinition(f"dynamicTimeProfile: no reset time in {text!r}")
            interval = Interval("growing", reset_times=times)
        else:
            length = None
            if isinstance(profile, str) and profile.strip():
                m = _SLIDE.match(profile.strip())
                if not m:
                    raise InvalidDefinition(
                        f"dynamicTimeProfile: expected LENGTH:STEP for SlidingWindow, got {profile!r}")
                length = int(m.group(1))
            if length is None and d.get("intervallength") is not None:
                length = int(_number(d["intervallength"], "intervalLength", 1))
            if length is None:
                length = 3600
            length = max(1, min(length, 400 * 86400))
            interval = Interval("sliding", length_s=length)

    mode = _enum(d.get("notificationmode") or "Immediate", MODES, MODE_ALIASES, "notificationMode")
    freq = int(_number(d.get("notificationfrequency", 10), "notificationFrequency", 1, 86400))
    insens = _number(d.get("insensitivity", 0), "insensitivity", 0, 10**9)
    objects: tuple[str, ...] = ()
    ot = d.get("objecttypes")
    if ot not in (None, ""):
        items = ot.split(",") if isinstance(ot, str) else ot if isinstance(ot, list) else None
        if items is None:
            raise InvalidDefinition(f"objectTypes: expected a comma-separated string, got {ot!r}")
        found = []
        for item in items:
            item = str(item).strip()
            if not item:
                continue
            try:
                found.append(_enum(item, OBJECT_TYPES, OBJECT_ALIASES, "objectTypes"))
            except InvalidDefinition:
                if _norm_key(item) in ("routepoint", "groupqueues", "regdn"):
                    continue  # Genesys object types without an equivalent here
                raise
        objects = tuple(found)
    media = None
    filt = d.get("dynamicfilter")
    if isinstance(filt, str) and filt.strip():
        m = re.match(r"^\s*(media|mediatype)\s*=\s*([\w\-]+)\s*$", filt, re.I)
        if not m:
            raise InvalidDefinition(f"dynamicFilter: only MediaType=<media> is supported, got {filt!r}")
        media = m.group(2).lower()
    left = int(_number(d.get("timerangeleft", 0), "timeRangeLeft", 0, 86400))
    right = int(_number(d.get("timerangeright", 20), "timeRangeRight", 0, 86400))
    if right < left:
        raise InvalidDefinition("timeRangeRight must not be less than timeRangeLeft")
    return StatDefinition(category=category, subject=subject, main_mask=main, rel_mask=rel, interval=interval,
                          notification=Notification(mode, freq, insens), time_range_left=left, time_range_right=right,
                          object_types=objects, media=media,
                          name=name or (d.get("name") if isinstance(d.get("name"), str) else None))
