"""The Customer Service Status Page: a live wallboard at ``/`` over the same engine.

What this module serves (everything else the page needs comes from the public APIs):

* ``/`` — the page (``services87/static/statuspage/index.html``, built from ``frontend/``).
* ``/static/statuspage/*`` — its JavaScript, CSS and fonts (committed build output; no Node at run time).
* ``/statuspage/api/login`` (POST ``{login, password}``), ``/statuspage/api/logout`` (POST) — the browser
  session: an HttpOnly session cookie plus a readable ``XSRF-TOKEN`` cookie whose value every state-changing
  request (and every REST twin call) repeats in ``X-XSRF-TOKEN`` (double submit).
* ``/statuspage/api/me`` (GET) — who is logged in, their saved preferences, the panel catalogue, the agents
  for the Genesys view and the credentials the page uses for the Statistics API (a bearer token of the user).
* ``/statuspage/api/prefs`` (GET, PUT) — panels (which and in which order), language and time zone,
  remembered per user in the ``user_prefs`` table.

The numbers themselves come from ``POST /api/v1/Agents/CustomerService/GetStatistics`` (the REST twin, same
session cookie + XSRF header); live updates come over Bayeux from the Statistics API. See docs/statuspage.md.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from klein import Klein
from twisted.internet import defer
from twisted.web import resource, static

from services87.auth.http import client_address
from services87.auth.service import Principal
from services87.engine.model import ALL_PANELS, EngineError, StatusScreenPanelType, StoreUnavailable
from services87.engine.timebuckets import resolve_zone
from services87.i18n import SUPPORTED, normalize_language
from services87.auth.http import retry_after
from services87.http.body import read_body
from services87.http.errors import Classified, HttpError, classify, error_doc
from services87.http.origin import PAGE_CSP
from services87.http.routing import JsonAnswers, Routes, detached, json_errors
from services87.http.tree import NotFoundResource, mount as mount_at
from services87.http import jsonguard

if TYPE_CHECKING:
    from services87.server import Services87Server

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static" / "statuspage"
#: Panels the page can show: every StatusScreenPanelType except ``None``.
PAGE_PANELS: tuple[StatusScreenPanelType, ...] = tuple(p for p in ALL_PANELS if p is not StatusScreenPanelType.None_)
DEFAULT_ORDER: tuple[StatusScreenPanelType, ...] = (StatusScreenPanelType.StatusScreen,) + tuple(
    p for p in PAGE_PANELS if p is not StatusScreenPanelType.StatusScreen)



# --------------------------------------------------------------------------- helpers
ANSWERS = JsonAnswers()
#: Errors are the server's own shape (services87/http/errors.py: ``error_doc``), written in ASCII.
ERRORS = JsonAnswers(ascii=True)
CHALLENGE = (b'Session realm="services87"',)


def _error(request, c: Classified, message: str | None = None) -> bytes:
    return ERRORS.error(request, c, error_doc(c.status, c.kind, c.message if message is None else message),
                        CHALLENGE)


def _finish(request, body: bytes) -> None:
    if not request.finished and not getattr(request, "_disconnected", False):
        request.write(body)
        request.finish()


class BadRequest(HttpError):
    def __init__(self, message: str, kind: str = "ValidationError", code: int = 400):
        super().__init__(code, kind, message)

    @property
    def code(self) -> int:
        return self.status


def _read_json(hs: Services87Server, request) -> dict:
    limit = hs.settings.max_body_size
    body = read_body(request, limit, media_types=("application/json", "text/json"),
                     media_message="Send the body as application/json")
    try:
        return jsonguard.loads(body, max_size=limit, max_depth=hs.settings.max_json_depth)
    except jsonguard.JsonGuardError as exc:
        raise BadRequest(f"The body is not valid JSON ({exc.kind}): {exc.message}", "MalformedBody") from None


# --------------------------------------------------------------------------- preferences
def default_prefs(hs: Services87Server, user) -> dict:
    return {
        "panels": [p.name for p in DEFAULT_ORDER],
        "language": normalize_language(user.language, normalize_language(hs.settings.default_language)),
        "timeZone": user.time_zone or hs.settings.default_time_zone,
    }


def validate_prefs(data: dict, base: dict) -> dict:
    """Merge ``data`` (a partial preferences object) into ``base``; raise :class:`BadRequest` on bad input."""
    unknown = set(data) - {"panels", "language", "timeZone"}
    if unknown:
        raise BadRequest(f"Unknown preference(s): {', '.join(sorted(unknown))}")
    out = dict(base)
    if "panels" in data:
        panels = data["panels"]
        if not isinstance(panels, list) or len(panels) > len(PAGE_PANELS):
            raise BadRequest(f"panels must be a list of at most {len(PAGE_PANELS)} panel names")
        names: list[str] = []
        for item in panels:
            if not isinstance(item, (str, int)) or isinstance(item, bool):
                raise BadRequest(f"Not a panel: {item!r}")
            try:
                panel = StatusScreenPanelType.parse(item)
            except EngineError as exc:
                raise BadRequest(str(exc), "UnknownPanel") from None
            if panel is StatusScreenPanelType.None_:
                raise BadRequest("The None panel cannot be shown", "UnknownPanel")
            if panel.name in names:
                raise BadRequest(f"Panel listed twice: {panel.name}")
            names.append(panel.name)
        out["panels"] = names
    if "language" in data:
        lang = data["language"]
        if not isinstance(lang, str) or lang not in SUPPORTED:
            raise BadRequest(f"language must be one of {', '.join(SUPPORTED)}")
        out["language"] = lang
    if "timeZone" in data:
        zone = data["timeZone"]
        if not isinstance(zone, str) or not zone or len(zone) > 64:
            raise BadRequest("timeZone must be an IANA time zone name")
        try:
            resolve_zone(zone)
        except Exception:
            raise BadRequest(f"Unknown time zone: {zone}", "UnknownTimeZone") from None
        out["timeZone"] = zone
    return out


# --------------------------------------------------------------------------- resources
class _Api:
    """A small JSON endpoint: its handlers ``(request, body, principal)`` run on the thread pool and return
    ``(status, payload)``; :class:`StatusPageApi` routes to them. ``anonymous`` endpoints get no principal; all
    others need the session cookie and, for unsafe methods, the matching ``X-XSRF-TOKEN`` header (checked by
    the shared session store)."""

    anonymous = False
    takes_body = True

    def __init__(self, hs: Services87Server):
        self.hs = hs
        self.sessions = hs.get_sessions()
        self.prefs = hs.get_prefs_store()

    def run(self, request, handler):
        """Read the body, authenticate, run ``handler`` off the reactor and answer; a Deferred that fires once
        the answer is written (or the bytes of an early refusal)."""
        try:
            body = _read_json(self.hs, request) if request.method in (b"POST", b"PUT") and self.takes_body else None
        except HttpError as exc:
            return _error(request, classify(exc))
        if self.anonymous:
            d = self.hs.run_blocking(handler, request, body, None)
        else:
            d = self.sessions.authenticate(self.hs, request)
            d.addCallback(lambda principal: self.hs.run_blocking(handler, request, body, principal))
        d.addCallback(self._done, request)
        d.addErrback(self._failed, request)
        return detached(d)

    def _done(self, result, request):
        code, payload = result
        _finish(request, ANSWERS.answer(request, code, payload))

    def _failed(self, failure, request):
        exc = failure.value
        c = classify(exc, retry_after(self.hs))
        message = c.message
        if isinstance(exc, StoreUnavailable):
            message = "The statistics store is unavailable; try again"
        elif c.status == 500 and not isinstance(exc, HttpError):
            log.error("status page API failed: %s", failure.getTraceback())
            message = "Internal error"
        _finish(request, _error(request, c, message))

    def _prefs_for(self, user) -> dict:
        """Blocking: the user's saved preferences over the defaults (invalid saved values are ignored)."""
        base = default_prefs(self.hs, user)
        saved = self.prefs.get(user.id) or {}
        out = dict(base)
        for key in base:
            if key in saved:
                try:
                    out = validate_prefs({key: saved[key]}, out)
                except BadRequest:
                    pass
        return out


