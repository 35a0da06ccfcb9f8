"""Every auth scheme of the REST twin over real HTTP, bad ones, cookie sessions with XSRF, application tokens."""

from __future__ import annotations

import base64

import pytest
import requests
import zeep

from tests.rest.conftest import PATH, assert_error, bearer, stats, token

FUNCS = ["UnassignedRequests", "OwnOpenRequests"]


def soap_ticket(server, user="demo") -> str:
    principal = zeep.Client(server.base_url + "/Remote/Services87/SoPrincipal.svc?wsdl").service
    r = principal.AuthenticateUsernamePassword(UserName=user, Password=user)
    assert r.body.AuthenticationSucceeded is True
    return r.body.Credentials.Ticket


def challenges(r) -> list[str]:
    return [c.strip().split(" ")[0] for c in r.raw.headers.getlist("WWW-Authenticate")]


@pytest.fixture(scope="module")
def expected(rest_server):
    return stats(rest_server, FUNCS).json()


# --------------------------------------------------------------------------- the three schemes
def test_basic(rest_server, expected):
    r = stats(rest_server, FUNCS, auth=("demo", "demo"))
    assert r.status_code == 200 and r.json() == expected
    # Non-ASCII passwords travel as UTF-8; a user with another login sees their own OwnOpenRequests.
    other = stats(rest_server, FUNCS, auth=("anna", "anna"))
    assert other.status_code == 200 and other.json()[1] != expected[1]


def test_soticket_from_soprincipal(rest_server, expected):
    ticket = soap_ticket(rest_server)
    r = stats(rest_server, FUNCS, auth=None, headers={"Authorization": "SoTicket " + ticket})
    assert r.status_code == 200 and r.json() == expected
    r = stats(rest_server, FUNCS, auth=None, headers={"Authorization": "soticket   " + ticket})  # scheme case
    assert r.status_code == 200


def test_bearer_from_the_token_endpoint(rest_server, expected):
    access = token(rest_server).json()["access_token"]
    r = stats(rest_server, FUNCS, auth=None, headers={"Authorization": "Bearer " + access})
    assert r.status_code == 200 and r.json() == expected
    who = requests.get(rest_server.base_url + "/api/v1/session", headers={"Authorization": "Bearer " + access},
                       timeout=30)
    assert who.json() == {"UserName": "demo", "FullName": "Dana Demo", "Scheme": "bearer"}


# --------------------------------------------------------------------------- bad credentials
def test_missing_credentials_is_401_listing_the_schemes(rest_server):
    r = stats(rest_server, FUNCS, auth=None)
    assert_error(r, 401, "MissingCredentials")
    assert challenges(r) == ["Basic", "SoTicket", "Bearer"]


@pytest.mark.parametrize("header,kind", [
    ("Basic " + base64.b64encode(b"demo:wrong").decode(), "InvalidCredentials"),
    ("Basic " + base64.b64encode(b"nobody:nobody").decode(), "InvalidCredentials"),
    ("Basic !!!not-base64!!!", "InvalidCredentials"),
    ("Basic " + base64.b64encode(b"no-colon").decode(), "InvalidCredentials"),
    ("SoTicket 7T:forged", "InvalidTicket"),
    ("SoTicket", "InvalidCredentials"),
    ("Bearer not.a.jwt", "InvalidToken"),
    ("Bearer", "InvalidCredentials"),
    ("Digest username=demo", "UnsupportedScheme"),
    ("", "InvalidCredentials"),
])
def test_bad_credentials_are_401(rest_server, header, kind):
    r = stats(rest_server, FUNCS, auth=None, headers={"Authorization": header})
    assert_error(r, 401, kind)
    assert "Basic" in challenges(r)


def test_bad_bearer_gets_the_rfc6750_challenge(rest_server):
    good = bearer(rest_server)
    tampered = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    r = stats(rest_server, FUNCS, auth=None, headers={"Authorization": "Bearer " + tampered})
    assert_error(r, 401, "InvalidToken")
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]


def test_revoked_ticket_is_401(rest_server):
    """A ticket ends with its session: log in through a session, log out, the session is refused."""
    s = requests.Session()
    r = s.post(rest_server.base_url + "/api/v1/session", json={"UserName": "demo", "Password": "demo"}, timeout=30)
    xsrf = r.json()["XsrfToken"]
    ok = s.post(rest_server.base_url + PATH, json={"Functions": FUNCS}, headers={"X-XSRF-TOKEN": xsrf}, timeout=30)
    assert ok.status_code == 200
    sid = s.cookies["services87-session"]
    assert s.delete(rest_server.base_url + "/api/v1/session", headers={"X-XSRF-TOKEN": xsrf},
                    timeout=30).status_code == 204
    assert "services87-session" not in s.cookies  # expired by the server
    again = requests.post(rest_server.base_url + PATH, json={"Functions": FUNCS}, timeout=30,
                          cookies={"services87-session": sid, "XSRF-TOKEN": xsrf}, headers={"X-XSRF-TOKEN": xsrf})
    assert_error(again, 401, "InvalidSession")


