"""Auth abuse against a real server (STRICT_CONFIG: tickets and tokens live 2 s, 3 failures per login name,
8 per address): expiry, revocation, throttling per user and per address, secrets never in the log.

The per-address test locks 127.0.0.1 out of password log-ins on this server for a minute, so it runs last.
"""

from __future__ import annotations

import base64
import json
import re
import time

import pytest
import requests
from lxml import etree

from tests.hostile.conftest import CT, TNS, envelope, soap_url, typed_json
from tests.support import ServerProcess, wait_until

SECRET = "Zq-9xK!correct-horse-87"
WRONG = "Wr0ng-battery-staple-87"


def soap(proc, service: str, body: str, header: str = "") -> etree._Element:
    r = requests.post(soap_url(proc, service), data=envelope("1.1", body, header).encode(),
                      headers={"content-type": CT["1.1"]}, timeout=20)
    assert r.status_code == 200, r.text
    return etree.fromstring(r.content)


def soap_login(proc, user: str, password: str) -> tuple[str | None, str | None]:
    """(ticket or None, ExceptionType or None)."""
    doc = soap(proc, "SoPrincipal", f"<t:AuthenticateUsernamePassword><t:UserName>{user}</t:UserName>"
                                    f"<t:Password>{password}</t:Password></t:AuthenticateUsernamePassword>")
    return doc.findtext(f".//{{{TNS}}}Ticket"), doc.findtext(f".//{{{TNS}}}ExceptionType")


def soap_stats(proc, ticket: str) -> str | None:
    """ExceptionType of a GetStatistics call with ``ticket`` (None = success)."""
    doc = soap(proc, "CustomerService",
               "<t:GetStatistics><t:Functions><t:StatusScreenPanelType>Hotlist</t:StatusScreenPanelType>"
               "</t:Functions></t:GetStatistics>", f"<t:Credentials><t:Ticket>{ticket}</t:Ticket></t:Credentials>")
    return doc.findtext(f".//{{{TNS}}}ExceptionType")


def token(proc, user: str, password: str) -> requests.Response:
    return requests.post(proc.base_url + "/auth/v3/oauth/token", auth=("demo-client", "demo-secret"), timeout=20,
                         data={"grant_type": "password", "username": user, "password": password})


@pytest.fixture(scope="module")
def secret_user(strict_server):
    strict_server.cli("users", "add", "zed", "--name", "Zed Secret", input=SECRET + "\n")
    return "zed"


def test_ticket_expires(strict_server, secret_user):
    ticket, err = soap_login(strict_server, secret_user, SECRET)
    assert ticket and err is None
    assert soap_stats(strict_server, ticket) is None
    time.sleep(2.3)  # ticket_lifetime = 2
    assert soap_stats(strict_server, ticket) == "ExpiredTicket"


def test_access_token_expires(strict_server, secret_user):
    r = token(strict_server, secret_user, SECRET)
    assert r.status_code == 200, r.text
    access = r.json()["access_token"]
    url = strict_server.base_url + "/api/v1/Agents/CustomerService/GetStatistics"
    body = {"Functions": ["Hotlist"]}
    ok = requests.post(url, json=body, headers={"Authorization": "Bearer " + access}, timeout=20)
    assert ok.status_code == 200, ok.text
    time.sleep(2.3)  # access_token_lifetime = 2
    r = requests.post(url, json=body, headers={"Authorization": "Bearer " + access}, timeout=20)
    assert r.status_code == 401
    assert "ExpiredToken" in r.text and "error=\"invalid_token\"" in r.headers.get("www-authenticate", "")


def test_password_change_revokes_tickets_and_refresh_tokens(strict_server):
    strict_server.cli("users", "add", "yvonne", "--name", "Yvonne", input="first-pass-1\n")
    ticket, _ = soap_login(strict_server, "yvonne", "first-pass-1")
    refresh = token(strict_server, "yvonne", "first-pass-1").json()["refresh_token"]
    assert soap_stats(strict_server, ticket) is None
    strict_server.cli("users", "passwd", "yvonne", input="second-pass-2\n")
    assert soap_stats(strict_server, ticket) == "InvalidTicket"
    r = requests.post(strict_server.base_url + "/auth/v3/oauth/token", auth=("demo-client", "demo-secret"),
                      data={"grant_type": "refresh_token", "refresh_token": refresh}, timeout=20)
    assert r.status_code in (400, 401) and "invalid_grant" in r.text
    assert soap_login(strict_server, "yvonne", "first-pass-1")[1] == "InvalidCredentials"
    assert soap_login(strict_server, "yvonne", "second-pass-2")[0]


