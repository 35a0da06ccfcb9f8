"""Batch decoding and reply helpers."""

import pytest

from services87.bayeux.errors import BayeuxError
from services87.bayeux.protocol import (BatchError, decode_batch, encode, error_reply, new_token,
                                        valid_token)


def decode(body, max_size=1000, max_batch=3):
    return decode_batch(body, max_size=max_size, max_batch=max_batch)


def test_decode_array_object_and_form():
    assert decode(b'[{"channel":"/a"}]') == [{"channel": "/a"}]
    assert decode(b'{"channel":"/a"}') == [{"channel": "/a"}]
    assert decode("message=%5B%7B%22channel%22%3A%22%2Fa%22%7D%5D") == [{"channel": "/a"}]
    assert decode(b"[1,2]") == [1, 2]


@pytest.mark.parametrize("body, status, error", [
    (b"", 400, "400::Malformed JSON"), (b"[", 400, "400::Malformed JSON"), (b"\xff", 400, "400::Malformed JSON"),
    (b"[]", 400, "400::Empty message batch"), (b"[1,2,3,4]", 413, "413::Too many messages in batch"),
    (b"[" * 5000, 400, "400::Malformed JSON"), (b" " * 1001, 413, "413::Message too large"),
])
def test_decode_errors(body, status, error):
    with pytest.raises(BatchError) as info:
        decode(body, max_size=10000 if body.startswith(b"[[") else 1000)
    assert info.value.http_status == status and info.value.error == error


def test_error_reply_echoes_usable_fields():
    error = BayeuxError(403, "Subscription denied", args=["/x"], advice={"reconnect": "none"})
    reply = error_reply({"channel": "/meta/subscribe", "id": "4", "clientId": "c", "subscription": "/x"}, error)
    assert reply == {"channel": "/meta/subscribe", "id": "4", "clientId": "c", "subscription": "/x",
                     "successful": False, "error": "403:/x:Subscription denied", "advice": {"reconnect": "none"}}
    assert error_reply(7, error)["channel"] == "/meta/error"
    assert "id" not in error_reply({"id": {"x": 1}}, error)


def test_tokens_and_encoding():
    token = new_token()
    assert valid_token(token) and not valid_token("short") and not valid_token("a;b=c" * 3)
    assert not valid_token(None)
    assert encode([{"a": "æ"}]) == '[{"a":"æ"}]'.encode()
