"""services87/http/body.py: the one capped body reader, on its own and as every adapter uses it (real server)."""

from __future__ import annotations

import io

import pytest
import requests
from twisted.web.test.requesthelper import DummyRequest

from services87.http.body import declared_length, media_type, read_body
from services87.http.errors import HttpError, RequestTooLarge, UnsupportedMediaType, classify
from tests.support import ServerProcess

API_KEY = "demo-api-key"
MAX_BODY = 4096  # the server below: max_body_size


def _request(body: bytes | None, headers: dict[bytes, bytes] | None = None) -> DummyRequest:
    r = DummyRequest([b""])
    r.method = b"POST"
    r.content = io.BytesIO(body) if body is not None else None
    for name, value in (headers or {}).items():
        r.requestHeaders.setRawHeaders(name, [value])
    return r


# ---------------------------------------------------------------------------- the reader
def test_reads_a_body_at_the_limit():
    assert read_body(_request(b"x" * 10), 10) == b"x" * 10


def test_reads_from_the_start_even_after_an_earlier_read():
    r = _request(b"abc")
    r.content.read()
    assert read_body(r, 10) == b"abc"


def test_a_body_over_the_limit_is_413():
    with pytest.raises(RequestTooLarge) as e:
        read_body(_request(b"x" * 11), 10)
    assert classify(e.value).status == 413 and e.value.kind == "RequestTooLarge" and "10 bytes" in e.value.message


def test_a_declared_length_over_the_limit_is_refused_before_reading():
    r = _request(b"", {b"content-length": b"11"})
    with pytest.raises(RequestTooLarge):
        read_body(r, 10)
    assert r.content.tell() == 0  # nothing read


def test_the_kind_is_the_adapters_name_for_it():
    with pytest.raises(RequestTooLarge) as e:
        read_body(_request(b"x" * 11), 10, kind="TooLarge")
    assert e.value.kind == "TooLarge" and e.value.status == 413


@pytest.mark.parametrize("value", [b"ten", b"-1", b"1e3"])
def test_a_content_length_that_is_not_a_number_is_400(value):
    with pytest.raises(HttpError) as e:
        read_body(_request(b"", {b"content-length": value}), 10)
    assert (e.value.status, e.value.kind) == (400, "MalformedRequest")


def test_no_body_reads_as_empty():
    assert read_body(_request(None), 10) == b""
    assert declared_length(_request(None)) is None


def test_media_type_check():
    ok = _request(b"{}", {b"content-type": b"Application/JSON; charset=utf-8"})
    assert media_type(ok) == "application/json"
    assert read_body(ok, 10, media_types=("application/json",)) == b"{}"
    for ctype in (None, b"text/plain"):
        r = _request(b"{}", {b"content-type": ctype} if ctype else {})
        with pytest.raises(UnsupportedMediaType) as e:
            read_body(r, 10, media_types=("application/json", "text/json"))
        assert classify(e.value).status == 415


def test_the_media_type_is_checked_before_the_size():
    r = _request(b"x" * 100, {b"content-type": b"text/plain"})
    with pytest.raises(UnsupportedMediaType):
        read_body(r, 10, media_types=("application/json",))


# ---------------------------------------------------------------------------- every adapter
@pytest.fixture(scope="module")
def server(tmp_path_factory):
    config = f"max_body_size = {MAX_BODY}\n[genesys]\ningest_max_body = {MAX_BODY}\n"
    proc = ServerProcess(tmp_path_factory.mktemp("body"), config=config, demo_requests=50).start()
    yield proc
    proc.stop()


def test_every_adapter_answers_a_body_over_its_cap_with_413_in_its_own_format(server):
    base = server.base_url
    # over every cap involved (the Statistics API's floor is 256 KiB), under the site-wide cap
    big = b'{"x": "' + b"y" * 270000 + b'"}'
    json_headers = {"Content-Type": "application/json"}
    r = requests.post(base + "/api/v1/Agents/CustomerService/GetStatistics", data=big, headers=json_headers,
                      auth=("demo", "demo"), timeout=30)
    assert r.status_code == 413 and r.json()["ErrorType"] == "RequestTooLarge", r.text[:300]
    r = requests.post(base + "/statistics/v3/operations/get-statistic-ex", data=big,
                      headers={**json_headers, "x-api-key": API_KEY}, timeout=30)
    assert r.status_code == 413 and r.json()["status"]["detail"]["kind"] == "TooLarge", r.text[:300]
    r = requests.post(base + "/api/ingest/events", data=big, headers={**json_headers, "x-api-key": API_KEY},
                      timeout=30)
    assert r.status_code == 413 and r.json()["error"]["kind"] == "TooLarge", r.text[:300]
    r = requests.post(base + "/statuspage/api/login", data=big, headers=json_headers, timeout=30)
    assert r.status_code == 413 and r.json()["ErrorType"] == "RequestTooLarge", r.text[:300]
    r = requests.post(base + "/Remote/Services87/CustomerService.svc", data=b"<x>" + b"y" * MAX_BODY + b"</x>",
                      headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=30)
    assert b"MessageTooLarge" in r.content and b"Fault" in r.content, r.content[:300]


def test_gws_answers_a_body_over_its_cap_with_413_and_status_code_10(server):
    s = requests.Session()
    me = s.get(server.base_url + "/api/v2/me", auth=("demo", "demo"), timeout=30)
    assert me.status_code == 200, me.text
    r = s.post(server.base_url + "/api/v2/workbins", data=b"{" + b" " * (MAX_BODY + 1) + b"}",
               headers={"Content-Type": "application/json", "X-CSRF-TOKEN": me.headers["X-CSRF-TOKEN"]}, timeout=30)
    assert r.status_code == 413 and r.json()["statusCode"] == 10, r.text


def test_the_status_page_refuses_a_body_that_is_not_json_with_415(server):
    r = requests.post(server.base_url + "/statuspage/api/login", data=b"login=demo", timeout=30,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415 and r.json()["ErrorType"] == "UnsupportedMediaType", r.text