def test_tampered_and_forged_credentials_are_refused(strict_server, secret_user):
    ticket, _ = soap_login(strict_server, secret_user, SECRET)
    assert soap_stats(strict_server, ticket[:-2] + ("AA" if not ticket.endswith("AA") else "BB")) == "InvalidTicket"
    assert soap_stats(strict_server, "7T:" + "A" * 5000) == "InvalidTicket"
    access = token(strict_server, secret_user, SECRET).json()["access_token"]
    head, payload, sig = access.split(".")
    claims = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).replace(b'"sub":"', b'"sub":"1')
    forged = ".".join([head, base64.urlsafe_b64encode(claims).decode().rstrip("="), sig])
    none_alg = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').decode().rstrip("=") + "." + payload + "."
    url = strict_server.base_url + "/api/v1/Agents/CustomerService/GetStatistics"
    for bad in (forged, none_alg, access + "x", "not-a-jwt"):
        r = requests.post(url, json={"Functions": ["Hotlist"]}, headers={"Authorization": "Bearer " + bad}, timeout=20)
        assert r.status_code == 401, (bad, r.text)
        assert typed_json(r)["ErrorType"] == "InvalidToken"


def test_failed_logins_throttled_per_user(strict_server):
    strict_server.cli("users", "add", "xena", "--name", "Xena", input="xena-pass-1\n")
    for _ in range(3):  # login_max_failures = 3
        assert soap_login(strict_server, "xena", WRONG)[1] == "InvalidCredentials"
    # now even the right password is refused, over SOAP and over REST, without checking it
    assert soap_login(strict_server, "xena", "xena-pass-1") == (None, "TooManyAttempts")
    r = token(strict_server, "xena", "xena-pass-1")
    assert r.status_code == 429 and r.headers.get("retry-after"), r.text
    r = requests.post(strict_server.base_url + "/api/v1/Agents/CustomerService/GetStatistics", json={"Functions": ["Hotlist"]},
                      auth=("xena", "xena-pass-1"), timeout=20)
    assert r.status_code == 429 and typed_json(r)["ErrorType"] == "TooManyAttempts"
    # other users are not affected
    assert soap_login(strict_server, "demo", "demo")[0]


@pytest.fixture(params=["text", "json"])
def logging_server(request, strict_server, secret_user, tmp_path_factory):
    """The strict server (text log), or one like it with ``--log-format json``."""
    if request.param == "text":
        yield strict_server
        return
    from tests.hostile.conftest import STRICT_CONFIG

    proc = ServerProcess(tmp_path_factory.mktemp("strict-json"), config=STRICT_CONFIG, demo_requests=50,
                         extra_args=("--log-format", "json")).start()
    proc.cli("users", "add", secret_user, "--name", "Zed Secret", input=SECRET + "\n")
    try:
        yield proc
    finally:
        proc.stop()


def test_secrets_never_logged(logging_server, secret_user):
    strict_server = logging_server
    """After successful and failed log-ins on every adapter (log level debug), the server log holds no
    password, ticket, access token, refresh token or Basic credential."""
    ticket, _ = soap_login(strict_server, secret_user, SECRET)
    soap_stats(strict_server, ticket)
    soap_login(strict_server, secret_user, WRONG)
    tokens = token(strict_server, secret_user, SECRET).json()
    token(strict_server, secret_user, WRONG)
    basic = base64.b64encode(f"{secret_user}:{SECRET}".encode()).decode()
    requests.post(strict_server.base_url + "/api/v1/Agents/CustomerService/GetStatistics", json={"Functions": ["Hotlist"]},
                  headers={"Authorization": "Basic " + basic}, timeout=20)
    requests.post(strict_server.base_url + "/api/v1/Agents/CustomerService/GetStatistics", json={"Functions": ["Hotlist"]},
                  headers={"Authorization": "Bearer " + tokens["access_token"]}, timeout=20)
    requests.get(strict_server.base_url + f"/health?access_token={tokens['access_token']}", timeout=20)
    requests.post(strict_server.base_url + "/statuspage/api/login", json={"login": secret_user, "password": SECRET},
                  timeout=20)
    requests.post(strict_server.base_url + "/statuspage/api/login", json={"login": secret_user, "password": WRONG},
                  timeout=20)
    marker = f"last-{time.time_ns()}"  # the access log names the request id: the last request's line is there
    requests.get(strict_server.base_url + "/api/v2/me", headers={"Authorization": "Basic " + basic,
                                                                 "X-Request-Id": marker}, timeout=20)

    def written() -> str:
        text = strict_server.log_path.read_text(errors="replace")
        return text if marker in text else ""

    log = wait_until(written, 30, "the access log line of the last request")
    if "--log-format" in strict_server.extra_args:
        lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
        assert any(line.get("logger") == "services87.access" for line in lines)
    for name, secret in [("password", SECRET), ("wrong password", WRONG), ("ticket", ticket),
                         ("ticket body", ticket[3:]), ("access token", tokens["access_token"]),
                         ("token signature", tokens["access_token"].rsplit(".", 1)[1]),
                         ("refresh token", tokens["refresh_token"]), ("basic credential", basic)]:
        assert secret not in log, f"{name} found in the server log"


def test_failed_logins_throttled_per_address(strict_server):
    """login_max_failures_per_address = 8: failures spread over many names lock the address out."""
    for i in range(12):
        _, err = soap_login(strict_server, f"nobody{i}", WRONG)
        if err == "TooManyAttempts":
            break
    else:
        pytest.fail("never throttled")
    assert i <= 8
    # a valid user from the same address is now refused too
    assert soap_login(strict_server, "demo", "demo") == (None, "TooManyAttempts")
    assert re.match(r"\d+", token(strict_server, "demo", "demo").headers.get("retry-after", ""))
