"""BayeuxSettings defaults and validation."""

import pytest

from services87.bayeux import BayeuxSettings


def test_defaults_follow_cometd_with_bounds():
    settings = BayeuxSettings()
    assert settings.timeout == 25 and settings.timeout_ms == 25000
    assert settings.interval == 0 and settings.max_interval == 10
    assert settings.sweep_period == 1 and settings.max_queue == 1000
    assert settings.browser_cookie_name == "BAYEUX_BROWSER" and settings.session_cookie_name is None
    assert settings.connection_types == ("websocket", "long-polling")


@pytest.mark.parametrize("changes", [
    {"timeout": 30}, {"timeout": 0}, {"max_interval": 0}, {"max_queue": 0}, {"max_batch": 0},
    {"max_message_size": -1}, {"interval": -1}, {"session_cookie_name": "BAYEUX_BROWSER"},
    {"connection_types": ("callback-polling",)}, {"connection_types": ()}, {"cookie_same_site": "lax"},
    {"browser_cookie_name": ""},
])
def test_invalid_values_are_rejected(changes):
    with pytest.raises(ValueError):
        BayeuxSettings(**changes)


def test_replace_validates():
    settings = BayeuxSettings().replace(timeout=2, session_cookie_name="STATISTICS_SESSIONID")
    assert settings.timeout == 2 and settings.session_cookie_name == "STATISTICS_SESSIONID"
    with pytest.raises(ValueError):
        settings.replace(timeout=26)
