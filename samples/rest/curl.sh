#!/bin/sh
# The REST twin of CustomerService.GetStatistics with each way of authenticating, using curl.
#   sh samples/rest/curl.sh [http://127.0.0.1:8087] [user] [password]
# Needs a running server (scripts/serve) and python3 (to read JSON fields).
set -e
BASE=${1:-http://127.0.0.1:8087}; USER=${2:-demo}; PASS=${3:-$USER}
URL="$BASE/api/v1/Agents/CustomerService/GetStatistics"
BODY='{"Functions": ["OpenRequestsPerUser", "UnassignedRequests"]}'
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

echo "== Basic (user name + password)"
curl -s -u "$USER:$PASS" -H 'Content-Type: application/json' -H 'Accept-Language: sv' -d "$BODY" "$URL"
echo

echo "== Bearer (token from the OAuth endpoint, Genesys Authentication API form; client demo-client:demo-secret)"
TOKENS=$(curl -s -u demo-client:demo-secret -d grant_type=password -d "username=$USER" -d "password=$PASS" \
  "$BASE/auth/v3/oauth/token")
ACCESS=$(echo "$TOKENS" | field access_token)
curl -s -H "Authorization: Bearer $ACCESS" -H 'Accept: application/xml' \
  -H 'Content-Type: application/x-www-form-urlencoded' -d 'Functions=3&Functions=UnassignedRequests' "$URL"
echo
echo "-- refreshing the token"
REFRESH=$(echo "$TOKENS" | field refresh_token)
curl -s -u demo-client:demo-secret -d grant_type=refresh_token -d "refresh_token=$REFRESH" "$BASE/auth/v3/oauth/token"
echo

echo "== SoTicket (ticket from SoPrincipal.AuthenticateUsernamePassword over SOAP)"
TICKET=$(curl -s -H 'Content-Type: text/xml; charset=utf-8' \
  -H 'SOAPAction: "http://www.superoffice.net/ws/crm/NetServer/Services87/SoPrincipal/AuthenticateUsernamePassword"' \
  --data-binary "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>
  <AuthenticateUsernamePassword xmlns=\"http://www.superoffice.net/ws/crm/NetServer/Services87\">
  <UserName>$USER</UserName><Password>$PASS</Password></AuthenticateUsernamePassword></s:Body></s:Envelope>" \
  "$BASE/Remote/Services87/SoPrincipal.svc" | sed -n 's/.*<tns:Ticket>\([^<]*\)<.*/\1/p')
curl -s -H "Authorization: SoTicket $TICKET" -H 'Content-Type: application/json' -H 'SO-TimeZone: UTC' \
  -d '{"Functions": ["NumberOfCreatedRequestsPerDay"]}' "$URL?\$select=Values/Label,Values/Value"
echo

echo "== Session cookie + X-XSRF-TOKEN (what a browser page does)"
JAR=$(mktemp)
XSRF=$(curl -s -c "$JAR" -H 'Content-Type: application/json' \
  -d "{\"UserName\": \"$USER\", \"Password\": \"$PASS\"}" "$BASE/api/v1/session" | field XsrfToken)
curl -s -b "$JAR" -H "X-XSRF-TOKEN: $XSRF" -H 'Content-Type: application/json' -d "$BODY" "$URL"
echo
echo "-- the same without the header is refused (403):"
curl -s -b "$JAR" -H 'Content-Type: application/json' -d "$BODY" "$URL"
echo
curl -s -b "$JAR" -X DELETE -H "X-XSRF-TOKEN: $XSRF" -o /dev/null -w 'logged out: %{http_code}\n' "$BASE/api/v1/session"
rm -f "$JAR"
