"""The services87 command line: serve, demo, import, users, simulate and stats.

Each subcommand imports what only it needs (the server side with Twisted and Spyne, the importer, tqdm ...)
inside its function, so ``services87 users`` or ``services87 stats`` start without loading the server;
those imports are marked ``noqa: PLC0415``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
import textwrap
from datetime import datetime, UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services87 import __version__
from services87.config import ConfigError, Settings
from services87.engine.model import ALL_PANELS, EngineError, StatContext, StatusScreenPanelType as P, StoreUnavailable
from services87.i18n import SUPPORTED
from services87.engine.storage.urls import describe_db, sqlite_path

if TYPE_CHECKING:
    from services87.server import Services87Server


class CliError(Exception):
    """Stops the command with one line on stderr (``services87: <message>``) and an exit code:
    2 for usage, configuration and database-location mistakes, 1 for everything else."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def _n(count: int, singular: str, plural: str | None = None) -> str:
    """``1 request``, ``2 requests``."""
    return f"{count} {singular if count == 1 else plural or singular + 's'}"


# --------------------------------------------------------------------------- argument types
def port_number(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535, 0 = any free port)") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a TCP port (0-65535, 0 = any free port)")
    return port


def at_least(minimum: int):
    """An argument type: a whole number not below ``minimum``."""
    def number(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is below the least allowed, {minimum}")
        return value

    number.__name__ = f"number of at least {minimum}"
    return number


def timestamp(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 timestamp; write e.g. 2026-03-30T12:00:00+00:00 (UTC without an offset)"
        ) from None


def time_zone(text: str) -> str:
    from services87.engine.timebuckets import resolve_zone  # noqa: PLC0415

    try:
        resolve_zone(text)
    except EngineError as exc:
        raise argparse.ArgumentTypeError(f"{exc} (use an IANA name such as Europe/Oslo)") from None
    return text


# --------------------------------------------------------------------------- settings and the database
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
    from services87.auth import passwords  # noqa: PLC0415

    passwords.configure(settings.password_hash_profile)
    return settings


_URL_HINT = "give a file path, sqlite:///FILE or postgresql+psycopg://USER:PASSWORD@HOST/DATABASE"


def check_database(url: str, create: bool) -> None:
    """Refuse, in one line, a database that cannot work: a URL of an unknown kind, a missing driver, a SQLite
    file that is not one or whose directory is missing. A missing SQLite file is created only when
    ``create`` (commands that write), and the user is told where; read-only commands refuse."""
    from sqlalchemy.engine import make_url  # noqa: PLC0415
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError  # noqa: PLC0415

    try:
        u = make_url(url)
    except ArgumentError:
        raise CliError(f"not a database URL: {url!r}; {_URL_HINT}", 2) from None
    try:
        dialect = u.get_dialect()
    except NoSuchModuleError:
        raise CliError(f"unknown kind of database {u.drivername!r} in {describe_db(url)}; {_URL_HINT}", 2) from None
    backend = u.get_backend_name()
    if backend != "sqlite":
        try:
            dialect.import_dbapi()
        except ImportError as exc:
            if backend == "postgresql":
                also = "; write the URL as postgresql+psycopg://..." if exc.name == "psycopg2" else ""
                raise CliError(f"{describe_db(url)} needs the PostgreSQL driver ({exc.name or 'psycopg'}), which is "
                               f"not installed: pip install 'services87[postgres]'{also}", 2) from None
            raise CliError(f"{describe_db(url)} needs the Python module {exc.name}, which is not installed",
                           2) from None
        return
    path = sqlite_path(url)
    if path is None:
        return
    if path.is_dir():
        raise CliError(f"{path} is a directory, not a database file; give a file name such as "
                       f"--db {path / 'services87.db'}", 2)
    if path.exists():
        try:
            with open(path, "rb") as fh:
                head = fh.read(16)
        except OSError as exc:
            raise CliError(f"cannot read the database {path}: {exc.strerror or exc}", 2) from None
        if head and head != b"SQLite format 3\x00":
            raise CliError(f"{path} is not a SQLite database; choose another file with --db", 2)
        return
    if not create:
        raise CliError(f"no database at {path}; create one with 'services87 demo' (demo data) or 'services87 import', "
                       "or point --db at an existing one", 2)
    if not path.parent.is_dir():
        raise CliError(f"cannot create the database {path}: the directory {path.parent} does not exist; "
                       "create it or choose another --db", 2)
    print(f"creating a new database at {path}", file=sys.stderr, flush=True)


def open_store(settings: Settings, create: bool = True):
    """The store of ``settings.db_url``, migrated to the newest schema (see :func:`check_database`)."""
    import sqlalchemy.exc  # noqa: PLC0415

    from services87.engine.business_hours import BusinessCalendar  # noqa: PLC0415
    from services87.engine.storage import Store  # noqa: PLC0415

    check_database(settings.db_url, create)
    try:
        store = Store(settings.db_url, BusinessCalendar.from_settings(settings.business_hours),
                      pool_size=settings.db_threads)
        store.migrate()
    except sqlalchemy.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        hint = "" if settings.db_url.startswith("sqlite") else " (is the database server running and reachable?)"
        raise CliError(f"cannot open the database {describe_db(settings.db_url)}: {reason}{hint}") from None
    return store


def _progress(total: int | None, desc: str):
    from tqdm import tqdm  # noqa: PLC0415

    return tqdm(total=total, desc=desc, unit="rows",
                disable=not sys.stderr.isatty() and not os.environ.get("SERVICES87_PROGRESS"))


# --------------------------------------------------------------------------- serve
def cmd_serve(args) -> int:
    overrides: dict[str, Any] = {"db_url": db_url(args.db)}
    if args.host:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    if args.log_format:
        overrides["log_format"] = args.log_format
    if args.listen:
        overrides["listen"] = args.listen
    settings = apply_runtime(Settings.load(args.config, **overrides))
    worker_fd = getattr(args, "worker_fd", None)
    from services87 import logs  # noqa: PLC0415

    logs.setup(settings.log_level, settings.log_format, args.worker_index if worker_fd is not None else None)
    quiet_libraries()
    from twisted.internet import reactor  # noqa: PLC0415

    logs.hold_per_turn(reactor)

    from services87.server import Services87Server, freeze_startup_heap, log_exit_reasons  # noqa: PLC0415

    if args.workers > 1 and worker_fd is None:
        from services87 import workers  # noqa: PLC0415

        check_database(settings.db_url, create=True)
        workers.check_store(settings.db_url, args.workers)  # refuse before touching the database
        if settings.listen:
            raise ConfigError("--listen is for a single process; --workers N listens on --host/--port "
                              "(put TLS on the reverse proxy, see docs/operations.md)")
    store = open_store(settings)
    if args.demo and store.count_requests() == 0 and worker_fd is None:
        from services87 import demo  # noqa: PLC0415

        logging.getLogger("services87").info("filling an empty database with %d demo requests", args.demo_requests)
        demo.generate(store, n_requests=args.demo_requests)
    if args.workers > 1 and worker_fd is None:
        from services87 import workers  # noqa: PLC0415

        store.close()
        return workers.run_parent(args, settings)  # binds the port, runs and supervises the worker processes
    hs = Services87Server(settings, reactor=reactor, store=store,
                          worker=args.worker_index if worker_fd is not None else None)
    where = None
    if worker_fd is not None:
        from services87 import workers  # noqa: PLC0415

        port = workers.run_worker(hs, worker_fd, args.worker_index)
    elif settings.listen:
        ports = _listen_all(hs, reactor, settings.listen)
        port = next((p for p in ports if hasattr(p.getHost(), "port")), None)
        where = ", ".join(_describe(p) for p in ports)
    else:
        port = _listen(hs, settings)
    if args.simulate:
        from services87.genesys.simulator import InProcessSimulator  # noqa: PLC0415

        g = settings.genesys
        InProcessSimulator(hs, g.simulate_interval_ms / 1000.0, g.simulate_max_events).start()
    actual = port.getHost().port if port is not None else 0
    if args.port_file and worker_fd is None and port is not None:
        tmp = Path(args.port_file + ".tmp")
        tmp.write_text(str(actual))
        tmp.replace(args.port_file)
    where = where or f"http://{settings.host}:{actual}/"
    print(f"services87 {__version__} listening on {where} (database {describe_db(settings.db_url)})", flush=True)
    # typed as the common reactor interfaces; every installed reactor provides IReactorThreads
    _ignore_sighup(lambda: reactor.callFromThread(_log_sighup))  # type: ignore[attr-defined]
    log_exit_reasons(reactor)
    freeze_startup_heap()
    reactor.run()  # Twisted's own SIGINT/SIGTERM handlers stop it gracefully
    # the store threads have stopped: closing their connections checkpoints SQLite's write-ahead log into the
    # database file and removes it, so a stopped server leaves one file to copy or back up
    store.close()
    return 0


def _log_sighup() -> None:
    logging.getLogger("services87").warning("SIGHUP ignored: services87 has no reload; restart it to apply "
                                            "changed settings (docs/operations.md)")


def _ignore_sighup(then) -> None:
    """SIGHUP would kill the process (Python's default); there is no reload, so it is logged and ignored."""
    import signal  # noqa: PLC0415

    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, lambda signum, frame: then())


