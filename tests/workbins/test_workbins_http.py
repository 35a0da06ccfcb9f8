"""GWS HTTP conventions against a real server: /api/v2/me, sessions, CSRF, statusCodes, bad bodies."""

from __future__ import annotations

import re

import pytest
import requests

from tests.workbins.helpers import SEED_PLACE, Gws, basic

pytestmark = pytest.mark.timeout(60)


def test_me_answers_the_user_and_starts_a_session(gws):
    r = requests.get(gws.base_url + "/api/v2/me", headers={"Authorization": basic("anna", "anna")}, timeout=10)
    assert r.status_code == 200
    body = r.json()
    assert body["statusCode"] == 0 and "statusMessage" not in body
    user = body["user"]
    assert re.fullmatch(r"[0-9a-f]{32}", user["id"])
    assert (user["userName"], user["firstName"], user["lastName"], user["emailAddress"]) == \
        ("anna", "Anna", "Andersen", "anna@example.com")
    assert re.fullmatch(r"[0-9A-F]{32}", r.cookies["JSESSIONID"])
    assert "HttpOnly" in r.headers["Set-Cookie"]
    assert r.headers["X-CSRF-HEADER"] == "X-CSRF-TOKEN" and len(r.headers["X-CSRF-TOKEN"]) >= 20
    # the cookie alone keeps the session: same user, same CSRF token, no new cookie
    again = requests.get(gws.base_url + "/api/v2/me", cookies={"JSESSIONID": r.cookies["JSESSIONID"]}, timeout=10)
    assert again.status_code == 200 and again.json()["user"]["id"] == user["id"]
    assert again.headers["X-CSRF-TOKEN"] == r.headers["X-CSRF-TOKEN"]
    assert "Set-Cookie" not in again.headers


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": basic("anna", "wrong")},
    {"Authorization": basic("nobody", "x")},
    {"Authorization": "Basic !!!"},
    {"Authorization": "Bearer abc"},
], ids=["none", "bad-password", "unknown-user", "malformed", "bearer"])
def test_me_without_valid_credentials_is_status_20(gws, headers):
    r = requests.get(gws.base_url + "/api/v2/me", headers=headers, timeout=10)
    assert r.status_code == 401
    body = r.json()
    assert body["statusCode"] == 20 and body["statusMessage"]
    assert "JSESSIONID" not in r.cookies


def test_missing_or_unknown_session_is_status_20(gws):
    url = gws.base_url + "/api/v2/workbins"
    r = requests.post(url, data=b'{"operationName":"RequestAgentStats"}', timeout=10)
    assert (r.status_code, r.json()["statusCode"]) == (401, 20)
    r = requests.post(url, data=b'{"operationName":"RequestAgentStats"}', timeout=10,
                      cookies={"JSESSIONID": "0" * 32}, headers={"X-CSRF-TOKEN": "x"})
    assert (r.status_code, r.json()["statusCode"]) == (401, 20)
    assert "expired" in r.json()["statusMessage"]
    r = requests.post(url + "/move", json={"request": "D0000001", "workbin": None}, timeout=10)
    assert (r.status_code, r.json()["statusCode"]) == (401, 20)
    r = requests.get(url, timeout=10)
    assert (r.status_code, r.json()["statusCode"]) == (401, 20)


def test_csrf_protection(gws):
    s = Gws(gws.base_url)
    body = b'{"operationName":"RequestAgentStats"}'
    for headers in ({}, {"X-CSRF-TOKEN": "not-the-token"}, {"X-CSRF-TOKEN": ""}):
        r = s.http.post(gws.base_url + "/api/v2/workbins", data=body, headers=headers, timeout=10)
        assert r.status_code == 403
        assert r.json() == {"statusCode": 3, "statusMessage": "Missing or invalid Csrf token"}
    # another session's token is not this session's token
    other = Gws(gws.base_url, "bjorn")
    r = s.http.post(gws.base_url + "/api/v2/workbins", data=body, headers={"X-CSRF-TOKEN": other.csrf}, timeout=10)
    assert r.status_code == 403
    # Basic auth alone starts a new session whose token the client cannot have sent yet
    r = requests.post(gws.base_url + "/api/v2/workbins", data=body, timeout=10,
                      headers={"Authorization": basic("anna", "anna"), "X-CSRF-TOKEN": s.csrf})
    assert r.status_code == 403 and r.headers["X-CSRF-TOKEN"]
    # the move endpoint is protected too
    r = s.http.post(gws.base_url + "/api/v2/workbins/move", json={"request": "D0000001", "workbin": None}, timeout=10)
    assert r.status_code == 403
    # with the token it works; GET needs none
    r = s.post("/api/v2/workbins", body)
    assert r.status_code == 200 and r.json()["statusCode"] == 0
    assert s.get("/api/v2/workbins").status_code == 200


