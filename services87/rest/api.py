"""``/api/v1``: the SuperOffice Web API twin of ``CustomerService.GetStatistics``, cookie sessions, OpenAPI.

Routes (relative to ``/api/v1``, matched case-insensitively like the vendor's ASP.NET routes):

* ``POST /Agents/CustomerService/GetStatistics`` — body ``{"Functions": [...]}``; answer: data sets.
* ``POST /session`` (log in, sets the session + ``XSRF-TOKEN`` cookies), ``GET /session``, ``DELETE /session``.
* ``GET /openapi.json`` — the OpenAPI 3 document of these endpoints and of ``/auth/v3/oauth/token``.

The adapter is thin: parse, authenticate and compute through ``hs.run_blocking``, serialize.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterable
from typing import Any
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from klein import Klein
from klein.resource import KleinResource
from twisted.internet import defer
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from services87.auth import http as httpauth
from services87.auth.service import AuthError, Principal
from services87.cache import ResponseCache
from services87.engine.model import EngineError, StatContext, StoreUnavailable, UnknownPanel
from services87.engine.timebuckets import resolve_zone
from services87.http.warm import WarmPath
from services87.i18n import normalize_language
from services87.rest import media
from services87.rest.errors import RestError, write_error
from services87.rest.serialize import Selection, dataset_dict, render_json, render_xml
from services87.http import body
from services87.http.errors import HttpError, classify
from services87.http.routing import WarmRoutes, warm_answer

if TYPE_CHECKING:
    from services87.server import Services87Server

log = logging.getLogger(__name__)

#: Most functions one request may ask for (there are 18 panel types; the cap bounds the response size).
MAX_FUNCTIONS = 100
SCHEMES = httpauth.ALL_SCHEMES

#: Canonical spelling of every static path segment, for case-insensitive routing.
_CANONICAL = {s.lower(): s for s in ("Agents", "CustomerService", "GetStatistics", "session", "openapi.json")}


class CaseInsensitiveResource(KleinResource):
    """The resource of the :class:`RestApi` ``adapter``'s Klein app: its static path segments match regardless of
    case (``/api/v1/agents/...``); ``warm``: the warm answers of hot routes, tried before the app's dispatch
    (services87/http/routing.py).

    :ivar adapter: the :class:`RestApi` whose methods answer the routes
    """

    def __init__(self, adapter: RestApi, warm: WarmRoutes | None = None):
        super().__init__(adapter.app)
        self.adapter = adapter
        self.warm: WarmRoutes = warm or {}

    def render(self, request):
        try:
            request.postpath = [_CANONICAL.get(seg.decode("utf-8").lower(), seg.decode("utf-8")).encode("utf-8")
                                for seg in request.postpath]
        except UnicodeDecodeError:
            return write_error(request, 400, "MalformedRequest", "The URL path is not UTF-8")
        hit = warm_answer(self.warm, request)
        if hit is not None:
            return hit
        return super().render(request)


def _header(request, name: str) -> str | None:
    raw = request.getHeader(name)
    if raw is None:
        return None
    try:
        return raw.decode("utf-8").strip() if isinstance(raw, bytes) else raw.strip()
    except UnicodeDecodeError:
        return raw.decode("latin-1").strip()


def query_params(request) -> list[tuple[str, str]]:
    """Query-string parameters only (never form-body fields, which Twisted merges into ``request.args``)."""
    if b"?" not in request.uri:  # most requests: no URL parsing at all
        return []
    query = urlsplit(request.uri.decode("latin-1")).query
    return parse_qsl(query, keep_blank_values=True, encoding="utf-8", errors="replace")


def read_body(hs: Services87Server, request) -> bytes:
    """The request body, refusing one larger than ``max_body_size`` with 413 (services87/http/body.py)."""
    return body.read_body(request, hs.settings.max_body_size)


def _auth_error(request, err: AuthError, hs: Services87Server | None = None) -> RestError:
    c = classify(err, httpauth.retry_after(hs))
    headers = {}
    if c.challenge:
        headers[b"www-authenticate"] = [v.encode() for v in httpauth.challenge_headers(SCHEMES, err)]
    if c.retry_after is not None:
        headers[b"retry-after"] = [str(c.retry_after).encode()]
    return RestError(c.status, c.kind, c.message, headers)


@lru_cache(maxsize=1)
def openapi_document() -> bytes:
    return resources.files("services87.rest").joinpath("openapi.json").read_bytes()


class RestApi:
    """The ``/api/v1`` Klein application (one instance per server, holding ``hs``)."""

    app = Klein()

    def __init__(self, hs: Services87Server):
        self.hs = hs
        self.sessions = hs.get_sessions()
        self.warm = WarmPath(hs, "rest")
        #: a question already answered -> (panels, selection key, media type): what its cache key needs, so that
        #: a repeat can be looked up without parsing (every check before them passed for these very bytes)
        self.shapes = ResponseCache(4096, max_bytes=8 * 1024 * 1024)

    def resource(self) -> KleinResource:
        return CaseInsensitiveResource(
            self, warm={(b"POST", (b"Agents", b"CustomerService", b"GetStatistics")): self.warm_statistics})

    # ------------------------------------------------------------------ shared steps
    async def authenticate(self, request):
        """Application token (online installations), then the caller's credentials."""
        try:
            httpauth.check_application_token(self.hs, request)
            return await httpauth.authenticate_request(self.hs, request, SCHEMES, sessions=self.sessions)
        except AuthError as err:
            raise _auth_error(request, err, self.hs) from None

    def language(self, request) -> tuple[str | None, str | None]:
        """(language, culture) from ``SO-Language`` > ``Accept-Language``; ``SO-Culture`` only with a language."""
        lang = None
        for name in ("SO-Language", "Accept-Language"):
            value = _header(request, name)
            if value:
                lang = normalize_language(value, default=None)
                if lang:
                    break
        culture = _header(request, "SO-Culture") if lang else None
        return lang, (culture or None)

    # ------------------------------------------------------------------ GetStatistics
    @app.route("/Agents/CustomerService/GetStatistics", methods=["POST"], strict_slashes=False)
    def get_statistics(self, request):
        """Authenticate, parse, then answer from the answer cache or the engine.

        With an ``Authorization`` header all of it runs in one hop to the store threads (the caller is
        checked on every request, before anything else is looked at), or none when the answer is warm
        (then the response is written at once, without a Deferred); a cookie session authenticates first."""
        hs = self.hs
        question = self._question(request)
        check = httpauth.header_authenticator(hs, request, SCHEMES)
        if check is None:
            return defer.ensureDeferred(self._by_session(request, question))
        try:
            httpauth.check_application_token(hs, request)
        except AuthError as err:
            raise _auth_error(request, err, hs) from None
        hit = _reactor_hit(hs, self.warm, self.shapes, _header(request, "authorization"), question)
        if hit is not None:
            return self._respond(request, *hit)
        return hs.run_blocking(_answer, hs, self.warm, self.shapes, check, question).addCallback(
            lambda out: self._respond(request, *out))

    def _question(self, request) -> _Question:
        """What a GetStatistics request asks (its body read with the cap: 413 beyond it)."""
        raw = read_body(self.hs, request)
        lang, culture = self.language(request)
        return _Question(raw=raw, accept=request.getHeader(b"accept"), content_type=request.getHeader(b"content-type"),
                         select=",".join(v for k, v in query_params(request) if k.lower() == "$select"),
                         lang=lang, culture=culture, zone=_header(request, "SO-TimeZone") or None)

    def warm_statistics(self, request) -> bytes | None:
        """A warm GetStatistics answer on the reactor thread before any routing (services87/http/routing.py):
        the credentials of the ``Authorization`` header and the question checked as :meth:`get_statistics`
        checks them on its warm path; ``None`` (no header, a cookie session, anything refused, a cold answer)
        sends the request through :meth:`get_statistics`, which answers or refuses it."""
        hs = self.hs
        authorization = _header(request, "authorization")
        if not self.warm.enabled or authorization is None:
            return None
        try:
            question = self._question(request)
            httpauth.check_application_token(hs, request)
        except (AuthError, HttpError):
            return None
        hit = _reactor_hit(hs, self.warm, self.shapes, authorization, question)
        return None if hit is None else self._respond(request, *hit)

    async def _by_session(self, request, question: _Question) -> bytes:
        principal = await self.authenticate(request)
        out = await self.hs.run_blocking(_answer, self.hs, self.warm, self.shapes, lambda: principal, question)
        return self._respond(request, *out)

    @staticmethod
    def _respond(request, payload: bytes, out_type: str, language: str | None, principal) -> bytes:
        httpauth.note_user(request, principal)  # the user, for the access log
        request.setHeader(b"content-type", out_type.encode() + b"; charset=utf-8")
        request.setHeader(b"content-language", normalize_language(language).encode())
        request.setHeader(b"cache-control", b"no-store")
        request.setHeader(b"vary", b"Accept, Accept-Language, SO-Language, SO-Culture, SO-TimeZone, Authorization")
        return payload

    # ------------------------------------------------------------------ sessions
    @app.route("/session", methods=["POST"], strict_slashes=False)
    async def login(self, request):
        """Log in with a form/JSON body (``UserName``/``Password``) or with an Authorization header."""
        hs = self.hs
        raw = read_body(hs, request)
        try:
            httpauth.check_application_token(hs, request)
        except AuthError as err:
            raise _auth_error(request, err, self.hs) from None
        creds = None
        if raw.strip():
            creds = _login_fields(media.parse_body(request.getHeader(b"content-type"), raw, hs.settings.max_xml_depth,
                                                   hs.settings.max_json_depth))
        if creds is None:
            if request.getHeader(b"authorization") is None:
                raise RestError(400, "MalformedRequest", "Send UserName and Password (JSON or form), or an "
                                "Authorization header")
            principal = await self.authenticate(request)
        else:
            address = httpauth.client_address(request)
            try:
                user = await hs.run_blocking(hs.get_auth().authenticate_password, creds[0], creds[1], address)
            except AuthError as err:
                raise _auth_error(request, err, self.hs) from None
            principal = Principal(user, "password")
        s = await self.sessions.login(hs, request, principal)
        request.setHeader(b"content-type", b"application/json; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        return json.dumps({"UserName": principal.user.login, "FullName": principal.user.full_name,
                           "XsrfToken": s.xsrf, "ExpiresIn": int(self.sessions.lifetime)}).encode()

    @app.route("/session", methods=["GET"], strict_slashes=False)
    async def whoami(self, request):
        principal = await self.authenticate(request)
        request.setHeader(b"content-type", b"application/json; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        return json.dumps({"UserName": principal.user.login, "FullName": principal.user.full_name,
                           "Scheme": principal.scheme}).encode()

    @app.route("/session", methods=["DELETE"], strict_slashes=False)
    async def logout(self, request):
        try:  # without a cookie, logging out is a no-op (idempotent); XSRF applies to logging out too
            await self.sessions.logout(self.hs, request, strict=True)
        except AuthError as err:
            raise _auth_error(request, err, self.hs) from None
        request.setResponseCode(204)
        return b""

    # ------------------------------------------------------------------ OpenAPI
    @app.route("/openapi.json", methods=["GET"], strict_slashes=False)
    def openapi(self, request):
        request.setHeader(b"content-type", b"application/json; charset=utf-8")
        return openapi_document()

    # ------------------------------------------------------------------ errors
    @app.handle_errors(HttpError)
    def rest_error(self, request, failure):
        e = failure.value
        return write_error(request, e.status, e.kind, e.message, e.headers)

    @app.handle_errors(EngineError)
    def engine_error(self, request, failure):
        """Engine errors: the status from the one mapping (services87/http/errors.py)."""
        e = failure.value
        c = classify(e)
        message = c.message
        if isinstance(e, UnknownPanel) and len(message) > 200:
            message = message[:200] + "..."
        elif isinstance(e, StoreUnavailable):
            message = "The statistics store is not available; try again"
        headers = {b"retry-after": [str(c.retry_after).encode()]} if c.retry_after is not None else None
        return write_error(request, c.status, c.kind, message, headers)

    @app.handle_errors(NotFound)
    def not_found(self, request, failure):
        return write_error(request, 404, "NotFound", "No such resource")

    @app.handle_errors(MethodNotAllowed)
    def not_allowed(self, request, failure):
        allowed = sorted(set(failure.value.valid_methods or ()))
        return write_error(request, 405, "MethodNotAllowed", f"{request.method.decode('latin-1')} is not allowed "
                           "here; allowed: " + ", ".join(allowed), {b"allow": [", ".join(allowed).encode()]})

    @app.handle_errors(HTTPException)
    def http_exception(self, request, failure):
        e = failure.value
        return write_error(request, e.code or 400, type(e).__name__, e.description or e.name)

    @app.handle_errors(Exception)
    def internal_error(self, request, failure):
        error_id = getattr(request, "request_id", "") or secrets.token_hex(6)
        log.error("unhandled error %s in %s %s: %s", error_id, request.method, request.uri,
                  failure.getTraceback())
        return write_error(request, 500, "InternalServerError", "An internal error occurred", ErrorId=error_id)


