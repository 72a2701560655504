"""The library's layers as docs/architecture.md states them: every module imports (at module level or inside a
function) only from its own layer and the layers listed above it, and the imports between modules form no cycle."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "srrepro"


def _layers() -> list[tuple[str, list[str]]]:
    """(layer, module-name prefixes) of the Layers table, top first: `data/` → 'srrepro.data.', `cli.py` → 'srrepro.cli'."""
    section = (REPO / "docs" / "architecture.md").read_text().split("## Layers", 1)[1].split("\n## ", 1)[0]
    layers = []
    for row in re.findall(r"^\| ([^|]+) \| ([^|]+) \|", section, re.M)[1:]:  # [0]: the header
        prefixes = []
        for item in re.findall(r"`([^`]+)`", row[1]):
            name = "srrepro." + item.removesuffix(".py").replace("/", ".").rstrip(".")
            prefixes.append("srrepro" if item == "__init__.py" else name)
        layers.append((row[0].strip(), prefixes))
    return layers


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Module → the srrepro modules it imports (``from srrepro.x import y`` names module ``srrepro.x.y`` if it is one)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("srrepro"):
                found |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                          for a in node.names}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("srrepro")}
        graph[name] = found - {name}
    return graph


def _layer_of(module: str, layers) -> int:
    matches = [(len(prefix), index) for index, (_, prefixes) in enumerate(layers) for prefix in prefixes
               if module == prefix or (prefix != "srrepro" and module.startswith(prefix + "."))]
    if not matches:
        pytest.fail(f"module {module} is in no layer of docs/architecture.md: add it to the Layers table")
    return max(matches)[1]


def test_every_module_imports_only_from_its_layer_and_the_layers_above():
    layers = _layers()
    assert [name for name, _ in layers][:2] == ["foundation", "imaging"] and layers[-1][0] == "command line"
    graph = _imports()
    wrong = [f"{module} ({layers[_layer_of(module, layers)][0]}) imports {imported} "
             f"({layers[_layer_of(imported, layers)][0]})"
             for module, imported_modules in sorted(graph.items()) for imported in sorted(imported_modules)
             if _layer_of(imported, layers) > _layer_of(module, layers)]
    assert not wrong, "imports against the layer order:\n" + "\n".join(wrong)


def test_the_imports_form_no_cycle():
    graph = _imports()
    state: dict[str, int] = {}

    def visit(module: str, path: tuple[str, ...]) -> None:
        state[module] = 1
        for imported in sorted(graph.get(module, ())):
            if state.get(imported) == 1:
                pytest.fail("import cycle: " + " -> ".join((*path[path.index(imported):], imported)))
            if imported not in state:
                visit(imported, (*path, imported))
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, (module,))