def test_csrf_protection_can_be_turned_off(gws_no_csrf):
    r = requests.post(gws_no_csrf.base_url + "/api/v2/workbins", data=SEED_PLACE, timeout=10,
                      headers={"Authorization": basic("anna", "anna")})
    assert r.status_code == 200 and r.json() == {"statusCode": 0, "referenceId": 1}
    assert r.cookies["JSESSIONID"]


@pytest.mark.parametrize("body,code", [
    (b"", 10),
    (b"not json", 10),
    (b"[]", 10),
    (b'"RequestAgentStats"', 10),
    (b"{}", 1),
    (b'{"workbinType":"Place","workbinOwner":"Place1"}', 1),
    (b'{"operationName":null}', 1),
    (b'{"operationName":"RequestStats"}', 10),
    (b'{"operationName":17}', 10),
    (b'{"operationName":"RequestAgentStats","workbinType":"Queue","workbinOwner":"x"}', 10),
    (b'{"operationName":"RequestAgentStats","workbinType":7}', 10),
    (b'{"operationName":"RequestAgentStats","workbinType":"Place"}', 1),
    (b'{"operationName":"RequestAgentStats","workbinType":"AgentGroup","workbinOwner":""}', 1),
    (b'{"operationName":"RequestAgentStats","workbinOwner":"Place1"}', 1),
    (b'{"operationName":"RequestAgentStats","workbinType":"Place","workbinOwner":["Place1"]}', 10),
    # only a single trailing comma after a value is tolerated
    (b'{"operationName":"RequestAgentStats",,}', 10),
    (b'{,}', 10),
    (b'{"operationName":"RequestAgentStats" "workbinType":"Place"}', 10),
    (b"{'operationName':'RequestAgentStats'}", 10),
    (b'{"operationName":"RequestAgentStats","operationName":"RequestAgentStats"}', 10),
    (b'{"operationName":"RequestAgentStats","x":NaN}', 10),
    (b'\xff\xfe{}', 10),
], ids=lambda v: v.decode("latin-1")[:40] if isinstance(v, bytes) else str(v))
def test_bad_bodies(anna, body, code):
    r = anna.post("/api/v2/workbins", body)
    assert r.status_code == 400, r.text
    reply = r.json()
    assert reply["statusCode"] == code and reply["statusMessage"]
    assert "referenceId" not in reply


def test_failed_requests_do_not_consume_reference_ids(gws):
    s = Gws(gws.base_url)
    for body in (b"{}", b"nope", b'{"operationName":"RequestAgentStats","workbinType":"Place","workbinOwner":"X"}'):
        assert s.post("/api/v2/workbins", body).json()["statusCode"] != 0
    assert s.post("/api/v2/workbins", SEED_PLACE).json() == {"statusCode": 0, "referenceId": 1}


def test_oversized_body(anna):
    r = anna.post("/api/v2/workbins", b'{"operationName":"RequestAgentStats","pad":"' + b"x" * 70000 + b'"}')
    assert r.status_code == 413 and r.json()["statusCode"] == 10