@dataclass(frozen=True)
class _Question:
    """What a GetStatistics request asks, read off the request on the reactor thread."""

    raw: bytes
    accept: bytes | None
    content_type: bytes | None
    select: str
    lang: str | None
    culture: str | None
    zone: str | None


def _answer(hs: Services87Server, warm: WarmPath, shapes: ResponseCache, check,
            q: _Question) -> tuple[bytes, str, str | None, Principal]:
    """Store thread: authenticate (``check``), parse and answer; ``(payload, media type, language, principal)``;
    the question's shape goes into ``shapes`` (:attr:`RestApi.shapes`).

    The checks come in the order the API documents (401, 406 when strict, 415/400, 400 TooManyFunctions/UnknownPanel,
    400 UnknownTimeZone). The serialized answer comes from the answer cache when the same caller asked the
    same question and the stored answer's validity (the engine's: data version and clock) still holds; a write
    bumps the version, so a stored answer is never served stale. Errors propagate (and are never stored)."""
    try:
        principal = check()
    except AuthError as err:
        raise _auth_error(None, err, hs) from None
    out_type = media.negotiate(q.accept, hs.settings.rest_strict_accept)
    body = media.parse_body(q.content_type, q.raw, hs.settings.max_xml_depth, hs.settings.max_json_depth)
    functions = media.functions_from_body(body)
    if len(functions) > MAX_FUNCTIONS:
        raise RestError(400, "TooManyFunctions", f"At most {MAX_FUNCTIONS} functions per request")
    panels = hs.get_engine().parse_panels(functions)  # UnknownPanel -> 400, before any work
    select = Selection(q.select)
    if q.zone is not None:
        resolve_zone(q.zone)  # UnknownTimeZone -> 400 even when no function needs a zone
    key = None
    if warm.enabled:
        shape = (tuple(panels), select.key, out_type)
        shapes.put(q, shape, size=len(q.raw) + 64)
        key = _key(principal, shape, q)
        hit = warm.get(key, hs.get_store().versions()[0])
        if hit is not None:
            return hit[0], out_type, hit[1], principal
    ctx = StatContext(user=principal.user, time_zone=q.zone, language=q.lang)
    answer = hs.get_engine().compute(ctx, panels, q.culture)
    shaped = [select.apply(dataset_dict(ds)) for ds in answer]
    payload = render_xml(shaped) if media.is_xml(out_type) else render_json(shaped)
    warm.put(key, (payload, answer.language), answer.validity, size=len(payload))
    return payload, out_type, answer.language, principal


