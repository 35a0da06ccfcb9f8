"""suds-community: log in through SoPrincipal, GetStatistics with all three input headers, print canonical lines.

suds always sends SOAP 1.1 envelopes (it reads soap12 bindings but never switches the envelope), so it
runs only the SOAP 1.1 cell, on the WSDL's first port.
"""

from __future__ import annotations

import sys

from suds.client import Client
from suds.sax.element import Element

from common import APP_TOKEN, TZ_LOCATION, emit, parse_args

NS = ("ns0", "http://www.superoffice.net/ws/crm/NetServer/Services87")


def header(name: str, children: dict | None = None, value: str | None = None) -> Element:
    el = Element(name, ns=NS)
    if value is not None:
        el.setText(value)
    for key, val in (children or {}).items():
        el.append(Element(key, ns=NS).setText(val))
    return el


def main() -> int:
    args = parse_args(__doc__)
    if args.soap != "11":
        print("suds sends SOAP 1.1 only", file=sys.stderr)
        return 4
    panels = args.panels.split(",")
    principal = Client(f"{args.base}/Remote/Services87/SoPrincipal.svc?wsdl", cache=None)
    principal.set_options(soapheaders=[header("ApplicationToken", value=APP_TOKEN)])
    auth = principal.service.AuthenticateUsernamePassword(UserName=args.user, Password=args.password)
    ticket = auth.Credentials.Ticket if getattr(auth, "Credentials", None) is not None else None
    if not auth.AuthenticationSucceeded or not (ticket or "").startswith("7T:"):
        print(f"login failed: {auth}", file=sys.stderr)
        return 2
    customer = Client(f"{args.base}/Remote/Services87/CustomerService.svc?wsdl", cache=None)
    customer.set_options(soapheaders=[
        header("ApplicationToken", value=APP_TOKEN),
        header("Credentials", {"Ticket": ticket}),
        header("TimeZone", {"SoTimeZoneId": "0", "SoTimeZoneLocationCode": TZ_LOCATION}),
    ])
    functions = customer.factory.create("ArrayOfStatusScreenPanelType")
    functions.StatusScreenPanelType = panels
    response = customer.service.GetStatistics(Functions=functions)
    sets = getattr(response, "StatisticsDataSet", []) if response else []
    out = []
    for s in sets:
        values = getattr(s.Values, "StatisticsDataValue", []) if getattr(s, "Values", None) else []
        out.append((getattr(s, "Label", None), [(getattr(v, "Label", None), float(v.Value)) for v in values]))
    emit(panels, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
