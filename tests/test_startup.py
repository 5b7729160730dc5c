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


# What a simple command must not import (issue 10.8): the invoicing domain and the ledger's
# stores for it, and, off a terminal, Rich (plain tables are written without it).
INVOICING = (
    "billing_cli.domain.invoicing",
    "billing_cli.domain.invoice_lines",
    "billing_cli.domain.credits",
    "billing_cli.domain.tax",
    "billing_cli.storage.sqlite.invoices",
    "billing_cli.storage.sqlite.invoice_queries",
    "billing_cli.storage.sqlite.credits",
    "billing_cli.storage.sqlite.late_events",
    "billing_cli.storage.sqlite.tax_rates",
    "billing_cli.storage.sqlite.maintenance",
    "billing_cli.storage.postgres",
    "rich",
)


@pytest.fixture
def small_ledger(tmp_path: Path) -> Path:
    from billing_cli.api import Context, catalog
    from billing_cli.clock import parse_time

    db = tmp_path / "billing.db"
    ctx = Context(db, parse_time("2026-11-01T09:00:00Z"))
    catalog.create_meter(ctx, display_name="T", event_name="t", aggregation="sum",
                         meter_id="mtr_t")  # fmt: skip
    catalog.create_customer(ctx, name="C", customer_id="cus_1")
    return db


@pytest.mark.parametrize(
    "argv",
    [
        ("event", "send", "--event-name", "t", "--customer", "cus_1", "--value", "3"),
        ("meter", "list"),
        ("customer", "show", "cus_1"),
        ("event", "list"),
    ],
    ids=["event send", "meter list", "customer show", "event list"],
)
def test_simple_commands_import_no_invoicing_and_off_a_terminal_no_rich(
    argv: tuple[str, ...], small_ledger: Path
) -> None:
    modules = imported_by("--db", str(small_ledger), "--now", "2026-11-01T09:00:00Z", *argv,
                          cwd=small_ledger.parent)  # fmt: skip
    assert "billing_cli.storage.sqlite.events" in modules  # the command did reach the ledger
    heavy = sorted(m for m in modules if m.startswith(INVOICING))
    assert heavy == [], heavy


_WHOLE_PROBE = """
import sys
from pathlib import Path
from billing_cli.storage.sqlite import CoreLedger, open_ledger
with open_ledger(Path(sys.argv[1]), create=False) as led:
    assert type(led) is CoreLedger and led.get_meter("mtr_t") is not None
    assert "billing_cli.domain.invoicing" not in sys.modules
    assert led.list_invoices() == []  # an InvoiceStore method: the whole ledger now
    from billing_cli.storage.sqlite import Ledger
    assert type(led) is Ledger and led.get_account() is not None
    try:
        led.no_such_method
    except AttributeError:
        pass
    else:
        raise AssertionError("a missing method must stay missing")
with open_ledger(Path(sys.argv[1]), create=False) as led:
    assert type(led) is Ledger  # whole from the start once loaded
print("ok")
"""


def test_the_ledger_becomes_whole_on_first_use_of_another_store(small_ledger: Path) -> None:
    """`open_ledger` gives the catalog and event stores; an invoice method loads the rest."""
    done = subprocess.run(
        [sys.executable, "-c", _WHOLE_PROBE, str(small_ledger)],
        capture_output=True, text=True, env={"PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert done.stdout == "ok\n", done.stderr