class Login(_Api):
    """``POST {login, password}``: checks the password, opens a session (cookies) and answers the user."""

    anonymous = True

    def post(self, request, body, _principal):
        login, password = body.get("login"), body.get("password")
        if not isinstance(login, str) or not isinstance(password, str) or not login.strip():
            raise BadRequest('Send {"login": "...", "password": "..."}', "MalformedBody")
        return self.hs.get_auth().authenticate_password(login, password, client_address(request))

    def _done(self, user, request):
        d = self.sessions.login(self.hs, request, Principal(user, "password"))
        d.addCallback(lambda s: _finish(request, ANSWERS.answer(request, 200, {
            "login": user.login, "fullName": user.full_name, "xsrfToken": s.xsrf})))
        d.addErrback(self._failed, request)
        return d


class Logout(_Api):
    """``POST`` (with the XSRF header): ends the session and revokes its ticket."""

    anonymous = True
    takes_body = False

    def post(self, request) -> defer.Deferred:
        d = self.sessions.logout(self.hs, request)
        d.addCallback(lambda had: _finish(request, ANSWERS.answer(request, 200, {"loggedOut": bool(had)})))
        d.addErrback(self._failed, request)
        return detached(d)


class Me(_Api):
    """``GET``: the user, their preferences, the panel catalogue, agents, Statistics API credentials."""

    def get(self, request, body, principal):
        user = principal.user
        agents = [{"login": u.login, "name": u.full_name} for u in self.hs.get_store().list_users() if u.active]
        tokens = self.hs.get_auth().issue_tokens(user, session=principal.session)
        keys = self.hs.settings.api_keys
        genesys = getattr(self.hs.settings, "genesys", None)
        return 200, {
            "tenant": getattr(genesys, "tenant", "Environment"),
            "queues": self._queues(),
            "login": user.login,
            "fullName": user.full_name,
            "prefs": self._prefs_for(user),
            "panels": [{"name": p.name, "number": int(p)} for p in PAGE_PANELS],
            "languages": list(SUPPORTED),
            "agents": agents,
            "statistics": {"apiKey": keys[0] if keys else "", "accessToken": tokens["access_token"],
                           "expiresIn": tokens.get("expires_in")},
        }


    def _queues(self) -> list[str]:
        """Queue names for the Genesys view (empty when the live tables are not there)."""
        try:
            return list(self.hs.get_live_store().names().get("queues", []))
        except Exception:  # the live feature is optional for the page
            log.debug("no queues for the status page", exc_info=True)
            return []


