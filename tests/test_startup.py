"""Issue 10.8: start-up time is a feature. `billing --help` and `--version` import neither the
ledger nor the domain nor Rich; a command imports what it uses (benchmarks/startup_bench.py
prints the times against `python -c "import typer, rich"`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_PROBE = """
import json, sys
sys.argv = ["billing", *json.loads(sys.argv[1])]
from billing_cli.cli import main
try:
    main()
except SystemExit:
    pass
sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n")
"""


def imported_by(*argv: str, cwd: Path) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(argv)],
        capture_output=True, text=True, cwd=cwd,
        env={"PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"},
    )  # fmt: skip
    line = done.stderr.rsplit("MODULES ", 1)[-1]
    return set(json.loads(line))


HEAVY = ("billing_cli.api", "billing_cli.storage", "billing_cli.domain", "rich", "sqlite3")


@pytest.mark.parametrize("argv", [("--help",), ("--version",), ("-h",)])
def test_help_and_version_import_no_ledger_no_domain(argv: tuple[str, ...], tmp_path: Path) -> None:
    modules = imported_by(*argv, cwd=tmp_path)
    assert "billing_cli.cli" in modules
    heavy = sorted(m for m in modules if m.startswith(HEAVY))
    assert heavy == [], heavy


def test_root_help_lists_each_group_with_its_own_help() -> None:
    from billing_cli.cli import _GROUPS, GROUP_HELP, _load

    assert list(GROUP_HELP) == list(_GROUPS)
    for name in _GROUPS:
        assert _load(name).help.strip() == GROUP_HELP[name], name
