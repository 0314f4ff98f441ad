"""The layers keep their direction: state changes, rules and jobs know no HTTP (no `litestar` import)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HTTP_FREE = ("app/actions", "app/domain", "workers")


def imported_modules(source: str) -> set[str]:
    """Every module a source imports, wherever the import is (top level, a function, `if TYPE_CHECKING`)."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def http_importers(root: Path) -> list[str]:
    """The modules under the HTTP-free folders of `root` that import litestar, as `path: module`."""
    found = []
    for folder in HTTP_FREE:
        for path in sorted((root / folder).rglob("*.py")):
            for module in sorted(imported_modules(path.read_text(encoding="utf-8"))):
                if module == "litestar" or module.startswith("litestar."):
                    found.append(f"{path.relative_to(root)}: {module}")
    return found


def test_imported_modules_sees_every_form_of_import() -> None:
    # Given imports of litestar in each form a module could use
    source = ("import litestar\nimport litestar.exceptions as errors\nfrom litestar import Request\n"
              "def f():\n    from litestar.exceptions import NotFoundException\n"
              "if TYPE_CHECKING:\n    from litestar.datastructures import UploadFile\n"
              "from . import litestar_like\nfrom app.actions import errors\n")
    # When / Then
    assert imported_modules(source) == {"litestar", "litestar.exceptions", "litestar.datastructures",
                                        "app.actions"}


def test_http_importers_names_a_bad_module(tmp_path: Path) -> None:
    # Given a tree where one action imports litestar and a route does too (routes may)
    (tmp_path / "app/actions").mkdir(parents=True)
    (tmp_path / "app/domain").mkdir(parents=True)
    (tmp_path / "workers").mkdir()
    (tmp_path / "app/routes").mkdir()
    (tmp_path / "app/actions/bad.py").write_text("from litestar.exceptions import NotFoundException\n")
    (tmp_path / "app/actions/good.py").write_text("from app.actions.errors import NotFound\n")
    (tmp_path / "app/routes/cases.py").write_text("from litestar import Controller\n")
    # When / Then
    assert http_importers(tmp_path) == ["app/actions/bad.py: litestar.exceptions"]


def test_actions_domain_and_workers_know_no_http() -> None:
    # Given the project's actions, domain rules and workers (still where this test looks)
    assert all(any((ROOT / folder).rglob("*.py")) for folder in HTTP_FREE)
    # When their imports are read
    found = http_importers(ROOT)
    # Then none imports litestar: they raise app.actions.errors, which create_app maps to HTTP answers
    assert found == [], "these modules import litestar (raise app.actions.errors instead):\n" + "\n".join(found)


# --- no import cycle -------------------------------------------------------------------------------------------

