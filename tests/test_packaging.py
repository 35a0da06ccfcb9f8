"""Packaging: what the supported Pythons, the ``test`` and the ``bench`` extras need is declared in setup.cfg."""

from __future__ import annotations

import ast
import configparser
import importlib.metadata
import re
import subprocess
import sys

import pytest

from tests.support import ROOT


def _requirements(*sections: tuple[str, str]) -> set[str]:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    names = set()
    for section, key in sections:
        for line in cfg.get(section, key).splitlines():
            line = line.split(";")[0].strip()
            if line and not line.startswith("#"):
                names.add(re.split(r"[\[<>=!~ ]", line, maxsplit=1)[0].lower().replace("_", "-"))
    return names


def _third_party_imports(path, local: set[str] = frozenset()) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    mods = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            mods.add(node.module.split(".")[0])
    local = {p.stem for p in path.parent.glob("*.py")} | {"services87", "tests", "__future__"} | set(local)
    return {m for m in mods if m not in sys.stdlib_module_names and m not in local}


def _undeclared(paths, extras: tuple[str, ...], local: set[str] = frozenset()) -> dict[str, list[str]]:
    """``"file: module" -> its distributions`` for each third-party module imported by ``paths`` that neither
    install_requires nor one of ``extras`` declares."""
    declared = _requirements(("options", "install_requires"), *(("options.extras_require", e) for e in extras))
    dists = importlib.metadata.packages_distributions()
    missing = {}
    for path in sorted(paths):
        for mod in _third_party_imports(path, local):
            names = {d.lower().replace("_", "-") for d in dists.get(mod, [mod])}
            if not names & declared:
                missing[f"{path.relative_to(ROOT)}: {mod}"] = sorted(names)
    return missing


def test_bench_extra_installs_what_bench_imports():
    """bench/run installs services87 plus the bench extra: every bench/*.py import must come from them."""
    missing = _undeclared((ROOT / "bench").glob("*.py"), ("bench",))
    assert not missing, f"imported by bench/ but not in install_requires or the bench extra: {missing}"


def test_install_requires_covers_what_services87_imports():
    """``pip install services87`` brings every package the server imports (the database drivers of the
    ``postgres`` extra apart)."""
    missing = _undeclared((ROOT / "services87").rglob("*.py"), ("postgres",))
    assert not missing, f"imported by services87/ but not in install_requires: {missing}"


def test_test_extra_installs_what_the_tests_import():
    """``scripts/test`` installs services87 plus the test extra: a package a test imports only because another
    dependency happens to bring it may be gone after that dependency's next release."""
    bench = {p.stem for p in (ROOT / "bench").glob("*.py")}  # tests/perf imports bench modules by name
    missing = _undeclared((ROOT / "tests").rglob("*.py"), ("test", "bench"), bench)  # tests/perf runs bench code
    assert not missing, f"imported by tests/ but not in install_requires or the test extra: {missing}"


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "bench").glob("*.py")))
def test_bench_modules_import(name):
    """Every bench module imports (in a fresh interpreter, as bench/run runs them): a dependency missing from
    this environment fails here, not at the start of a long bench run. Imports inside functions (matplotlib,
    only when plotting) are checked against setup.cfg by the test above."""
    code = (f"import importlib, sys; sys.path.insert(0, 'bench'); m = importlib.import_module({name!r}); "
            "assert m.__file__.endswith('.py') and (m.__name__ == 'lib' or callable(m.main))")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_python_versions_declared():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    assert cfg.get("options", "python_requires").strip() == ">=3.11"
    for v in ("3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {v}" in cfg.get("metadata", "classifiers")
    assert 'legacy-cgi>=2.6; python_version >= "3.13"' in cfg.get("options", "install_requires")
