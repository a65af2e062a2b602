"""The package's shape, checked from the source (AST): layers point one way, no import cycle between
packages, no module over MAX_LINES, no intra-package import hidden in a function to dodge a cycle,
and no module reaching into another module's `_private` names (tests included)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from productlens.engine.catalog import Catalog

pytestmark = pytest.mark.fast

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "productlens"
TESTS = ROOT / "tests"
MAX_LINES = 450

# Modules allowed over MAX_LINES, each with the reason it still is.
OVERSIZE: dict[str, str] = {}

# Imports of productlens modules inside a function, each with the reason it cannot be at the top.
# Lazy imports of heavy optional third-party packages (torch, fastapi, pymilvus, ...) need no entry.
LAZY_IMPORTS = {
    ("cli/serve_cmd.py", "productlens.api"): "the API needs FastAPI, which only the optional `serve` extra installs",
    ("api/__init__.py", "productlens.api.app"): "importing the package must not import FastAPI (the `serve` extra)",
}

# The bottom layer: these modules import only each other.
LEAVES = {"errors", "settings", "images", "filters", "ranking", "recognition", "budget", "atomic", "meta_keys"}
# What each package above them must never import.
NEVER_IMPORTS = {
    "engine": {"cli", "api"},
    "index": {"engine", "catalog", "cli", "api", "text", "dedup", "training", "evaluation"},
    "catalog": {"engine", "index", "cli", "api", "text", "dedup", "training", "evaluation", "models", "pipeline"},
    "models": {"engine", "catalog", "index", "cli", "api", "text", "dedup", "training", "evaluation"},
    "text": {"engine", "cli", "api", "dedup", "training", "evaluation"},
    "dedup": {"engine", "cli", "api", "training", "evaluation"},
    "training": {"engine", "cli", "api", "text", "dedup", "evaluation"},
    "evaluation": {"engine", "cli", "api", "text", "dedup"},
    "cli": {"index", "text"},
    "api": {"cli", "index", "jobs", "training", "evaluation"},
    "results": {"engine", "index", "models", "cli", "api", "text", "dedup", "training", "evaluation"},
}
INTERFACES = ("cli", "api")  # thin: they call Catalog methods, never its store or index
REACHING_IN = {"store", "live_index"}


@dataclass(frozen=True)
class Import:
    target: str  # absolute module name
    line: int
    in_function: bool
    type_only: bool


def modules(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(path: Path) -> Iterator[Import]:
    """Every import in a module, resolved to absolute names (a `from X import name` yields X.name
    when X is a package that has such a submodule, else X)."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]

    def visit(node: ast.AST, in_function: bool, type_only: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield Import(alias.name, child.lineno, in_function, type_only)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package[: len(package) - child.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                for alias in child.names:
                    full = f"{base}.{alias.name}"
                    exists = (SRC.parent / full.replace(".", "/")).with_suffix(".py").exists() or (
                        SRC.parent / full.replace(".", "/") / "__init__.py").exists()
                    yield Import(full if exists else base, child.lineno, in_function, type_only)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                yield from visit(child, True, type_only)
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    yield from visit(ast.Module(body=[stmt], type_ignores=[]), in_function, True)
                for stmt in child.orelse:
                    yield from visit(ast.Module(body=[stmt], type_ignores=[]), in_function, type_only)
            else:
                yield from visit(child, in_function, type_only)

    yield from visit(ast.parse(path.read_text()), False, False)


def layer(module: str) -> str | None:
    """The package (or top-level module) a productlens module belongs to; None outside productlens."""
    parts = module.split(".")
    if parts[0] != "productlens":
        return None
    return parts[1] if len(parts) > 1 else "productlens"


def layer_graph() -> dict[str, dict[str, list[str]]]:
    """{layer: {imported layer: [where]}} over every import, lazy and type-only ones included.
    The root `productlens/__init__.py` (the public facade) and `__main__` are left out."""
    graph: dict[str, dict[str, list[str]]] = {}
    for path in modules(SRC):
        name = module_name(path)
        source = layer(name)
        if source in (None, "productlens", "__main__"):
            continue
        edges = graph.setdefault(source, {})
        for imp in imports(path):
            target = layer(imp.target)
            if target not in (None, source, "productlens"):
                edges.setdefault(target, []).append(f"{path.relative_to(SRC)}:{imp.line}")
    return graph


def find_cycle(graph: dict[str, dict[str, list[str]]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = dfs(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = dfs(node)
            if found:
                return found
    return None


def test_no_import_cycle_between_packages():
    graph = layer_graph()
    cycle = find_cycle(graph)
    if cycle:
        links = [f"{a} -> {b} ({', '.join(graph[a][b][:3])})" for a, b in zip(cycle, cycle[1:])]
        pytest.fail("import cycle between packages:\n  " + "\n  ".join(links))


def test_find_cycle_sees_a_planted_cycle():
    assert find_cycle({"a": {"b": []}, "b": {"c": []}, "c": {"a": []}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": []}, "b": {}, "c": {"a": []}}) is None


def test_layers_point_one_way():
    graph = layer_graph()
    wrong = [f"{source} imports {target}: {', '.join(graph[source][target][:3])}"
             for source, banned in NEVER_IMPORTS.items() for target in sorted(banned) if target in graph.get(source, {})]
    assert not wrong, "\n".join(wrong)


def test_the_bottom_layer_imports_only_itself():
    graph = layer_graph()
    wrong = {leaf: sorted(set(graph.get(leaf, {})) - LEAVES) for leaf in LEAVES}
    assert not any(wrong.values()), wrong


def test_no_module_is_too_long():
    long = {str(p.relative_to(SRC)): n for p in modules(SRC) if (n := len(p.read_text().splitlines())) > MAX_LINES}
    unexplained = {name: n for name, n in long.items() if name not in OVERSIZE}
    assert not unexplained, f"modules over {MAX_LINES} lines: {unexplained}"
    stale = set(OVERSIZE) - set(long)
    assert not stale, f"OVERSIZE lists modules that are short now: {stale}"


def test_no_intra_package_import_inside_a_function():
    found = {(str(p.relative_to(SRC)), imp.target): imp.line
             for p in modules(SRC) for imp in imports(p) if imp.in_function and layer(imp.target) is not None}
    allowed = {key for key in found for (path, target) in LAZY_IMPORTS
               if key[0] == path and (key[1] == target or key[1].startswith(target + "."))}
    unexplained = [f"{path}:{line} imports {target}" for (path, target), line in sorted(found.items())
                   if (path, target) not in allowed]
    assert not unexplained, "imports inside functions (hoist them, or add a reason to LAZY_IMPORTS):\n" + "\n".join(unexplained)
    assert len(LAZY_IMPORTS) <= 3, "keep the lazy-import allowlist tiny"


def where(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def private_reaches(path: Path) -> list[str]:
    """`x._name` where `_name` is not defined in this module, and `from m import _name`."""
    tree = ast.parse(path.read_text())
    defined: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            defined.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
        elif isinstance(node, ast.alias):
            defined.add(node.asname or node.name.split(".")[0])

    def private(name: str) -> bool:
        return name.startswith("_") and not name.startswith("__") and name != "_"

    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and private(node.attr) and node.attr not in defined:
            out.append(f"{where(path)}:{node.lineno} .{node.attr}")
        elif isinstance(node, ast.ImportFrom):
            out += [f"{where(path)}:{node.lineno} imports {a.name}" for a in node.names if private(a.name)]
    return out


@pytest.mark.parametrize("root", [SRC, TESTS], ids=["src", "tests"])
def test_no_reaching_into_private_names(root):
    found = [hit for p in modules(root) for hit in private_reaches(p)]
    assert not found, "private names of other modules:\n" + "\n".join(found)


def test_interfaces_call_the_catalog_not_its_store_or_index():
    found = []
    for package in INTERFACES:
        for path in modules(SRC / package):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Attribute) and node.attr in REACHING_IN:
                    found.append(f"{path.relative_to(SRC)}:{node.lineno} .{node.attr}")
    assert not found, "interfaces reaching past Catalog:\n" + "\n".join(found)


def test_the_checks_see_planted_violations(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text("from x import _hidden\n\nclass A:\n    def __init__(self):\n        self._mine = 1\n\n"
                       "def f(store, a):\n    return store._query(''), a._mine\n")
    assert [hit.split(" ", 1)[1] for hit in private_reaches(planted)] == ["imports _hidden", "._query"]


MAX_FACADE_METHODS = 30  # Catalog: one thin method per user-facing operation; the rest is its services'


def test_catalog_is_a_facade_without_mixins():
    assert Catalog.__bases__ == (object,), f"Catalog mixes in {Catalog.__bases__}: compose a service instead"
    public = sorted(name for name in vars(Catalog) if not name.startswith("_"))
    assert len(public) <= MAX_FACADE_METHODS, f"Catalog has {len(public)} public methods: {public}"


# Feature packages declare the operations they need as a typing.Protocol port; the engine adapts
# the catalogue to it (engine/ports.py). They never import the store nor reach for one.
FEATURE_PACKAGES = ("text", "dedup", "training", "evaluation", "detection", "recommend")


def store_reaches(path: Path) -> list[str]:
    """Imports of `catalog.store` (however spelt) and `.store` attributes in a module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names = {a.name for a in node.names}
            if module.endswith("catalog.store") or (module.endswith("catalog") and "store" in names):
                found.append(f"{where(path)}:{node.lineno} imports catalog.store")
        elif isinstance(node, ast.Import):
            found += [f"{where(path)}:{node.lineno} imports catalog.store" for a in node.names
                      if a.name.endswith("catalog.store")]
        elif isinstance(node, ast.Attribute) and node.attr == "store":
            found.append(f"{where(path)}:{node.lineno} .store")
    return found


def test_feature_packages_use_their_ports_not_the_store():
    found = [hit for package in FEATURE_PACKAGES if (SRC / package).is_dir()
             for path in modules(SRC / package) for hit in store_reaches(path)]
    assert not found, "feature packages reaching the store (declare the operation in the package's port):\n" + "\n".join(found)


def test_the_store_check_sees_planted_reaches(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text("from ..catalog.store import CatalogStore\nfrom ..catalog import store\nimport productlens.catalog.store\n\n"
                       "def f(catalog):\n    return catalog.store.get_meta('x')\n")
    assert [hit.split(" ", 1)[1] for hit in store_reaches(planted)] == ["imports catalog.store"] * 3 + [".store"]
