"""``bench/run [--quick]``: every measure as a ratio against a baseline measured in the same run.

One line per measure on stdout, ``<measure>: ratio=<x> <figures>``; the same lines, a table and a plot go to
docs/performance.md and docs/performance.png, and a full run (every measure, no ``--set``) also rewrites the
table between the ``bench table`` markers of README.md. Nothing is asserted: the bench measures, the reader judges.

``bench/run --scaling`` runs bench/scaling.py instead (how cost grows with data, worker processes and push clients;
docs/performance.md, "How cost grows"); the other arguments go to it.

``--set key=value`` (repeatable) passes a setting of ``services87 serve`` (docs/configuration.md) to every
server the run starts, so a before/after comparison of one setting is two commands that differ in one flag.

HTTP measures run ``wrk -t1 -c16`` on loopback against a real ``services87 serve`` process and, in the same
run, against bench/baseline.py, a bare Twisted resource answering the very same response bytes.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import zoneinfo
from datetime import datetime, timezone
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lib  # noqa: E402
from lib import Measure  # noqa: E402

ROOT = lib.ROOT
SOAP_PATH = "/Remote/Services87/CustomerService.svc"
REST_PATH = "/api/v1/Agents/CustomerService/GetStatistics"
GENESYS_PATH = "/statistics/v3/operations/get-statistic-ex"
XML = "text/xml; charset=utf-8"
JSON = "application/json"


#: measure -> (lowest ratio that meets the target, the target as written in the tables). bayeux-fanout also needs
#: p50 and p99 below faye's (see :func:`target_met`). The issue's one fan-out target ("msg/s >= 1.5 x faye's, p50
#: and p99 below faye's") is met by the two fan-out measures together: at a fixed rate both servers deliver
#: everything (the ratio is ~1 by construction, latency is what differs); saturated, msg/s is what differs.
TARGETS = {
    "soap-warm": (1.0, "≥ 1.0"),
    "soap-cold": (0.3, "≥ 0.3"),
    "rest-warm": (0.9, "≥ 0.9"),
    "genesys-warm": (0.9, "≥ 0.9"),
    "bayeux-fanout": (0.95, "p50 and p99 below faye's (ratio ≈ 1 by construction)"),
    "bayeux-fanout-max": (1.5, "≥ 1.5"),
    "push-latency": (1.0, "≥ 1.0 (p99 ≤ 50 ms)"),
    "push-latency-ws": (1.0, "≥ 1.0 (p99 ≤ 50 ms)"),
    "import": (0.5, "≥ 0.5"),
}


def target_met(m: Measure) -> bool | None:
    if m.name not in TARGETS or m.ratio is None:
        return None
    ok = m.ratio >= TARGETS[m.name][0]
    if m.name in ("bayeux-fanout", "bayeux-fanout-max"):
        f = m.figures
        ok = ok and f.get("p50_ms", 1e9) < f.get("faye_p50_ms", 0) and f.get("p99_ms", 1e9) < f.get("faye_p99_ms", 0)
    return ok


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- data
def demo_db(workdir: Path, n: int, cache_dir: Path) -> str:
    """A SQLite file with ``n`` deterministic demo requests (reused between runs: the generator is deterministic)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"demo-{n}.db"
    if not path.exists():
        log(f"building demo database with {n:,} requests ...")
        tmp = path.with_suffix(".tmp")
        if tmp.exists():
            tmp.unlink()
        subprocess.run([lib.PY, "-m", "services87", "demo", "--requests", str(n), "--db", str(tmp)], check=True,
                       cwd=workdir, stdout=subprocess.DEVNULL,
                       env={k: v for k, v in os.environ.items() if not k.startswith("SERVICES87_")})
        tmp.replace(path)
    # every run works on a copy, so writes of one run never leak into the next; the copy's write-ahead log
    # of an earlier server goes with it (SQLite would replay it into the new copy: "disk image is malformed")
    copy = workdir / f"demo-{n}.db"
    for stale in (copy.with_name(copy.name + "-wal"), copy.with_name(copy.name + "-shm")):
        stale.unlink(missing_ok=True)
    copy.write_bytes(path.read_bytes())
    return "sqlite:///" + str(copy)