def _listen_all(hs: Services87Server, reactor, descriptions: list[str]) -> list:
    """Listen on every endpoint string before the reactor runs; a bad string or a busy port is a ConfigError."""
    result: list = []
    failure: list = []
    d = hs.listen_endpoints(descriptions)
    d.addCallbacks(result.extend, failure.append)
    if failure:  # endpoints listen synchronously (tcp, ssl, unix); their errors are ours to report
        exc = failure[0].value
        if hasattr(exc, "subFailure"):  # defer.FirstError from gatherResults
            exc = exc.subFailure.value
        if isinstance(exc, ValueError):  # the endpoint string itself (it names the one at fault)
            raise ConfigError(f"cannot listen on {exc}; see 'services87 serve --help' (--listen)")
        raise ConfigError(f"cannot listen on {' '.join(descriptions)}: {exc}")
    return result


def _describe(port) -> str:
    host = port.getHost()
    if hasattr(host, "port"):
        scheme = "https" if "TLS" in type(getattr(port, "factory", None)).__name__ else "http"
        return f"{scheme}://{host.host}:{host.port}/"
    name = getattr(host, "name", host)
    return "unix:" + (name.decode() if isinstance(name, bytes) else str(name))


#: Libraries whose INFO lines at start-up (Alembic setting up plugins and running migrations, Spyne
#: initializing each SOAP application, Twisted's "Site starting on PORT") tell an operator nothing; their
#: warnings and errors (Twisted's unhandled errors among them) still show.
QUIET_LOGGERS = ("alembic", "spyne", "twisted")


