"""GWS request bodies: strict JSON except that trailing commas (as in the GWS documentation samples) pass."""

from __future__ import annotations

from services87.gws.errors import GwsError
from services87.http import jsonguard


def strip_trailing_commas(text: str) -> str:
    """Drop a comma that directly precedes ``}`` or ``]`` (whitespace aside) and follows a value, outside
    strings. Nothing else is relaxed: ``{,}``, ``[1,,]`` and the like stay invalid."""
    out: list[str] = []
    in_string = escaped = False
    n = len(text)
    for i, ch in enumerate(text):
        if in_string:
            out.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch == ",":
            j = i + 1
            while j < n and text[j] in " \t\r\n":
                j += 1
            prev = next((c for c in reversed(out) if c not in " \t\r\n"), "")
            if j < n and text[j] in "}]" and prev not in ("", "{", "[", ","):
                continue
        out.append(ch)
    return "".join(out)


def parse_body(raw: bytes, max_depth: int = jsonguard.DEFAULT_MAX_DEPTH) -> dict:
    """A JSON object body; strict JSON except that trailing commas (as in the GWS documentation samples)
    are accepted. Raises :class:`GwsError` (statusCode 10)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise GwsError(10, "The request body is not UTF-8") from None
    if not text.strip():
        raise GwsError(10, "The request body is empty; a JSON object is required")
    try:
        return jsonguard.loads(strip_trailing_commas(text), max_size=len(text), max_depth=max_depth)
    except jsonguard.JsonGuardError as exc:
        raise GwsError(10, f"The request body is not valid JSON ({exc.kind}): {exc.message}") from None
