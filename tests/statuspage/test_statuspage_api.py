"""The status page's own HTTP endpoints over real HTTP: page and static files, login, preferences, errors."""

from __future__ import annotations

import requests

from tests.statuspage.conftest import rest_session


def test_page_and_static_files(page_server):
    base = page_server.base_url
    r = requests.get(base + "/", timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "/static/statuspage/app.js" in r.text
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    js = requests.get(base + "/static/statuspage/app.js", timeout=10)
    assert js.status_code == 200 and "javascript" in js.headers["content-type"] and len(js.content) > 50000
    css = requests.get(base + "/static/statuspage/app.css", timeout=10)
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    missing = requests.get(base + "/static/statuspage/nope.js", timeout=10)
    assert missing.status_code == 404 and missing.json()["ErrorType"] == "NotFound"
    listing = requests.get(base + "/static/statuspage/", timeout=10)
    assert listing.status_code == 404


def test_login_errors(page_server):
    url = page_server.base_url + "/statuspage/api/login"
    r = requests.post(url, json={"login": "anna", "password": "nope"}, timeout=10)
    assert r.status_code == 401 and r.json()["ErrorType"] == "InvalidCredentials" and "set-cookie" not in r.headers
    r = requests.post(url, json={"login": 5}, timeout=10)
    assert r.status_code == 400 and r.json()["ErrorType"] == "MalformedBody"
    r = requests.post(url, data="login=anna", headers={"content-type": "application/x-www-form-urlencoded"},
                      timeout=10)
    assert r.status_code == 415
    r = requests.post(url, data="{not json", headers={"content-type": "application/json"}, timeout=10)
    assert r.status_code == 400 and r.json()["ErrorType"] == "MalformedBody"
    r = requests.post(url, data=b"[" + b"1," * 40000 + b"1]", headers={"content-type": "application/json"},
                      timeout=10)
    assert r.status_code == 413
    r = requests.get(url, timeout=10)
    assert r.status_code == 405 and "POST" in r.headers["allow"]


def test_me_needs_a_session(page_server):
    r = requests.get(page_server.base_url + "/statuspage/api/me", timeout=10)
    assert r.status_code == 401 and r.json()["ErrorType"] == "InvalidSession"
    r = requests.get(page_server.base_url + "/statuspage/api/me", cookies={"services87-session": "forged"},
                     timeout=10)
    assert r.status_code == 401


def test_me_and_preferences_round_trip(page_server):
    base = page_server.base_url
    s = rest_session(base, "clara")
    me = s.get(base + "/statuspage/api/me", timeout=10).json()
    assert me["login"] == "clara" and len(me["panels"]) == 17
    assert me["prefs"] == {"panels": me["prefs"]["panels"], "language": "da", "timeZone": "Europe/Copenhagen"}
    assert me["prefs"]["panels"][0] == "StatusScreen" and len(me["prefs"]["panels"]) == 17
    assert me["statistics"]["apiKey"] and me["statistics"]["accessToken"]
    assert {a["login"] for a in me["agents"]} >= {"demo", "anna", "clara"}
    # the bearer token handed to the page works on the REST twin too
    r = requests.post(base + "/api/v1/Agents/CustomerService/GetStatistics", json={"Functions": ["Hotlist"]},
                      headers={"Authorization": "Bearer " + me["statistics"]["accessToken"]}, timeout=10)
    assert r.status_code == 200

    r = s.put(base + "/statuspage/api/prefs", json={"panels": ["hotlist", 111, "OpenRequestsPerUser"],
                                                    "language": "nl", "timeZone": "Asia/Tokyo"}, timeout=10)
    assert r.status_code == 200, r.text
    saved = {"panels": ["Hotlist", "StatusScreen", "OpenRequestsPerUser"], "language": "nl", "timeZone": "Asia/Tokyo"}
    assert r.json() == saved
    # a partial update keeps the rest; another session of the same user sees it
    assert s.put(base + "/statuspage/api/prefs", json={"language": "sv"}, timeout=10).json()["panels"] == saved["panels"]
    other = rest_session(base, "clara")
    assert other.get(base + "/statuspage/api/prefs", timeout=10).json() == dict(saved, language="sv")
    # ...and another user does not
    assert rest_session(base, "dirk").get(base + "/statuspage/api/prefs", timeout=10).json()["language"] == "nl"
    assert rest_session(base, "eva").get(base + "/statuspage/api/prefs", timeout=10).json()["language"] == "de"


def test_preference_errors_change_nothing(page_server):
    base = page_server.base_url
    s = rest_session(base, "greta")
    before = s.get(base + "/statuspage/api/prefs", timeout=10).json()
    cases = [
        ({"panels": ["NoSuchPanel"]}, 400, "UnknownPanel"),
        ({"panels": ["None"]}, 400, "UnknownPanel"),
        ({"panels": ["Hotlist", "hotlist"]}, 400, "ValidationError"),
        ({"panels": "Hotlist"}, 400, "ValidationError"),
        ({"panels": [True]}, 400, "ValidationError"),
        ({"language": "fr"}, 400, "ValidationError"),
        ({"timeZone": "Mars/Olympus"}, 400, "UnknownTimeZone"),
        ({"timeZone": 5}, 400, "ValidationError"),
        ({"colour": "red"}, 400, "ValidationError"),
    ]
    for body, code, kind in cases:
        r = s.put(base + "/statuspage/api/prefs", json=body, timeout=10)
        assert (r.status_code, r.json()["ErrorType"]) == (code, kind), (body, r.text)
    r = s.put(base + "/statuspage/api/prefs", json=["x"], timeout=10)
    assert r.status_code == 400 and r.json()["ErrorType"] == "MalformedBody"
    # the XSRF header is required for writes
    r = requests.put(base + "/statuspage/api/prefs", json={"language": "en"}, cookies=s.cookies, timeout=10)
    assert r.status_code == 403 and r.json()["ErrorType"] == "XsrfTokenMissing"
    r = requests.put(base + "/statuspage/api/prefs", json={"language": "en"}, cookies=s.cookies,
                     headers={"X-XSRF-TOKEN": "wrong"}, timeout=10)
    assert r.status_code == 403 and r.json()["ErrorType"] == "XsrfTokenMismatch"
    assert s.get(base + "/statuspage/api/prefs", timeout=10).json() == before


def test_logout_ends_the_session(page_server):
    base = page_server.base_url
    s = rest_session(base, "hans")
    r = requests.post(base + "/statuspage/api/logout", cookies=s.cookies, timeout=10)
    assert r.status_code == 403  # no XSRF header: refused, session still alive
    assert s.get(base + "/statuspage/api/me", timeout=10).status_code == 200
    r = s.post(base + "/statuspage/api/logout", timeout=10)
    assert r.status_code == 200 and r.json() == {"loggedOut": True}
    assert s.get(base + "/statuspage/api/me", timeout=10).status_code == 401
