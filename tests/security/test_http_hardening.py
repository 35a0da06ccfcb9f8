"""Issue #18, finding 6: CSP and framing headers on every HTML response; malformed static paths are 404."""

from __future__ import annotations

import pytest
import requests


@pytest.mark.parametrize("path", ["/", "/static/statuspage/index.html"])
def test_every_html_response_has_csp_and_framing_rules(srv, path):
    r = requests.get(srv.base_url + path, timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("path", ["/static/statuspage/%00", "/static/statuspage/a%00b", "/static/statuspage/%ff",
                                  "/static/statuspage/..%2f..%2fetc%2fpasswd"])
def test_malformed_static_paths_are_not_found(srv, path):
    r = requests.get(srv.base_url + path, timeout=10)
    assert r.status_code == 404, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/json")