# --------------------------------------------------------------------------- HTTP measures
def http_pair(name: str, workdir: Path, srv: lib.Proc, path: str, bodies: list[bytes], content_type: str,
              headers: dict, seconds: float, note: str = "") -> Measure:
    files = []
    for i, b in enumerate(bodies):
        f = workdir / f"{name}-{i}.body"
        f.write_bytes(b)
        files.append(f)
    status, resp, ct = lib.fetch(srv.url(path), bodies[0], {"content-type": content_type, **headers})
    if status != 200:
        raise RuntimeError(f"{name}: {status} {resp[:300]!r}")
    extra = [f"{k}: {v}" for k, v in headers.items()]
    script_args = lambda fs: [content_type, *map(str, fs)]  # noqa: E731
    base = lib.baseline(workdir, resp, ct or content_type, name=f"{name}-baseline")
    try:
        ours_args, bare_args = script_args(files) + _hdr(extra), script_args(files[:1]) + _hdr(extra)
        if len(bodies) == 1:  # warm: both servers have answered before the first timed round
            lib.wrk(srv.url(path), seconds=min(2.0, seconds / 3), script_args=ours_args)
        lib.wrk(base.url(path), seconds=1.0, script_args=bare_args)
        pairs = interleaved(lambda: lib.wrk(srv.url(path), seconds=seconds / 2, script_args=ours_args),
                            lambda: lib.wrk(base.url(path), seconds=seconds / 2, script_args=bare_args))
    finally:
        base.stop()
    m = lib.http_measure(name, *median_pair(pairs), note)
    m.figures["resp_bytes"] = len(resp)
    m.figures["round_ratios"] = "/".join(f"{o.rps / b.rps:.2f}" if b.rps else "n/a" for o, b in pairs)
    return m


#: Timed rounds per side of an HTTP measure, run in the order ours, bare, bare, ours, ours, bare: a busy moment
#: of the machine (or a slow drift) lands on both sides alike instead of on whichever ran second.
ROUNDS = 3


def interleaved(ours, bare, rounds: int = ROUNDS) -> list[tuple]:
    """``rounds`` pairs ``(ours(), bare())``, each pair's two runs adjacent, alternating which runs first."""
    pairs = []
    for i in range(rounds):
        if i % 2 == 0:
            o = ours()
            pairs.append((o, bare()))
        else:
            b = bare()
            pairs.append((ours(), b))
    return pairs


