"""Migration 0004_vendor_enums maps stored origins and base statuses to the vendor's numbers."""

import sqlalchemy as sa

from services87.engine.migrate import upgrade
from services87.engine.business_hours import BusinessCalendar
from services87.engine.storage import Store
from tests.support import fresh_db_url


def test_old_rows_are_mapped(tmp_path):
    store = Store(fresh_db_url(tmp_path), BusinessCalendar([1, 2, 3, 4, 5], "08:00", "16:00", "UTC"))
    upgrade(store.engine, "0003_day_totals")
    with store.engine.begin() as c:
        # the old numbering: base Open 1, Postponed 2, Closed 3, Deleted 4; priorities ranked highest first
        c.execute(sa.text("INSERT INTO statuses (id, name, base_status) VALUES "
                          "(1, 'New', 1), (2, 'Waiting', 2), (3, 'Closed', 3), (4, 'Deleted', 4)"))
        c.execute(sa.text("INSERT INTO priorities (id, name, rank) VALUES (1, 'Low', 1), (2, 'High', 3)"))
        old_origins = [0, 1, 2, 3, 4, 5, 6, 7, 8]  # Unknown Manual Email Web Phone Chat SMS Facebook Twitter
        for i, o in enumerate(old_origins):
            status = 2 if i == 0 else 3 if i == 1 else 1
            c.execute(sa.text("INSERT INTO requests (external_id, title, status_id, origin, is_open, created_ts, "
                              "updated_ts) VALUES (:e, '', :s, :o, :open, 0, 0)"),
                      {"e": f"R{i}", "s": status, "o": o, "open": status in (1, 2)})
        c.execute(sa.text("INSERT INTO open_counts (dim, k1, k2, n) VALUES ('status', 1, 0, 7), ('status', 2, 0, 1)"))
    upgrade(store.engine)
    with store.engine.connect() as c:
        bases = dict(c.execute(sa.text("SELECT name, base_status FROM statuses")).all())
        origins = [o for (o,) in c.execute(sa.text("SELECT origin FROM requests ORDER BY external_id"))]
        prios = dict(c.execute(sa.text("SELECT name, rank FROM priorities")).all())
        open_status = dict(c.execute(sa.text("SELECT k1, n FROM open_counts WHERE dim = 'status'")).all())
        n_open = c.execute(sa.text("SELECT COUNT(*) FROM requests WHERE is_open = :t"), {"t": True}).scalar()
    assert bases == {"New": 1, "Waiting": 3, "Closed": 2, "Deleted": 4}  # Active, Postponed, Closed, Deleted
    # Unknown->0, Manual->Internal 7, Email->1, Web->CustomerCentre 8, Phone->4, Chat->11, SMS->2, Facebook->5, Twitter->6
    assert origins == [0, 7, 1, 8, 4, 11, 2, 5, 6]
    assert prios == {"High": 1, "Low": 3}  # High was listed first and still is (sort order 1 first)
    assert n_open == 7 and open_status == {1: 7}  # the postponed request no longer counts as open
    assert store.stored_aggregates()["open"] == store.recompute_aggregates()["open"]
    store.close()


def test_time_to_reply_is_recomputed_after_the_upgrade(tmp_path):
    """Migration 0006 leaves a flag; Store.migrate recomputes every request's time to reply with its calendar."""
    store = Store(fresh_db_url(tmp_path), BusinessCalendar([1, 2, 3, 4, 5], "08:00", "16:00", "UTC"))
    upgrade(store.engine, "0005_category_access")
    with store.engine.begin() as c:
        c.execute(sa.text("INSERT INTO statuses (id, name, base_status, rank) VALUES (1, 'New', 1, 0)"))
        # Monday 30 March 2026 09:00 UTC, customer message at once, reply at 09:45 -> 45 minutes
        c.execute(sa.text("INSERT INTO requests (id, external_id, title, status_id, origin, is_open, created_ts, "
                          "updated_ts) VALUES (1, 'R1', '', 1, 1, :t, 1774861200, 0)"), {"t": True})
        c.execute(sa.text("INSERT INTO messages (request_id, direction, created_ts) VALUES (1, 1, 1774861200), "
                          "(1, 2, 1774863900)"))
    store.migrate()
    with store.engine.connect() as c:
        row = c.execute(sa.text("SELECT reply_seconds, reply_business_seconds FROM requests")).one()
        flag = c.execute(sa.text("SELECT COUNT(*) FROM meta WHERE key = 'rebuild_reply_times'")).scalar()
    assert tuple(row) == (2700.0, 2700.0) and flag == 0
    assert store.stored_aggregates()["response"] == {1774861200 // 900: [1, 2700.0, 2700.0]}
    store.close()
