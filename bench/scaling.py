"""``bench/run --scaling``: how cost grows with data, processes and push clients.

    bench/run --scaling [--quick] [--only panels,workers,longpoll] [--sizes 10000,100000,1000000,10000000]
                        [--build-minutes 40] [--pg URL] [--no-write]

Three series, each bounded in count and time, on loopback only:

* ``panels``: all 17 panels for one user, cold (a new engine: nothing cached) and warm (the same engine again),
  p50/p99 over ``--runs`` runs, at every size of ``--sizes`` demo requests, beside a baseline whose cost does
  grow with the data (``SELECT status_id, COUNT(*) FROM requests GROUP BY status_id``). Demo databases are
  cached in .bench-cache/ (as bench/run does); a size whose database is not there is built, unless building
  would not finish within ``--build-minutes`` (estimated from the sizes built in this run): then it is left out
  and the report says so.
* ``workers``: ``services87 serve --workers 1`` and ``--workers 2`` on PostgreSQL (``--pg``, else
  ``$SERVICES87_TEST_PG_ADMIN``, else ``scripts/pg-start``): SOAP GetStatistics warm (the same request) and
  cold (every request another time zone, response cache off) with ``wrk -t1 -c16``, and Genesys CometD push
  (bench/faye/genesysload.js: long-polling clients, each with a statistics subscription, fed by the ingest
  API), delivered updates/s and ingest→client latency.
* ``longpoll``: services87's Bayeux server (bench/bayeux_server.py, as in ``bayeux-fanout``) with 100, 1,000 and
  5,000 long-polling clients: delivered msg/s, latency, and the server's memory per session (RSS once every
  client polls, minus RSS before the first handshake, divided by the clients).

Writes the figures between the ``scaling results`` markers of docs/performance.md and the plot
docs/scaling.png (``--no-write``: neither). Nothing is asserted: the bench measures, the reader judges.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import requests
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lib  # noqa: E402  (bench/lib.py also puts the checkout first on sys.path)
from main import all_zones, ensure_faye  # noqa: E402

from services87.config import Settings  # noqa: E402
from services87.engine.business_hours import BusinessCalendar  # noqa: E402
from services87.engine.engine import StatisticsEngine  # noqa: E402
from services87.engine.model import ALL_PANELS, StatContext, StatusScreenPanelType  # noqa: E402
from services87.engine.storage import Store  # noqa: E402

ROOT = lib.ROOT
SOAP_PATH = "/Remote/Services87/CustomerService.svc"
XML = "text/xml; charset=utf-8"
START = "<!-- scaling results: written by bench/run --scaling; edit bench/scaling.py, not this section -->"
END = "<!-- /scaling results -->"


def log(msg: str) -> None:
    print(f"[scaling {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def fmt(v) -> str:
    return f"{v:.0f}" if isinstance(v, float) and abs(v) >= 100 else f"{v:.2f}" if isinstance(v, float) else str(v)


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants (kB), from /proc."""
    total = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


