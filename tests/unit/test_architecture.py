"""The shape of the code: no import cycles (function-level imports included), piad/ stands alone,
and the unit tests mirror the source (one ``tests/unit/<path>/test_<module>.py`` per module)."""

from __future__ import annotations

import ast
from pathlib import Path

from paths import ROOT

PACKAGES = ("piad", "baselines", "benchmarks")


UNIT = ROOT / "tests" / "unit"
#: unit test files that test no one module: the package layout itself and the README
CROSS_CUTTING = {"test_architecture.py", "test_readme.py"}
#: test file stems of the modules whose names are not test_<name>
SPECIAL_STEMS = {"__init__": "test_init", "__main__": "test_main"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    return {
        module_name(p): p
        for package in PACKAGES
        for p in (ROOT / package).rglob("*.py")
        if "__pycache__" not in p.parts
    }


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """Project modules imported anywhere in the file (top level, functions, TYPE_CHECKING
    blocks excluded: they never run)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for n in ast.walk(node)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    graph = {}
    for name, path in modules.items():
        # importing a submodule imports its parents (package __init__ files) first
        deps = imports_of(path, modules)
        graph[name] = {d for d in deps if d != name and not name.startswith(d + ".")}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycle_among_the_project_modules():
    cycle = find_cycle(import_graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_piad_imports_nothing_from_benchmarks_or_baselines():
    graph = import_graph()
    bad = {
        (m, d)
        for m, deps in graph.items()
        if m.split(".")[0] == "piad"
        for d in deps
        if d.split(".")[0] in ("benchmarks", "baselines")
    }
    assert not bad, sorted(bad)


def has_logic(path: Path) -> bool:
    """Whether a module defines a function or a class (re-exports and entry shims do not)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return any(isinstance(node, kinds) for node in tree.body)


def unit_test_file(module: Path) -> Path:
    """``piad/training/data.py`` -> ``tests/unit/piad/training/test_data.py``."""
    rel = module.relative_to(ROOT)
    stem = SPECIAL_STEMS.get(rel.stem, f"test_{rel.stem}")
    return UNIT / rel.parent / f"{stem}.py"


def test_every_module_with_logic_has_its_unit_test_file():
    modules = sorted(p for p in project_modules().values() if has_logic(p))
    missing = [str(p.relative_to(ROOT)) for p in modules if not unit_test_file(p).is_file()]
    assert len(modules) > 100  # the packages were found
    assert not missing, f"modules without tests/unit/<path>/test_<name>.py: {missing}"


def test_every_unit_test_file_names_an_existing_module():
    stems = {v: k for k, v in SPECIAL_STEMS.items()}
    orphans = []
    for test in sorted(UNIT.rglob("test_*.py")):
        if test.relative_to(UNIT).as_posix() in CROSS_CUTTING:
            continue
        module = stems.get(test.stem, test.stem.removeprefix("test_"))
        source = ROOT / test.parent.relative_to(UNIT) / f"{module}.py"
        if not source.is_file():
            orphans.append(str(test.relative_to(ROOT)))
    assert not orphans, f"unit test files with no module of that path and name: {orphans}"


def test_the_mirror_maps_names_both_ways():
    assert unit_test_file(ROOT / "piad" / "training" / "data.py") == (
        UNIT / "piad" / "training" / "test_data.py"
    )
    assert unit_test_file(ROOT / "benchmarks" / "figures" / "__main__.py").name == "test_main.py"
    assert unit_test_file(ROOT / "piad" / "cli" / "__init__.py").name == "test_init.py"
    assert not has_logic(ROOT / "piad" / "stats.py")  # an entry shim: nothing to test there
    assert has_logic(ROOT / "piad" / "weighting.py")