def median_pair(pairs: list[tuple]) -> tuple:
    """The pair whose ratio (ours / bare req/s) is the median of the rounds: its figures are the measure's."""
    ranked = sorted(pairs, key=lambda p: p[0].rps / p[1].rps if p[1].rps else 0.0)
    return ranked[len(ranked) // 2]


def _hdr(extra: list[str]) -> list[str]:
    # post.lua takes body files after the content type; extra headers ride as "@H:Name: value" arguments
    return [f"@H:{h}" for h in extra]


def all_zones() -> list[str]:
    from services87.engine.timebuckets import resolve_zone

    out = []
    for z in sorted(zoneinfo.available_timezones()):
        if "/" not in z or z.startswith(("Etc/", "SystemV/", "US/", "posix/", "right/")):
            continue
        try:
            resolve_zone(z)
        except Exception:
            continue
        out.append(z)
    return out


def soap_measures(workdir: Path, db: str, seconds: float, label: str) -> list[Measure]:
    srv = lib.serve(workdir, db, name=f"soap-{label}")
    try:
        ticket = lib.soap_login(srv.url("").rstrip("/"))
        warm = http_pair(f"soap-warm", workdir, srv, SOAP_PATH, [lib.soap_statistics_body(ticket)], XML, {},
                         seconds, note=f"{label} requests, 17 panels")
    finally:
        srv.stop()
    # Cold: a fresh server with the response cache off, so that no request is answered from stored bytes even
    # when the run cycles through the zones more than once: every request is parsed, computed (the engine
    # recomputes the zone-dependent panels for every new set of local midnights) and serialized.
    srv = lib.serve(workdir, db, name=f"soap-cold-{label}", config="response_cache_size = 0\n")
    try:
        ticket = lib.soap_login(srv.url("").rstrip("/"))
        zones = all_zones()
        random.Random(7).shuffle(zones)
        bodies = [lib.soap_statistics_body(ticket, zone=z) for z in zones]
        cold = http_pair("soap-cold", workdir, srv, SOAP_PATH, bodies, XML, {}, seconds,
                         note=f"{label} requests, every request another of {len(zones)} time zones, response "
                              "cache off")
        return [warm, cold]
    finally:
        srv.stop()


def rest_and_genesys(workdir: Path, db: str, seconds: float, label: str) -> list[Measure]:
    out = []
    srv = lib.serve(workdir, db, name=f"rest-{label}")
    try:
        ticket = lib.soap_login(srv.url("").rstrip("/"))
        body = json.dumps({"Functions": [p.wire_name for p in lib.ALL_PANELS]}).encode()
        try:
            out.append(http_pair("rest-warm", workdir, srv, REST_PATH, [body], JSON,
                                 {"Authorization": "SoTicket " + ticket, "Accept": JSON}, seconds,
                                 note=f"{label} requests, 17 panels, JSON"))
        except Exception as exc:  # the REST twin may not be mounted in this build
            out.append(Measure("rest-warm", None, {}, f"not measured: {str(exc)[:160]}"))
        try:
            tok = requests.post(srv.url("/auth/v3/oauth/token"), auth=("demo-client", "demo-secret"), timeout=30,
                                data={"grant_type": "password", "username": "demo", "password": "demo"})
            tok.raise_for_status()
            headers = {"x-api-key": "demo-api-key", "Authorization": "Bearer " + tok.json()["access_token"]}
            gbody = json.dumps({"data": {"statistics": [
                {"statisticId": "ready", "name": "CurrentReadyAgents", "objectType": "Tenant",
                 "objectId": "Environment"},
                {"statisticId": "sl", "name": "ServiceLevel", "objectType": "Tenant", "objectId": "Environment"},
            ]}}).encode()
            out.append(http_pair("genesys-warm", workdir, srv, GENESYS_PATH, [gbody], JSON, headers, seconds,
                                 note=f"{label} requests, get-statistic-ex, 2 statistics"))
        except Exception as exc:
            out.append(Measure("genesys-warm", None, {}, f"not measured: {str(exc)[:160]}"))
    finally:
        srv.stop()
    return out


# --------------------------------------------------------------------------- Bayeux fan-out
def ensure_faye() -> None:
    if not (ROOT / "bench" / "faye" / "node_modules" / "faye").exists():
        log("installing faye with npm ...")
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent"], cwd=ROOT / "bench" / "faye",
                       check=True, stdout=subprocess.DEVNULL)


def fanout(workdir: Path, clients: int, rate: float, count: int, name: str = "bayeux-fanout") -> Measure:
    """``clients`` long-polling sessions on one channel, ``count`` messages published at ``rate`` per second;
    ours and faye with the same load generator. ``bayeux-fanout-max`` publishes faster than either server
    delivers (clients x rate far above its msg/s), so each connect carries a batch and msg/s is the throughput."""
    ensure_faye()
    results = {}
    servers = {
        "ours": [lib.PY, str(ROOT / "bench" / "bayeux_server.py"), "--port-file", "{port_file}", "--timeout", "5"],
        "faye": ["node", str(ROOT / "bench" / "faye" / "server.js"), "{port_file}", "5"],
    }
    for server, args in servers.items():
        p = lib.Proc(args, workdir, f"{name}-{server}").wait_port(health="/health")
        try:
            out = subprocess.run(["node", str(ROOT / "bench" / "faye" / "loadgen.js"), p.url("").rstrip("/"),
                                  str(clients), str(rate), str(count), "30"], capture_output=True, text=True,
                                 timeout=count / rate + 240)
            lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
            if not lines:
                raise RuntimeError(f"load generator failed against {server}: {out.stderr[-800:]}")
            results[server] = json.loads(lines[-1])
        finally:
            p.stop()
    o, f = results["ours"], results["faye"]
    ratio = o["msg_s"] / f["msg_s"] if f["msg_s"] else None
    return Measure(name, ratio, {
        "msg_s": o["msg_s"], "p50_ms": o["p50_ms"], "p99_ms": o["p99_ms"], "delivered": o["delivered"],
        "expected": o["expected"], "faye_msg_s": f["msg_s"], "faye_p50_ms": f["p50_ms"], "faye_p99_ms": f["p99_ms"],
        "faye_delivered": f["delivered"]}, note=f"{clients} long-polling clients, {rate:g} events/s x {count}")


