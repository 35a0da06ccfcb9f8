"""The REST twin of CustomerService.GetStatistics from Python ``requests``, with each way of authenticating.

    python samples/rest/requests_statistics.py [http://127.0.0.1:8087] [user] [password]
"""

from __future__ import annotations

import re
import sys

import requests

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8087"
USER = sys.argv[2] if len(sys.argv) > 2 else "demo"
PASSWORD = sys.argv[3] if len(sys.argv) > 3 else USER
URL = BASE + "/api/v1/Agents/CustomerService/GetStatistics"
BODY = {"Functions": ["OpenRequestsPerUser", "UnassignedRequests"]}
CLIENT = ("demo-client", "demo-secret")


def show(title: str, r: requests.Response) -> None:
    r.raise_for_status()
    print(f"== {title}: {r.status_code} {r.headers['Content-Type']}")
    for ds in r.json():
        values = ", ".join(f"{v['Label']}={v['Value']:g}" for v in ds["Values"] or [])
        print(f"  {ds['Label']}: {values}")


# Basic: user name and password on every request.
show("Basic", requests.post(URL, json=BODY, auth=(USER, PASSWORD), headers={"Accept-Language": "sv"}, timeout=30))

# Bearer: a token from the OAuth endpoint (client id/secret in Basic auth), refreshed with the refresh token.
tokens = requests.post(BASE + "/auth/v3/oauth/token", auth=CLIENT, timeout=30,
                       data={"grant_type": "password", "username": USER, "password": PASSWORD}).json()
show("Bearer", requests.post(URL, json=BODY, headers={"Authorization": "Bearer " + tokens["access_token"]},
                             timeout=30))
tokens = requests.post(BASE + "/auth/v3/oauth/token", auth=CLIENT, timeout=30,
                       data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}).json()
print("  refreshed; expires in", tokens["expires_in"], "s")

# SoTicket: a ticket from SoPrincipal (SOAP), as SuperOffice clients get one.
envelope = f"""<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>
<AuthenticateUsernamePassword xmlns="http://www.superoffice.net/ws/crm/NetServer/Services87">
<UserName>{USER}</UserName><Password>{PASSWORD}</Password></AuthenticateUsernamePassword></s:Body></s:Envelope>"""
soap = requests.post(BASE + "/Remote/Services87/SoPrincipal.svc", data=envelope.encode(), timeout=30, headers={
    "Content-Type": "text/xml; charset=utf-8",
    "SOAPAction": '"http://www.superoffice.net/ws/crm/NetServer/Services87/SoPrincipal/AuthenticateUsernamePassword"'})
ticket = re.search(r"<(?:\w+:)?Ticket>([^<]+)<", soap.text).group(1)
show("SoTicket + $select + SO-TimeZone",
     requests.post(URL, json={"Functions": ["NumberOfCreatedRequestsPerDay"]}, timeout=30,
                   params={"$select": "Label,Values/Label,Values/Value"},
                   headers={"Authorization": "SoTicket " + ticket, "SO-TimeZone": "America/New_York"}))

# Session cookie + X-XSRF-TOKEN (double submit), as a browser page does it.
with requests.Session() as s:
    login = s.post(BASE + "/api/v1/session", json={"UserName": USER, "Password": PASSWORD}, timeout=30)
    login.raise_for_status()
    xsrf = s.cookies["XSRF-TOKEN"]
    show("Session", s.post(URL, json=BODY, headers={"X-XSRF-TOKEN": xsrf}, timeout=30))
    refused = s.post(URL, json=BODY, timeout=30)
    print("  without X-XSRF-TOKEN:", refused.status_code, refused.json()["ErrorType"])
    s.delete(BASE + "/api/v1/session", headers={"X-XSRF-TOKEN": xsrf}, timeout=30)

# XML out, form in.
xml = requests.post(URL, data="Functions=102", auth=(USER, PASSWORD), timeout=30,
                    headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/xml"})
print("== XML:", xml.text[:200], "...")
