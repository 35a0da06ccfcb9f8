"""The one JSON parsing guard for request bodies (REST, ingest, Genesys statistics, GWS, status page).

:func:`loads` parses strictly and raises a typed :class:`JsonGuardError` (a ``ValueError``, so adapters that
already catch ``ValueError`` keep working) naming what was wrong:

============================  ===================================================================
kind                          when
============================  ===================================================================
``TooLarge``                  the body is longer than ``max_size`` bytes
``InvalidUtf8``               the bytes are not UTF-8 (a UTF-8 BOM is allowed and skipped)
``Empty``                     nothing but white space
``MalformedJson``             not JSON (including trailing garbage)
``NonFiniteNumber``           ``NaN``, ``Infinity``, ``-Infinity`` or a number too big for a double
``NumberTooLong``             an integer with more digits than Python converts (4300)
``TooDeep``                   objects/arrays nested deeper than ``max_depth``
``DuplicateKey``              an object repeats a key (policy ``"reject"``, the default)
``LoneSurrogate``             a ``\\uD800``-style escape that is not half of a pair (unencodable text)
``WrongType``                 the top level is not the expected type (an object by default)
============================  ===================================================================

The depth check runs on the raw text before parsing, so a body of 60,000 ``[`` costs one linear scan,
not a recursion. Nothing here logs the body.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate, repeat
from operator import sub
from typing import Any

#: Default nesting limit (settings.max_json_depth overrides it where adapters pass it).
DEFAULT_MAX_DEPTH = 32

#: A string literal, or an unterminated one up to the end (the optional quote keeps the scan linear).
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"?', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")
_SURROGATE = re.compile("[\ud800-\udfff]")
_TYPE_NAMES = {dict: "an object", list: "an array", str: "a string", int: "a number", float: "a number",
               bool: "true/false", type(None): "null"}


class JsonGuardError(ValueError):
    """A JSON body the guard refuses. ``kind`` is a stable name; ``message`` is safe to show to the client."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


def _too_deep(text: str, max_depth: int) -> bool:
    """Whether brackets outside string literals nest deeper than ``max_depth`` (linear; unbalanced input is left
    to the parser)."""
    brackets = _NOT_BRACKET.sub("", _STRINGS.sub("", text))
    if brackets.count("[") + brackets.count("{") <= max_depth:
        return False
    steps = brackets.encode("ascii").translate(_STEP)  # opening -> 2, closing -> 0
    return max(accumulate(map(sub, steps, repeat(1))), default=0) > max_depth


def _constant(name: str):
    raise JsonGuardError("NonFiniteNumber", f"{name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonGuardError("NonFiniteNumber", f"the number {text[:40]} is too large")
    return value


def _check_strings(value: Any) -> None:
    """Reject lone surrogates anywhere (keys and values), iteratively."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if _SURROGATE.search(v):
                raise JsonGuardError("LoneSurrogate", "a string contains an unpaired UTF-16 surrogate escape")
        elif isinstance(v, dict):
            for k, item in v.items():
                if _SURROGATE.search(k):
                    raise JsonGuardError("LoneSurrogate", "a key contains an unpaired UTF-16 surrogate escape")
                stack.append(item)
        elif isinstance(v, list):
            stack.extend(v)


def loads(raw: bytes | str, *, max_size: int, max_depth: int = DEFAULT_MAX_DEPTH, expect: type | None = dict,
          duplicates: str = "reject") -> Any:
    """Parse a request body.

    ``expect``: the required top-level type (``dict``, ``list``, a tuple of types, or ``None`` for any value).
    ``duplicates``: ``"reject"`` (RFC 8259 / I-JSON: names must be unique) or ``"last"`` (last one wins).
    """
    if len(raw) > max_size:
        raise JsonGuardError("TooLarge", f"The body is larger than {max_size} bytes")
    if isinstance(raw, (bytes, bytearray, memoryview)):
        try:
            text = bytes(raw).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonGuardError("InvalidUtf8", f"The body is not valid UTF-8 (byte {exc.start})") from None
    else:
        text = raw
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise JsonGuardError("Empty", "The body is empty; JSON is required")
    if _too_deep(text, max_depth):
        raise JsonGuardError("TooDeep", f"The JSON nests deeper than the maximum of {max_depth}")

    hook = None
    if duplicates == "reject":
        def hook(pairs):
            out = {}
            for key, value in pairs:
                if key in out:
                    raise JsonGuardError("DuplicateKey", f"Duplicate key {key[:60]!r}")
                out[key] = value
            return out
    elif duplicates != "last":
        raise ValueError(f"unknown duplicates policy {duplicates!r}")
    try:
        value = json.loads(text, parse_constant=_constant, parse_float=_float, object_pairs_hook=hook)
    except JsonGuardError:
        raise
    except RecursionError:
        raise JsonGuardError("TooDeep", f"The JSON nests deeper than the maximum of {max_depth}") from None
    except json.JSONDecodeError as exc:
        raise JsonGuardError("MalformedJson", f"The body is not valid JSON: {exc.msg} at position {exc.pos}") from None
    except ValueError as exc:  # int too long for str->int conversion
        raise JsonGuardError("NumberTooLong", f"A number in the body is too long: {str(exc)[:80]}") from None
    _check_strings(value)
    if expect is not None and not isinstance(value, expect) or isinstance(value, bool) and expect in (int, float):
        wanted = expect if isinstance(expect, tuple) else (expect,)
        names = " or ".join(dict.fromkeys(_TYPE_NAMES.get(t, t.__name__) for t in wanted))
        raise JsonGuardError("WrongType", f"The body must be {names}, not {_TYPE_NAMES.get(type(value), 'that')}")
    return value
