"""The layout holds: the top-level packages import each other in one direction, and the product never imports the
simulators.

Imports are read with ``ast`` from every module of the product, lazy ones (inside functions) included. The project's
wiring modules may import every app (as NetBox's project package does) and are left out; so are migrations, which
Django generates. A lower package reaches a higher one only through a signal, a registry (controlplane.extensions) or a
string model reference, never an import.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Lowest first: each package may import only packages before it in this list.
ORDER = ["gitops", "controlplane", "access", "graph", "alerts", "playbooks", "jit", "api"]
SIMULATOR = "simulator"
PACKAGES = [*ORDER, SIMULATOR]

# Project wiring: settings, URL map, WSGI entry point and the periodic-job table import every app by design.
WIRING = {"controlplane/settings.py", "controlplane/urls.py", "controlplane/wsgi.py", "controlplane/cron.py"}
# The one product module allowed to import the simulators: the `manage.py simulator` command that starts them.
SIMULATOR_ENTRY = {"controlplane/management/commands/simulator.py"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_only(tree: ast.AST) -> set[int]:
    """Ids of the import nodes under ``if TYPE_CHECKING:`` (read by type checkers, never run)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            found |= {id(child) for stmt in node.body for child in ast.walk(stmt)}
    return found


def _imported_modules(path: Path, name: str | None = None, *, runtime_only: bool = False) -> list[tuple[int, str]]:
    """Every module the file imports (absolute names; relative imports resolved), lazy imports included;
    ``runtime_only`` leaves out the imports made for type checkers only."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = (name or _module_name(path)).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    skip = _type_only(tree) if runtime_only else set()
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                module = ".".join(package[: len(package) - (node.level - 1)] + ([module] if module else []))
            # `from a import b` names module a.b when it exists, else the name b inside a (resolved by the caller).
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def _product_files():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if "/migrations/" in relative or relative in WIRING:
                continue
            yield relative, path


def package_imports() -> dict[tuple[str, str], list[str]]:
    """(importing package, imported package) → the import sites, across top-level packages only."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for relative, path in _product_files():
        source = relative.split("/")[0]
        for line, module in _imported_modules(path):
            target = module.split(".")[0]
            if target in PACKAGES and target != source:
                edges[(source, target)].append(f"{relative}:{line} imports {module}")
    return edges


def test_packages_import_downwards_only():
    rank = {name: i for i, name in enumerate(ORDER)}
    upward = [
        site
        for (source, target), sites in package_imports().items()
        if source in rank and target in rank and rank[target] > rank[source]
        for site in sites
    ]
    assert not upward, "a lower package imports a higher one (use a signal or controlplane.extensions):\n" + \
        "\n".join(upward)


def test_product_never_imports_the_simulator():
    sites = [
        site
        for (source, target), found in package_imports().items()
        if target == SIMULATOR and source != SIMULATOR
        for site in found
        if site.split(":")[0] not in SIMULATOR_ENTRY
    ]
    assert not sites, "the product imports the simulator:\n" + "\n".join(sites)


def test_simulator_imports_only_gitops():
    sites = [site for (source, target), found in package_imports().items()
             if source == SIMULATOR and target != "gitops" for site in found]
    assert not sites, "the simulator imports the product beyond gitops:\n" + "\n".join(sites)


def test_no_import_circle_between_packages():
    edges = {pair for pair in package_imports() if SIMULATOR not in pair}
    assert not _cycles(edges), f"import circles between top-level packages: {_cycles(edges)}"


def _cycles(edges: set[tuple[str, str]]) -> list[list[str]]:
    """Every elementary circle found by a depth-first walk (enough to report; the graphs are small)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for source, target in edges:
        graph[source].add(target)
    circles: list[list[str]] = []

    def walk(node: str, stack: list[str]) -> None:
        for nxt in sorted(graph[node]):
            if nxt == stack[0]:
                circles.append([*stack, nxt])
            elif nxt not in stack and nxt > stack[0]:
                walk(nxt, [*stack, nxt])

    for start in sorted(graph):
        walk(start, [start])
    return circles


def module_imports() -> set[tuple[str, str]]:
    """(module, module it imports) for every pair of product modules, lazy imports included; imports for type
    checkers only are left out (they never run, so they cannot make an import-time circle)."""
    modules = {_module_name(path): relative for relative, path in _product_files()}
    edges = set()
    for _relative, path in _product_files():
        source = _module_name(path)
        for _line, module in _imported_modules(path, runtime_only=True):
            while module and module not in modules:
                module = module.rpartition(".")[0]
            if module and module != source:
                edges.add((source, module))
    return edges


def test_no_import_circle_between_modules():
    """Models do not import the modules that use them. A module importing its own enclosing package is not counted:
    Python has already run that package's ``__init__`` before the module (the package re-exports it)."""
    edges = {(a, b) for a, b in module_imports() if not a.startswith(b + ".")}
    assert not _cycles(edges), "import circles between modules:\n" + "\n".join(" → ".join(c) for c in
                                                                                _cycles(edges))


def test_the_reader_sees_lazy_and_relative_imports(tmp_path):
    """A lazy import inside a function or a relative import cannot hide an arrow from the checks above."""
    path = tmp_path / "objects.py"
    path.write_text("from typing import TYPE_CHECKING\nfrom . import filters\nfrom ..models import Edge\n\n"
                    "if TYPE_CHECKING:\n    from jit.models import Grant\n\n\ndef f():\n"
                    "    from alerts import health\n    import playbooks.models\n")
    everything = [module for _line, module in _imported_modules(path, "graph.admin.objects")]
    assert everything == ["typing.TYPE_CHECKING", "graph.admin.filters", "graph.models.Edge", "jit.models.Grant",
                          "alerts.health", "playbooks.models"]
    runtime = [module for _line, module in _imported_modules(path, "graph.admin.objects", runtime_only=True)]
    assert runtime == [m for m in everything if m != "jit.models.Grant"]
    edges = {("graph", "alerts"), ("alerts", "graph"), ("gitops", "controlplane")}
    assert _cycles(edges) == [["alerts", "graph", "alerts"]]
