"""``services87.bayeux`` stands alone: it imports nothing else of services87, its modules import one another
without cycles and at module level only, and it parses request bodies without the host's JSON guard.

The import rules are checked twice: on the source (every import statement, wherever it is) and by importing
every module of the package in a fresh interpreter that refuses to load any other services87 module.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from services87.bayeux import BayeuxSettings, stdlib_json_loads
from services87.bayeux.protocol import BatchError, decode_batch

PACKAGE = "services87.bayeux"
ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "services87" / "bayeux"
MODULES = sorted(p for p in SOURCE.glob("*.py"))


def _module_name(path: Path) -> str:
    return PACKAGE if path.name == "__init__.py" else f"{PACKAGE}.{path.stem}"


def _imports(tree: ast.AST, module: str) -> list[tuple[str, ast.AST]]:
    """``(absolute module name, node)`` of every import statement in *tree* (wherever it is)."""
    package = module if module == PACKAGE else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join(base + ([node.module] if node.module else []))
                names = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
                found += [(name, node) for name in names]
            else:
                found.append((node.module or "", node))
    return found


def _parsed() -> dict[str, ast.Module]:
    return {_module_name(p): ast.parse(p.read_text(), str(p)) for p in MODULES}


def _outside(name: str) -> bool:
    return (name == "services87" or name.startswith("services87.")) and not (
        name == PACKAGE or name.startswith(PACKAGE + "."))


def test_no_import_of_the_rest_of_services87_in_the_source():
    offenders = [f"{module}:{node.lineno} imports {name}" for module, tree in _parsed().items()
                 for name, node in _imports(tree, module) if _outside(name)]
    assert offenders == []


def test_the_scan_sees_an_added_import_of_the_host():
    """The rule above is not vacuous: the same scan flags host imports, absolute or relative, at any depth."""
    for source in ("from services87.http import jsonguard", "import services87.engine.store",
                   "from .. import config", "def f():\n    from ..http.jsonguard import loads\n"):
        tree = ast.parse(source)
        assert any(_outside(name) for name, _ in _imports(tree, f"{PACKAGE}.protocol")), source


def _is_type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def test_imports_are_at_module_level():
    """No import inside a function, class or ``if TYPE_CHECKING`` (the usual ways to hide a cycle)."""
    offenders = []
    for module, tree in _parsed().items():
        top = set()
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                top.add(id(node))
            elif isinstance(node, ast.Try):  # optional dependencies; none today, allowed at module level
                top |= {id(n) for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))}
        offenders += [f"{module}:{node.lineno}" for _, node in _imports(tree, module) if id(node) not in top]
        offenders += [f"{module}:{node.lineno} TYPE_CHECKING" for node in tree.body if _is_type_checking_block(node)]
    assert offenders == []


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle_between_the_modules():
    modules = _parsed()
    graph: dict[str, set[str]] = {}
    for module, tree in modules.items():
        if module == PACKAGE:
            continue  # the package re-exports; its modules must not need it
        targets = set()
        for name, _ in _imports(tree, module):
            while name and name not in modules:
                name = name.rpartition(".")[0]  # "from .x import Y" names services87.bayeux.x.Y
            if name and name != PACKAGE:
                targets.add(name)
        graph[module] = targets
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


REFUSING_IMPORTER = textwrap.dedent("""
    import importlib, pkgutil, sys

    class RefuseHost:
        def find_spec(self, name, path=None, target=None):
            if name.startswith("services87.") and not (name == "services87.bayeux"
                                                       or name.startswith("services87.bayeux.")):
                raise ImportError(f"services87.bayeux must not import {name}")
            return None

    sys.meta_path.insert(0, RefuseHost())
    import services87.bayeux as bayeux
    for info in pkgutil.iter_modules(bayeux.__path__):
        importlib.import_module(f"services87.bayeux.{info.name}")
    from twisted.internet.task import Clock
    server = bayeux.BayeuxServer(Clock(), bayeux.BayeuxSettings())
    server.resource()
    server.stop()
    loaded = sorted(m for m in sys.modules if m.startswith("services87"))
    print(",".join(loaded))
""")


def _run_refusing(extra: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", REFUSING_IMPORTER + extra], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_every_module_imports_with_the_rest_of_services87_refused():
    done = _run_refusing()
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = done.stdout.strip().splitlines()[-1].split(",")
    assert "services87.bayeux.server" in loaded and "services87.bayeux.websocket" in loaded
    assert [m for m in loaded if _outside(m) and m != "services87"] == []


def test_the_refusing_interpreter_does_refuse():
    done = _run_refusing("import services87.http.jsonguard\n")
    assert done.returncode != 0 and "must not import services87.http" in done.stderr


# ---------------------------------------------------------------------------- the JSON guard comes in settings
def test_default_parser_is_the_standard_library_with_limits():
    assert BayeuxSettings().json_loads is stdlib_json_loads
    assert stdlib_json_loads('[{"a":1.5}]', max_size=100) == [{"a": 1.5}]
    for text in ('{"a":NaN}', '[Infinity]', '[1e999]', '[' * 100_000 + ']' * 100_000, '{"a":'):
        with pytest.raises(ValueError):
            stdlib_json_loads(text, max_size=1_000_000)
    with pytest.raises(ValueError):
        stdlib_json_loads("[1]" + " " * 10, max_size=10)


def test_decode_batch_uses_the_parser_of_the_settings():
    calls = []

    def strict(text: str, *, max_size: int):
        calls.append((text, max_size))
        value = json.loads(text)
        if isinstance(value, list) and any(isinstance(m, dict) and "ext" in m for m in value):
            raise ValueError("no ext here")
        return value

    settings = BayeuxSettings(json_loads=strict)
    assert decode_batch(b'[{"channel":"/a"}]', max_size=100, max_batch=5,
                        json_loads=settings.json_loads) == [{"channel": "/a"}]
    assert calls == [('[{"channel":"/a"}]', 100)]
    with pytest.raises(BatchError) as info:
        decode_batch(b'[{"channel":"/a","ext":{}}]', max_size=100, max_batch=5, json_loads=settings.json_loads)
    assert info.value.error == "400::Malformed JSON"
    # the default accepts what the strict one refuses
    assert decode_batch(b'[{"channel":"/a","ext":{}}]', max_size=100, max_batch=5)[0]["ext"] == {}


def test_a_parser_that_is_not_callable_is_refused():
    with pytest.raises(ValueError):
        BayeuxSettings(json_loads="json")  # type: ignore[arg-type]
