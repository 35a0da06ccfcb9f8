"""Settings: defaults, overridden by a TOML file, overridden by ``SERVICES87_*`` environment variables.

Every setting is documented in docs/configuration.md. The environment variable for a setting is
``SERVICES87_`` + its dotted name upper-cased with dots replaced by ``__`` for nested tables
(e.g. ``SERVICES87_DB_URL``, ``SERVICES87_BUSINESS_HOURS__START``); lists are comma-separated.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

from services87.auth.passwords import PROFILES
from services87.engine.model import ValidationError
from services87.engine.statserver.definitions import InvalidDefinition, parse_time_of_day
from services87.engine.timebuckets import resolve_zone
from services87.i18n import SUPPORTED


#: ``SERVICES87_*`` environment variables that are not settings (the config file path; progress bars
#: forced on when stderr is not a terminal; the test suite's switches, see scripts/test). Every
#: ``SERVICES87_TEST_*`` (:data:`TEST_PREFIX`) is the test suite's too.
NOT_SETTINGS = frozenset({"SERVICES87_CONFIG", "SERVICES87_PROGRESS", "SERVICES87_TEST_PG_ADMIN",
                          "SERVICES87_TEST_STORES", "SERVICES87_INTEROP", "SERVICES87_BROWSER",
                          "SERVICES87_FUZZ_EXAMPLES"})
TEST_PREFIX = "SERVICES87_TEST_"


class ConfigError(ValueError):
    """A setting has a value that cannot be used."""


@dataclass
class BusinessHours:
    #: Weekdays that are working days, ISO numbering (1 = Monday ... 7 = Sunday).
    days: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 5])
    #: Start and end of the working day, local time "HH:MM".
    start: str = "08:00"
    end: str = "16:00"
    #: IANA time zone the business hours are expressed in.
    time_zone: str = "Europe/Oslo"
    #: Holidays as ISO dates ("2026-12-25").
    holidays: list[str] = field(default_factory=list)


@dataclass
class Buckets:
    days: int = 14
    weeks: int = 12
    months: int = 12


@dataclass
class Genesys:
    """Genesys Statistics API v3, CometD push and the live ingest feed (docs/genesys.md)."""

    #: Name of the one Tenant object (objectType Tenant, objectId this name or "Resources").
    tenant: str = "Environment"
    #: IANA zone of the tenant: GrowingWindow resets happen at local times of this zone; empty = default_time_zone.
    time_zone: str = ""
    #: Default reset time of day (HH:MM[:SS]) of GrowingWindow statistics without a dynamicTimeProfile.
    reset_time: str = "00:00"
    #: Require ``Authorization: Bearer`` (from POST /auth/v3/oauth/token) besides x-api-key.
    require_bearer: bool = True
    #: Keep subscriptions across a store outage and re-push their current values after AVAILABLE
    #: (false = drop them on UNAVAILABLE, as Genesys documents; clients re-create them).
    keep_subscriptions_on_outage: bool = False
    #: Fault injection for tests and drills: while this file exists the store counts as unreachable.
    outage_file: str = ""
    #: How often the store is probed for reachability (milliseconds).
    health_interval_ms: int = 2000
    #: Change events within this time are coalesced into one recomputation (milliseconds).
    recompute_delay_ms: int = 100
    #: Subscriptions kept at once, and statistics per subscription / per get-statistic-ex call.
    max_subscriptions: int = 1000
    max_statistics: int = 200
    #: Largest ingest request body (bytes) and most events per ingest batch.
    ingest_max_body: int = 1048576
    ingest_max_events: int = 1000
    #: CometD: long-poll hold (ms, <= 25000), session sweep after this long without /meta/connect (ms),
    #: messages queued per session (the oldest is dropped when full).
    cometd_timeout_ms: int = 25000
    cometd_max_interval_ms: int = 10000
    cometd_max_queue: int = 1000
    #: Simulator: pause between simulated events (ms), and how many events one run sends at most
    #: (0 = until stopped).
    simulate_interval_ms: int = 1000
    simulate_max_events: int = 0


@dataclass
class Http:
    """Site-wide HTTP limits against slow and abusive clients (services87/http/limits.py, docs/security.md)."""

    #: Seconds a client has, from connecting (or from the first byte of a follow-up request on a kept-alive
    #: connection), to send the request line and all headers; then 408 and the connection is closed.
    header_timeout: int = 10
    #: Seconds a client has to send a request body once the headers are in; then 408 and close.
    body_timeout: int = 30
    #: Seconds an idle kept-alive connection stays open between requests.
    idle_timeout: int = 60
    #: Concurrent client connections (long-polls and WebSockets included); more get 503 and are closed.
    max_connections: int = 512
    #: Concurrent connections one client address may hold; more get 503 (a value over max_connections acts as
    #: max_connections).
    #: Behind a reverse proxy every client shares the proxy's address: raise it to max_connections there.
    max_connections_per_address: int = 128
    #: Largest request body read at all (bytes), enforced while reading: a bigger Content-Length or chunked
    #: body gets 413 before it is buffered. Raised automatically to the largest endpoint limit + 64 KiB;
    #: SOAP endpoints are capped at max_body_size.
    max_request_body: int = 2097152
    #: Seconds SIGTERM waits for requests in flight before the server stops anyway.
    shutdown_grace: int = 20


@dataclass
class Metrics:
    """Prometheus metrics at ``/metrics`` (services87/ops/metrics.py, docs/operations.md)."""

    #: Serve metrics at all.
    enabled: bool = True
    #: 0 = ``/metrics`` on the main listener(s); > 0 = only on a separate plain-HTTP listener on
    #: ``metrics.host:metrics.port`` (under ``--workers N`` worker *i* listens on ``port + i``).
    port: int = 0
    host: str = "127.0.0.1"
    #: Client addresses or networks (CIDR) allowed to read metrics without a token; empty = anyone
    #: (unless a token is set). The direct peer counts, never a forwarded address.
    allow: list[str] = field(default_factory=lambda: ["127.0.0.1/8", "::1/128"])
    #: If set, ``Authorization: Bearer <token>`` also grants access, from any address.
    token: str = ""


@dataclass
class Settings:
    db_url: str = "sqlite:///services87.db"
    host: str = "127.0.0.1"
    port: int = 8087
    default_time_zone: str = "Europe/Oslo"
    default_language: str = "en"
    #: "business" (the vendor's time_to_reply: within the request priority's working hours, else
    #: business_hours) or "wall" (elapsed time, the vendor's real_time_to_reply): the UserResponseTime* clock.
    response_time_clock: str = "business"
    business_hours: BusinessHours = field(default_factory=BusinessHours)
    buckets: Buckets = field(default_factory=Buckets)
    genesys: Genesys = field(default_factory=Genesys)
    http: Http = field(default_factory=Http)
    metrics: Metrics = field(default_factory=Metrics)
    #: Twisted endpoint strings to listen on (``tcp:8087:interface=127.0.0.1``, ``ssl:8443:privateKey=key.pem:
    #: certKey=cert.pem``, ``unix:/run/services87.sock``); empty = ``tcp:<port>:interface=<host>``.
    listen: list[str] = field(default_factory=list)
    #: Addresses or networks (CIDR) of reverse proxies whose ``X-Forwarded-For`` / ``X-Forwarded-Proto`` are
    #: believed; from anyone else those headers are ignored.
    trusted_proxies: list[str] = field(default_factory=list)
    #: Log format: "text" (one line per event) or "json" (one JSON object per line).
    log_format: str = "text"
    #: Name of the request-id header: taken from the request if well-formed (1-128 of A-Z a-z 0-9 . _ : -),
    #: else generated; always returned, logged, and the ErrorId of 5xx error bodies.
    request_id_header: str = "X-Request-Id"
    #: Show the services87 version in the ``Server:`` response header.
    server_header_version: bool = False
    #: Lifetime of a SoPrincipal ticket (seconds).
    ticket_lifetime: int = 8 * 3600
    #: Lifetime of a bearer access token (seconds) and of its refresh token.
    access_token_lifetime: int = 3600
    refresh_token_lifetime: int = 14 * 24 * 3600
    #: Secret for signing bearer tokens; empty = a random one per database (stored in it).
    token_secret: str = ""
    #: "onsite" (application tokens not checked) or "online" (an ApplicationToken / SO-AppToken is required).
    installation: str = "onsite"
    #: Registered application tokens (checked in online mode).
    application_tokens: list[str] = field(default_factory=lambda: ["demo-app-token"])
    #: OAuth clients for POST /auth/v3/oauth/token, "client_id:client_secret".
    oauth_clients: list[str] = field(default_factory=lambda: ["demo-client:demo-secret"])
    #: Genesys API keys accepted in x-api-key.
    api_keys: list[str] = field(default_factory=lambda: ["demo-api-key"])
    #: Trusted proxy header that carries a login name for SoPrincipal.AuthenticateImplicit; empty = off.
    implicit_auth_header: str = ""
    #: Largest request body accepted by any endpoint (bytes); WCF's MaxReceivedMessageSize default.
    max_body_size: int = 65536
    #: REST: answer 406 when no type in ``Accept`` can be produced (false = fall back to JSON, as the
    #: vendor's ASP.NET Web API does).
    rest_strict_accept: bool = False
    #: Deepest XML element nesting accepted (WCF readerQuotas.maxDepth default).
    max_xml_depth: int = 32
    #: Deepest JSON nesting (objects and arrays) accepted in request bodies.
    max_json_depth: int = 32
    #: Failed log-ins allowed per login name, and per client address, within login_failure_window seconds;
    #: further attempts get TooManyAttempts without checking the password.
    login_max_failures: int = 10
    login_max_failures_per_address: int = 30
    login_failure_window: int = 300
    #: Size of the thread pool that runs blocking store work off the reactor thread.
    db_threads: int = 8
    #: Serialized SOAP GetStatistics responses kept in memory (keyed by request, user and data version;
    #: a write invalidates by version); 0 = off. See docs/performance.md.
    response_cache_size: int = 512
    #: Answer a repeated request from the response cache on the reactor thread, without a hop, when the
    #: SQLite change signal proves nothing was committed since the versions were last read
    #: (services87/engine/versionwatch.py); false = every request reads the versions on a store thread.
    version_watch: bool = True
    #: Debug: record every reactor-thread callback that runs longer than this (ms) and every store call made
    #: on the reactor thread (services87.debug); 0 = off.
    debug_blocking_ms: int = 0
    #: GWS (/api/v2): POST/PUT/DELETE need the X-CSRF-TOKEN handed out in response headers.
    gws_csrf_protection: bool = True
    #: GWS (/api/v2): idle lifetime of a JSESSIONID session (seconds) while no CometD client is connected.
    gws_session_timeout: int = 1800
    #: Browser (REST / status-page) sessions end after this many seconds without a request...
    session_idle_timeout: int = 3600
    #: ...and, for REST, status-page and GWS sessions alike, this many seconds after they opened, however busy.
    session_max_lifetime: int = 12 * 3600
    #: Origins (``scheme://host[:port]``) allowed to send cookie-authenticated state-changing requests and
    #: WebSocket handshakes; empty = only the server's own origin (the request's Host).
    allowed_origins: list[str] = field(default_factory=list)
    #: Argon2id parameters for new password hashes: "rfc9106-low" (default) or "test" (tiny; test suites only).
    password_hash_profile: str = "rfc9106-low"
    log_level: str = "info"

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, path: str | None = None, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        settings = cls()
        env = os.environ if env is None else env
        path = path or env.get("SERVICES87_CONFIG")
        if path:
            try:
                with open(path, "rb") as fh:
                    data = tomllib.load(fh)
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError(f"{path}: {exc}") from exc
            except OSError as exc:
                via = "SERVICES87_CONFIG" if path == env.get("SERVICES87_CONFIG") else "--config"
                raise ConfigError(f"{path}: cannot read the configuration file ({exc.strerror or exc}); "
                                  f"check {via}") from None
            _apply(settings, data, source=path)
        for key, value in env.items():
            if key.startswith("SERVICES87_") and key not in NOT_SETTINGS and not key.startswith(TEST_PREFIX):
                _apply_env(settings, key[len("SERVICES87_"):].lower().split("__"), value)
        for key, value in overrides.items():
            if value is not None:
                _apply(settings, {key: value}, source="command line")
        settings.validate()
        return settings

    def validate(self) -> None:
        for name, zone in (("default_time_zone", self.default_time_zone),
                           ("business_hours.time_zone", self.business_hours.time_zone)):
            try:
                resolve_zone(zone)
            except ValidationError:
                raise ConfigError(f"{name}: unknown time zone {zone!r}") from None
        self._validate_engine()
        if self.genesys.time_zone:
            resolve_zone(self.genesys.time_zone)
        g = self.genesys
        for name in ("health_interval_ms", "recompute_delay_ms", "max_subscriptions", "max_statistics",
                     "ingest_max_body", "ingest_max_events", "cometd_timeout_ms", "cometd_max_interval_ms",
                     "cometd_max_queue", "simulate_interval_ms"):
            if getattr(g, name) <= 0:
                raise ConfigError(f"genesys.{name} must be positive")
        if g.cometd_timeout_ms > 25000:
            raise ConfigError("genesys.cometd_timeout_ms must be at most 25000 (proxies cut longer polls)")
        try:
            parse_time_of_day(g.reset_time, "genesys.reset_time")
        except InvalidDefinition as exc:
            raise ConfigError(str(exc)) from None
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be between 0 and 65535 (0 = any free port), not {self.port}")
        if self.response_time_clock not in ("wall", "business"):
            raise ConfigError("response_time_clock must be 'wall' or 'business'")
        if self.password_hash_profile not in PROFILES:
            raise ConfigError(f"password_hash_profile must be one of {', '.join(PROFILES)}")
        if self.installation not in ("onsite", "online"):
            raise ConfigError("installation must be 'onsite' or 'online'")
        for name in ("ticket_lifetime", "access_token_lifetime", "max_body_size", "max_xml_depth", "db_threads",
                     "gws_session_timeout", "session_idle_timeout", "session_max_lifetime", "max_json_depth",
                     "login_max_failures", "login_max_failures_per_address",
                     "login_failure_window"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive")
        if self.log_format not in ("text", "json"):
            raise ConfigError("log_format must be 'text' or 'json'")
        if not 0 <= self.metrics.port <= 65535:
            raise ConfigError("metrics.port must be between 0 and 65535")
        for name, nets in (("metrics.allow", self.metrics.allow), ("trusted_proxies", self.trusted_proxies)):
            for net in nets:
                try:
                    ipaddress.ip_network(net, strict=False)
                except ValueError:
                    raise ConfigError(f"{name}: {net!r} is not an IP address or network") from None
        for name in ("header_timeout", "body_timeout", "idle_timeout", "max_connections", "max_request_body",
                     "shutdown_grace", "max_connections_per_address"):
            if getattr(self.http, name) <= 0:
                raise ConfigError(f"http.{name} must be positive")


    def _validate_engine(self) -> None:
        """Statistics engine settings: buckets, business hours, language."""
        for name in ("days", "weeks", "months"):
            n = getattr(self.buckets, name)
            if not 1 <= n <= 1000:
                raise ConfigError(f"buckets.{name} must be between 1 and 1000, not {n}")
        bh = self.business_hours
        if not bh.days or any(not 1 <= d <= 7 for d in bh.days):
            raise ConfigError(f"business_hours.days must list ISO weekdays 1 (Monday) .. 7 (Sunday), not {bh.days}")
        try:
            start, end = time.fromisoformat(bh.start), time.fromisoformat(bh.end)
        except ValueError:
            raise ConfigError(f"business_hours.start/end must be HH:MM, not {bh.start!r}/{bh.end!r}") from None
        if end <= start:
            raise ConfigError("business_hours.end must be after business_hours.start")
        for h in bh.holidays:
            try:
                date.fromisoformat(h)
            except ValueError:
                raise ConfigError(f"business_hours.holidays: {h!r} is not an ISO date (YYYY-MM-DD)") from None
        if self.default_language not in SUPPORTED:
            raise ConfigError(f"default_language must be one of {', '.join(SUPPORTED)}, not {self.default_language!r}")


def _apply(obj: Any, data: dict[str, Any], source: str) -> None:
    fields = {f.name: f for f in dataclasses.fields(obj)}
    for key, value in data.items():
        key = key.replace("-", "_")
        if key not in fields:
            raise ConfigError(f"{source}: unknown setting {key!r}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: {key} must be a table")
            _apply(current, value, source)
        else:
            setattr(obj, key, _coerce(current, value, key, source))


def _apply_env(obj: Any, path: list[str], raw: str) -> None:
    name = path[0]
    fields = {f.name for f in dataclasses.fields(obj)}
    if name not in fields:
        raise ConfigError(f"environment: unknown setting SERVICES87_{'__'.join(path).upper()}")
    current = getattr(obj, name)
    if dataclasses.is_dataclass(current):
        if len(path) < 2:
            raise ConfigError(f"environment: {name} is a table; use SERVICES87_{name.upper()}__<KEY>")
        _apply_env(current, path[1:], raw)
    else:
        setattr(obj, name, _coerce(current, raw, name, "environment"))


def _coerce(current: Any, value: Any, key: str, source: str) -> Any:
    try:
        if isinstance(current, bool):
            if isinstance(value, str):
                word = value.strip().lower()
                if word in ("1", "true", "yes", "on"):
                    return True
                if word in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            if isinstance(value, bool):
                return value
            raise TypeError(value)
        if isinstance(current, int):
            if isinstance(value, (bool, list, dict)) or (isinstance(value, float) and not value.is_integer()):
                raise TypeError(value)
            return int(value)
        if isinstance(current, list):
            if isinstance(value, str):
                items = [v.strip() for v in value.split(",") if v.strip()]
            elif isinstance(value, list):
                items = list(value)
            else:
                raise TypeError(value)
            if current and isinstance(current[0], int):
                return [int(v) for v in items]
            return [str(v) for v in items]
        if isinstance(current, str) and not isinstance(value, str):
            raise TypeError(value)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: bad value for {key}: {value!r}") from exc
