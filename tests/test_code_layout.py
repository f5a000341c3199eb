"""The code-layout rules of the project, checked mechanically (ARCHITECTURE.md, issue 14)."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "scssl"
MAX_FILE_LINES = 400
MAX_FUNCTION_CODE_LINES = 80


def _sources() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def _code_lines(node: ast.FunctionDef | ast.AsyncFunctionDef, lines: list[str]) -> int:
    """Lines of a function's body that hold code (no docstring, blank or comment lines)."""
    body = node.body
    first = body[0]
    is_docstring = isinstance(first, ast.Expr) and isinstance(
        getattr(first, "value", None), ast.Constant
    )
    start = first.end_lineno + 1 if is_docstring else first.lineno
    text = lines[start - 1 : node.end_lineno]
    return sum(1 for line in text if line.strip() and not line.strip().startswith("#"))


def test_no_long_files_or_functions():
    too_long = []
    for path in _sources():
        text = path.read_text()
        lines = text.splitlines()
        if len(lines) > MAX_FILE_LINES:
            too_long.append(f"{path.relative_to(SRC)}: {len(lines)} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = _code_lines(node, lines)
                if n > MAX_FUNCTION_CODE_LINES:
                    too_long.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name}: {n}")
    assert not too_long, "split these:\n" + "\n".join(too_long)


def _private_scvi_uses(tree: ast.AST) -> list[str]:
    """Imports of private scvi names and ``scvi.<...>._name`` attribute chains."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "scvi":
            parts = node.module.split(".") + [alias.name for alias in node.names]
            if any(p.startswith("_") for p in parts):
                found.append(f"line {node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "scvi" and any(p.startswith("_") for p in parts):
                    found.append(f"line {node.lineno}: import {alias.name}")
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            root = node.value
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id == "scvi":
                found.append(f"line {node.lineno}: scvi....{node.attr}")
    return found


def test_private_scvi_names_only_in_compat():
    offenders = {}
    for path in _sources():
        if path.name == "_compat.py":
            continue
        uses = _private_scvi_uses(ast.parse(path.read_text()))
        if uses:
            offenders[str(path.relative_to(SRC))] = uses
    assert not offenders, f"wrap these in src/scssl/_compat.py: {offenders}"


def test_private_scvi_check_catches_a_private_import():
    tree = ast.parse("from scvi.model.base import _archesmixin\nimport scvi\nscvi.data._utils")
    assert len(_private_scvi_uses(tree)) == 2


def test_ruff_ban_list_matches_installed_scvi():
    """The generated banned-api list covers exactly the installed scvi's private modules."""
    script = Path(__file__).resolve().parents[1] / "scripts" / "scvi_private_modules.py"
    spec = importlib.util.spec_from_file_location("scvi_private_modules", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    listed = [
        line.split('"')[1]
        for line in module.OUTPUT.read_text().splitlines()
        if line.startswith('"')
    ]
    assert listed == module.private_module_prefixes(), (
        "scvi-tools changed: run `python scripts/scvi_private_modules.py`"
    )


def test_masking_registry_matches_the_option_list():
    from scssl._options import MaskingKind, options
    from scssl.nn import MASKING_STRATEGIES

    assert tuple(MASKING_STRATEGIES) == options(MaskingKind)


@pytest.mark.parametrize(
    ("literal", "value"),
    [("ContrastiveMethod", "moco"), ("LossOn", "some"), ("ReconstructionKind", "zinb")],
)
def test_option_errors_list_the_options(literal, value):
    import scssl._options as opts

    with pytest.raises(ValueError, match="must be one of"):
        opts.check_option("x", value, getattr(opts, literal))


def test_the_bad_input_catalogue_names_real_tests_that_assert_errors():
    """docs/guide/bad_inputs.md: >= 40 cases, each backed by an existing test that checks it."""
    import re

    root = Path(__file__).resolve().parents[1]
    page = (root / "docs" / "guide" / "bad_inputs.md").read_text()
    rows = re.findall(r"^\|[^|]+\|[^|]+\|[^|]+\| `(tests/[\w/]+\.py)::(\w+)` \|$", page, re.M)
    assert len(rows) >= 40
    for path, name in rows:
        tree = ast.parse((root / path).read_text())
        functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert name in functions, f"{path}::{name} does not exist"
        source = ast.unparse(functions[name])
        assert (
            "raises" in source or "== 2" in source or "all(modes)" in source or ("caplog" in source)
        ), f"{path}::{name} asserts no error or handling"
