"""``services87 serve | demo | import | users | stats``."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

from services87 import __version__
from services87.config import ConfigError, Settings
from services87.engine.model import ALL_PANELS, EngineError, StatContext


def db_url(value: str | None) -> str | None:
    """Accept a SQLAlchemy URL or a plain file path (taken as SQLite)."""
    if not value:
        return None
    if "://" in value:
        return value
    return "sqlite:///" + str(Path(value).expanduser().resolve())


def load_settings(args) -> Settings:
    return apply_runtime(Settings.load(getattr(args, "config", None), db_url=db_url(getattr(args, "db", None))))


def apply_runtime(settings: Settings) -> Settings:
    """Process-wide effects of settings (the password hashing profile)."""
    from services87.auth import passwords

    passwords.configure(settings.password_hash_profile)
    return settings


def open_store(settings: Settings):
    from services87.engine.store import BusinessCalendar, Store

    store = Store(settings.db_url, BusinessCalendar.from_settings(settings.business_hours), pool_size=settings.db_threads)
    store.migrate()
    return store


def _progress(total: int | None, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="rows", disable=not sys.stderr.isatty() and not os.environ.get("SERVICES87_PROGRESS"))


# --------------------------------------------------------------------------- serve
def cmd_serve(args) -> int:
    overrides = {"db_url": db_url(args.db)}
    if args.host:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    settings = apply_runtime(Settings.load(args.config, **overrides))
    logging.basicConfig(level=getattr(logging, settings.log_level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from twisted.internet import reactor

    from services87.server import Services87Server, log_exit_reasons

    worker_fd = getattr(args, "worker_fd", None)
    if args.workers > 1 and worker_fd is None:
        from services87 import workers

        workers.check_store(settings.db_url, args.workers)  # refuse before touching the database
    store = open_store(settings)
    if args.demo and store.count_requests() == 0 and worker_fd is None:
        from services87.engine import demo

        logging.getLogger("services87").info("filling an empty database with %d demo requests", args.demo_requests)
        demo.generate(store, n_requests=args.demo_requests)
    if args.workers > 1 and worker_fd is None:
        from services87 import workers

        store.close()
        return workers.run_parent(args, settings)  # binds the port, runs and supervises the worker processes
    hs = Services87Server(settings, reactor=reactor, store=store)
    hs.options = vars(args)
    if settings.debug_blocking_ms > 0:
        from services87 import debug

        debug.install(hs, settings.debug_blocking_ms)
    if worker_fd is not None:
        from services87 import workers

        port = workers.run_worker(hs, worker_fd, args.worker_index)
    else:
        port = hs.listen(settings.host, settings.port)
    if args.simulate:
        from services87.genesys.simulator import InProcessSimulator

        g = settings.genesys
        InProcessSimulator(hs, g.simulate_interval_ms / 1000.0, g.simulate_max_events).start()
    actual = port.getHost().port
    if args.port_file and worker_fd is None:
        tmp = Path(args.port_file + ".tmp")
        tmp.write_text(str(actual))
        tmp.replace(args.port_file)
    print(f"services87 {__version__} listening on http://{settings.host}:{actual}/ (db {settings.db_url})", flush=True)
    log_exit_reasons(reactor)
    reactor.run()  # Twisted's own SIGINT/SIGTERM handlers stop it gracefully
    return 0


# --------------------------------------------------------------------------- demo
def cmd_demo(args) -> int:
    from services87.engine import demo

    settings = load_settings(args)
    store = open_store(settings)
    bar = _progress(args.requests, "demo")
    last = [0]

    def progress(done):
        bar.update(done - last[0])
        last[0] = done

    demo.generate(store, n_requests=args.requests, seed=args.seed, progress=progress)
    bar.close()
    print(f"{store.count_requests()} requests in {settings.db_url}")
    return 0


# --------------------------------------------------------------------------- import
def cmd_import(args) -> int:
    from services87.engine import importer

    settings = load_settings(args)
    store = open_store(settings)
    report = importer.import_file(store, args.file, fmt=args.format, skip_bad=args.skip_bad, batch_size=args.batch,
                                  progress=_progress(None, "import"))
    for err in report.errors:
        print(f"{args.file}:{err.line}: {err.reason}", file=sys.stderr)
    print(report.summary())
    return 0 if report.ok else 1


# --------------------------------------------------------------------------- users
def cmd_users(args) -> int:
    from services87.auth.passwords import hash_password

    store = open_store(load_settings(args))
    if args.users_cmd == "list":
        groups = store.reference()["groups"]
        for u in store.list_users():
            print(f"{u.id:4d}  {u.login:16s} {u.full_name:28s} {'active' if u.active else 'inactive':8s} "
                  f"{u.time_zone or '-':20s} {u.language or '-':3s} {','.join(groups[g] for g in u.group_ids)}")
        return 0
    password = _read_password(args)
    if args.users_cmd == "add":
        group_ids = []
        for name in filter(None, (args.groups or "").split(",")):
            group_ids.append(store.ensure_group(name.strip()))
        uid = store.add_user(args.login, args.name or args.login, args.email or "", hash_password(password),
                             args.tz, args.lang, group_ids)
        print(f"added user {args.login} (id {uid})")
    else:
        user = store.find_user(args.login)
        if user is None:
            print(f"no such user: {args.login}", file=sys.stderr)
            return 1
        store.set_password_hash(user.id, hash_password(password))
        from services87.engine.store import TicketStore

        TicketStore(store).revoke_user(user.id)
        print(f"password changed for {args.login}; existing tickets revoked")
    return 0


def _read_password(args) -> str:
    if args.password_env:
        value = os.environ.get(args.password_env)
        if not value:
            raise SystemExit(f"environment variable {args.password_env} is empty")
        return value
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat: "):
        raise SystemExit("passwords differ")
    return first


# --------------------------------------------------------------------------- stats
def cmd_stats(args) -> int:
    from services87.engine.engine import StatisticsEngine

    settings = load_settings(args)
    store = open_store(settings)
    user = None
    if args.user:
        user = store.find_user(args.user)
        if user is None:
            print(f"no such user: {args.user}", file=sys.stderr)
            return 1
    panels = list(ALL_PANELS) if args.panels == ["all"] else args.panels
    now = datetime.fromisoformat(args.now) if args.now else datetime.now(timezone.utc)
    ctx = StatContext(user=user, time_zone=args.tz, language=args.lang, now=now)
    sets = StatisticsEngine(store, settings).compute(ctx, panels)
    if args.format == "json":
        json.dump([s.as_dict() for s in sets], sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        for s in sets:
            print(f"== {s.label or s.panel.wire_name} ==")
            for v in s.values:
                print(f"  {v.label:40s} {v.value:12.2f}  {v.description}")
    return 0


# --------------------------------------------------------------------------- simulate
def cmd_simulate(args) -> int:
    from services87.genesys.simulator import run_http

    settings = load_settings(args)
    store = open_store(settings)
    groups = store.reference()["groups"]
    users = [u for u in store.list_users() if u.active]
    if args.agents:
        wanted = [a.strip() for a in args.agents.split(",") if a.strip()]
        unknown = sorted(set(wanted) - {u.login for u in users})
        if unknown:
            print(f"no such user: {', '.join(unknown)}", file=sys.stderr)
            return 1
        users = [u for u in users if u.login in wanted]
    if not users:
        print("no active users to simulate (run 'services87 demo' or 'users add' first)", file=sys.stderr)
        return 1
    headers = {"x-api-key": args.api_key}
    if args.token:
        headers = {"authorization": "Bearer " + args.token}
    url = args.url or f"http://{settings.host}:{settings.port}"
    n = run_http(url, headers, [u.login for u in users], {u.login: [groups[g] for g in u.group_ids] for u in users},
                 interval=args.interval_ms / 1000.0, max_events=args.events, seconds=args.seconds, seed=args.seed)
    print(f"{n} events accepted by {url}")
    return 0 if n else 1


# --------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="services87", description=__doc__)
    p.add_argument("--version", action="version", version=__version__)
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp):
        sp.add_argument("--db", help="SQLAlchemy URL or SQLite file (default ./services87.db)")
        sp.add_argument("--config", help="TOML configuration file")
        return sp

    s = common(sub.add_parser("serve", help="run the server"))
    s.add_argument("--host", default=None)
    s.add_argument("--port", type=int, default=None)
    s.add_argument("--demo", action="store_true", help="fill an empty database with the demo data set")
    s.add_argument("--demo-requests", type=int, default=5000)
    s.add_argument("--simulate", action="store_true", help="drive live demo traffic through the ingest path")
    s.add_argument("--workers", type=int, default=1,
                   help="worker processes sharing the port (more than 1 needs PostgreSQL; docs/deployment.md)")
    s.add_argument("--worker-fd", type=int, default=None, help=argparse.SUPPRESS)  # internal: inherited socket
    s.add_argument("--worker-index", type=int, default=0, help=argparse.SUPPRESS)
    s.add_argument("--port-file", help="write the bound port to this file (for --port 0)")
    s.set_defaults(func=cmd_serve)

    s = common(sub.add_parser("demo", help="generate deterministic demo data"))
    s.add_argument("--requests", type=int, default=5000)
    s.add_argument("--seed", type=int, default=87)
    s.set_defaults(func=cmd_demo)

    s = common(sub.add_parser("import", help="import requests from CSV or JSON Lines"))
    s.add_argument("file")
    s.add_argument("--format", choices=["csv", "jsonl"], default=None)
    s.add_argument("--skip-bad", action="store_true", help="load the good rows even if some are bad")
    s.add_argument("--batch", type=int, default=None, help="rows per transaction (default 10000)")
    s.set_defaults(func=cmd_import)

    u = sub.add_parser("users", help="manage users")
    usub = u.add_subparsers(dest="users_cmd", required=True)
    ua = common(usub.add_parser("add"))
    ua.add_argument("login")
    ua.add_argument("--name")
    ua.add_argument("--email")
    ua.add_argument("--groups", help="comma-separated group names")
    ua.add_argument("--tz")
    ua.add_argument("--lang")
    ua.add_argument("--password-env", help="read the password from this environment variable")
    ul = common(usub.add_parser("list"))
    up = common(usub.add_parser("passwd"))
    up.add_argument("login")
    up.add_argument("--password-env")
    for sp in (ua, ul, up):
        sp.set_defaults(func=cmd_users)

    s = common(sub.add_parser("simulate", help="send live agent/call/ticket traffic to a running server's ingest API"))
    s.add_argument("--url", help="server base URL (default http://<host>:<port> from the settings)")
    s.add_argument("--api-key", default="demo-api-key", help="x-api-key for /api/ingest (default demo-api-key)")
    s.add_argument("--token", help="a bearer token instead of the API key")
    s.add_argument("--agents", help="comma-separated logins (default: every active user)")
    s.add_argument("--events", type=int, default=200, help="stop after this many accepted events")
    s.add_argument("--seconds", type=float, default=120.0, help="stop after this many seconds")
    s.add_argument("--interval-ms", type=int, default=500)
    s.add_argument("--seed", type=int, default=87)
    s.set_defaults(func=cmd_simulate)

    s = common(sub.add_parser("stats", help="print statistics data sets"))
    s.add_argument("panels", nargs="+", help="panel names or numbers, or 'all'")
    s.add_argument("--user")
    s.add_argument("--tz")
    s.add_argument("--lang")
    s.add_argument("--now", help="ISO timestamp to compute at (default: now)")
    s.add_argument("--format", choices=["json", "table"], default="table")
    s.set_defaults(func=cmd_stats)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, EngineError) as exc:
        print(f"services87: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