LAYERED = ("app", "workers")


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path) -> dict[str, set[str]]:
    """Which project modules each module of app/ and workers/ imports, wherever the import is (a function's
    deferred import closes a cycle at run time as surely as a top-level one)."""
    paths = {module_name(root, path): path for folder in LAYERED for path in sorted((root / folder).rglob("*.py"))}

    def known(name: str) -> str | None:
        while name and name not in paths:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        targets: set[str | None] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(known(alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                # `from package import module` imports the module; `from module import name`, the module.
                targets.update(known(f"{base}.{alias.name}") if f"{base}.{alias.name}" in paths else known(base)
                               for alias in node.names)
        graph[module] = {target for target in targets if target and target != module}
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[str]:
    """One shortest cycle per group of modules that import each other, as `a -> b -> a`."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = set()
            while (member := stack.pop()) != module:
                group.add(member)
            if group:
                groups.append(group | {module})

    for module in sorted(graph):
        if module not in index:
            visit(module)
    cycles = []
    for group in groups:  # breadth first from the group's first module back to it: a shortest cycle
        start = min(group)
        path_to = {start: [start]}
        frontier, cycle = [start], []
        while not cycle:
            following = []
            for module in frontier:
                if start in graph[module]:
                    cycle = [*path_to[module], start]
                    break
                for target in sorted(graph[module] & group):
                    if target not in path_to:
                        path_to[target] = [*path_to[module], target]
                        following.append(target)
            frontier = following
        cycles.append(" -> ".join(cycle) + f"   ({len(group)} modules in this knot: {', '.join(sorted(group))})")
    return sorted(cycles)


def test_import_graph_sees_deferred_relative_and_submodule_imports(tmp_path: Path) -> None:
    # Given a package whose modules import each other in every form
    (tmp_path / "app/actions").mkdir(parents=True)
    (tmp_path / "workers").mkdir()
    (tmp_path / "app/__init__.py").write_text("")
    (tmp_path / "app/actions/__init__.py").write_text("")
    (tmp_path / "app/actions/a.py").write_text("import json\nfrom app.actions import b\n")
    (tmp_path / "app/actions/b.py").write_text("def f():\n    from .c import thing\n")
    (tmp_path / "app/actions/c.py").write_text("import app.actions.a\nfrom workers.jobs import job\n")
    (tmp_path / "workers/jobs.py").write_text("from app import actions\n")
    # When / Then
    assert import_graph(tmp_path) == {
        "app": set(), "app.actions": set(), "app.actions.a": {"app.actions.b"}, "app.actions.b": {"app.actions.c"},
        "app.actions.c": {"app.actions.a", "workers.jobs"}, "workers.jobs": {"app.actions"}}


def test_import_cycles_names_each_knot() -> None:
    # Given a cycle of three, a cycle of two and a module importing into a cycle from outside
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "x": {"y"}, "y": {"x", "a"}, "z": {"a"}}
    # When / Then
    assert [cycle.split("   ")[0] for cycle in import_cycles(graph)] == ["a -> b -> c -> a", "x -> y -> x"]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_among_app_and_workers() -> None:
    # Given the project's modules and every import they make, deferred ones included
    graph = import_graph(ROOT)
    assert {"app.actions.base", "app.formatting", "workers.broker"} <= graph.keys()
    # When the cycles are looked for
    cycles = import_cycles(graph)
    # Then there is none: a layer imports only the layers below it
    assert cycles == [], "these modules import each other (cut one arrow of each):\n" + "\n".join(cycles)


def test_the_actions_base_and_the_formatting_import_nothing_above_them() -> None:
    # Given what every action imports (`app.actions.base`) and what pages, mails and PDFs format with
    graph = import_graph(ROOT)
    # When / Then: the base knows only the errors among the actions; formatting knows no action at all
    base_imports = {module for module in graph["app.actions.base"] if module.startswith(("app.actions", "workers"))}
    assert base_imports == {"app.actions.errors"}
    assert not {module for module in graph["app.formatting"] if module.startswith(("app.actions", "workers"))}


# What each part may import among the project's own parts (ARCHITECTURE.md draws it). A module belongs to the
# longest prefix listed; the foundation (settings, i18n, formatting) is allowed everywhere.
FOUNDATION = ("app.settings", "app.i18n", "app.formatting")
MAY_IMPORT: dict[str, tuple[str, ...]] = {
    "app.domain": ("app.domain",),
    "app.tables": ("app.tables",),
    "app.platform": ("app.platform", "app.domain", "app.tables"),
    "app.actions": ("app.actions", "app.platform", "app.domain", "app.tables"),
    "workers": ("workers", "app.actions", "app.platform", "app.domain", "app.tables"),
    "app.live": ("app.live", "app.actions", "app.platform", "app.domain", "app.tables"),
    "app.http": ("app.http", "app.actions", "app.platform", "app.domain", "app.tables"),
    "app.routes": ("app.routes", "app.http", "app.live", "app.actions", "app.platform", "app.domain", "app.tables",
                   "workers"),
}
FREE = ("app.asgi", "app.cli", "app.piccolo_app", "app.settings", "app.i18n", "app.formatting", "app")


def part_of(module: str) -> str | None:
    """The part a module belongs to (None: an entry point or the foundation, which may import anything below)."""
    parts = [part for part in MAY_IMPORT if module == part or module.startswith(part + ".")]
    return max(parts, key=len) if parts else None


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Every import that goes against MAY_IMPORT, as `importer -> imported`."""
    found = []
    for module, targets in sorted(graph.items()):
        part = part_of(module)
        if part is None:
            continue
        for target in sorted(targets):
            allowed = MAY_IMPORT[part] + FOUNDATION
            if not any(target == prefix or target.startswith(prefix + ".") for prefix in allowed):
                found.append(f"{module} ({part}) -> {target}")
    return found


def test_layer_violations_names_an_import_against_the_arrows() -> None:
    graph = {"app.actions.cases": {"app.http.web", "app.domain.cases"}, "app.domain.fees": {"app.settings"},
             "app.asgi": {"app.routes.cases"}}
    assert layer_violations(graph) == ["app.actions.cases (app.actions) -> app.http.web"]


def test_every_part_imports_only_the_parts_below_it() -> None:
    # Given every import of app/ and workers/, deferred ones included
    graph = import_graph(ROOT)
    assert {part_of(module) for module in graph} >= set(MAY_IMPORT)  # every part exists and is checked
    # Then none goes up or sideways against the arrows of ARCHITECTURE.md
    assert layer_violations(graph) == [], "imports against the layers:\n" + "\n".join(layer_violations(graph))
