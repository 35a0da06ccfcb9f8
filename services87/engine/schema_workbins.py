"""Workbin tables (Genesys Web Services workbins); they share ``services87.engine.schema.metadata``.

A workbin is a named holding area for interactions (requests, in the engine's sense) that belongs to one
owner: an agent, a place, an agent group or a place group.

* ``workbins.name`` is the workbin's id within its owner ("Draft", "Review", "Pending"); unique per owner.
* ``owner_type`` is ``Agent``, ``Place``, ``AgentGroup`` or ``PlaceGroup``.
* ``owner_ref`` identifies the owner: the user's numeric id (as text) for ``Agent`` - ``user_id`` then
  holds the same id as a foreign key - and the owner's name for the other types (places and place groups
  are plain names stored on the workbin).
* ``uuid`` is the workbin's stable identifier (the key of ``workbinStats`` in a WorkbinStatsMessage). It is
  derived deterministically from type, owner and name when the workbin is created and never changes.
* ``workbin_items`` holds the membership: a request is in at most one workbin at a time.
"""

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, UniqueConstraint

from services87.engine.schema import metadata

OWNER_TYPES = ("Agent", "Place", "AgentGroup", "PlaceGroup")

workbins = Table(
    "workbins",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("uuid", String(36), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("owner_type", String(16), nullable=False),
    Column("owner_ref", String(200), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    Column("created_ts", BigInteger, nullable=False),
    UniqueConstraint("owner_type", "owner_ref", "name", name="uq_workbins_owner_name"),
    Index("ix_workbins_user", "user_id"),
)

workbin_items = Table(
    "workbin_items",
    metadata,
    Column("request_id", Integer, ForeignKey("requests.id", ondelete="CASCADE"), primary_key=True),
    Column("workbin_id", Integer, ForeignKey("workbins.id", ondelete="CASCADE"), nullable=False),
    Column("added_ts", BigInteger, nullable=False),
    Index("ix_workbin_items_workbin", "workbin_id"),
)
