"""The import graph of `opendfa` follows the layer order of docs/ARCHITECTURE.md, and no
module imports itself back through others (no module-level circle)."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "opendfa"
ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"


def _layers() -> dict[str, int]:
    """Unit name -> layer number, from the numbered list of the architecture page."""
    layers = {}
    for line in ARCHITECTURE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"(\d+)\. (.*)", line)
        if match:
            for name in re.findall(r"`([\w.]+)`", match.group(2)):
                layers[name] = int(match.group(1))
    return layers


def _unit(module: str) -> str | None:
    """The layer unit of a dotted module name: `opendfa.x.y` -> `x`; the root -> `opendfa`."""
    parts = module.split(".")
    if parts[0] != "opendfa":
        return None
    return parts[1] if len(parts) > 1 else "opendfa"


def _module_name(path: Path, package_dir: Path = PACKAGE) -> tuple[str, str]:
    """(module name, package used for relative imports) of a source file."""
    parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
        return ".".join(parts), ".".join(parts)
    return ".".join(parts), ".".join(parts[:-1])


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, at any depth (functions, methods, branches), plus the
    module names of a lazy `_EXPORTS` table."""
    package = _module_name(path)[1] if PACKAGE in path.parents else "opendfa"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = _from_module(node, package)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
        else:
            found.update(_lazy_exports(node).values())
    return found


def _from_module(node: ast.ImportFrom, package: str) -> str:
    """The absolute module name of `from X import ...`, relative imports resolved against
    `package` (the importing file's package)."""
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    base = parts[: len(parts) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _lazy_exports(node: ast.AST) -> dict[str, str]:
    """Name -> module of a package's lazy `_EXPORTS = {...}` table, if `node` assigns one."""
    if not (
        isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "_EXPORTS" for t in node.targets)
        and isinstance(node.value, ast.Dict)
    ):
        return {}
    return {
        key.value: value.value
        for key, value in zip(node.value.keys, node.value.values, strict=True)
        if isinstance(key, ast.Constant) and isinstance(value, ast.Constant)
    }


def _edges() -> dict[str, dict[str, list[str]]]:
    """unit -> unit it imports -> files where it does."""
    edges: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(PACKAGE.rglob("*.py")):
        module, _ = _module_name(path)
        source = _unit(module)
        for imported in _imports(path):
            target = _unit(imported)
            if target and target != source:
                edges[source][target].append(str(path.relative_to(PACKAGE)))
    return edges


def test_every_unit_has_a_layer():
    layers = _layers()
    units = {_unit(_module_name(p)[0]) for p in PACKAGE.rglob("*.py")}
    assert not units - set(layers), f"add these to docs/ARCHITECTURE.md: {units - set(layers)}"


def test_no_import_points_up_the_layers():
    layers = _layers()
    upward = [
        f"{source} (layer {layers[source]}) -> {target} (layer {layers[target]}) in {files[0]}"
        for source, targets in _edges().items()
        for target, files in targets.items()
        if layers.get(target, 0) > layers.get(source, 0)
    ]
    assert not upward, "\n".join(sorted(upward))


def _cycles(edges: Mapping[str, Iterable[str]]) -> list[str]:
    """One "a -> b -> a" line per back edge found by a depth-first walk of `edges`."""
    state: dict[str, int] = {}  # 1: on the walk's current path, 2: done
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*stack[stack.index(target) :], target]))
            elif target not in state:
                visit(target, [*stack, target])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return cycles


# ----------------------------------------------------------------------------- module graph


def _is_type_checking(test: ast.expr) -> bool:
    """`if TYPE_CHECKING:` or `if typing.TYPE_CHECKING:`."""
    if isinstance(test, ast.Attribute):
        return test.attr == "TYPE_CHECKING"
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of `tree` that can run, function bodies included: all but the body of an
    `if TYPE_CHECKING:` block (its `else:` runs, so it counts)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
        else:
            stack.extend(ast.iter_child_nodes(node))


def _modules(package_dir: Path) -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the package at `package_dir`."""
    return {_module_name(p, package_dir)[0]: p for p in sorted(package_dir.rglob("*.py"))}


def _module_graph(package_dir: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports at run time (any depth, `TYPE_CHECKING`
    blocks left out). `from pkg import name` points at the submodule `pkg.name` if there is
    one, else at the module a lazy `_EXPORTS` table takes `name` from, else at `pkg`; a
    package's `_EXPORTS` table counts as imports of its `__init__`."""
    modules = _modules(package_dir)
    exports = {name: _exports_of(path) for name, path in modules.items()}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = _module_name(path, package_dir)[1]
        targets = set(exports[name].values())
        for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                source = _from_module(node, package)
                for alias in node.names:
                    submodule = f"{source}.{alias.name}"
                    lazy = exports.get(source, {}).get(alias.name)
                    targets.add(submodule if submodule in modules else lazy or source)
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def _exports_of(path: Path) -> dict[str, str]:
    """The lazy `_EXPORTS` table of a package's `__init__` (empty for any other module)."""
    if path.name != "__init__.py":
        return {}
    tables = [_lazy_exports(node) for node in ast.parse(path.read_text(encoding="utf-8")).body]
    return {name: module for table in tables for name, module in table.items()}


def test_no_cycle_between_subpackages():
    cycles = _cycles(_edges())
    assert not cycles, "\n".join(cycles)


def test_no_cycle_between_modules():
    """A circle of imports, even one broken by an import inside a function, makes the order
    modules load in matter and ties two modules into one: move what both need below both."""
    cycles = _cycles(_module_graph(PACKAGE))
    assert not cycles, "\n".join(cycles)


def test_the_module_scan_finds_circles_and_ignores_type_checking(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    files = {
        "__init__.py": "",
        "a.py": "from .b import helper\n",  # relative, at the top
        "b.py": "def helper():\n    from pkg.a import thing\n",  # back, inside a function
        "c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.d import D\n",
        "d.py": "from pkg import c\n",
    }
    for name, text in files.items():
        (package / name).write_text(text)
    graph = _module_graph(package)
    assert graph["pkg.a"] == {"pkg.b"} and graph["pkg.b"] == {"pkg.a"}
    assert graph["pkg.c"] == set() and graph["pkg.d"] == {"pkg.c"}
    assert _cycles(graph) == ["pkg.a -> pkg.b -> pkg.a"]


def test_the_scan_sees_imports_inside_functions(tmp_path):
    source = tmp_path / "probe.py"
    source.write_text("def f():\n    from opendfa.bench.runner import run_bench\n")
    assert "opendfa.bench.runner" in _imports(source)


def test_forensics_sits_below_evidence_and_relies_on_media_only():
    layers = _layers()
    assert layers["forensics"] < layers["evidence"]
    assert set(_edges().get("forensics", {})) <= {"opendfa", "_lazy", "media"}
