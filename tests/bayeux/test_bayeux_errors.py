"""Error values."""

from services87.bayeux import BayeuxError, Denied, format_error


def test_format():
    assert format_error(402, "Unknown client") == "402::Unknown client"
    assert format_error(403, "Subscription denied", ["/a", "/b"]) == "403:/a,/b:Subscription denied"
    assert format_error(5, "x") == "005::x"


def test_exceptions():
    error = BayeuxError(405, "Invalid channel", args=["/a//b"], advice={"reconnect": "none"})
    assert error.error == str(error) == "405:/a//b:Invalid channel"
    assert error.advice == {"reconnect": "none"}
    denied = Denied("Invalid API key")
    assert denied.code == 403 and denied.error == "403::Invalid API key" and denied.advice is None
