"""RequestInfo, cookie parsing and the default hook policy."""

from services87.bayeux import BayeuxHooks, RequestInfo
from services87.bayeux.hooks import parse_cookie_header


def test_request_info_header_lookup():
    info = RequestInfo(transport="websocket", headers={"x-api-key": "k"})
    assert info.header("X-Api-Key") == "k" and info.header("missing", "d") == "d"


def test_parse_cookie_header_is_lenient():
    assert parse_cookie_header("BAYEUX_BROWSER=abc; JSESSIONID=x1; bad\x00=1; =; x") == {
        "BAYEUX_BROWSER": "abc", "JSESSIONID": "x1"}
    assert parse_cookie_header(None) == {}


def test_defaults():
    hooks = BayeuxHooks()
    info = RequestInfo(transport="long-polling")
    assert hooks.authenticate_handshake(info, {}) is None
    assert hooks.can_subscribe(None, "/a", {}) is True
    assert hooks.can_publish(None, "/a", {}) is False
