"""Settings: defaults, overridden by a TOML file, overridden by ``SERVICES87_*`` environment variables.

Every setting is documented in docs/configuration.md. The environment variable for a setting is
``SERVICES87_`` + its dotted name upper-cased with dots replaced by ``__`` for nested tables
(e.g. ``SERVICES87_DB_URL``, ``SERVICES87_BUSINESS_HOURS__START``); lists are comma-separated.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from typing import Any


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
class Settings:
    db_url: str = "sqlite:///services87.db"
    host: str = "127.0.0.1"
    port: int = 8087
    default_time_zone: str = "Europe/Oslo"
    default_language: str = "en"
    #: "wall" or "business": the clock used by the UserResponseTime* panels.
    response_time_clock: str = "wall"
    business_hours: BusinessHours = field(default_factory=BusinessHours)
    buckets: Buckets = field(default_factory=Buckets)
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
    #: Deepest XML element nesting accepted (WCF readerQuotas.maxDepth default).
    max_xml_depth: int = 32
    #: Size of the thread pool that runs blocking store work off the reactor thread.
    db_threads: int = 8
    log_level: str = "info"

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, path: str | None = None, env: dict[str, str] | None = None, **overrides: Any) -> "Settings":
        settings = cls()
        env = os.environ if env is None else env
        path = path or env.get("SERVICES87_CONFIG")
        if path:
            with open(path, "rb") as fh:
                try:
                    data = tomllib.load(fh)
                except tomllib.TOMLDecodeError as exc:
                    raise ConfigError(f"{path}: {exc}") from exc
            _apply(settings, data, source=path)
        for key, value in env.items():
            if key.startswith("SERVICES87_") and key != "SERVICES87_CONFIG":
                _apply_env(settings, key[len("SERVICES87_"):].lower().split("__"), value)
        for key, value in overrides.items():
            if value is not None:
                _apply(settings, {key: value}, source="command line")
        settings.validate()
        return settings

    def validate(self) -> None:
        from services87.engine.timebuckets import resolve_zone

        resolve_zone(self.default_time_zone)
        resolve_zone(self.business_hours.time_zone)
        if self.response_time_clock not in ("wall", "business"):
            raise ConfigError("response_time_clock must be 'wall' or 'business'")
        if self.installation not in ("onsite", "online"):
            raise ConfigError("installation must be 'onsite' or 'online'")
        for name in ("ticket_lifetime", "access_token_lifetime", "max_body_size", "max_xml_depth", "db_threads"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive")


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
                return value.strip().lower() in ("1", "true", "yes", "on")
            return bool(value)
        if isinstance(current, int):
            return int(value)
        if isinstance(current, list):
            if isinstance(value, str):
                items = [v.strip() for v in value.split(",") if v.strip()]
            else:
                items = list(value)
            if current and isinstance(current[0], int):
                return [int(v) for v in items]
            return [str(v) for v in items]
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: bad value for {key}: {value!r}") from exc
