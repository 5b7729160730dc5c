"""examples/alpaca.md step by step through the CLI, with its amounts, numbers and exit codes,
and the preview-equals-final checks; then `billing demo`, which tells the same story."""

from __future__ import annotations

from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.conftest import Billing, assert_error, json_of

pytestmark = pytest.mark.both_backends

METER = ["--display-name", "Alpaca AI tokens", "--event-name", "alpaca_ai_tokens"]


def send(billing: Billing, now: str, ident: str, value: str, timestamp: str, **kw: str):
    return billing(
        "event", "send", "--event-name", "alpaca_ai_tokens", "--customer", kw.get("cus", ""),
        "--value", value, "--identifier", ident, "--timestamp", timestamp, now=now,
    )  # fmt: skip


def one_line(invoice: dict) -> tuple[str, str, int, int]:
    [line] = invoice["lines"]["data"]
    return (
        line["quantity_decimal"],
        line["billing_cli"]["explain"]["transformed_quantity"],
        line["amount"],
        invoice["total"],
    )


def test_alpaca_step_by_step(billing: Billing) -> None:
    t1 = "2026-11-01T09:00:00Z"
    meter = billing.json("meter", "create", *METER, "--aggregation", "sum", now=t1)  # 1
    assert meter["customer_mapping"]["event_payload_key"] == "stripe_customer_id"
    assert meter["value_settings"]["event_payload_key"] == "value"
    price = billing.json(
        "price",
        "create",
        "--product-name",
        "Alpaca AI",
        "--currency",
        "usd",
        "--unit-amount",
        "4",
        "--transform-divide-by",
        "100",
        "--transform-round",
        "up",
        "--interval",
        "month",
        "--usage-type",
        "metered",
        "--meter",
        meter["id"],
        now=t1,
    )  # 2  fmt: skip
    cus = billing.json(
        "customer",
        "create",
        "--name",
        "Max Mustermann",
        "--email",
        "max@example.com",
        "--invoice-prefix",
        "ALPACA",
        now=t1,
    )["id"]  # 3  fmt: skip
    sub = billing.json(
        "subscription", "create", "--customer", cus, "--price", price["id"], now=t1
    )  # 4
    assert (
        sub["items"]["data"][0]["current_period_start"],
        sub["items"]["data"][0]["current_period_end"],
    ) == (1793523600, 1796115600)
    assert billing.json("invoice", "list", now=t1)["data"] == []  # no invoice created

    def ev(now: str, ident: str, value: str, timestamp: str):
        return send(billing, now, ident, value, timestamp, cus=cus)

    assert ev("2026-11-01T10:00:05Z", "ev1", "25", "2026-11-01T10:00:00Z").exit_code == 0  # 5
    assert ev("2026-11-03T12:30:05Z", "ev2", "3000", "2026-11-03T12:30:00Z").exit_code == 0  # 6
    dup = ev("2026-11-03T12:31:00Z", "ev2", "3000", "2026-11-03T12:30:00Z")  # 7
    assert dup.exit_code == 0 and "duplicate" in (dup.stdout + dup.stderr).lower()
    assert_error(ev("2026-11-03T12:32:00Z", "ev2", "3001", "2026-11-03T12:30:00Z"), 5)  # 8
    assert ev("2026-11-15T08:00:05Z", "ev3", "1250", "2026-11-15T08:00:00Z").exit_code == 0  # 9

    def upcoming(now: str) -> dict:
        return billing.json("invoice", "upcoming", "--customer", cus, "--explain", now=now)

    assert one_line(upcoming("2026-11-16T00:00:00Z")) == ("4275", "43", 172, 172)  # 10
    doc = billing("invoice", "upcoming", "--customer", cus, now="2026-11-16T00:00:00Z")
    assert "0.04 USD" in doc.stdout and "1.72 USD" in doc.stdout
    assert ev("2026-11-30T23:59:59Z", "ev4", "480", "2026-11-30T23:59:59Z").exit_code == 0  # 11
    assert ev("2026-12-01T09:00:01Z", "ev5", "100", "2026-12-01T09:00:00Z").exit_code == 0  # 12
    assert one_line(upcoming("2026-12-01T09:00:00Z")) == ("4755", "48", 192, 192)  # before ev6
    run1 = billing.json("invoice", "run", now="2026-12-01T09:05:00Z")  # 13
    assert len(run1["created"]) == 1 and run1["finalized"] == []
    [inv_id] = run1["created"]
    draft = billing.json("invoice", "show", inv_id, "--explain", now="2026-12-01T09:05:00Z")
    assert draft["status"] == "draft" and one_line(draft) == ("4755", "48", 192, 192)
    assert draft["period_start"] == 1793523600 and draft["period_end"] == 1796115600
    assert ev("2026-12-01T09:30:00Z", "ev6", "300", "2026-12-01T08:59:59Z").exit_code == 0  # 14
    preview = upcoming("2026-12-01T09:45:00Z")
    assert one_line(preview) == ("5055", "51", 204, 204)
    run2 = billing.json("invoice", "run", now="2026-12-01T10:00:00Z")  # 15
    assert run2["finalized"] == [inv_id] and run2["created"] == []
    final = billing.json("invoice", "show", inv_id, "--explain", now="2026-12-01T10:00:00Z")
    assert (final["number"], final["status"]) == ("ALPACA-0001", "open")
    assert one_line(final) == one_line(preview) == ("5055", "51", 204, 204)
    strip = ("id", "invoice")
    assert [{k: v for k, v in li.items() if k not in strip} for li in final["lines"]["data"]] == [
        {k: v for k, v in li.items() if k not in strip} for li in preview["lines"]["data"]
    ]
    run3 = billing.json("invoice", "run", now="2026-12-01T10:00:00Z")  # 16
    assert run3["data"] == [] and run3["object"] == "list"
    assert (run3["created"], run3["recomputed"], run3["finalized"]) == ([], [], [])
    late = ev("2026-12-01T10:30:00Z", "ev7", "999", "2026-11-20T00:00:00Z")  # 17
    assert late.exit_code == 0 and "late" in (late.stdout + late.stderr).lower()
    by_number = billing.json("invoice", "show", "ALPACA-0001", now="2026-12-01T10:30:00Z")
    assert by_number["id"] == inv_id and by_number["total"] == 204
    listed = billing.json("event", "late", now="2026-12-01T10:30:00Z")
    assert [e["identifier"] for e in listed["data"]] == ["ev7"]
    nxt = upcoming("2026-12-02T00:00:00Z")  # 18
    assert (nxt["period_start"], nxt["period_end"]) == (1796115600, 1798794000)
    assert one_line(nxt) == ("100", "1", 4, 4)
    check = billing("ledger", "check", now="2026-12-02T00:00:00Z")  # 19
    assert check.exit_code == 0, check.stdout + check.stderr


