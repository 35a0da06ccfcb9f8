"""Every error of the REST twin is a typed JSON envelope with the right status, never a bare 500 or a trace."""

from __future__ import annotations

import json
import socket

import pytest
import requests

from tests.rest.conftest import PATH, assert_error, stats


@pytest.mark.parametrize("body,ctype,kind", [
    ('{"Functions": ["NoSuchPanel"]}', "application/json", "UnknownPanel"),
    ('{"Functions": [4242]}', "application/json", "UnknownPanel"),
    ('{"Functions": [3.5]}', "application/json", "UnknownPanel"),
    ('{"Functions": [true]}', "application/json", "UnknownPanel"),
    ('{"Functions": [null]}', "application/json", "UnknownPanel"),
    ('{"Functions": [{"a": 1}]}', "application/json", "UnknownPanel"),
    ('{"Functions": "OpenRequestsPerUser"}', "application/json", "MalformedRequest"),
    ('["OpenRequestsPerUser"]', "application/json", "MalformedRequest"),
    ('{"Functions": [', "application/json", "MalformedRequest"),
    ('{"Functions": [NaN]}', "text/json", "MalformedRequest"),
    ("[" * 100000 + "]" * 100000, "application/json", "RequestTooLarge"),
    ("[" * 30000 + "]" * 30000, "application/json", "MalformedRequest"),
    ("", "application/json", "MalformedRequest"),
    ("Functions=Bogus", "application/x-www-form-urlencoded", "UnknownPanel"),
    ("<GetStatistics><Functions><x>Bogus</x></Functions></GetStatistics>", "text/xml", "UnknownPanel"),
    ("<GetStatistics><Functions>", "application/xml", "MalformedRequest"),
    ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><r><Functions>&a;</Functions></r>', "text/xml",
     "MalformedRequest"),
    ("<a>" * 40 + "</a>" * 40, "application/xml", "MalformedRequest"),
    ('{"Functions": [' + ",".join(["3"] * 101) + "]}", "application/json", "TooManyFunctions"),
])
def test_bad_bodies_are_400(rest_server, body, ctype, kind):
    r = stats(rest_server, data=body.encode(), headers={"Content-Type": ctype})
    status = 413 if kind == "RequestTooLarge" else 400
    assert_error(r, status, kind)


def test_bad_utf8_is_400(rest_server):
    r = stats(rest_server, data=b'{"Functions": ["\xff\xfe"]}', headers={"Content-Type": "application/json"})
    assert_error(r, 400, "MalformedRequest")


@pytest.mark.parametrize("ctype", [None, "text/plain", "application/octet-stream", "application/jsonx"])
def test_unsupported_content_type_is_415(rest_server, ctype):
    headers = {"Content-Type": ctype} if ctype else {}
    r = stats(rest_server, data=b'{"Functions": [3]}', headers=headers)
    if ctype is None:
        assert r.request.headers.get("Content-Type") is None
    assert_error(r, 415, "UnsupportedMediaType")


def test_multipart_is_415(rest_server):
    r = stats(rest_server, files={"Functions": (None, "3")})
    assert r.request.headers["Content-Type"].startswith("multipart/form-data")
    assert_error(r, 415, "UnsupportedMediaType")


def test_malformed_multipart_is_a_typed_415(rest_server):
    # Twisted used to parse multipart POST bodies itself and answer a broken one with a bare, empty 400.
    r = stats(rest_server, data=b"--xyz\r\nnot a part at all",
              headers={"Content-Type": "multipart/form-data"})  # no boundary: not parseable as multipart
    assert_error(r, 415, "UnsupportedMediaType")


def test_body_over_the_limit_is_413(rest_server):
    big = json.dumps({"Functions": [3], "pad": "x" * 70000})
    assert_error(stats(rest_server, data=big, headers={"Content-Type": "application/json"}), 413, "RequestTooLarge")
    # Chunked (no Content-Length) bodies are measured too.
    chunks = iter([b'{"Functions": [3], "pad": "', b"x" * 70000, b'"}'])
    r = stats(rest_server, data=chunks, headers={"Content-Type": "application/json"})
    assert r.request.headers.get("Transfer-Encoding") == "chunked"
    assert_error(r, 413, "RequestTooLarge")


def test_not_found_is_404_json(rest_server):
    for path in ("/api/v1/Agents/CustomerService/NoSuchMethod", "/api/v1/nothing", "/api/v1/Agents",
                 "/api/v9/x", "/auth/v3/oauth/nope"):
        r = requests.post(rest_server.base_url + path, json={}, timeout=30)
        assert r.status_code == 404, path
        assert r.json()["Error"] is True if path.startswith("/api") else r.json()["error"] == "not_found"


def test_case_insensitive_route(rest_server):
    r = stats(rest_server, [3], url_path="/api/v1/agents/customerservice/GETSTATISTICS")
    assert r.status_code == 200
    assert stats(rest_server, [3], url_path=PATH + "/").status_code == 200


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_wrong_method_is_405_with_allow(rest_server, method):
    r = requests.request(method, rest_server.base_url + PATH, timeout=30)
    body = assert_error(r, 405, "MethodNotAllowed")
    assert r.headers["Allow"] == "POST" and method in body["Message"]
    r = requests.put(rest_server.base_url + "/api/v1/session", timeout=30)
    assert r.status_code == 405 and set(r.headers["Allow"].split(", ")) >= {"GET", "POST", "DELETE"}


def test_non_utf8_path_is_400(rest_server):
    with socket.create_connection(("127.0.0.1", rest_server.port), timeout=10) as sock:
        sock.sendall(b"POST /api/v1/Agents/%FF%FE HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and b"application/json" in head
    assert b"Traceback" not in body


def test_store_failure_is_a_typed_error_and_never_a_trace(tmp_path):
    """Break the database under a running server: the answer is a JSON error with an id, never a stack trace."""
    import sqlalchemy as sa

    from tests.rest.conftest import bearer
    from tests.support import ServerProcess

    proc = ServerProcess(tmp_path / "broken", demo=False, env={"S87_TEST_PW": "pw"}).start()
    try:
        proc.cli("users", "add", "pw", "--password-env", "S87_TEST_PW")
        auth = {"Authorization": "Bearer " + bearer(proc, "pw")}
        assert stats(proc, ["OpenRequestsPerUser"], auth=None, headers=auth).status_code == 200
        engine = sa.create_engine(proc.db)  # the server's own store: a SQLite file or a PostgreSQL database
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE open_counts"))
            conn.execute(sa.text("DROP TABLE requests CASCADE" if engine.dialect.name == "postgresql"
                                 else "DROP TABLE requests"))
        engine.dispose()
        r = stats(proc, ["OpenRequestsPerCategory", "Hotlist", "NumberOfCreatedRequestsPerMonth"], auth=None,
                  headers=auth)
        body = assert_error(r, 500, "InternalServerError")
        assert body["ErrorId"] in proc.log()
        assert body["ErrorId"] == r.headers["X-Request-Id"]  # the id the client saw names the log lines
        assert "Traceback" in proc.log()  # the cause is logged on the server, never sent to the client
    finally:
        proc.stop()
