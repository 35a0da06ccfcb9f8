"""The real-client matrix: one services87 server, every SOAP and Bayeux client against it.

Run through ``interop/run`` (which installs the clients first). Starts ONE server with demo data on 127.0.0.1
(ephemeral port), builds the proxies that need generating (Mono wsdl.exe / svcutil, JAX-WS wsimport, gSOAP)
from the server's own ``?wsdl``, runs each client cell, compares its canonical output with zeep's (SOAP 1.1),
prints a table and writes docs/interop.md. Exit status 0 only when every cell passes.

    .venv/bin/python interop/matrix.py [--only NAME[,NAME]] [--no-docs] [--keep]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BUILD = HERE / "build"
sys.path.insert(0, str(ROOT))

from tests.support import ServerProcess  # noqa: E402

PANELS = [
    "OpenRequestsPerCategory", "OpenRequestsPerTopCategory", "OpenRequestsPerUser", "OpenRequestsPerUserGroup",
    "OpenRequestsPerPriority", "OpenRequestsPerStatus", "OpenRequestsPerOrigin", "NumberOfCreatedRequestsPerDay",
    "NumberOfCreatedRequestsPerWeek", "NumberOfCreatedRequestsPerMonth", "UserResponseTimePerDay",
    "UserReponseTimePerWeek", "UserResponseTimePerMonth", "OwnOpenRequests", "UnassignedRequests", "Hotlist",
    "StatusScreen",
]
PY = sys.executable
SUDS_PY = str(HERE / ".venv" / "bin" / "python")
JAVA_CP = ":".join(f"/usr/share/java/{j}.jar" for j in ("jaxws-rt", "jaxws-api", "jaxb-api", "jws-api", "javax.xml.soap-api"))
CLIENT_TIMEOUT = 180


@dataclass
class Cell:
    client: str
    version: str
    mode: str  # "SOAP 1.1", "SOAP 1.2", "long-polling", ...
    result: str = "not run"
    ok: bool = False
    seconds: float = 0.0
    detail: str = ""


@dataclass
class Context:
    base: str
    log: Path
    cells: list[Cell] = field(default_factory=list)
    reference: list[str] | None = None
    #: runs the zeep reference again: some values depend on the clock (Hotlist ages in days, in 864 s steps), so
    #: a client that ran after the clock moved a step is compared with a reference read after it too
    refresh: Callable[[], list[str]] | None = None


def sh(cmd: list[str], cwd: Path | None = None, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, timeout=timeout, env=env)


def tail(data: bytes | str, n: int = 1500) -> str:
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    return data[-n:]


def tool_version(cmd: list[str], pattern: str = r"(\d+\.\d+[\w.\-]*)") -> str:
    try:
        out = sh(cmd, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "missing"
    m = re.search(pattern, (out.stdout + out.stderr).decode("utf-8", "replace"))
    return m.group(1) if m else "?"


def deb_version(package: str) -> str:
    return tool_version(["dpkg-query", "-W", "-f=${Version}", package], r"(\S+)")


def node_version(package: str) -> str:
    try:
        return json.loads((HERE / "node" / "node_modules" / package / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return "missing"


def py_version(python: str, dist: str) -> str:
    return tool_version([python, "-c", f"import importlib.metadata as m; print(m.version({dist!r}))"], r"(\S+)")


# ----------------------------------------------------------------------------- canonical output
def canonical(stdout: bytes) -> list[str]:
    """Sorted ``panel<TAB>label<TAB>value`` lines; values as 9 significant digits (Mono prints 15, Java 17)."""
    lines = []
    for raw in stdout.decode("utf-8").splitlines():
        if not raw.strip():
            continue
        panel, label, value = raw.split("\t", 2)
        if label != "#set":
            value = "%.9g" % float(value)
        lines.append(f"{panel}\t{label}\t{value}")
    return sorted(lines)


def compare(ctx: Context, cell: Cell, lines: list[str]) -> None:
    if cell.client == "zeep" and cell.mode == "SOAP 1.1":
        ctx.reference = lines
        cell.ok, cell.result = bool(lines), f"PASS ({len(lines)} lines, the reference)" if lines else "FAIL: no output"
        return
    if not ctx.reference:
        cell.result = "FAIL: no zeep reference to compare with"
        return
    if lines == ctx.reference:
        cell.ok, cell.result = True, f"PASS ({len(lines)} lines = zeep)"
        return
    if ctx.refresh is not None:
        fresh = ctx.refresh()
        if lines == fresh:  # the clock moved a step between the reference and this client
            ctx.reference = fresh
            cell.ok, cell.result = True, f"PASS ({len(lines)} lines = zeep, re-read after a clock step)"
            return
    missing = sorted(set(ctx.reference) - set(lines))[:5]
    extra = sorted(set(lines) - set(ctx.reference))[:5]
    cell.result = "FAIL: output differs from zeep"
    cell.detail = "missing: " + json.dumps(missing, ensure_ascii=False) + "\nextra: " + json.dumps(extra, ensure_ascii=False)


def run_cell(ctx: Context, cell: Cell, cmd: list[str], canon=True, cwd: Path | None = None) -> None:
    t0 = time.monotonic()
    try:
        out = sh(cmd, cwd=cwd, timeout=CLIENT_TIMEOUT)
    except subprocess.TimeoutExpired:
        cell.result, cell.seconds = f"FAIL: timed out after {CLIENT_TIMEOUT}s", time.monotonic() - t0
        return
    except OSError as e:
        cell.result, cell.seconds = f"FAIL: {e}", time.monotonic() - t0
        return
    cell.seconds = time.monotonic() - t0
    with ctx.log.open("a") as f:
        f.write(f"\n===== {cell.client} {cell.mode}: {' '.join(cmd)}\n--- exit {out.returncode}\n--- stdout\n"
                f"{tail(out.stdout, 4000)}\n--- stderr\n{tail(out.stderr, 8000)}\n")
    if out.returncode != 0:
        cell.result = f"FAIL: exit {out.returncode}"
        cell.detail = tail(out.stderr, 1200) or tail(out.stdout, 600)
        return
    if not canon:
        cell.ok, cell.result = True, "PASS " + tail(out.stdout, 200).strip().splitlines()[-1][:120]
        return
    try:
        lines = canonical(out.stdout)
    except (ValueError, UnicodeDecodeError) as e:
        cell.result, cell.detail = f"FAIL: unparsable output ({e})", tail(out.stdout, 600)
        return
    compare(ctx, cell, lines)


def soap_args(ctx: Context, version: str) -> list[str]:
    return ["--base", ctx.base, "--soap", version, "--panels", ",".join(PANELS)]


# ----------------------------------------------------------------------------- builds (generated proxies)
def wsdl_url(ctx: Context, service: str) -> str:
    return f"{ctx.base}/Remote/Services87/{service}.svc?wsdl"


def fetch_wsdls(ctx: Context) -> bytes:
    """Both WSDLs with the server address blanked out: the cache key of every generated proxy."""
    data = b""
    for service in ("CustomerService", "SoPrincipal"):
        with urllib.request.urlopen(wsdl_url(ctx, service), timeout=30) as r:
            data += r.read().replace(ctx.base.encode(), b"BASE")
    return data


def cached(name: str, key_parts: list[bytes], build) -> Path:
    """Run ``build(dir)`` unless the same inputs were built before; raises RuntimeError on failure."""
    key = hashlib.sha256(b"\0".join(key_parts)).hexdigest()[:16]
    out = BUILD / name
    stamp = out / ".key"
    if stamp.exists() and stamp.read_text() == key:
        return out
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    build(out)
    stamp.write_text(key)
    return out


def check(proc: subprocess.CompletedProcess, what: str) -> None:
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {proc.returncode}):\n{tail(proc.stdout, 800)}\n{tail(proc.stderr, 1500)}")


def build_asmx(ctx: Context, wsdls: bytes) -> Path:
    src = HERE / "mono" / "asmx" / "Main.cs"

    def build(d: Path) -> None:
        check(sh([PY, str(HERE / "tools" / "trim_wsdl.py"), wsdl_url(ctx, "SoPrincipal"), "SoPrincipal.trimmed.wsdl",
                  "AuthenticateUsernamePassword"], cwd=d), "trim SoPrincipal WSDL")
        for proto in ("SOAP", "SOAP12"):
            check(sh(["wsdl", "-nologo", f"-protocol:{proto}", "-namespace:S87C", f"-out:CustomerService_{proto}.cs",
                      wsdl_url(ctx, "CustomerService")], cwd=d), f"wsdl CustomerService {proto}")
            check(sh(["wsdl", "-nologo", f"-protocol:{proto}", "-namespace:S87P", f"-out:SoPrincipal_{proto}.cs",
                      "SoPrincipal.trimmed.wsdl"], cwd=d), f"wsdl SoPrincipal {proto}")
            cs = d / f"CustomerService_{proto}.cs"
            text = cs.read_text()
            if "public SoCredentials Credentials {" not in text:
                raise RuntimeError("generated ASMX proxy has no Credentials header member")
            # Mono's wsdl.exe names the header member after the element, which clashes with
            # SoapHttpClientProtocol.Credentials; Microsoft's wsdl.exe names it CredentialsValue.
            text = text.replace("public SoCredentials Credentials {", "public SoCredentials CredentialsValue {")
            text = text.replace('SoapHeaderAttribute("Credentials")', 'SoapHeaderAttribute("CredentialsValue")')
            cs.write_text(text)
            check(sh(["mcs", "-nologo", "-nowarn:0108,0114", f"-out:asmx_{proto}.exe", "-r:System.Web.Services.dll",
                      str(src), cs.name, f"SoPrincipal_{proto}.cs"], cwd=d), f"mcs ASMX {proto}")

    return cached("asmx", [wsdls, src.read_bytes()], build)


def build_wcf(ctx: Context, wsdls: bytes) -> Path:
    src = HERE / "mono" / "wcf" / "Main.cs"

    def build(d: Path) -> None:
        for service, ns in (("CustomerService", "S87C"), ("SoPrincipal", "S87P")):
            check(sh(["svcutil", "-nologo", "-noconfig", f"-o:{service}.cs", wsdl_url(ctx, service)], cwd=d, timeout=300),
                  f"svcutil {service}")
            path = d / f"{service}.cs"
            text = path.read_text().replace("www.superoffice.net.ws.crm.NetServer.Services87", ns)
            if service == "CustomerService":
                op = "    S87C.StatisticsDataSet[] GetStatistics(S87C.StatusScreenPanelType[] Functions);"
                if op not in text:
                    raise RuntimeError("svcutil produced no GetStatistics(StatusScreenPanelType[]) operation")
                text = text.replace(op, '    [return: System.ServiceModel.MessageParameterAttribute(Name="Response")]\n' + op)
            path.write_text(text)
        check(sh(["mcs", "-nologo", "-nowarn:0108,0114,0649,0436", "-out:wcf.exe", "-r:System.ServiceModel.dll",
                  "-r:System.Runtime.Serialization.dll", str(src), "CustomerService.cs", "SoPrincipal.cs"], cwd=d), "mcs WCF")

    return cached("wcf", [wsdls, src.read_bytes()], build)


def build_jaxws(ctx: Context, wsdls: bytes) -> Path:
    src = HERE / "java" / "Main.java"
    xjb = HERE / "java" / "bindings.xjb"

    def build(d: Path) -> None:
        (d / "src").mkdir()
        (d / "out").mkdir()
        for service, pkg in (("CustomerService", "s87c"), ("SoPrincipal", "s87p")):
            check(sh(["wsimport", "-extension", "-XadditionalHeaders", "-b", str(xjb), "-keep", "-Xnocompile",
                      "-p", pkg, "-s", "src", "-d", "out", wsdl_url(ctx, service)], cwd=d), f"wsimport {service}")
        sources = [str(p) for p in (d / "src").rglob("*.java")] + [str(src)]
        check(sh(["javac", "-nowarn", "-encoding", "UTF-8", "-cp", JAVA_CP, "-d", "out", *sources], cwd=d), "javac")

    return cached("jaxws", [wsdls, src.read_bytes(), xjb.read_bytes()], build)


def build_gsoap(ctx: Context, wsdls: bytes) -> Path:
    src = HERE / "gsoap" / "main.cpp"

    def build(d: Path) -> None:
        check(sh(["wsdl2h", "-o", "s87.h", "-t", "/usr/share/gsoap/WS/typemap.dat", wsdl_url(ctx, "CustomerService"),
                  wsdl_url(ctx, "SoPrincipal")], cwd=d), "wsdl2h")
        check(sh(["soapcpp2", "-j", "-C", "-x", "-I/usr/share/gsoap/import", "s87.h"], cwd=d), "soapcpp2")
        procs = [subprocess.Popen(["g++", "-O0", "-w", "-I.", "-c", "-o", obj, cpp], cwd=d, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
                 for obj, cpp in (("soapC.o", "soapC.cpp"), ("proxy.o", "soapBasicHttpBinding_USCORECustomerServiceProxy.cpp"),
                                  ("main.o", str(src)))]
        for p in procs:
            out, err = p.communicate(timeout=600)
            check(subprocess.CompletedProcess(p.args, p.returncode, out, err), "g++ " + p.args[-1])
        check(sh(["g++", "-o", "gsoap_client", "main.o", "soapC.o", "proxy.o", "-lgsoap++"], cwd=d), "link")

    return cached("gsoap", [wsdls, src.read_bytes()], build)


# ----------------------------------------------------------------------------- the SOAP part
def soap_matrix(ctx: Context, only: set[str] | None) -> None:
    def want(name: str) -> bool:
        return only is None or name in only

    versions = {
        "zeep": py_version(PY, "zeep"),
        "suds-community": py_version(SUDS_PY, "suds-community"),
        "node soap": node_version("soap"),
        "strong-soap": node_version("strong-soap"),
        "PHP SoapClient": tool_version(["php", "-r", "echo PHP_VERSION;"]),
        "Mono wsdl.exe (ASMX)": deb_version("mono-devel"),
        "Mono svcutil (WCF)": deb_version("mono-devel"),
        "JAX-WS wsimport": deb_version("libjaxws-java"),
        "gSOAP": deb_version("gsoap"),
    }
    try:
        wsdls = fetch_wsdls(ctx)
    except OSError as e:
        for client, version in versions.items():
            if want(client):
                ctx.cells.append(Cell(client, version, "SOAP", f"FAIL: ?wsdl not served ({e})"))
        return

    simple = {
        "zeep": lambda v: [PY, str(HERE / "clients" / "zeep_client.py"), *soap_args(ctx, v)],
        "suds-community": lambda v: [SUDS_PY, str(HERE / "clients" / "suds_client.py"), *soap_args(ctx, v)],
        "node soap": lambda v: ["node", str(HERE / "node" / "soap_client.js"), *soap_args(ctx, v)],
        "strong-soap": lambda v: ["node", str(HERE / "node" / "strong_soap_client.js"), *soap_args(ctx, v)],
        "PHP SoapClient": lambda v: ["php", str(HERE / "php" / "client.php"), *soap_args(ctx, v)],
    }
    ctx.refresh = lambda: canonical(sh(simple["zeep"]("11"), timeout=CLIENT_TIMEOUT).stdout)
    builds = {
        "Mono wsdl.exe (ASMX)": (build_asmx, lambda d, v: ["mono", str(d / ("asmx_SOAP12.exe" if v == "12" else "asmx_SOAP.exe")),
                                                           *soap_args(ctx, v)]),
        "Mono svcutil (WCF)": (build_wcf, lambda d, v: ["mono", str(d / "wcf.exe"), *soap_args(ctx, v)]),
        "JAX-WS wsimport": (build_jaxws, lambda d, v: ["java", "-cp", f"{d / 'out'}:{JAVA_CP}", "Main", *soap_args(ctx, v)]),
        "gSOAP": (build_gsoap, lambda d, v: [str(d / "gsoap_client"), *soap_args(ctx, v)]),
    }
    # suds never sends SOAP 1.2 (NOTES: it reads soap12 bindings but always sends a 1.1 envelope).
    cells_for = {name: (["11"] if name == "suds-community" else ["11", "12"]) for name in versions}

    # zeep SOAP 1.1 first: it is the reference every other cell is compared with.
    for name in versions:
        if not want(name) and name != "zeep":
            continue
        d = None
        if name in builds:
            t0 = time.monotonic()
            try:
                d = builds[name][0](ctx, wsdls)
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
                for v in cells_for[name]:
                    ctx.cells.append(Cell(name, versions[name], f"SOAP {v[0]}.{v[1]}", "FAIL: proxy build", False,
                                          time.monotonic() - t0, str(e)[-1500:]))
                continue
        for v in cells_for[name]:
            cell = Cell(name, versions[name], f"SOAP {v[0]}.{v[1]}")
            cmd = simple[name](v) if name in simple else builds[name][1](d, v)
            run_cell(ctx, cell, cmd)
            ctx.cells.append(cell)
        if name == "suds-community":
            ctx.cells.append(Cell(name, versions[name], "SOAP 1.2", "n/a: suds sends SOAP 1.1 envelopes only", True))


# ----------------------------------------------------------------------------- report
def table(cells: list[Cell]) -> str:
    rows = [("client", "version", "cell", "result", "time")]
    rows += [(c.client, c.version, c.mode, c.result, f"{c.seconds:.1f}s") for c in cells]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    line = lambda r: "  ".join(r[i].ljust(widths[i]) for i in range(5)).rstrip()
    return "\n".join([line(rows[0]), "  ".join("-" * w for w in widths)] + [line(r) for r in rows[1:]])


def markdown(cells: list[Cell], seconds: float) -> str:
    out = ["| client | version | cell | result |", "|---|---|---|---|"]
    for c in cells:
        out.append(f"| {c.client} | {c.version} | {c.mode} | {c.result.replace('|', '/')} |")
    passed = sum(c.ok and not c.result.startswith("n/a") for c in cells)
    na = sum(c.result.startswith("n/a") for c in cells)
    failed = sum(not c.ok for c in cells)
    return "\n".join(out) + (f"\n\n{passed} cells pass, {failed} fail, {na} not applicable; the matrix took "
                             f"{seconds:.0f} s (installs not counted).\n")


def write_docs(cells: list[Cell], seconds: float) -> None:
    template = (HERE / "interop.md.in").read_text()
    stamp = time.strftime("%Y-%m-%d", time.gmtime())
    text = template.replace("@TABLE@", markdown(cells, seconds)).replace("@DATE@", stamp)
    (ROOT / "docs" / "interop.md").write_text(text)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="comma-separated client names (zeep always runs: it is the reference)")
    ap.add_argument("--no-docs", action="store_true", help="do not rewrite docs/interop.md")
    ap.add_argument("--keep", action="store_true", help="keep the server's work directory")
    ap.add_argument("--demo-requests", type=int, default=2000)
    args = ap.parse_args()
    only = set(args.only.split(",")) if args.only else None
    t0 = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="services87-interop-"))
    BUILD.mkdir(exist_ok=True)
    log = BUILD / "matrix.log"
    log.write_text("")
    server = ServerProcess(work, demo_requests=args.demo_requests)
    server.start()
    print(f"server: {server.base_url} (work dir {work}); client logs: {log}", flush=True)
    ctx = Context(server.base_url, log)
    try:
        soap_matrix(ctx, only)
        from bayeux_matrix import bayeux_matrix  # noqa: PLC0415

        bayeux_matrix(ctx, only, server)
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    seconds = time.monotonic() - t0
    print()
    print(table(ctx.cells))
    for c in ctx.cells:
        if not c.ok and c.detail:
            print(f"\n--- {c.client} {c.mode}: {c.result}\n{c.detail.strip()}")
    failed = [c for c in ctx.cells if not c.ok]
    na = [c for c in ctx.cells if c.ok and c.result.startswith("n/a")]
    print(f"\n{len(ctx.cells) - len(failed) - len(na)} passed, {len(failed)} failed, {len(na)} not applicable")
    if not args.no_docs and only is None:
        write_docs(ctx.cells, seconds)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
