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
