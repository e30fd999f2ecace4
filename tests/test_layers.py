"""The layers of docs/development.md hold for the modules at the project root.

``lint-imports`` (.importlinter, .ci/run's Lint stage) checks the packages; it
cannot analyse single modules at the root, so this test reads their imports,
function-level ones included.
"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = {
    "blueprints",
    "openapi",
    "features",
    "auth",
    "services",
    "observability",
    "plumbing",
    "schemas",
    "models",
}
# The bottom of the layers: each may import only the project modules named here.
BOTTOM = {
    "errors": {"request_ids"},
    "request_ids": set(),
    "emails": set(),
    "extensions": set(),
    "config": set(),
}
PROJECT = PACKAGES | set(BOTTOM) | {"app", "pipeline", "cli", "demo"}


def project_imports(path):
    """The project's top-level module names ``path`` imports, anywhere in it."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & PROJECT


@pytest.mark.parametrize("module", sorted(BOTTOM))
def test_a_bottom_module_imports_nothing_above_it(module):
    assert project_imports(ROOT / f"{module}.py") <= BOTTOM[module]


def test_project_imports_sees_function_level_imports(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from models.sqlite_writers import X\n")
    assert project_imports(source) == {"models"}
