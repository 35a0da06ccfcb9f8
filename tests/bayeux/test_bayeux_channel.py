"""Channel name validation and wildcard matching."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services87.bayeux import ChannelId, InvalidChannel


@pytest.mark.parametrize("name", ["/a", "/a/b", "/statistics/v3/updates", "/a/*", "/a/**", "/*", "/**",
                                  "/v2/me/workbins", "/meta/connect", "/service/x", "/a-b_c!~()$@"])
def test_valid(name):
    assert ChannelId(name).name == name


@pytest.mark.parametrize("name", ["", "/", "a", "a/b", "//", "/a//b", "/a/", "/a/*/b", "/a/**/b", "/a/b*",
                                  "/a/***", "/a b", "/a\tb", "/a\x00", None, 5, ["/a"]])
def test_invalid(name):
    with pytest.raises(InvalidChannel) as info:
        ChannelId(name)
    assert info.value.code == 405
    assert isinstance(info.value, ValueError)


def test_length_limit_and_wildcard_flag():
    with pytest.raises(InvalidChannel, match="too long"):
        ChannelId("/" + "a" * 300)
    with pytest.raises(InvalidChannel):
        ChannelId("/a/*", allow_wildcards=False)


def test_kinds():
    assert ChannelId("/meta/handshake").is_meta
    assert ChannelId("/service/echo").is_service and not ChannelId("/service/echo").is_broadcast
    assert ChannelId("/a/b").is_broadcast and not ChannelId("/a/b").is_wildcard
    assert ChannelId("/a/**").is_deep_wildcard and ChannelId("/a/*").is_wildcard


@pytest.mark.parametrize("pattern, channel, expected", [
    ("/a/b", "/a/b", True), ("/a/b", "/a/c", False),
    ("/a/*", "/a/b", True), ("/a/*", "/a/b/c", False), ("/a/*", "/a", False),
    ("/a/**", "/a/b", True), ("/a/**", "/a/b/c", True), ("/a/**", "/a", False), ("/a/**", "/b/c", False),
    ("/*", "/a", True), ("/*", "/a/b", False), ("/**", "/a/b/c", True),
])
def test_matches(pattern, channel, expected):
    assert ChannelId(pattern).matches(channel) is expected
    assert ChannelId(pattern).matches(ChannelId(channel)) is expected


def test_patterns():
    assert ChannelId("/a/b/c").patterns() == ["/a/b/c", "/a/b/*", "/a/b/**", "/a/**", "/**"]
    assert ChannelId("/a").patterns() == ["/a", "/*", "/**"]
    with pytest.raises(ValueError):
        ChannelId("/a/*").patterns()


segments = st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=4)


@given(segments, segments, st.sampled_from(["", "*", "**"]))
def test_patterns_agree_with_matches(channel_segments, pattern_segments, wildcard):
    channel = ChannelId("/" + "/".join(channel_segments))
    parts = pattern_segments[:-1] + [wildcard] if wildcard else pattern_segments
    pattern = ChannelId("/" + "/".join(parts))
    assert pattern.matches(channel) == (pattern.name in channel.patterns())
