"""SOAP test fixtures: zeep clients against real server processes."""

from __future__ import annotations

import functools
import json

import pytest
import requests
import zeep

from tests.support import ROOT, ServerProcess

TNS = "http://www.superoffice.net/ws/crm/NetServer/Services87"
VENDOR_WSDL = {s: ROOT / "wsdl" / f"Services87-{s}.wsdl" for s in ("CustomerService", "SoPrincipal")}
TOKEN_SECRET = "soap-test-secret-0123456789abcdef"

ONLINE_CONFIG = f"""
installation = "online"
application_tokens = ["good-app-token"]
implicit_auth_header = "X-Remote-User"
ticket_lifetime = 3
token_secret = "{TOKEN_SECRET}"
"""


def url(server, service: str) -> str:
    return f"{server.base_url}/Remote/Services87/{service}.svc"


@functools.lru_cache(maxsize=32)
def _zeep(wsdl: str) -> zeep.Client:
    return zeep.Client(wsdl)


def our_client(server, service: str, soap12: bool = False):
    """A zeep service proxy built from OUR ?wsdl (SOAP 1.1 port, or the SOAP 1.2 port)."""
    client = _zeep(url(server, service) + "?wsdl")
    if soap12:
        return client.bind(f"Wcf{service}Service", f"CustomBinding_{service}")
    return client.service


def vendor_client(server, service: str):
    """A zeep client built from the VENDOR's WSDL file with only the address changed."""
    client = _zeep(str(VENDOR_WSDL[service]))
    return client.create_service(f"{{{TNS}}}BasicHttpBinding_{service}", url(server, service))


def login(server, user: str = "demo", password: str | None = None, headers: dict | None = None) -> str:
    r = our_client(server, "SoPrincipal").AuthenticateUsernamePassword(
        UserName=user, Password=user if password is None else password, _soapheaders=headers or {})
    assert r.body.AuthenticationSucceeded is True, r.header
    return r.body.Credentials.Ticket


def as_json(response_sets) -> list[dict]:
    """zeep's ArrayOfStatisticsDataSet → the REST twin / ``services87 stats --format json`` shape.

    An empty xs:string element comes back from zeep as None; the JSON shape has ""."""
    out = []
    for ds in (response_sets.StatisticsDataSet if response_sets is not None else []):
        values = ds.Values.StatisticsDataValue if ds.Values is not None else []
        out.append({"Label": ds.Label or "",
                    "Values": [{"Label": v.Label or "", "Value": v.Value, "Description": v.Description or ""}
                               for v in values],
                    "Description": ds.Description or ""})
    return out


def cli_stats(server, *args: str) -> list[dict]:
    return json.loads(server.cli("stats", *args, "--format", "json").stdout)


def post(server, service: str, body, content_type: str = "text/xml; charset=utf-8", **kw) -> requests.Response:
    return requests.post(url(server, service), data=body, headers={"Content-Type": content_type}, timeout=30, **kw)


@pytest.fixture(scope="module")
def online_server(tmp_path_factory):
    """Online mode (application tokens required), implicit auth on, 3 s tickets, known token secret."""
    proc = ServerProcess(tmp_path_factory.mktemp("soap-online"), config=ONLINE_CONFIG, demo_requests=200).start()
    yield proc
    proc.stop()
