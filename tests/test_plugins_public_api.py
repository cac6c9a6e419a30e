"""Plugins (the built-ins in plugins/ and the examples) reach promptdsl only through its public
API, so a third party can do whatever a built-in does (docs/plugins.md, "The public API")."""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PUBLIC = {"promptdsl", "promptdsl.errors", "promptdsl.options", "promptdsl.runtime",
          "promptdsl.data", "promptdsl.model"}


def private_imports(path: Path) -> list[str]:
    """`file:line: module` for every import of a promptdsl module outside the public set."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from promptdsl import registry` imports a submodule too
            modules = [node.module] + ([f"{node.module}.{a.name}" for a in node.names
                                        if (REPO / "promptdsl" / f"{a.name}.py").exists()
                                        or (REPO / "promptdsl" / a.name).is_dir()]
                                       if node.module == "promptdsl" else [])
        else:
            continue
        for module in modules:
            if (module == "promptdsl" or module.startswith("promptdsl.")) and module not in PUBLIC:
                where = path.relative_to(REPO) if path.is_relative_to(REPO) else path.name
                found.append(f"{where}:{node.lineno}: {module}")
    return found


def test_the_checker_finds_private_imports(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import promptdsl.data\nfrom promptdsl.data.table import Table\n"
                      "from promptdsl import registry, MethodSpec\nimport promptdsl.train.runner\n"
                      "from . import _collect\n", encoding="utf-8")
    assert private_imports(sample) == ["sample.py:2: promptdsl.data.table",
                                       "sample.py:3: promptdsl.registry",
                                       "sample.py:4: promptdsl.train.runner"]


def test_plugins_and_examples_import_only_the_public_api():
    files = sorted([*(REPO / "plugins").rglob("*.py"), *(REPO / "examples").rglob("*.py")])
    assert len(files) > 20
    found = [hit for path in files for hit in private_imports(path)]
    assert not found, "private promptdsl imports:\n" + "\n".join(found)
