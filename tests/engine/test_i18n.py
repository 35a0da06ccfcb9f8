"""Localization: catalogs complete and consistent, translated labels and localized dates per language."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from services87.engine.engine import StatisticsEngine
from services87.engine.model import ALL_PANELS, BaseStatus, Direction, Origin, StatContext, StatusScreenPanelType as P
from services87.i18n import LOCALE_DIR, SUPPORTED, Translator, normalize_language

ROOT = Path(__file__).resolve().parents[2]
LANGS = [lang for lang in SUPPORTED if lang != "en"]
NOW = datetime(2026, 3, 30, 12, tzinfo=timezone.utc)


#: Strings the extractor picks up that are not labels (a dict key inside ``inp.tr(st[r["status_id"]][0])``).
NOT_LABELS = {"status_id"}


def extracted_ids() -> set:
    ids = set()
    for rel in ("services87/engine/calculators.py", "services87/engine/labels.py"):
        for _line, message, _comments, _context in extract_from_file(
                "python", str(ROOT / rel), keywords={"N_": None, "tr": None, "ngettext": (1, 2)}):
            ids.add(tuple(message) if isinstance(message, (tuple, list)) else message)
    return {m for m in ids if m and m not in NOT_LABELS}


def catalog(lang: str):
    path = LOCALE_DIR / (f"{lang}/LC_MESSAGES/services87.po" if lang != "pot" else "services87.pot")
    with path.open("rb") as fh:
        return read_po(fh)


def test_template_covers_every_label_the_calculators_use():
    pot = {m.id if isinstance(m.id, str) else tuple(m.id) for m in catalog("pot") if m.id}
    missing = extracted_ids() - pot
    assert not missing, f"run pybabel extract: {missing}"


@pytest.mark.parametrize("lang", LANGS)
def test_catalog_is_complete_and_keeps_placeholders(lang):
    pot = [m for m in catalog("pot") if m.id]
    po = {m.id if isinstance(m.id, str) else tuple(m.id): m for m in catalog(lang) if m.id}
    for m in pot:
        key = m.id if isinstance(m.id, str) else tuple(m.id)
        assert key in po, (lang, key)
        tr = po[key]
        assert not tr.fuzzy and all(tr.string if isinstance(tr.string, tuple) else [tr.string]), (lang, key)
        ids = [key] if isinstance(key, str) else list(key)
        strings = [tr.string] if isinstance(tr.string, str) else list(tr.string)
        want = set(re.findall(r"\{\w+\}", ids[0]))
        for s in strings:
            assert set(re.findall(r"\{\w+\}", s)) == want, (lang, key, s)


@pytest.fixture
def world(store, settings):
    g = store.ensure_group("Support")
    cat = store.ensure_category("Hardware/Printers")
    new = store.ensure_status("New", BaseStatus.Active)
    store.ensure_status("Closed", BaseStatus.Closed)
    high = store.ensure_priority("High", 3)
    u = store.add_user("eva", "Eva Engel", groups=[g], language="de", time_zone="Europe/Berlin")
    store.upsert_requests([{"external_id": "L1", "status_id": new, "priority_id": high, "category_id": cat,
                            "origin": int(Origin.Email), "owner_id": None, "group_id": None,
                            "created_ts": int(NOW.timestamp()) - 3600}])
    rid = store.get_request(external_id="L1")["id"]
    store.add_message(rid, Direction.Inbound, None, int(NOW.timestamp()) - 3600)
    store.add_message(rid, Direction.Outbound, u, int(NOW.timestamp()) - 1800)
    return StatisticsEngine(store, settings), store.get_user(u)


EXPECTED = {
    # lang: (per-user label, status "New", priority "High", origin "Email", "(none)", day label, month label,
    #        week label, requests description (time to reply), StatusScreen first tile)
    "en": ("Open requests per user", "New", "High", "Email", "(none)", "Mon 30 Mar", "Mar 2026", "Week 14", "1 request",
           "Open requests"),
    "de": ("Offene Anfragen pro Benutzer", "Neu", "Hoch", "E-Mail", "(keine)", "Mo. 30 März", "März 2026", "KW 14",
           "1 Anfrage", "Offene Anfragen"),
    "nb": ("Åpne henvendelser per bruker", "Ny", "Høy", "E-post", "(ingen)", "man. 30 mars", "mars 2026", "Uke 14",
           "1 henvendelse", "Åpne henvendelser"),
    "sv": ("Öppna ärenden per användare", "Ny", "Hög", "E-post", "(ingen)", "mån 30 mars", "mars 2026", "Vecka 14",
           "1 ärende", "Öppna ärenden"),
    "da": ("Åbne henvendelser pr. bruger", "Ny", "Høj", "E-mail", "(ingen)", "man. 30 mar.", "mar. 2026", "Uge 14",
           "1 henvendelse", "Åbne henvendelser"),
    "nl": ("Open verzoeken per gebruiker", "Nieuw", "Hoog", "E-mail", "(geen)", "ma 30 mrt", "mrt 2026", "Week 14",
           "1 verzoek", "Open verzoeken"),
}


@pytest.mark.parametrize("lang", sorted(EXPECTED))
def test_each_language_translates_labels_and_formats_dates(world, lang):
    engine, user = world
    sets = engine.compute(StatContext(user=user, time_zone="Europe/Oslo", language=lang, now=NOW), list(ALL_PANELS))
    by = {ds.panel: ds for ds in sets}
    label, new, high, email, none, day, month, week, replies, tile = EXPECTED[lang]
    assert by[P.OpenRequestsPerUser].label == label
    assert new in [v.label for v in by[P.OpenRequestsPerStatus].values]
    assert high in [v.label for v in by[P.OpenRequestsPerPriority].values]
    assert email in [v.label for v in by[P.OpenRequestsPerOrigin].values]
    # L1 has no owner: its own row in per-user-group, under its category in unassigned
    assert Translator(lang)("Unassigned") in [v.label for v in by[P.OpenRequestsPerUserGroup].values]
    assert "Hardware/Printers" in [v.label for v in by[P.UnassignedRequests].values]
    assert by[P.NumberOfCreatedRequestsPerDay].values[-1].label == day
    assert by[P.NumberOfCreatedRequestsPerMonth].values[-1].label == month
    assert by[P.NumberOfCreatedRequestsPerWeek].values[-1].label == week
    assert by[P.UserResponseTimePerDay].values[-1].description == replies
    assert by[P.StatusScreen].values[0].label == tile
    if lang != "en":
        english = {ds.panel: ds for ds in engine.compute(StatContext(user=user, language="en", now=NOW), list(ALL_PANELS))}
        for p in ALL_PANELS:
            # the vendor's Status tile is "Status" in every shipped language
            if p is not P.None_ and p is not P.StatusScreen:
                assert by[p].label != english[p].label, (lang, p)


def test_language_falls_back_to_user_then_server_default_then_en(world, settings):
    engine, user = world
    label = lambda **kw: engine.compute(StatContext(now=NOW, **kw), [P.OpenRequestsPerUser])[0].label  # noqa: E731
    assert label(user=user) == "Offene Anfragen pro Benutzer"  # the user's language
    assert label(user=user, language="sv") == "Öppna ärenden per användare"  # asked beats the user's
    assert label(language="fr") == "Open requests per user"  # unsupported -> en
    assert label(language="xx-YY") == "Open requests per user"
    assert label() == "Open requests per user"  # server default (en)


@pytest.mark.parametrize("value,expected", [
    ("de-DE", "de"), ("sv_SE", "sv"), ("nb-NO", "nb"), ("no", "nb"), ("nn", "nb"), ("da", "da"), ("NL-be", "nl"),
    ("fr-CH, fr;q=0.9, nl;q=0.8, *;q=0.5", "nl"), ("de;q=0.5, sv;q=0.9", "sv"), ("en-US,en;q=0.9,de;q=0.8", "en"),
    ("de;q=0, da", "da"), ("*", "en"), ("", "en"), (None, "en"), ("klingon", "en"), ("de;q=abc, nl", "nl"),
])
def test_accept_language_lists_are_normalised(value, expected):
    assert normalize_language(value) == expected


def test_culture_changes_date_format_not_language():
    tr = Translator("en", "de-DE")
    assert tr.lang == "en" and str(tr.locale) == "de"
    assert tr("Open requests") == "Open requests"
    assert Translator("sv", "nonsense").locale.language == "sv"
