"""``services87 users add|list|passwd`` and ``services87 stats`` in real subprocesses on a real SQLite file."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest

from services87.auth.passwords import verify_password
from services87.config import Settings
from services87.engine.engine import StatisticsEngine
from services87.engine.model import ALL_PANELS, StatContext, StatusScreenPanelType as P
from services87.engine.storage import Store
from tests.engine.helpers import cli_env, run_cli

NOW = "2026-03-30T12:00:00+00:00"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    db = str(d / "demo.db")
    res = run_cli("demo", "--requests", "400", "--db", db, cwd=d)
    assert res.returncode == 0, res.stderr
    assert "wrote 400 demo requests (400 new, 0 replaced) to " in res.stdout and "now holds 400 requests" in res.stdout
    return d, db


def stats(demo_db, *args):
    d, db = demo_db
    return run_cli("stats", "--db", db, "--now", NOW, *args, cwd=d)


def test_stats_json_matches_the_engine(demo_db):
    d, db = demo_db
    res = stats(demo_db, "--user", "demo", "--tz", "Europe/Oslo", "--lang", "sv", "--format", "json",
                "OpenRequestsPerStatus", "3", "statusscreen", "None")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert [ds["Label"] for ds in data] == ["Öppna ärenden per status", "Öppna ärenden per användare", "Status", ""]
    for ds in data:
        assert set(ds) == {"Label", "Values", "Description"}
        for v in ds["Values"]:
            assert set(v) == {"Label", "Value", "Description"} and isinstance(v["Value"], float)
    store = Store("sqlite:///" + db)
    try:
        user = store.find_user("demo")
        sets = StatisticsEngine(store, Settings.load(env={})).compute(
            StatContext(user=user, time_zone="Europe/Oslo", language="sv", now=datetime.fromisoformat(NOW)),
            [P.OpenRequestsPerStatus, P.OpenRequestsPerUser, P.StatusScreen, P.None_])
        assert data == [s.as_dict() for s in sets]
        # the Status tile's first row is the asker's open requests = demo's row of per-user
        demo_row = next(v["Value"] for v in data[1]["Values"] if v["Description"] == "demo")
        assert data[2]["Values"][0]["Value"] == demo_row and sum(v["Value"] for v in data[0]["Values"]) > 0
    finally:
        store.close()


def test_stats_all_in_table_format(demo_db):
    res = stats(demo_db, "--user", "demo", "all")
    assert res.returncode == 0, res.stderr
    headings = [line for line in res.stdout.splitlines() if line.startswith("== ")]
    assert len(headings) == len(ALL_PANELS) - 1 == 17  # all but None
    assert "== Open requests per status ==" in headings and "== None ==" not in headings
    status = res.stdout.split("== Status ==")[1].split("== ")[0].splitlines()
    line = next(line for line in status if line.strip().startswith("Open requests "))
    assert int(line.split()[2]) > 0  # a count, printed as an integer
    assert all("min" not in line and "days" not in line for line in status)  # the tile holds counts only
    average = res.stdout.split("== User response time per month ==")[1].split("== ")[0].splitlines()[1]
    assert re.search(r"\s\d+\.\d\d min\s", average), average
    rows = [line.split() for line in res.stdout.splitlines() if line.strip().startswith("Unassigned requests ")]
    assert rows and all(int(r[-1]) >= 0 for r in rows) and any(int(r[-1]) > 0 for r in rows)


def test_stats_errors_are_clear(demo_db):
    res = stats(demo_db, "OpenRequestsPerNothing")
    assert res.returncode == 2
    assert "Unknown StatusScreenPanelType: 'OpenRequestsPerNothing'" in res.stderr and "Traceback" not in res.stderr
    res = stats(demo_db, "42")
    assert res.returncode == 2 and "Unknown StatusScreenPanelType: 42" in res.stderr
    res = stats(demo_db, "--tz", "Mars/Olympus", "3")
    assert res.returncode == 2 and "Unknown time zone: 'Mars/Olympus'" in res.stderr
    res = stats(demo_db, "--user", "nobody", "3")
    assert res.returncode == 1 and "no such user: nobody" in res.stderr


def test_users_add_list_passwd(demo_db):
    d, db = demo_db
    res = run_cli("users", "add", "zoe", "--name", "Zoe Zed", "--groups", "Support,Night shift", "--create-groups",
                  "--tz", "Asia/Kolkata",
                  "--lang", "da", "--password-env", "ZOE_PW", "--db", db, cwd=d, env=cli_env(ZOE_PW="s3cret-Zoe"))
    assert res.returncode == 0, res.stderr
    assert "added user zoe" in res.stdout and "s3cret" not in res.stdout + res.stderr
    res = run_cli("users", "add", "zoe", "--password-env", "ZOE_PW", "--db", db, cwd=d, env=cli_env(ZOE_PW="x"))
    assert res.returncode == 2 and "already exists" in res.stderr
    res = run_cli("users", "list", "--db", db, cwd=d)
    assert res.returncode == 0
    row = next(line for line in res.stdout.splitlines() if " zoe " in line)
    assert "Zoe Zed" in row and "Asia/Kolkata" in row and "Support,Night shift" in row and "da" in row
    assert " demo " in res.stdout and "$argon2" not in res.stdout
    store = Store("sqlite:///" + db)
    try:
        uid, first_hash = store.password_hash("zoe")
        assert first_hash.startswith("$argon2id$") and verify_password(first_hash, "s3cret-Zoe")
        res = run_cli("users", "passwd", "zoe", "--db", db, cwd=d, input="new-Pass-1\n")
        assert res.returncode == 0 and "password changed for zoe" in res.stdout and "new-Pass" not in res.stdout
        _uid, second = store.password_hash("zoe")
        assert verify_password(second, "new-Pass-1") and not verify_password(second, "s3cret-Zoe")
    finally:
        store.close()
    res = run_cli("users", "passwd", "nobody", "--db", db, cwd=d, input="x\n")
    assert res.returncode == 1 and "no such user: nobody" in res.stderr


def test_demo_shows_a_progress_bar_when_asked(tmp_path):
    res = run_cli("demo", "--requests", "50", "--db", str(tmp_path / "p.db"), cwd=tmp_path,
                  env=cli_env(SERVICES87_PROGRESS="1"))
    assert res.returncode == 0, res.stderr
    assert "demo: 100%" in res.stderr and "50/50" in res.stderr


def _access_check(member: list[dict], other: list[dict]) -> None:
    """``member`` / ``other``: OpenRequestsPerCategory, OpenRequestsPerTopCategory, OpenRequestsPerOrigin as
    seen by a member of the demo's members-only Management category and by a non-member."""
    mine = {v["Label"]: v["Value"] for v in member[0]["Values"]}
    theirs = {v["Label"]: v["Value"] for v in other[0]["Values"]}
    secret = sum(n for label, n in mine.items() if label == "Management" or label.startswith("Management/"))
    assert "Management/Personnel" in mine and secret > 0
    assert not any(label.startswith("Management") for label in theirs)
    assert theirs == {k: v for k, v in mine.items() if not k.startswith("Management")}
    assert "Management" not in {v["Label"] for v in other[1]["Values"]}
    origin_total = [sum(v["Value"] for v in ds[2]["Values"]) for ds in (member, other)]
    assert origin_total[1] == origin_total[0] - secret


def test_members_only_category_hidden_from_non_member(demo_db):
    panels = ("OpenRequestsPerCategory", "OpenRequestsPerTopCategory", "OpenRequestsPerOrigin")
    seen = {}
    for user in ("demo", "anna"):
        res = stats(demo_db, "--user", user, "--format", "json", *panels)
        assert res.returncode == 0, res.stderr
        seen[user] = json.loads(res.stdout)
    _access_check(seen["demo"], seen["anna"])