def test_late_event_resolved_into_the_next_invoice(billing: Billing) -> None:
    """Beyond the example: ev7 resolved into December's invoice as a delta line."""
    test_alpaca_step_by_step(billing)
    resolved = billing("event", "late", "--resolve", "next-invoice", now="2026-12-02T00:00:00Z")
    assert resolved.exit_code == 0 and "ev7" in resolved.stdout
    nxt = billing.json("invoice", "list", now="2026-12-02T00:00:00Z")["data"][0]
    preview = json_of(
        billing("invoice", "upcoming", "--customer", nxt["customer"], "--json", now="2026-12-02")
    )
    usage, late = preview["lines"]["data"]
    assert (
        late["billing_cli"]["type"] == "late_usage" and late["amount"] == 40
    )  # 6054 → 61 × 4 − 204
    assert late["period"] == {"start": 1793523600, "end": 1796115600}
    run = billing.json("invoice", "run", now="2027-01-01T10:00:00Z")
    [dec] = run["finalized"]
    final = billing.json("invoice", "show", dec, now="2027-01-01T10:00:00Z")
    assert (final["number"], final["total"]) == ("ALPACA-0002", 44)
    assert billing("ledger", "check", now="2027-01-02").exit_code == 0
    assert billing.json("event", "late", now="2027-01-02")["data"] == []


@pytest.mark.sqlite_only  # the demo writes its own SQLite file
def test_demo_runs_the_story_into_a_throwaway_ledger(billing: Billing, tmp_path: Path) -> None:
    result = billing("demo", now=None, db=None)
    assert result.exit_code == 0, result.stdout + result.stderr
    out = result.stdout
    assert "ALPACA-0001" in out and "2.04 USD" in out and "preview" in out
    assert "VAT 19 % on 2.04 USD  0.39 USD" in out and "Assets:Receivable" in out
    assert out.rstrip().endswith("steps.")
    kept = tmp_path / "demo.db"
    assert billing("demo", "--db", str(kept), now=None, db=None).exit_code == 0
    again = billing("demo", "--db", str(kept), now=None, db=None)
    assert_error(again, 2, "exists")
    shown = billing.json("invoice", "show", "ALPACA-0001", db=kept, now="2026-12-02")
    assert (shown["subtotal"], shown["total"]) == (204, 243)
    assert shown["customer_address"]["city"] == "München"
    pdf = PdfReader(tmp_path / "ALPACA-0001.pdf").pages[0].extract_text()
    assert "Alpaca AI GmbH" in pdf and "Amount due 2.43 USD" in pdf


@pytest.mark.sqlite_only
def test_demo_refuses_a_database_uri(billing: Billing) -> None:
    # a URI was taken as a file path: step 1 failed with exit 6 and "this is a bug"
    result = billing("demo", "--db", "postgresql://alpaca@localhost/demo", now=None, db=None)
    line = assert_error(result, 2, "new SQLite file")
    assert "ledger copy demo.db" in result.stderr and line.endswith("new SQLite file")