def quiet_libraries() -> None:
    """Raise the chatty libraries' loggers to WARNING, unless the log level is DEBUG."""
    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)


def _listen(hs: Services87Server, settings: Settings):
    from twisted.internet.error import CannotListenError  # noqa: PLC0415

    try:
        return hs.listen(settings.host, settings.port)
    except CannotListenError as exc:
        err = exc.socketError
        reason = getattr(err, "strerror", None) or str(err)
        hint = "another program (another services87?) uses it" if getattr(err, "errno", None) == 98 else reason
        raise CliError(f"cannot listen on {settings.host}:{settings.port}: {hint}; choose another port with "
                       "--port N (--port 0 = any free port)") from None


# --------------------------------------------------------------------------- demo
def cmd_demo(args) -> int:
    from services87 import demo  # noqa: PLC0415

    settings = load_settings(args)
    store = open_store(settings)
    before = store.count_requests()
    bar = _progress(args.requests, "demo")
    last = [0]

    def progress(done):
        bar.update(done - last[0])
        last[0] = done

    demo.generate(store, n_requests=args.requests, seed=args.seed, progress=progress)
    bar.close()
    after = store.count_requests()
    added = after - before
    print(f"wrote {_n(args.requests, 'demo request')} ({added} new, {args.requests - added} replaced) to "
          f"{describe_db(settings.db_url)}, which now holds {_n(after, 'request')}")
    return 0


