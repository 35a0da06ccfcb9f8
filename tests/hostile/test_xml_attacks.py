"""XML attacks against the SOAP endpoints of a real server: each one is answered with a typed SOAP Client/Sender
fault of the request's SOAP version, the server stays alive and its memory stays flat.

Plain DOCTYPE / billion laughs / depth / size / malformed basics are in tests/soap/test_wire.py; this module
covers the rest of the attack catalogue and measures memory across all of it.
"""

from __future__ import annotations

import socket
import time

import pytest
import requests

from tests.hostile.conftest import (CT, alive, body_of, envelope, no_traceback, raw_request, record_timing, rss_kb,
                                    soap_fault, soap_url, status_of, stored_data)

STATS = "<t:GetStatistics><t:Functions><t:StatusScreenPanelType>Hotlist</t:StatusScreenPanelType></t:Functions></t:GetStatistics>"


def _laughs(levels: int = 10, fan: int = 10) -> str:
    ents = "".join(f'<!ENTITY l{i} "{("&l%d;" % (i - 1)) * fan}">' for i in range(1, levels))
    return f'<!DOCTYPE s:Envelope [<!ENTITY l0 "lol">{ents}]>'


def attacks(version: str) -> dict[str, tuple[bytes, str]]:
    """name -> (body, expected fault kind)."""
    env = envelope(version, STATS)
    e = lambda body: envelope(version, body)  # noqa: E731
    quadratic = '<!DOCTYPE s:Envelope [<!ENTITY a "' + "x" * 20000 + '">]>'
    return {
        "billion-laughs": ((_laughs() + e("<t:GetStatistics>&l9;</t:GetStatistics>")).encode(), "DtdNotAllowed"),
        "quadratic-blowup": ((quadratic + e("<t:GetStatistics>" + "&a;" * 2000 + "</t:GetStatistics>")).encode(),
                             "DtdNotAllowed"),
        "xxe-file": (('<!DOCTYPE s:Envelope [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                      + e("<t:GetStatistics>&x;</t:GetStatistics>")).encode(), "DtdNotAllowed"),
        "xxe-http": (('<!DOCTYPE s:Envelope [<!ENTITY x SYSTEM "http://127.0.0.1:9/evil">]>'
                      + e("<t:GetStatistics>&x;</t:GetStatistics>")).encode(), "DtdNotAllowed"),
        "parameter-entity": (('<!DOCTYPE s:Envelope [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]>'
                              + env).encode(), "DtdNotAllowed"),
        "external-dtd": (('<!DOCTYPE s:Envelope SYSTEM "http://127.0.0.1:9/x.dtd">' + env).encode(), "DtdNotAllowed"),
        "doctype-lowercase-spaced": (("<! doctype s:Envelope>" + env).encode(), "DtdNotAllowed"),
        "doctype-utf16": (('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE s:Envelope [<!ENTITY a "b">]>'
                           + env).encode("utf-16"), "DtdNotAllowed|EncodingMismatch"),
        "depth-33": (e("<t:GetStatistics>" + "<t:a>" * 40 + "</t:a>" * 40 + "</t:GetStatistics>").encode(),
                     "XmlTooDeep"),
        "depth-20000": (e("<a>" * 20000).encode(), "XmlTooDeep"),
        "too-large": (e(STATS + "<!--" + "x" * 70000 + "-->").encode(), "MessageTooLarge"),
        "huge-attribute": (e(f'<t:GetStatistics x="{"y" * 63000}"/>').encode(), None),
        "many-attributes": (e("<t:GetStatistics " + " ".join(f'a{i}="1"' for i in range(5000)) + "/>").encode(),
                            None),
        "latin1-declared": (('<?xml version="1.0" encoding="ISO-8859-1"?>' + e("<t:GetStatistics>\u00e9</t:GetStatistics>"))
                            .encode("latin-1"), "UnsupportedEncoding"),
        "utf8-declared-latin1-bytes": (('<?xml version="1.0" encoding="UTF-8"?>'
                                        + e("<t:GetStatistics>\u00e9\u00e9</t:GetStatistics>")).encode("latin-1"),
                                       "EncodingMismatch"),
        "utf16-declared-utf8-bytes": (('<?xml version="1.0" encoding="UTF-16"?>' + env).encode(), "EncodingMismatch"),
        "utf32": (env.encode("utf-32"), "UnsupportedEncoding"),
        "ebcdic": (('<?xml version="1.0" encoding="cp037"?>' + env).encode("cp037"), "UnsupportedEncoding"),
        "utf7": (('<?xml version="1.0" encoding="UTF-7"?>' + env).encode(), "UnsupportedEncoding"),
        "truncated": (env.encode()[: len(env) // 2], "XmlSyntaxError"),
        "truncated-in-tag": (env.encode()[:30], "XmlSyntaxError"),
        "nul-bytes": (env.encode().replace(b"Hotlist", b"Hot\x00list"), "XmlSyntaxError|EncodingMismatch"),
        "binary-garbage": (bytes(range(256)) * 8, "XmlSyntaxError|EncodingMismatch|UnsupportedEncoding"),
        "unclosed-cdata": (e("<t:GetStatistics><![CDATA[abc").encode(), "XmlSyntaxError"),
        "lone-surrogate-charref": (e("<t:GetStatistics>&#xD800;</t:GetStatistics>").encode(), "XmlSyntaxError"),
        "undefined-entity": (e("<t:GetStatistics>&nope;</t:GetStatistics>").encode(), "XmlSyntaxError"),
        "processing-instruction-stylesheet": (('<?xml-stylesheet href="http://127.0.0.1:9/x.xsl"?>' + env).encode(),
                                              None),
        "xinclude": (e('<t:GetStatistics><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" '
                       'href="file:///etc/passwd" parse="text"/></t:GetStatistics>').encode(), None),
    }


VERSIONS = ["1.1", "1.2"]
NAMES = list(attacks("1.1"))


@pytest.fixture(scope="module")
def baseline(attack_server):
    """RSS and stored data before the attacks; the last test of the module compares."""
    for _ in range(20):  # warm up: caches, thread pool, Spyne
        requests.post(soap_url(attack_server), data=envelope("1.1", STATS), headers={"content-type": CT["1.1"]},
                      timeout=10)
    return {"rss": rss_kb(attack_server.proc.pid), "data": stored_data(attack_server)}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", NAMES)
def test_attack_gets_a_typed_fault(attack_server, baseline, request, name, version):
    body, kind = attacks(version)[name]
    started = time.perf_counter()
    r = requests.post(soap_url(attack_server), data=body, headers={"content-type": CT[version]}, timeout=30)
    record_timing(request, f"{name}/{version}", time.perf_counter() - started)
    no_traceback(r.content)
    assert b"root:" not in r.content  # /etc/passwd never leaks
    if kind is None:  # harmless constructs: answered normally or as a SOAP fault, never expanded or fetched
        assert r.status_code in (200, 400, 500), r.status_code
        assert r.content.lstrip().startswith((b"<", b"\xef\xbb\xbf<")), r.content[:200]
        return
    code, reason = soap_fault(r, version)
    assert any(k in code for k in kind.split("|")), (code, reason)
    assert ("Client" in code) if version == "1.1" else ("Sender" in code), code


@pytest.mark.parametrize("name", ["billion-laughs", "xxe-file", "depth-33", "truncated", "latin1-declared",
                                  "quadratic-blowup"])
def test_fault_follows_the_envelope_not_a_lying_content_type(attack_server, name):
    """A SOAP 1.2 envelope sent as text/xml (1.1) gets a 1.2 fault: the envelope's namespace decides."""
    body, kind = attacks("1.2")[name]
    r = requests.post(soap_url(attack_server), data=body, headers={"content-type": "text/xml"}, timeout=30)
    code, _ = soap_fault(r, "1.2")
    assert "Sender" in code and any(k in code for k in kind.split("|")), code


@pytest.mark.parametrize("version", VERSIONS)
def test_content_length_over_cap_is_refused_before_the_body(attack_server, version):
    """A 10 MB Content-Length is answered at once with the guard's fault; the body is never read."""
    head = (f"POST /Remote/Services87/CustomerService.svc HTTP/1.1\r\nHost: x\r\nContent-Type: {CT[version]}\r\n"
            f"Content-Length: 10000000\r\n\r\n").encode()
    started = time.monotonic()
    raw = raw_request(attack_server.port, head + b"<s:Envelope", timeout=10)
    assert time.monotonic() - started < 5
    assert status_of(raw) in (400, 500)
    assert b"MessageTooLarge" in body_of(raw) and (b"Sender" in raw if version == "1.2" else b"Client" in raw)


def test_chunked_body_over_cap_is_cut_off_while_reading(attack_server):
    """No Content-Length: the chunked body is counted as it arrives and refused past the cap."""
    with socket.create_connection(("127.0.0.1", attack_server.port), timeout=10) as s:
        s.sendall(b"POST /Remote/Services87/CustomerService.svc HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: text/xml\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"<!--" + b"x" * 8188 + b"-->"
        sent = 0
        try:
            for _ in range(64):  # up to 512 KiB; the cap is 64 KiB
                s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        from tests.hostile.conftest import read_all

        raw = read_all(s, 10)
    assert raw, f"no answer after {sent} bytes"
    assert status_of(raw) == 500 and b"MessageTooLarge" in raw, raw[:400]


def test_attacks_left_memory_flat_data_unchanged_and_server_alive(attack_server, baseline):
    """Runs after the attack matrix (module order): RSS grew by less than a generous 64 MiB."""
    alive(attack_server)
    grown = rss_kb(attack_server.proc.pid) - baseline["rss"]
    print(f"RSS before attacks {baseline['rss']} KiB, growth {grown} KiB")
    assert grown < 64 * 1024, f"RSS grew by {grown} KiB"
    assert stored_data(attack_server) == baseline["data"]
