"""The layering of DESIGN.md, checked over the import graph of the package (every `import` and
`from … import`, lazy ones inside functions included), so a shortcut across layers fails CI.

Arrows point down only: faces (cli/, http/) → api/ → ingest/, present/, storage port → domain/ →
the kernel (errors, clock, ids). Only storage backends speak SQL.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "billing_cli"
KERNEL = {"errors", "clock", "ids", "__init__", "__version__"}
SQL_DRIVERS = {"sqlite3", "psycopg", "sqlite_utils", "apsw"}

# layer → the layers (first folder under billing_cli/, or a kernel module) it may import
ALLOWED: dict[str, set[str]] = {
    "domain": {"domain"},
    "ingest": {"ingest", "domain"},
    "present": {"present", "domain"},
    "storage": {"storage", "domain"},
    "api": {"api", "domain", "ingest", "present", "storage"},
    "cli": {"cli", "api", "present"},
    "http": {"http", "api", "present"},
    "__main__": {"cli"},  # `python -m billing_cli` is the CLI
}


# The one bridge between the two faces: `billing serve` is a CLI command that starts the HTTP
# face (it imports http/ lazily, inside the command).
FACE_LAUNCHERS = {"billing_cli.cli.serve": {"http"}}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.append(target)
            if target == "billing_cli":  # `from billing_cli import clock`
                found.extend(f"billing_cli.{alias.name}" for alias in node.names)
    return found


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        out.append((module.removesuffix(".__init__"), path))
    return out


def _storage_backend(target: str) -> bool:
    parts = target.split(".")
    return len(parts) > 2 and parts[1] == "storage" and parts[2] not in {"port"}


def violations() -> set[tuple[str, str]]:
    bad: set[tuple[str, str]] = set()
    for module, path in _modules():
        layer = _layer(module)
        allowed = set() if layer in KERNEL else ALLOWED[layer] | FACE_LAUNCHERS.get(module, set())
        for target in _imports(path):
            top = target.split(".")[0]
            if top in SQL_DRIVERS and layer != "storage":
                bad.add((module, target))
            if top != "billing_cli" or target == "billing_cli":
                continue
            dest = _layer(target)
            if dest in KERNEL:
                continue
            if dest not in allowed:
                bad.add((module, target))
            elif layer == "api" and _storage_backend(target):
                bad.add((module, target))
    return bad


def test_every_layer_is_a_folder() -> None:
    for layer in set(ALLOWED) - {"__main__"}:
        if layer != "http" or (PACKAGE / layer).exists():
            assert (PACKAGE / layer / "__init__.py").is_file(), layer


def test_imports_point_down_only() -> None:
    bad = sorted(violations())
    assert not bad, "imports across layers:\n" + "\n".join(f"{m} -> {t}" for m, t in bad)


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    """The walk must see lazy imports inside functions, or the contract would be toothless."""
    source = "def f():\n    from billing_cli.storage.sqlite import Ledger\n"
    path = tmp_path / "x.py"
    path.write_text(source)
    tree = ast.parse(source)
    names = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert names == ["billing_cli.storage.sqlite"]
