"""Localization: Babel message catalogs (``services87/locale/<lang>/LC_MESSAGES/services87.po``).

Catalogs are read with Babel's PO reader at first use (no compiled .mo files to keep in sync).
``N_()`` marks a string for extraction without translating it (``pybabel extract -k N_``).
"""

from __future__ import annotations

import threading
from functools import cache, lru_cache
from pathlib import Path
from typing import overload

from babel import Locale, UnknownLocaleError
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).with_name("locale")
SUPPORTED = ("en", "de", "nb", "sv", "da", "nl")
DOMAIN = "services87"
_ALIASES = {"no": "nb", "nn": "nb", "nb-no": "nb", "se": "sv", "dk": "da", "ge": "de"}
_lock = threading.Lock()


def N_(message: str) -> str:
    return message


@overload
def normalize_language(value: str | None, default: str = "en") -> str: ...
@overload
def normalize_language(value: str | None, default: None) -> str | None: ...


def normalize_language(value: str | None, default: str | None = "en") -> str | None:
    """Map ``sv-SE``, ``no``, ``de_DE`` ... to a supported language; unknown → ``default``."""
    if not value:
        return default
    return _normalize(str(value), default)


@lru_cache(maxsize=1024)
def _normalize(value: str, default: str | None) -> str | None:
    """:func:`normalize_language` of a non-empty value (asked with the same few values on every request)."""
    ranked = []
    for pos, part in enumerate(value.split(",")):  # Accept-Language lists: highest q first, then order
        tag, _, params = part.partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, val = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(val)
                except ValueError:
                    q = 0.0
        if q > 0:
            ranked.append((-q, pos, tag))
    for _q, _pos, tag in sorted(ranked):
        tag = tag.strip().lower().replace("_", "-")
        if not tag or tag == "*":
            continue
        tag = _ALIASES.get(tag, tag)
        base = _ALIASES.get(tag.split("-")[0], tag.split("-")[0])
        if base in SUPPORTED:
            return base
    return default


@cache
def _catalog(lang: str) -> dict:
    """msgid → msgstr; plural entries as (singular, plural) → (form0, form1, ...)."""
    path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.exists():
        return {}
    with _lock, path.open("rb") as fh:
        cat = read_po(fh, locale=lang)
    out: dict = {}
    for m in cat:
        if not m.id or m.fuzzy:
            continue
        if isinstance(m.id, (tuple, list)):
            if isinstance(m.string, (tuple, list)) and all(m.string):
                out[tuple(m.id)] = tuple(m.string)
        elif m.string:
            out[m.id] = m.string
    return out


def gettext(message: str, lang: str) -> str:
    if lang == "en":
        return message
    return _catalog(lang).get(message, message)


@lru_cache(maxsize=1024)
def _locale(identifier: str) -> Locale:
    """One Babel ``Locale`` per identifier (an unknown one raises and is not kept): answers in one language share
    it, so the label caches keyed by it compare it by identity."""
    return Locale.parse(identifier)


class Translator:
    """A language bound to its catalog and Babel locale (for dates and numbers)."""

    def __init__(self, lang: str | None, culture: str | None = None):
        self.lang = normalize_language(lang)
        try:
            self.locale = _locale(normalize_language(culture, self.lang) if culture else self.lang)
        except (UnknownLocaleError, ValueError):
            self.locale = _locale(self.lang)

    def __call__(self, message: str, **kwargs) -> str:
        text = gettext(message, self.lang)
        return text.format(**kwargs) if kwargs else text

    def ngettext(self, singular: str, plural: str, n: int, **kwargs) -> str:
        """The singular or plural form for ``n`` (all supported languages have two forms: n == 1, other);
        ``{n}`` and ``kwargs`` are formatted in."""
        forms = (_catalog(self.lang).get((singular, plural)) if self.lang != "en" else None) or (singular, plural)
        text = forms[0] if n == 1 or len(forms) == 1 else forms[1]
        return text.format(n=n, **kwargs)
