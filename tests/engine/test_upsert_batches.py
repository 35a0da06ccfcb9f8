"""Set-based upserts: ``Store.upsert_requests`` (dict rows) and ``Store.replace_requests`` (whole-row tuples)
with new and stored external ids mixed in one batch; aggregates always equal ``recompute_aggregates()``."""

from __future__ import annotations

import pytest

from services87 import demo
from services87.engine.model import Direction, ValidationError
from services87.engine.storage.requests import FULL_ROW
from tests.engine.helpers import assert_aggregates_consistent

T0 = 1772359200


@pytest.fixture
def refs(store):
    return demo.ensure_reference(store, hash_passwords=False)


def full_row(ext, refs, status="New", created=T0, closed=None, owner=0, path=("Hardware", "Printers"), messages=None,
             title="t"):
    return (ext, title, path, refs.statuses[status], refs.priorities[0], 2, refs.users[owner] if owner is not None
            else None, refs.groups[0], created, closed, messages)


def test_full_row_layout():
    assert FULL_ROW[0] == "external_id" and FULL_ROW[-1] == "messages" and len(FULL_ROW) == 11


def test_replace_requests_mixed_batch_with_messages(store, refs):
    anna = refs.users[1]
    first = [full_row(f"R{i}", refs, created=T0 + i * 600,
                      messages=[(Direction.Inbound, None, T0 + i * 600), (Direction.Outbound, anna, T0 + i * 600 + 900)])
             for i in range(0, 30, 2)]
    ids, updated = store.replace_requests(first)
    assert updated == 0 and len(set(ids)) == 15
    assert_aggregates_consistent(store)
    second = [full_row(f"R{i}", refs, status=["New", "Closed", "In progress"][i % 3], created=T0 + 7200 + i,
                       owner=None if i % 4 == 0 else 2, path=None if i % 5 == 0 else ("Imported", f"P{i % 3}"),
                       messages=None if i % 6 == 0 else [(Direction.Inbound, None, T0 + 7200 + i),
                                                         (Direction.Outbound, anna, T0 + 9000 + i)])
              for i in range(30)]
    ids2, updated = store.replace_requests(second)
    assert updated == 15 and count_ok(store, 30)
    assert ids2[::2] == ids  # stored requests keep their ids
    for i in (0, 1, 2, 5, 6):
        r = store.get_request(external_id=f"R{i}")
        assert r["created_ts"] == T0 + 7200 + i and r["is_open"] == (i % 3 != 1)
        assert (r["closed_ts"] is not None) == (i % 3 == 1)
        assert (r["category_id"] is None) == (i % 5 == 0)
    assert_aggregates_consistent(store)


def count_ok(store, n):
    return store.count_requests() == n


def test_replace_requests_rejects_bad_rows_and_writes_nothing(store, refs):
    store.replace_requests([full_row("OK1", refs)])
    version = store.data_version()
    bad = [full_row("N1", refs), ("N2", "t", None, 999, None, 0, None, None, T0, None, None)]
    with pytest.raises(ValidationError, match="unknown status id 999"):
        store.replace_requests(bad)
    with pytest.raises(ValidationError, match="duplicate external_id"):
        store.replace_requests([full_row("N1", refs), full_row("N1", refs)])
    assert store.count_requests() == 1 and store.data_version() == version
    assert_aggregates_consistent(store)


def test_upsert_requests_dict_rows_mixed_batch(store, refs):
    """The dict form keeps stored fields a row does not name; new rows get the defaults."""
    new, closed = refs.statuses["New"], refs.statuses["Closed"]
    store.upsert_requests([{"external_id": f"U{i}", "status_id": new, "created_ts": T0 + i, "owner_id": refs.users[0],
                            "category_path": ["Hardware", "Printers"]} for i in range(10)])
    rows = [{"external_id": f"U{i}", "status_id": closed} for i in range(0, 10, 2)]  # stored: only the status moves
    rows += [{"external_id": f"U{i}", "status_id": new, "category_path": ["Fresh"]} for i in range(10, 14)]
    rows.append({"external_id": "U1", "owner_id": None, "title": "renamed"})  # no status given: keeps its own
    ids = store.upsert_requests(rows)
    assert len(ids) == len(set(ids)) == len(rows)
    u0 = store.get_request(external_id="U0")
    assert not u0["is_open"] and u0["closed_ts"] is not None and u0["owner_id"] == refs.users[0]
    assert u0["created_ts"] == T0 and u0["category_id"] is not None
    u1 = store.get_request(external_id="U1")
    assert u1["title"] == "renamed" and u1["owner_id"] is None and u1["is_open"] and u1["created_ts"] == T0 + 1
    u12 = store.get_request(external_id="U12")
    assert u12["title"] == "" and u12["origin"] == 0 and u12["category_id"] is not None
    assert store.count_requests() == 14
    assert_aggregates_consistent(store)
    with pytest.raises(ValidationError, match="status is required"):
        store.upsert_requests([{"external_id": "U99"}])
    assert_aggregates_consistent(store)


def test_aggregate_rows_vanish_when_counts_reach_zero(store, refs):
    """Moving every request out of a slot/dimension removes the aggregate rows (the non-additive path)."""
    store.replace_requests([full_row(f"Z{i}", refs, created=T0) for i in range(5)])
    store.replace_requests([full_row(f"Z{i}", refs, status="Closed", created=T0 + 86400 * 3) for i in range(5)])
    agg = store.stored_aggregates()
    assert T0 // 900 not in agg["created"] and agg["created"][(T0 + 86400 * 3) // 900] == 5
    assert not any(k[0] == "status" and k[1] == refs.statuses["New"] for k in agg["open"])
    assert_aggregates_consistent(store)