# --------------------------------------------------------------------------- push latency
PUSH_TARGET_MS = 50.0
PUSH_AGENT = "anna"  # a demo user (ingest agent-state events name an existing login)


def _push_client(base: str, clients: int, rate: float, count: int, bearer: str,
                 transport: str = "long-polling") -> dict:
    """Run bench/faye/push_latency.js against ``base``; its JSON line."""
    out = subprocess.run(["node", str(ROOT / "bench" / "faye" / "push_latency.js"), base, str(clients),
                          str(rate), str(count), "demo-api-key", bearer, PUSH_AGENT, "30", transport],
                         capture_output=True, text=True, timeout=count / rate + 300)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise RuntimeError(f"push-latency client failed: {out.stderr[-800:]}")
    return json.loads(lines[-1])


def push_latency(workdir: Path, db: str, clients: int, rate: float, count: int,
                 transport: str = "long-polling") -> Measure:
    """Event -> pushed update through the product: ``clients`` Genesys Statistics CometD clients (``transport``:
    long-polling, or websocket for ``push-latency-ws``) each subscribed to CurrentAgentState of one agent;
    ``count`` agent-state events ingested at ``rate`` per second (POST /api/ingest/events); latency from
    sending an event to a client reading the update it caused (bench/faye/push_latency.js). Ratio = 50 ms / p99.
    Default settings (``recompute_delay_ms`` 100 included).

    The same client against bench/push_floor.py (a bare Twisted server that only turns the long polls around,
    or writes one frame to every WebSocket, per event) gives the floor: the p99 no server in Twisted reaches on
    this machine with this client and this transport."""
    name = "push-latency" if transport == "long-polling" else "push-latency-ws"
    # every client is on 127.0.0.1 with a long poll and a REST connection: the connection caps are raised as
    # behind a reverse proxy (docs/security.md); the rest is the default configuration
    conns = max(4096, 4 * clients)
    config = (f"[genesys]\nmax_subscriptions = {max(1000, clients)}\n"
              f"[http]\nmax_connections = {conns}\nmax_connections_per_address = {conns}\n")
    floor: dict = {}
    try:
        floor_proc = lib.Proc([lib.PY, str(ROOT / "bench" / "push_floor.py"), "--port-file", "{port_file}"],
                              workdir, "push-floor").wait_port()
        try:
            floor = _push_client(floor_proc.url("").rstrip("/"), clients, rate, count, "none", transport)
        finally:
            floor_proc.stop()
        srv = lib.serve(workdir, db, name=name, config=config)
        try:
            base = srv.url("").rstrip("/")
            tok = requests.post(base + "/auth/v3/oauth/token", auth=("demo-client", "demo-secret"), timeout=30,
                                data={"grant_type": "password", "username": "demo", "password": "demo"})
            tok.raise_for_status()
            # the agent exists (and has a state) before the clients subscribe to it
            first = requests.post(base + "/api/ingest/events", headers={"x-api-key": "demo-api-key"}, timeout=30,
                                  json={"events": [{"id": f"push-start-{time.time_ns()}", "type": "agent-state",
                                                    "agent": PUSH_AGENT, "status": "NotReady", "place": "PL-start"}]})
            first.raise_for_status()
            r = _push_client(base, clients, rate, count, tok.json()["access_token"], transport)
        finally:
            srv.stop()
    except Exception as exc:
        return Measure(name, None, {}, f"not measured: {str(exc)[:200]}")
    ratio = PUSH_TARGET_MS / r["p99_ms"] if r.get("p99_ms") else None
    return Measure(name, ratio, {
        "p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"], "max_ms": r["max_ms"], "delivered": r["delivered"],
        "expected": r["expected"], "errors": r["errors"], "rehandshakes": r.get("rehandshakes", 0),
        "ingest_p50_ms": r["ingest_p50_ms"],
        "floor_p50_ms": floor.get("p50_ms"), "floor_p99_ms": floor.get("p99_ms"),
        "floor_delivered": floor.get("delivered"), "transport": transport},
        note=f"{clients} {transport} subscribers, {rate:g} events/s x {count}, ingest -> StatisticUpdate; "
             "ratio = 50 ms / p99")


