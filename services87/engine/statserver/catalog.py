"""Pre-configured statistics: the Genesys names (definitions as Genesys ships them) and every panel.

The queue model: a Queue object has its calls (``Current_In_Queue``, ``LongestWaitTime``, ``EnteredCalls``,
``AnsweredCalls``, ``AbandonedCalls``, ``MissedCalls``, ``ServiceLevel``, ``AverageWaitTime``, and
``InboundCalls``/``AverageHandlingTime`` over the calls its agents answered) and its agent group's agents
(``CurrentReadyAgents``, ``CurrentNotReadyAgents``, ``CurrentLoggedInAgents``); see
:meth:`services87.engine.storage.live.LiveStore.resolve` for how a queue finds its agent group.

Every :class:`~services87.engine.model.StatusScreenPanelType` name is a statistic too: its value is the
panel's DataSet (``StatisticsEngine.compute``) as JSON, for objectType ``Tenant`` (or ``Agent`` for the panels that
depend on who asks).
"""

from __future__ import annotations

from functools import lru_cache

from services87.engine.engine import USER_SCOPED
from services87.engine.model import ALL_PANELS, StatusScreenPanelType
from services87.engine.statserver.definitions import (
    InvalidObjectType,
    StatDefinition,
    UnknownStatistic,
    parse_definition,
)

CALL_STATUSES = "CallUnknown,CallConsult,CallInternal,CallOutbound,CallInbound"

#: name -> raw definition (parsed with :func:`parse_definition`, so the same leniency applies).
GENESYS = {
    "CurrentAgentState": {"objectTypes": "Agent,Place,GroupAgents,GroupPlaces,Tenant", "category": "CurrentState",
                          "subject": "DNAction", "mainMask": "*", "notificationMode": "Immediate"},
    "TimeInCurrentState": {"objectTypes": "Agent,Place", "category": "CurrentTime", "subject": "DNStatus",
                           "mainMask": "*", "notificationMode": "Periodical", "notificationFrequency": 5,
                           "insensitivity": 1},
    "ReadyDuration": {"objectTypes": "Agent,Place,GroupAgents,GroupPlaces,Tenant", "category": "TotalAdjustedTime",
                      "subject": "DNStatus", "mainMask": "WaitForNextCall", "intervalType": "GrowingWindow",
                      "notificationMode": "Immediate", "notificationFrequency": 10},
    "NotReadyDuration": {"objectTypes": "Agent,Place,GroupAgents,GroupPlaces,Tenant", "category": "TotalAdjustedTime",
                         "subject": "AgentStatus", "mainMask": "NotReadyForNextCall", "intervalType": "GrowingWindow",
                         "notificationMode": "Immediate"},
    "WrapDuration": {"objectTypes": "Agent,Place,GroupAgents,GroupPlaces,Tenant", "category": "TotalAdjustedTime",
                     "subject": "AgentStatus", "mainMask": "AfterCallWork", "relMask": "AfterCallWork",
                     "intervalType": "GrowingWindow", "notificationMode": "Periodical", "notificationFrequency": 10},
    "LoginDuration": {"objectTypes": "Agent,Place,GroupAgents,GroupPlaces,Tenant", "category": "TotalTime",
                      "subject": "AgentStatus", "mainMask": "*,~LoggedOut,~NotMonitored",
                      "intervalType": "GrowingWindow", "notificationMode": "Immediate"},
    "AverageHandlingTime": {"objectTypes": "Agent,Place,GroupAgents,GroupPlaces,Queue,Tenant",
                            "category": "AverageTime", "subject": "DNAction",
                            "mainMask": CALL_STATUSES + ",AfterCallWork",
                            "relMask": CALL_STATUSES, "intervalType": "GrowingWindow", "notificationMode": "Immediate"},
    "InboundCalls": {"objectTypes": "Agent,Place,GroupAgents,GroupPlaces,Queue,Tenant", "category": "TotalNumber",
                     "subject": "DNAction", "mainMask": "CallInbound", "intervalType": "GrowingWindow",
                     "notificationMode": "Immediate"},
    "MissedCalls": {"objectTypes": "Agent,Place,GroupAgents,Queue,Tenant", "category": "TotalNumber",
                    "subject": "DNAction", "mainMask": "CallAbandoned", "intervalType": "SlidingWindow",
                    "dynamicTimeProfile": "3600:10", "notificationMode": "Immediate"},
    "CurrentReadyAgents": {"objectTypes": "GroupAgents,GroupPlaces,Queue,Tenant", "category": "CurrentNumber",
                           "subject": "DNStatus", "mainMask": "WaitForNextCall", "insensitivity": 0,
                           "notificationMode": "Immediate"},
    "CurrentNotReadyAgents": {"objectTypes": "GroupAgents,GroupPlaces,Queue,Tenant", "category": "CurrentNumber",
                              "subject": "AgentStatus", "mainMask": "NotReadyForNextCall",
                              "notificationMode": "Immediate"},
    "CurrentLoggedInAgents": {"objectTypes": "GroupAgents,GroupPlaces,Queue,Tenant", "category": "CurrentNumber",
                              "subject": "AgentStatus", "mainMask": "*,~LoggedOut,~NotMonitored",
                              "notificationMode": "Immediate"},
    "Current_In_Queue": {"objectTypes": "Queue,Tenant", "category": "CurrentNumber", "subject": "DNAction",
                         "mainMask": "CallWait", "notificationMode": "Periodical", "notificationFrequency": 5},
    "LongestWaitTime": {"objectTypes": "Queue,Tenant", "category": "CurrentTime", "subject": "DNAction",
                        "mainMask": "CallWait", "notificationMode": "Periodical", "notificationFrequency": 5},
    "ServiceLevel": {"objectTypes": "Queue,Tenant", "category": "ServiceFactor1", "subject": "DNAction",
                     "timeRangeRight": 120, "intervalType": "SlidingWindow", "dynamicTimeProfile": "3600:10",
                     "notificationMode": "Periodical", "notificationFrequency": 10},
    "AbandonedCalls": {"objectTypes": "Queue,Tenant", "category": "TotalNumber", "subject": "DNAction",
                       "mainMask": "CallAbandoned", "intervalType": "GrowingWindow", "notificationMode": "Immediate"},
    "EnteredCalls": {"objectTypes": "Queue,Tenant", "category": "TotalNumber", "subject": "DNAction",
                     "mainMask": "CallEntered", "intervalType": "GrowingWindow", "notificationMode": "Immediate"},
    "AnsweredCalls": {"objectTypes": "Queue,Tenant", "category": "TotalNumber", "subject": "DNAction",
                      "mainMask": "CallAnswered", "intervalType": "GrowingWindow", "notificationMode": "Immediate"},
    "AverageWaitTime": {"objectTypes": "Queue,Tenant", "category": "AverageTime", "subject": "DNAction",
                        "mainMask": "CallWait", "relMask": "CallWait", "intervalType": "GrowingWindow",
                        "notificationMode": "Immediate"},
}