def _key(principal: Principal, shape: tuple, q: _Question) -> tuple:
    """The question: who asks, what, how (the answer's validity covers the data version and the clock)."""
    return ("rest", principal.user.id) + shape[:2] + (q.lang, q.culture, q.zone, shape[2])


def _reactor_hit(hs: Services87Server, warm: WarmPath, shapes: ResponseCache, authorization: str | None,
                 q: _Question):
    """Reactor thread, no hop: ``(payload, media type, language, principal)`` when the version watch proves
    the versions read last are current, the ticket/bearer token was validated under them and has not
    expired, and the same question (its shape in ``shapes``) is answered in the cache; else ``None`` (the
    normal path)."""
    if not warm.enabled:
        return None
    shape = shapes.get(q)
    if shape is None:
        return None
    try:
        parsed = httpauth.parse_authorization(authorization)
    except (AuthError, TypeError, ValueError):
        return None
    if parsed is None:  # no Authorization header
        return None
    scheme, credentials = parsed
    if scheme not in _SCHEMES_LOWER:
        return None
    found = []

    def key_of(versions):
        principal = hs.get_auth().cached_principal(scheme, credentials, versions)
        if principal is None:
            return None
        found.append(principal)
        return _key(principal, shape, q)

    hit = warm.on_reactor(key_of)
    if hit is None:
        return None
    return hit[0], shape[2], hit[1], found[0]


_SCHEMES_LOWER = frozenset(s.lower() for s in SCHEMES)


def _login_fields(body: media.Body) -> tuple[str, str] | None:
    names = {"username": "user", "user": "user", "login": "user", "password": "password"}
    found: dict[str, str] = {}
    items: Iterable[tuple[Any, Any]]  # (name, value) pairs of a JSON object, a form or an XML element
    if body.media_type in media.JSON_TYPES:
        if not isinstance(body.data, dict):
            raise RestError(400, "MalformedRequest", 'The body must be a JSON object: {"UserName": .., "Password": ..}')
        items = body.data.items()
    elif body.media_type == media.FORM_TYPE:
        items = body.data
    else:
        items = [(media.local(c.tag), c.text or "") for c in body.data if isinstance(c.tag, str)]
    for key, value in items:
        role = names.get(str(key).lower())
        if role is not None:
            if not isinstance(value, str):
                raise RestError(400, "MalformedRequest", f"{key} must be a string")
            found[role] = value
    if not found:
        return None
    if "user" not in found or "password" not in found:
        raise RestError(400, "MalformedRequest", "Both UserName and Password are required")
    return found["user"], found["password"]
