"""The package's layers, checked on the source: no upward imports, no import cycles.

vident is built in layers; a module may import its own layer and the ones below, never one
above. Lower layers stay usable (and testable) without the machinery above them, and a change
to the command line or the web API can never break decoding or hashing.

==========  =====================================================================
layer       packages and modules
==========  =====================================================================
0 base      ``vident`` (the package itself), ``vident.config`` (the injected settings
            every layer reads; it imports nothing of vident)
1 media     ``vident.media``: decoding, EXIF, video, the models
2 signals   ``vident.signals``: one class per kind, computed from decoded media
3 data      ``vident.store``, ``vident.index``: what is kept, and its caches
4 domain    ``vident.ingest``, ``vident.match``, ``vident.cases``, ``vident.exchange``
            (hash-list formats and export read and write what the store keeps, so they sit
            above it; the record types the store imports live in ``vident.store``)
5 service   ``vident.service``, ``vident.security``: the use cases every interface shares
6 ui        ``vident.cli*``, ``vident.web``, ``vident.demo``, ``vident.progress`` (a Rich
            progress bar: terminal output), ``vident.__main__``
==========  =====================================================================

Every import counts: at module level, inside functions and under ``TYPE_CHECKING``. An import
deferred into a function still ties the two modules together in design, so cycles are looked
for over all of them, module by module and package by package within the domain layer.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"

#: Layer of each package or module; the longest matching dotted prefix wins.
LAYERS: dict[str, int] = {
    "vident": 0,
    "vident.config": 0,
    "vident.media": 1,
    "vident.signals": 2,
    "vident.store": 3,
    "vident.index": 3,
    "vident.ingest": 4,
    "vident.match": 4,
    "vident.cases": 4,
    "vident.exchange": 4,
    "vident.service": 5,
    "vident.security": 5,
    "vident.cli": 6,
    "vident.cli_links": 6,
    "vident.cli_text": 6,
    "vident.cli_admin": 6,
    "vident.cli_base": 6,
    "vident.cli_serve": 6,
    "vident.cli_cases": 6,
    "vident.cli_peers": 6,
    "vident.web": 6,
    "vident.demo": 6,
    "vident.progress": 6,
    "vident.__main__": 6,
}

#: Imports allowed to break the rules, as (importer, imported) module pairs: none.
ALLOWED: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted((SRC / "vident").rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> Iterator[Import]:
    """Every vident module ``path`` imports, wherever the import statement is."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            # ``from vident.match import camera`` imports the module vident.match.camera.
            targets = [
                f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in known else stem
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in known:  # ``import vident.media.x.y`` -> the module
                target = target.rpartition(".")[0]
            if target.startswith("vident") and target != name:
                yield Import(name, target, node.lineno)


def import_graph() -> list[Import]:
    modules = all_modules()
    known = set(modules)
    return [found for name, path in modules.items() for found in imports_of(name, path, known)]


def layer_of(module: str) -> int:
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in LAYERS:
            return LAYERS[prefix]
    raise AssertionError(f"{module} has no layer: add it to LAYERS and the docstring")


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one member (iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                members = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == node:
                        break
                if len(members) > 1:
                    found.append(sorted(members))
    return found


def test_every_module_has_a_layer() -> None:
    for name in all_modules():
        layer_of(name)


def test_no_module_imports_a_higher_layer() -> None:
    upward = [
        f"{i.importer} (layer {layer_of(i.importer)}) imports {i.imported} "
        f"(layer {layer_of(i.imported)}) at line {i.line}"
        for i in import_graph()
        if layer_of(i.imported) > layer_of(i.importer) and (i.importer, i.imported) not in ALLOWED
    ]
    assert upward == []


def test_no_import_cycles_between_modules() -> None:
    graph: dict[str, set[str]] = {name: set() for name in all_modules()}
    for found in import_graph():
        if (found.importer, found.imported) not in ALLOWED:
            graph[found.importer].add(found.imported)
    assert strongly_connected(graph) == []


def package_of(module: str) -> str:
    """``vident.match.probe`` -> ``vident.match``; top-level modules stand for themselves."""
    parts = module.split(".")
    return ".".join(parts[:2])


def test_no_import_cycles_between_packages() -> None:
    """Packages of one layer may use each other, but only one way round."""
    graph: dict[str, set[str]] = {package_of(name): set() for name in all_modules()}
    for found in import_graph():
        if (found.importer, found.imported) in ALLOWED:
            continue
        source, target = package_of(found.importer), package_of(found.imported)
        if source != target and target != "vident":
            graph[source].add(target)
    assert strongly_connected(graph) == []


def test_domain_packages_do_not_reach_into_ingest() -> None:
    """Matching a query file computes its signals as ingest does, through the signals layer:
    nothing else depends on the ingest pipeline's internals (its workers, its pool)."""
    reaching = sorted(
        f"{i.importer} imports {i.imported}"
        for i in import_graph()
        if i.imported.startswith("vident.ingest")
        and layer_of(i.importer) == layer_of("vident.ingest")
        and not i.importer.startswith("vident.ingest")
    )
    assert reaching == []


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
        ({"a": {"b"}, "b": {"a"}, "c": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d"}}, [["a", "b", "c"]]),
    ],
)
def test_cycle_finder_finds_cycles(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    """The checker itself: a cycle it cannot see would make the tests above pass vacuously."""
    assert strongly_connected(graph) == expected


def test_checker_sees_imports_inside_functions_and_type_checking(tmp_path: Path) -> None:
    path = tmp_path / "mod.py"
    path.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from vident.store.models import Media\n"
        "def f() -> None:\n    from vident.match import probe\n    import vident.cli\n",
        encoding="utf-8",
    )
    known = {"vident.store.models", "vident.match", "vident.match.probe", "vident.cli"}
    found = {i.imported for i in imports_of("vident.media.x", path, known)}
    assert found == {"vident.store.models", "vident.match.probe", "vident.cli"}
