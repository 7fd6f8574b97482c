"""The layers of docs/architecture.md, kept true: imports run only downhill.

Each top-level module or package of `rollover` has a rank; a module may import from lower ranks, and
from its own rank only among the plain domain modules. So the API client never depends on the
controller, the planner never on the cluster, `rollover-job` never on the operator, and nothing in
the package on tests or benchmarks. Inside `controller/` and `cli/` their modules are ranked the same
way, and no module imports another's private names.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "operator" / "rollover"
TESTS = REPO / "tests"
ARCHITECTURE = REPO / "docs" / "architecture.md"

#: The layers, lowest first (docs/architecture.md draws the same picture; a test keeps it so).
LAYERS: tuple[tuple[str, frozenset[str]], ...] = (
    ("api", frozenset({"__init__", "api", "catalog"})),
    (
        "domain",
        frozenset(
            {
                "calendar",
                "claims",
                "conditions",
                "config",
                "csv_import",
                "documents",
                "findings",
                "labels",
                "logs",
                "notice_text",
                "notices",
                "observed",
                "pydantic_findings",
                "readiness",
                "reasons",
                "roll_forward",
                "selectors",
                "validation",
                "yamledit",
            }
        ),
    ),
    ("decisions", frozenset({"planner", "jobs"})),
    ("writes", frozenset({"cluster"})),
    ("controller", frozenset({"controller"})),
    ("harness", frozenset({"devcluster"})),
    ("entry points", frozenset({"cli"})),
)
#: Modules of one layer that may import each other (the plain domain modules build on one another).
PEERS_MAY_IMPORT = frozenset({"api", "domain"})
#: Inside these packages the same rule holds among their modules, lowest first: what is retried and
#: how long to wait sits below every controller module that retries; a command never imports another
#: command, only what the commands share.
INNER_LAYERS: dict[str, tuple[frozenset[str], ...]] = {
    "controller": (
        frozenset({"__init__", "clock", "metrics", "retry"}),
        frozenset({"cache", "informer", "leader", "notifier"}),
        frozenset({"reconciler"}),
        frozenset({"handlers"}),
    ),
    "cli": (
        frozenset({"__init__", "arguments", "explanations", "kubectl", "reporting", "tables"}),
        frozenset({"status_text"}),
        frozenset(
            {
                "dev_cluster_cmd",
                "kubectl_plugin",
                "lint_cmd",
                "new_cmd",
                "operator_cmd",
                "plan_cmd",
                "roll_forward_cmd",
                "schema_cmd",
                "set_date_cmd",
                "verify_certificate_cmd",
            }
        ),
        frozenset({"main"}),
    ),
}


def _unit_of(module: str) -> str:
    """`rollover.controller.cache` -> `controller`; `rollover.planner` -> `planner`; `rollover` ->
    `__init__`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _rank(unit: str) -> tuple[int, str]:
    for rank, (layer, units) in enumerate(LAYERS):
        if unit in units:
            return rank, layer
    raise AssertionError(f"{unit} is in no layer of LAYERS: add it (and to docs/architecture.md)")


def _root_of(path: Path) -> Path:
    """The folder that `path`'s top-level package sits in (`operator/` for `rollover`)."""
    return PACKAGE.parent if path.is_relative_to(PACKAGE.parent) else REPO


def _is_module(dotted: str, root: Path) -> bool:
    folder = root.joinpath(*dotted.split("."))
    return folder.with_suffix(".py").exists() or folder.is_dir()


def _imports(path: Path) -> set[str]:
    """The modules `path` imports; `from x import y` counts as `x.y` where y is a module, and a relative
    import as the absolute one it stands for."""
    root = _root_of(path)
    package = list(path.relative_to(root).parent.parts)
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found |= {
                f"{module}.{alias.name}" if _is_module(f"{module}.{alias.name}", root) else module
                for alias in node.names
            }
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


def _module_units() -> dict[Path, str]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        out[path] = _unit_of(".".join(relative.parts))
    return out


def _drawn_layers() -> list[tuple[str, set[str]]]:
    """The layers as docs/architecture.md draws them (highest first there), lowest first: each row a
    layer's name, two spaces, its modules; a row with no name goes on with the layer above it; words in
    parentheses describe."""
    drawing = ARCHITECTURE.read_text(encoding="utf-8").split("## Layers", 1)[1].split("```")[1]
    rows: list[tuple[str, set[str]]] = []
    for line in drawing.strip("\n").splitlines():
        name, _, modules = line.partition("  ")
        if name:
            rows.append((name, set()))
        named = re.sub(r"\(.*?\)", "", modules).split()
        rows[-1][1].update(m.removesuffix("/").removesuffix(".py") for m in named)
    return rows[::-1]


def test_the_architecture_drawing_names_the_modules_of_each_layer() -> None:
    assert _drawn_layers() == [(layer, set(units)) for layer, units in LAYERS]


def test_every_module_is_in_a_layer() -> None:
    for unit in set(_module_units().values()):
        _rank(unit)


def test_imports_run_only_downhill() -> None:
    uphill = []
    for path, unit in _module_units().items():
        rank, layer = _rank(unit)
        for module in _imports(path):
            if not module.startswith("rollover.") and module != "rollover":
                continue
            target = _unit_of(module)
            if target == unit:
                continue
            target_rank, _ = _rank(target)
            if target_rank > rank or (target_rank == rank and layer not in PEERS_MAY_IMPORT):
                uphill.append(f"{path.relative_to(PACKAGE.parent)} imports {module}")
    assert uphill == []


@pytest.mark.parametrize("package", sorted(INNER_LAYERS))
def test_inside_a_package_imports_run_only_downhill(package: str) -> None:
    rank = {name: r for r, names in enumerate(INNER_LAYERS[package]) for name in names}
    modules = sorted((PACKAGE / package).glob("*.py"))
    assert {path.stem for path in modules} == set(rank), f"add each module of {package}/ to INNER_LAYERS"
    uphill = [
        f"{package}/{path.name} imports {module}"
        for path in modules
        for module in _imports(path)
        if module.startswith(f"rollover.{package}.")
        and (target := module.split(".")[2]) != path.stem
        and rank[target] >= rank[path.stem]
    ]
    assert uphill == []


def test_the_package_imports_no_private_names_of_other_modules() -> None:
    # A helper two modules need is public, in a module both may import (as cli/tables.py is for
    # `rollover plan` and `kubectl rollover`).
    offenders = [
        f"{path.relative_to(PACKAGE.parent)} imports {node.module}.{alias.name}"
        for path in _module_units()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]
    assert offenders == []


def test_the_package_imports_no_tests_or_benchmarks() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE.parent)} imports {module}"
        for path in _module_units()
        for module in _imports(path)
        if module.split(".")[0] in {"tests", "benchmarks"}
    ]
    assert offenders == []


def test_only_the_benchmark_smoke_tests_import_benchmarks() -> None:
    # Harness code lives in rollover.devcluster; a test that needs a benchmark's helper means the
    # helper is in the wrong place.
    offenders = [
        f"{path.relative_to(TESTS)} imports {module}"
        for path in sorted(TESTS.rglob("*.py"))
        if not path.name.endswith("bench_smoke.py")
        for module in _imports(path)
        if module.split(".")[0] == "benchmarks"
    ]
    assert offenders == []