# --------------------------------------------------------------------------- import
def import_measure(workdir: Path, rows: int, rounds: int = 3) -> Measure:
    """``services87 import`` of a generated CSV into a fresh demo database against the same rows read with
    ``csv`` and written by one raw ``sqlite3.executemany``; ``rounds`` alternating runs of each, the fastest of
    each kept (one run of a second or less is at the mercy of whatever else the machine does)."""
    from services87 import demo
    from services87.engine import importer
    from services87.engine.storage import Store

    csv_path = workdir / f"import-{rows}.csv"

    def fresh_store() -> Store:
        db = workdir / f"import-{rows}.db"
        for p in workdir.glob(f"import-{rows}.db*"):
            p.unlink()
        store = Store("sqlite:///" + str(db))
        store.migrate()
        demo.generate(store, n_requests=0)
        return store

    store = fresh_store()
    users = [u.login for u in store.list_users()]
    rnd = random.Random(3)
    names = _reference_names(store)
    store.close()
    start = int(datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp())
    with open(csv_path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["external_id", "title", "category", "status", "priority", "origin", "owner", "group",
                    "created", "closed"])
        for i in range(rows):
            created = start + rnd.randrange(0, 90 * 86400)
            st = rnd.choice(names["statuses"])
            closed = created + rnd.randrange(600, 5 * 86400) if st in names["closed"] else ""
            w.writerow([f"B-{i}", f"Request {i}", rnd.choice(names["categories"]), st, rnd.choice(names["priorities"]),
                        rnd.choice(["Email", "Web", "Phone", "Chat"]), rnd.choice(users), rnd.choice(names["groups"]),
                        created, closed])

    def ours_once() -> float:
        store = fresh_store()
        t0 = time.perf_counter()
        report = importer.import_file(store, csv_path, fmt="csv")
        took = time.perf_counter() - t0
        store.close()
        if not report.ok:
            raise RuntimeError(report.summary())
        return took

    def raw_once() -> float:
        # baseline: the same rows, read with the csv module and written by one sqlite3.executemany
        raw_db = workdir / f"raw-{rows}.db"
        for p in workdir.glob(f"raw-{rows}.db*"):
            p.unlink()
        t0 = time.perf_counter()
        con = sqlite3.connect(raw_db)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE requests (id INTEGER PRIMARY KEY, external_id TEXT UNIQUE, title TEXT, "
                    "category TEXT, status TEXT, priority TEXT, origin TEXT, owner TEXT, grp TEXT, created_ts INTEGER, "
                    "closed_ts INTEGER)")
        with open(csv_path, newline="") as fh:
            r = csv.reader(fh)
            next(r)
            con.executemany("INSERT INTO requests (external_id, title, category, status, priority, origin, owner, "
                            "grp, created_ts, closed_ts) VALUES (?,?,?,?,?,?,?,?,?,?)", r)
        con.commit()
        con.close()
        return time.perf_counter() - t0

    ours_runs, raw_runs = [], []
    for _ in range(rounds):
        ours_runs.append(ours_once())
        raw_runs.append(raw_once())
    ours, raw = min(ours_runs), min(raw_runs)
    return Measure("import", raw / ours, {"rows_s": rows / ours, "raw_rows_s": rows / raw, "rows": rows,
                                          "seconds": ours},
                   note=f"CSV through services87 import vs raw executemany, fastest of {rounds} runs each")


def _reference_names(store) -> dict:
    import sqlalchemy as sa

    from services87.engine import schema as t

    with store.engine.connect() as c:
        statuses = c.execute(sa.select(t.statuses.c.name, t.statuses.c.base_status)).all()
        prios = [r[0] for r in c.execute(sa.select(t.priorities.c.name))]
        groups = [r[0] for r in c.execute(sa.select(t.user_groups.c.name))]
    cats = ["Hardware/Printers", "Hardware/Laptops", "Software/Email", "Software/ERP", "Billing", "Other"]
    closed = {name for name, base in statuses if int(base) == 3}
    return {"statuses": [s for s, _ in statuses], "closed": closed, "priorities": prios, "groups": groups,
            "categories": cats}


