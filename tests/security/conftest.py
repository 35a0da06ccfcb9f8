import pytest

from tests.support import ServerProcess


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    proc = ServerProcess(tmp_path_factory.mktemp("sec"), demo_requests=50).start()
    yield proc
    proc.stop()
