"""Seller profile, customer address and tax ids, and their snapshot in finalized invoices
(issue 12, items 1 and 2)."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest

from tests.conftest import Billing, assert_error
from tests.documents import CLOSE, START, build_shop, november, subscribe
from tests.test_tamper import check_names, edit

pytestmark = pytest.mark.both_backends


def test_account_update_and_show(billing: Billing) -> None:
    build_shop(billing)
    account = billing.json("account", "show")
    assert account["business_profile"]["name"] == "Alpaca AI GmbH"
    assert account["company"]["address"] == {
        "line1": "Hauptstraße 1", "line2": None, "postal_code": "10115",
        "city": "Berlin", "state": None, "country": "DE",
    }  # fmt: skip
    assert account["company"]["vat_id"] == "DE123456789"
    assert account["settings"]["invoices"]["footer"].startswith("Alpaca AI GmbH")
    # an update changes what it names and keeps the rest; "" clears a field
    changed = billing.json("account", "update", "--city", "Potsdam", "--address-line2", "")
    assert changed["company"]["address"]["city"] == "Potsdam"
    assert changed["company"]["address"]["line1"] == "Hauptstraße 1"
    assert changed["company"]["vat_id"] == "DE123456789"
    assert billing.json("account", "show") == changed
    shown = billing("account", "show")
    assert shown.exit_code == 0 and "Potsdam" in shown.stdout


def test_account_refuses_bad_values(billing: Billing) -> None:
    assert_error(billing("account", "update", "--country", "Germany"), 4, "--country")
    assert_error(billing("account", "update", "--email", "nobody"), 4, "--email")
    assert_error(billing("account", "update", "--tax-id", "DE 12;3"), 4, "--tax-id")


def test_customer_address_tax_ids_and_update(billing: Billing) -> None:
    build_shop(billing)
    max_ = billing.json("customer", "show", "cus_max")
    assert max_["address"]["city"] == "München" and max_["address"]["country"] == "DE"
    assert max_["tax_ids"]["data"] == [
        {"object": "tax_id", "type": "eu_vat", "value": "DE987654321"}
    ]
    updated = billing.json(
        "customer", "update", "cus_max", "--city", "Hamburg", "--postal-code", "20095",
        "--name", "Max M.", "--metadata", "tier=gold",
    )  # fmt: skip
    assert updated["name"] == "Max M." and updated["email"] == "max@example.com"
    assert updated["address"]["line1"] == "Musterweg 5" and updated["address"]["city"] == "Hamburg"
    assert updated["metadata"] == {"tier": "gold"}
    cleared = billing.json("customer", "update", "cus_max", "--tax-id", "")
    assert cleared["tax_ids"]["data"] == []
    assert_error(billing("customer", "update", "cus_nobody", "--name", "X"), 3, "cus_nobody")
    assert_error(billing("customer", "update", "cus_max", "--country", "XX"), 4, "XX")


def test_finalized_invoices_keep_the_details_they_were_issued_with(billing: Billing) -> None:
    build_shop(billing)
    subscribe(billing)
    issued = november(billing)
    assert issued["account_name"] == "Alpaca AI GmbH"
    assert issued["account_country"] == "DE"
    assert issued["billing_cli"]["account_tax_id"] == "DE123456789"
    assert issued["customer_name"] == "Max Mustermann"
    assert issued["customer_address"]["city"] == "München"
    assert issued["customer_tax_ids"] == [{"type": "eu_vat", "value": "DE987654321"}]
    billing.json(
        "customer", "update", "cus_max", "--city", "Hamburg", "--name", "Max M.", now=CLOSE
    )
    billing.json("account", "update", "--business-name", "Alpaca AI SE", now=CLOSE)
    again = billing.json("invoice", "show", "ALPACA-0001", now=CLOSE)
    assert again["customer_address"]["city"] == "München"
    assert again["customer_name"] == "Max Mustermann"
    assert again["account_name"] == "Alpaca AI GmbH"
    # the next invoice (still a preview) carries the new details
    upcoming = billing.json("invoice", "upcoming", "--customer", "cus_max", now=CLOSE)
    assert upcoming["customer_address"]["city"] == "Hamburg"
    assert upcoming["account_name"] == "Alpaca AI SE"
    assert billing("ledger", "check", now=CLOSE).exit_code == 0


def test_an_edited_snapshot_is_named_by_ledger_check(billing: Billing) -> None:
    build_shop(billing)
    subscribe(billing)
    november(billing)
    with pytest.raises((sqlite3.IntegrityError, psycopg.Error), match="append-only"):
        edit(billing.db, "UPDATE invoices SET parties = '{}' WHERE number = 'ALPACA-0001'",
             drop_triggers=False)  # fmt: skip
    edit(
        billing.db,
        "UPDATE invoices SET parties = replace(parties, 'München', 'Hamburg')"
        " WHERE number = 'ALPACA-0001'",
    )
    check_names(billing.db, "ALPACA-0001")


def test_an_invoice_without_seller_profile_still_finalizes(billing: Billing) -> None:
    billing.json(
        "meter", "create", "--id", "mtr_tokens", "--display-name", "t",
        "--event-name", "alpaca_ai_tokens", "--aggregation", "sum", now=START,
    )  # fmt: skip
    billing.json(
        "price", "create", "--id", "price_tokens", "--product-name", "Alpaca AI",
        "--currency", "usd", "--unit-amount", "4", "--interval", "month",
        "--usage-type", "metered", "--meter", "mtr_tokens", now=START,
    )  # fmt: skip
    billing.json("customer", "create", "--id", "cus_max", "--invoice-prefix", "ALPACA", now=START)
    subscribe(billing)
    issued = november(billing)
    assert issued["account_name"] is None and issued["customer_address"] is None
    assert billing("ledger", "check", now=CLOSE).exit_code == 0
