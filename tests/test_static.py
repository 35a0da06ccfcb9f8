"""The static checks of scripts/check hold on services87/, and the layer contracts fail on a broken layer.

scripts/check runs ruff, import-linter (the layers of docs/architecture.md, bayeux/'s independence, no cycles
between sibling packages) and mypy, as configured in pyproject.toml. The second half proves the contracts can
fail: a copy of the package with one upward import, one import between sibling adapters and one cycle must
break exactly the contract that forbids it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

BIN = Path(sys.executable).parent


def _run(*cmd: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


#: where scripts/check keeps mypy's cache (the same expression as there)
CHECK_MYPY_CACHE = Path(os.environ.get("TMPDIR") or "/tmp") / "services87-mypy-cache"


def _mypy_cache(tmp_path: Path) -> Path:
    """A private copy of the cache scripts/check left (when there is one), so that a test run after the checks
    does not type-check everything again: mypy uses a cache entry only while its source is unchanged, and a
    copy cannot be disturbed by another run writing the original."""
    cache = tmp_path / "mypy-cache"
    try:
        shutil.copytree(CHECK_MYPY_CACHE, cache)
    except (OSError, shutil.Error):  # none yet, or being rewritten: a cold run
        shutil.rmtree(cache, ignore_errors=True)
    return cache


@pytest.mark.parametrize("tool", ["ruff", "lint-imports", "mypy"])
def test_services87_passes_its_static_checks(tool, tmp_path):
    if tool == "mypy":
        cache = _mypy_cache(tmp_path)
    cmd = {
        "ruff": (str(BIN / "ruff"), "check", "--no-cache", "services87"),
        "lint-imports": (str(BIN / "lint-imports"), "--no-cache"),
        "mypy": (str(BIN / "mypy"), "--cache-dir", str(cache)) if tool == "mypy" else (),
    }[tool]
    out = _run(*cmd, cwd=ROOT)
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory) -> Path:
    """services87/ and pyproject.toml copied where an import can be broken on purpose."""
    d = tmp_path_factory.mktemp("layers")
    shutil.copytree(ROOT / "services87", d / "services87", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", d / "pyproject.toml")
    return d


def _lint(tree: Path) -> subprocess.CompletedProcess:
    # a wide console: import-linter wraps a long contract name at the terminal width (80 without a terminal)
    return _run(str(BIN / "lint-imports"), "--no-cache", cwd=tree, env={"PYTHONPATH": str(tree), "COLUMNS": "1000"})


def _lint_with(tree: Path, module: str, line: str) -> subprocess.CompletedProcess:
    path = tree / (module.replace(".", "/") + ".py")
    original = path.read_text()
    try:
        path.write_text(original + f"\n{line}  # added by the test\n")
        return _lint(tree)
    finally:
        path.write_text(original)


@pytest.mark.parametrize(("module", "line", "broken"), [
    # the engine knows no protocol and not the composition root
    ("services87.engine.model", "import services87.server", "Layers"),
    # the HTTP plumbing imports no adapter
    ("services87.http.limits", "import services87.soap.envelope", "Layers"),
    # sibling adapters are independent
    ("services87.rest.api", "import services87.gws.api", "Layers"),
    # bayeux/ knows nothing of services87
    ("services87.bayeux.channel", "import services87.i18n", "bayeux/"),
    # no cycle between the sub-packages of the engine
    ("services87.engine.timebuckets", "import services87.engine.calculators", "No import cycles"),
])
def test_a_broken_layer_breaks_its_contract(tree_copy, module, line, broken):
    clean = _lint(tree_copy)
    assert clean.returncode == 0, clean.stdout[-4000:]
    out = _lint_with(tree_copy, module, line)
    assert out.returncode != 0, out.stdout[-4000:]
    broken_lines = [ln for ln in out.stdout.splitlines() if ln.endswith("BROKEN")]
    assert any(ln.startswith(broken) for ln in broken_lines), out.stdout[-4000:]


@pytest.mark.parametrize("package", ["services87.engine.statserver", "services87.engine.storage"])
def test_a_lazy_package_offers_what_it_imports_for_the_type_checker(package):
    """A package that imports its modules on first use (PEP 562 ``__getattr__``) names each public name twice:
    under ``TYPE_CHECKING`` for mypy and in what ``__getattr__`` resolves, and ruff wants ``__all__`` written out:
    the three agree, and each name resolves to the object the type checker sees."""
    import ast
    import importlib

    pkg = importlib.import_module(package)
    typed: dict[str, str] = {}
    for node in ast.walk(ast.parse(Path(pkg.__file__).read_text())):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom), ast.dump(imp)
                typed.update({alias.asname or alias.name: imp.module for alias in imp.names})
    assert sorted(typed) == sorted(getattr(pkg, "__all__", [])), package
    for name, module in typed.items():
        assert getattr(pkg, name) is getattr(importlib.import_module(module), name), name
