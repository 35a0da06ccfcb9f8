"""The contract of a path and the outcome of a status, as the metrics label them."""

from __future__ import annotations

import pytest

from services87.ops.metrics import contract_of, outcome_of


@pytest.mark.parametrize("path, contract", [
    (b"/Remote/Services87/CustomerService.svc", "soap"),
    (b"/api/v1/Agents/CustomerService/GetStatistics", "rest"),
    (b"/auth/v3/oauth/token", "rest"),
    (b"/statistics/v3/notifications", "genesys"),
    (b"/api/v2/workbins", "gws"),
    (b"/api/ingest/events", "ingest"),
    (b"/", "statuspage"),
    (b"/statuspage/api/me", "statuspage"),
    (b"/static/statuspage/app.js", "statuspage"),
    (b"/health/ready", "ops"),
    (b"/metrics", "ops"),
    (b"/nothing", "other"),
    (None, "statuspage"),
])
def test_contract_of(path, contract):
    assert contract_of(path) == contract


def test_outcome_of():
    assert [outcome_of(c) for c in (200, 101, 304, 400, 404, 429, 500, 503)] == [
        "ok", "ok", "ok", "client_error", "client_error", "throttled", "server_error", "server_error"]
    assert outcome_of(200, aborted=True) == "aborted"
