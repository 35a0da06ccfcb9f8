"""Hypothesis fuzzers against the running server: SOAP envelopes, JSON bodies for every JSON endpoint, Bayeux
message arrays. Invariants: never a 5xx without a typed body (SOAP fault / JSON), never a traceback, the server
alive, stored data unchanged.

CI runs a few thousand cases in total (well under a minute); ``SERVICES87_FUZZ_EXAMPLES=N`` runs N per fuzzer
(e.g. 20000 for a long manual or bench run). The Hypothesis example database is off: runs leave no files.
"""

from __future__ import annotations

import json
from xml.sax.saxutils import escape

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from tests.hostile.conftest import (CT, NS, TNS, alive, fuzz_examples, no_traceback, soap_url, stored_data)
from tests.hostile.json_targets import BAYEUX_PATHS, targets

FUZZ = dict(deadline=None, database=None, derandomize=False, print_blob=True,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                   HealthCheck.data_too_large, HealthCheck.filter_too_much])


@pytest.fixture(scope="module")
def fuzz_state(attack_server):
    http = requests.Session()
    return {"before": stored_data(attack_server), "http": http, "targets": targets(attack_server)}


# --------------------------------------------------------------------------- SOAP
OPS = ["GetStatistics", "AuthenticateUsernamePassword", "AuthenticateGeneric", "AuthenticateWithAccessToken",
       "AuthenticateImplicit", "GetSystemInfo", "GetMailboxes", "CreateSession", "Nope"]
NAMES = ["Functions", "StatusScreenPanelType", "UserName", "Password", "AuthenticationData", "Key", "Value",
         "AccessToken", "KeyValuePair", "x", "Ticket"]
PANELS = ["Hotlist", "None", "UserRequestsOpen", "AllRequestsOpen", "Nope", ""]
texts = st.one_of(st.sampled_from(PANELS), st.text(max_size=30), st.text(alphabet=st.characters(codec="utf-8"),
                                                                            max_size=10))


def _element(name: str, children: list[str], text: str, raw: bool) -> str:
    content = text if raw else escape(text)
    return f"<t:{name}>{content}{''.join(children)}</t:{name}>"


elements = st.recursive(
    st.builds(lambda n, t, r: _element(n, [], t, r), st.sampled_from(NAMES), texts, st.booleans()),
    lambda kids: st.builds(lambda n, c: _element(n, c, "", False), st.sampled_from(NAMES), st.lists(kids, max_size=4)),
    max_leaves=12)
headers = st.lists(st.sampled_from([
    "<t:Credentials><t:Ticket>7T:nope</t:Ticket></t:Credentials>",
    "<t:TimeZone><t:SoTimeZoneId>261</t:SoTimeZoneId><t:SoTimeZoneLocationCode>NO</t:SoTimeZoneLocationCode></t:TimeZone>",
    "<t:ApplicationToken>demo-app-token</t:ApplicationToken>",
    '<a:Action xmlns:a="http://www.w3.org/2005/08/addressing" s:mustUnderstand="1">x</a:Action>',
    '<a:MessageID xmlns:a="http://www.w3.org/2005/08/addressing">urn:uuid:1</a:MessageID>',
    '<u:Other xmlns:u="urn:unknown" s:mustUnderstand="1"/>',
    "<t:TimeZone xsi:nil=\"true\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"/>",
]), max_size=3)


@st.composite
def soap_requests(draw):
    version = draw(st.sampled_from(["1.1", "1.2"]))
    op = draw(st.sampled_from(OPS))
    kids = draw(st.lists(elements, max_size=4))
    hdr = "".join(draw(headers))
    ns = NS[version] if draw(st.integers(0, 9)) else draw(st.sampled_from(list(NS.values()) + ["urn:x"]))
    placement = draw(st.sampled_from(["header", "loose", "none"]))
    header = f"<s:Header>{hdr}</s:Header>" if placement == "header" and hdr else (hdr if placement == "loose" else "")
    doc = (f'<s:Envelope xmlns:s="{ns}" xmlns:t="{TNS}">{header}<s:Body><t:{op}>{"".join(kids)}</t:{op}>'
           f"</s:Body></s:Envelope>").encode("utf-8", "surrogatepass")
    mutation = draw(st.sampled_from(["none", "none", "none", "truncate", "insert", "flip", "prefix"]))
    if mutation == "truncate":
        doc = doc[: draw(st.integers(0, len(doc)))]
    elif mutation == "insert":
        at = draw(st.integers(0, len(doc)))
        doc = doc[:at] + draw(st.binary(max_size=16)) + doc[at:]
    elif mutation == "flip" and doc:
        at = draw(st.integers(0, len(doc) - 1))
        doc = doc[:at] + bytes([doc[at] ^ draw(st.integers(1, 255))]) + doc[at + 1:]
    elif mutation == "prefix":
        doc = draw(st.sampled_from([b'<?xml version="1.0" encoding="utf-16"?>', b"\xef\xbb\xbf", b"\xff\xfe",
                                    b"<!-- x -->", b'<?xml version="1.0"?>'])) + doc
    service = "SoPrincipal" if op.startswith(("Auth", "GetSystem")) and draw(st.booleans()) else "CustomerService"
    ctype = draw(st.sampled_from([CT[version], CT[version], "text/plain", "", "application/soap+xml; action=x"]))
    return service, doc, ctype


