"""Append-only, enforced by SQLite itself (SPEC 6, 4.5; migration 2).

Someone "fixing" a row with the sqlite3 shell goes through the sqlite3 module exactly as these
tests do: every forbidden statement must raise, every statement the program needs must pass,
and the CLI flows that touch invoices must work unchanged with the triggers in place.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from billing_cli.errors import LedgerError
from billing_cli.storage.sqlite import Ledger
from billing_cli.storage.sqlite.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION
from tests.conftest import Billing, json_of

LATER = "2026-12-01T09:30:00Z"  # after the first period's end, inside the 1 h grace
APPEND_ONLY = "billing ledger is append-only"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger holding an open invoice with a line (cus_a), a draft with a line (cus_a's
    cycle), a second open invoice (cus_b), two events and an adjustment. Built once, copied."""
    path = tmp_path_factory.mktemp("triggers") / "template.db"
    run = Billing(path)
    json_of(run("product", "create", "--id", "prod_s", "--name", "Seats", "--json"))
    json_of(
        run("price", "create", "--id", "price_seats", "--product", "prod_s", "--currency",
            "usd", "--unit-amount", "2000", "--interval", "month", "--usage-type", "licensed",
            "--json")
    )  # fmt: skip
    for cus, prefix in (("cus_a", "AAA"), ("cus_b", "BBB")):
        json_of(run("customer", "create", "--id", cus, "--invoice-prefix", prefix, "--json"))
        run.json("subscription", "create", "--customer", cus, "--price", "price_seats:2")
    json_of(run("invoice", "run", "--json", now=LATER))
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "INSERT INTO meter_events (seq, identifier, event_name, meter, customer, timestamp,"
            " value, payload, received, status, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [
                (1, "ev_1", "api_tokens", "mtr_x", "cus_a", 10, "5", "{}", 11, "accepted", "h1"),
                (2, "ev_2", "api_tokens", "mtr_x", "cus_a", 20, "7", "{}", 21, "late", "h2"),
            ],
        )
        conn.execute(
            "INSERT INTO meter_event_adjustments (seq, type, identifier, invoice, created, hash)"
            " VALUES (1, 'cancel', 'ev_1', NULL, 30, 'a1')"
        )
    conn.close()
    return path


@pytest.fixture
def db(template: Path, tmp_path: Path) -> Path:
    path = tmp_path / "billing.db"
    shutil.copy(template, path)
    return path


@pytest.fixture
def conn(db: Path) -> Iterator[sqlite3.Connection]:
    """A plain sqlite3 connection, as the sqlite3 shell would open the file."""
    c = sqlite3.connect(db, isolation_level=None)
    yield c
    c.close()


def one(conn: sqlite3.Connection, sql: str, *params: object) -> str:
    return conn.execute(sql, params).fetchone()[0]


def open_invoice(conn: sqlite3.Connection, customer: str = "cus_a") -> str:
    return one(conn, "SELECT id FROM invoices WHERE status = 'open' AND customer = ?", customer)


def draft_invoice(conn: sqlite3.Connection) -> str:
    return one(conn, "SELECT id FROM invoices WHERE status = 'draft' AND customer = 'cus_a'")


def refused(conn: sqlite3.Connection, sql: str, *params: object) -> None:
    with pytest.raises(sqlite3.IntegrityError, match=APPEND_ONLY):
        conn.execute(sql, params)


# -- the schema ----------------------------------------------------------------------------
def test_migration_2_installs_the_triggers_and_none_on_event_inserts(conn) -> None:
    rows = conn.execute("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")
    triggers = {name: (table, sql.upper()) for name, table, sql in rows}
    tables = {table for table, _ in triggers.values()}
    assert {"meter_events", "meter_event_adjustments", "invoices", "invoice_lines"} <= tables
    assert one(conn, "PRAGMA user_version") == SCHEMA_VERSION >= 2
    # Bulk imports insert millions of events: no trigger may run on their INSERT.
    for table, sql in triggers.values():
        if table in {"meter_events", "meter_event_adjustments"}:
            assert "BEFORE INSERT" not in sql and "AFTER INSERT" not in sql


