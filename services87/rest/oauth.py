"""``POST /auth/v3/oauth/token``: bearer tokens in the form of the Genesys Authentication API (RFC 6749).

* ``grant_type=password`` with ``username`` / ``password``;
* ``grant_type=refresh_token`` with ``refresh_token`` (single use: a new refresh token comes back).

The client authenticates with HTTP Basic (``client_id:client_secret``) or with ``client_id`` /
``client_secret`` form fields. The answer is ``{access_token, token_type: "bearer", expires_in,
refresh_token, scope}``; errors are ``{error, error_description}`` with 400 (``invalid_request``,
``invalid_grant``, ``unsupported_grant_type``), 401 (``invalid_client``), 405, 413, 415 or 429.
The same tokens serve the SuperOffice REST twin (``Authorization: Bearer``), the Genesys APIs and
SoPrincipal's ``AuthenticateWithAccessToken``.
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING

from klein import Klein
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from services87.auth import http as httpauth
from services87.auth.service import AuthError
from services87.http.errors import HttpError
from services87.http.routing import JsonAnswers
from services87.engine.model import StoreUnavailable
from services87.rest import media
from services87.rest.api import read_body

if TYPE_CHECKING:
    from services87.server import Services87Server

log = logging.getLogger(__name__)


KNOWN_FIELDS = frozenset({"grant_type", "username", "password", "refresh_token", "scope", "client_id",
                          "client_secret"})


class OAuthError(HttpError):
    """A token endpoint error. Its status is RFC 6749's (section 5.2), not the general mapping's: wrong user
    credentials in a password grant are ``400 invalid_grant`` there, a wrong client is ``401 invalid_client``."""

    def __init__(self, status: int, error: str, description: str, headers: dict | None = None):
        super().__init__(status, error, description, headers)
        self.error = error
        self.description = description


#: RFC 6749 section 5.1: tokens are never cached (``Cache-Control`` here, ``Pragma`` below).
ANSWERS = JsonAnswers(ascii=True)


def _write(request, status: int, body: dict, headers: dict | None = None) -> bytes:
    ANSWERS.headers(request, status)
    request.setHeader(b"pragma", b"no-cache")
    for name, values in (headers or {}).items():
        request.responseHeaders.setRawHeaders(name, values)
    return ANSWERS.encode(body)


class OAuthTokenApi:
    """Mounted at ``/auth/v3/oauth``."""

    app = Klein()

    def __init__(self, hs: Services87Server):
        self.hs = hs

    def resource(self):
        return self.app.resource()

    @app.route("/token", methods=["POST"], strict_slashes=False)
    async def token(self, request):
        hs = self.hs
        raw = read_body(hs, request)
        ctype = request.getHeader(b"content-type")
        mtype = media.parse_media_type(ctype.decode("latin-1"))[0] if ctype else ""
        if mtype not in (media.FORM_TYPE,) + media.JSON_TYPES:
            raise OAuthError(415, "invalid_request", "Send the token request as application/x-www-form-urlencoded")
        fields: dict[str, str] = {}
        if raw.strip():
            body = media.parse_body(ctype, raw)
            items = body.data.items() if isinstance(body.data, dict) else body.data
            if not isinstance(items, (list, type({}.items()))):
                raise OAuthError(400, "invalid_request", "The token request must be a form or a JSON object")
            for k, v in items:
                if k not in KNOWN_FIELDS:
                    continue  # unknown parameters are ignored (RFC 6749 section 3.2)
                if not isinstance(v, str):
                    raise OAuthError(400, "invalid_request", f"{k} must be a string")
                if k in fields:
                    raise OAuthError(400, "invalid_request", f"{k} is given more than once")
                fields[k] = v

        client_id, client_secret = self._client_credentials(request, fields)
        if not client_id or not hs.get_auth().check_client(client_id, client_secret):
            raise OAuthError(401, "invalid_client", "Unknown client or wrong client secret",
                             {b"www-authenticate": [b'Basic realm="services87"']})
        grant = fields.get("grant_type", "")
        try:
            if grant == "password":
                username, password = fields.get("username"), fields.get("password")
                if not username or password is None:
                    raise OAuthError(400, "invalid_request", "username and password are required")
                address = httpauth.client_address(request)
                user = await hs.run_blocking(hs.get_auth().authenticate_password, username, password, address)
                tokens = await hs.run_blocking(hs.get_auth().issue_tokens, user)
            elif grant == "refresh_token":
                if not fields.get("refresh_token"):
                    raise OAuthError(400, "invalid_request", "refresh_token is required")
                tokens = await hs.run_blocking(hs.get_auth().refresh, fields["refresh_token"])
            elif not grant:
                raise OAuthError(400, "invalid_request", "grant_type is required")
            else:
                raise OAuthError(400, "unsupported_grant_type", "grant_type must be password or refresh_token")
        except AuthError as err:
            if err.kind == "TooManyAttempts":
                raise OAuthError(429, "invalid_grant", err.message,
                                 {b"retry-after": [str(httpauth.retry_after(hs)).encode()]}) from None
            raise OAuthError(400, "invalid_grant", err.message) from None
        return _write(request, 200, tokens)

    @staticmethod
    def _client_credentials(request, fields: dict) -> tuple[str | None, str | None]:
        header = request.getHeader(b"authorization")
        if header is not None:
            try:
                parsed = httpauth.parse_authorization(header.decode("latin-1"))
                if parsed is None or parsed[0] != "basic":
                    raise AuthError("UnsupportedScheme", "Client authentication must use Basic")
                return httpauth.parse_basic(parsed[1])
            except AuthError as err:
                raise OAuthError(401, "invalid_client", err.message,
                                 {b"www-authenticate": [b'Basic realm="services87"']}) from None
        return fields.get("client_id"), fields.get("client_secret")

    # ------------------------------------------------------------------ errors
    @app.handle_errors(OAuthError)
    def oauth_error(self, request, failure):
        e = failure.value
        return _write(request, e.status, {"error": e.error, "error_description": e.description}, e.headers)

    @app.handle_errors(HttpError)
    def rest_error(self, request, failure):
        e = failure.value
        kind = "invalid_request"
        return _write(request, e.status, {"error": kind, "error_description": e.message}, e.headers)

    @app.handle_errors(NotFound)
    def not_found(self, request, failure):
        return _write(request, 404, {"error": "not_found", "error_description": "No such resource"})

    @app.handle_errors(MethodNotAllowed)
    def not_allowed(self, request, failure):
        allowed = ", ".join(sorted(set(failure.value.valid_methods or ())))
        return _write(request, 405, {"error": "invalid_request", "error_description": "Use POST"},
                      {b"allow": [allowed.encode()]})

    @app.handle_errors(HTTPException)
    def http_exception(self, request, failure):
        e = failure.value
        return _write(request, e.code or 400, {"error": "invalid_request", "error_description": e.description or ""})

    @app.handle_errors(StoreUnavailable)
    def unavailable(self, request, failure):
        return _write(request, 503, {"error": "temporarily_unavailable",
                                     "error_description": "The store is unavailable; retry shortly"},
                      {b"retry-after": [b"5"]})

    @app.handle_errors(Exception)
    def internal_error(self, request, failure):
        error_id = secrets.token_hex(6)
        log.error("unhandled error %s in token endpoint: %s", error_id, failure.getTraceback())
        return _write(request, 500, {"error": "server_error", "error_description": f"Internal error {error_id}"})
