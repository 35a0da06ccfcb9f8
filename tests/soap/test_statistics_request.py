"""The fast GetStatistics reader gives what Spyne's deserialization gives, or declines (then Spyne reads it).

Spyne's side is the real thing: the application the endpoint uses, deserializing the canonical envelope
the endpoint hands it. Requests are generated: headers present or not, texts with XML specials, unicode and
spaces, time zone ids that are and are not int32 decimals, panel names known and unknown, and odd shapes
(attributes such as xsi:nil, unknown or repeated elements, comments, empty or nested elements), in SOAP
1.1 and 1.2. Plain requests must be read (so the fast path is used at all).
"""

from __future__ import annotations

from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from lxml import etree

from services87.soap import compat, endpoint, envelope, guard
from services87.soap import statistics_request
from services87.soap.models import TNS

compat.apply()

from spyne import MethodContext  # noqa: E402
from spyne.server import ServerBase  # noqa: E402

from services87.soap.services import build_application  # noqa: E402

_SERVERS = {v: ServerBase(build_application(None, "CustomerService", v)) for v in ("1.1", "1.2")}
_CT = {"1.1": "text/xml; charset=utf-8", "1.2": "application/soap+xml; charset=utf-8"}
XSI = "http://www.w3.org/2001/XMLSchema-instance"


def spyne_read(canonical: bytes, version: str):
    srv = _SERVERS[version]
    ctx = MethodContext(srv, MethodContext.SERVER)
    ctx.in_string = [canonical]
    return endpoint.spyne_read(srv, ctx)

def plain(read):
    """Spyne objects -> comparable values."""
    (token, credentials, tz), functions = read
    return ((token, None if credentials is None else credentials.Ticket,
             None if tz is None else (tz.SoTimeZoneId, tz.SoTimeZoneLocationCode)),
            None if functions is None else list(functions))


def both(body: str, version: str):
    raw = body.encode()
    root = guard.parse(raw, 1 << 20, 64, _CT[version])
    soap = envelope.normalize(root, _CT[version])
    canonical = etree.tostring(root, xml_declaration=True, encoding="utf-8")
    return statistics_request.read(root, soap.version), spyne_read(canonical, version)


def envelope_of(version: str, header: str | None, body: str) -> str:
    ns = envelope.VERSION_NS[version]
    h = f"<s:Header>{header}</s:Header>" if header is not None else ""
    return f'<s:Envelope xmlns:s="{ns}" xmlns="{TNS}" xmlns:xsi="{XSI}">{h}<s:Body>{body}</s:Body></s:Envelope>'


text = st.one_of(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12),
                 st.sampled_from(["<&>\"'", " spaces ", "Europe/Oslo", "NOR", "Hotlist", "日本語", "a\tb"]))
panel = st.one_of(st.sampled_from(["OpenRequestsPerStatus", "Hotlist", "StatusScreen", "7", "102", "nope",
                                   " Hotlist ", "hotlist"]), text)
tz_id = st.one_of(st.integers(0, 2 ** 31 - 1).map(str), st.integers(2 ** 31, 2 ** 40).map(str),
                  st.sampled_from(["+5", "-1", " 5", "05", "5 ", "abc", "1e3", "٣"]))


@st.composite
def requests(draw):
    parts = []
    if draw(st.booleans()):
        parts.append(f"<ApplicationToken>{escape(draw(text))}</ApplicationToken>")
    if draw(st.booleans()):
        parts.append(f"<Credentials><Ticket>{escape(draw(text))}</Ticket></Credentials>")
    if draw(st.booleans()):
        inner = ""
        if draw(st.booleans()):
            inner += f"<SoTimeZoneId>{escape(draw(tz_id))}</SoTimeZoneId>"
        if draw(st.booleans()):
            inner += f"<SoTimeZoneLocationCode>{escape(draw(text))}</SoTimeZoneLocationCode>"
        parts.append(f"<TimeZone>{inner}</TimeZone>")
    items = "".join(f"<StatusScreenPanelType>{escape(p)}</StatusScreenPanelType>"
                    for p in draw(st.lists(panel, min_size=1, max_size=5)))
    body = f"<GetStatistics><Functions>{items}</Functions></GetStatistics>"
    header = "".join(draw(st.permutations(parts))) if parts or draw(st.booleans()) else None
    odd = draw(st.sampled_from([None, "nil", "unknown-header", "repeat", "comment", "empty-ticket", "nested",
                                "attr", "empty-functions", "no-functions", "text-in-functions"]))
    if odd == "nil":
        header = (header or "") + '<TimeZone xsi:nil="true"/>'
    elif odd == "unknown-header":
        header = (header or "") + "<Other>x</Other>"
    elif odd == "repeat":
        header = (header or "") + "<ApplicationToken>a</ApplicationToken><ApplicationToken>b</ApplicationToken>"
    elif odd == "comment":
        body = body.replace("<Functions>", "<Functions><!-- c -->")
    elif odd == "empty-ticket":
        header = (header or "") + "<Credentials><Ticket/></Credentials>"
    elif odd == "nested":
        body = body.replace("</Functions>", "<StatusScreenPanelType><b>x</b></StatusScreenPanelType></Functions>")
    elif odd == "attr":
        body = body.replace("<Functions>", '<Functions foo="1">')
    elif odd == "empty-functions":
        body = "<GetStatistics><Functions/></GetStatistics>"
    elif odd == "no-functions":
        body = "<GetStatistics/>"
    elif odd == "text-in-functions":
        body = body.replace("<Functions>", "<Functions>text")
    return header, body, odd


@pytest.mark.parametrize("version", ["1.1", "1.2"])
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(req=requests())
def test_the_fast_reader_equals_spyne_or_declines(version, req):
    header, body, _odd = req
    fast, spyne = both(envelope_of(version, header, body), version)
    if fast is not None:
        assert spyne is not None, "Spyne refuses what the fast reader accepted"
        assert plain(fast) == plain(spyne)


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_plain_requests_are_read(version):
    header = ("<ApplicationToken>app</ApplicationToken><Credentials><Ticket>7T:abc==</Ticket></Credentials>"
              "<TimeZone><SoTimeZoneId>123</SoTimeZoneId><SoTimeZoneLocationCode>NOR</SoTimeZoneLocationCode>"
              "</TimeZone>")
    body = ("<GetStatistics><Functions><StatusScreenPanelType>Hotlist</StatusScreenPanelType>"
            "<StatusScreenPanelType>StatusScreen</StatusScreenPanelType></Functions></GetStatistics>")
    for h in (header, None, "<Credentials><Ticket>t</Ticket></Credentials>"):
        fast, spyne = both(envelope_of(version, h, body), version)
        assert fast is not None and plain(fast) == plain(spyne)
    fast, _ = both(envelope_of(version, header, body), version)
    assert plain(fast) == (("app", "7T:abc==", (123, "NOR")), ["Hotlist", "StatusScreen"])


@pytest.mark.parametrize("odd", ['<TimeZone xsi:nil="true"/>', "<Other/>", "<Credentials><Ticket/></Credentials>"])
def test_odd_requests_go_to_spyne(odd):
    body = "<GetStatistics><Functions><StatusScreenPanelType>Hotlist</StatusScreenPanelType></Functions></GetStatistics>"
    fast, _ = both(envelope_of("1.1", odd, body), "1.1")
    assert fast is None
