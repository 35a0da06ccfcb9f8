"""Slow and abusive clients against a real server with short limits (``[http]`` in STRICT_CONFIG):
slowloris headers, bodies that never complete, silent connections, the connection cap, oversized bodies,
malformed requests — each cut off or refused with a typed answer, the server alive after."""

from __future__ import annotations

import json
import socket
import time

import requests

from tests.hostile.conftest import alive, body_of, raw_request, read_all, status_of, typed_json
from tests.support import wait_until


def _connect(proc, timeout=10.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", proc.port), timeout=timeout)


def test_slowloris_headers_are_cut_off(strict_server):
    """Headers dribbled one byte every 0.2 s: the server answers 408 and closes after header_timeout (1 s)
    although the client never stops sending."""
    head = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 200
    started = time.monotonic()
    closed_after = None
    answer = b""
    with _connect(strict_server) as s:
        s.settimeout(0.01)
        for byte in head:
            try:
                s.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - started
                break
            try:
                chunk = s.recv(4096)
                answer += chunk
                if not chunk:
                    closed_after = time.monotonic() - started
                    break
            except socket.timeout:
                pass
            except ConnectionResetError:
                closed_after = time.monotonic() - started
                break
            time.sleep(0.2)
            if time.monotonic() - started > 10:
                break
    assert closed_after is not None, "the slow client was never cut off"
    assert closed_after < 5, closed_after
    assert status_of(answer) == 408, answer
    assert json.loads(body_of(answer))["ErrorType"] == "RequestTimeout"
    alive(strict_server)


def test_silent_connection_is_closed(strict_server):
    started = time.monotonic()
    with _connect(strict_server) as s:
        raw = read_all(s, 8)
    assert time.monotonic() - started < 5
    assert status_of(raw) == 408


def test_body_that_never_completes_is_cut_off(strict_server):
    """Content-Length 1000, 10 bytes sent, then silence: 408 after body_timeout (2 s)."""
    started = time.monotonic()
    raw = raw_request(strict_server.port, b"POST /api/ingest/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"x-api-key: demo-api-key\r\nContent-Length: 1000\r\n\r\n{\"events\":", timeout=10)
    took = time.monotonic() - started
    assert 1.5 < took < 6, took
    assert status_of(raw) == 408 and json.loads(body_of(raw))["ErrorType"] == "RequestTimeout"


def test_body_dribbled_slowly_is_cut_off(strict_server):
    """A body sent one byte every 0.3 s never beats the body deadline, however steady it is."""
    started = time.monotonic()
    with _connect(strict_server) as s:
        s.sendall(b"POST /api/ingest/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100\r\n\r\n")
        answer = b""
        s.settimeout(0.3)
        for _ in range(40):
            try:
                s.sendall(b" ")
                chunk = s.recv(4096)
                if not chunk:
                    break
                answer += chunk
            except socket.timeout:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
    assert time.monotonic() - started < 8
    assert status_of(answer) == 408


def test_connection_cap_refuses_politely_and_recovers(strict_server):
    """max_connections = 6: six open connections, the seventh gets a JSON 503 with Retry-After; once they
    close, requests are served again."""
    held = [_connect(strict_server) for _ in range(6)]
    try:
        # the six are accepted by the server a moment later (a loaded machine may take a while): poll, no sleep
        answers: list[bytes] = []

        def refused() -> bool:
            answers.append(raw_request(strict_server.port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5))
            return status_of(answers[-1]) == 503

        wait_until(refused, 20, "a seventh connection refused", interval=0.1, details=lambda: repr(answers[-1][:300]))
        raw = answers[-1]
        assert b"Retry-After: " in raw
        assert json.loads(body_of(raw))["ErrorType"] == "TooManyConnections"
    finally:
        for s in held:
            s.close()
    wait_until(strict_server.serves, 20, "the server serving again after the connections closed", interval=0.1)


def test_content_length_over_cap_refused_before_reading(strict_server):
    started = time.monotonic()
    raw = raw_request(strict_server.port, b"POST /api/v1/Agents/CustomerService/GetStatistics HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 5000000000\r\n\r\n{", timeout=10)
    assert time.monotonic() - started < 8  # the client waits 10 s; a server waiting for the body would say 408
    assert status_of(raw) == 413
    assert json.loads(body_of(raw))["ErrorType"] == "RequestTooLarge"


def test_chunked_body_over_cap_cut_off(strict_server):
    with _connect(strict_server) as s:
        s.sendall(b"POST /api/ingest/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b" " * 65536
        try:
            for _ in range(64):  # 4 MiB; the cap is about 1.1 MiB
                s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except (BrokenPipeError, ConnectionResetError):
            pass
        raw = read_all(s, 10)
    assert status_of(raw) == 413, raw[:300]


def test_malformed_request_head_gets_typed_400(strict_server):
    for head in (b"GARBAGE\r\n\r\n", b"GET /health HTTP/1.1\r\nNo colon here\r\n\r\n",
                 b"GET /health HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                 b"GET /health HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
                 b"GET /health HTTP/1.1\r\n" + b"".join(b"X-H%d: 1\r\n" % i for i in range(600)) + b"\r\n"):
        raw = raw_request(strict_server.port, head, timeout=5)
        assert status_of(raw) == 400, (head[:40], raw[:200])
        assert json.loads(body_of(raw))["ErrorType"] == "BadRequest"


def test_unsupported_method_is_typed_not_html(strict_server):
    r = requests.request("DELETE", strict_server.base_url + "/health", timeout=5)
    assert r.status_code == 405 and r.headers["allow"]
    assert typed_json(r)["ErrorType"] == "MethodNotAllowed"
    r = requests.request("BREW", strict_server.base_url + "/health", timeout=5)
    assert r.status_code in (405, 501)
    typed_json(r)


def _complete(answer: bytes) -> bool:
    """A whole HTTP/1.1 answer: its head, and its body by Content-Length or chunked framing."""
    if b"\r\n\r\n" not in answer:
        return False
    head, body = answer.split(b"\r\n\r\n", 1)
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return body.endswith(b"0\r\n\r\n")


def test_keepalive_idle_connection_closed_then_new_requests_fine(strict_server):
    """idle_timeout = 3: a kept-alive connection answered twice, then silent, is closed by the server about 3 s
    after its last answer (not at once, not never); new connections are served as before."""
    with _connect(strict_server, timeout=60) as s:
        for _ in range(2):
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while not _complete(answer):
                answer += s.recv(4096)
            assert status_of(answer) == 200
        answered = time.monotonic()
        assert read_all(s, 60) == b""  # nothing more: the server closed the connection
        idle_for = time.monotonic() - answered
    # the lower bound holds on any machine (the server's timer starts before the client reads the answer, so
    # only a client that read it late sees less than 3 s); a server that never closed would have hit the 60 s
    assert 1.5 <= idle_for < 60, idle_for
    assert requests.get(strict_server.base_url + "/health", timeout=10).status_code == 200
    alive(strict_server)