# --------------------------------------------------------------------------- import
def cmd_import(args) -> int:
    from services87.engine import importer  # noqa: PLC0415

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
    settings = load_settings(args)
    if args.users_cmd == "add" and args.groups and not args.create_groups:
        path = sqlite_path(settings.db_url)
        if path is not None and not path.exists():  # a new database has no groups: refuse before creating it
            names = ", ".join(repr(n.strip()) for n in args.groups.split(",") if n.strip())
            raise CliError(f"unknown group(s) {names}: {path} does not exist yet, so it has no groups; add "
                           f"--create-groups to create them with the database", 2)
    store = open_store(settings, create=args.users_cmd == "add")
    if args.users_cmd == "list":
        groups = store.reference()["groups"]
        for u in store.list_users():
            print(f"{u.id:4d}  {u.login:16s} {u.full_name:28s} {'active' if u.active else 'inactive':8s} "
                  f"{u.time_zone or '-':20s} {u.language or '-':3s} {','.join(groups[g] for g in u.group_ids)}")
        return 0
    if args.users_cmd in ("disable", "enable", "remove", "revoke"):
        return _users_admin(store, args)
    if args.users_cmd == "add":
        return _users_add(store, args)
    return _users_passwd(store, args)


def _users_add(store, args) -> int:
    from services87.auth.passwords import hash_password  # noqa: PLC0415

    names = [n.strip() for n in (args.groups or "").split(",") if n.strip()]
    known = {n: store.lookup_id("group", n) for n in names}
    unknown = [n for n, gid in known.items() if gid is None]
    if unknown and not args.create_groups:
        have = sorted(store.reference()["groups"].values())
        raise CliError(f"unknown group{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} (known: "
                       f"{', '.join(have) or 'none'}); add --create-groups to create "
                       f"{'them' if len(unknown) > 1 else 'it'}", 2)
    if store.find_user(args.login) is not None:
        raise CliError(f"user {args.login!r} already exists; change its password with 'services87 users passwd'", 2)
    password = _read_password(args)
    group_ids = []
    for name in names:
        if known[name] is None:
            known[name] = store.ensure_group(name)
            print(f"created group {name}")
        group_ids.append(known[name])
    uid = store.add_user(args.login, args.name or args.login, args.email or "", hash_password(password),
                         args.tz, args.lang, group_ids)
    print(f"added user {args.login} (id {uid})")
    return 0


def _users_admin(store, args) -> int:
    """disable | enable | remove | revoke: one revocation mechanism in the store ends every credential."""
    user = store.find_user(args.login)
    if user is None:
        raise CliError(f"no such user: {args.login} ('services87 users list' shows them)")
    action = args.users_cmd
    kept = False
    if action == "disable":
        store.set_user_active(user.id, False)
    elif action == "enable":
        store.set_user_active(user.id, True)
    elif action == "remove":
        kept = not store.remove_user(user.id)
    else:
        store.revoke_user_credentials(user.id)
    print(f"{action}: done for {args.login}"
          + ("" if action == "enable" else "; every session, ticket and token ended")
          + ("; kept deactivated without a password (statistics refer to the user)" if kept else ""))
    return 0


def _users_passwd(store, args) -> int:
    from services87.auth.passwords import hash_password  # noqa: PLC0415

    user = store.find_user(args.login)
    if user is None:
        raise CliError(f"no such user: {args.login} ('services87 users list' shows them)")
    store.set_password_hash(user.id, hash_password(_read_password(args)))  # ends every session, ticket and token
    print(f"password changed for {args.login}; every session, ticket and token of theirs ended")
    return 0


PASSWORD_HELP = ("The password comes from --password-env VAR if given, else from the first line of standard input "
                 "when that is not a terminal (printf '%s\\n' \"$PW\" | services87 users ...), else it is asked "
                 "twice at the terminal. It must not be empty.")


def _read_password(args) -> str:
    if args.password_env:
        value = os.environ.get(args.password_env)
        if not value:
            raise CliError(f"the environment variable {args.password_env} is empty or not set; "
                           "put the password in it", 2)
        return value
    if not sys.stdin.isatty():
        value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            raise CliError("no password on standard input: pipe one line "
                           "(printf '%s\\n' \"$PW\" | services87 users ...), "
                           "run it at a terminal, or use --password-env VAR", 2)
        return value
    first = getpass.getpass("Password: ")
    if not first:
        raise CliError("empty password; type one, or use --password-env VAR", 2)
    if first != getpass.getpass("Repeat: "):
        raise CliError("the passwords differ; run the command again", 2)
    return first


