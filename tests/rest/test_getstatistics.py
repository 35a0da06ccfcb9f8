"""GetStatistics over real HTTP: content types in and out, $select, language/culture/time zone, the seed's
sample, and equality with ``services87 stats`` and with the SOAP service."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest
import requests
import zeep
from lxml import etree

from services87.engine.model import ALL_PANELS, StatusScreenPanelType as P
from tests.rest.conftest import PATH, assert_error, stats

NS = "http://www.superoffice.net/ws/crm/NetServer/Services87"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SET_KEYS = ["Label", "Values", "Description", "TableRight", "FieldProperties"]
VALUE_KEYS = ["Label", "Value", "Description", "TableRight", "FieldProperties"]
FUNCS = ["OpenRequestsPerUser", "UnassignedRequests"]


def core(sets):
    """Only the engine's fields (what ``services87 stats --format json`` prints)."""
    return [{"Label": s["Label"], "Description": s["Description"],
             "Values": [{"Label": v["Label"], "Value": v["Value"], "Description": v["Description"]}
                        for v in s["Values"]]} for s in sets]


def xml_sets(content: bytes):
    root = etree.fromstring(content)
    assert root.tag == f"{{{NS}}}ArrayOfStatisticsDataSet"
    out = []
    for ds in root:
        assert ds.tag == f"{{{NS}}}StatisticsDataSet"
        names = [etree.QName(c).localname for c in ds]
        assert names == ["TableRight", "FieldProperties", "Label", "Values", "Description"]  # Carrier first
        values = []
        for v in ds.find(f"{{{NS}}}Values"):
            assert v.tag == f"{{{NS}}}StatisticsDataValue"
            assert [etree.QName(c).localname for c in v] == ["TableRight", "FieldProperties", "Label", "Value",
                                                             "Description"]
            values.append({"Label": v.findtext(f"{{{NS}}}Label"), "Value": float(v.findtext(f"{{{NS}}}Value")),
                           "Description": v.findtext(f"{{{NS}}}Description") or ""})
        out.append({"Label": ds.findtext(f"{{{NS}}}Label"), "Values": values,
                    "Description": ds.findtext(f"{{{NS}}}Description") or ""})
    return out


@pytest.fixture(scope="module")
def reference(rest_server):
    r = stats(rest_server, FUNCS)
    assert r.status_code == 200, r.text
    return r.json()