_PANELS = {p.wire_name.lower(): p for p in ALL_PANELS if p is not StatusScreenPanelType.None_}
_GENESYS_LOWER = {k.lower(): k for k in GENESYS}


def names() -> list[str]:
    return sorted(GENESYS) + [p.wire_name for p in ALL_PANELS if p is not StatusScreenPanelType.None_]


def lookup(name: object, default_reset: str = "00:00") -> StatDefinition:
    """The definition of a pre-configured statistic (case-insensitive name); :class:`UnknownStatistic` if none."""
    if not isinstance(name, str) or not name.strip():
        raise UnknownStatistic(f"unknown statistic {name!r}")
    key = name.strip().lower()
    if key in _GENESYS_LOWER:
        return _genesys_definition(_GENESYS_LOWER[key], default_reset)
    panel = _PANELS.get(key)
    if panel is not None:
        types = ("Tenant", "Agent") if panel in USER_SCOPED else ("Tenant",)
        return StatDefinition(category="CurrentState", subject="GroupStatus", object_types=types,
                              panel=panel.wire_name, name=panel.wire_name)
    raise UnknownStatistic(f"unknown statistic {name!r}; pre-configured names: {', '.join(names())}")


@lru_cache(maxsize=256)
def _genesys_definition(canon: str, default_reset: str) -> StatDefinition:
    """Parsed once per (statistic, reset time): definitions are immutable, and parsing was a tenth of a
    get-statistic-ex request's CPU time."""
    return parse_definition(GENESYS[canon], default_reset=default_reset, name=canon)


def check_object_type(defn: StatDefinition, object_type: str) -> None:
    if defn.object_types and object_type not in defn.object_types:
        raise InvalidObjectType(f"statistic {defn.name or defn.category} does not apply to objectType {object_type} "
                                f"(allowed: {', '.join(defn.object_types)})")
