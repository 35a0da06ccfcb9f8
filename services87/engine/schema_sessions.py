"""Server-side sessions and the log-in throttle, shared by every worker and kept over restarts.

* ``auth_sessions``: REST / status-page sessions (``kind = "web"``) and GWS ``JSESSIONID`` sessions
  (``kind = "gws"``). Only the SHA-256 of a session id is stored. ``epoch`` is the user's
  ``credential_epoch`` when the session opened: a session whose epoch differs from the user's is dead.
  ``expires_ts`` is the absolute end (``session_max_lifetime``); ``last_seen_ts`` + the idle timeout the
  sliding one. ``ticket_hash`` names the ticket a web session wraps (revoked with it on logout).
* ``login_throttle``: failed log-ins per key (``user:<login>`` / ``addr:<address>``) in a fixed window.
* ``users.credential_epoch`` (in :mod:`services87.engine.schema`): bumped by a password change, deactivation
  or an admin revoke; bearer tokens carry it (``ep``) and die when it moves.

Not statistics data: writes do not bump the data version.
"""

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table

from services87.engine.schema import metadata

auth_sessions = Table(
    "auth_sessions",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("kind", String(8), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("epoch", Integer, nullable=False),
    Column("ticket_hash", String(64), nullable=True),
    Column("created_ts", BigInteger, nullable=False),
    Column("last_seen_ts", BigInteger, nullable=False),
    Column("expires_ts", BigInteger, nullable=False),
)
Index("ix_auth_sessions_user", auth_sessions.c.user_id)

login_throttle = Table(
    "login_throttle",
    metadata,
    Column("key", String(160), primary_key=True),
    Column("window_start", BigInteger, nullable=False),
    Column("failures", Integer, nullable=False),
)