# --------------------------------------------------------------------------- stats
#: Units of the values that are not counts (table format); counts print as integers.
UNITS = {P.UserResponseTimePerDay: "min", P.UserReponseTimePerWeek: "min", P.UserResponseTimePerMonth: "min",
         P.Hotlist: "days"}


def _cell(panel: P, index: int, value: float) -> str:
    unit = UNITS.get(panel, "")  # every StatusScreen row is a count (docs/panels.md)
    if unit:
        return f"{value:12.2f} {unit:4s}"
    return f"{round(value):12d}     "


def cmd_stats(args) -> int:
    from services87.engine.engine import StatisticsEngine  # noqa: PLC0415

    settings = load_settings(args)
    store = open_store(settings, create=False)
    user = None
    if args.user:
        user = store.find_user(args.user)
        if user is None:
            raise CliError(f"no such user: {args.user} ('services87 users list' shows them)")
    panels = [p for p in ALL_PANELS if p is not P.None_] if args.panels == ["all"] else args.panels
    now = args.now or datetime.now(UTC)
    ctx = StatContext(user=user, time_zone=args.tz, language=args.lang, now=now)
    sets = StatisticsEngine(store, settings).compute(ctx, panels)
    if args.format == "json":
        json.dump([s.as_dict() for s in sets], sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        for s in sets:
            print(f"== {s.label or s.panel.wire_name} ==")
            for i, v in enumerate(s.values):
                print(f"  {v.label:40s} {_cell(s.panel, i, v.value)} {v.description}".rstrip())
            if not s.values:
                print("  (no values)")
    return 0


# --------------------------------------------------------------------------- simulate
def cmd_simulate(args) -> int:
    from services87.genesys.simulator import run_http  # noqa: PLC0415

    settings = load_settings(args)
    store = open_store(settings, create=False)
    groups = store.reference()["groups"]
    users = [u for u in store.list_users() if u.active]
    if args.agents:
        wanted = [a.strip() for a in args.agents.split(",") if a.strip()]
        unknown = sorted(set(wanted) - {u.login for u in users})
        if unknown:
            raise CliError(f"no such user: {', '.join(unknown)} ('services87 users list' shows them)")
        users = [u for u in users if u.login in wanted]
    if not users:
        raise CliError("no active users to simulate (run 'services87 demo' or 'services87 users add' first)")
    headers = {"x-api-key": args.api_key}
    if args.token:
        headers = {"authorization": "Bearer " + args.token}
    url = args.url or f"http://{settings.host}:{settings.port}"
    try:
        n = run_http(url, headers, [u.login for u in users], {u.login: [groups[g] for g in u.group_ids] for u in users},
                     interval=args.interval_ms / 1000.0, max_events=args.events, seconds=args.seconds, seed=args.seed)
    except OSError as exc:  # urllib's URLError included: nothing listens there, or it went away
        reason = getattr(exc, "reason", None) or exc
        reason = getattr(reason, "strerror", None) or str(reason)
        raise CliError(f"cannot reach {url}: {reason}; is the server running? "
                       "(start it with 'services87 serve', or give its address with --url)") from None
    print(f"{n} events accepted by {url}")
    return 0 if n else 1


# --------------------------------------------------------------------------- main
DESCRIPTION = """\
services87: one customer-service statistics engine behind the SuperOffice Services87 SOAP and REST APIs,
the Genesys Statistics and Workbins APIs and a status page in the browser.

Every command takes --db (the database) and --config (a TOML settings file, see docs/configuration.md).
'services87 COMMAND --help' lists the options of a command."""

EPILOG = """\
first steps:
  services87 serve --demo               serve ./services87.db with demo data on http://127.0.0.1:8087/
                                        (log in as demo / demo); add --port N for another port
  services87 serve --demo --simulate    the same, with live agents, calls and tickets
  services87 stats --user demo all      print every panel for the user demo"""


class Parser(argparse.ArgumentParser):
    """Usage errors as one line (what is wrong, where to read more) and exit code 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see '{self.prog} --help')\n")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's line breaks and appends an option's default unless its help names it."""

    def _get_help_string(self, action):
        text = action.help or ""
        if ("default" not in text and action.option_strings and action.default not in (None, False, argparse.SUPPRESS)
                and action.nargs != 0):
            text += " (default: %(default)s)"
        return text


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="services87", description=DESCRIPTION, epilog=EPILOG, formatter_class=HelpFormatter)
    p.add_argument("--version", action="version", version=__version__)
    sub = p.add_subparsers(dest="command", required=True, title="commands", metavar="COMMAND")

    def command(parent, name, help, description=None):
        text = description or help[0].upper() + help[1:] + "."
        return parent.add_parser(name, help=help, description=textwrap.fill(text, 100), formatter_class=HelpFormatter)

    def common(sp):
        sp.add_argument("--db", metavar="URL|FILE",
                        help="SQLAlchemy URL or SQLite file (default: the db_url setting, ./services87.db)")
        sp.add_argument("--config", metavar="FILE", help="TOML settings file (default: $SERVICES87_CONFIG, if set)")
        return sp

    s = common(command(sub, "serve", "run the server (SOAP, REST, Genesys APIs, status page)"))
    s.add_argument("--host", default=None, help="address to listen on (default: the host setting, 127.0.0.1)")
    s.add_argument("--port", type=port_number, default=None,
                   help="TCP port to listen on, 0 = any free port (default: the port setting, 8087)")
    s.add_argument("--demo", action="store_true", help="fill an empty database with the demo data set")
    s.add_argument("--demo-requests", type=at_least(0), default=5000, metavar="N",
                   help="requests in that demo data set")
    s.add_argument("--simulate", action="store_true",
                   help="drive live agent, call and ticket traffic through the ingest path (brings the status "
                        "page's Agents and queues view to life)")
    s.add_argument("--workers", type=at_least(1), default=1, metavar="N",
                   help="worker processes sharing the port (more than 1 needs PostgreSQL; docs/deployment.md)")
    s.add_argument("--worker-fd", type=int, default=None, help=argparse.SUPPRESS)  # internal: inherited socket
    s.add_argument("--worker-index", type=int, default=0, help=argparse.SUPPRESS)
    s.add_argument("--port-file", metavar="FILE",
                   help="write the bound port to this file, for --port 0 (default: none)")
    ops = s.add_argument_group("operations (docs/operations.md)")
    ops.add_argument("--listen", action="append", metavar="ENDPOINT",
                     help="Twisted endpoint to listen on, repeatable: tcp:8087:interface=127.0.0.1, "
                          "ssl:8443:privateKey=key.pem:certKey=cert.pem, unix:/run/services87.sock "
                          "(replaces --host/--port; default: none)")
    ops.add_argument("--log-format", choices=["text", "json"], default=None,
                     help="log lines as text or one JSON object per line (default: the log_format setting, text)")
    s.set_defaults(func=cmd_serve)

    s = common(command(sub, "demo", "generate the deterministic demo data set (users, groups, requests)"))
    s.add_argument("--requests", type=at_least(0), default=5000, metavar="N",
                   help="demo requests to write (ids D0000001...: a second run replaces them)")
    s.add_argument("--seed", type=int, default=87, help="random seed; the same seed gives the same data")
    s.set_defaults(func=cmd_demo)

    s = common(command(sub, "import", "import requests from CSV or JSON Lines (docs/import.md)"))
    s.add_argument("file", help="the file to import (samples/import/ has examples)")
    s.add_argument("--format", choices=["csv", "jsonl"], default=None,
                   help="file format (default: from the extension, .csv or .jsonl/.ndjson)")
    s.add_argument("--skip-bad", action="store_true", help="load the good rows even if some are bad")
    s.add_argument("--batch", type=at_least(1), default=None, metavar="N", help="rows per transaction (default: 10000)")
    s.set_defaults(func=cmd_import)

    u = command(sub, "users", "add, list and change users (add | list | passwd)")
    usub = u.add_subparsers(dest="users_cmd", required=True, title="commands", metavar="COMMAND")
    ua = common(command(usub, "add", "add a user", "Add a user. " + PASSWORD_HELP))
    ua.add_argument("login", help="log-in name")
    ua.add_argument("--name", help="full name (default: the login)")
    ua.add_argument("--email", help="e-mail address (default: none)")
    ua.add_argument("--groups", metavar="A,B",
                    help="comma-separated user group names, which must exist (default: none)")
    ua.add_argument("--create-groups", action="store_true", help="create the --groups that do not exist yet")
    ua.add_argument("--tz", type=time_zone, metavar="ZONE",
                    help="IANA time zone, e.g. Europe/Oslo (default: none, the default_time_zone setting applies)")
    ua.add_argument("--lang", choices=SUPPORTED,
                    help=f"language: {', '.join(SUPPORTED)} (default: none, the default_language setting applies)")
    ua.add_argument("--password-env", metavar="VAR", help="read the password from this environment variable "
                                                          "(default: standard input, or ask)")
    ul = common(command(usub, "list", "list the users"))
    up = common(command(usub, "passwd", "change a user's password (and revoke its tickets)",
                        "Change a user's password and revoke its tickets. " + PASSWORD_HELP))
    up.add_argument("login", help="log-in name")
    up.add_argument("--password-env", metavar="VAR", help="read the password from this environment variable "
                                                          "(default: standard input, or ask)")
    extra = [common(command(usub, name, text)) for name, text in (
        ("disable", "deactivate a user and end every session, ticket and token of theirs"),
        ("enable", "reactivate a user"),
        ("remove", "delete a user (kept deactivated if statistics refer to them)"),
        ("revoke", "end every session, ticket and token of a user"))]
    for sp in (ua, ul, up, *extra):
        sp.set_defaults(func=cmd_users)
    for sp in extra:
        sp.add_argument("login", help="log-in name")

    s = common(command(sub, "simulate", "send live agent, call and ticket traffic to a running server's ingest API"))
    s.add_argument("--url", help="server base URL (default: http://<host>:<port> from the settings)")
    s.add_argument("--api-key", default="demo-api-key", metavar="KEY", help="x-api-key for /api/ingest")
    s.add_argument("--token", help="a bearer token instead of the API key (default: none)")
    s.add_argument("--agents", metavar="A,B", help="comma-separated logins (default: every active user)")
    s.add_argument("--events", type=at_least(1), default=200, metavar="N", help="stop after this many accepted events")
    s.add_argument("--seconds", type=float, default=120.0, metavar="S", help="stop after this many seconds")
    s.add_argument("--interval-ms", type=at_least(0), default=500, metavar="MS",
                   help="pause between events, milliseconds")
    s.add_argument("--seed", type=int, default=87, help="random seed of the simulation")
    s.set_defaults(func=cmd_simulate)

    s = common(command(sub, "stats", "print statistics data sets (panels, docs/panels.md)"))
    s.add_argument("panels", nargs="+", metavar="PANEL",
                   help="panel names or numbers (e.g. OpenRequestsPerStatus or 6), or 'all'")
    s.add_argument("--user", metavar="LOGIN", help="compute as this user (default: none; user panels stay empty)")
    s.add_argument("--tz", type=time_zone, metavar="ZONE", help="IANA time zone of the buckets "
                                                               "(default: the user's, else default_time_zone)")
    s.add_argument("--lang", help="language of the labels (default: the user's, else default_language)")
    s.add_argument("--now", type=timestamp, metavar="TIMESTAMP",
                   help="ISO 8601 time to compute at, e.g. 2026-03-30T12:00:00+00:00 (default: now)")
    s.add_argument("--format", choices=["json", "table"], default="table", help="output format")
    s.set_defaults(func=cmd_stats)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except StoreUnavailable as exc:  # the store failed (disk full, database gone): not the input's fault
        print(f"services87: the store failed: {exc}", file=sys.stderr)
        return 3
    except (CliError, ConfigError, EngineError) as exc:
        print(f"services87: {exc}", file=sys.stderr)
        return exc.code if isinstance(exc, CliError) else 2
    except BrokenPipeError:
        # the reader went away (`services87 users list | head -2`): stop quietly, like other Unix tools
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
