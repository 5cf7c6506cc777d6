"""The house's rules, read from the code's imports: no module imports a layer above its own, and
the module-level imports form no cycle."""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "newsletter"

# Lowest first. A module may import its own layer or a lower one (imports inside functions too).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("models", "settings", "setting_values", "taxonomy", "files", "logs", "clock", "backoff", "templates"),
    ("db",),
    ("fetch", "ranking", "render", "mail"),
    # channels: chat channels are readers without an address (their file reads criteria like the
    # roster's, their posts go through Apprise): beside the readers, below the daily cycle.
    ("readers", "channels"),
    ("web",),
    ("daily",),
    ("service",),
    ("cli", "__main__"),
)
LAYER_OF = {part: number for number, parts in enumerate(LAYERS) for part in parts}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, *, top_level_only: bool) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from package import module` imports that module (the package is only its folder)
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            submodules = [name for name in names if name in _modules()]
            yield from submodules or [node.module]
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


@functools.cache
def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) == 1:  # the package itself (`from newsletter import __version__`)
        return 0
    return LAYER_OF[parts[1]]


def test_every_module_belongs_to_a_layer() -> None:
    unknown = {name.split(".")[1] for name in _modules() if "." in name} - set(LAYER_OF)
    assert not unknown, f"add these to LAYERS in {Path(__file__).name}: {sorted(unknown)}"


def test_no_module_imports_a_layer_above_its_own() -> None:
    modules = _modules()
    upward = {
        module: sorted({
            target
            for target in _imports(path, top_level_only=False)
            if target in modules and target != "newsletter" and _layer(target) > _layer(module)
        })
        for module, path in modules.items()
        if module != "newsletter"
    }
    assert not {module: targets for module, targets in upward.items() if targets}


def test_module_level_imports_have_no_cycle() -> None:
    modules = _modules()
    graph = {
        name: {t for t in _imports(path, top_level_only=True) if t in modules and t != name}
        for name, path in modules.items()
    }
    done: set[str] = set()

    def visit(name: str, trail: tuple[str, ...]) -> None:
        if name in trail:
            cycle = " → ".join((*trail[trail.index(name):], name))
            pytest.fail(f"import cycle: {cycle}")
        if name in done:
            return
        for target in sorted(graph[name]):
            visit(target, (*trail, name))
        done.add(name)

    for name in sorted(graph):
        visit(name, ())