def test_a_version_1_ledger_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "v1.db"
    old = sqlite3.connect(path, isolation_level=None)
    old.execute("PRAGMA journal_mode = WAL")
    old.executescript(MIGRATIONS[0])
    old.execute("INSERT INTO customers (id, created, invoice_prefix) VALUES ('cus_old', 1, 'OLD')")
    old.execute(
        "INSERT INTO meter_events VALUES (1, 'e', 'n', 'm', 'cus_old', 1, '1', '{}', 1,"
        " 'accepted', 'h')"
    )
    old.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    old.execute("PRAGMA user_version = 1")
    old.close()
    result = Billing(path)("customer", "show", "cus_old", "--json")
    assert json_of(result)["invoice_prefix"] == "OLD"
    conn = sqlite3.connect(path)
    try:
        assert one(conn, "PRAGMA user_version") == SCHEMA_VERSION
        refused(conn, "DELETE FROM meter_events")
    finally:
        conn.close()


# -- events and adjustments ----------------------------------------------------------------
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE meter_events SET value = '500' WHERE identifier = 'ev_1'",
        "UPDATE meter_events SET status = 'accepted' WHERE identifier = 'ev_2'",
        "UPDATE meter_events SET timestamp = timestamp + 1",
        "UPDATE meter_events SET hash = hash",  # even a no-op write is refused
        "DELETE FROM meter_events WHERE identifier = 'ev_2'",
        "DELETE FROM meter_events",
        "UPDATE meter_event_adjustments SET type = 'resolve'",
        "UPDATE meter_event_adjustments SET identifier = 'ev_2'",
        "DELETE FROM meter_event_adjustments",
    ],
)
def test_events_and_adjustments_refuse_update_and_delete(conn, sql: str) -> None:
    before = conn.execute("SELECT * FROM meter_events, meter_event_adjustments").fetchall()
    refused(conn, sql)
    assert conn.execute("SELECT * FROM meter_events, meter_event_adjustments").fetchall() == before


def test_events_and_adjustments_accept_inserts(conn) -> None:
    conn.execute(
        "INSERT INTO meter_events VALUES (3, 'ev_3', 'n', 'm', 'cus_a', 1, '1', '{}', 1,"
        " 'accepted', 'h3')"
    )
    conn.execute("INSERT INTO meter_event_adjustments VALUES (2, 'cancel', 'ev_3', NULL, 2, 'a')")
    assert one(conn, "SELECT count(*) FROM meter_events") == 3


def test_refusal_rolls_back_the_whole_transaction(conn) -> None:
    conn.execute("BEGIN")
    conn.execute("UPDATE customers SET balance = -99 WHERE id = 'cus_a'")
    refused(conn, "DELETE FROM meter_events")
    conn.execute("ROLLBACK")
    assert one(conn, "SELECT balance FROM customers WHERE id = 'cus_a'") == 0


# -- finalized invoices --------------------------------------------------------------------
FROZEN = {
    "id": "'in_forged'",
    "created": "created + 1",
    "customer": "'cus_b'",
    "subscription": "NULL",
    "billing_reason": "'manual'",
    "number": "'AAA-9999'",
    "currency": "'eur'",
    "period_start": "period_start - 1",
    "period_end": "period_end + 1",
    "subtotal": "subtotal - 1",
    "total": "0",
    "starting_balance": "starting_balance - 1",
    "ending_balance": "1",
    "amount_due": "0",
    "computed_at": "computed_at + 1",
    "finalized_at": "finalized_at + 1",
    "hash": "'0000'",
    "rowid": "rowid + 1000",
}


@pytest.mark.parametrize("column", sorted(FROZEN))
def test_finalized_invoice_content_is_frozen(conn, column: str) -> None:
    inv = open_invoice(conn)
    refused(conn, f"UPDATE invoices SET {column} = {FROZEN[column]} WHERE id = ?", inv)


@pytest.mark.parametrize("column", sorted(FROZEN))
def test_finalized_content_is_frozen_during_an_allowed_transition(conn, column: str) -> None:
    inv = open_invoice(conn)
    refused(
        conn,
        f"UPDATE invoices SET status = 'paid', paid_at = 5, {column} = {FROZEN[column]}"
        " WHERE id = ?",
        inv,
    )


ALLOWED = [
    ("open", "paid", "paid_at = 100, amount_paid = amount_due"),
    ("open", "void", "voided_at = 100"),
    ("open", "uncollectible", "marked_uncollectible_at = 100"),
    ("uncollectible", "paid", "paid_at = 200, amount_paid = amount_due"),
    ("uncollectible", "void", "voided_at = 200"),
]


