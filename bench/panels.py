"""Benchmark: all 17 status-screen panels for one user, cold and warm, at 1,000,000 requests.

    python bench/panels.py [--requests 1000000] [--db bench-1000000.db] [--runs 50] [--user demo]

Builds the database with the deterministic demo generator (reused when it already holds the requested
number of requests), then measures in the same run:

* baseline: one indexed ``SELECT status_id, COUNT(*) FROM requests GROUP BY status_id`` (its index is dropped
  before the panels are measured);
* cold: a new :class:`StatisticsEngine` (empty cache) computing all 17 panels;
* warm: the same engine computing all 17 panels again (answers from the data-version cache).

and prints p50/p99 of each and their ratios to the baseline. Not a test: nothing asserts on the figures.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from services87.config import Settings  # noqa: E402
from services87 import demo  # noqa: E402
from services87.engine.engine import StatisticsEngine  # noqa: E402
from services87.engine.model import ALL_PANELS, StatContext, StatusScreenPanelType  # noqa: E402
from services87.engine.business_hours import BusinessCalendar
from services87.engine.storage import Store  # noqa: E402


def pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def build(store: Store, n: int) -> float:
    have = store.count_requests()
    if have == n:
        print(f"reusing {store.url}: {n:,} requests")
        return 0.0
    if have:
        raise SystemExit(f"{store.url} holds {have:,} requests, not {n:,}: use another --db")
    from tqdm import tqdm

    bar = tqdm(total=n, desc="build", unit="rows", disable=not sys.stderr.isatty() and not os.environ.get("SERVICES87_PROGRESS"))
    last = [0]

    def progress(done: int) -> None:
        bar.update(done - last[0])
        last[0] = done

    t0 = time.perf_counter()
    demo.generate(store, n_requests=n, progress=progress, batch=10000)
    bar.close()
    took = time.perf_counter() - t0
    print(f"built {n:,} requests in {took:.1f} s ({n / took:,.0f} requests/s)")
    return took


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--db", help="SQLite file or SQLAlchemy URL (default bench-<N>.db in the current directory)")
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--user", default="demo")
    args = ap.parse_args(argv)
    url = args.db or f"bench-{args.requests}.db"
    if "://" not in url:
        url = "sqlite:///" + str(Path(url).resolve())
    settings = Settings.load(env={}, db_url=url)
    store = Store(url, BusinessCalendar.from_settings(settings.business_hours))
    store.migrate()
    build(store, args.requests)
    user = store.find_user(args.user)
    if user is None:
        raise SystemExit(f"no user {args.user!r}")
    ctx = StatContext(user=user)
    panels = [p for p in ALL_PANELS if p != StatusScreenPanelType.None_]  # the 17 real panels
    assert len(panels) == 17

    def timed(fn) -> float:
        t0 = time.perf_counter()
        fn()
        return (time.perf_counter() - t0) * 1000.0

    baseline_sql = sa.text("SELECT status_id, COUNT(*) FROM requests GROUP BY status_id")

    def baseline():
        with store.engine.connect() as c:
            c.execute(baseline_sql).all()

    # The baseline's index exists only while the baseline is measured: the panels run on the product's own
    # indexes (an extra index on requests.status_id would also serve the product's queries and flatter them).
    with store.engine.begin() as c:
        c.execute(sa.text("CREATE INDEX IF NOT EXISTS bench_ix_requests_status ON requests (status_id)"))
    for _ in range(3):  # warm the page cache and connection pool
        baseline()
    base = [timed(baseline) for _ in range(args.runs)]
    with store.engine.begin() as c:
        c.execute(sa.text("DROP INDEX IF EXISTS bench_ix_requests_status"))
    for _ in range(3):
        StatisticsEngine(store, settings).compute(ctx, panels)
    cold, warm = [], []
    for _ in range(args.runs):
        engine = StatisticsEngine(store, settings)
        cold.append(timed(lambda: engine.compute(ctx, panels)))
        warm.append(timed(lambda: engine.compute(ctx, panels)))
    sets = engine.compute(ctx, panels)
    open_total = sum(v.value for v in sets[panels.index(StatusScreenPanelType.OpenRequestsPerStatus)].values)

    b50, b99 = pct(base, 0.5), pct(base, 0.99)
    print(f"\n{args.requests:,} requests ({int(open_total):,} open), user {args.user}, {args.runs} runs, "
          f"{store.engine.dialect.name}")
    print(f"{'':34s}{'p50 ms':>10s}{'p99 ms':>10s}{'p50/base':>10s}{'p99/base':>10s}")
    print(f"{'baseline: COUNT(*) GROUP BY':34s}{b50:10.2f}{b99:10.2f}{1:10.2f}{1:10.2f}")
    for name, xs in (("all 17 panels, cold (new engine)", cold), ("all 17 panels, warm (cached)", warm)):
        p50, p99 = pct(xs, 0.5), pct(xs, 0.99)
        print(f"{name:34s}{p50:10.2f}{p99:10.2f}{p50 / b50:10.2f}{p99 / b99:10.2f}")
    print(f"target: all 17 panels <= 50 ms p99 -> cold {'met' if pct(cold, 0.99) <= 50 else 'MISSED'}, "
          f"warm {'met' if pct(warm, 0.99) <= 50 else 'MISSED'}")
    store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
