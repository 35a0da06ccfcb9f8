"""``serve --listen``: TLS (a certificate made at test time) with real clients — zeep over HTTPS and an
aiocometd-ng ``wss:`` session — next to plain TCP and a Unix socket; reverse-proxy headers only from
trusted proxies; the ``Server:`` header."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import socket
import ssl
import time

import pytest
import requests
import zeep
from aiocometd_ng import Client, ConnectionType

from tests.genesys.conftest import API_KEY, Api
from tests.genesys.test_push import ExtCredentials, one_queue_call_is_pushed
from tests.support import ServerProcess


def make_certificate(directory) -> tuple[str, str]:
    """A throw-away self-signed certificate for localhost / 127.0.0.1: (key path, cert path)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    key_path, cert_path = directory / "key.pem", directory / "cert.pem"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(key_path), str(cert_path)


class TlsServer(ServerProcess):
    @property
    def base_url(self) -> str:
        return f"https://localhost:{self.port}"


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    work = tmp_path_factory.mktemp("tls")
    key, cert = make_certificate(work)
    sock = work / "s87.sock"
    mp = pytest.MonkeyPatch()
    mp.setenv("REQUESTS_CA_BUNDLE", cert)  # requests and zeep (a requests session) trust the test certificate
    proc = TlsServer(work, demo_requests=60, config='[genesys]\ntime_zone = "UTC"\nrecompute_delay_ms = 30\n',
                     extra_args=("--listen", f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}",
                                 "--listen", "tcp:0:interface=127.0.0.1", "--listen", f"unix:{sock}"))
    proc.start()
    yield proc, cert, sock
    proc.stop()
    mp.undo()


def test_https_zeep_and_secure_cookies(tls):
    proc, cert, _ = tls
    client = zeep.Client(proc.base_url + "/Remote/Services87/SoPrincipal.svc?wsdl")
    r = client.service.AuthenticateUsernamePassword(UserName="demo", Password="demo")
    assert r.body.AuthenticationSucceeded is True
    assert r.body.Credentials.Ticket
    login = requests.post(proc.base_url + "/statuspage/api/login", json={"login": "demo", "password": "demo"},
                          timeout=20)
    assert login.status_code == 200, login.text
    cookies = login.headers.get("set-cookie", "")
    assert "services87-session=" in cookies and "Secure" in cookies
    # a client that does not trust the certificate is refused
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(proc.base_url + "/health/live", timeout=10, verify=requests.certs.where())


def test_wss_cometd_session(tls):
    proc, cert, _ = tls
    api = Api(proc)
    ctx = ssl.create_default_context(cafile=cert)

    async def main():
        ext = ExtCredentials({"x-api-key": API_KEY, "Authorization": "Bearer " + api.refresh_token()})
        async with Client(proc.base_url.replace("https://", "wss://") + "/statistics/v3/notifications",
                          ConnectionType.WEBSOCKET, extensions=[ext], ssl=ctx) as client:
            await one_queue_call_is_pushed(api, client, "TlsQ-")

    asyncio.run(asyncio.wait_for(main(), 60))


def test_long_polling_cometd_session_over_https(tls):
    """A held connect answered by a push travels through the TLS layer (its bytes are handed on at once:
    services87/bayeux/transport.py, ``send_now``)."""
    proc, cert, _ = tls
    api = Api(proc)
    ctx = ssl.create_default_context(cafile=cert)

    async def main():
        ext = ExtCredentials({"x-api-key": API_KEY, "Authorization": "Bearer " + api.refresh_token()})
        async with Client(proc.base_url + "/statistics/v3/notifications", ConnectionType.LONG_POLLING,
                          extensions=[ext], ssl=ctx) as client:
            await one_queue_call_is_pushed(api, client, "TlsLp-")

    asyncio.run(asyncio.wait_for(main(), 60))


def test_plain_tcp_and_unix_socket_listeners(tls):
    proc, _, sock_path = tls
    # the startup line names every listener
    deadline = time.monotonic() + 5
    while "unix:" not in proc.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    line = next(ln for ln in proc.log().splitlines() if "listening on" in ln)
    assert "https://127.0.0.1:" in line and "http://127.0.0.1:" in line and f"unix:{sock_path}" in line
    tcp_port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
    r = requests.get(f"http://127.0.0.1:{tcp_port}/health/live", timeout=10)
    assert r.status_code == 200
    assert r.headers["Server"] == "services87"  # no version by default
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(str(sock_path))
        s.sendall(b"GET /health/live HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200") and b'"status": "ok"' in data


def test_forwarded_headers_only_from_trusted_proxies(tmp_path):
    trusted = ServerProcess(tmp_path / "trusted", demo_requests=30, extra_args=("--log-format", "json"),
                            config='trusted_proxies = ["127.0.0.1"]\nserver_header_version = true\n').start()
    untrusted = ServerProcess(tmp_path / "untrusted", demo_requests=30, extra_args=("--log-format", "json"),
                              config='trusted_proxies = ["10.0.0.0/8"]\n').start()
    try:
        headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7, 127.0.0.1"}
        for proc, secure, client in ((trusted, True, "198.51.100.7"), (untrusted, False, "127.0.0.1")):
            r = requests.post(proc.base_url + "/statuspage/api/login", json={"login": "demo", "password": "demo"},
                              headers=headers, timeout=20)
            assert r.status_code == 200, r.text
            assert ("Secure" in r.headers["set-cookie"]) is secure
            rid = r.headers["X-Request-Id"]
            deadline = time.monotonic() + 5
            entry = None
            while entry is None and time.monotonic() < deadline:
                entry = next((json.loads(ln) for ln in proc.log().splitlines()
                              if ln.startswith("{") and rid in ln), None)
                time.sleep(0.1)
            assert entry is not None and entry["client"] == client
        assert requests.get(trusted.base_url + "/health/live", timeout=10).headers["Server"].startswith("services87/")
    finally:
        trusted.stop()
        untrusted.stop()


def test_sigterm_does_not_wait_for_an_idle_tls_client(tmp_path, monkeypatch):
    """SIGTERM closes idle connections and waits only for answers still being sent. Closing a TLS connection
    waits for the peer's close_notify, which a client keeping an idle pooled connection never sends: the
    drain must not take that wait for unsent bytes (it did, for the whole grace, and the server then logged
    that answers were still under way)."""
    key, cert = make_certificate(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", cert)  # the harness's own readiness check is over HTTPS
    proc = TlsServer(tmp_path, demo_requests=30, config="[http]\nshutdown_grace = 3600\nidle_timeout = 3600\n",
                     extra_args=("--listen", f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}"))
    proc.start()
    ctx = ssl.create_default_context(cafile=cert)
    try:
        with socket.create_connection(("127.0.0.1", proc.port), timeout=30) as raw, \
                ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(b"GET /health/live HTTP/1.1\r\nHost: localhost\r\n\r\n")  # keep-alive, then idle
            data = b""
            while b'"status": "ok"' not in data:
                chunk = s.recv(4096)
                assert chunk, data
                data += chunk
            # while this client holds its connection open and reads nothing; the grace and the idle timeout are
            # an hour, so a drain that waits for this client is killed by the harness (exit status not 0)
            code = proc.stop(timeout=60)
        log = proc.log()
        assert code == 0, log[-3000:]
        assert "shutdown: no requests in flight" in log and "stopping anyway" not in log, log[-3000:]
    finally:
        proc.stop()