# --------------------------------------------------------------------------- sessions + XSRF
@pytest.fixture
def session(rest_server):
    s = requests.Session()
    r = s.post(rest_server.base_url + "/api/v1/session", data={"username": "demo", "password": "demo"}, timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["UserName"] == "demo" and body["XsrfToken"] == s.cookies["XSRF-TOKEN"]
    sid, xsrf = sorted(r.raw.headers.getlist("Set-Cookie"), key=lambda c: not c.startswith("services87-session"))
    assert "; HttpOnly" in sid and "samesite=lax" in sid.lower() and "Path=/" in sid
    assert xsrf.startswith("XSRF-TOKEN=") and "HttpOnly" not in xsrf  # the page's script must read it
    return s


def test_session_cookie_with_xsrf_header(rest_server, session, expected):
    r = session.post(rest_server.base_url + PATH, json={"Functions": FUNCS},
                     headers={"X-XSRF-TOKEN": session.cookies["XSRF-TOKEN"]}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json() == expected
    who = session.get(rest_server.base_url + "/api/v1/session", timeout=30)  # safe method: no XSRF header needed
    assert who.json()["Scheme"] == "session"


def test_session_cookie_without_xsrf_header_is_403(rest_server, session):
    r = session.post(rest_server.base_url + PATH, json={"Functions": FUNCS}, timeout=30)
    assert_error(r, 403, "XsrfTokenMissing")
    r = session.post(rest_server.base_url + PATH, json={"Functions": FUNCS}, headers={"X-XSRF-TOKEN": "guess"},
                     timeout=30)
    assert_error(r, 403, "XsrfTokenMismatch")
    # The cookie copy alone (what a cross-site form would send) is not enough either.
    assert_error(session.delete(rest_server.base_url + "/api/v1/session", timeout=30), 403, "XsrfTokenMissing")


def test_unknown_session_cookie_is_401(rest_server):
    r = requests.post(rest_server.base_url + PATH, json={"Functions": FUNCS}, timeout=30,
                      cookies={"services87-session": "made-up"}, headers={"X-XSRF-TOKEN": "made-up"})
    assert_error(r, 401, "InvalidSession")


def test_session_login_variants(rest_server):
    url = rest_server.base_url + "/api/v1/session"
    r = requests.post(url, json={"UserName": "demo", "Password": "wrong"}, timeout=30)
    assert_error(r, 401, "InvalidCredentials")
    assert_error(requests.post(url, json={"UserName": "demo"}, timeout=30), 400, "MalformedRequest")
    assert_error(requests.post(url, timeout=30), 400, "MalformedRequest")
    # An Authorization header can be exchanged for a session too.
    r = requests.post(url, headers={"Authorization": "Bearer " + bearer(rest_server)}, timeout=30)
    assert r.status_code == 200 and r.json()["UserName"] == "demo" and "XSRF-TOKEN" in r.cookies
    assert requests.delete(url, timeout=30).status_code == 204  # no session: logging out is a no-op


# --------------------------------------------------------------------------- SO-AppToken (online installations)
def test_app_token_checked_online(online_server):
    headers = {"Authorization": "Bearer " + bearer(online_server)}
    assert_error(stats(online_server, FUNCS, auth=None, headers=headers), 403, "MissingApplicationToken")
    assert_error(stats(online_server, FUNCS, auth=None, headers=dict(headers, **{"SO-AppToken": "bad"})), 403,
                 "InvalidApplicationToken")
    r = stats(online_server, FUNCS, auth=None, headers=dict(headers, **{"SO-AppToken": "good-app-token"}))
    assert r.status_code == 200, r.text


def test_app_token_ignored_onsite(rest_server):
    assert stats(rest_server, FUNCS, headers={"SO-AppToken": "anything"}).status_code == 200


# --------------------------------------------------------------------------- throttling
def test_failed_logins_are_throttled(online_server):
    """Ten failures from one address lock password log-ins there (the online server's bearer token for the other
    tests was fetched when it started, so they do not depend on running before this one)."""
    app = {"SO-AppToken": "good-app-token"}
    codes = [stats(online_server, FUNCS, auth=("eva", f"wrong{i}"), headers=app).status_code for i in range(11)]
    assert codes[:10] == [401] * 10 and codes[10] == 429
    r = stats(online_server, FUNCS, auth=("eva", "eva"), headers=app)  # even the right password, for a while
    assert_error(r, 429, "TooManyAttempts")
    assert r.headers["Retry-After"] == "300"
    assert stats(online_server, FUNCS, headers=app).status_code == 200  # bearer tokens are not affected
