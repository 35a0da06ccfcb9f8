"""The version watch (services87/engine/versionwatch.py): warm answers without a hop, never stale.

Against a real server process and writes from OTHER processes (the CLI, a writer script on the same SQLite
file): every answer is compared with the engine's own computation at the version the writer just committed
(or a fresh ``services87 stats``). Each test also checks that warm answers really were given without the hop
(the watch's ``clean`` count grows), so a watch that trusted stale versions would fail them. No timing asserts.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest
import requests

from services87.engine.versionwatch import VersionWatch, sqlite_signal
from tests.perf.test_caching import blocking, genesys_token, get_statistic_ex, login
from tests.support import ServerProcess, deadline_s, explain, wait_until

NS = "http://www.superoffice.net/ws/crm/NetServer/Services87"
PANEL = "OpenRequestsPerStatus"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = ServerProcess(tmp_path_factory.mktemp("vwatch"), demo_requests=300,
                      env={"SERVICES87_DEBUG_BLOCKING_MS": "250"})
    s.start()
    yield s
    s.stop()


def db_path(s: ServerProcess) -> str:
    return s.db[len("sqlite:///"):]


def clean_count(base: str) -> int:
    return blocking(base)["version_watch"]["clean"]


def on_sqlite(s: ServerProcess) -> bool:
    """The watch works on SQLite; on PostgreSQL every request takes the hop (the same answers are checked)."""
    return s.db.startswith("sqlite")


def soap_values(base: str, ticket: str) -> list[float]:
    body = (f'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns="{NS}"><s:Header>'
            f"<Credentials><Ticket>{ticket}</Ticket></Credentials></s:Header><s:Body><GetStatistics>"
            f"<Functions><StatusScreenPanelType>{PANEL}</StatusScreenPanelType></Functions>"
            f"</GetStatistics></s:Body></s:Envelope>")
    r = requests.post(base + "/Remote/Services87/CustomerService.svc", data=body,
                      headers={"content-type": "text/xml; charset=utf-8"}, timeout=60)
    assert r.status_code == 200 and "Succeeded>true<" in r.text, r.text[:800]
    return [float(v) for v in re.findall(r"<(?:\w+:)?Value>([^<]*)</", r.text)]


def soap_refused(base: str, ticket: str) -> str:
    body = (f'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns="{NS}"><s:Header>'
            f"<Credentials><Ticket>{ticket}</Ticket></Credentials></s:Header><s:Body><GetStatistics>"
            f"<Functions><StatusScreenPanelType>{PANEL}</StatusScreenPanelType></Functions>"
            f"</GetStatistics></s:Body></s:Envelope>")
    return requests.post(base + "/Remote/Services87/CustomerService.svc", data=body,
                         headers={"content-type": "text/xml; charset=utf-8"}, timeout=60).text


def rest_response(base: str, auth: str) -> requests.Response:
    return requests.post(base + "/api/v1/Agents/CustomerService/GetStatistics", json={"Functions": [PANEL]},
                         headers={"Authorization": auth}, timeout=60)


def rest_values(base: str, auth: str) -> list[float]:
    r = rest_response(base, auth)
    assert r.status_code == 200, r.text
    return [float(v["Value"]) for v in r.json()[0]["Values"]]


def cli_values(s: ServerProcess, user: str = "demo") -> list[float]:
    out = s.cli("stats", PANEL, "--user", user, "--format", "json").stdout  # as the SOAP/REST caller sees it
    return [float(v["Value"]) for v in json.loads(out)[0]["Values"]]


# --------------------------------------------------------------------------- the signal itself
def test_signal_changes_on_every_commit_including_wal_resets_at_the_same_size(tmp_path):
    """Commits of the same size, in the same clock tick, across checkpoints and in-place WAL resets."""
    path = str(tmp_path / "w.db")
    reader = sqlite3.connect(path)  # a connection kept open, as the server's pool does
    reader.execute("PRAGMA journal_mode=WAL")
    reader.execute("CREATE TABLE m (k TEXT PRIMARY KEY, v TEXT)")
    reader.execute("INSERT INTO m VALUES ('x', '0000')")
    reader.commit()
    writer = sqlite3.connect(path, isolation_level=None)
    seen = {sqlite_signal(path)}
    same_size_after_reset = 0
    for i in range(1, 121):
        if i % 10 == 3:
            writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        elif i % 10 == 7:
            writer.execute("PRAGMA wal_checkpoint(PASSIVE)")  # the next commit restarts the WAL in place
        before = os.stat(path + "-wal").st_size
        signal = sqlite_signal(path)
        writer.execute("UPDATE m SET v = ? WHERE k = 'x'", (f"{i:04d}",))  # same frame size every time
        after = sqlite_signal(path)
        assert signal is not None and after is not None
        assert after != signal, f"commit {i} left the signal unchanged"
        # the part the proof rests on: SQLite's wal-index header alone changes with every commit
        # (sizes and mtimes are only extra: a reset WAL is rewritten in place, mtimes may be coarse)
        assert after[0] != signal[0], f"commit {i} left the wal-index header unchanged"
        assert after not in seen, f"commit {i} brought back an earlier signal"
        seen.add(after)
        if i % 10 == 8 and os.stat(path + "-wal").st_size == before:
            same_size_after_reset += 1
        assert reader.execute("SELECT v FROM m").fetchone()[0] == f"{i:04d}"
    # the in-place reset (same WAL size: size and a coarse mtime cannot see it) did happen
    assert same_size_after_reset >= 1


def test_watch_follows_the_read_and_is_dirty_after_a_foreign_commit(tmp_path):
    path = str(tmp_path / "w.db")
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    con.execute("INSERT INTO meta VALUES ('data_version', '1'), ('auth_version', '1')")
    watch = VersionWatch(lambda: sqlite_signal(path))

    def read():
        token = watch.before_read()
        rows = dict(con.execute("SELECT key, value FROM meta").fetchall())
        watch.after_read(token, (int(rows["data_version"]), int(rows["auth_version"])))

    assert watch.current() is None  # nothing read yet
    read()
    assert watch.current() == (1, 1)
    foreign = ("import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); "
               "c.execute(\"UPDATE meta SET value='2' WHERE key='data_version'\"); c.commit()")
    subprocess.run([sys.executable, "-c", foreign, path],
                   check=True, timeout=60)
    assert watch.current() is None
    read()
    assert watch.current() == (2, 1)
    watch.mark_dirty()
    assert watch.current() is None
    # a read racing a local write is not recorded
    token = watch.before_read()
    watch.mark_dirty()
    watch.after_read(token, (2, 1))
    assert watch.current() is None
    # a commit between the signal and the read: recorded with the older signal, so never trusted
    token = watch.before_read()
    con.execute("UPDATE meta SET value='3' WHERE key='data_version'")
    watch.after_read(token, (3, 1))
    assert watch.current() is None
    assert VersionWatch(None).current() is None  # PostgreSQL / in-memory: always the normal path


# --------------------------------------------------------------------------- a real server, writes elsewhere
WRITER = textwrap.dedent("""
    import json, sqlite3, sys, time
    from services87.cli import build_parser, load_settings, open_store
    from services87.engine.engine import StatisticsEngine
    from services87.engine.model import StatContext
    args = build_parser().parse_args(["stats", "1", "--db", sys.argv[1], "--config", sys.argv[2]])
    settings = load_settings(args)
    store = open_store(settings)
    engine = StatisticsEngine(store, settings)
    new = store.lookup_id("status", "New")
    raw = sqlite3.connect(sys.argv[1][len("sqlite:///"):], isolation_level=None) if sys.argv[1].startswith("sqlite") else None
    n = 0
    for line in sys.stdin:
        cmd = line.split()
        for _ in range(int(cmd[1]) if cmd[0] == "write" else 0):
            n += 1
            store.upsert_requests([{"external_id": f"vw-{time.time_ns()}-{n}", "title": "vw", "status_id": new,
                                    "origin": 1, "owner_id": None, "group_id": None,
                                    "created_ts": int(time.time()) - 60}])
        if cmd[0] in ("TRUNCATE", "PASSIVE", "RESTART") and raw is not None:
            raw.execute(f"PRAGMA wal_checkpoint({cmd[0]})").fetchall()
        ctx = StatContext(user=store.find_user("demo"))  # as the SOAP caller: members-only categories count for demo
        values = [v.value for v in engine.compute(ctx, ["OpenRequestsPerStatus"])[0].values]
        print(json.dumps([float(v) for v in values]), flush=True)
