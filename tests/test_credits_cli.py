"""`billing credit-grant …` and `billing credit …`: shapes (checked against the stripe SDK's
classes), listing, expiring, voiding, bad input with SPEC 5.2's exit codes, tables."""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from stripe.billing import CreditBalanceSummary, CreditBalanceTransaction, CreditGrant

from tests.conftest import Billing, assert_error, snapshot
from tests.test_credits_worked import START, grant, november, run, subscribe, tokens

pytestmark = pytest.mark.both_backends

RUN_DEC = "2026-12-01T01:00:00Z"


def fields(cls: type) -> set[str]:
    return {k for k in getattr(cls, "__annotations__", {}) if not k.isupper() and k[0] != "_"}


def assert_shape(data: Any, cls: type, path: str = "") -> None:
    """Every field the SDK's class declares, and nothing else; nested objects alike."""
    assert isinstance(data, dict), path
    assert set(data) == fields(cls), f"{path}: {sorted(set(data) ^ fields(cls))}"
    for key, inner in getattr(cls, "_inner_class_types", {}).items():
        value = data.get(key)
        for item in value if isinstance(value, list) else [value]:
            if item is not None:
                assert_shape(item, inner, f"{path}.{key}")


@pytest.fixture
def shop(billing: Billing) -> Billing:
    """The worked cases' catalog plus a licensed seat price."""
    b = billing
    b.json(
        "meter", "create", "--id", "mtr_alpaca", "--display-name", "Alpaca AI tokens",
        "--event-name", "alpaca_ai_tokens", "--aggregation", "sum", now=START,
    )  # fmt: skip
    b.json(
        "price", "create", "--id", "price_alpaca", "--product-name", "Alpaca AI",
        "--currency", "usd", "--unit-amount", "4", "--transform-divide-by", "100",
        "--transform-round", "up", "--interval", "month", "--usage-type", "metered",
        "--meter", "mtr_alpaca", now=START,
    )  # fmt: skip
    b.json(
        "price", "create", "--id", "price_seat", "--product-name", "Seat", "--currency", "usd",
        "--unit-amount", "1000", "--interval", "month", "--usage-type", "licensed", now=START,
    )  # fmt: skip
    b.json(
        "customer", "create", "--id", "cus_max", "--name", "Max Mustermann",
        "--invoice-prefix", "ALPACA", now=START,
    )  # fmt: skip
    return b


def test_shapes_are_the_sdks(shop: Billing) -> None:
    subscribe(shop, "price_alpaca")
    g = grant(shop, 1000, "--name", "Welcome", "--metadata", "campaign=launch")
    assert_shape(g, CreditGrant)
    assert g["object"] == "billing.credit_grant" and g["id"].startswith("credgr_")
    assert g["amount"] == {"monetary": {"currency": "usd", "value": 1000}, "type": "monetary"}
    assert g["applicability_config"] == {"scope": {"price_type": "metered", "prices": None}}
    assert (g["category"], g["priority"], g["name"]) == ("paid", 50, "Welcome")
    assert g["metadata"] == {"campaign": "launch"}
    assert g["expires_at"] is None and g["voided_at"] is None
    november(shop)
    inv = run(shop, RUN_DEC)
    summary = shop.json("credit", "balance", "--customer", "cus_max", now=RUN_DEC)
    assert_shape(summary, CreditBalanceSummary)
    for t in shop.json("credit", "transactions", "--customer", "cus_max", now=RUN_DEC)["data"]:
        assert_shape(t, CreditBalanceTransaction)
    line = inv["lines"]["data"][0]
    for entry in [*line["pretax_credit_amounts"], *inv["total_pretax_credit_amounts"]]:
        assert_shape(entry, stripe.InvoiceLineItem.PretaxCreditAmount)
    # The SDK reads them back as its typed objects.
    obj = CreditGrant.construct_from(g, "sk_test_x")
    assert obj.amount.monetary.value == 1000
    assert obj.applicability_config.scope.price_type == "metered"


