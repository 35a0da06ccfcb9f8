"""Log in through SoPrincipal, ask CustomerService.GetStatistics for all 17 panels, print a table.

    pip install zeep
    python samples/soap/zeep_statistics.py [http://127.0.0.1:8087] [user] [password] [--soap12] [--tz US-NY]

The client is built from the server's own ?wsdl. To use the vendor's WSDL file instead, build it from
the file and change only the address:
    zeep.Client("wsdl/Services87-CustomerService.wsdl").create_service(
        "{http://www.superoffice.net/ws/crm/NetServer/Services87}BasicHttpBinding_CustomerService", url)
"""

import argparse

import zeep

PANELS = ["OpenRequestsPerCategory", "OpenRequestsPerTopCategory", "OpenRequestsPerUser",
          "OpenRequestsPerUserGroup", "OpenRequestsPerPriority", "OpenRequestsPerStatus", "OpenRequestsPerOrigin",
          "NumberOfCreatedRequestsPerDay", "NumberOfCreatedRequestsPerWeek", "NumberOfCreatedRequestsPerMonth",
          "UserResponseTimePerDay", "UserReponseTimePerWeek", "UserResponseTimePerMonth", "OwnOpenRequests",
          "UnassignedRequests", "Hotlist", "StatusScreen"]


def service(base, name, soap12):
    client = zeep.Client(f"{base}/Remote/Services87/{name}.svc?wsdl")
    return client.bind(f"Wcf{name}Service", f"CustomBinding_{name}") if soap12 else client.service


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base", nargs="?", default="http://127.0.0.1:8087")
    ap.add_argument("user", nargs="?", default="demo")
    ap.add_argument("password", nargs="?", default=None)
    ap.add_argument("--soap12", action="store_true")
    ap.add_argument("--tz", help="SoTimeZoneLocationCode: a SuperOffice code (NO, US-NY) or an IANA name")
    ap.add_argument("--app-token", default=None, help="ApplicationToken (required by online installations)")
    args = ap.parse_args()
    headers = {"ApplicationToken": args.app_token} if args.app_token else {}

    auth = service(args.base, "SoPrincipal", args.soap12).AuthenticateUsernamePassword(
        UserName=args.user, Password=args.password or args.user, _soapheaders=headers)
    if not auth.body.AuthenticationSucceeded:
        raise SystemExit(f"log-in failed: {auth.header.ExceptionInfo.Message}")
    headers["Credentials"] = {"Ticket": auth.body.Credentials.Ticket}
    if args.tz:
        headers["TimeZone"] = {"SoTimeZoneLocationCode": args.tz}

    r = service(args.base, "CustomerService", args.soap12).GetStatistics(
        Functions={"StatusScreenPanelType": PANELS}, _soapheaders=headers)
    if not r.header.Succeeded:
        info = r.header.ExceptionInfo
        raise SystemExit(f"{info.ExceptionType}: {info.Message}")
    print(f"time zone: {r.header.TimeZone.SoTimeZoneLocationCode}")
    for panel, ds in zip(PANELS, r.body.Response.StatisticsDataSet):
        print(f"\n== {panel}: {ds.Label} ==")
        for v in (ds.Values.StatisticsDataValue if ds.Values else []):
            print(f"  {v.Label or '':40.40s} {v.Value:12.2f}  {v.Description or ''}")


if __name__ == "__main__":
    main()
