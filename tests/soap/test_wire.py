"""Wire tolerance, the XML guard, SOAP faults (never an empty 500) and the served WSDL."""

from __future__ import annotations

import pytest
import requests
import zeep
from lxml import etree

from tests.soap.conftest import TNS, VENDOR_WSDL, login, post, url

NS11 = "http://schemas.xmlsoap.org/soap/envelope/"
NS12 = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://www.w3.org/2005/08/addressing"
CT = {"1.1": "text/xml; charset=utf-8", "1.2": "application/soap+xml; charset=utf-8"}


def envelope(version: str, body: str, header: str = "") -> bytes:
    ns = NS11 if version == "1.1" else NS12
    h = f"<s:Header>{header}</s:Header>" if header else ""
    return f'<s:Envelope xmlns:s="{ns}" xmlns:t="{TNS}">{h}<s:Body>{body}</s:Body></s:Envelope>'.encode()


STATS = "<t:GetStatistics><t:Functions><t:StatusScreenPanelType>Hotlist</t:StatusScreenPanelType></t:Functions></t:GetStatistics>"


def fault_of(r: requests.Response, version: str) -> tuple[str, str]:
    """(code, reason) of a SOAP fault response; fails on anything that is not a fault of ``version``."""
    assert r.status_code in (400, 405, 500), r.status_code
    assert r.content, "empty error body"
    doc = etree.fromstring(r.content)
    ns = NS11 if version == "1.1" else NS12
    assert doc.tag == f"{{{ns}}}Envelope", r.text
    f = doc.find(f"{{{ns}}}Body/{{{ns}}}Fault")
    assert f is not None, r.text
    if version == "1.1":
        return f.findtext("faultcode"), f.findtext("faultstring")
    codes = [v.text for v in f.iter(f"{{{ns}}}Value")]
    return ".".join(codes), f.findtext(f"{{{ns}}}Reason/{{{ns}}}Text")


# --------------------------------------------------------------------------- guard
@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_doctype_rejected(server, version):
    body = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaa">]>' + envelope(version, STATS)
    code, reason = fault_of(post(server, "CustomerService", body, CT[version]), version)
    assert "DtdNotAllowed" in code and "DTD" in reason


def test_billion_laughs_never_expands(server):
    ents = "".join(f'<!ENTITY l{i} "&l{i-1};&l{i-1};&l{i-1};&l{i-1};">' for i in range(1, 10))
    body = f'<!DOCTYPE d [<!ENTITY l0 "ha">{ents}]>'.encode() + envelope("1.1", "<t:GetStatistics>&l9;</t:GetStatistics>")
    assert "DtdNotAllowed" in fault_of(post(server, "CustomerService", body), "1.1")[0]


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_body_too_large(server, version):
    pad = "<!--" + "x" * 70000 + "-->"
    r = post(server, "CustomerService", envelope(version, STATS + pad), CT[version])
    code, reason = fault_of(r, version)
    assert "MessageTooLarge" in code and "65536" in reason


def test_too_deep(server):
    deep = "<t:a>" * 40 + "</t:a>" * 40
    code, reason = fault_of(post(server, "CustomerService", envelope("1.1", f"<t:GetStatistics>{deep}</t:GetStatistics>")), "1.1")
    assert "XmlTooDeep" in code and "32" in reason


@pytest.mark.parametrize("body,kind", [(b"this is not xml", "XmlSyntaxError"), (b"", "XmlSyntaxError"),
                                       (b"<a><b></a>", "XmlSyntaxError"), (b"<Foo/>", "NotAnEnvelope"), (b"<Envelope/>", "VersionMismatch")])
def test_malformed(server, body, kind):
    assert kind in fault_of(post(server, "CustomerService", body), "1.1")[0]


def test_malformed_soap12_is_a_sender_fault_in_12(server):
    r = post(server, "CustomerService", b"<nope", CT["1.2"])
    code, _ = fault_of(r, "1.2")
    assert r.status_code == 400 and code.endswith("Sender.tns:XmlSyntaxError")


def test_version_mismatch(server):
    body = b'<s:Envelope xmlns:s="urn:not-soap"><s:Body/></s:Envelope>'
    assert "VersionMismatch" in fault_of(post(server, "CustomerService", body), "1.1")[0]


@pytest.mark.parametrize("body", [b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"/>',
                                  envelope("1.1", "")])
def test_no_or_empty_body(server, body):
    assert "BadEnvelope" in fault_of(post(server, "CustomerService", body), "1.1")[0]


def test_unknown_operation_and_wrong_service(server):
    code, _ = fault_of(post(server, "CustomerService", envelope("1.1", "<t:NoSuchOp/>")), "1.1")
    assert code.startswith("soap11env:Client")
    # GetStatistics is not a SoPrincipal operation
    code, _ = fault_of(post(server, "SoPrincipal", envelope("1.2", STATS), CT["1.2"]), "1.2")
    assert "Sender" in code


def test_other_vendor_operations_answer_not_implemented(server):
    for version in ("1.1", "1.2"):
        r = post(server, "CustomerService", envelope(version, "<t:GetMailboxes/>"), CT[version])
        assert r.status_code == 200
        doc = etree.fromstring(r.content)
        assert doc.findtext(f".//{{{TNS}}}Succeeded") == "false"
        assert doc.findtext(f".//{{{TNS}}}ExceptionInfo/{{{TNS}}}ExceptionType") == "NotImplemented"
        assert doc.find(f".//{{{TNS}}}GetMailboxesResponse") is not None


def test_put_is_a_fault_and_get_is_a_page(server):
    r = requests.put(url(server, "CustomerService"), data=envelope("1.1", STATS), timeout=10)
    assert r.status_code == 405 and "MethodNotAllowed" in fault_of(r, "1.1")[0]
    g = requests.get(url(server, "CustomerService"), timeout=10)
    assert g.status_code == 200 and "?wsdl" in g.text


