"""Every header and every application-error path (Succeeded=false + ExceptionInfo)."""

from __future__ import annotations

import time

import jwt
import pytest

from tests.soap.conftest import TOKEN_SECRET, as_json, cli_stats, login, our_client, vendor_client
from tests.support import PG_ADMIN_URL


def stats(server, ticket=None, panels=("OpenRequestsPerStatus",), **headers):
    if ticket is not None:
        headers["Credentials"] = {"Ticket": ticket}
    return our_client(server, "CustomerService").GetStatistics(
        Functions={"StatusScreenPanelType": list(panels)}, _soapheaders=headers)


def assert_error(r, kind):
    assert r.header.Succeeded is False
    info = r.header.ExceptionInfo
    assert info.ExceptionType == kind, info
    assert info.Message and info.FriendlyText


# --------------------------------------------------------------------------- CustomerService errors
def test_no_ticket(server):
    r = stats(server)
    assert_error(r, "NoTicket")
    assert r.body.Response is None


def test_invalid_ticket(server):
    assert_error(stats(server, "7T:not-a-real-ticket"), "InvalidTicket")


def test_unknown_panel(server):
    r = stats(server, login(server), panels=("Hotlist", "NoSuchPanel"))
    assert_error(r, "UnknownPanel")
    assert "NoSuchPanel" in r.header.ExceptionInfo.Message


def test_expired_ticket(online_server):
    ticket = login(online_server, headers={"ApplicationToken": "good-app-token"})
    ok = stats(online_server, ticket, ApplicationToken="good-app-token")
    assert ok.header.Succeeded is True
    time.sleep(3.2)  # ticket_lifetime = 3
    assert_error(stats(online_server, ticket, ApplicationToken="good-app-token"), "ExpiredTicket")


def test_online_mode_requires_application_token(online_server):
    ticket = login(online_server, headers={"ApplicationToken": "good-app-token"})
    assert_error(stats(online_server, ticket), "MissingApplicationToken")
    assert_error(stats(online_server, ticket, ApplicationToken="wrong"), "InvalidApplicationToken")
    assert stats(online_server, ticket, ApplicationToken="good-app-token").header.Succeeded is True


def test_onsite_mode_ignores_application_token(server):
    ticket = login(server)
    assert stats(server, ticket, ApplicationToken="whatever").header.Succeeded is True
    assert stats(server, ticket).header.Succeeded is True


# --------------------------------------------------------------------------- TimeZone header
def test_time_zone_header_changes_buckets_and_is_echoed(server):
    ticket = login(server)
    panels = ("NumberOfCreatedRequestsPerDay",)
    for header, zone, want_id, want_code in [
        ({"SoTimeZoneLocationCode": "US-NY"}, "America/New_York", 460, "US-NY"),
        ({"SoTimeZoneId": 433}, "Pacific/Honolulu", 433, "US-HI"),
        ({"SoTimeZoneLocationCode": "Asia/Tokyo"}, "Asia/Tokyo", None, "Asia/Tokyo"),
        ({"SoTimeZoneLocationCode": "no"}, "Europe/Oslo", 261, "no"),
    ]:
        r = stats(server, ticket, panels, TimeZone=header)
        assert r.header.Succeeded is True
        assert r.header.TimeZone.SoTimeZoneId == want_id
        assert r.header.TimeZone.SoTimeZoneLocationCode == want_code
        assert as_json(r.body.Response) == cli_stats(server, *panels, "--user", "demo", "--tz", zone)


def test_no_time_zone_header_echoes_the_users_zone(server):
    r = stats(server, login(server, "ingrid"))
    assert r.header.TimeZone.SoTimeZoneLocationCode == "America/New_York"
    assert r.header.TimeZone.SoTimeZoneId == 460


def test_unknown_time_zone(server):
    r = stats(server, login(server), TimeZone={"SoTimeZoneLocationCode": "Mars/Olympus"})
    assert_error(r, "UnknownTimeZone")
    assert_error(stats(server, login(server), TimeZone={"SoTimeZoneId": 99999}), "UnknownTimeZone")


# --------------------------------------------------------------------------- SoPrincipal
def test_password_login_fills_the_principal(server):
    r = our_client(server, "SoPrincipal").AuthenticateUsernamePassword(UserName="bjorn", Password="bjorn")
    p = r.body.Response
    assert r.body.AuthenticationSucceeded is True and r.header.Succeeded is True
    assert (p.Associate, p.FullName, p.UserType) == ("bjorn", "Björn Berg", "InternalAssociate")
    assert p.AssociateId > 0 and p.GroupId > 0 and p.EMailAddress
    assert p.SecondaryGroups["int"] and p.GroupId not in p.SecondaryGroups["int"]


