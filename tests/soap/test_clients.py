"""Done-when: zeep clients from our ?wsdl and from the vendor's WSDL file log in and get all 17 panels,
equal to ``services87 stats all --user demo --format json``; SOAP 1.1 and 1.2; the seed envelope verbatim."""

from __future__ import annotations

import re

import pytest
import requests
from lxml import etree

from services87.engine.model import ALL_PANELS
from tests.soap.conftest import (TNS, as_json, cli_stats, login, our_client, post, vendor_client)
from tests.support import ROOT

#: The 17 real panels (everything but ``None``).
ALL_NAMES = [p.wire_name for p in ALL_PANELS if p.wire_name != "None"]
SEED_REQUEST = ROOT / "samples" / "soap" / "GetStatistics.seed-request.xml"
NS12 = "http://www.w3.org/2003/05/soap-envelope"
NS11 = "http://schemas.xmlsoap.org/soap/envelope/"


def _same_as_cli(server, call):
    """Compare a SOAP answer with the CLI at (nearly) the same moment; retry once across a time boundary."""
    for _ in range(2):
        soap = as_json(call())
        cli = cli_stats(server, "all", "--user", "demo")  # "all": the 17 real panels, without None
        if soap == cli:
            return soap
    assert soap == cli
    return soap


@pytest.mark.parametrize("soap12", [False, True], ids=["soap11", "soap12"])
def test_our_wsdl_all_panels_equal_cli(server, soap12):
    pr = our_client(server, "SoPrincipal", soap12=soap12)
    auth = pr.AuthenticateUsernamePassword(UserName="demo", Password="demo")
    assert auth.body.AuthenticationSucceeded is True and auth.header.Succeeded is True
    ticket = auth.body.Credentials.Ticket
    assert ticket.startswith("7T:")
    cs = our_client(server, "CustomerService", soap12=soap12)

    def call():
        r = cs.GetStatistics(Functions={"StatusScreenPanelType": ALL_NAMES},
                             _soapheaders={"Credentials": {"Ticket": ticket}})
        assert r.header.Succeeded is True and r.header.ExceptionInfo is None
        return r.body.Response

    sets = _same_as_cli(server, call)
    assert len(sets) == 17


def test_vendor_wsdl_with_only_address_changed(server):
    pr = vendor_client(server, "SoPrincipal")
    auth = pr.AuthenticateUsernamePassword(UserName="demo", Password="demo", _soapheaders={"ApplicationToken": "any"})
    assert auth.body.AuthenticationSucceeded is True
    assert auth.body.Response.Associate == "demo" and auth.body.Response.FullName == "Dana Demo"
    ticket = auth.body.Credentials.Ticket
    cs = vendor_client(server, "CustomerService")

    def call():
        r = cs.GetStatistics(Functions={"StatusScreenPanelType": ALL_NAMES},
                             _soapheaders={"Credentials": {"Ticket": ticket}, "ApplicationToken": "any"})
        assert r.header.Succeeded is True
        return r.body.Response

    assert len(_same_as_cli(server, call)) == 17


def test_one_data_set_per_function_in_order(server):
    ticket = login(server)
    cs = our_client(server, "CustomerService")
    order = ["Hotlist", "None", "OpenRequestsPerStatus", "Hotlist", "UserReponseTimePerWeek"]
    r = cs.GetStatistics(Functions={"StatusScreenPanelType": order}, _soapheaders={"Credentials": {"Ticket": ticket}})
    got = as_json(r.body.Response)
    want = cli_stats(server, *order, "--user", "demo")
    assert [g["Label"] for g in got] == [w["Label"] for w in want] and len(got) == 5


def test_empty_functions_gives_empty_response(server):
    ticket = login(server)
    r = our_client(server, "CustomerService").GetStatistics(Functions={"StatusScreenPanelType": []},
                                                          _soapheaders={"Credentials": {"Ticket": ticket}})
    assert r.header.Succeeded is True and as_json(r.body.Response) == []


def _seed_request() -> str:
    """The vendor's sample GetStatistics request, verbatim (samples/soap/)."""
    return SEED_REQUEST.read_text()


@pytest.mark.parametrize("content_type", ["application/soap+xml; charset=utf-8",
                                          'application/soap+xml; charset=utf-8; action="http://www.superoffice.net/ws/crm/NetServer/Services87/CustomerService/GetStatistics"',
                                          "text/xml; charset=utf-8"])
def test_seed_envelope_verbatim(server, content_type):
    ticket = login(server)
    body = _seed_request().replace("7T:1234abcxyzExample==", ticket)
    r = post(server, "CustomerService", body.encode(), content_type)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/soap+xml")  # answered in SOAP 1.2
    doc = etree.fromstring(r.content)
    assert doc.tag == f"{{{NS12}}}Envelope"
    assert doc.findtext(f"{{{NS12}}}Header/{{{TNS}}}Succeeded") == "true"
    sets = doc.findall(f".//{{{TNS}}}GetStatisticsResponse/{{{TNS}}}Response/{{{TNS}}}StatisticsDataSet")
    assert len(sets) == 1  # one per requested function ("None")
    assert [c.tag.split("}")[1] for c in sets[0]] == ["Label", "Values", "Description"]


def test_seed_envelope_with_fake_ticket_is_an_application_error(server):
    r = post(server, "CustomerService", _seed_request().encode(), "application/soap+xml")
    doc = etree.fromstring(r.content)
    assert r.status_code == 200
    assert doc.findtext(f"{{{NS12}}}Header/{{{TNS}}}Succeeded") == "false"
    assert doc.findtext(f".//{{{TNS}}}ExceptionInfo/{{{TNS}}}ExceptionType") == "InvalidTicket"


def test_soap11_raw_with_header_element_and_soapaction(server):
    ticket = login(server)
    body = f"""<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="{NS11}"><s:Header><Credentials xmlns="{TNS}"><Ticket>{ticket}</Ticket></Credentials></s:Header>
<s:Body><GetStatistics xmlns="{TNS}"><Functions><StatusScreenPanelType>OpenRequestsPerPriority</StatusScreenPanelType>
</Functions></GetStatistics></s:Body></s:Envelope>"""
    r = requests.post(server.base_url + "/Remote/Services87/CustomerService.svc", data=body.encode(),
                      headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '"wrong/action/is/ignored"'},
                      timeout=30)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/xml")
    doc = etree.fromstring(r.content)
    assert doc.tag == f"{{{NS11}}}Envelope"
    labels = [e.text for e in doc.iterfind(f".//{{{TNS}}}StatisticsDataSet/{{{TNS}}}Label")]
    assert labels == [cli_stats(server, "OpenRequestsPerPriority", "--user", "demo")[0]["Label"]]
    assert re.search(rb"<[a-z0-9]+:Value>", r.content)


def test_members_only_category_hidden_from_non_member_soap(server):
    """A non-member (anna) sees neither the demo's members-only Management category nor its counts."""
    from tests.engine.test_cli import _access_check

    panels = ["OpenRequestsPerCategory", "OpenRequestsPerTopCategory", "OpenRequestsPerOrigin"]
    seen = {}
    for user in ("demo", "anna"):
        client = vendor_client(server, "CustomerService")
        r = client.GetStatistics(Functions={"StatusScreenPanelType": panels},
                                 _soapheaders={"Credentials": {"Ticket": login(server, user)}})
        seen[user] = as_json(r.body.Response)
    _access_check(seen["demo"], seen["anna"])