def test_scope_prices_list_show(shop: Billing) -> None:
    g = grant(shop, 500, "--price", "price_alpaca", "--id", "cg_tokens_only")
    assert g["id"] == "cg_tokens_only"
    assert g["applicability_config"]["scope"] == {
        "price_type": None,
        "prices": [{"id": "price_alpaca"}],
    }
    other = grant(shop, 700, "--category", "promotional", now="2026-11-02T00:00:00Z")
    listed = shop.json("credit-grant", "list", "--customer", "cus_max")
    assert [x["id"] for x in listed["data"]] == [other["id"], "cg_tokens_only"]
    assert shop.json("credit-grant", "show", "cg_tokens_only") == g
    every = shop.json("credit-grant", "list")
    assert {x["id"] for x in every["data"]} == {other["id"], "cg_tokens_only"}


def test_expire_and_void(shop: Billing) -> None:
    subscribe(shop, "price_alpaca")
    used = grant(shop, 1000)
    november(shop)
    run(shop, RUN_DEC)
    later = "2026-12-02T00:00:00Z"
    result = shop("credit-grant", "void", used["id"], now=later)
    assert_error(result, 5, used["id"], "used")
    expired = shop.json("credit-grant", "expire", used["id"], now=later)
    assert expired["expires_at"] is not None
    assert_error(shop("credit-grant", "expire", used["id"], now=later), 5, used["id"])
    unused = grant(shop, 300, now=later)
    voided = shop.json("credit-grant", "void", unused["id"], now=later)
    assert voided["voided_at"] is not None
    assert_error(shop("credit-grant", "void", unused["id"], now=later), 5, unused["id"])
    assert_error(shop("credit-grant", "expire", unused["id"], now=later), 5, unused["id"])
    assert shop("ledger", "check", now=later).exit_code == 0
    txns = shop.json("credit", "transactions", "--customer", "cus_max", now=later)["data"]
    kinds = [(t["credit"] or t["debit"])["type"] for t in txns]
    assert kinds[:2] == ["credits_voided", "credits_granted"]
    assert "credits_expired" in kinds


def test_expire_takes_effect_for_the_next_invoice(shop: Billing) -> None:
    subscribe(shop, "price_alpaca")
    g = grant(shop, 10000)
    shop.json("credit-grant", "expire", g["id"], now="2026-11-15T00:00:00Z")
    november(shop)
    inv = run(shop, RUN_DEC)
    assert inv["total_pretax_credit_amounts"] == [] and inv["amount_due"] == 4288


def test_passive_expiry_is_committed_by_invoice_run(shop: Billing) -> None:
    subscribe(shop, "price_alpaca")
    grant(shop, 1000, "--expires-at", "2026-11-20T00:00:00Z")
    summary = shop.json("credit", "balance", "--customer", "cus_max", now="2026-11-25T00:00:00Z")
    (usd,) = summary["balances"]
    # Stripe: available leaves out expired credit whose expiry is not committed yet.
    assert usd["available_balance"]["monetary"]["value"] == 0
    assert usd["ledger_balance"]["monetary"]["value"] == 1000
    shop.json("invoice", "run", now=RUN_DEC)
    summary = shop.json("credit", "balance", "--customer", "cus_max", now=RUN_DEC)
    assert summary["balances"][0]["ledger_balance"]["monetary"]["value"] == 0
    assert shop("ledger", "check", now=RUN_DEC).exit_code == 0


def test_balance_filters(shop: Billing) -> None:
    grant(shop, 500, "--price", "price_alpaca")
    g = grant(shop, 700)
    shop.json(
        "credit-grant", "create", "--customer", "cus_max", "--amount", "900", "--currency", "eur"
    )  # another currency: its own balance entry

    def values(*args: str) -> list[tuple[str, int]]:
        s = shop.json("credit", "balance", "--customer", "cus_max", *args)
        return [
            (
                b["available_balance"]["monetary"]["currency"],
                b["available_balance"]["monetary"]["value"],
            )
            for b in s["balances"]
        ]

    assert values() == [("eur", 900), ("usd", 1200)]
    assert values("--credit-grant", g["id"]) == [("usd", 700)]


