# ruff: noqa: E501 - known-answer vectors are long hex strings
"""Issue 10.6: known-answer tests for every persisted format. The vectors below were computed
once and written down; a refactor that changes a derived identifier, a chain link or an invoice
hash (and so could no longer verify the ledgers already on disk) fails here. Never update a
vector to make a test pass: add a migration instead.

The ledgers of older schema versions (tests/data/ledgers, tests/test_old_ledgers.py) are the
other half: every hash stored in them is recomputed by `ledger check` with today's code.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

from billing_cli.domain import chain
from billing_cli.domain.events import derived_identifier
from billing_cli.domain.invoice_lines import Line
from billing_cli.domain.invoicing import Invoice
from tests.conftest import Billing

# -- derived identifiers (SPEC 2.3) -----------------------------------------------------------

DERIVED = [
    (
        ("api_tokens", 1793523600, {"stripe_customer_id": "cus_max", "value": "3000"}, 0),
        "row_dd3d0b02e0b9fb5004f3231b5eb4e0d6",
    ),
    (
        ("api_tokens", 1793523600, {"stripe_customer_id": "cus_max", "value": "3000"}, 1),
        "row_bcbe8c04f82a061f1ef12a87badb4d52",
    ),
    (
        ("api_tokens", None, {"value": "1", "stripe_customer_id": "cus_max"}, 0),
        "row_2a27f0b46bb8f9a0bc4f94b78b8ed7bd",
    ),
    (("ünï,:", 0, {"k:1,": "v,2:", "": ""}, 7), "row_a84af6b44e6de988c598c0d0d585370b"),
]


def test_derived_identifiers() -> None:
    for args, expected in DERIVED:
        assert derived_identifier(*args) == expected, args


# -- chain links --------------------------------------------------------------------------------


def test_chain_link_vectors() -> None:
    assert chain.GENESIS == "0" * 64
    event = [1, "ev1", "api_tokens", "mtr_tokens", "cus_max", 1793523600, "+007.50",
             '{"stripe_customer_id":"cus_max","value":"+007.50"}', 1793523700, "accepted"]  # fmt: skip
    assert (
        chain.link(chain.GENESIS, event)
        == "aa9efa37fe9563e2370a06734708d93f9d48cee5a8f691734a83430227a5ea93"
    )
    assert chain.link("aa9efa37fe9563e2370a06734708d93f9d48cee5a8f691734a83430227a5ea93", [2, "ev2", "calls", "mtr_calls", "cus_max", 5, None, "{}", 6,
                              "late"]) == "df79043e25a6c1a3a7139554e7df3deaf52e2f752c30de366c26acc60589fd33"  # fmt: skip
    adjustment = [1, "cancel", "ev1", None, 1793523800]
    assert (
        chain.link(chain.GENESIS, adjustment)
        == "fc77bd961cfe6ed9906ea4abe9913077841e84cb206ab856d6614a1c52d7531f"
    )
    opened = [1, "in_1", "open", 1793523900, None, "h" * 64, '[["il_1","x"]]']
    assert (
        chain.link(chain.GENESIS, opened)
        == "eac63c35cfc635e93f5b0c4c5e8d3dcdefee903974635ef79d2da534a8a1cdcd"
    )
    assert (
        chain.link(
            "eac63c35cfc635e93f5b0c4c5e8d3dcdefee903974635ef79d2da534a8a1cdcd",
            [2, "in_1", "paid", 1793524000, 1234, None, None],
        )
        == "46f547c22e772ee78755c068c0edfde23df4c73e6eaa95746ee3fc23d49bf9c4"
    )


# -- invoice hashes -----------------------------------------------------------------------------


def _invoice() -> Invoice:
    line = Line(
        type="subscription", description="Alpaca AI", period_start=1793491200,
        period_end=1796083200, quantity_decimal=Decimal("4275.5"), amount=172,
        subscription_item="si_1", price="price_tokens", meter="mtr_tokens",
        unit_amount_decimal=Decimal("0.0000001"),
        explain={"kind": "metered", "raw_aggregate": "4275.5", "tier_walk": []}, id="il_1",
    )  # fmt: skip
    late = Line(
        type="late_usage", description="Late usage: Alpaca AI", period_start=1790899200,
        period_end=1793491200, quantity_decimal=Decimal("-10"), amount=-4, price="price_tokens",
        meter="mtr_tokens", unit_amount_decimal=Decimal("0.04"), explain={"kind": "late_usage"},
        id="il_2",
    )  # fmt: skip
    return Invoice(
        id="in_1", created=1796083200, customer="cus_max", subscription="sub_1", status="open",
        billing_reason="subscription_cycle", number="ALPACA-0001", currency="usd",
        period_start=1793491200, period_end=1796083200, lines=(line, late), subtotal=168,
        total=168, starting_balance=-20, ending_balance=0, amount_due=148,
        computed_at=1796086800, finalized_at=1796086800,
    )  # fmt: skip


def test_invoice_hash_vectors() -> None:
    inv = _invoice()
    assert (
        chain.invoice_hash(inv)
        == "32f04510fa5ee79abc37ce0140e905086660ada3f4df8223cd89f0ca0b66c5cd"
    )
    assert (
        chain.header_hash(inv) == "cd04f83e089561180d79e9aa8d1dd9783ab580129de426193476a2373eef2890"
    )
    assert chain.line_hashes(inv) == (
        '[["il_1","6af462f167136af3f8c129956e6f372454cfab75b5f84ed7d13eefe64c15bf88"],'
        '["il_2","d1574d8c261387255b073c4005e0caa96881a2ed3fea5ab7bbf3a5906718d619"]]'
    )


# -- the stored rows, written by the real commands ------------------------------------------


def test_stored_event_and_adjustment_hashes(billing: Billing, db: Path) -> None:
    """The import fast path spells the canonical row out by hand; its hashes must equal the
    vectors (and `chain.link`) exactly."""
    billing.json(
        "meter", "create", "--id", "mtr_t", "--display-name", "T", "--event-name", "t",
        "--aggregation", "sum",
    )  # fmt: skip
    billing.json("customer", "create", "--id", "cus_1", "--invoice-prefix", "ONE")
    csv = "event_name,identifier,timestamp,stripe_customer_id,value\nt,e1,1793520000,cus_1,+007.50\nt,,1793520001,cus_1,2\n"
    billing("event", "import", "-", "--format", "csv", input=csv)
    billing.json("event", "cancel", "--event-name", "t", "--identifier", "e1")
    conn = sqlite3.connect(db)
    try:
        events = conn.execute("SELECT identifier, hash FROM meter_events ORDER BY seq").fetchall()
        adjustments = conn.execute("SELECT hash FROM meter_event_adjustments").fetchall()
    finally:
        conn.close()
    assert events == [
        ("e1", "52b745acad090d7eb6baaed13c70920a4bd6f9fe281ca5612e06ec070894a827"),
        (
            "row_a1b72535bd8643539cb12a387442408e",
            "13c8efd69b0d2a2bd3bbbe69f9c3588aedaa8e91c24d1d0a51b0090b9688ad73",
        ),
    ]
    assert adjustments == [("0e7bef811bf0b134abbff992407eaf4ad1a53ee36b2e78a04d625bc5a4239b76",)]
