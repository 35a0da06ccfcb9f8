"""zeep: log in through SoPrincipal, GetStatistics with all three input headers, print canonical lines."""

from __future__ import annotations

import sys

import zeep
from zeep.wsdl.bindings.soap import Soap11Binding, Soap12Binding

from common import APP_TOKEN, TZ_LOCATION, emit, parse_args


def bound(base: str, service: str, soap: str):
    """A service proxy on the WSDL's port for the requested SOAP version (found by binding type, not by name)."""
    client = zeep.Client(f"{base}/Remote/Services87/{service}.svc?wsdl")
    want = Soap12Binding if soap == "12" else Soap11Binding
    for svc in client.wsdl.services.values():
        for port in svc.ports.values():
            if type(port.binding) is want:
                return client, client.bind(svc.name, port.name)
    raise SystemExit(f"{service}: the WSDL has no SOAP {soap[0]}.{soap[1]} port")


def main() -> int:
    args = parse_args(__doc__)
    panels = args.panels.split(",")
    _, principal = bound(args.base, "SoPrincipal", args.soap)
    auth = principal.AuthenticateUsernamePassword(UserName=args.user, Password=args.password,
                                                  _soapheaders={"ApplicationToken": APP_TOKEN})
    body = auth.body
    ticket = body.Credentials.Ticket if body.Credentials is not None else None
    if not body.AuthenticationSucceeded or not (ticket or "").startswith("7T:"):
        print(f"login failed: {body}", file=sys.stderr)
        return 2
    _, customer = bound(args.base, "CustomerService", args.soap)
    result = customer.GetStatistics(
        Functions={"StatusScreenPanelType": panels},
        _soapheaders={"ApplicationToken": APP_TOKEN, "Credentials": {"Ticket": ticket},
                      "TimeZone": {"SoTimeZoneId": 0, "SoTimeZoneLocationCode": TZ_LOCATION}})
    if result.header is not None and result.header.Succeeded is False:
        print(f"Succeeded=false: {result.header.ExceptionInfo}", file=sys.stderr)
        return 3
    sets = result.body.Response.StatisticsDataSet if result.body.Response is not None else []
    emit(panels, [(s.Label, [(v.Label, v.Value) for v in (s.Values.StatisticsDataValue if s.Values else [])])
                  for s in sets])
    return 0


if __name__ == "__main__":
    sys.exit(main())
