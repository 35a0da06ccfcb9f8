"""Which API family (*contract*) a request path belongs to: the ``contract`` label of the metrics and of the
access log. Path knowledge only: the adapters mounted at these prefixes are not imported."""

from __future__ import annotations

#: (path prefix, contract), first match wins.
CONTRACTS = (
    (b"/Remote/", "soap"),
    (b"/api/v1/", "rest"),
    (b"/auth/v3/", "rest"),
    (b"/statistics/v3/", "genesys"),
    (b"/api/v2/", "gws"),
    (b"/api/ingest/", "ingest"),
    (b"/statuspage/", "statuspage"),
    (b"/static/", "statuspage"),
    (b"/health", "ops"),
    (b"/metrics", "ops"),
    (b"/debug/", "ops"),
)
CONTRACT_NAMES = ("soap", "rest", "genesys", "gws", "ingest", "statuspage", "ops", "other")


def contract_of(path: bytes | None) -> str:
    path = path or b"/"
    if path == b"/":
        return "statuspage"
    for prefix, name in CONTRACTS:
        if path.startswith(prefix) or path == prefix.rstrip(b"/"):
            return name
    return "other"