# --------------------------------------------------------------------------- report
def write_report(measures_by_size: list[tuple[str, list[Measure]]], args, started: float) -> None:
    lines = []
    for size, ms in measures_by_size:
        for m in ms:
            lines.append((size, m))
    doc = ROOT / "docs" / "performance.md"
    head = doc.read_text().split("<!-- bench results -->")[0] if doc.exists() else "# Performance\n\n"
    out = [head.rstrip() + "\n", "<!-- bench results -->\n",
           f"## Latest run: `bench/run{' --quick' if args.quick else ''}`\n",
           f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, Python "
           f"{platform.python_version()}, {time.time() - started:.0f} s{_settings_note(args)}. "
           "Ratio = ours / baseline measured in the same run (HTTP: req/s of a bare Twisted resource answering the "
           "same bytes; Bayeux: delivered msg/s of the faye Node server; import: time of raw `sqlite3.executemany` / ours).\n",
           "| data | measure | ratio | ours | baseline | p50 / p99 ms (ours) | p50 / p99 ms (baseline) | note |",
           "|---|---|---|---|---|---|---|---|"]
    for size, m in lines:
        f = m.figures
        ratio = "n/a" if m.ratio is None else f"{m.ratio:.2f}"
        if m.name.startswith("push-latency"):
            floored = f.get("floor_p99_ms") is not None
            row = (f"{f.get('delivered', 0):,} of {f.get('expected', 0):,} delivered",
                   f"target {PUSH_TARGET_MS:.0f} ms p99" + (
                       f"; floor: {f.get('floor_delivered') or 0:,} delivered" if floored else ""),
                   f"{f.get('p50_ms') or 0:.1f} / {f.get('p99_ms') or 0:.1f}",
                   f"floor {f.get('floor_p50_ms') or 0:.1f} / {f.get('floor_p99_ms') or 0:.1f}" if floored else "")
        elif m.name.startswith("bayeux-fanout"):
            row = (f"{f.get('msg_s', 0):,.0f} msg/s", f"{f.get('faye_msg_s', 0):,.0f} msg/s",
                   f"{f.get('p50_ms', 0):.1f} / {f.get('p99_ms', 0):.1f}",
                   f"{f.get('faye_p50_ms', 0):.1f} / {f.get('faye_p99_ms', 0):.1f}")
        elif m.name == "import":
            row = (f"{f.get('rows_s', 0):,.0f} rows/s", f"{f.get('raw_rows_s', 0):,.0f} rows/s", "", "")
        elif f:
            row = (f"{f.get('req_s', 0):,.0f} req/s", f"{f.get('base_req_s', 0):,.0f} req/s",
                   f"{f.get('p50_ms', 0):.1f} / {f.get('p99_ms', 0):.1f}",
                   f"{f.get('base_p50_ms', 0):.1f} / {f.get('base_p99_ms', 0):.1f}")
        else:
            row = ("", "", "", "")
        out.append(f"| {size} | {m.name} | {ratio} | {row[0]} | {row[1]} | {row[2]} | {row[3]} | {m.note} |")
    out += ["", "![ratios of the latest run](performance.png)", "", "Raw output:", "", "```"]
    out += [f"[{size}] {m.line()}" for size, m in lines] + ["```", ""]
    doc.write_text("\n".join(out))
    try:
        plot(lines, ROOT / "docs" / "performance.png")
    except Exception as exc:  # matplotlib missing: the table is still written
        log(f"no plot: {exc}")
    if not args.quick and not args.only and not args.set:
        write_readme(lines, args, started)


def _settings_note(args) -> str:
    return "".join(f", `--set {kv}`" for kv in args.set or [])


README_START = "<!-- bench table: written by bench/run (a full run, no --set); edit bench/main.py, not this table -->"
README_END = "<!-- /bench table -->"