class Prefs(_Api):
    """``GET`` the saved preferences; ``PUT`` a partial object ``{panels?, language?, timeZone?}``."""

    def get(self, request, body, principal):
        return 200, self._prefs_for(principal.user)

    def put(self, request, body, principal):
        user = principal.user
        prefs = validate_prefs(body, self._prefs_for(user))
        self.prefs.put(user.id, prefs)
        return 200, prefs


class StatusPageApi:
    """``/statuspage/api``: a Klein app (services87/http/routing.py) over the endpoints above."""

    app = Klein()

    def __init__(self, hs: Services87Server):
        self.login, self.logout, self.me, self.prefs = Login(hs), Logout(hs), Me(hs), Prefs(hs)

    def resource(self):
        return Routes(self, _routing_error)

    @app.route("/login", methods=["POST"], strict_slashes=False)
    def login_post(self, request):
        return self.login.run(request, self.login.post)

    @app.route("/logout", methods=["POST"], strict_slashes=False)
    def logout_post(self, request):
        return self.logout.post(request)

    @app.route("/me", methods=["GET"], strict_slashes=False)
    def me_get(self, request):
        return self.me.run(request, self.me.get)

    @app.route("/prefs", methods=["GET"], strict_slashes=False)
    def prefs_get(self, request):
        return self.prefs.run(request, self.prefs.get)

    @app.route("/prefs", methods=["PUT"], strict_slashes=False)
    def prefs_put(self, request):
        return self.prefs.run(request, self.prefs.put)


def _routing_error(request, status: int, kind: str, message: str) -> bytes:
    if status == 405:
        message = f"{request.method.decode('ascii', 'replace')} is not allowed here " \
                  f"({request.responseHeaders.getRawHeaders(b'allow', [b''])[0].decode()})"
    return ERRORS.answer(request, status, error_doc(status, kind, message))


json_errors(StatusPageApi.app, _routing_error)


class StaticFiles(static.File):
    """Static files with JSON 404s and no directory listings."""

    # set in __init__, one per instance (Twisted types it as its own 404 class; any resource answers)
    childNotFound: resource.Resource  # type: ignore[assignment]

    def __init__(self, path, *args, **kwargs):
        super().__init__(path, *args, **kwargs)
        self.childNotFound = NotFoundResource()
        self.indexNames = []  # a directory is never served (the page itself lives at /)

    def directoryListing(self):
        return NotFoundResource()

    def getChild(self, path, request):
        if b"\x00" in path or b"/" in path or b"\\" in path:  # never a file name here; os.stat would raise
            return self.childNotFound
        try:
            path.decode("utf-8")
        except UnicodeDecodeError:
            return self.childNotFound
        return super().getChild(path, request)

    def createSimilarFile(self, path):
        f = self.__class__(path, self.defaultType, self.ignoredExts, self.registry)
        f.processors = self.processors
        f.indexNames = self.indexNames[:]
        return f

    def render_GET(self, request):
        # hashed-free file names: revalidate, but allow conditional GETs
        request.setHeader(b"cache-control", b"no-cache")
        request.setHeader(b"x-content-type-options", b"nosniff")
        return super().render_GET(request)


class IndexPage(resource.Resource):
    isLeaf = True

    def render_GET(self, request):
        path = STATIC_DIR / "index.html"
        request.setHeader(b"cache-control", b"no-cache")
        request.setHeader(b"x-content-type-options", b"nosniff")
        request.setHeader(b"x-frame-options", b"DENY")
        request.setHeader(b"referrer-policy", b"same-origin")
        request.setHeader(b"content-security-policy", PAGE_CSP)
        try:
            html = path.read_bytes()
        except OSError:
            request.setHeader(b"retry-after", b"5")
            return ERRORS.answer(request, 503, error_doc(503, "NotBuilt",
                                                         "The status page is not built (run scripts/build-frontend)"))
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        return html

    def render_HEAD(self, request):
        return self.render_GET(request)


def mount(hs: Services87Server, root) -> None:
    root.index = IndexPage()
    mount_at(root, "static/statuspage", StaticFiles(str(STATIC_DIR)))
    mount_at(root, "statuspage/api", StatusPageApi(hs).resource())
