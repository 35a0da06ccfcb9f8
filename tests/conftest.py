import signal
import time

import pytest

from services87.config import Settings
from services87.engine.business_hours import BusinessCalendar
from services87.engine.storage import Store
from tests import support
from tests.support import ServerProcess, fresh_db_url

# A run started in the background of a non-interactive shell (`cmd &` in a script, nohup, some CI runners)
# inherits SIGINT ignored, and so would every process the tests start: a test that presses Ctrl-C on a child
# (an import, a server in the foreground) would see it ignored and wait for nothing. Children of an interactive
# shell get Python's handler; so do the tests' children from here on (an exec resets a handled signal).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    support.reset_tracked()
    support.current_test = item.nodeid


def pytest_ignore_collect(collection_path, config):
    """The PostgreSQL pass leaves out the modules that open no store (tests/support.py: STORE_INDEPENDENT)."""
    if not support.PG_ADMIN_URL:
        return None
    relative = collection_path.relative_to(config.rootpath).as_posix() + ("/" if collection_path.is_dir() else "")
    return True if support.store_independent(relative) else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test shows every process it used: how it ended (exit status, signal) and its log's tail."""
    try:
        report = yield
    except SystemError as exc:
        # CPython 3.11.7: ast.parse keeps its recursion counter in interpreter-wide state, so a traceback
        # formatted in another thread at the same moment (3.11's traceback module parses source for its ^^^
        # markers) makes pytest's own ast.parse fail with this error and the whole run end in INTERNALERROR.
        # The counter is reset on every call: building the report again is enough.
        if "recursion depth mismatch" not in str(exc):
            raise
        report = None
        for _ in range(5):
            time.sleep(0.1)
            try:
                report = pytest.TestReport.from_item_and_call(item, call)
                break
            except SystemError as again:
                if "recursion depth mismatch" not in str(again):
                    raise
        if report is None:
            raise
    if report.failed:
        for title, text in support.process_sections(getattr(item, "funcargs", {}) or {}):
            report.sections.append((title, text))
    return report


@pytest.fixture
def store(tmp_path):
    """A migrated, empty store on a real SQLite file."""
    s = Store(fresh_db_url(tmp_path, migrated=True), BusinessCalendar([1, 2, 3, 4, 5], "08:00", "16:00", "Europe/Oslo"))
    s.migrate()
    yield s
    s.close()


@pytest.fixture
def settings():
    return Settings.load(env={})


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """One real server with demo data for the whole session (read-only tests use it)."""
    proc = ServerProcess(tmp_path_factory.mktemp("server"), demo_requests=2000).start()
    yield proc
    proc.stop()
