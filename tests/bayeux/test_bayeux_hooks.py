"""RequestInfo, cookie parsing and the default hook policy."""

from http.cookies import CookieError, SimpleCookie

from hypothesis import given, settings
from hypothesis import strategies as st

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


def _standard_library_parse(value):
    """parse_cookie_header as it was: every part through SimpleCookie (the fast path must agree with it)."""
    cookies = {}
    for part in (value or "").split(";"):
        try:
            jar = SimpleCookie()
            jar.load(part.strip())
        except CookieError:
            continue
        for key, morsel in jar.items():
            cookies.setdefault(key, morsel.value)
    return cookies


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(list('aZ09_.-=; "\\$,:/') + ["path", "Expires", "version", "x=", "BAYEUX_BROWSER"]),
                max_size=24).map("".join))
def test_cookie_parsing_agrees_with_the_standard_library(value):
    assert parse_cookie_header(value) == _standard_library_parse(value)
