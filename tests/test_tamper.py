"""Tamper evidence (SPEC 6, the "Trust" issue): every edit made to the ledger file behind the
program's back is named by `billing ledger check` (exit 6), down to the table and key of the
first row that does not match.

The editor here is the sqlite3 module, as the sqlite3 shell would be, and a determined one: the
append-only triggers are dropped first. On PostgreSQL (issue 13.4: the same tests on both
backends) the editor is the database superuser with triggers switched off for its session
(`session_replication_role = replica`, which also stops foreign keys).

What it edits: an event's value, payload or status, an event deleted or forged, an adjustment,
a finalized invoice's amounts, a line's amount, a line deleted or forged, an invoice's status
flipped (which the triggers allow, when it is a SPEC 4.5 transition with its date), a draft
finalized by hand, a finalized invoice deleted, a row of the invoice chain itself.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from billing_cli.storage.port import open_store
from billing_cli.storage.sqlite.schema import SCHEMA_VERSION
from tests.backends import is_postgres, new_database, query_rows
from tests.conftest import Billing, json_of, undo_credits
from tests.documents import undo_documents

pytestmark = pytest.mark.both_backends

T0 = "2026-11-01T09:00:00Z"
CLOSED = "2026-12-01T10:30:00Z"  # after the November periods' end and their 1 h grace
LATER = "2026-12-02T00:00:00Z"


def make_events(path: Path) -> None:
    lines = ["event_name,identifier,timestamp,stripe_customer_id,value"]
    for n in range(12):
        customer = "cus_a" if n % 3 else "cus_b"
        lines.append(f"api_tokens,ev_{n},2026-11-{n + 2:02d}T10:00:00Z,{customer},{100 * n + 7}")
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def templates() -> dict[str, Path | str]:
    """The template ledger of each backend, built once per module."""
    return {}


@pytest.fixture
def template(
    backend: str, templates: dict[str, Path | str], request: pytest.FixtureRequest
) -> Path | str:
    if backend not in templates:
        root = request.getfixturevalue("tmp_path_factory").mktemp("tamper")
        if backend == "postgres":
            templates[backend] = build_template(
                new_database(request.getfixturevalue("pg_server")), root
            )
        else:
            templates[backend] = build_template(root / "template.db", root)
    return templates[backend]


def build_template(path: Path | str, root: Path) -> Path | str:
    """cus_a: tokens + 2 seats (AAA-0001 at creation, paid; AAA-0002 the November cycle,
    open); cus_b: tokens (BBB-0001, marked uncollectible); 12 events, one cancelled; a draft
    (cus_c's cycle, still in its grace)."""
    run = Billing(path)
    run.json("meter", "create", "--id", "mtr_tokens", "--display-name", "Tokens",
             "--event-name", "api_tokens", "--aggregation", "sum")  # fmt: skip
    run.json("price", "create", "--id", "price_tokens", "--product-name", "API", "--currency",
             "usd", "--unit-amount-decimal", "0.04", "--interval", "month", "--usage-type",
             "metered", "--meter", "mtr_tokens")  # fmt: skip
    run.json("price", "create", "--id", "price_seats", "--product-name", "Seats", "--currency",
             "usd", "--unit-amount", "2000", "--interval", "month", "--usage-type",
             "licensed")  # fmt: skip
    for cus, prefix in (("cus_a", "AAA"), ("cus_b", "BBB"), ("cus_c", "CCC")):
        run.json("customer", "create", "--id", cus, "--invoice-prefix", prefix)
    run.json("subscription", "create", "--customer", "cus_a", "--price", "price_tokens",
             "--price", "price_seats:2", now=T0)  # fmt: skip
    run.json("subscription", "create", "--customer", "cus_b", "--price", "price_tokens", now=T0)
    run.json("subscription", "create", "--customer", "cus_c", "--price", "price_tokens",
             now="2026-11-01T10:00:00Z")  # fmt: skip
    events = root / "events.csv"
    make_events(events)
    json_of(run("event", "import", str(events), "--json", now="2026-11-20T00:00:00Z"))
    run.json("event", "cancel", "--event-name", "api_tokens", "--identifier", "ev_4",
             now="2026-11-21T00:00:00Z")  # fmt: skip
    json_of(run("invoice", "run", "--json", now=CLOSED))
    run.json("invoice", "pay", "AAA-0001", now=LATER)
    run.json("invoice", "mark-uncollectible", "BBB-0001", now=LATER)
    statuses = dict(query_rows(path, "SELECT number, status FROM invoices"))
    assert statuses == {"AAA-0001": "paid", "AAA-0002": "open", "BBB-0001": "uncollectible",
                        None: "draft"}  # fmt: skip
    return path


@pytest.fixture
def db(template: Path | str, tmp_path: Path, request: pytest.FixtureRequest) -> Path | str:
    if is_postgres(template):
        return new_database(request.getfixturevalue("pg_server"), template=str(template))
    path = tmp_path / "billing.db"
    shutil.copy(template, path)
    return path


def query(db: Path | str, sql: str, *params: object) -> object:
    return query_rows(db, sql, *params)[0][0]


def edit(db: Path | str, *statements: str, drop_triggers: bool = True) -> None:
    """Change the ledger as a determined editor would: with the sqlite3 module, or as
    PostgreSQL's superuser (triggers and foreign keys off for the session unless
    `drop_triggers=False`; SQLite's PRAGMAs have no part there)."""
    if is_postgres(db):
        import psycopg

        with psycopg.connect(str(db)) as pg:
            if drop_triggers:
                pg.execute("SET session_replication_role = replica")
            for sql in statements:
                if not sql.startswith("PRAGMA"):
                    pg.execute(sql)  # type: ignore[arg-type]
        return
    conn = sqlite3.connect(db)
    try:
        if drop_triggers:
            triggers = conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            for (name,) in triggers.fetchall():
                conn.execute(f"DROP TRIGGER {name}")
        for sql in statements:
            conn.execute(sql)
        conn.commit()
    finally:
        conn.close()


def check_names(db: Path, *fragments: str) -> str:
    """`ledger check` exits 6 and its error line names the first bad row by every fragment."""
    result = Billing(db)("ledger", "check", now=LATER)
    assert result.exit_code == 6, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    error = result.stderr.splitlines()[0]
    assert error.startswith("error: ledger check found"), result.stderr
    for fragment in fragments:
        assert fragment in error, f"{fragment!r} not in {error!r}"
    for fragment in fragments:  # the table of problems on stdout names it as well
        assert fragment in result.stdout, result.stdout
    return error


def line_id(db: Path, number: str, position: int = 0) -> str:
    return str(
        query(
            db,
            "SELECT l.id FROM invoice_lines l JOIN invoices i ON i.id = l.invoice"
            " WHERE i.number = ? AND l.position = ?",
            number,
            position,
        )
    )


def invoice_id(db: Path, number: str) -> str:
    return str(query(db, "SELECT id FROM invoices WHERE number = ?", number))


def test_an_untouched_ledger_passes_and_reports_its_chain_heads(db: Path) -> None:
    report = Billing(db).json("ledger", "check", now=LATER)
    assert report["ok"] is True and report["invoices_checked"] == 3
    chains = report["chains"]
    assert chains["meter_events"]["seq"] == 12 and chains["meter_event_adjustments"]["seq"] == 1
    # AAA-0001 open and paid, AAA-0002 and BBB-0001 open, BBB-0001 uncollectible: in order.
    rows = query_rows(
        db,
        "SELECT i.number, c.status FROM invoice_chain c JOIN invoices i ON i.id = c.invoice"
        " ORDER BY c.seq",
    )
    assert rows[0] == ("AAA-0001", "open") and rows[-2:] == [
        ("AAA-0001", "paid"),
        ("BBB-0001", "uncollectible"),
    ]
    assert sorted(rows[1:3]) == [("AAA-0002", "open"), ("BBB-0001", "open")]
    assert chains["invoice_chain"]["seq"] == 5 and len(chains["invoice_chain"]["hash"]) == 64


EVENT_EDITS = [
    ("UPDATE meter_events SET value = '9999' WHERE seq = 3", "meter_events seq 3"),
    ("UPDATE meter_events SET payload = '{}' WHERE seq = 5", "meter_events seq 5"),
    ("UPDATE meter_events SET status = 'late' WHERE seq = 2", "meter_events seq 2"),
    ("UPDATE meter_events SET timestamp = timestamp + 1 WHERE seq = 12", "meter_events seq 12"),
    ("DELETE FROM meter_events WHERE seq = 4", "meter_events seq 4 is missing"),
    ("DELETE FROM meter_events WHERE seq = 1", "meter_events seq 1 is missing"),
    (
        "INSERT INTO meter_events SELECT 13, 'forged', event_name, meter, customer, timestamp,"
        " '5000', payload, received, status, hash FROM meter_events WHERE seq = 12",
        "meter_events seq 13",
    ),
    (
        "UPDATE meter_event_adjustments SET created = 1 WHERE seq = 1",
        "meter_event_adjustments seq 1",
    ),
    ("DELETE FROM meter_event_adjustments", "usage_hourly"),  # the cancelled event counts again
]


@pytest.mark.parametrize(("sql", "named"), EVENT_EDITS)
def test_an_edited_event_or_adjustment_is_named(db: Path, sql: str, named: str) -> None:
    edit(db, sql)
    check_names(db, named)


def test_deleting_the_newest_event_is_seen_by_the_roll_ups_and_the_chain_head(db: Path) -> None:
    """No hash inside the file can show rows cut off the end of a chain; the roll-ups can
    (unless edited too), and so can a chain head written down elsewhere."""
    head = Billing(db).json("ledger", "check", now=LATER)["chains"]["meter_events"]
    edit(db, "DELETE FROM meter_events WHERE seq = 12")
    check_names(db, "usage_hourly")
    edit(db, "DELETE FROM usage_hourly")
    result = Billing(db)("ledger", "check", "--json", now=LATER)
    assert json.loads(result.stdout)["chains"]["meter_events"] != head


INVOICE_EDITS = [
    ("UPDATE invoices SET total = total + 100 WHERE number = 'AAA-0002'", "AAA-0002"),
    ("UPDATE invoices SET amount_due = 0 WHERE number = 'AAA-0002'", "AAA-0002"),
    ("UPDATE invoices SET subtotal = 1, total = 1 WHERE number = 'BBB-0001'", "BBB-0001"),
    ("UPDATE invoices SET period_end = period_end + 1 WHERE number = 'AAA-0001'", "AAA-0001"),
]


@pytest.mark.parametrize(("sql", "number"), INVOICE_EDITS)
def test_an_edited_finalized_invoice_is_named(db: Path, sql: str, number: str) -> None:
    edit(db, sql)
    check_names(db, number, f"invoices {invoice_id(db, number)}", "edited outside billing")


def test_an_edited_line_is_named(db: Path) -> None:
    line = line_id(db, "AAA-0002", 1)
    edit(db, f"UPDATE invoice_lines SET amount = amount + 1 WHERE id = '{line}'")
    check_names(db, "AAA-0002", f"invoice_lines {line} (line 2)", "edited outside billing")


def test_an_edited_line_total_and_hash_are_named_together(db: Path) -> None:
    """The editor keeps the sums right: the line is still named."""
    line = line_id(db, "AAA-0002", 0)
    edit(
        db,
        f"UPDATE invoice_lines SET amount = amount - 50 WHERE id = '{line}'",
        "UPDATE invoices SET subtotal = subtotal - 50, total = total - 50,"
        " amount_due = amount_due - 50 WHERE number = 'AAA-0002'",
    )
    error = check_names(db, "AAA-0002")
    assert f"invoices {invoice_id(db, 'AAA-0002')}" in error
    result = Billing(db)("ledger", "check", "--json", now=LATER)
    problems = [p["problem"] for p in json.loads(result.stdout)["problems"]]
    assert any(p.startswith(f"invoice_lines {line} (line 1)") for p in problems), problems


def test_a_deleted_line_is_named(db: Path) -> None:
    line = line_id(db, "AAA-0002", 1)
    edit(db, f"DELETE FROM invoice_lines WHERE id = '{line}'")
    check_names(db, "AAA-0002", f"invoice_lines {line} (line 2) is missing")


def test_a_forged_line_is_named(db: Path) -> None:
    edit(
        db,
        "INSERT INTO invoice_lines SELECT 'il_forged', invoice, 9, type, subscription_item,"
        " price, meter, description, period_start, period_end, quantity_decimal, quantity,"
        " unit_amount_decimal, amount, proration, explain, taxes, pretax_credit_amounts"
        " FROM invoice_lines"
        f" WHERE id = '{line_id(db, 'AAA-0002')}'",
    )
    check_names(db, "AAA-0002", "invoice_lines il_forged: not part of AAA-0002")


STATUS_FLIPS = [
    # (number, SET clause, the triggers allow it)
    ("AAA-0002", "status = 'paid', paid_at = 1796000000, amount_paid = amount_due", True),
    ("AAA-0002", "status = 'void', voided_at = 1796000000", True),
    ("BBB-0001", "status = 'paid', paid_at = 1796000000, amount_paid = amount_due", True),
    ("AAA-0001", "status = 'open', paid_at = NULL, amount_paid = 0", False),
    ("AAA-0002", "status = 'draft'", False),
    ("BBB-0001", "status = 'open', marked_uncollectible_at = NULL", False),
    ("AAA-0001", "paid_at = paid_at + 60", False),
]


@pytest.mark.parametrize(("number", "sets", "allowed"), STATUS_FLIPS)
def test_a_status_changed_behind_the_programs_back_is_named(
    db: Path, number: str, sets: str, allowed: bool
) -> None:
    """Even a change the triggers let through (a SPEC 4.5 transition with its date) is found:
    the program records every transition in the invoice chain; the editor did not."""
    edit(db, f"UPDATE invoices SET {sets} WHERE number = '{number}'", drop_triggers=not allowed)
    check_names(db, number, f"invoices {invoice_id(db, number)}", "changed outside billing")


def test_a_draft_finalized_by_hand_is_named(db: Path) -> None:
    draft = str(query(db, "SELECT id FROM invoices WHERE status = 'draft'"))
    edit(
        db,
        "UPDATE invoices SET status = 'open', number = 'CCC-0001', finalized_at = 1796000000,"
        f" ending_balance = 0 WHERE id = '{draft}'",
        "UPDATE customers SET next_invoice_sequence = 2 WHERE id = 'cus_c'",
        drop_triggers=False,  # the triggers allow it: it is how the program finalizes
    )
    check_names(db, "CCC-0001", f"invoices {draft}", "finalized outside billing")


def test_a_deleted_finalized_invoice_is_named(db: Path) -> None:
    inv = invoice_id(db, "BBB-0001")
    edit(
        db,
        f"DELETE FROM invoice_lines WHERE invoice = '{inv}'",
        f"DELETE FROM invoices WHERE id = '{inv}'",
    )
    check_names(db, f"invoices {inv} is missing")


CHAIN_EDITS = [
    ("UPDATE invoice_chain SET at = at + 1 WHERE seq = 2", "invoice_chain seq 2"),
    ("UPDATE invoice_chain SET amount_paid = 0 WHERE status = 'paid'", "invoice_chain seq 4"),
    ("DELETE FROM invoice_chain WHERE seq = 3", "invoice_chain seq 3 is missing"),
    ("DELETE FROM invoice_chain WHERE seq = 5", "BBB-0001"),  # the newest: the status differs
]


@pytest.mark.parametrize(("sql", "named"), CHAIN_EDITS)
def test_an_edited_invoice_chain_is_named(db: Path, sql: str, named: str) -> None:
    edit(db, sql)
    check_names(db, named)


def test_the_invoice_chain_is_append_only(db: Path | str) -> None:
    if is_postgres(db):
        import psycopg

        for sql in ("UPDATE invoice_chain SET at = 0", "DELETE FROM invoice_chain"):
            with psycopg.connect(str(db)) as pg, pytest.raises(psycopg.Error, match="append-only"):
                pg.execute(sql)  # type: ignore[arg-type]
        return
    conn = sqlite3.connect(db)
    try:
        for sql in ("UPDATE invoice_chain SET at = 0", "DELETE FROM invoice_chain"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(sql)
    finally:
        conn.close()


@pytest.mark.sqlite_only  # a PostgreSQL ledger's backup is pg_dump's (test_postgres.py)
def test_a_backup_copy_passes_and_is_checked_on_its_own(db: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    json_of(Billing(db)("ledger", "backup", str(copy), "--json"))
    report = Billing(copy).json("ledger", "check", now=LATER)
    assert report["ok"] is True and report["invoices_checked"] == 3
    assert report["chains"] == Billing(db).json("ledger", "check", now=LATER)["chains"]
    edit(copy, "UPDATE invoices SET total = 0 WHERE number = 'AAA-0002'")
    check_names(copy, "AAA-0002")
    assert Billing(db)("ledger", "check", now=LATER).exit_code == 0


@pytest.mark.sqlite_only
@pytest.mark.parametrize("suffix", ["-wal", "-shm", "-journal"])
def test_a_backup_is_never_written_over_the_ledgers_own_files(db: Path, suffix: str) -> None:
    """A zero-byte -wal beside a closed ledger is an "empty file" a backup could take: it is
    the ledger's own file, refused like the ledger itself (exit 5), nothing written."""
    side = Path(f"{db}{suffix}")
    side.write_bytes(b"")
    result = Billing(db)("ledger", "backup", str(side))
    assert result.exit_code == 5 and f"ledger's own {suffix[1:]} file" in result.stderr
    assert side.read_bytes() == b""
    side.unlink()
    assert Billing(db)("ledger", "check", now=LATER).exit_code == 0


def chain_rows(db: Path) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(
            "SELECT invoice, status, at, amount_paid, header_hash, line_hashes FROM invoice_chain"
        ).fetchall()
    finally:
        conn.close()


@pytest.mark.sqlite_only  # SQLite's own migrations (user_version)
def test_a_version_3_ledger_gets_its_invoice_chain_on_upgrade(db: Path) -> None:
    """Migration 4 enters the finalized invoices a ledger already has, with their transitions
    in time order; the upgraded ledger passes, and is tamper-evident from then on."""
    # the header hashes of a version-3 ledger lack the seller and buyer snapshot (migration 5)
    without_header = lambda rows: sorted(r[:4] + r[5:] for r in rows)  # noqa: E731
    chain_before = without_header(chain_rows(db))
    conn = sqlite3.connect(db)
    undo_credits(conn)
    undo_documents(conn)
    conn.commit()
    conn.close()
    edit(
        db,
        "DROP TABLE invoice_chain",
        "DROP TABLE idempotency_keys",  # migration 8's, so the file is truly version 3
        "PRAGMA user_version = 3",
        drop_triggers=False,
    )
    report = Billing(db).json("ledger", "check", now=LATER)  # opening the file upgrades it
    assert report["ok"] is True  # the header hashes match the invoices, as check verifies
    assert query(db, "PRAGMA user_version") == SCHEMA_VERSION
    assert without_header(chain_rows(db)) == chain_before
    Billing(db).json("invoice", "pay", "AAA-0002", now=LATER)
    assert Billing(db)("ledger", "check", now=LATER).exit_code == 0
    edit(db, "UPDATE invoices SET status = 'open' WHERE number = 'AAA-0002'")
    check_names(db, "AAA-0002")


def test_every_lifecycle_command_keeps_the_chain_whole(db: Path) -> None:
    run = Billing(db)
    run.json("invoice", "void", "BBB-0001", now=LATER)
    run.json("invoice", "mark-uncollectible", "AAA-0002", now=LATER)
    run.json("invoice", "pay", "AAA-0002", now=LATER)
    draft = str(query(db, "SELECT id FROM invoices WHERE status = 'draft'"))
    # cus_c used nothing: amount due 0, so finalizing marks it paid at once (Stripe)
    assert run.json("invoice", "finalize", draft, now=LATER)["status"] == "paid"
    report = run.json("ledger", "check", now=LATER)
    assert report["ok"] is True and report["chains"]["invoice_chain"]["seq"] == 10
    with open_store(db, create=False) as led:
        entries = [(e.status, e.amount_paid) for e in led.invoice_chain()]
    assert entries[5:] == [("void", None), ("uncollectible", None), ("paid", entries[7][1]),
                           ("open", None), ("paid", 0)]  # fmt: skip
    assert entries[7][1] == query(db, "SELECT amount_due FROM invoices WHERE number = 'AAA-0002'")


# -- values the program never writes -----------------------------------------------------------
# Text where the program writes a decimal, JSON, a known word or an id: most of these made
# `ledger check` crash with an internal error (exit 1) before it guarded each step.
NEVER_WRITTEN = [
    "invoices.number", "invoice_lines.explain", "invoice_lines.quantity_decimal",
    "invoice_lines.unit_amount_decimal", "invoice_chain.line_hashes", "meter_events.value",
    "meter_events.payload", "usage_hourly.sum", "usage_hourly.last_value", "prices.tiers",
    "prices.unit_amount_decimal", "prices.metadata", "prices.meter", "meters.formula",
    "meters.event_time_window", "subscriptions.interval", "subscription_items.price",
    "customers.metadata",
]  # fmt: skip


@pytest.mark.sqlite_only  # PostgreSQL's typed columns and CHECKs take no such text
@pytest.mark.parametrize("column", NEVER_WRITTEN)
def test_text_where_billing_never_writes_it_is_named_not_a_crash(db: Path, column: str) -> None:
    """Set on the first row, CHECK constraints ignored (as a careless editor's tool may):
    `ledger check` exits 6 naming what it could not read, never 1."""
    table, name = column.split(".")
    first = "(meter, customer, hour)" if table == "usage_hourly" else "rowid"
    key = first.strip("()")
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA ignore_check_constraints = ON")
        for (trigger,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"):
            conn.execute(f"DROP TRIGGER {trigger}")
        conn.execute(f"UPDATE {table} SET {name} = 'x{{' WHERE {first} ="
                     f" (SELECT {key} FROM {table} ORDER BY {key} LIMIT 1)")  # fmt: skip
        conn.commit()
    finally:
        conn.close()
    result = Billing(db)("ledger", "check", now=LATER)
    assert result.exit_code == 6, result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr


def test_an_unreadable_line_is_named_by_every_command(db: Path) -> None:
    line = line_id(db, "AAA-0002", 1)
    edit(db, f"UPDATE invoice_lines SET explain = '{{' WHERE id = '{line}'")
    error = check_names(db, f"invoice_lines {line}", "AAA-0002")
    assert "value billing never writes" in error
    for args in (["invoice", "show", "AAA-0002"], ["invoice", "list"]):
        result = Billing(db)(*args, now=LATER)
        assert result.exit_code == 6 and f"invoice_lines {line}" in result.stderr
        assert "internal error" not in result.stderr