@pytest.mark.parametrize(("old", "new", "sets"), ALLOWED)
def test_spec_4_5_transitions_pass(conn, old: str, new: str, sets: str) -> None:
    inv = open_invoice(conn)
    if old == "uncollectible":
        conn.execute(
            "UPDATE invoices SET status = 'uncollectible', marked_uncollectible_at = 50"
            " WHERE id = ?",
            (inv,),
        )
    conn.execute(f"UPDATE invoices SET status = '{new}', {sets} WHERE id = ?", (inv,))
    assert one(conn, "SELECT status FROM invoices WHERE id = ?", inv) == new


FORBIDDEN_TRANSITIONS = [
    ("open", "draft"),
    ("open", "open"),
    ("paid", "open"),
    ("paid", "void"),
    ("paid", "uncollectible"),
    ("paid", "paid"),
    ("void", "paid"),
    ("void", "open"),
    ("void", "draft"),
    ("uncollectible", "open"),
    ("uncollectible", "draft"),
    ("uncollectible", "uncollectible"),
]


def _force_status(conn: sqlite3.Connection, inv: str, status: str) -> None:
    """Walk an open invoice to `status` by allowed steps."""
    steps = {
        "paid": "status = 'paid', paid_at = 1",
        "void": "status = 'void', voided_at = 1",
        "uncollectible": "status = 'uncollectible', marked_uncollectible_at = 1",
    }
    if status != "open":
        conn.execute(f"UPDATE invoices SET {steps[status]} WHERE id = ?", (inv,))


@pytest.mark.parametrize(("old", "new"), FORBIDDEN_TRANSITIONS)
def test_other_transitions_are_refused(conn, old: str, new: str) -> None:
    inv = open_invoice(conn)
    _force_status(conn, inv, old)
    refused(conn, "UPDATE invoices SET status = ? WHERE id = ?", new, inv)
    assert one(conn, "SELECT status FROM invoices WHERE id = ?", inv) == old


@pytest.mark.parametrize(
    ("new", "sets"),
    [
        ("paid", "voided_at = 1"),  # a transition moves only its own date
        ("void", "paid_at = 1"),
        ("void", "amount_paid = 1"),
        ("uncollectible", "paid_at = 1"),
        ("void", "marked_uncollectible_at = 1"),
    ],
)
def test_a_transition_moves_only_its_own_date(conn, new: str, sets: str) -> None:
    inv = open_invoice(conn)
    refused(conn, f"UPDATE invoices SET status = '{new}', {sets} WHERE id = ?", inv)


def test_a_date_is_set_once(conn) -> None:
    inv = open_invoice(conn)
    conn.execute(
        "UPDATE invoices SET status = 'uncollectible', marked_uncollectible_at = 5 WHERE id = ?",
        (inv,),
    )
    refused(
        conn, "UPDATE invoices SET status = 'paid', marked_uncollectible_at = 6 WHERE id = ?", inv
    )
    conn.execute("UPDATE invoices SET status = 'paid', paid_at = 7 WHERE id = ?", (inv,))
    refused(conn, "UPDATE invoices SET paid_at = 8 WHERE id = ?", inv)


@pytest.mark.parametrize("status", ["open", "paid", "void", "uncollectible"])
def test_finalized_invoices_are_never_deleted(conn, status: str) -> None:
    inv = open_invoice(conn)
    _force_status(conn, inv, status)
    refused(conn, "DELETE FROM invoices WHERE id = ?", inv)
    refused(conn, "DELETE FROM invoices")


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE invoice_lines SET amount = amount + 1 WHERE invoice = ?",
        "UPDATE invoice_lines SET description = 'free' WHERE invoice = ?",
        "UPDATE invoice_lines SET invoice = invoice WHERE invoice = ?",
        "DELETE FROM invoice_lines WHERE invoice = ?",
        "INSERT INTO invoice_lines SELECT 'il_forged', invoice, 9, type, subscription_item,"
        " price, meter, description, period_start, period_end, quantity_decimal, quantity,"
        " unit_amount_decimal, amount, proration, explain, taxes, pretax_credit_amounts"
        " FROM invoice_lines"
        " WHERE invoice = ?",
    ],
)
@pytest.mark.parametrize("status", ["open", "paid"])
def test_lines_of_a_finalized_invoice_are_frozen(conn, sql: str, status: str) -> None:
    inv = open_invoice(conn)
    _force_status(conn, inv, status)
    refused(conn, sql, inv)


def test_a_draft_line_cannot_move_into_a_finalized_invoice(conn) -> None:
    refused(
        conn,
        "UPDATE invoice_lines SET invoice = ? WHERE invoice = ?",
        open_invoice(conn),
        draft_invoice(conn),
    )


