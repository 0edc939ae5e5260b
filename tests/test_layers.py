"""The packages of src/livereport/ import along the layers the README's "Layers" section
lists, and no module is part of an import cycle (issue 20). Imports made only for type
checking or inside functions count too: they are dependencies all the same."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / "livereport"
_LAYER = re.compile(r"^\d+\. ((?:`[\w.]+`(?:, )?)+) — ", re.MULTILINE)


def layers() -> list[set[str]]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Layers", 1)[1].split("\n## ", 1)[0]
    return [set(re.findall(r"`([\w.]+)`", found)) for found in _LAYER.findall(section)]


def modules() -> dict[str, Path]:
    found = {}
    for path in SOURCE.rglob("*.py"):
        parts = path.relative_to(SOURCE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(("livereport", *parts))] = path
    return found


def imports() -> dict[str, set[str]]:
    """Each module's imports of other livereport modules (a name imported from a package
    counts as its module when there is one)."""
    known = modules()
    edges: dict[str, set[str]] = defaultdict(set)
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(
                        [*package.split(".")[: len(package.split(".")) - node.level + 1], base]
                    ).strip(".")
                targets = [f"{base}.{a.name}" for a in node.names] + [base]
            for target in targets:
                while target and target not in known:
                    target = target.rpartition(".")[0]
                if target and target not in (name, "livereport"):
                    edges[name].add(target)
    return edges


def unit(module: str) -> str:
    return module.split(".")[1]


def test_the_readme_names_every_package_once() -> None:
    listed = [u for layer in layers() for u in layer]
    assert len(listed) == len(set(listed)), listed
    present = {unit(m) for m in modules() if m != "livereport"}
    assert present == set(listed), (
        f"not in the README's layers: {sorted(present - set(listed))}; "
        f"listed but absent: {sorted(set(listed) - present)}"
    )


def test_each_package_imports_only_the_layers_above_it() -> None:
    level = {u: i for i, layer in enumerate(layers()) for u in layer}
    wrong = sorted(
        f"{module} imports {target} ({unit(module)} is layer {level[unit(module)] + 1}, "
        f"{unit(target)} layer {level[unit(target)] + 1})"
        for module, targets in imports().items()
        for target in targets
        if unit(module) != unit(target) and level[unit(target)] >= level[unit(module)]
    )
    assert not wrong, "\n".join(wrong)


def test_no_module_is_part_of_an_import_cycle() -> None:
    edges = imports()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(modules()):
        if module not in index:
            visit(module)
    assert not cycles, cycles
