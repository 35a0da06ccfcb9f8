"""Hostile JSON against every JSON endpoint (REST, ingest, Genesys statistics, GWS, status page) and Bayeux
message arrays: a typed 4xx error in the endpoint's own format, never a 500, never a traceback; data unchanged."""

from __future__ import annotations

import json
import time

import pytest
import requests

from tests.hostile.conftest import alive, no_traceback, record_timing, stored_data
from tests.hostile.json_targets import BAYEUX_PATHS, targets

ATTACKS: dict[str, bytes] = {
    "nan": b'{"a": NaN}',
    "infinity": b'{"a": -Infinity}',
    "huge-float": b'{"a": 1e999}',
    "huge-int": b'{"a": ' + b"9" * 5000 + b"}",
    "deep-arrays": b"[" * 5000 + b"]" * 5000,
    "deep-objects": b'{"a":' * 3000 + b"1" + b"}" * 3000,
    "depth-33": b'{"a":' + b"[" * 33 + b"]" * 33 + b"}",
    "duplicate-keys": b'{"events": [], "events": [1]}',
    "invalid-utf8": b'{"a": "\xff\xfe"}',
    "overlong-utf8": b'{"a": "\xc0\xaf"}',
    "lone-surrogate": b'{"a": "\\ud800"}',
    "lone-surrogate-key": b'{"\\udfff": 1}',
    "nul-in-string": b'{"a": "x\\u0000y"}',
    "bom-utf16": '{"a": 1}'.encode("utf-16"),
    "top-level-array": b"[1, 2, 3]",
    "top-level-string": b'"hello"',
    "top-level-null": b"null",
    "truncated": b'{"events": [{"id": "x", "ty',
    "trailing-garbage": b'{"a": 1} {"b": 2}',
    "empty": b"",
    "whitespace": b" \r\n\t ",
    "wrong-types": b'{"events": "all", "login": 5, "password": [], "panels": {"x": 1}, "Functions": 7}',
    "unknown-fields": b'{"zzz": 1, "__proto__": {"admin": true}, "constructor": null}',
    "long-string": b'{"a": "' + b"x" * 200000 + b'"}',
    "many-keys": b"{" + b",".join(b'"k%d": %d' % (i, i) for i in range(20000)) + b"}",
    "control-chars": b'{"a": "\x01\x02"}',
    "single-quotes": b"{'a': 1}",
}


@pytest.fixture(scope="module")
def json_targets(attack_server):
    return targets(attack_server)


@pytest.fixture(scope="module")
def before(attack_server):
    return stored_data(attack_server)


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_json_attack_gets_typed_4xx_everywhere(attack_server, json_targets, before, request, attack):
    body = ATTACKS[attack]
    for target in json_targets:
        started = time.perf_counter()
        r = target.send(attack_server.base_url, body)
        record_timing(request, f"{attack}/{target.name}", time.perf_counter() - started)
        no_traceback(r.content)
        assert r.status_code < 500, (target.name, r.status_code, r.content[:300])
        if r.status_code >= 400:
            assert r.content and json.loads(r.content), (target.name, r.content[:300])


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_bayeux_attack_gets_a_typed_answer(attack_server, attack):
    for path in BAYEUX_PATHS:
        r = requests.post(attack_server.base_url + path, data=ATTACKS[attack],
                          headers={"Content-Type": "application/json"}, timeout=30)
        no_traceback(r.content)
        assert r.status_code < 500, (path, r.status_code, r.content[:300])
        reply = json.loads(r.content)  # Bayeux answers JSON (successful:false) even for garbage
        assert reply is not None


@pytest.mark.parametrize("body", [
    b'[{"channel": "/meta/handshake", "version": "1.0", "channel": "/meta/handshake"}]',  # duplicate key
    b'[{"channel": "/meta/handshake", "version": "1.0", "ext": {"x": "\\ud800"}}]',  # lone surrogate
    b'[{"channel": "/meta/handshake", "version": "1.0", "ext": ' + b"[" * 40 + b"]" * 40 + b"}]",  # depth 41
])
def test_bayeux_endpoints_parse_with_the_host_guard(attack_server, body):
    """The Bayeux servers of the adapters get the host's JSON guard through their settings: what the guard refuses
    (and the standard library would accept) is a Bayeux body error, not a handshake."""
    for path in BAYEUX_PATHS:
        r = requests.post(attack_server.base_url + path, data=body, headers={"Content-Type": "application/json"},
                          timeout=30)
        assert r.status_code == 400 and r.json()[0]["error"] == "400::Malformed JSON", (path, r.content[:300])


def test_json_attacks_changed_no_data(attack_server, before):
    alive(attack_server)
    assert stored_data(attack_server) == before