# -- what stays allowed --------------------------------------------------------------------
def test_drafts_are_freely_recomputed_and_deleted(conn) -> None:
    draft = draft_invoice(conn)
    conn.execute(
        "UPDATE invoices SET subtotal = 1, total = 1, amount_due = 1 WHERE id = ?", (draft,)
    )
    conn.execute("UPDATE invoice_lines SET amount = 1 WHERE invoice = ?", (draft,))
    conn.execute(
        "INSERT INTO invoice_lines SELECT 'il_more', invoice, 9, type, subscription_item, price,"
        " meter, description, period_start, period_end, quantity_decimal, quantity,"
        " unit_amount_decimal, amount, proration, explain, taxes, pretax_credit_amounts"
        " FROM invoice_lines"
        " WHERE invoice = ?",
        (draft,),
    )
    conn.execute("DELETE FROM invoice_lines WHERE invoice = ?", (draft,))
    conn.execute("DELETE FROM invoices WHERE id = ?", (draft,))
    assert one(conn, "SELECT count(*) FROM invoices WHERE id = ?", draft) == 0


def test_a_draft_is_finalized_the_way_the_program_does_it(conn) -> None:
    draft = draft_invoice(conn)
    conn.execute(
        "UPDATE invoices SET status = 'open', number = 'AAA-0099', finalized_at = 9,"
        " starting_balance = 0, ending_balance = 0, amount_due = 4000, hash = 'abc'"
        " WHERE id = ? AND status = 'draft'",
        (draft,),
    )
    refused(conn, "UPDATE invoice_lines SET amount = 0 WHERE invoice = ?", draft)


@pytest.mark.parametrize("status", ["paid", "void", "uncollectible"])
def test_a_draft_cannot_skip_finalization(conn, status: str) -> None:
    refused(conn, "UPDATE invoices SET status = ? WHERE id = ?", status, draft_invoice(conn))


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE customers SET balance = -500, next_invoice_sequence = 7 WHERE id = 'cus_a'",
        "UPDATE customers SET currency = 'usd', name = 'n', email = 'a@b' WHERE id = 'cus_b'",
        "UPDATE meters SET display_name = 'Tokens', status = 'inactive', updated = 2",
        "UPDATE subscriptions SET status = 'canceled', cancel_at_period_end = 1,"
        " canceled_at = 5, ended_at = 6",
        "UPDATE products SET name = 'x', active = 0",
        "UPDATE prices SET active = 0, nickname = 'old'",
        "DELETE FROM usage_hourly",
    ],
)
def test_catalog_updates_stay_allowed(conn, sql: str) -> None:
    conn.execute(
        "INSERT INTO meters VALUES ('mtr_x', 1, 1, 'T', 'api_tokens', 'sum', 'c', 'v', NULL,"
        " 'active')"
    )
    conn.execute(sql)


def test_a_refusal_through_the_program_is_a_ledger_error(db: Path) -> None:
    led = Ledger(db, create=True)
    try:
        with pytest.raises(LedgerError, match=APPEND_ONLY) as info, led.write():
            led.conn.execute("DELETE FROM meter_events")
        assert str(db) in info.value.message and info.value.hint
    finally:
        led.close()


# -- the CLI with the triggers in place ----------------------------------------------------
def test_every_invoice_lifecycle_command_still_works(db: Path, conn) -> None:
    run = Billing(db)
    first_a, first_b = open_invoice(conn, "cus_a"), open_invoice(conn, "cus_b")
    json_of(run("invoice", "pay", first_a, "--json", now=LATER))
    json_of(run("invoice", "mark-uncollectible", first_b, "--json", now=LATER))
    json_of(run("invoice", "void", first_b, "--json", now=LATER))
    json_of(run("invoice", "run", "--json", now=LATER))  # recomputes the drafts
    draft = draft_invoice(conn)
    json_of(run("invoice", "delete", draft, "--json", now=LATER))
    json_of(run("invoice", "run", "--json", now=LATER))  # a fresh draft for the period
    result = json_of(run("invoice", "run", "--json", now="2026-12-01T11:00:00Z"))
    assert len(result["finalized"]) == 2
    fin = result["finalized"][0]
    json_of(run("invoice", "pay", fin, "--json", now="2026-12-02T00:00:00Z"))
    statuses = dict(conn.execute("SELECT id, status FROM invoices"))
    assert statuses[first_a] == "paid" and statuses[first_b] == "void" and statuses[fin] == "paid"
    # Paying twice is the program's Conflict (exit 5), not a trigger's ledger error.
    assert run("invoice", "pay", fin, now="2026-12-03T00:00:00Z").exit_code == 5
