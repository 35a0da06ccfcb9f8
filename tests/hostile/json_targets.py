"""The JSON endpoints of a running server, each with working credentials, for the attack catalogue and fuzzers."""

from __future__ import annotations

from dataclasses import dataclass, field

import requests

from tests.hostile.conftest import API_KEY, bearer


@dataclass
class Target:
    name: str
    method: str
    path: str
    headers: dict = field(default_factory=dict)
    session: requests.Session | None = None

    def send(self, base: str, body: bytes, content_type: str = "application/json") -> requests.Response:
        http = self.session or requests
        return http.request(self.method, base + self.path, data=body,
                            headers={**self.headers, "Content-Type": content_type}, timeout=30)


def targets(proc) -> list[Target]:
    token = bearer(proc)
    auth = {"Authorization": "Bearer " + token}
    out = [
        Target("rest-getstatistics", "POST", "/api/v1/Agents/CustomerService/GetStatistics", auth),
        Target("ingest", "POST", "/api/ingest/events", {"x-api-key": API_KEY}),
        Target("genesys-get-statistic-ex", "POST", "/statistics/v3/operations/get-statistic-ex",
               {"x-api-key": API_KEY, **auth}),
        Target("genesys-subscriptions", "POST", "/statistics/v3/subscriptions", {"x-api-key": API_KEY, **auth}),
        Target("statuspage-login", "POST", "/statuspage/api/login"),
    ]
    gws = requests.Session()
    r = gws.get(proc.base_url + "/api/v2/me", auth=("anna", "anna"), timeout=20)
    assert r.status_code == 200, r.text
    out.append(Target("gws-move", "POST", "/api/v2/workbins/move", {"X-CSRF-TOKEN": r.headers["X-CSRF-TOKEN"]}, gws))
    page = requests.Session()
    r = page.post(proc.base_url + "/statuspage/api/login", json={"login": "demo", "password": "demo"}, timeout=20)
    assert r.status_code == 200, r.text
    xsrf = page.cookies.get("XSRF-TOKEN") or ""
    out.append(Target("statuspage-prefs", "PUT", "/statuspage/api/prefs", {"X-XSRF-TOKEN": xsrf}, page))
    return out


BAYEUX_PATHS = ["/statistics/v3/notifications", "/api/v2/notifications"]