def readme_block(lines: list[tuple[str, Measure]], command: str, seconds: float, when: datetime | None = None,
                 python: str | None = None) -> str:
    """The README's table: each measure at its largest size (the last one run), with its target. A target
    counts as met only when it is met at every size of the run (a measure met at one size and missed at the
    other says which)."""
    last: dict[str, tuple[str, Measure]] = {}
    missed_at: dict[str, list[str]] = {}
    for size, m in lines:
        last[m.name] = (size, m)
        if target_met(m) is False:
            missed_at.setdefault(m.name, []).append(f"{m.ratio:.2f} at {size}" if m.ratio is not None else size)
    rows = [f"Latest `{command}`: {when or datetime.now(timezone.utc):%Y-%m-%d}, {os.cpu_count()} CPUs shared by "
            f"server, baseline and load generator, Python {python or platform.python_version()}, "
            f"{seconds / 60:.0f} min; "
            "each measure at its largest size (all sizes in docs/performance.md); met = met at every size.", "",
            "| measure | ratio | ours | baseline | target | met |", "|---|---|---|---|---|---|"]
    met, missed = [], []
    for name, (size, m) in last.items():
        f = m.figures
        if m.name.startswith("bayeux-fanout"):
            ours = f"{f.get('msg_s', 0):,.0f} msg/s, p50 / p99 {f.get('p50_ms', 0):,.0f} / {f.get('p99_ms', 0):,.0f} ms"
            base = (f"faye: {f.get('faye_msg_s', 0):,.0f} msg/s, p50 / p99 {f.get('faye_p50_ms', 0):,.0f} / "
                    f"{f.get('faye_p99_ms', 0):,.0f} ms")
        elif m.name.startswith("push-latency"):
            ours = (f"p50 / p99 {f.get('p50_ms') or 0:,.0f} / {f.get('p99_ms') or 0:,.0f} ms, "
                    f"{f.get('delivered', 0):,} of {f.get('expected', 0):,} updates delivered")
            base = "50 ms (the p99 aimed at)" + (
                f"; floor (bare Twisted {f.get('transport', 'long-polling')}, same client): p50 / p99 "
                f"{f.get('floor_p50_ms') or 0:,.0f} / {f.get('floor_p99_ms') or 0:,.0f} ms"
                if f.get("floor_p99_ms") is not None else "")
        elif m.name == "import":
            ours = f"{f.get('rows_s', 0):,.0f} rows/s"
            base = f"raw `sqlite3.executemany`: {f.get('raw_rows_s', 0):,.0f} rows/s"
        elif "req_s" in f:
            ours = f"{f['req_s']:,.0f} req/s, p99 {f.get('p99_ms', 0):.1f} ms"
            base = f"bare Twisted, same bytes: {f.get('base_req_s', 0):,.0f} req/s"
        else:
            ours = base = ""
        ok = target_met(m)
        verdict = "" if ok is None else ("yes" if ok else "no")
        if ok and name in missed_at:
            ok, verdict = False, f"no ({'; '.join(missed_at[name])})"
        if ok is not None:
            (met if ok else missed).append(f"`{name}`")
        ratio = "n/a" if m.ratio is None else f"{m.ratio:.2f}"
        what = m.note if m.note and size.split()[0] in m.note else f"{m.note or m.name} ({size})"
        rows.append(f"| `{name}`: {what} | {ratio} | {ours} | {base} | "
                    f"{TARGETS.get(name, (None, ''))[1]} | {verdict} |")
    rows += ["", f"Targets met: {', '.join(met) or 'none'}; not yet: {', '.join(missed) or 'none'}."]
    return "\n".join(rows)


def write_readme(lines, args, started: float) -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        log(f"README.md has no {README_START!r} ... {README_END!r} markers: its table is not rewritten")
        return
    head, rest = text.split(README_START, 1)
    tail = rest.split(README_END, 1)[1]
    block = readme_block(lines, "bench/run", time.time() - started)
    readme.write_text(f"{head}{README_START}\n{block}\n{README_END}{tail}")
    log("rewrote the table in README.md")


