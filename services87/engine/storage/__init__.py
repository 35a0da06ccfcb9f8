"""Every SQL statement of the statistics engine, split by table family:

* :mod:`~services87.engine.storage.database`: the engine, migrations, the data version, change events and
  :meth:`~services87.engine.storage.database.Database.write`, the one write path of every feature store;
* :mod:`~services87.engine.storage.reference`: user groups, statuses, priorities, categories and their access;
* :mod:`~services87.engine.storage.users`: users and their credential epoch;
* :mod:`~services87.engine.storage.requests`: requests, messages, the hotlist, the time to reply;
* :mod:`~services87.engine.storage.aggregates`: the aggregate tables (deltas, recount, rebuild);
* :mod:`~services87.engine.storage.reads`: what the calculators read;
* :mod:`~services87.engine.storage.tickets`: tickets, sessions, the log-in throttle (not statistics data);
* feature stores on top of a :class:`Store`: :mod:`~services87.engine.storage.live` (Genesys live data),
  :mod:`~services87.engine.storage.workbins`, :mod:`~services87.engine.storage.prefs`.

All methods are blocking; protocol layers call them off the reactor thread (see ``services87.server``).
Every write of statistics data runs in one transaction that also updates the aggregate tables and bumps the
data version; after the commit a :class:`~services87.engine.storage.database.ChangeEvent` goes to every listener.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services87.engine.storage.store import Store

__all__ = ["Store"]


def __getattr__(name: str):
    """``Store`` is imported on first use: a module of this package that needs no database (``urls``) does not
    import SQLAlchemy's engine through it."""
    if name != "Store":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from services87.engine.storage.store import Store  # noqa: PLC0415

    globals()["Store"] = Store
    return Store
