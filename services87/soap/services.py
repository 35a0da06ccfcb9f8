"""Spyne services: ``CustomerService.GetStatistics`` and the five ``SoPrincipal`` operations.

Service methods run on the reactor thread and only unpack the request; all blocking work (ticket
validation, application-token check, password hashing, the engine) runs in one hop through
``hs.run_blocking``. The method returns that Deferred; Spyne's Twisted transport serializes its result.

Application errors are answered the NetServer way: ``Succeeded=false`` and a filled ``ExceptionInfo``
out header (``ExceptionType`` = our stable error kind, e.g. ``InvalidTicket``, ``UnknownPanel``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from spyne import Application, ServiceBase, Unicode, rpc
from spyne.protocol.soap import Soap11, Soap12

from services87 import __version__
from services87.auth.service import AuthError
from services87.engine.model import EngineError, StatContext
from services87.engine.timebuckets import UnknownTimeZone
from services87.soap import models as m
from services87.soap import timezones

if TYPE_CHECKING:
    from services87.server import Services87Server

#: Vendor operation names, for the endpoint's "not implemented" answer (see docs/soap.md).
IMPLEMENTED = {"CustomerService": {"GetStatistics"},
               "SoPrincipal": {"GetSystemInfo", "AuthenticateImplicit", "AuthenticateUsernamePassword",
                               "AuthenticateGeneric", "AuthenticateWithAccessToken"}}


@dataclass
class Outcome:
    """What the worker thread hands back: a value or an application error, plus the zone to echo."""

    value: Any = None
    error: tuple[str, str] | None = None  # (kind, message)
    time_zone: Any = None  # m.SoTimeZone to echo, or None
    extra: dict = field(default_factory=dict)


def _hs(ctx):
    return ctx.app.services87


def _headers(ctx, n: int) -> list:
    h = ctx.in_header
    if h is None:
        return [None] * n
    if not isinstance(h, (list, tuple)):
        h = [h]
    return list(h) + [None] * (n - len(h))


def _exception_info(kind: str, message: str) -> m.SoExceptionInfo:
    return m.SoExceptionInfo(Message=message, FriendlyText=message, ExceptionType=kind, Source="services87")


def _finish(ctx, outcome: Outcome, failed_value=None):
    """Set the four out headers from ``outcome``; return the body value."""
    extra = None
    if outcome.extra:
        extra = m.SoExtraInfo(ExtraInfoNameValuePair=[
            m.ExtraInfoNameValuePair(Key=k, Value=str(v)) for k, v in outcome.extra.items()])
    if outcome.error:
        ctx.out_header = (_exception_info(*outcome.error), extra, False, outcome.time_zone)
        return failed_value
    ctx.out_header = (None, extra, True, outcome.time_zone)
    return outcome.value


def _peer(ctx) -> str:
    try:
        return ctx.transport.req.getClientAddress().host or ""
    except Exception:  # pragma: no cover - non-TCP transports
        return ""


# --------------------------------------------------------------------------- CustomerService
def statistics_outcome(hs: Services87Server, principal, tz_header, functions, now,
                       version: int | None = None) -> Outcome:
    """GetStatistics for an authenticated caller: ``value`` = the engine's answer; the zone to echo.
    ``version``: the data version the caller has just read on this thread (:meth:`StatisticsEngine.compute`)."""
    outcome = _outcome(hs, principal, tz_header, functions, now,
                       lambda ctx, panels: hs.get_engine().compute(ctx, panels, version=version))
    assert outcome is not None  # (compute always answers)
    return outcome


def cached_statistics_outcome(hs: Services87Server, principal, tz_header, functions, now,
                              version: int) -> Outcome | None:
    """:func:`statistics_outcome` from the engine's cache alone (:meth:`StatisticsEngine.cached`: nothing read
    from the store, so safe on the reactor thread at a ``version`` known to be current there), or ``None``
    when the cache cannot answer or the answer is an error (the caller then takes its normal path)."""
    outcome = _outcome(hs, principal, tz_header, functions, now,
                       lambda ctx, panels: hs.get_engine().cached(ctx, panels, version))
    return None if outcome is None or outcome.error is not None else outcome


def _outcome(hs: Services87Server, principal, tz_header, functions, now, answer) -> Outcome | None:
    zone = None
    try:
        if tz_header is not None:
            zone = timezones.zone_for(tz_header.SoTimeZoneLocationCode, tz_header.SoTimeZoneId)
        ctx = StatContext(user=principal.user, time_zone=zone, language=None, now=now)
        found = answer(ctx, list(functions or ()))
    except (AuthError, EngineError) as exc:
        kind = getattr(exc, "kind", type(exc).__name__)
        echo = None
        if tz_header is not None and zone is not None:
            echo = _echo(tz_header)
        elif not isinstance(exc, UnknownTimeZone):  # the zone is fine: the error is elsewhere (a panel)
            echo = _effective_echo(hs.get_engine().time_zone_name(StatContext(user=principal.user, time_zone=zone)))
        return Outcome(error=(kind, getattr(exc, "message", None) or str(exc)), time_zone=echo)
    if found is None:
        return None
    echo = _echo(tz_header) if tz_header is not None and zone is not None else _effective_echo(found.zone)
    return Outcome(value=found, time_zone=echo)


def _echo(tz_header) -> m.SoTimeZone:
    return _echo_of(tz_header.SoTimeZoneId, tz_header.SoTimeZoneLocationCode)


# The echoed zone is made once per zone: Spyne only reads an out header, and the fast serializer its two fields.
@lru_cache(maxsize=1024)
def _echo_of(zone_id, location_code) -> m.SoTimeZone:
    return m.SoTimeZone(SoTimeZoneId=zone_id or timezones.id_for(location_code),
                        SoTimeZoneLocationCode=location_code or timezones.TIME_ZONE_IDS.get(zone_id))


@lru_cache(maxsize=1024)
def _effective_echo(effective: str) -> m.SoTimeZone:
    return m.SoTimeZone(SoTimeZoneId=timezones.id_for(effective), SoTimeZoneLocationCode=effective)


def _statistics_worker(hs: Services87Server, app_token, ticket, tz_header, functions, now) -> Outcome:
    try:
        hs.get_auth().check_application_token(app_token)
        principal = hs.get_auth().validate_ticket(ticket)
    except (AuthError, EngineError) as exc:
        kind = getattr(exc, "kind", type(exc).__name__)
        return Outcome(error=(kind, getattr(exc, "message", None) or str(exc)))
    outcome = statistics_outcome(hs, principal, tz_header, functions, now)
    if outcome.error is None:
        outcome.value = [m.StatisticsDataSet(
            Label=s.label, Description=s.description,
            Values=[m.StatisticsDataValue(Label=v.label, Value=float(v.value), Description=v.description)
                    for v in s.values]) for s in outcome.value]
    return outcome


class CustomerService(ServiceBase):
    __service_name__ = "CustomerService"
    __port_types__ = ("CustomerService",)
    __in_header__ = m.IN_HEADERS_CUSTOMER_SERVICE
    __out_header__ = m.OUT_HEADERS

    @rpc(m.ArrayOfStatusScreenPanelType, _in_variable_names={"functions": "Functions"},
         _in_message_name="GetStatistics", _returns=m.ArrayOfStatisticsDataSet,
         _out_variable_name="Response", _out_message_name="GetStatisticsResponse")
    def GetStatistics(ctx, functions):
        app_token, credentials, tz_header = _headers(ctx, 3)
        ticket = credentials.Ticket if credentials is not None else None
        hs = _hs(ctx)
        d = hs.run_blocking(_statistics_worker, hs, app_token, ticket, tz_header, functions,
                            datetime.now(UTC))
        return d.addCallback(lambda outcome: _finish(ctx, outcome))


# --------------------------------------------------------------------------- SoPrincipal
def principal_carrier(user) -> m.SoPrincipalCarrier:
    primary = user.primary_group_id if user.primary_group_id is not None else (
        user.group_ids[0] if user.group_ids else 0)
    return m.SoPrincipalCarrier(
        UserType="InternalAssociate", Associate=user.login, AssociateId=user.id, IsPerson=False,
        PersonId=0, CountryId=0, HomeCountryId=0, ContactId=0, GroupId=primary, BusinessId=0, CategoryId=0,
        ContactOwner=0, RoleId=0, RoleName="", RoleDescription="", RoleType="Employee", Licenses=[],
        FullName=user.full_name, EMailAddress=user.email or "", FunctionRights=[], EjUserId=0,
        EjAccessLevel=0, EjUserStatus="StatusNormal", ProvidedCredentials=[],
        SecondaryGroups=[g for g in user.group_ids if g != primary], DatabaseContextIdentifier="")


def _generic_pairs(data) -> dict[str, str]:
    pairs = {}
    for kv in (getattr(data, "AuthenticationGenericDataKeyValuePair", None) or ()):
        if kv is not None and kv.Key:
            pairs[kv.Key.strip().lower()] = kv.Value
    return pairs


def _authenticate_worker(hs: Services87Server, app_token, how: str, args: dict) -> Outcome:
    """Log a user in; ``how`` = password | token | generic | implicit."""
    try:
        hs.get_auth().check_application_token(app_token)
        ticket = None
        if how == "generic":
            pairs = args["pairs"]
            if "username" in pairs or "password" in pairs:
                how, args = "password", {"login": pairs.get("username"), "password": pairs.get("password"),
                                         "address": args["address"]}
            elif "accesstoken" in pairs:
                how, args = "token", {"token": pairs.get("accesstoken")}
            elif "ticket" in pairs:
                principal = hs.get_auth().validate_ticket(pairs.get("ticket"))
                user, ticket = principal.user, principal.ticket
            else:
                raise AuthError("InvalidCredentials",
                                "AuthenticationData needs Username+Password, AccessToken or Ticket")
        if how == "password":
            user = hs.get_auth().authenticate_password(args["login"], args["password"], args["address"])
        elif how == "token":
            user = hs.get_auth().validate_access_token(args["token"]).user
        elif how == "implicit":
            user = hs.get_auth().authenticate_implicit(args["headers"])
        if ticket is None:
            ticket = hs.get_auth().issue_ticket(user)
    except (AuthError, EngineError) as exc:
        kind = getattr(exc, "kind", type(exc).__name__)
        return Outcome(value=m.AuthenticateResponse(AuthenticationSucceeded=False),
                       error=(kind, getattr(exc, "message", None) or str(exc)))
    return Outcome(value=m.AuthenticateResponse(Response=principal_carrier(user),
                                                Credentials=m.SoCredentials(Ticket=ticket),
                                                AuthenticationSucceeded=True))


def _system_info_worker(hs: Services87Server, app_token) -> Outcome:
    try:
        hs.get_auth().check_application_token(app_token)
    except AuthError as exc:
        return Outcome(error=(exc.kind, exc.message))
    dialect = getattr(getattr(hs.get_store(), "engine", None), "dialect", None)
    return Outcome(value=m.SoSystemInfoCarrier(
        BranchName="services87", BuildLabel=__version__, AssemblyVersion=__version__, FileVersion=__version__,
        Description="services87 customer-service statistics server (Services87 compatible)",
        DaysUntilNetServerExpiry=0, BuildType="Release", DatabaseVersion=0, IsUnicode=True,
        CompanyName="", CompanyId=0, DatabaseType=getattr(dialect, "name", "") or "", DatabaseMinor="",
        DatabaseName="services87", IsOnTravel=False, IsSatellite=False))


_AUTH = dict(_returns=m.AuthenticateResponse, _body_style="out_bare", _out_message_name="AuthenticateResponse")


def _authenticate(ctx, how: str, args: dict):
    (app_token,) = _headers(ctx, 1)
    hs = _hs(ctx)
    d = hs.run_blocking(_authenticate_worker, hs, app_token, how, args)
    return d.addCallback(lambda outcome: _finish(ctx, outcome, outcome.value))


class SoPrincipal(ServiceBase):
    __service_name__ = "SoPrincipal"
    __port_types__ = ("SoPrincipal",)
    __in_header__ = m.IN_HEADERS_SO_PRINCIPAL
    __out_header__ = m.OUT_HEADERS

    @rpc(_in_message_name="GetSystemInfo", _returns=m.SoSystemInfoCarrier, _out_variable_name="SystemInfo",
         _out_message_name="GetSystemInfoResponse")
    def GetSystemInfo(ctx):
        (app_token,) = _headers(ctx, 1)
        hs = _hs(ctx)
        return hs.run_blocking(_system_info_worker, hs, app_token).addCallback(
            lambda outcome: _finish(ctx, outcome))

    @rpc(_in_message_name="AuthenticateImplicit", **_AUTH)
    def AuthenticateImplicit(ctx):
        req = ctx.transport.req
        headers = {}
        for name, values in req.requestHeaders.getAllRawHeaders():
            headers[name.decode("latin-1").lower()] = values[0].decode("latin-1") if values else ""
        return _authenticate(ctx, "implicit", {"headers": headers})

    @rpc(Unicode, Unicode, _in_variable_names={"user_name": "UserName", "password": "Password"},
         _in_message_name="AuthenticateUsernamePassword", **_AUTH)
    def AuthenticateUsernamePassword(ctx, user_name, password):
        return _authenticate(ctx, "password", {"login": user_name, "password": password, "address": _peer(ctx)})

    @rpc(m.AuthenticationGenericData, _in_variable_names={"data": "AuthenticationData"},
         _in_message_name="AuthenticateGeneric", **_AUTH)
    def AuthenticateGeneric(ctx, data):
        return _authenticate(ctx, "generic", {"pairs": _generic_pairs(data), "address": _peer(ctx)})

    @rpc(Unicode, _in_variable_names={"token": "AccessToken"}, _in_message_name="AuthenticateWithAccessToken",
         **_AUTH)
    def AuthenticateWithAccessToken(ctx, token):
        return _authenticate(ctx, "token", {"token": token})


SERVICES = {"CustomerService": CustomerService, "SoPrincipal": SoPrincipal}


def build_application(hs: Services87Server, service: str, version: str) -> Application:
    """One Spyne Application per service and SOAP version (Spyne binds one protocol per application)."""
    proto = Soap11 if version == "1.1" else Soap12
    app = Application([SERVICES[service]], m.TNS, name=service,
                      in_protocol=proto(validator=None), out_protocol=proto())
    app.services87 = hs
    return app
