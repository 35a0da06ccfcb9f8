"""``UpdateJson``: the JSON of a thousand ``StatisticUpdate`` pushes of one statistic, from one template.

Each subscriber's update differs only in its statistic and subscription ids; encoding each whole was a quarter
of the send loop in the push-latency bench. The template's bytes must be exactly what the Bayeux transports
would encode from the dicts (``encode_json``), for any value, or the update is encoded whole.
"""

from __future__ import annotations

import pytest

from services87.bayeux import encode_json
from services87.engine.statserver.evaluate import Result
from services87.genesys.statistics.subscriptions import UPDATES, Item, UpdateJson, _STAT_ID, _SUB_ID

VALUES = [
    {"agentId": "anna", "status": "NotReady", "place": "PL-1", "dn": [{"number": "7001", "state": 4}]},
    {"intValue": 420, "floatValue": 420.0, "stringValue": "420", "timestamp": 1, "intervalLength": 0, "tag": -1},
    "Köln \"quoted\" \\ slash \u2028 \U0001f600",
    None,
    [1, 2.5, True, None, {"a": []}],
]


def _item(statistic_id: str, value, name="CurrentAgentState") -> Item:
    item = Item(statistic_id, "Agent", "anna", defn=None, name=name)  # type: ignore[arg-type]
    item.last = None if value is ... else Result(raw=value, value=value, timestamp=1796100000000)
    return item


@pytest.mark.parametrize("value", [*VALUES, ...])
def test_every_update_is_the_json_of_its_dict(value):
    encoder = UpdateJson()
    result = _item("s", value).last
    for n, (stat_id, sub_id) in enumerate([("state", "op-1"), ("état \"1\"", "op-ü"), ("", "x" * 300)]):
        item = _item(stat_id, value)
        item.last = result  # one evaluation shared by every subscription, as evaluate_many hands it out
        wire = item.wire(sub_id)
        assert encoder.item(item, wire) == encode_json(wire), n
    data = {"name": "StatisticUpdate", "topic": UPDATES, "data": {"statistics": [wire, wire]}}
    assert encoder.update([encode_json(wire)] * 2) == encode_json(data)


def test_a_thousand_subscribers_of_one_statistic_share_one_template():
    encoder = UpdateJson()
    result = Result(raw="Ready", value={"status": "Ready"}, timestamp=1)
    for n in range(1000):
        item = _item("state", None)
        item.last = result
        wire = item.wire(f"op-{n}")
        assert encoder.item(item, wire) == encode_json(wire)
    assert len(encoder._templates) == 1


@pytest.mark.parametrize("sneaky", [_STAT_ID, _SUB_ID, _STAT_ID + _SUB_ID])
def test_a_value_holding_a_stand_in_is_encoded_whole(sneaky):
    encoder = UpdateJson()
    item = _item("state", {"place": sneaky})
    wire = item.wire("op-1")
    assert encoder.item(item, wire) == encode_json(wire)
    if sneaky in (_STAT_ID, _SUB_ID):  # its text is the stand-in's: no template
        assert list(encoder._templates.values()) == [None]
    for stat_id in (_STAT_ID, "s"):  # a client's own statistic id may be anything too
        item = _item(stat_id, "v", name=sneaky)
        wire = item.wire(_SUB_ID)
        assert encoder.item(item, wire) == encode_json(wire)
