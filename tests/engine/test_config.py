"""Settings: defaults < TOML file < SERVICES87_* environment < command line; clear errors; every setting documented."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from services87.config import ConfigError, Settings
from tests.engine.helpers import run_cli

ROOT = Path(__file__).resolve().parents[2]

TOML = """
db_url = "sqlite:///from-file.db"
default_time_zone = "Asia/Kolkata"
default_language = "nb"
port = 9000
response-time-clock = "business"

[business_hours]
days = [1, 2, 3, 4]
start = "07:30"
holidays = ["2026-12-25"]

[buckets]
weeks = 53
"""


def write(tmp_path, text: str) -> str:
    p = tmp_path / "services87.toml"
    p.write_text(text)
    return str(p)


def test_precedence_defaults_file_env_command_line(tmp_path):
    path = write(tmp_path, TOML)
    s = Settings.load(path, env={})
    assert (s.db_url, s.default_time_zone, s.default_language, s.port) == (
        "sqlite:///from-file.db", "Asia/Kolkata", "nb", 9000)
    assert s.response_time_clock == "business"
    assert s.business_hours.days == [1, 2, 3, 4] and s.business_hours.start == "07:30"
    assert s.business_hours.end == "16:00"  # untouched default inside a table
    assert s.buckets.weeks == 53 and s.buckets.days == 14
    env = {"SERVICES87_DEFAULT_TIME_ZONE": "UTC", "SERVICES87_PORT": "9100", "SERVICES87_BUSINESS_HOURS__END": "18:15",
           "SERVICES87_BUSINESS_HOURS__DAYS": "1,3,5", "SERVICES87_BUCKETS__DAYS": "31",
           "SERVICES87_GWS_CSRF_PROTECTION": "off", "SERVICES87_PROGRESS": "1", "UNRELATED": "x"}
    s = Settings.load(path, env=env)
    assert (s.default_time_zone, s.port, s.default_language) == ("UTC", 9100, "nb")
    assert s.business_hours.end == "18:15" and s.business_hours.days == [1, 3, 5] and s.business_hours.start == "07:30"
    assert s.buckets.days == 31 and s.gws_csrf_protection is False
    s = Settings.load(path, env=env, db_url="sqlite:///cli.db", port=9200)
    assert (s.db_url, s.port) == ("sqlite:///cli.db", 9200)
    # the file can also come from SERVICES87_CONFIG
    assert Settings.load(env={"SERVICES87_CONFIG": path}).default_language == "nb"


@pytest.mark.parametrize("text,message", [
    ('colour = "red"\n', "unknown setting 'colour'"),
    ('[business_hours]\nlunch = "12:00"\n', "unknown setting 'lunch'"),
    ("port = \"eighty\"\n", "bad value for port"),
    ("port = true\n", "bad value for port"),
    ('default_language = ["en"]\n', "bad value for default_language"),
    ('business_hours = "9-5"\n', "business_hours must be a table"),
    ('default_time_zone = "Mars/Olympus"\n', "default_time_zone: unknown time zone 'Mars/Olympus'"),
    ('default_language = "fr"\n', "default_language must be one of en, de, nb, sv, da, nl"),
    ('response_time_clock = "sundial"\n', "response_time_clock must be 'wall' or 'business'"),
    ("[buckets]\ndays = 0\n", "buckets.days must be between 1 and 1000"),
    ("[business_hours]\ndays = [0, 8]\n", "business_hours.days must list ISO weekdays"),
    ('[business_hours]\nstart = "17:00"\nend = "08:00"\n', "business_hours.end must be after"),
    ('[business_hours]\nstart = "nine"\n', "business_hours.start/end must be HH:MM"),
    ('[business_hours]\nholidays = ["25.12.2026"]\n', "not an ISO date"),
    ("ticket_lifetime = -5\n", "ticket_lifetime must be positive"),
    ("port = \n", "services87.toml"),  # TOML syntax error names the file
])
def test_bad_file_values_are_config_errors(tmp_path, text, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        Settings.load(write(tmp_path, text), env={})


@pytest.mark.parametrize("env,message", [
    ({"SERVICES87_COLOUR": "red"}, "unknown setting SERVICES87_COLOUR"),
    ({"SERVICES87_PORT": "eighty"}, "environment: bad value for port: 'eighty'"),
    ({"SERVICES87_GWS_CSRF_PROTECTION": "maybe"}, "bad value for gws_csrf_protection"),
    ({"SERVICES87_BUSINESS_HOURS": "9-5"}, "business_hours is a table"),
    ({"SERVICES87_BUSINESS_HOURS__DAYS": "mon,tue"}, "bad value for days"),
    ({"SERVICES87_BUCKETS__MONTHS": "5000"}, "buckets.months must be between 1 and 1000"),
])
def test_bad_environment_values_are_config_errors(env, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        Settings.load(env=env)


def test_the_test_suites_variables_are_not_settings():
    """Servers started by the tests inherit the suite's ``SERVICES87_TEST_*`` (scripts/test sets
    ``SERVICES87_TEST_PG_THROWAWAY``, scripts/stress ``SERVICES87_TEST_TIME_FACTOR``): they are not settings,
    whatever their name; anything else under ``SERVICES87_`` still is, or is refused."""
    env = {"SERVICES87_TEST_PG_THROWAWAY": "1", "SERVICES87_TEST_TIME_FACTOR": "2", "SERVICES87_TEST_JOBS": "1",
           "SERVICES87_TEST_ANYTHING_NEW": "x", "SERVICES87_PORT": "8123"}
    assert Settings.load(env=env).port == 8123
    with pytest.raises(ConfigError, match="unknown setting SERVICES87_TESTX"):
        Settings.load(env={"SERVICES87_TESTX": "1"})


def test_cli_reports_config_errors_with_exit_code_2(tmp_path):
    res = run_cli("stats", "--config", write(tmp_path, 'colour = "red"\n'), "--db", str(tmp_path / "x.db"), "3",
                  cwd=tmp_path)
    assert res.returncode == 2 and "unknown setting 'colour'" in res.stderr and "Traceback" not in res.stderr


def _setting_names(obj, prefix="") -> list[str]:
    out = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            out += _setting_names(value, prefix + f.name + ".")
        else:
            out.append(prefix + f.name)
    return out


def test_every_setting_is_documented():
    doc = (ROOT / "docs" / "configuration.md").read_text()
    for name in _setting_names(Settings()):
        env = "SERVICES87_" + name.upper().replace(".", "__")
        assert f"`{name}`" in doc and f"`{env}`" in doc, f"docs/configuration.md lacks {name} / {env}"