# --------------------------------------------------------------------------- the seed's sample
def test_seed_sample_request_returns_the_seed_shape(rest_server):
    """The seed's sample request verbatim (headers, body layout), with real credentials and real panel names."""
    body = '{\n  "Functions": [\n    "OpenRequestsPerUser",\n    "NumberOfCreatedRequestsPerDay"\n  ]\n}'
    r = requests.post(rest_server.base_url + PATH, data=body.encode(), timeout=30, headers={
        "Authorization": "Basic ZGVtbzpkZW1v",  # demo:demo
        "Accept": "application/json; charset=utf-8",
        "Accept-Language": "sv",
        "Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    sets = r.json()
    assert isinstance(sets, list) and len(sets) == 2
    for ds in sets:
        assert list(ds) == SET_KEYS
        assert isinstance(ds["Label"], str) and ds["Label"]
        assert isinstance(ds["Description"], str)
        assert ds["TableRight"] is None and ds["FieldProperties"] == {}
        assert ds["Values"]
        for v in ds["Values"]:
            assert list(v) == VALUE_KEYS
            assert isinstance(v["Label"], str) and isinstance(v["Description"], str)
            assert isinstance(v["Value"], float)
            assert v["TableRight"] is None and v["FieldProperties"] == {}
    assert r.headers["Content-Language"] == "sv"
    english = stats(rest_server, ["NumberOfCreatedRequestsPerDay"], headers={"Accept-Language": "en"}).json()[0]
    assert [v["Label"] for v in sets[1]["Values"]] != [v["Label"] for v in english["Values"]]  # Swedish dates


def test_order_follows_the_request_and_numbers_are_accepted(rest_server):
    names = stats(rest_server, ["UnassignedRequests", "OpenRequestsPerUser", "UnassignedRequests"]).json()
    numbers = stats(rest_server, [102, 3, "102"]).json()
    mixed_case = stats(rest_server, ["unassignedrequests", "OPENREQUESTSPERUSER", "UnAssignedRequests"]).json()
    assert names == numbers == mixed_case
    assert names[0] == names[2] and names[0] != names[1]
    none = stats(rest_server, ["None"]).json()
    assert none == [{"Label": "", "Values": [], "Description": "", "TableRight": None, "FieldProperties": {}}]
    assert stats(rest_server, []).json() == []
    assert stats(rest_server, json_body={}).json() == []
    assert stats(rest_server, json_body={"Functions": None}).json() == []
    assert stats(rest_server, json_body={"functions": [102], "Other": 1}).json() == names[:1]


# --------------------------------------------------------------------------- content types in
@pytest.mark.parametrize("ctype", ["application/json", "text/json", "application/json-patch+json",
                                   "application/merge-patch+json", "application/json; charset=utf-8",
                                   "Application/JSON; Charset=UTF-8"])
def test_json_request_types(rest_server, reference, ctype):
    r = stats(rest_server, data=json.dumps({"Functions": FUNCS}).encode(), headers={"Content-Type": ctype})
    assert r.status_code == 200, r.text
    assert r.json() == reference


def test_json_in_other_charsets_and_with_bom(rest_server, reference):
    body = json.dumps({"Functions": FUNCS})
    r = stats(rest_server, data=body.encode("utf-16"), headers={"Content-Type": "application/json; charset=utf-16"})
    assert r.json() == reference
    r = stats(rest_server, data=b"\xef\xbb\xbf" + body.encode(), headers={"Content-Type": "application/json"})
    assert r.json() == reference
    r = stats(rest_server, data=body.encode(), headers={"Content-Type": "application/json; charset=klingon"})
    assert_error(r, 415, "UnsupportedMediaType")


@pytest.mark.parametrize("body", [
    "Functions=3&Functions=UnassignedRequests",
    "Functions=OpenRequestsPerUser&Functions=102",
    "Functions%5B%5D=3&Functions%5B%5D=102",
    "Functions%5B0%5D=3&Functions%5B1%5D=unassignedrequests&ignored=1",
])
def test_form_request(rest_server, reference, body):
    r = stats(rest_server, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200, r.text
    assert r.json() == reference


XML_WRAPPED = f"""<?xml version="1.0" encoding="utf-8"?>
<GetStatistics xmlns="{NS}" xmlns:i="{XSI}">
  <Functions>
    <StatusScreenPanelType>OpenRequestsPerUser</StatusScreenPanelType>
    <StatusScreenPanelType>102</StatusScreenPanelType>
  </Functions>
</GetStatistics>"""
XML_FLAT = "<request><Functions>3</Functions><!-- a comment --><Functions>UnassignedRequests</Functions></request>"


@pytest.mark.parametrize("ctype", ["application/xml", "text/xml", "text/xml; charset=utf-8"])
@pytest.mark.parametrize("body", [XML_WRAPPED, XML_FLAT])
def test_xml_request(rest_server, reference, ctype, body):
    r = stats(rest_server, data=body.encode(), headers={"Content-Type": ctype})
    assert r.status_code == 200, r.text
    assert r.json() == reference


def test_xml_request_in_latin1_with_nil_functions(rest_server, reference):
    body = XML_WRAPPED.replace('encoding="utf-8"', 'encoding="iso-8859-1"').encode("latin-1")
    assert stats(rest_server, data=body, headers={"Content-Type": "text/xml"}).json() == reference
    nil = f'<GetStatistics xmlns="{NS}" xmlns:i="{XSI}"><Functions i:nil="true"/></GetStatistics>'
    assert stats(rest_server, data=nil, headers={"Content-Type": "application/xml"}).json() == []


@pytest.mark.parametrize("body", [
    f'<GetStatistics xmlns="{NS}">true</GetStatistics>',  # a scalar, as serializers write a JSON ``true``
    f'<GetStatistics xmlns="{NS}">3<Functions>4</Functions></GetStatistics>',
    f'<GetStatistics xmlns="{NS}"><Functions>4</Functions>junk</GetStatistics>',
])
def test_xml_root_holding_text_is_refused_as_json_scalars_are(rest_server, body):
    assert_error(stats(rest_server, data=body, headers={"Content-Type": "application/xml"}), 400, "MalformedRequest")
    assert_error(stats(rest_server, data="true", headers={"Content-Type": "application/json"}), 400,
                 "MalformedRequest")


# --------------------------------------------------------------------------- content types out
@pytest.mark.parametrize("accept,expected", [
    (None, "application/json"),
    ("*/*", "application/json"),
    ("application/json", "application/json"),
    ("text/json", "text/json"),
    ("application/json-patch+json", "application/json-patch+json"),
    ("application/merge-patch+json", "application/merge-patch+json"),
    ("application/xml", "application/xml"),
    ("text/xml", "text/xml"),
    ("text/html, application/xml;q=0.9, */*;q=0.1", "application/xml"),
    ("application/xml;q=0.5, application/json", "application/json"),
    ("text/*", "text/json"),
    ("application/json;q=0, */*", "text/json"),
])
def test_accept_negotiation(rest_server, reference, accept, expected):
    headers = {"Accept": accept} if accept else {}
    r = stats(rest_server, FUNCS, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == expected + "; charset=utf-8"
    if "xml" in expected:
        assert xml_sets(r.content) == core(reference)
    else:
        assert r.json() == reference


def test_xml_response_shape(rest_server):
    r = stats(rest_server, ["UnassignedRequests"], headers={"Accept": "application/xml"})
    root = etree.fromstring(r.content)
    ds = root[0]
    assert ds.find(f"{{{NS}}}TableRight").get(f"{{{XSI}}}nil") == "true"
    assert len(ds.find(f"{{{NS}}}FieldProperties")) == 0 and ds.find(f"{{{NS}}}FieldProperties").get(
        f"{{{XSI}}}nil") is None
    values = ds.find(f"{{{NS}}}Values")
    assert all(v.findtext(f"{{{NS}}}Value").replace(".", "").isdigit() for v in values)  # xs:double, "3" not "3.0"


@pytest.mark.parametrize("accept", ["text/html", "application/jsno", "application/json;q=0", "image/*",
                                    "application/xml;q=0, text/xml;q=0, application/json;q=0, text/json;q=0"])
def test_unacceptable_accept_falls_back_to_json(rest_server, reference, accept):
    """ASP.NET (the vendor's Web API) answers JSON when it can produce none of the Accept types."""
    r = stats(rest_server, FUNCS, headers={"Accept": accept})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    assert r.json() == reference


def test_listed_accept_types_still_chosen(rest_server):
    for accept, expected in [("application/xml", "application/xml"), ("text/xml", "text/xml"),
                             ("text/html, text/xml", "text/xml"), ("text/json", "text/json")]:
        r = stats(rest_server, FUNCS, headers={"Accept": accept})
        assert r.status_code == 200 and r.headers["Content-Type"] == expected + "; charset=utf-8"


def test_strict_accept_is_406():
    from services87.rest import media
    from services87.rest.errors import RestError

    for accept in ("text/html", "application/json;q=0"):
        with pytest.raises(RestError) as exc:
            media.negotiate(accept, strict=True)
        assert exc.value.status == 406
    assert media.negotiate("application/xml", strict=True) == "application/xml"
    assert media.negotiate("text/html", strict=False) == "application/json"


# --------------------------------------------------------------------------- $select
def test_select_top_level(rest_server, reference):
    r = stats(rest_server, FUNCS, params={"$select": "Label"})
    assert r.json() == [{"Label": s["Label"], "Values": None, "Description": None, "TableRight": None,
                         "FieldProperties": None} for s in reference]
    r = stats(rest_server, FUNCS, params={"$select": "label , VALUES"})
    assert r.json() == [dict(s, Description=None, FieldProperties=None) for s in reference]


@pytest.mark.parametrize("select", ["Values/Label,Values.Value", "values/label,values.VALUE", "VALUES.label,Values/value"])
def test_select_nested(rest_server, reference, select):
    r = stats(rest_server, FUNCS, params={"$select": select})
    expected = [{"Label": None, "Values": [{"Label": v["Label"], "Value": v["Value"], "Description": None,
                                            "TableRight": None, "FieldProperties": None} for v in s["Values"]],
                 "Description": None, "TableRight": None, "FieldProperties": None} for s in reference]
    assert r.json() == expected


def test_select_encoded_and_unknown_and_empty(rest_server, reference):
    url = rest_server.base_url + PATH + "?%24select=Description"
    r = requests.post(url, json={"Functions": FUNCS}, auth=("demo", "demo"), timeout=30)
    assert [s["Description"] for s in r.json()] == [s["Description"] for s in reference]
    assert all(s["Label"] is None for s in r.json())
    # Names that are not properties of a data set (the vendor page's own example) select nothing.
    r = stats(rest_server, FUNCS, params={"$select": "name,department,category/id"})
    assert r.json() == [dict.fromkeys(SET_KEYS) for _ in reference]
    assert stats(rest_server, FUNCS, params={"$select": ""}).json() == reference
    assert stats(rest_server, FUNCS, params={"$select": "*"}).json() == reference


def test_select_in_xml(rest_server):
    r = stats(rest_server, ["UnassignedRequests"], params={"$select": "Values/Value"},
              headers={"Accept": "text/xml"})
    root = etree.fromstring(r.content)
    ds = root[0]
    assert ds.find(f"{{{NS}}}Label").get(f"{{{XSI}}}nil") == "true"
    v = ds.find(f"{{{NS}}}Values")[0]
    assert v.find(f"{{{NS}}}Label").get(f"{{{XSI}}}nil") == "true"
    assert v.findtext(f"{{{NS}}}Value") not in (None, "")


# --------------------------------------------------------------------------- language / culture / time zone
def test_languages(rest_server):
    def label(headers):
        r = stats(rest_server, ["NumberOfCreatedRequestsPerDay"], headers=headers)
        assert r.status_code == 200, r.text
        return r.json()[0]["Label"], r.json()[0]["Values"][-1]["Label"], r.headers["Content-Language"]

    en = label({})
    assert en[2] == "en"  # demo's own language
    sv = label({"Accept-Language": "sv-SE,sv;q=0.9,en;q=0.5"})
    de = label({"Accept-Language": "sv", "SO-Language": "de"})
    assert sv[2] == "sv" and de[2] == "de"
    assert len({en[1], sv[1], de[1]}) == 3  # day names in three languages
    assert label({"Accept-Language": "*"}) == en
    assert label({"SO-Language": "xx", "Accept-Language": "sv"}) == sv  # unsupported SO-Language: next source


def test_culture(rest_server):
    def day(headers):
        r = stats(rest_server, ["NumberOfCreatedRequestsPerDay"], headers=headers)
        assert r.status_code == 200, r.text
        return r.json()[0]

    en = day({"SO-Language": "en"})
    en_de = day({"SO-Language": "en", "SO-Culture": "de"})
    assert en_de["Label"] == en["Label"]  # language unchanged
    assert en_de["Values"][-1]["Description"] != en["Values"][-1]["Description"]  # date formatting changed
    assert [v["Value"] for v in en_de["Values"]] == [v["Value"] for v in en["Values"]]
    # Without a language the culture is ignored.
    assert day({"SO-Culture": "de"}) == day({})


def test_time_zone(rest_server):
    def days(zone):
        headers = {"SO-TimeZone": zone} if zone else {}
        r = stats(rest_server, ["NumberOfCreatedRequestsPerDay"], headers=headers)
        assert r.status_code == 200, r.text
        return r.json()[0]["Values"]

    east, west = days("Pacific/Kiritimati"), days("Pacific/Pago_Pago")  # UTC+14 and UTC-11: always different days
    assert east[-1]["Label"] != west[-1]["Label"]
    assert days("Europe/Oslo") == days(None)  # demo's own zone
    assert_error(stats(rest_server, FUNCS, headers={"SO-TimeZone": "Mars/Olympus_Mons"}), 400, "UnknownTimeZone")
    assert_error(stats(rest_server, FUNCS, headers={"SO-TimeZone": "../../etc/passwd"}), 400, "UnknownTimeZone")


# --------------------------------------------------------------------------- same numbers as the CLI and SOAP
def test_numbers_equal_the_cli_at_the_same_moment(rest_server):
    for _ in range(3):  # a day or a 14-minute cache bucket may turn between the two calls: retry, bounded
        before = time.time()
        r = stats(rest_server, [p.wire_name for p in ALL_PANELS if p.wire_name != "None"])  # = the CLI's "all"
        after = time.time()
        assert r.status_code == 200, r.text
        now = datetime.fromtimestamp((before + after) / 2, timezone.utc).isoformat()
        cli = json.loads(rest_server.cli("stats", "all", "--user", "demo", "--format", "json", "--now", now).stdout)
        if core(r.json()) == cli:
            break
    assert core(r.json()) == cli
    assert len(cli) == len(ALL_PANELS) - 1
    assert sum(len(s["Values"]) for s in cli) > 20


def test_numbers_equal_soap_for_the_same_user(rest_server):
    """Log in through SOAP's SoPrincipal, use the ticket with SOAP GetStatistics and REST (SoTicket): same answer."""
    base = rest_server.base_url + "/Remote/Services87/"
    principal = zeep.Client(base + "SoPrincipal.svc?wsdl").service
    login = principal.AuthenticateUsernamePassword(UserName="bjorn", Password="bjorn")
    assert login.body.AuthenticationSucceeded is True
    ticket = login.body.Credentials.Ticket
    cs = zeep.Client(base + "CustomerService.svc?wsdl").service
    panels = [p.wire_name for p in ALL_PANELS if p is not P.None_]
    for _ in range(3):
        soap = cs.GetStatistics(Functions={"StatusScreenPanelType": panels},
                                _soapheaders={"Credentials": {"Ticket": ticket}})
        rest = stats(rest_server, panels, auth=None, headers={"Authorization": "SoTicket " + ticket})
        assert rest.status_code == 200, rest.text
        soap_sets = [{"Label": ds.Label or "", "Description": ds.Description or "",
                      "Values": [{"Label": v.Label or "", "Value": v.Value, "Description": v.Description or ""}
                                 for v in (ds.Values.StatisticsDataValue if ds.Values is not None else [])]}
                     for ds in soap.body.Response.StatisticsDataSet]
        if soap_sets == core(rest.json()):
            break
    assert soap_sets == core(rest.json())
    assert rest.headers["Content-Language"] == "sv"  # bjorn's language, as SOAP uses it


def test_members_only_category_hidden_from_non_member_rest(rest_server):
    """A non-member (anna) sees neither the demo's members-only Management category nor its counts."""
    from tests.engine.test_cli import _access_check
    from tests.rest.conftest import bearer

    panels = ["OpenRequestsPerCategory", "OpenRequestsPerTopCategory", "OpenRequestsPerOrigin"]
    seen = {}
    for user in ("demo", "anna"):
        r = stats(rest_server, panels, headers={"Authorization": "Bearer " + bearer(rest_server, user)})
        assert r.status_code == 200, r.text
        seen[user] = r.json()
    _access_check(seen["demo"], seen["anna"])
