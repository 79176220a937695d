"""The import graph of `opendfa` follows the layer order of docs/ARCHITECTURE.md."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
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


def _module_name(path: Path) -> tuple[str, str]:
    """(module name, package used for relative imports) of a source file."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
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
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "_EXPORTS" for t in node.targets)
            and isinstance(node.value, ast.Dict)
        ):
            found.update(
                v.value
                for v in node.value.values
                if isinstance(v, ast.Constant) and isinstance(v.value, str)
            )
    return found


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


def test_no_cycle_between_subpackages():
    edges = _edges()
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for target in edges.get(node, {}):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*stack[stack.index(target) :], target]))
            elif target not in state:
                visit(target, [*stack, target])
        state[node] = 2

    for node in list(edges):
        if node not in state:
            visit(node, [node])
    assert not cycles, "\n".join(cycles)


def test_the_scan_sees_imports_inside_functions(tmp_path):
    source = tmp_path / "probe.py"
    source.write_text("def f():\n    from opendfa.bench.runner import run_bench\n")
    assert "opendfa.bench.runner" in _imports(source)


def test_forensics_sits_below_evidence_and_relies_on_media_only():
    layers = _layers()
    assert layers["forensics"] < layers["evidence"]
    assert set(_edges().get("forensics", {})) <= {"opendfa", "_lazy", "media"}