def plot(lines, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    targets = {name: t for name, (t, _text) in TARGETS.items()}
    shown = [(f"{m.name}\n{size}", m.ratio, targets.get(m.name)) for size, m in lines if m.ratio is not None]
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(shown)), 4))
    xs = range(len(shown))
    ax.bar(xs, [r for _, r, _ in shown], color=["#3a7" if t and r >= t else "#d64" for _, r, t in shown])
    for x, (_, r, t) in zip(xs, shown):
        if t:
            ax.hlines(t, x - 0.4, x + 0.4, colors="black", linestyles="dashed")
        ax.text(x, r, f"{r:.2f}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(list(xs), [n for n, _, _ in shown], fontsize=7)
    ax.set_ylabel("ratio to baseline (same run)")
    ax.set_title("services87 bench: ours / baseline (dashed = target)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# --------------------------------------------------------------------------- main
def parse_args(argv=None) -> argparse.Namespace:
    """The arguments; ``--set`` values are checked (unknown setting, bad value: exit 2 before any server starts)
    and go to :data:`lib.SERVER_ENV`, the environment of every ``services87 serve`` the run starts."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, at most about 3 minutes")
    ap.add_argument("--only", help="comma-separated measures (soap,rest,bayeux,push,import); bayeux includes push")
    ap.add_argument("--no-write", action="store_true", help="do not write docs/performance.md")
    ap.add_argument("--cache-dir", default=str(ROOT / ".bench-cache"), help="where demo databases are kept")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a setting of `services87 serve` for every server started (repeatable; dotted keys for "
                         "tables, e.g. genesys.cometd_timeout_ms=5000); overrides a measure's own settings")
    ap.add_argument("--profile", metavar="DIR",
                    help="sample every services87 server of the run with py-spy; collapsed stacks and a summary "
                         "per server in DIR (<measure>.stacks, <measure>.profile.txt)")
    args = ap.parse_args(argv)
    if args.profile:
        lib.PROFILE_DIR = Path(args.profile).resolve()
    try:
        lib.SERVER_ENV.update(lib.settings_env(args.set))
    except Exception as exc:  # ValueError, services87.config.ConfigError
        ap.error(str(exc))
    return args


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--scaling" in argv:
        import scaling

        return scaling.main([a for a in argv if a != "--scaling"])
    args = parse_args(argv)
    started = time.time()
    only = set((args.only or "soap,rest,bayeux,import").split(","))
    lib.ensure_tool("wrk", "wrk")
    if args.quick:
        sizes, seconds, fan, import_rows = [20_000], 5, (1000, 2, 10), 20_000
        fan_max = (1000, 500, 200)
        push = (1000, 10.0, 50)
    else:
        sizes, seconds, fan, import_rows = [100_000, 1_000_000], 10, (1000, 2, 30), 200_000
        fan_max = (1000, 500, 500)
        push = (1000, 10.0, 200)
    results: list[tuple[str, list[Measure]]] = []
    with tempfile.TemporaryDirectory(prefix="services87-bench-") as tmp:
        workdir = Path(tmp)
        for n in sizes:
            label = f"{n:,}"
            ms: list[Measure] = []
            db = demo_db(workdir, n, Path(args.cache_dir))
            if "soap" in only:
                log(f"SOAP at {label} requests ...")
                ms += soap_measures(workdir, db, seconds, label)
            if "rest" in only:
                log(f"REST and Genesys at {label} requests ...")
                ms += rest_and_genesys(workdir, db, seconds, label)
            for m in ms:
                print(m.line(), flush=True)
            results.append((f"{label} requests", ms))
        if "bayeux" in only:
            log("Bayeux fan-out: services87 vs faye ...")
            m = fanout(workdir, *fan)
            print(m.line(), flush=True)
            log("Bayeux fan-out, saturated: services87 vs faye ...")
            m2 = fanout(workdir, *fan_max, name="bayeux-fanout-max")
            print(m2.line(), flush=True)
            results.append((f"{fan[0]} clients", [m, m2]))
        if "bayeux" in only or "push" in only:
            log(f"push latency: {push[0]} subscribers, {push[1]:g} events/s ...")
            m = push_latency(workdir, demo_db(workdir, sizes[0], Path(args.cache_dir)), *push)
            print(m.line(), flush=True)
            log(f"push latency over WebSocket: {push[0]} subscribers, {push[1]:g} events/s ...")
            m_ws = push_latency(workdir, demo_db(workdir, sizes[0], Path(args.cache_dir)), *push, transport="websocket")
            print(m_ws.line(), flush=True)
            results.append((f"{push[0]} subscribers", [m, m_ws]))
        if "import" in only:
            log(f"import of {import_rows:,} rows ...")
            m = import_measure(workdir, import_rows)
            print(m.line(), flush=True)
            results.append((f"{import_rows:,} rows", [m]))
    if not args.no_write:
        write_report(results, args, started)
        log("wrote docs/performance.md and docs/performance.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
