"""Authentication service shared by SOAP (SoPrincipal + Credentials header), REST, Genesys and GWS.

* Tickets: ``7T:`` + 32 random bytes (url-safe base64); only their SHA-256 is stored; they expire after
  ``ticket_lifetime`` and can be revoked.
* Bearer tokens: HS256 JWTs (``sub`` = user id, ``exp``, ``jti``) signed with ``token_secret`` (or a random
  secret kept in the database); refresh tokens are opaque like tickets.
* Application tokens: checked only when ``installation = "online"``, as the vendor's Online mode does.
All blocking (database, Argon2); call off the reactor thread.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import jwt

from services87.auth.passwords import prepare as prepare_passwords, verify_password
from services87.auth.revocation import binding
from services87.cache import ResponseCache
from services87.engine.model import NotFound, User
from services87.engine.storage import Store
from services87.engine.storage.tickets import TicketStore


class AuthError(Exception):
    """A typed authentication failure. ``kind`` names it for every protocol's error format."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class Principal:
    user: User
    scheme: str  # password / ticket / bearer / implicit / session
    ticket: str | None = None
    #: the SHA-256 of the browser session behind a ``session`` principal (tokens issued to it end with it)
    session: str | None = None


class AuthService:
    def __init__(self, store: Store, settings, clock=time.time):
        self.store = store
        #: log-in attempts refused by the failure throttle (a metric)
        self.throttled = 0
        self.tickets = TicketStore(store)
        self.settings = settings
        self.clock = clock
        secret = settings.token_secret or store.set_meta_default("token_secret", secrets.token_hex(32))
        self._secret = secret.encode()
        #: validated tickets: (digest, data version, auth version) -> (Principal, expires_ts)
        self._validated = ResponseCache(4096)
        prepare_passwords()  # the first log-in of an unknown user costs what any other does

    # ------------------------------------------------------------------ throttling
    #: Default of ``login_failure_window`` (seconds), for Retry-After headers.
    FAILURE_WINDOW = 300.0

    def _limit(self, key: str) -> int:
        if key.startswith("addr:"):
            return getattr(self.settings, "login_max_failures_per_address", 30)
        return getattr(self.settings, "login_max_failures", 10)

    @property
    def _window(self) -> int:
        return int(getattr(self.settings, "login_failure_window", 300))

    def _throttled(self, *keys: str) -> bool:
        """Failures are counted in the store (table ``login_throttle``): every worker sees the same counts,
        and a restart does not clear them."""
        counts = self.tickets.throttle_failures(keys, int(self.clock()), self._window)
        return any(counts.get(key, 0) >= self._limit(key) for key in keys)

    def _record_failure(self, *keys: str) -> None:
        self.tickets.throttle_record(keys, int(self.clock()), self._window)

    # ------------------------------------------------------------------ passwords
    def authenticate_password(self, login: str | None, password: str | None, address: str = "") -> User:
        login = (login or "").strip()
        keys = ("user:" + login.lower(), "addr:" + address) if address else ("user:" + login.lower(),)
        if self._throttled(*keys):
            self.throttled += 1
            raise AuthError("TooManyAttempts", "Too many failed log-in attempts; try again later")
        found = self.store.password_hash(login) if login else None
        if not verify_password(found[1] if found else None, password or "") or not found:
            self._record_failure(*keys)
            raise AuthError("InvalidCredentials", "Unknown user name or wrong password")
        return self.store.get_user(found[0])

    # ------------------------------------------------------------------ tickets
    @staticmethod
    def digest(token: str) -> str:
        """What the store keeps of a credential (tickets, refresh tokens, session ids): its SHA-256, in hex."""
        return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()

    def issue_ticket(self, user: User) -> str:
        ticket = "7T:" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        now = int(self.clock())
        self.tickets.add(self.digest(ticket), user.id, now, now + self.settings.ticket_lifetime, "ticket")
        return ticket

    def validate_ticket(self, ticket: str | None, versions: tuple[int, int] | None = None) -> Principal:
        """The ticket's principal, or :class:`AuthError`. Checked on every call: a validated ticket is
        remembered under (digest, data version, auth version), so a repeat costs one small query
        (``Store.versions``): a revocation bumps the auth version, a user change the data version, and the
        ticket's expiry is compared with the clock each time.

        :param versions: ``Store.versions()`` as the caller has just read them (it needs them too), so that
            they are not read twice
        """
        if not ticket or not ticket.strip():
            raise AuthError("NoTicket", "No ticket: log in through SoPrincipal first")
        ticket = ticket.strip()
        if len(ticket) >= 512:
            raise AuthError("InvalidTicket", "The ticket is not valid")
        digest = self.digest(ticket)
        key = (digest,) + tuple(self.store.versions() if versions is None else versions)
        known = self._validated.get(key)
        if known is not None and known[1] > self.clock():
            return known[0]
        row = self.tickets.get(digest, "ticket")
        if row is None:
            raise AuthError("InvalidTicket", "The ticket is not valid")
        if row["revoked"]:
            raise AuthError("InvalidTicket", "The ticket has been revoked")
        if row["expires_ts"] <= self.clock():
            raise AuthError("ExpiredTicket", "The ticket has expired; log in again")
        principal = Principal(self.active_user(row["user_id"]), "ticket", ticket)
        self._validated.put(key, (principal, row["expires_ts"]), size=1)
        return principal

    def cached_principal(self, scheme: str, credentials: str | None, versions: tuple[int, int]) -> Principal | None:
        """A ticket (``soticket``) or bearer token validated before under ``versions`` (data, auth) and not
        expired by the clock, else ``None``. No database access: safe on the reactor thread, given versions
        known to be current (``services87/engine/versionwatch.py``)."""
        if not credentials or not credentials.strip():
            return None
        credentials = credentials.strip()
        if scheme == "soticket":
            if len(credentials) >= 512:
                return None
            key = (self.digest(credentials),) + tuple(versions)
        elif scheme == "bearer":
            key = ("jwt", self.digest(credentials)) + tuple(versions)
        else:
            return None
        known = self._validated.get(key)
        if known is None or not known[1] > self.clock():
            return None
        return known[0]

    def revoke_ticket(self, ticket: str) -> bool:
        return self.tickets.revoke(self.digest(ticket.strip()))

    def revoke_user(self, user_id: int) -> None:
        """Admin revoke: every ticket, token and session of the user ends, on every worker."""
        self.store.revoke_user_credentials(user_id)

    def active_user(self, user_id: int) -> User:
        """Blocking: the user behind a credential, if they still exist and are active (else :class:`AuthError`)."""
        try:
            user = self.store.get_user(user_id)
        except NotFound:
            raise AuthError("InvalidTicket", "The user no longer exists") from None
        if not user.active:
            raise AuthError("UserInactive", "The user is not active")
        return user

    # ------------------------------------------------------------------ bearer tokens
    def issue_tokens(self, user: User, session: str | None = None) -> dict:
        """An access token (carrying the user's credential epoch ``ep``, and ``sid`` when issued to a
        browser session: it then ends with that session) and a refresh token."""
        now = int(self.clock())
        lifetime = self.settings.access_token_lifetime
        state = self.store.user_credential_state(user.id)
        if state is None or not state[0]:
            raise AuthError("UserInactive", "The user is not active")
        claims = {"sub": str(user.id), "login": user.login, "iat": now, "exp": now + lifetime,
                  "jti": secrets.token_hex(8), "iss": "services87", "ep": state[1]}
        if session:
            claims["sid"] = session
        access = jwt.encode(claims, self._secret, algorithm="HS256")
        refresh = "RT:" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        self.tickets.add(self.digest(refresh), user.id, now, now + self.settings.refresh_token_lifetime, "refresh")
        return {"access_token": access, "token_type": "bearer", "expires_in": lifetime,
                "refresh_token": refresh, "scope": "*"}

    def validate_access_token(self, token: str | None) -> Principal:
        if not token:
            raise AuthError("InvalidToken", "No access token")
        # A token verified before is remembered (below) with its expiry: the same bytes verify the same way,
        # so only the clock, revocations (auth version) and user changes (data version) need checking again.
        key = ("jwt", self.digest(token.strip())) + tuple(self.store.versions())
        known = self._validated.get(key)
        if known is not None and known[1] > self.clock():
            return known[0]
        try:
            claims = jwt.decode(token.strip(), self._secret, algorithms=["HS256"], issuer="services87",
                                options={"require": ["exp", "sub"]}, leeway=0)
        except jwt.ExpiredSignatureError:
            raise AuthError("ExpiredToken", "The access token has expired") from None
        except jwt.PyJWTError:
            raise AuthError("InvalidToken", "The access token is not valid") from None
        try:
            uid = int(claims["sub"])
        except (TypeError, ValueError):
            raise AuthError("InvalidToken", "The access token is not valid") from None
        if self.tickets.get(self.digest("jti:" + str(claims.get("jti"))), "revoked-jti"):
            raise AuthError("InvalidToken", "The access token has been revoked")
        user = self.active_user(uid)
        state = self.store.user_credential_state(uid)
        if state is None or state[1] != claims.get("ep", 0):
            raise AuthError("InvalidToken", "The access token has been revoked (the user's credentials changed)")
        sid = claims.get("sid")
        if sid is not None and not self.tickets.sessions_alive([str(sid)], int(self.clock())):
            raise AuthError("InvalidToken", "The access token has been revoked (its session ended)")
        principal = Principal(user, "bearer", token)
        self._validated.put(key, (principal, int(claims["exp"])), size=1)
        return principal

    def token_binding(self, token: str) -> dict:
        """For a bearer token already validated: what a CometD session authenticated by it is bound to
        (``services87.auth.revocation``)."""
        claims = jwt.decode(token.strip(), self._secret, algorithms=["HS256"], options={"verify_exp": False})
        return binding(int(claims["sub"]), int(claims.get("ep", 0)), claims.get("sid"))

    def revoke_access_token(self, token: str) -> None:
        claims = jwt.decode(token, self._secret, algorithms=["HS256"], options={"verify_exp": False})
        self.tickets.add(self.digest("jti:" + str(claims.get("jti"))), int(claims["sub"]), int(self.clock()),
                         int(claims["exp"]), "revoked-jti")
        self.tickets.bump_auth_version()

    def refresh(self, refresh_token: str | None) -> dict:
        row = self.tickets.get(self.digest((refresh_token or "").strip()), "refresh") if refresh_token else None
        if row is None or row["revoked"] or row["expires_ts"] <= self.clock():
            raise AuthError("InvalidGrant", "The refresh token is not valid")
        self.tickets.revoke(row["hash"])  # refresh tokens are single-use
        return self.issue_tokens(self.active_user(row["user_id"]))

    # ------------------------------------------------------------------ clients, keys, app tokens
    def check_client(self, client_id: str | None, client_secret: str | None) -> bool:
        given = f"{client_id or ''}:{client_secret or ''}".encode()
        ok = False
        for entry in self.settings.oauth_clients:
            ok |= hmac.compare_digest(entry.encode(), given)
        return ok

    def check_api_key(self, key: str | None) -> bool:
        ok = False
        for k in self.settings.api_keys:
            ok |= hmac.compare_digest(k.encode(), (key or "").encode())
        return bool(key) and ok

    @property
    def app_tokens_required(self) -> bool:
        return self.settings.installation == "online"

    def check_application_token(self, token: str | None) -> None:
        """Online installations require a registered application token; on-site ones do not check it."""
        if not self.app_tokens_required:
            return
        if not token:
            raise AuthError("MissingApplicationToken",
                            "Application tokens must be specified when calling an Online installation")
        ok = False
        for t in self.settings.application_tokens:
            ok |= hmac.compare_digest(t.encode(), token.strip().encode())
        if not ok:
            raise AuthError("InvalidApplicationToken", "The application token is not registered")

    def authenticate_implicit(self, headers: dict[str, str]) -> User:
        name = self.settings.implicit_auth_header
        if not name:
            raise AuthError("ImplicitAuthenticationDisabled", "Implicit authentication is not enabled on this server")
        login = headers.get(name.lower()) or headers.get(name)
        if not login:
            raise AuthError("InvalidCredentials", f"No {name} header from the trusted proxy")
        user = self.store.find_user(login.strip())
        if user is None or not user.active:
            raise AuthError("InvalidCredentials", "Unknown user")
        return user