# --------------------------------------------------------------------------- panels against data size
def cached_db(n: int, cache_dir: Path, budget_s: float) -> Path | None:
    """``.bench-cache/demo-<n>.db`` (the file bench/run uses), built when missing and it fits ``budget_s``."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"demo-{n}.db"
    if path.exists():
        return path
    tmp = path.with_suffix(".tmp")
    for p in cache_dir.glob(tmp.name + "*"):
        p.unlink()
    log(f"building {n:,} demo requests (at most {budget_s / 60:.0f} min) ...")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVICES87_")}
    try:
        subprocess.run([lib.PY, "-m", "services87", "demo", "--requests", str(n), "--db", str(tmp)], check=True,
                       cwd=cache_dir, stdout=subprocess.DEVNULL, env=env, timeout=budget_s)
    except subprocess.TimeoutExpired:
        log(f"{n:,}: not built within {budget_s / 60:.0f} min")
        for p in cache_dir.glob(tmp.name + "*"):
            p.unlink()
        return None
    tmp.replace(path)
    return path


def panels_at(path: Path, runs: int) -> dict:
    url = "sqlite:///" + str(path)
    settings = Settings.load(env={}, db_url=url)
    store = Store(url, BusinessCalendar.from_settings(settings.business_hours))
    try:
        store.migrate()  # a cached database built before a schema change is measured on the current schema
        ctx = StatContext(user=store.find_user("demo"))
        panels = [p for p in ALL_PANELS if p != StatusScreenPanelType.None_]
        group_by = sa.text("SELECT status_id, COUNT(*) FROM requests GROUP BY status_id")

        def timed(fn) -> float:
            t0 = time.perf_counter()
            fn()
            return (time.perf_counter() - t0) * 1000.0

        def baseline():
            with store.engine.connect() as c:
                c.execute(group_by).all()

        baseline()  # page cache and pool alike for everyone
        StatisticsEngine(store, settings).compute(ctx, panels)
        base, cold, warm = [], [], []
        for i in range(runs):
            if i < max(3, runs // 4) or sum(base) < 20_000:  # the baseline grows with the data: bounded
                base.append(timed(baseline))
            engine = StatisticsEngine(store, settings)
            cold.append(timed(lambda e=engine: e.compute(ctx, panels)))
            warm.append(timed(lambda e=engine: e.compute(ctx, panels)))
        per_panel = {}  # each panel alone, cold: which of them grow with the data
        for panel in panels:
            per_panel[panel.name] = pct([timed(lambda p=panel: StatisticsEngine(store, settings).compute(ctx, [p]))
                                         for _ in range(3)], 0.5)
        return {"requests": store.count_requests(), "runs": runs, "db_mb": path.stat().st_size / 1e6,
                "cold_panel_ms": per_panel,
                "cold_p50_ms": pct(cold, 0.5), "cold_p99_ms": pct(cold, 0.99),
                "warm_p50_ms": pct(warm, 0.5), "warm_p99_ms": pct(warm, 0.99),
                "base_p50_ms": pct(base, 0.5), "base_runs": len(base)}
    finally:
        store.close()


def panels_series(sizes: list[int], runs: int, cache_dir: Path, build_minutes: float) -> tuple[list[dict], list[str]]:
    out, skipped = [], []
    deadline = time.monotonic() + build_minutes * 60
    rate = None  # requests built per second in this run
    for n in sizes:
        left = deadline - time.monotonic()
        path = cache_dir / f"demo-{n}.db"
        if not path.exists() and rate and n / rate > left:
            skipped.append(f"{n:,} (building would take about {n / rate / 60:.0f} min at {rate:,.0f} requests/s; "
                           f"{max(0, left) / 60:.0f} min of --build-minutes left)")
            log(f"skipping {n:,}: {skipped[-1]}")
            continue
        t0 = time.monotonic()
        built = not path.exists()
        path = cached_db(n, cache_dir, max(60.0, left))
        if path is None:
            skipped.append(f"{n:,} (not built within --build-minutes)")
            continue
        if built:
            rate = n / (time.monotonic() - t0)
        log(f"panels at {n:,} requests ...")
        r = panels_at(path, runs)
        print(f"panels: requests={r['requests']} cold_p50_ms={r['cold_p50_ms']:.2f} cold_p99_ms={r['cold_p99_ms']:.2f} "
              f"warm_p50_ms={r['warm_p50_ms']:.3f} warm_p99_ms={r['warm_p99_ms']:.2f} "
              f"group_by_p50_ms={r['base_p50_ms']:.1f} db_mb={r['db_mb']:.0f}", flush=True)
        out.append(r)
    return out, skipped


# --------------------------------------------------------------------------- workers on PostgreSQL
def pg_admin(given: str | None) -> str:
    if given:
        return given
    if os.environ.get("SERVICES87_TEST_PG_ADMIN"):
        return os.environ["SERVICES87_TEST_PG_ADMIN"]
    log("starting PostgreSQL with scripts/pg-start ...")
    return subprocess.run([str(ROOT / "scripts" / "pg-start")], check=True, capture_output=True, text=True,
                          timeout=600).stdout.strip().splitlines()[-1]


def pg_database(admin: str) -> tuple[str, callable]:
    name = "bench_scaling_" + uuid.uuid4().hex[:10]
    eng = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop():
        with eng.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        eng.dispose()

    return admin.rsplit("/", 1)[0] + "/" + name, drop


def bearer(srv: lib.Proc) -> str:
    r = requests.post(srv.url("/auth/v3/oauth/token"), auth=("demo-client", "demo-secret"), timeout=60,
                      data={"grant_type": "password", "username": "demo", "password": "demo"})
    r.raise_for_status()
    return r.json()["access_token"]


#: Every load generator connects from 127.0.0.1: the per-address connection cap (128 by default, sized for
#: clients behind one NAT) would refuse most long-polling clients of one machine.
PUSH_CONFIG = ("[http]\nmax_connections = 20000\nmax_connections_per_address = 20000\n"
               "[genesys]\ncometd_timeout_ms = 10000\nmax_subscriptions = 20000\n")


def workers_series(workdir: Path, admin: str, demo_requests: int, seconds: float, push: tuple[int, float, int]
                   ) -> list[dict]:
    db, drop = pg_database(admin)
    out = []
    try:
        # the first start migrates and fills the demo data; both worker counts then read the same database
        for workers in (1, 2):
            extra = ("--workers", str(workers)) + (("--demo", "--demo-requests", str(demo_requests))
                                                   if workers == 1 else ())
            row = {"workers": workers}
            srv = lib.serve(workdir, db, name=f"pg-w{workers}", extra=extra, config=PUSH_CONFIG)
            try:
                ticket = lib.soap_login(srv.url("").rstrip("/"))
                body = workdir / f"w{workers}-warm.body"
                body.write_bytes(lib.soap_statistics_body(ticket))
                log(f"workers={workers}: SOAP warm ...")
                r = lib.post(srv.url(SOAP_PATH), [body], XML, seconds=seconds, connections=16, warmup=2.0)
                row.update(warm_req_s=r.rps, warm_p99_ms=r.p99_ms, warm_errors=r.errors)
                log(f"workers={workers}: Genesys CometD push ...")
                row.update({"push_" + k: v for k, v in genesys_push(srv, *push).items()})
            finally:
                srv.stop()
            srv = lib.serve(workdir, db, name=f"pg-w{workers}-cold", extra=("--workers", str(workers)),
                            config="response_cache_size = 0\n")
            try:
                ticket = lib.soap_login(srv.url("").rstrip("/"))
                zones = all_zones()
                random.Random(7).shuffle(zones)
                files = []
                for i, z in enumerate(zones):
                    f = workdir / f"w{workers}-cold-{i}.body"
                    f.write_bytes(lib.soap_statistics_body(ticket, zone=z))
                    files.append(f)
                log(f"workers={workers}: SOAP cold ...")
                r = lib.post(srv.url(SOAP_PATH), files, XML, seconds=seconds, connections=16)
                row.update(cold_req_s=r.rps, cold_p99_ms=r.p99_ms, cold_errors=r.errors)
            finally:
                srv.stop()
            print("workers: " + " ".join(f"{k}={fmt(v)}" for k, v in row.items()), flush=True)
            out.append(row)
    finally:
        drop()
    return out


def genesys_push(srv: lib.Proc, clients: int, rate: float, count: int) -> dict:
    """genesysload.js against a running server; also its memory per session (the server's processes)."""
    before = rss_kb(srv.proc.pid)
    r = run_node([str(ROOT / "bench" / "faye" / "genesysload.js"), srv.url("").rstrip("/"), bearer(srv),
                  str(clients), str(rate), str(count), "30"], srv.proc.pid, timeout=count / rate + 300)
    r["kb_per_session"] = (r.pop("rss_ready_kb") - before) / clients
    return r


def run_node(args: list[str], server_pid: int, timeout: float) -> dict:
    """Runs a load generator; reads the server's RSS when it prints ``ready N``; returns its JSON line."""
    p = subprocess.Popen(["node", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    rss_ready = None
    err = []
    deadline = time.monotonic() + timeout
    try:
        for line in p.stderr:  # ends when the generator exits
            err.append(line)
            if line.startswith("ready ") and rss_ready is None:
                rss_ready = rss_kb(server_pid)
            if time.monotonic() > deadline:
                break
        out, _ = p.communicate(timeout=max(5.0, deadline - time.monotonic()))
    finally:
        if p.poll() is None:
            os.killpg(p.pid, 9)
            p.wait(10)
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    if not lines:
        raise RuntimeError(f"load generator failed: {''.join(err)[-800:]}")
    res = json.loads(lines[-1])
    res["rss_ready_kb"] = rss_ready or 0
    return res


# --------------------------------------------------------------------------- long-polling clients
def longpoll_series(workdir: Path, clients: list[int], rate: float, count: int) -> list[dict]:
    ensure_faye()
    out = []
    for n in clients:
        p = lib.Proc([lib.PY, str(ROOT / "bench" / "bayeux_server.py"), "--port-file", "{port_file}", "--timeout",
                      "5"], workdir, f"longpoll-{n}").wait_port(health="/health")
        try:
            before = rss_kb(p.proc.pid)
            log(f"{n:,} long-polling clients ...")
            r = run_node([str(ROOT / "bench" / "faye" / "loadgen.js"), p.url("").rstrip("/"), str(n), str(rate),
                          str(count), "30"], p.proc.pid, timeout=count / rate + 300)
        finally:
            p.stop()
        row = {"clients": n, "offered_msg_s": n * rate, "msg_s": r["msg_s"], "p50_ms": r["p50_ms"],
               "p99_ms": r["p99_ms"],
               "delivered": r["delivered"], "expected": r["expected"], "errors": r["errors"],
               "first_error": r.get("first_error"),
               "kb_per_session": (r["rss_ready_kb"] - before) / n, "rss_before_mb": before / 1024}
        print("longpoll: " + " ".join(f"{k}={fmt(v)}" for k, v in row.items()), flush=True)
        out.append(row)
    return out


# --------------------------------------------------------------------------- report
def write(res: dict, path_md: Path, path_png: Path) -> None:
    doc = path_md.read_text()
    if START not in doc or END not in doc:
        raise SystemExit(f"{path_md} has no scaling markers ({START!r} ... {END!r})")
    head, rest = doc.split(START, 1)
    tail = rest.split(END, 1)[1]
    path_md.write_text(f"{head}{START}\n{report(res)}\n{END}{tail}")
    plot(res, path_png)


def _n(v, spec: str = ",.0f") -> str:
    return "–" if v is None else format(v, spec)


def _table(columns: list[str], rows) -> list[str]:
    """A Markdown table: the header, its rule, and a line for each row (a list of cell texts)."""
    return ["| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"] + [
        "| " + " | ".join(cells) + " |" for cells in rows]


def report(res: dict) -> str:
    out = []
    for name in ("panels", "workers", "longpoll"):
        c = res.get("conditions", {}).get(name)
        if c:
            out.append(f"* `{name}`: `{c['command']}`, {c['when']}, {c['cpus']} CPUs, load average "
                       f"{c['load_before']} before and {c['load_after']} after, Python {c['python']}, "
                       f"{c['minutes']:.1f} min.")
    out.append("")
    if res.get("panels"):
        out += _table(["demo requests", "all 17 panels cold p50 / p99 ms", "warm p50 / p99 ms",
                       "baseline `COUNT(*) GROUP BY` p50 ms", "database MB"],
                      ([f"{r['requests']:,}", f"{r['cold_p50_ms']:.1f} / {r['cold_p99_ms']:.1f}",
                        f"{r['warm_p50_ms']:.2f} / {r['warm_p99_ms']:.2f}", f"{r['base_p50_ms']:,.1f}",
                        f"{r['db_mb']:,.0f}"] for r in res["panels"]))
        first, last = res["panels"][0], res["panels"][-1]
        grow = last["requests"] / first["requests"]
        out += ["", f"From {first['requests']:,} to {last['requests']:,} requests ({grow:,.0f}×): cold p50 × "
                f"{last['cold_p50_ms'] / first['cold_p50_ms']:.2f}, warm p50 × "
                f"{last['warm_p50_ms'] / first['warm_p50_ms']:.2f}, the baseline × "
                f"{last['base_p50_ms'] / first['base_p50_ms']:.0f}."]
        if first.get("cold_panel_ms") and last.get("cold_panel_ms"):
            growth = sorted(((last["cold_panel_ms"][k] / max(v, 1e-6), k) for k, v in first["cold_panel_ms"].items()
                             if k in last["cold_panel_ms"]), reverse=True)
            out += ["", "Each panel alone, cold, p50 of 3 (ms); growth = the last size ÷ the first:", ""]
            out += _table(["panel", *(f"{r['requests']:,}" for r in res["panels"]), "growth"],
                          ([k, *(f"{r['cold_panel_ms'].get(k, 0):,.1f}" for r in res["panels"]), f"× {g:,.1f}"]
                           for g, k in growth))
        if res.get("skipped"):
            out += ["", "Not measured: " + "; ".join(res["skipped"]) + "."]
        out.append("")
    if res.get("workers"):
        w = {r["workers"]: r for r in res["workers"]}
        out += _table(["`serve --workers` (PostgreSQL)", "SOAP warm req/s (p99 ms)", "SOAP cold req/s (p99 ms)",
                       f"CometD push: updates/s (p50 / p99 ms), {res['push'][0]:,} clients", "memory per push session"],
                      ([str(n), f"{_n(r.get('warm_req_s'))} ({_n(r.get('warm_p99_ms'))})",
                        f"{_n(r.get('cold_req_s'))} ({_n(r.get('cold_p99_ms'))})",
                        f"{_n(r.get('push_msg_s'))} ({_n(r.get('push_p50_ms'))} / {_n(r.get('push_p99_ms'))}), "
                        f"{_n(r.get('push_delivered'))} of {_n(r.get('push_expected'))}"
                        f"{', errors: ' + _n(r.get('push_errors')) if r.get('push_errors') else ''}",
                        f"{_n(r.get('push_kb_per_session'), ',.1f')} kB"] for n, r in sorted(w.items())))
        errs = [f"{r['workers']} worker(s): {r['push_first_error']}" for r in w.values() if r.get("push_first_error")]
        if errs:
            out += ["", "First push error: " + "; ".join(errs)]
        if 1 in w and 2 in w:
            def ratio(k):
                a, b = w[2].get(k), w[1].get(k)
                return f"{a / b:.2f}" if a is not None and b else "–"

            out += ["", f"2 workers ÷ 1 worker: SOAP warm {ratio('warm_req_s')}, SOAP cold {ratio('cold_req_s')}, "
                    f"push {ratio('push_msg_s')} (updates/s)."]
        out.append("")
    if res.get("longpoll"):
        out += _table(["long-polling clients (bench/bayeux_server.py)", "offered msg/s", "delivered msg/s",
                       "p50 / p99 ms", "delivered", "memory per session"],
                      ([f"{r['clients']:,}", f"{r['offered_msg_s']:,.0f}", _n(r["msg_s"]),
                        f"{_n(r['p50_ms'])} / {_n(r['p99_ms'])}",
                        f"{r['delivered']:,} of {r['expected']:,}"
                        f"{', errors: ' + _n(r['errors']) if r['errors'] else ''}",
                        f"{r['kb_per_session']:,.1f} kB"] for r in res["longpoll"]))
        errs = [f"{r['clients']:,} clients: {r['first_error']}" for r in res["longpoll"] if r.get("first_error")]
        if errs:
            out += ["", "First error: " + "; ".join(errs)]
        out.append("")
    if res.get("failed"):
        out += ["Failed: " + "; ".join(res["failed"]), ""]
    out += ["![how cost grows](scaling.png)", "", "Raw figures:", "", "```json",
            json.dumps({k: v for k, v in res.items() if k != "conditions"}, indent=None, default=str), "```"]
    return "\n".join(out)


def plot(res: dict, path: Path) -> None:
    import matplotlib  # noqa: PLC0415  (only when plotting: --no-write runs need no matplotlib)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415  (after use("Agg"))

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.3))
    ax = axes[0]
    if res.get("panels"):
        xs = [r["requests"] for r in res["panels"]]
        for key, label, style in (("cold_p50_ms", "17 panels, cold p50", "o-"),
                                  ("warm_p50_ms", "17 panels, warm p50", "s-"),
                                  ("base_p50_ms", "baseline COUNT(*) GROUP BY p50", "^--")):
            ax.plot(xs, [r[key] for r in res["panels"]], style, label=label)
        per = [r.get("cold_panel_ms") for r in res["panels"]]
        if all(per):
            growth = sorted(per[0], key=lambda k: per[-1].get(k, 0) / max(per[0][k], 1e-6), reverse=True)
            for k in growth[:2]:  # the two panels that grow most, alone, and the other 15 together
                ax.plot(xs, [d.get(k, 0) for d in per], "x:", label=f"{k} alone, cold")
            ax.plot(xs, [sum(v for k, v in d.items() if k not in growth[:2]) for d in per], "d-.",
                    label="the other 15 panels, cold (sum)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("demo requests in the database")
        ax.set_ylabel("ms (log)")
        ax.set_title("Panels against data size")
        ax.legend(fontsize=7)
    ax = axes[1]
    if res.get("workers"):
        w = sorted(res["workers"], key=lambda r: r["workers"])
        groups = [("SOAP warm", "warm_req_s"), ("SOAP cold", "cold_req_s"), ("CometD push", "push_msg_s")]
        for i, r in enumerate(w):
            vals = [(r.get(k) or 0) / w[0][k] if w[0].get(k) else 0 for _, k in groups]
            xs = [g + (i - 0.5) * 0.38 for g in range(len(groups))]
            ax.bar(xs, vals, width=0.36, label=f"--workers {r['workers']}")
            for x, v, (_, k) in zip(xs, vals, groups):
                ax.text(x, v, f"{r.get(k) or 0:,.0f}/s", ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(groups)), [g for g, _ in groups])
        ax.set_ylabel("throughput ÷ 1 worker (labels: absolute)")
        ax.set_title(f"serve --workers on PostgreSQL ({res['conditions']['workers']['cpus']} CPUs)")
        ax.legend(fontsize=7)
    ax = axes[2]
    if res.get("longpoll"):
        xs = [r["clients"] for r in res["longpoll"]]
        ax.plot(xs, [r["msg_s"] for r in res["longpoll"]], "o-", label="delivered msg/s")
        ax.plot(xs, [r["offered_msg_s"] for r in res["longpoll"]], ":", color="grey", label="offered msg/s")
        ax.set_yscale("log")
        ax.set_xscale("log")
        ax.set_xlabel("long-polling clients")
        ax.set_ylabel("msg/s")
        ax2 = ax.twinx()
        p99 = [r["p99_ms"] if r["p99_ms"] is not None else float("nan") for r in res["longpoll"]]
        ax2.plot(xs, p99, "s--", color="#d64", label="p99 ms")
        ax2.set_ylabel("p99 ms", color="#d64")
        for r in res["longpoll"]:
            ax.annotate(f"{r['kb_per_session']:.0f} kB/session", (r["clients"], r["msg_s"]), fontsize=7,
                        textcoords="offset points", xytext=(0, 6), ha="center")
        ax.set_title("Bayeux fan-out against clients")
        ax.legend(loc="upper left", fontsize=7)
    when = sorted({c["when"][:10] for c in res["conditions"].values()})
    loads = sorted({c["load_before"] for c in res["conditions"].values()})
    fig.suptitle(f"services87: how cost grows ({', '.join(when)}, {os.cpu_count()} CPUs shared, load average "
                 f"{loads[0]}–{loads[-1]}; docs/performance.md)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# --------------------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench/run --scaling", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="10⁴ and 10⁵ requests, 100 and 1,000 clients, short runs")
    ap.add_argument("--only", help="comma-separated series (panels,workers,longpoll)")
    ap.add_argument("--sizes", help="demo request counts of the panels series (default 10⁴,10⁵,10⁶,10⁷)")
    ap.add_argument("--runs", type=int, default=20, help="runs per size of the panels series")
    ap.add_argument("--build-minutes", type=float, default=40.0,
                    help="at most this long building demo databases that are not cached yet")
    ap.add_argument("--clients", help="long-polling client counts (default 100,1000,5000)")
    ap.add_argument("--pg", help="PostgreSQL admin URL (default $SERVICES87_TEST_PG_ADMIN, else scripts/pg-start)")
    ap.add_argument("--cache-dir", default=str(ROOT / ".bench-cache"))
    ap.add_argument("--no-write", action="store_true", help="do not write docs/performance.md and docs/scaling.png")
    ap.add_argument("--from-json", metavar="FILE",
                    help="measure nothing: write the report and plot of a saved run (every run saves its figures "
                         "to .bench-cache/scaling-last.json)")
    ap.add_argument("--fresh", action="store_true",
                    help="forget the last run's figures (by default a run of some series keeps the others)")
    args = ap.parse_args(argv)
    if args.from_json:
        write(json.loads(Path(args.from_json).read_text()), ROOT / "docs" / "performance.md",
              ROOT / "docs" / "scaling.png")
        return 0
    only = set((args.only or "panels,workers,longpoll").split(","))
    if args.quick:
        sizes, clients, seconds, push, lp = [10_000, 100_000], [100, 1000], 4, (100, 2, 6), (2, 6)
    else:
        sizes, clients, seconds, push, lp = [10**4, 10**5, 10**6, 10**7], [100, 1000, 5000], 8, (200, 2, 20), (2, 10)
    if args.sizes:
        sizes = [int(float(s)) for s in args.sizes.split(",")]
    if args.clients:
        clients = [int(c) for c in args.clients.split(",")]
    saved = Path(args.cache_dir) / "scaling-last.json"
    # a run of some series keeps the other series of the last run (each series names its own conditions)
    res: dict = {"conditions": {}}
    if saved.exists() and not args.fresh:
        res = json.loads(saved.read_text())
    res.pop("failed", None)
    command = "bench/run --scaling " + " ".join(argv if argv is not None else sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="services87-scaling-") as tmp:
        workdir = Path(tmp)
        series = {
            "panels": lambda: panels_series(sizes, args.runs, Path(args.cache_dir), args.build_minutes),
            "workers": lambda: workers_series(workdir, pg_admin(args.pg), 10_000, seconds, push),
            "longpoll": lambda: longpoll_series(workdir, clients, *lp),
        }
        for name, run in series.items():
            if name not in only:
                continue
            started = time.time()
            cond = {"command": command.strip(), "when": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
                    "cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_before": f"{os.getloadavg()[0]:.1f}"}
            try:
                if name == "panels":
                    res["panels"], res["skipped"] = run()
                else:
                    res[name] = run()
                    if name == "workers":
                        res["push"] = push
            except Exception as exc:  # one series failing does not lose the others
                log(f"{name}: {exc}")
                res.setdefault("failed", []).append(f"{name}: {str(exc)[:300]}")
                continue
            cond.update(load_after=f"{os.getloadavg()[0]:.1f}", minutes=(time.time() - started) / 60)
            res["conditions"][name] = cond
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps(res, indent=1))
    log(f"figures saved to {saved}")
    if not args.no_write:
        write(res, ROOT / "docs" / "performance.md", ROOT / "docs" / "scaling.png")
        log("wrote docs/performance.md (How cost grows) and docs/scaling.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
