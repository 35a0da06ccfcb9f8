"""Protocol-neutral domain types of the statistics engine."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timezone


class StatusScreenPanelType(enum.IntEnum):
    """The vendor's ``StatusScreenPanelType``: names and numbers exactly as its WSDL declares them."""

    None_ = 0
    OpenRequestsPerCategory = 1
    OpenRequestsPerTopCategory = 2
    OpenRequestsPerUser = 3
    OpenRequestsPerUserGroup = 4
    OpenRequestsPerPriority = 5
    OpenRequestsPerStatus = 6
    OpenRequestsPerOrigin = 7
    NumberOfCreatedRequestsPerDay = 11
    NumberOfCreatedRequestsPerWeek = 12
    NumberOfCreatedRequestsPerMonth = 13
    UserResponseTimePerDay = 21
    UserReponseTimePerWeek = 22  # sic: the vendor's spelling
    UserResponseTimePerMonth = 23
    OwnOpenRequests = 101
    UnassignedRequests = 102
    Hotlist = 103
    StatusScreen = 111

    @property
    def wire_name(self) -> str:
        """The name as it travels on the wire (``None`` rather than the Python-safe ``None_``)."""
        return "None" if self is StatusScreenPanelType.None_ else self.name

    @classmethod
    def parse(cls, value: "str | int | StatusScreenPanelType") -> "StatusScreenPanelType":
        """Accept a panel by wire name (case-insensitive) or number; raise :class:`UnknownPanel` otherwise."""
        if isinstance(value, StatusScreenPanelType):
            return value
        if isinstance(value, bool):
            raise UnknownPanel(value)
        if isinstance(value, int):
            try:
                return cls(value)
            except ValueError:
                raise UnknownPanel(value) from None
        if isinstance(value, str):
            text = value.strip()
            if text.lstrip("-").isdigit():
                return cls.parse(int(text))
            found = _BY_LOWER_NAME.get(text.lower())
            if found is not None:
                return found
        raise UnknownPanel(value)


_BY_LOWER_NAME = {p.wire_name.lower(): p for p in StatusScreenPanelType}
ALL_PANELS: tuple[StatusScreenPanelType, ...] = tuple(StatusScreenPanelType)


class BaseStatus(enum.IntEnum):
    Open = 1
    Postponed = 2
    Closed = 3
    Deleted = 4

    @property
    def is_open(self) -> bool:
        return self in (BaseStatus.Open, BaseStatus.Postponed)


class Origin(enum.IntEnum):
    Unknown = 0
    Manual = 1
    Email = 2
    Web = 3
    Phone = 4
    Chat = 5
    SMS = 6
    Facebook = 7
    Twitter = 8


class Direction(enum.IntEnum):
    Inbound = 1  # from the customer
    Outbound = 2  # from a user (associate)


# --------------------------------------------------------------------------- errors
class EngineError(Exception):
    """Base of all typed engine errors. ``kind`` is a stable, protocol-neutral error name."""

    kind = "EngineError"


class UnknownPanel(EngineError):
    kind = "UnknownPanel"

    def __init__(self, value: object):
        super().__init__(f"Unknown StatusScreenPanelType: {value!r}")
        self.value = value


class NotFound(EngineError):
    kind = "NotFound"


class ValidationError(EngineError):
    kind = "ValidationError"


class StoreUnavailable(EngineError):
    kind = "StoreUnavailable"


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class DataValue:
    label: str
    value: float
    description: str = ""

    def as_dict(self) -> dict:
        return {"Label": self.label, "Value": self.value, "Description": self.description}


@dataclass(frozen=True)
class DataSet:
    label: str
    values: tuple[DataValue, ...] = ()
    description: str = ""
    panel: StatusScreenPanelType = StatusScreenPanelType.None_

    def as_dict(self) -> dict:
        """The REST twin's / ``services87 stats`` JSON shape (without Carrier fields)."""
        return {
            "Label": self.label,
            "Values": [v.as_dict() for v in self.values],
            "Description": self.description,
        }

    @property
    def total(self) -> float:
        return sum(v.value for v in self.values)


@dataclass(frozen=True)
class User:
    id: int
    login: str
    full_name: str
    email: str = ""
    time_zone: str | None = None
    language: str | None = None
    active: bool = True
    uuid: str = ""
    group_ids: tuple[int, ...] = ()
    primary_group_id: int | None = None


@dataclass(frozen=True)
class StatContext:
    """Who asks, in which time zone and language, at what moment."""

    user: User | None = None
    time_zone: str | None = None
    language: str | None = None
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
