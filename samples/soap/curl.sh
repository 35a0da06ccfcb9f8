#!/bin/sh
# The vendor's sample GetStatistics request (GetStatistics.seed-request.xml, verbatim: SOAP 1.2 namespace,
# headers directly under Envelope, xsi:type attributes) sent with curl, with a real ticket put in.
#   sh samples/soap/curl.sh [http://127.0.0.1:8087] [user] [password]
BASE=${1:-http://127.0.0.1:8087}; USER=${2:-demo}; PASS=${3:-$USER}
DIR=$(dirname "$0")

TICKET=$(curl -s -H 'Content-Type: text/xml; charset=utf-8' \
  -H 'SOAPAction: "http://www.superoffice.net/ws/crm/NetServer/Services87/SoPrincipal/AuthenticateUsernamePassword"' \
  --data-binary "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>
  <AuthenticateUsernamePassword xmlns=\"http://www.superoffice.net/ws/crm/NetServer/Services87\">
  <UserName>$USER</UserName><Password>$PASS</Password></AuthenticateUsernamePassword></s:Body></s:Envelope>" \
  "$BASE/Remote/Services87/SoPrincipal.svc" | sed -n 's/.*<tns:Ticket>\([^<]*\)<.*/\1/p')
[ -n "$TICKET" ] || { echo "log-in failed" >&2; exit 1; }

echo "== the vendor's sample as it is: it asks only for panel None, so the data set is empty"
sed "s#7T:1234abcxyzExample==#$TICKET#" "$DIR/GetStatistics.seed-request.xml" |
  curl -s -H 'Content-Type: application/soap+xml; charset=utf-8' --data-binary @- \
  "$BASE/Remote/Services87/CustomerService.svc"
echo

echo "== the same request asking for real panels: StatusScreen, OpenRequestsPerStatus, Hotlist"
P='<CustomerService:StatusScreenPanelType xsi:type="CustomerService:StatusScreenPanelType">'
E='</CustomerService:StatusScreenPanelType>'
sed -e "s#7T:1234abcxyzExample==#$TICKET#" \
    -e "s#${P}None${E}#${P}StatusScreen${E}${P}OpenRequestsPerStatus${E}${P}Hotlist${E}#" \
    "$DIR/GetStatistics.seed-request.xml" |
  curl -s -H 'Content-Type: application/soap+xml; charset=utf-8' --data-binary @- \
  "$BASE/Remote/Services87/CustomerService.svc"
echo