def test_wrong_password(server):
    r = our_client(server, "SoPrincipal").AuthenticateUsernamePassword(UserName="demo", Password="nope")
    assert r.body.AuthenticationSucceeded is False and r.body.Credentials is None
    assert_error(r, "InvalidCredentials")


def test_generic_username_password_and_ticket(server):
    sp = vendor_client(server, "SoPrincipal")
    data = {"AuthenticationGenericDataKeyValuePair": [{"Key": "Username", "Value": "anna"},
                                                      {"Key": "Password", "Value": "anna"}]}
    r = sp.AuthenticateGeneric(AuthenticationData=data)
    assert r.body.AuthenticationSucceeded is True and r.body.Response.Associate == "anna"
    ticket = r.body.Credentials.Ticket
    r2 = sp.AuthenticateGeneric(AuthenticationData={"AuthenticationGenericDataKeyValuePair": [
        {"Key": "Ticket", "Value": ticket}]})
    assert r2.body.AuthenticationSucceeded is True and r2.body.Credentials.Ticket == ticket
    r3 = sp.AuthenticateGeneric(AuthenticationData={"AuthenticationGenericDataKeyValuePair": [
        {"Key": "Colour", "Value": "blue"}]})
    assert r3.body.AuthenticationSucceeded is False
    assert_error(r3, "InvalidCredentials")


def _bearer(login_id: int, lifetime: int = 600) -> str:
    now = int(time.time())
    return jwt.encode({"sub": str(login_id), "iat": now, "exp": now + lifetime, "jti": "t1", "iss": "services87"},
                      TOKEN_SECRET, algorithm="HS256")


def test_access_token(online_server):
    sp = our_client(online_server, "SoPrincipal")
    app = {"ApplicationToken": "good-app-token"}
    me = sp.AuthenticateUsernamePassword(UserName="demo", Password="demo", _soapheaders=app).body.Response
    r = sp.AuthenticateWithAccessToken(AccessToken=_bearer(me.AssociateId), _soapheaders=app)
    assert r.body.AuthenticationSucceeded is True and r.body.Response.Associate == "demo"
    assert stats(online_server, r.body.Credentials.Ticket, **app).header.Succeeded is True
    # the same token through AuthenticateGeneric
    g = sp.AuthenticateGeneric(AuthenticationData={"AuthenticationGenericDataKeyValuePair": [
        {"Key": "AccessToken", "Value": _bearer(me.AssociateId)}]}, _soapheaders=app)
    assert g.body.AuthenticationSucceeded is True
    bad = sp.AuthenticateWithAccessToken(AccessToken="eyJ.not.valid", _soapheaders=app)
    assert bad.body.AuthenticationSucceeded is False
    assert_error(bad, "InvalidToken")
    expired = sp.AuthenticateWithAccessToken(AccessToken=_bearer(me.AssociateId, lifetime=-10), _soapheaders=app)
    assert_error(expired, "ExpiredToken")


def test_so_principal_needs_app_token_online(online_server):
    r = our_client(online_server, "SoPrincipal").AuthenticateUsernamePassword(UserName="demo", Password="demo")
    assert r.body.AuthenticationSucceeded is False
    assert_error(r, "MissingApplicationToken")


def test_implicit_off_by_default(server):
    r = our_client(server, "SoPrincipal").AuthenticateImplicit()
    assert r.body.AuthenticationSucceeded is False
    assert_error(r, "ImplicitAuthenticationDisabled")


def test_implicit_with_trusted_header(online_server):
    sp = our_client(online_server, "SoPrincipal")
    app = {"ApplicationToken": "good-app-token"}
    with sp._client.settings(extra_http_headers={"X-Remote-User": "greta"}):
        r = sp.AuthenticateImplicit(_soapheaders=app)
    assert r.body.AuthenticationSucceeded is True and r.body.Response.Associate == "greta"
    assert_error(sp.AuthenticateImplicit(_soapheaders=app), "InvalidCredentials")  # no header


def test_get_system_info(server):
    r = our_client(server, "SoPrincipal").GetSystemInfo()
    assert r.header.Succeeded is True
    info = r.body.SystemInfo
    assert info.BranchName == "services87" and info.IsUnicode is True and info.DatabaseType == ("postgresql" if PG_ADMIN_URL else "sqlite")


@pytest.mark.parametrize("service", ["CustomerService", "SoPrincipal"])
def test_out_headers_declared_and_sent(server, service):
    """ExceptionInfo/ExtraInfo/Succeeded/TimeZone: zeep exposes exactly the declared out headers."""
    if service == "SoPrincipal":
        r = our_client(server, service).GetSystemInfo()
    else:
        r = stats(server, login(server))
    assert {"ExceptionInfo", "ExtraInfo", "Succeeded", "TimeZone"} <= set(r.header)