def _check_soap(r: requests.Response) -> None:
    no_traceback(r.content)
    assert r.content, f"empty {r.status_code}"
    if r.status_code >= 300:
        assert r.status_code in (400, 405, 413, 415, 500), r.status_code
        doc = etree.fromstring(r.content)
        assert doc.find(f"{{{NS['1.1']}}}Body/{{{NS['1.1']}}}Fault") is not None or \
            doc.find(f"{{{NS['1.2']}}}Body/{{{NS['1.2']}}}Fault") is not None, r.content[:500]


@settings(max_examples=fuzz_examples(500), **FUZZ)
@given(case=soap_requests())
def test_fuzz_soap(attack_server, fuzz_state, case):
    service, doc, ctype = case
    r = fuzz_state["http"].post(soap_url(attack_server, service), data=doc, timeout=30,
                                headers={"content-type": ctype} if ctype else {})
    _check_soap(r)


# --------------------------------------------------------------------------- JSON
KEYS = ["Functions", "login", "password", "panels", "language", "timeZone", "statistics", "objectType", "objectId",
        "statisticType", "operationName", "data", "filter", "definition", "subscriptionId", "notificationMode",
        "workbinId", "interactionId", "owner", "x"]
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
                         st.sampled_from(PANELS + ["Tenant", "Agent", "Environment", "anna", "TotalNumber"]))
json_values = st.recursive(json_scalars, lambda kids: st.one_of(
    st.lists(kids, max_size=4),
    st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), kids, max_size=5)), max_leaves=20)


@st.composite
def json_bodies(draw):
    value = draw(st.one_of(json_values, st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6)))
    raw = json.dumps(value, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    mutation = draw(st.sampled_from(["none", "none", "none", "truncate", "insert", "raw"]))
    if mutation == "truncate":
        raw = raw[: draw(st.integers(0, len(raw)))]
    elif mutation == "insert":
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.binary(max_size=8)) + raw[at:]
    elif mutation == "raw":
        raw = draw(st.binary(max_size=64))
    return raw


def _check_json(name: str, r: requests.Response) -> None:
    no_traceback(r.content)
    if r.status_code >= 400:
        assert r.content, (name, r.status_code)
        json.loads(r.content)
    assert r.status_code < 500 or r.status_code == 503, (name, r.status_code, r.content[:300])


@settings(max_examples=fuzz_examples(900), **FUZZ)
@given(index=st.integers(0, 63), body=json_bodies(),
       ctype=st.sampled_from(["application/json", "application/json", "application/json; charset=utf-8", "text/json"]))
def test_fuzz_json(attack_server, fuzz_state, index, body, ctype):
    target = fuzz_state["targets"][index % len(fuzz_state["targets"])]
    r = target.send(attack_server.base_url, body, ctype)
    _check_json(target.name, r)


# --------------------------------------------------------------------------- Bayeux
CHANNELS = ["/meta/handshake", "/meta/connect", "/meta/subscribe", "/meta/unsubscribe", "/meta/disconnect",
            "/statistics/v3/service", "/statistics/v3/updates", "/workbins", "/service/x", "/a/**", "/a/*", "", "meta"]
bayeux_message = st.fixed_dictionaries({}, optional={
    "channel": st.one_of(st.sampled_from(CHANNELS), st.text(max_size=12), st.integers()),
    "clientId": st.one_of(st.text(max_size=10), st.integers(), st.none()),
    "id": st.one_of(st.text(max_size=6), st.integers(), st.lists(st.integers(), max_size=2)),
    "version": st.sampled_from(["1.0", "", "9"]),
    "supportedConnectionTypes": st.one_of(st.lists(st.sampled_from(["long-polling", "websocket", "x"])),
                                          json_scalars),
    "connectionType": st.sampled_from(["long-polling", "callback-polling", "x"]),
    "subscription": st.one_of(st.sampled_from(CHANNELS), st.lists(st.sampled_from(CHANNELS), max_size=3), json_scalars),
    "ext": json_values, "data": json_values, "advice": json_values,
})


@settings(max_examples=fuzz_examples(600), **FUZZ)
@given(path=st.sampled_from(BAYEUX_PATHS),
       batch=st.one_of(st.lists(bayeux_message, max_size=5), bayeux_message, json_values))
def test_fuzz_bayeux(attack_server, fuzz_state, path, batch):
    # never a /meta/connect for a live session: a clientId we did not get from a handshake cannot be live
    r = fuzz_state["http"].post(attack_server.base_url + path, timeout=40,
                                data=json.dumps(batch).encode("utf-8", "surrogatepass"),
                                headers={"Content-Type": "application/json"})
    _check_json(path, r)
    if r.status_code == 200:
        assert isinstance(json.loads(r.content), list)


def test_fuzzing_left_server_alive_and_data_unchanged(attack_server, fuzz_state):
    alive(attack_server)
    assert stored_data(attack_server) == fuzz_state["before"]
