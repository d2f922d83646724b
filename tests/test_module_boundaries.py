"""No module reaches into another's internals: a name that starts with ``_`` is private to
its module, so importing it from elsewhere ties two modules together without saying so (route
modules used ``serve.wire._snapshot``; the helpers several route modules share now live in
``serve.routes.common``). ``compliance``'s ``_``-modules are that package's private parts and
may import each other; nothing outside ``compliance`` imports them."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("serve", "agents", "store", "embeddings", "index", "compliance", "config", "metrics")


def private_imports(root: Path) -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.ImportFrom) or not node.module:
                    continue
                top = node.module.split(".")[0]
                if top not in PACKAGES or top == package == "compliance":
                    continue
                names = [alias.name for alias in node.names]
                if any(p.startswith("_") for p in node.module.split(".") + names):
                    found.append(f"{path.relative_to(root)}: from {node.module} import "
                                 + ", ".join(names))
    return found


def test_no_module_imports_another_modules_private_names() -> None:
    assert private_imports(ROOT) == []


def test_a_private_import_is_reported(tmp_path: Path) -> None:
    (tmp_path / "serve").mkdir()
    (tmp_path / "serve" / "x.py").write_text(
        "from serve.wire import IssueIn, _snapshot\nfrom compliance._kinds import PhiKind\n",
        encoding="utf-8",
    )
    assert private_imports(tmp_path) == [
        "serve/x.py: from serve.wire import IssueIn, _snapshot",
        "serve/x.py: from compliance._kinds import PhiKind",
    ]
