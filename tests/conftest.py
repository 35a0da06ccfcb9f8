import pytest

from services87.config import Settings
from services87.engine.store import BusinessCalendar, Store
from tests import support
from tests.support import ServerProcess, fresh_db_url


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    support.reset_tracked()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test shows every process it used: how it ended (exit status, signal) and its log's tail."""
    report = yield
    if report.failed:
        for title, text in support.process_sections(getattr(item, "funcargs", {}) or {}):
            report.sections.append((title, text))
    return report


@pytest.fixture
def store(tmp_path):
    """A migrated, empty store on a real SQLite file."""
    s = Store(fresh_db_url(tmp_path), BusinessCalendar([1, 2, 3, 4, 5], "08:00", "16:00", "Europe/Oslo"))
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
