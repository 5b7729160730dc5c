"""Shared fixtures: run the `billing` CLI in-process on a fresh ledger in `tmp_path`.

    def test_x(billing):
        result = billing("meter", "list", "--json")          # --db and --now are added
        assert result.exit_code == 0, result.stderr
        data = json_of(result)                                # asserts exit 0, parses stdout
        meter = billing.json("meter", "show", "mtr_tokens")   # adds --json, asserts exit 0

`billing(..., now=None)` omits `--now`; `billing(..., db=None)` omits `--db`; `env=` adds
variables. BILLING_DB / BILLING_NOW / BILLING_DEBUG from the outer environment never leak in.
The `alpaca` fixture builds the README's example catalog with readable ids.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import typer.testing
from typer.testing import CliRunner, Result

from billing_cli.cli import app
from tests.backends import (  # noqa: F401  (fixtures and helpers for every test module)
    ledger_exists,
    parametrize_backends,
    pg_server,
    postgres_db,
    snapshot,
    tamper,
)

# Typer's CliRunner rebuilds the whole click command tree on every invoke (~30 ms, most of a
# test's time). The tree is complete once billing_cli.cli is imported, so build it once.
if hasattr(typer.testing, "_get_command"):
    _COMMANDS: dict[int, Any] = {}
    _build = typer.testing._get_command

    def _cached_command(typer_app: Any) -> Any:
        key = id(typer_app)
        if key not in _COMMANDS:
            _COMMANDS[key] = _build(typer_app)
        return _COMMANDS[key]

    typer.testing._get_command = _cached_command

NOW = "2026-11-01T09:00:00Z"


def undo_credits(conn: sqlite3.Connection) -> None:
    """Take a current ledger back to before migration 10 (billing credits), for tests that need
    a file of an older version; run before `tests.documents.undo_documents`."""
    for sql in (
        "DROP TRIGGER invoices_credit_seq_frozen",
        "ALTER TABLE invoices DROP COLUMN credit_seq",
        "ALTER TABLE invoice_lines DROP COLUMN pretax_credit_amounts",
        "DROP TABLE credit_balance_transactions",
        "DROP TABLE credit_grants",
    ):
        conn.execute(sql)


NOW_TS = 1793523600  # NOW as Unix seconds

_CLEAN_ENV = {"BILLING_DB": None, "BILLING_NOW": None, "BILLING_DEBUG": None}
_UNSET: Any = object()


def json_of(result: Result) -> Any:
    """stdout of a successful run, parsed; fails with stderr shown otherwise."""
    assert result.exit_code == 0, f"exit {result.exit_code}\nstderr: {result.stderr}"
    return json.loads(result.stdout)


def assert_error(result: Result, code: int, *fragments: str) -> str:
    """Exit `code`, exactly one `error:` line (+ optional `hint:`) naming every fragment, and
    nothing on stdout but, with `--json`, the same error in Stripe's envelope. Returns the
    error line."""
    assert result.exit_code == code, (
        f"expected exit {code}, got {result.exit_code}\n"
        f"stdout: {result.stdout}\nstderr: {result.stderr}"
    )
    if result.stdout:
        envelope = json.loads(result.stdout)
        assert set(envelope) == {"error"}, result.stdout
        assert set(envelope["error"]) == {"type", "code", "message", "param"}, result.stdout
        shown = result.stderr.splitlines()[0].removeprefix("error: ")
        if envelope["error"]["message"].isprintable():
            assert envelope["error"]["message"] == shown, result.stdout
    lines = result.stderr.splitlines()
    assert "Traceback" not in result.stderr, result.stderr
    assert len(lines) in (1, 2), result.stderr
    assert lines[0].startswith("error: "), result.stderr
    if len(lines) == 2:
        assert lines[1].startswith("hint: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    return lines[0]


class Billing:
    """Callable runner bound to one ledger path."""

    def __init__(self, db: Path | str) -> None:
        self.db = db
        self.runner = CliRunner()

    def __call__(
        self,
        *args: str,
        now: str | None = NOW,
        db: Path | str | None = _UNSET,
        input: str | bytes | None = None,
        env: Mapping[str, str | None] | None = None,
    ) -> Result:
        argv: list[str] = []
        path = self.db if db is _UNSET else db
        if path is not None:
            argv += ["--db", str(path)]
        if now is not None:
            argv += ["--now", now]
        argv += [str(a) for a in args]
        return self.runner.invoke(
            app, argv, input=input, env={**_CLEAN_ENV, **(env or {})}, catch_exceptions=False
        )

    def json(self, *args: str, **kwargs: Any) -> Any:
        return json_of(self(*args, "--json", **kwargs))


@pytest.fixture
def backend() -> str:
    """The storage backend of `db`: SQLite, or each in turn in `both_backends` modules."""
    return "sqlite"


@pytest.fixture
def db(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Any:
    """A fresh ledger location: an SQLite path, or the URI of an empty PostgreSQL database."""
    if backend == "postgres":
        return request.getfixturevalue("postgres_db")
    return tmp_path / "billing.db"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    parametrize_backends(metafunc)


@pytest.fixture
def billing(db: Path) -> Billing:
    return Billing(db)


def build_alpaca(billing: Billing) -> Billing:
    """Alpaca AI: a token meter, a metered price (0.04 cents per token, monthly), a licensed
    seat price, and a customer. Ids: mtr_tokens, prod_api, price_tokens, price_seats, cus_alpaca.
    """
    billing.json(
        "meter", "create", "--id", "mtr_tokens", "--display-name", "API tokens",
        "--event-name", "api_tokens", "--aggregation", "sum",
    )  # fmt: skip
    billing.json("product", "create", "--id", "prod_api", "--name", "Alpaca API")
    billing.json(
        "price", "create", "--id", "price_tokens", "--product", "prod_api", "--currency", "usd",
        "--unit-amount-decimal", "0.04", "--interval", "month", "--usage-type", "metered",
        "--meter", "mtr_tokens", "--lookup-key", "tokens_monthly",
    )  # fmt: skip
    billing.json(
        "price", "create", "--id", "price_seats", "--product-name", "Seats", "--currency", "usd",
        "--unit-amount", "2000", "--interval", "month", "--usage-type", "licensed",
    )  # fmt: skip
    billing.json(
        "customer", "create", "--id", "cus_alpaca", "--name", "Alpaca AI",
        "--email", "billing@alpaca.example", "--invoice-prefix", "ALPACA",
    )  # fmt: skip
    return billing


@pytest.fixture
def alpaca(billing: Billing) -> Billing:
    """A fresh ledger holding `build_alpaca`'s catalog."""
    return build_alpaca(billing)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """Keep each phase's report on the item, so a fixture's teardown can tell that its test
    failed (the browser fixture saves a screenshot of the page then)."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