def test_tables_off_a_terminal(shop: Billing) -> None:
    subscribe(shop, "price_alpaca")
    g = grant(shop, 1000, "--name", "Welcome")
    shown = shop("credit-grant", "show", g["id"])
    assert shown.exit_code == 0 and g["id"] in shown.stdout and "10.00 USD" in shown.stdout
    listed = shop("credit-grant", "list")
    assert g["id"] in listed.stdout and "Welcome" in listed.stdout
    november(shop)
    inv = run(shop, RUN_DEC)
    doc = shop("invoice", "show", inv["number"], "--explain", now=RUN_DEC)
    assert doc.exit_code == 0
    assert f"credits: {g['id']} (Welcome, paid)" in doc.stdout
    assert "-10.00 USD" in doc.stdout and "after credits" in doc.stdout
    balance = shop("credit", "balance", "--customer", "cus_max", now=RUN_DEC)
    assert "0.00 USD" in balance.stdout
    txns = shop("credit", "transactions", "--customer", "cus_max", "--csv", now=RUN_DEC)
    assert txns.stdout.splitlines()[0].startswith("id,created,effective_at,credit_grant")
    assert "credits_applied" in txns.stdout


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["--amount", "-5"], 4, "-5"),
        (["--amount", "0"], 4, "0"),
        (["--amount", "10.5"], 4, "10.5"),
        (["--amount", "abc"], 4, "abc"),
        (["--amount", "100", "--priority", "101"], 4, "101"),
        (["--amount", "100", "--priority", "-1"], 4, "-1"),
        (["--amount", "100", "--category", "gift"], 4, "gift"),
        (["--amount", "100", "--expires-at", "2026-10-01T00:00:00Z"], 4, "--expires-at"),
        (
            ["--amount", "100", "--effective-at", "2026-12-01", "--expires-at", "2026-12-01"],
            4,
            "--expires-at",
        ),
        (["--amount", "100", "--price", "price_nope"], 3, "price_nope"),
        (["--amount", "100", "--price", "price_seat"], 4, "price_seat"),
        (["--amount", "100", "--id", "in_wrong"], 4, "in_wrong"),
    ],
)
def test_bad_input(shop: Billing, args: list[str], code: int, fragment: str) -> None:
    before = snapshot(shop.db)
    result = shop("credit-grant", "create", "--customer", "cus_max", "--currency", "usd", *args)
    assert_error(result, code, fragment)
    assert snapshot(shop.db) == before


def test_bad_references(shop: Billing) -> None:
    before = snapshot(shop.db)
    result = shop(
        "credit-grant", "create", "--customer", "cus_nobody", "--amount", "100",
        "--currency", "usd",
    )  # fmt: skip
    assert_error(result, 3, "cus_nobody")
    result = shop(
        "credit-grant", "create", "--customer", "cus_max", "--amount", "100", "--currency", "xyz"
    )
    assert_error(result, 4, "xyz")
    assert_error(shop("credit-grant", "show", "credgr_nope"), 3, "credgr_nope")
    assert_error(shop("credit-grant", "void", "credgr_nope"), 3, "credgr_nope")
    assert_error(shop("credit", "balance", "--customer", "cus_nobody"), 3, "cus_nobody")
    assert_error(shop("credit", "transactions", "--customer", "cus_nobody"), 3, "cus_nobody")
    assert snapshot(shop.db) == before
    g = grant(shop, 100, "--id", "cg_once")
    assert_error(
        shop(
            "credit-grant",
            "create",
            "--customer",
            "cus_max",
            "--amount",
            "100",
            "--currency",
            "usd",
            "--id",
            g["id"],
        ),  # fmt: skip
        5,
        "cg_once",
    )


def test_jpy_has_no_decimals(shop: Billing) -> None:
    result = shop(
        "credit-grant", "create", "--customer", "cus_max", "--amount", "5.5", "--currency", "jpy"
    )
    assert_error(result, 4, "5.5", "jpy")


def test_json_and_csv_together_is_a_usage_error(shop: Billing) -> None:
    assert_error(shop("credit-grant", "list", "--json", "--csv"), 2)


def test_a_grant_in_another_currency_pays_nothing(shop: Billing) -> None:
    """A grant in another currency than the invoice's pays nothing."""
    subscribe(shop, "price_alpaca")
    shop.json(
        "credit-grant", "create", "--customer", "cus_max", "--amount", "1000", "--currency", "eur"
    )
    tokens(shop, 1000, "2026-11-10T00:00:00Z", "e1")
    inv = run(shop, RUN_DEC)
    assert inv["total_pretax_credit_amounts"] == []
