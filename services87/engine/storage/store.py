"""The :class:`Store`: every table family's methods on one object (see the package docstring)."""

from __future__ import annotations

from services87.engine.storage.reads import ReadStore
from services87.engine.storage.requests import RequestStore
from services87.engine.storage.users import UserStore


class Store(RequestStore, UserStore, ReadStore):
    """The store of the engine: one object, one database; each method is defined in the module of its table
    family (listed above)."""
