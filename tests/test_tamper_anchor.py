"""Issue 15 item 5: tampering `ledger check` used to miss.

- the schema itself: an append-only trigger dropped, replaced by a harmless one, or a trigger
  added (compared with the schema billing's migrations create);
- catalog rows edited by hand: a meter's `customer_key`, a subscription's status or
  `cancel_at_period_end`, a price's amount, a customer's name (the catalog chain);
- a customer's name and email changed after an invoice was finalized: the invoice keeps the
  ones it was issued with, under its hash;
- an event forged at the end with a valid hash and roll-ups to match, the newest event deleted
  with its roll-ups rebuilt, history rewritten with every hash recomputed: invisible from
  inside the file by design, named by `ledger check --expect-head` against a head printed
  earlier (`--print-head`).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from billing_cli.domain import chain
from billing_cli.domain.events import ValidEvent
from billing_cli.storage.port import open_store
from tests.backends import query_rows
from tests.conftest import Billing, assert_error, json_of
from tests.test_tamper import (  # noqa: F401  (fixtures)
    LATER,
    check_names,
    db,
    edit,
    template,
    templates,
)

pytestmark = pytest.mark.both_backends


def check(db: Path | str, *args: str):  # noqa: ANN201, F811
    return Billing(db)("ledger", "check", *args, now=LATER)


# -- the schema (SQLite's triggers; PostgreSQL's in test_postgres_schema.py) ----------------------
@pytest.mark.sqlite_only
def test_a_dropped_trigger_is_named(db: Path) -> None:  # noqa: F811
    edit(db, "DROP TRIGGER meter_events_no_update", drop_triggers=False)
    check_names(db, "trigger meter_events_no_update is missing (dropped outside billing)")


@pytest.mark.sqlite_only
def test_a_replaced_trigger_is_named(db: Path) -> None:  # noqa: F811
    edit(
        db,
        "DROP TRIGGER invoices_finalized_frozen",
        "CREATE TRIGGER invoices_finalized_frozen BEFORE UPDATE ON invoices WHEN 0"
        " BEGIN SELECT RAISE(ABORT, 'never'); END",
        drop_triggers=False,
    )
    check_names(db, "trigger invoices_finalized_frozen is not the one billing created")


@pytest.mark.sqlite_only
def test_an_added_trigger_is_named(db: Path) -> None:  # noqa: F811
    edit(
        db,
        "CREATE TRIGGER sneaky AFTER INSERT ON meter_events BEGIN SELECT 1; END",
        drop_triggers=False,
    )
    check_names(db, "trigger sneaky was not created by billing (added outside billing)")


# -- catalog rows edited by hand ------------------------------------------------------------------
CATALOG_EDITS = [
    (
        "UPDATE meters SET customer_key = 'account' WHERE id = 'mtr_tokens'",
        "meters mtr_tokens: customer_key 'account' (billing recorded 'stripe_customer_id')",
    ),
    (
        "UPDATE subscriptions SET status = 'canceled', ended_at = 1764547200"
        " WHERE customer = 'cus_b'",
        "status 'canceled' (billing recorded 'active')",
    ),
    (
        "UPDATE subscriptions SET cancel_at_period_end = 1 WHERE customer = 'cus_a'",
        "cancel_at_period_end 1 (billing recorded 0)",
    ),
    (
        "UPDATE prices SET unit_amount_decimal = '0.01' WHERE id = 'price_tokens'",
        "prices price_tokens: unit_amount_decimal '0.01' (billing recorded '0.04')",
    ),
    (
        "UPDATE customers SET name = 'Mallory', email = 'm@evil.example' WHERE id = 'cus_c'",
        "customers cus_c: name 'Mallory' (billing recorded None)",
    ),
    ("DELETE FROM products WHERE id = (SELECT min(id) FROM products)", "deleted outside billing"),
    (
        "INSERT INTO subscription_items (id, created, subscription, price, quantity)"
        " SELECT 'si_forged', 0, id, 'price_seats', 9 FROM subscriptions WHERE customer = 'cus_b'",
        "subscription_items si_forged: not written by billing",
    ),
]


@pytest.mark.parametrize(("sql", "named"), CATALOG_EDITS)
def test_a_catalog_row_edited_by_hand_is_named(db: Path, sql: str, named: str) -> None:  # noqa: F811
    edit(db, "PRAGMA foreign_keys = OFF", sql)
    check_names(db, named, "edited outside billing" if "recorded" in named else "billing")


def test_catalog_changes_made_through_billing_pass(db: Path) -> None:  # noqa: F811
    run = Billing(db)
    run.json("meter", "update", "mtr_tokens", "--display-name", "Tokens (v2)", now=LATER)
    run.json("meter", "deactivate", "mtr_tokens", now=LATER)
    run.json("customer", "update", "cus_c", "--name", "Carol", now=LATER)
    [sub] = run.json("subscription", "list", "--customer", "cus_b", now=LATER)["data"]
    run.json("subscription", "cancel", sub["id"], "--at-period-end", now=LATER)
    assert json_of(check(db, "--json"))["ok"] is True


def test_the_catalog_chain_itself_is_checked(db: Path) -> None:  # noqa: F811
    edit(db, "UPDATE catalog_chain SET state = replace(state, 'Tokens', 'Tokenz') WHERE seq = 1")
    check_names(db, "catalog_chain seq 1 (meters mtr_tokens): hash does not match the chain")


# -- the buyer as the invoice was issued ----------------------------------------------------------
@pytest.mark.sqlite_only  # json_set; test_parties.py edits the snapshot on both backends
def test_the_buyer_on_a_finalized_invoice_is_frozen(db: Path) -> None:  # noqa: F811
    run = Billing(db)
    before = run.json("invoice", "show", "AAA-0002", now=LATER)
    run.json("customer", "update", "cus_a", "--name", "Renamed", "--email", "new@example.com",
             now=LATER)  # fmt: skip
    after = run.json("invoice", "show", "AAA-0002", now=LATER)
    assert (after["customer_name"], after["customer_email"]) == (
        before["customer_name"],
        before["customer_email"],
    )
    assert json_of(check(db, "--json"))["ok"] is True
    edit(
        db,
        "UPDATE invoices SET parties = json_set(parties, '$.customer_name', 'Mallory')"
        " WHERE number = 'AAA-0002'",
    )
    check_names(db, "AAA-0002", "edited outside billing")


# -- the head -------------------------------------------------------------------------------------
def head_of(db: Path) -> str:  # noqa: F811
    result = check(db, "--print-head")
    assert result.exit_code == 0, result.stderr
    head = result.stdout.strip()
    assert chain.parse_head(head) is not None and "\n" not in head
    assert "ledger check: ok" in result.stderr
    return head


def test_print_head_then_expect_it(db: Path) -> None:  # noqa: F811
    head = head_of(db)
    assert head == head_of(db)  # reading changes nothing
    ok = check(db, "--expect-head", head)
    assert ok.exit_code == 0 and "at the expected head" in ok.stdout
    assert json_of(check(db, "--json"))["head"] == head


def test_a_forged_event_with_a_valid_hash_is_named_against_the_head(db: Path) -> None:  # noqa: F811
    head = head_of(db)
    # the program's own code: a valid hash, roll-ups to match
    with open_store(db, create=False) as led:
        forged = ValidEvent("forged", "api_tokens", "mtr_tokens", "cus_a", Decimal(999999),
                            "999999", 1764500000, {"stripe_customer_id": "cus_a",
                                                   "value": "999999"}, 0)  # fmt: skip
        with led.write():
            assert led.append_events([forged], 1764500000) == []
    assert check(db).exit_code == 0  # consistent inside the file: nothing can tell
    result = check(db, "--expect-head", head)
    assert result.exit_code == 6
    assert "meter_events: 1 row(s) added since the recorded head" in result.stderr


def test_a_deleted_newest_event_is_named_against_the_head(db: Path) -> None:  # noqa: F811
    head = head_of(db)
    newest = query_rows(
        db, "SELECT meter, customer, timestamp / 3600 * 3600 FROM meter_events ORDER BY seq DESC"
    )[0]
    edit(db, "DELETE FROM meter_events WHERE seq = (SELECT max(seq) FROM meter_events)")
    with open_store(db, create=False) as led, led.write():  # the roll-ups rebuilt to match
        led._recompute_bucket(*newest)  # type: ignore[attr-defined]
    result = check(db, "--expect-head", head)
    assert result.exit_code == 6, result.stderr
    assert "meter_events: the recorded head has seq 12, the ledger ends at 11" in result.stderr
    assert "cut off the end" in result.stderr


def test_history_rewritten_with_recomputed_hashes_is_named_against_the_head(
    db: Path,  # noqa: F811
) -> None:
    head = head_of(db)
    # the adjustment chain's only row, rewritten and rehashed: still a valid chain
    [(seq, kind, ident, invoice, created)] = query_rows(
        db, "SELECT seq, type, identifier, invoice, created FROM meter_event_adjustments"
    )
    forged = chain.link(chain.GENESIS, [seq, kind, ident, invoice, created + 1])
    edit(
        db,
        f"UPDATE meter_event_adjustments SET created = {created + 1}, hash = '{forged}'"
        f" WHERE seq = {seq}",
    )
    result = check(db, "--expect-head", head)
    assert result.exit_code == 6
    assert "no longer lead to the recorded head" in result.stderr


@pytest.mark.parametrize(
    "bad", ["", "v1:1.2:abc", "v2:1.2.3.4:" + "0" * 32, "v1:a.b.c.d:" + "0" * 32]
)
def test_a_malformed_head_is_invalid_input(db: Path, bad: str) -> None:  # noqa: F811
    assert_error(check(db, "--expect-head", bad), 4, "is not a ledger head")


def test_no_head_is_printed_for_a_ledger_that_fails(db: Path) -> None:  # noqa: F811
    edit(db, "UPDATE meters SET value_key = 'v' WHERE id = 'mtr_tokens'")
    result = check(db, "--print-head", "--json")
    assert result.exit_code == 6
    assert json.loads(result.stdout)["head"] is None