@pytest.mark.parametrize("path,body", [
    ("/api/v2/workbins", {"operationName": "RequestAgentStats", "workbinType": "Place", "workbinOwner": "NoSuchPlace"}),
    ("/api/v2/workbins", {"operationName": "RequestAgentStats", "workbinType": "AgentGroup", "workbinOwner": "NoGroup"}),
    ("/api/v2/workbins", {"operationName": "RequestAgentStats", "workbinType": "PlaceGroup", "workbinOwner": "NoGroup"}),
    ("/api/v2/workbins", {"operationName": "RequestAgentStats", "workbinType": "Agent", "workbinOwner": "f" * 32}),
    ("/api/v2/workbins", {"operationName": "RequestAgentStats", "workbinType": "Agent", "workbinOwner": "nobody"}),
    ("/api/v2/users/" + "f" * 32 + "/workbins", {"operationName": "RequestAgentStats"}),
    ("/api/v2/users/anna/workbins", {"operationName": "RequestAgentStats"}),
], ids=["place", "agent-group", "place-group", "agent-uuid", "agent-login", "user-path", "user-path-not-hex"])
def test_unknown_owners_are_status_6(anna, path, body):
    r = anna.post(path, body)
    assert r.status_code == 404, r.text
    reply = r.json()
    assert reply["statusCode"] == 6 and reply["statusMessage"]


def test_user_path_rejects_other_owner_types(anna):
    r = anna.post(f"/api/v2/users/{anna.me['id']}/workbins", SEED_PLACE)
    assert r.status_code == 400 and r.json()["statusCode"] == 10


def test_reference_ids_increase_per_session(gws):
    a, b = Gws(gws.base_url), Gws(gws.base_url)
    assert [a.post("/api/v2/workbins", SEED_PLACE).json()["referenceId"] for _ in range(3)] == [1, 2, 3]
    assert b.post(f"/api/v2/users/{a.me['id']}/workbins", {"operationName": "RequestAgentStats"}).json() == \
        {"statusCode": 0, "referenceId": 1}


def test_listing_and_contents(anna):
    s = anna
    mine = s.workbins()
    assert sorted(w["name"] for w in mine.values()) == ["Draft", "Pending", "Review"]
    assert all(w["type"] == "Agent" and w["owner"] == s.me["id"] for w in mine.values())
    place = s.workbins("Place", "Place1")
    wb = next(iter(place.values()))
    r = s.get("/api/v2/workbins/" + wb["id"])
    assert r.status_code == 200
    body = r.json()
    assert body["workbin"]["count"] == wb["count"] == len(body["interactions"])
    assert s.get("/api/v2/workbins/" + "0" * 8 + "-0000-0000-0000-" + "0" * 12).json()["statusCode"] == 6
    assert s.get("/api/v2/workbins", params={"workbinType": "Place"}).json()["statusCode"] == 1
    assert s.get("/api/v2/workbins", params={"workbinType": "Nope", "workbinOwner": "x"}).json()["statusCode"] == 10
    assert s.get("/api/v2/workbins/" + wb["id"], params={"limit": "x"}).json()["statusCode"] == 10


@pytest.mark.parametrize("body,status,code", [
    ({"workbin": None}, 400, 1),
    ({"request": "D0000001"}, 400, 1),
    ({"request": True, "workbin": None}, 400, 10),
    ({"request": "NO-SUCH-REQUEST", "workbin": None}, 404, 6),
    ({"request": "D0000001", "workbin": "00000000-0000-0000-0000-000000000000"}, 404, 6),
    ({"request": "D0000001", "workbin": 5}, 400, 10),
    ({"request": "D0000001", "workbinId": "Draft", "workbinType": "Place"}, 400, 1),
    ({"request": "D0000001", "workbinId": "NoSuchBin"}, 404, 6),
    ({"request": "D0000001", "workbinId": "Pending", "workbinType": "Place", "workbinOwner": "NoSuchPlace"}, 404, 6),
])
def test_move_errors(anna, body, status, code):
    r = anna.post("/api/v2/workbins/move", body)
    assert r.status_code == status, r.text
    assert r.json()["statusCode"] == code


def test_unsupported_methods_and_paths_are_json(anna):
    s = anna
    r = s.http.put(s.base + "/api/v2/me", timeout=10)
    assert r.status_code == 405 and r.json()["statusCode"] == 10
    r = s.http.delete(s.base + "/api/v2/workbins", timeout=10)
    assert r.status_code == 405 and r.json()["statusCode"] == 10
    r = s.post("/api/v2/users/" + s.me["id"] + "/other", {})
    assert r.status_code == 404 and r.json()["statusCode"] == 6