# --------------------------------------------------------------------------- SOAP headers on the wire
def test_unknown_must_understand_header_faults(server):
    hdr = '<x:Secret xmlns:x="urn:other" s:mustUnderstand="1">1</x:Secret>'
    for version in ("1.1", "1.2"):
        code, _ = fault_of(post(server, "CustomerService", envelope(version, STATS, hdr), CT[version]), version)
        assert "MustUnderstand" in code


def test_ws_addressing_must_understand_accepted_and_answered(server):
    ticket = login(server)
    hdr = (f'<a:Action xmlns:a="{WSA}" s:mustUnderstand="1">{TNS}/CustomerService/GetStatistics</a:Action>'
           f'<a:MessageID xmlns:a="{WSA}">urn:uuid:1b5c1d63-0000-4000-8000-000000000001</a:MessageID>'
           f'<a:To xmlns:a="{WSA}" s:mustUnderstand="1">{url(server, "CustomerService")}</a:To>'
           f'<t:Credentials><t:Ticket>{ticket}</t:Ticket></t:Credentials>')
    r = post(server, "CustomerService", envelope("1.2", STATS, hdr), CT["1.2"])
    assert r.status_code == 200, r.text
    doc = etree.fromstring(r.content)
    assert doc.findtext(f".//{{{TNS}}}Succeeded") == "true"
    assert doc.findtext(f".//{{{WSA}}}RelatesTo") == "urn:uuid:1b5c1d63-0000-4000-8000-000000000001"
    assert doc.findtext(f".//{{{WSA}}}Action") == f"{TNS}/CustomerService/GetStatisticsResponse"


def test_stray_headers_xsi_type_and_soap11(server):
    """The seed's style (headers directly under Envelope, xsi:type) in a SOAP 1.1 envelope."""
    ticket = login(server)
    body = (f'<s:Envelope xmlns:s="{NS11}" xmlns:t="{TNS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            f'<t:Credentials><t:Ticket xsi:type="xsd:string">{ticket}</t:Ticket></t:Credentials>'
            f'<s:Body>{STATS}</s:Body><t:ApplicationToken>tok</t:ApplicationToken></s:Envelope>').encode()
    r = post(server, "CustomerService", body)
    assert r.status_code == 200
    assert etree.fromstring(r.content).findtext(f".//{{{TNS}}}Succeeded") == "true"


# --------------------------------------------------------------------------- WSDL
@pytest.mark.parametrize("service", ["CustomerService", "SoPrincipal"])
def test_wsdl_and_single_wsdl(server, service):
    a = requests.get(url(server, service) + "?wsdl", timeout=10)
    b = requests.get(url(server, service) + "?singleWsdl", timeout=10)
    assert a.status_code == b.status_code == 200 and a.content == b.content
    doc = etree.fromstring(a.content)
    ports = doc.findall("{http://schemas.xmlsoap.org/wsdl/}service/{http://schemas.xmlsoap.org/wsdl/}port")
    assert [p.get("name") for p in ports] == [f"BasicHttpBinding_{service}", f"CustomBinding_{service}"]
    assert [p[0].tag.split("}")[0][1:] for p in ports] == ["http://schemas.xmlsoap.org/wsdl/soap/",
                                                         "http://schemas.xmlsoap.org/wsdl/soap12/"]
    assert {p[0].get("location") for p in ports} == {url(server, service)}
    assert not doc.xpath("//*[local-name()='import' and @schemaLocation]")  # single file


def _hdr(sig):
    """Header signatures name the SOAP envelope namespace (differs by version by design); drop it."""
    return sig.split(":Header", 1)[-1] if sig else sig


def _signature(client: zeep.Client, binding_name: str) -> dict:
    binding = client.wsdl.bindings[f"{{{TNS}}}{binding_name}"]
    out = {}
    for name, op in binding._operations.items():
        out[name] = {
            "action": op.soapaction,
            "in_body": op.input.body.signature(schema=client.wsdl.types) if op.input.body else None,
            "in_headers": _hdr(op.input.header.signature(schema=client.wsdl.types) if op.input.header else None),
            "out_body": op.output.body.signature(schema=client.wsdl.types) if op.output.body else None,
            "out_headers": _hdr(op.output.header.signature(schema=client.wsdl.types) if op.output.header else None),
        }
    return out


@pytest.mark.parametrize("service", ["CustomerService", "SoPrincipal"])
def test_our_wsdl_equivalent_to_vendors(server, service):
    ours = zeep.Client(url(server, service) + "?wsdl")
    vendor = zeep.Client(str(VENDOR_WSDL[service]))
    o = _signature(ours, f"BasicHttpBinding_{service}")
    v = _signature(vendor, f"BasicHttpBinding_{service}")
    expected_ops = {"GetStatistics"} if service == "CustomerService" else set(v)
    assert set(o) == expected_ops
    for name in o:
        assert o[name] == v[name], name
    # the SOAP 1.2 binding offers the same operations with the same messages
    o12 = _signature(ours, f"CustomBinding_{service}")
    assert o12 == o
    assert type(ours.wsdl.bindings[f"{{{TNS}}}CustomBinding_{service}"]).__name__ == "Soap12Binding"
    # every schema type the vendor declares is there, unchanged
    assert sorted(t.qname.text for t in vendor.wsdl.types.types if t.qname) == \
        sorted(t.qname.text for t in ours.wsdl.types.types if t.qname)
    assert sorted(e.qname.text for e in vendor.wsdl.types.elements) == sorted(e.qname.text for e in ours.wsdl.types.elements)
