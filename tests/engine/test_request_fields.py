"""The one validator of a request's fields (``services87.engine.model.request_fields``) that the importer and
Genesys ingest share: its rules here, the importer's use in ``test_importer.py``, ingest's over HTTP in
``tests/genesys/test_ingest.py``."""

from __future__ import annotations

import pytest

from services87.engine.model import (Direction, FieldError, Origin, ValidationError, check_category_path,
                                     check_direction, request_fields)


def test_fields_are_normalised_under_the_store_names():
    assert request_fields(external_id=" R-1 ", title="  Printer\njams ", category=" Hardware / Printers ",
                          origin="email", created_ts=10, closed_ts=10) == {
        "external_id": "R-1", "title": "Printer\njams", "category_path": ("Hardware", "Printers"),
        "origin": int(Origin.Email), "created_ts": 10, "closed_ts": 10}
    # only the given fields come back (an update names a few)
    assert request_fields(title="t") == {"title": "t"}
    assert request_fields(external_id=42) == {"external_id": "42"}  # a JSON number reads as its text
    assert request_fields(origin="Web", category=["Top", "Sub"]) == {
        "origin": int(Origin.CustomerCentre), "category_path": ("Top", "Sub")}


@pytest.mark.parametrize("value", [None, "", "   ", []])
def test_no_category(value):
    assert check_category_path(value) is None


@pytest.mark.parametrize("value", ["Top//Sub", "Top/", "/Top", " / ", ["Top", ""], ["Top", "  "]])
def test_an_empty_category_level_is_an_error_not_dropped(value):
    with pytest.raises(FieldError, match="empty level in the path") as err:
        check_category_path(value)
    assert err.value.field == "category" and isinstance(err.value, ValidationError)


@pytest.mark.parametrize("given, field, message", [
    ({"external_id": ""}, "external_id", "external_id is required"),
    ({"external_id": None}, "external_id", "external_id is required"),
    ({"external_id": "x" * 101}, "external_id", "longer than 100 characters"),
    ({"external_id": "a\tb"}, "external_id", "control characters"),
    ({"external_id": ["a"]}, "external_id", "expected text, got list"),
    ({"title": "x" * 501}, "title", "longer than 500 characters"),
    ({"title": {"a": 1}}, "title", "expected text, got dict"),
    ({"category": "A/" + "b" * 201}, "category", "longer than 200 characters"),
    ({"category": {"Top": "Sub"}}, "category", "a path 'Top/Sub' or a list of names"),
    ({"category": ["Top", 3]}, "category", "a path 'Top/Sub' or a list of names"),
    ({"origin": "Pigeon"}, "origin", "unknown origin 'Pigeon'"),
    ({"origin": 13}, "origin", "unknown origin 13"),
    ({"origin": True}, "origin", "unknown origin True"),
    ({"created_ts": 100, "closed_ts": 99}, "closed", "closed is before created"),
])
def test_bad_values_are_typed_errors(given, field, message):
    with pytest.raises(FieldError, match=message) as err:
        request_fields(**given)
    assert err.value.field == field and err.value.kind == "InvalidField"


def test_limits_are_inclusive():
    assert request_fields(external_id="x" * 100, title="t" * 500, category="c" * 200)["category_path"] == ("c" * 200,)
    assert request_fields(origin=None, created_ts=5, closed_ts=None) == {"origin": 0, "created_ts": 5, "closed_ts": None}


@pytest.mark.parametrize("value, expected", [("in", Direction.Inbound), ("Inbound", Direction.Inbound),
                                             (" OUT ", Direction.Outbound), ("outbound", Direction.Outbound)])
def test_message_directions_of_both_protocols(value, expected):
    assert check_direction(value) is expected


@pytest.mark.parametrize("value", ["sideways", "", None, 1, "i"])
def test_unknown_direction(value):
    with pytest.raises(FieldError, match="direction must be 'in' or 'out'"):
        check_direction(value)
