"""The first hour of a new user on the command line: every mistake a newcomer makes gets one line that says what
is wrong and what to do, and a non-zero exit code (2 for usage, configuration and database-location mistakes);
never a traceback. Each case runs ``python -m services87`` in a real subprocess."""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from services87.cli import build_parser
from tests.engine.helpers import cli_env, run_cli
from tests.support import ROOT

PW_ENV = {"SERVICES87_PASSWORD_HASH_PROFILE": "test"}


def env(**extra: str) -> dict:
    return cli_env(**PW_ENV, **extra)


def cli(*args: str, cwd: Path, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("env", env())
    return run_cli(*args, cwd=cwd, **kw)


def one_line_error(res: subprocess.CompletedProcess, code: int, *needles: str) -> str:
    """The command failed with ``code`` and exactly one line on stderr containing every needle."""
    out = res.stdout + res.stderr
    assert "Traceback" not in out and not re.search(r"\w+(Error|Exception):", res.stderr), out
    lines = res.stderr.strip().splitlines()
    assert res.returncode == code and len(lines) == 1, (res.returncode, out)
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    d = tmp_path_factory.mktemp("newcomer")
    res = cli("demo", "--requests", "100", "--db", str(d / "demo.db"), cwd=d)
    assert res.returncode == 0, res.stderr
    return d, str(d / "demo.db")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- arguments
def test_stats_now_must_be_a_timestamp(demo_db):
    d, db = demo_db
    one_line_error(cli("stats", "--now", "yesterday", "--db", db, "all", cwd=d), 2,
                   "'yesterday' is not an ISO 8601 timestamp", "2026-03-30T12:00:00+00:00", "--help")


def test_serve_port_out_of_range(demo_db):
    d, db = demo_db
    one_line_error(cli("serve", "--port", "99999", "--db", db, cwd=d), 2, "99999 is not a TCP port", "0-65535")


def test_config_file_missing(demo_db):
    d, db = demo_db
    one_line_error(cli("stats", "--config", "/missing.toml", "--db", db, "all", cwd=d), 2,
                   "/missing.toml", "cannot read the configuration file", "--config")
    one_line_error(cli("stats", "--db", db, "all", cwd=d, env=env(SERVICES87_CONFIG="/missing.toml")), 2,
                   "SERVICES87_CONFIG")


# --------------------------------------------------------------------------- --db
def test_db_in_a_missing_directory(tmp_path):
    one_line_error(cli("stats", "--db", "/nonexistent/dir/x.db", "all", cwd=tmp_path), 2,
                   "no database at /nonexistent/dir/x.db")
    one_line_error(cli("demo", "--db", "/nonexistent/dir/x.db", cwd=tmp_path), 2,
                   "the directory /nonexistent/dir does not exist", "--db")


def test_db_that_is_not_sqlite(tmp_path):
    one_line_error(cli("stats", "--db", str(ROOT / "README.md"), "all", cwd=tmp_path), 2,
                   f"{ROOT / 'README.md'} is not a SQLite database", "--db")
    one_line_error(cli("users", "list", "--db", str(tmp_path), cwd=tmp_path), 2, "is a directory", "services87.db")


def test_db_of_an_unknown_kind(tmp_path):
    one_line_error(cli("stats", "--db", "foo://bar", "all", cwd=tmp_path), 2,
                   "unknown kind of database 'foo'", "sqlite:///FILE", "postgresql+psycopg://")


def test_postgresql_without_the_driver(tmp_path):
    """psycopg hidden from the interpreter: the message names the extra to install."""
    code = ("import sys, runpy; sys.modules['psycopg'] = None; sys.modules['psycopg2'] = None; "
            "sys.argv = ['services87'] + sys.argv[1:]; runpy.run_module('services87', run_name='__main__')")
    res = subprocess.run([sys.executable, "-c", code, "stats", "--db", "postgresql://stats:secret@db.example/x", "all"],
                         cwd=tmp_path, capture_output=True, text=True, env=env(), timeout=120)
    line = one_line_error(res, 2, "PostgreSQL driver", "pip install 'services87[postgres]'")
    assert "secret" not in line


def test_read_only_commands_do_not_create_a_database(tmp_path):
    db = tmp_path / "nothing-here.db"
    for args in (("stats", "all"), ("users", "list"), ("users", "passwd", "demo"), ("simulate",)):
        one_line_error(cli(*args, "--db", str(db), cwd=tmp_path, input="pw\n"), 2, f"no database at {db}",
                       "services87 demo")
        assert not db.exists()
    # the default database is ./services87.db, resolved
    one_line_error(cli("stats", "all", cwd=tmp_path), 2, f"no database at {tmp_path / 'services87.db'}")
    assert not (tmp_path / "services87.db").exists()


def test_writing_commands_create_the_database_and_say_where(tmp_path):
    db = tmp_path / "new.db"
    res = cli("users", "add", "zoe", "--password-env", "PW", "--db", str(db), cwd=tmp_path, env=env(PW="pw-zoe"))
    assert res.returncode == 0, res.stderr
    assert res.stderr.strip() == f"creating a new database at {db}" and "added user zoe" in res.stdout
    res = cli("users", "add", "yan", "--password-env", "PW", "--db", str(db), cwd=tmp_path, env=env(PW="pw-yan"))
    assert res.returncode == 0 and res.stderr == "", res.stderr  # said once, when it was created


# --------------------------------------------------------------------------- serve and simulate
def test_serve_on_a_port_in_use(demo_db):
    d, db = demo_db
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        res = cli("serve", "--host", "127.0.0.1", "--port", str(port), "--db", db, cwd=d, timeout=120)
    one_line_error(res, 1, f"cannot listen on 127.0.0.1:{port}", "--port N")


@pytest.mark.parametrize(("description", "needle"), [
    ("bogus:1", "Unknown endpoint type: 'bogus'"),
    ("tcp:port=notaport", "notaport"),
    ("ssl:0:privateKey=/missing/key.pem", "/missing/key.pem"),
])
def test_serve_with_a_listen_endpoint_it_cannot_use(demo_db, description, needle):
    d, db = demo_db
    res = cli("serve", "--listen", description, "--db", db, cwd=d, timeout=120)
    one_line_error(res, 2, f"cannot listen on {description}: ", needle, "--listen")


@pytest.mark.parametrize("args", [("demo", "--requests", "-5"), ("serve", "--workers", "0"),
                                  ("serve", "--demo-requests", "-1"), ("import", "x.csv", "--batch", "0"),
                                  ("simulate", "--events", "0"), ("simulate", "--interval-ms", "-1"),
                                  ("demo", "--requests", "many")])
def test_counts_out_of_range_are_refused_before_anything_runs(demo_db, args):
    d, db = demo_db
    option, value = args[-2], args[-1]
    line = one_line_error(cli(*args, "--db", db, cwd=d, timeout=120), 2, f"argument {option}", repr(value)
                          if value == "many" else value, f"services87 {args[0]} --help")
    assert "is below the least allowed" in line or "is not a whole number" in line


def test_simulate_with_no_server(demo_db):
    d, db = demo_db
    url = f"http://127.0.0.1:{free_port()}"
    one_line_error(cli("simulate", "--url", url, "--db", db, "--events", "1", cwd=d), 1,
                   f"cannot reach {url}", "is the server running?")


# --------------------------------------------------------------------------- users
def test_users_add_with_no_password_on_stdin(demo_db):
    d, db = demo_db
    res = subprocess.run([sys.executable, "-m", "services87", "users", "add", "nopw", "--db", db], cwd=d, env=env(),
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    one_line_error(res, 2, "no password on standard input", "--password-env")
    one_line_error(cli("users", "add", "nopw", "--password-env", "EMPTY", "--db", db, cwd=d, env=env(EMPTY="")), 2,
                   "EMPTY is empty or not set")


def test_users_add_checks_groups_zone_and_language(demo_db):
    d, db = demo_db
    add = ("users", "add", "una", "--db", db)
    one_line_error(cli(*add, "--groups", "Support,Nights", cwd=d, input="pw\n"), 2,
                   "unknown group 'Nights'", "Support", "--create-groups")
    one_line_error(cli(*add, "--tz", "Mars/Olympus", cwd=d, input="pw\n"), 2,
                   "Unknown time zone: 'Mars/Olympus'", "IANA")
    one_line_error(cli(*add, "--lang", "xx", cwd=d, input="pw\n"), 2, "invalid choice: 'xx'", "'nb'")
    res = cli(*add, "--groups", "support, Nights", "--create-groups", "--tz", "Asia/Tokyo", "--lang", "nb", cwd=d,
              input="pw-una\n")
    assert res.returncode == 0 and "created group Nights" in res.stdout and "added user una" in res.stdout, res.stderr
    row = next(line for line in cli("users", "list", "--db", db, cwd=d).stdout.splitlines() if " una " in line)
    assert row.split()[-1] == "Support,Nights" and "Asia/Tokyo" in row and " nb " in row


def test_users_add_with_unknown_groups_leaves_a_missing_database_alone(tmp_path):
    db = tmp_path / "new.db"
    one_line_error(cli("users", "add", "una", "--db", str(db), "--groups", "Support", cwd=tmp_path, input="pw\n"), 2,
                   "unknown group(s) 'Support'", "does not exist yet", "--create-groups")
    assert not db.exists()
    res = cli("users", "add", "una", "--db", str(db), "--groups", "Support", "--create-groups", cwd=tmp_path,
              input="pw-una\n")
    assert res.returncode == 0 and "created group Support" in res.stdout, res.stderr
    assert db.exists()


def test_users_list_into_a_closed_pipe_is_silent(demo_db):
    d, db = demo_db
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte: every write fails with EPIPE
    try:
        res = subprocess.run([sys.executable, "-m", "services87", "users", "list", "--db", db], cwd=d, env=env(),
                             stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert res.stderr == "" and res.returncode == 141
    shell = subprocess.run(f"'{sys.executable}' -m services87 users list --db '{db}' | head -2", shell=True, cwd=d,
                           env=env(), capture_output=True, text=True, timeout=120)
    assert shell.returncode == 0 and shell.stderr == "" and len(shell.stdout.splitlines()) == 2


# --------------------------------------------------------------------------- help
def test_help_is_plain_text_and_lists_every_command(tmp_path):
    res = cli("--help", cwd=tmp_path)
    assert res.returncode == 0
    assert "``" not in res.stdout and ":ref:" not in res.stdout
    for name in ("serve", "demo", "import", "users", "simulate", "stats"):
        assert re.search(rf"^    {name}\s+\S", res.stdout, re.M), name
    assert "--port N" in res.stdout and "demo / demo" in res.stdout


def _parsers(parser):
    """``parser`` and every (sub)command parser under it."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


def test_every_option_has_help_and_shows_its_default():
    seen = 0
    for parser in _parsers(build_parser()):
        text = parser.format_help()
        flat = " ".join(text[text.index("\noptions:"):].split())  # the option lines, not the usage
        for action in parser._actions:
            if not action.option_strings or action.help == argparse.SUPPRESS or action.dest in ("help", "version"):
                continue
            seen += 1
            assert action.help, (parser.prog, action.option_strings)
            after = flat[flat.index(" " + action.option_strings[-1] + " "):][:400]
            if action.nargs != 0:  # flags are off unless given
                assert "default" in after, (parser.prog, action.option_strings)
            if action.default not in (None, False):
                assert f"default: {action.default}" in after, (parser.prog, action.option_strings)
    assert seen > 30


def test_users_add_documents_the_password_from_stdin(tmp_path):
    res = cli("users", "add", "--help", cwd=tmp_path)
    assert "standard input" in " ".join(res.stdout.split()) and "--password-env" in res.stdout


# --------------------------------------------------------------------------- output
def test_stats_all_prints_counts_as_integers_and_averages_with_units(demo_db):
    d, db = demo_db
    res = cli("stats", "--db", db, "--user", "demo", "all", cwd=d)
    assert res.returncode == 0, res.stderr
    assert "== None ==" not in res.stdout and "== Status ==" in res.stdout
    sections = dict(re.findall(r"^== (.+) ==\n((?:  .*\n?)*)", res.stdout, re.M))
    counts = sections["Open requests per status"].splitlines()
    assert counts and all(re.search(r"\s\d+$", line) for line in counts), counts
    for name in ("User response time per day", "User response time per week"):
        assert all(re.search(r"\s\d+\.\d\d min\s+\d+ requests?$", line) for line in sections[name].splitlines())
    hot = sections["Favourites"].splitlines()  # the Hotlist panel, as the vendor's UI names it
    assert hot and all(re.search(r"\s\d+\.\d\d days\s", line) for line in hot), hot  # demo's hotlist has requests
    screen = sections["Status"].splitlines()  # the Status tile holds counts only
    assert screen and all(re.match(r"  .+?\s{2,}\d+(\s|$)", line) for line in screen), screen


def test_the_featured_demo_login_has_a_hotlist(demo_db):
    d, db = demo_db
    data = json.loads(cli("stats", "--db", db, "--user", "demo", "--format", "json", "Hotlist", cwd=d).stdout)
    assert len(data[0]["Values"]) >= 1


def test_demo_says_what_it_did(tmp_path):
    db = str(tmp_path / "d.db")
    assert cli("demo", "--requests", "100", "--db", db, cwd=tmp_path).returncode == 0
    res = cli("demo", "--requests", "50", "--db", db, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f"wrote 50 demo requests (0 new, 50 replaced) to {db}, which now holds 100 requests"


def test_import_plurals_and_the_header_error_names_the_file(tmp_path):
    db = str(tmp_path / "i.db")
    assert cli("demo", "--requests", "10", "--db", db, cwd=tmp_path).returncode == 0
    one = tmp_path / "one.csv"
    one.write_text("external_id,status,created\nN1,New,2026-01-05T10:00:00Z\n")
    res = cli("import", str(one), "--db", db, cwd=tmp_path)
    assert res.returncode == 0 and res.stdout.strip() == f"{one}: 1 row read, 1 imported (1 new, 0 updated) in 1 batch"
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("external_id,status,created\nN2,New,2026-01-05T10:00:00Z\nN3,Nope,2026-01-05T10:00:00Z\n")
    res = cli("import", str(mixed), "--db", db, cwd=tmp_path)
    assert res.returncode == 1 and "--skip-bad to load the 1 good row)" in res.stdout and "Traceback" not in res.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text("external_id,status,created,colour\nX,New,1,red\n")
    one_line_error(cli("import", str(bad), "--db", db, cwd=tmp_path), 2, f"{bad}:1: bad header", "colour")


def test_the_command_line_loads_no_database_or_server_library_before_it_needs_one(tmp_path):
    """``services87 --help`` and an argument error answer without SQLAlchemy, Alembic, Twisted or Spyne (a third
    of the start-up time): the packages they pass through import those on first use."""
    code = ("import sys, services87.cli; "
            "print(sorted(m for m in ('sqlalchemy', 'alembic', 'twisted', 'spyne') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stdout + out.stderr


def test_importing_the_password_module_hashes_nothing(tmp_path):
    """The dummy hash an unknown user's password is checked against costs one Argon2 hash (64 MiB by default):
    it is made when a server's auth service starts (or on first need), not by every command that imports the
    module. An unknown user is still refused, after the same work as a known one."""
    code = ("import services87.auth.passwords as p, services87.cli\n"
            "before = p._dummy\n"
            "p.configure('test')\n"
            "print(before is None, p.verify_password(None, 'x'), p._dummy is not None)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.split() == ["True", "False", "True"], out.stdout + out.stderr