""")


@contextlib.contextmanager
def foreign_writer(s: ServerProcess):
    """``step(command)``: the WRITER process (writes or a checkpoint) then the values it computes after it."""
    writer = subprocess.Popen([sys.executable, "-c", WRITER, s.db, str(s.config_path)], text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=os.getcwd())

    def step(cmd: str) -> list[float]:
        assert writer.stdin is not None and writer.stdout is not None
        writer.stdin.write(cmd + "\n")
        writer.stdin.flush()
        line = writer.stdout.readline()
        assert line, f"the writer died (exit status {writer.poll()})"
        return json.loads(line)

    try:
        yield step
    finally:
        assert writer.stdin is not None
        writer.stdin.close()
        writer.wait(timeout=60)


#: writes of 1-3 requests and checkpoints of every kind between them
COMMANDS = ["write 1", "write 1", "TRUNCATE", "write 1", "PASSIVE", "write 1", "write 3", "RESTART", "write 1",
            "write 2"]


def test_many_small_foreign_writes_with_checkpoints_never_give_a_stale_answer(srv):
    base = srv.base_url
    ticket = login(base)
    token = genesys_token(base)
    with foreign_writer(srv) as step:
        clean_before = clean_count(base)
        expected = step("write 0")
        assert soap_values(base, ticket) == expected
        assert rest_values(base, "SoTicket " + ticket) == expected
        commands = COMMANDS * 4
        for i, cmd in enumerate(commands):
            expected = step(cmd)
            # the very next request after the writer's commit, then again (the warm one, without the hop)
            for _ in range(2):
                assert soap_values(base, ticket) == expected, (i, cmd)
                assert rest_values(base, "SoTicket " + ticket) == expected, (i, cmd)
                assert rest_values(base, "Bearer " + token) == expected, (i, cmd)
        assert soap_values(base, ticket) == cli_values(srv)
        # the warm answers did skip the hop (so a wrong watch would have been caught above)
        if on_sqlite(srv):
            assert clean_count(base) - clean_before >= len(commands)


@pytest.fixture(scope="module")
def cold_srv(tmp_path_factory):
    """The response cache off: every SOAP answer is made, none is stored bytes."""
    s = ServerProcess(tmp_path_factory.mktemp("vwatch-cold"), demo_requests=300, config="response_cache_size = 0\n",
                      env={"SERVICES87_DEBUG_BLOCKING_MS": "250"})
    s.start()
    yield s
    s.stop()


def test_answers_made_on_the_reactor_thread_follow_foreign_commits(cold_srv):
    """With no stored answer to send, a GetStatistics whose data sets the engine holds at the version the watch
    proves current is made on the reactor thread from them (``StatisticsEngine.cached``, no hop). After every
    foreign commit the next answer is the new one, and no store call was made on the reactor thread."""
    base = cold_srv.base_url
    ticket = login(base)
    with foreign_writer(cold_srv) as step:
        answered_before = blocking(base)["version_watch"]["answered"]
        commands = COMMANDS * 2
        for i, cmd in enumerate(commands):
            expected = step(cmd)
            # the first request after the commit takes the hop (the watch sees it); the next two are made on
            # the reactor thread from what that one computed
            for _ in range(3):
                assert soap_values(base, ticket) == expected, (i, cmd)
        assert soap_values(base, ticket) == cli_values(cold_srv)
    report = blocking(base)
    assert report["store_calls_on_reactor"] == [], report["store_calls_on_reactor"][:1]
    if on_sqlite(cold_srv):
        assert report["version_watch"]["answered"] - answered_before >= 2 * len(commands), report["version_watch"]


def test_cli_import_demo_and_passwd_in_another_process(srv, tmp_path):
    base = srv.base_url
    ticket = login(base, "anna")
    token = genesys_token(base, "anna")  # one user throughout: members-only categories differ between users
    before = soap_values(base, ticket)
    assert soap_values(base, ticket) == before  # warm
    assert rest_values(base, "Bearer " + token) == before
    clean = clean_count(base)
    assert rest_values(base, "Bearer " + token) == before
    assert clean_count(base) > clean or not on_sqlite(srv)

    csv = tmp_path / "more.csv"
    stamp = time.time_ns()
    csv.write_text("external_id,title,category,status,priority,origin,owner,group,created,closed\n" + "".join(
        f"VW-{stamp}-{i},Watch {i},Hardware/Printers,New,High,Email,anna,Support,2026-03-02T08:15:00+01:00,\n"
        for i in range(5)))
    srv.cli("import", str(csv))
    imported = soap_values(base, ticket)
    assert imported != before and imported == cli_values(srv, "anna")
    assert rest_values(base, "Bearer " + token) == imported

    srv.cli("demo", "--requests", "40", "--seed", "9")
    after_demo = cli_values(srv, "anna")
    assert rest_values(base, "SoTicket " + ticket) == after_demo
    assert soap_values(base, ticket) == after_demo

    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVICES87_")}
    env["NEWPW"] = "anna"
    soap_values(base, ticket)  # warm again
    out = subprocess.run([sys.executable, "-m", "services87", "users", "passwd", "anna", "--password-env", "NEWPW",
                         "--db", srv.db, "--config", str(srv.config_path)], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, explain(out, srv)
    refused = soap_refused(base, ticket)
    assert "Succeeded>false<" in refused and "InvalidTicket" in refused, refused[:800]
    assert rest_response(base, "SoTicket " + ticket).status_code == 401


def test_ingest_through_the_api_is_seen_by_the_next_request(srv):
    base = srv.base_url
    ticket = login(base)
    token = genesys_token(base)
    soap_values(base, ticket)
    first = soap_values(base, ticket)
    gen_first = get_statistic_ex(base, token).json()
    ext = f"vw-{time.time_ns()}"
    r = requests.post(base + "/api/ingest/events", auth=("demo", "demo"), timeout=30, json={"events": [
        {"id": ext, "type": "request", "action": "create", "ts": int(time.time() * 1000),
         "request": {"external_id": ext, "title": "watch", "status": "New", "owner": "demo", "origin": "Phone"}}]})
    assert r.status_code in (200, 202), r.text
    now = soap_values(base, ticket)
    assert now != first and now == cli_values(srv)
    assert rest_values(base, "Bearer " + token) == now
    assert get_statistic_ex(base, token).status_code == 200 and gen_first
    # get-statistic-ex answered again within its second: without the hop
    for _ in range(5):
        t0 = int(time.time())
        first_gen = get_statistic_ex(base, token)
        clean = clean_count(base)
        again = get_statistic_ex(base, token)
        if int(time.time()) == t0:
            break
    assert first_gen.status_code == again.status_code == 200 and again.json() == first_gen.json()
    assert clean_count(base) > clean or not on_sqlite(srv)


def test_expired_ticket_and_token_refused_without_any_write(tmp_path):
    # Long enough for the log-in and the first answers on a loaded machine (with 3 s they could expire before the
    # first warm answer, and the test saw no warm answer at all), short enough to wait for.
    lifetime = int(deadline_s(10))
    s = ServerProcess(tmp_path, demo_requests=100, env={"SERVICES87_DEBUG_BLOCKING_MS": "250"},
                      config=f"ticket_lifetime = {lifetime}\naccess_token_lifetime = {lifetime}\n")
    s.start()
    try:
        base = s.base_url
        ticket = login(base)
        token = genesys_token(base)
        soap_values(base, ticket)
        rest_values(base, "Bearer " + token)
        clean = clean_count(base)
        deadline = time.time() + lifetime + deadline_s(30)
        while time.time() < deadline:  # warm answers (without the hop) until the credentials expire
            if "Succeeded>false<" in soap_refused(base, ticket):
                break
            time.sleep(0.2)
        assert clean_count(base) > clean or not on_sqlite(s)
        refused = soap_refused(base, ticket)
        assert "Succeeded>false<" in refused and "ExpiredTicket" in refused, refused[:800]
        # the token was issued after the ticket (seconds later on a loaded machine): it expires that much later
        wait_until(lambda: rest_response(base, "Bearer " + token).status_code != 200, lifetime + 30,
                   "the bearer token to expire")
        assert rest_response(base, "Bearer " + token).status_code == 401
        assert rest_response(base, "SoTicket " + ticket).status_code == 401
        assert get_statistic_ex(base, token).status_code in (401, 403)
    finally:
        s.stop()
