"""One-way architecture (issue 16): serving code (plugins/, plugins/view_models/, scripts/common/, scripts/site.py)
imports no build code and opens nothing under data/. The flow is data/ -> scripts/publication -> build/ -> serving;
tests/test_served_from_build.py proves it by serving every page from the image's files, this scan says where it
breaks, line by line."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from scripts.site import ROOT

SERVING = sorted([*(ROOT / "plugins").rglob("*.py"), *(ROOT / "scripts" / "common").rglob("*.py"),
                  ROOT / "scripts" / "site.py"])
# What serving may import from this project's scripts package: the shared pure helpers and the served settings.
SCRIPTS_ALLOWED = ("scripts.common", "scripts.site")
# A string that is a path into data/ (no spaces: prose that mentions data/ is not a path): "data", "data/...",
# ".../data/...", or the data package's descriptor.
DATA_PATH = re.compile(r"^(?:\S*/)?data(?:/\S*)?$|^\S*datapackage\.json$")


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def module_of(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def imported_modules(path: Path, module_name: str | None = None) -> list[tuple[int, str]]:
    """Absolute names of every module the file imports, relative imports resolved; also importlib/__import__ calls
    with a constant name."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module_name = module_name or module_of(path)
    package = module_name if path.name == "__init__.py" else module_name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in ("import_module", "__import__"):
                found.append((node.lineno, node.args[0].value))
    return found


def build_imports(path: Path, module_name: str | None = None) -> list[str]:
    wrong = []
    for line, module in imported_modules(path, module_name):
        if module == "scripts" or module.startswith("scripts."):
            if not module.startswith(SCRIPTS_ALLOWED) and module != "scripts":
                wrong.append(f"{path}:{line}: imports {module}")
    return wrong


def docstring_nodes(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def data_paths(path: Path) -> list[str]:
    """String constants (outside docstrings) that are a path into data/ or name datapackage.json."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    docstrings = docstring_nodes(tree)
    wrong = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if DATA_PATH.search(node.value):
                wrong.append(f"{path}:{node.lineno}: {node.value[:60]!r}")
    return wrong


def test_there_is_serving_code_to_scan():
    names = {relative(p) for p in SERVING}
    assert "scripts/site.py" in names and "plugins/view_models/__init__.py" in names
    assert len(names) > 20


@pytest.mark.parametrize("path", SERVING, ids=relative)
def test_serving_imports_no_build_code(path):
    assert not build_imports(path)


@pytest.mark.parametrize("path", SERVING, ids=relative)
def test_serving_opens_nothing_under_data(path):
    assert not data_paths(path)


def test_the_scans_find_what_they_look_for(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('"""Reads data/ in its docstring only."""\n'
                      "from scripts.publication.domains import services\n"
                      "from ...scripts.publication import build\n"
                      "from scripts.common import dates\n"
                      "import importlib\n"
                      "importlib.import_module('scripts.build_database')\n"
                      "SCHEMAS = ROOT / 'data' / 'schemas'\n"
                      "PACKAGE = 'data/datapackage.json'\n"
                      "URL = '/commissioning/services.json'\n"
                      "PROSE = 'Sources that data/datapackage.json lists'\n"
                      "REF = '#/components/schemas/Page'\n")
    imports = build_imports(sample, "plugins.view_models.sample")
    paths = data_paths(sample)
    assert sorted(line.split(": ", 1)[1] for line in imports) == sorted([
        "imports scripts.publication.domains", "imports scripts.publication.domains.services",
        "imports scripts.publication", "imports scripts.publication.build", "imports scripts.build_database"])
    # 'data' and 'data/datapackage.json'; not the docstring, the prose, the URL, nor an OpenAPI '#/.../schemas/'
    assert len(paths) == 2, paths


def test_relative_imports_are_resolved():
    probe = ROOT / "plugins" / "view_models" / "findable.py"
    modules = [m for _line, m in imported_modules(probe)]
    assert "plugins.view_models.borough_feeds" in modules
