"""Per-user preferences of the Customer Service Status Page (panels, order, language, time zone).

One row per user holding a small JSON document; not statistics data, so writes do not bump the data version.
"""

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, Table, Text

from services87.engine.schema import metadata

user_prefs = Table(
    "user_prefs",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("prefs", Text, nullable=False),
    Column("updated_ts", BigInteger, nullable=False),
)
