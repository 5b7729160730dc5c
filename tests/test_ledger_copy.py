"""`billing ledger copy SRC DST` (issue 13): SQLite → PostgreSQL and back, verified by
`ledger check` on each copy and by identical invoices, events and catalog."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.conftest import Billing, assert_error, build_alpaca, json_of, snapshot

LISTS = (
    ("meter", "list"),
    ("product", "list"),
    ("price", "list"),
    ("customer", "list"),
    ("subscription", "list"),
    ("invoice", "list"),
    ("event", "list"),
    ("event", "late"),
)


def _story(billing: Billing) -> None:
    """Alpaca with usage, a cancelled event, a late event resolved onto the next invoice, and
    invoices finalized, paid, voided and marked uncollectible then paid."""
    build_alpaca(billing)
    billing.json("customer", "create", "--id", "cus_b", "--name", "B", "--invoice-prefix", "BBB")
    for cus in ("cus_alpaca", "cus_b"):
        billing.json(
            "subscription", "create", "--customer", cus, "--price", "price_tokens",
            "--price", "price_seats:3", "--backdate-start-date", "2026-09-01T00:00:00Z",
        )  # fmt: skip
    for n, (cus, value) in enumerate([("cus_alpaca", "1500"), ("cus_b", "2.5"), ("cus_b", "7")]):
        billing.json(
            "event", "send", "--event-name", "api_tokens", "--customer", cus, "--value", value,
            "--identifier", f"ev{n}", "--timestamp", "2026-09-10T00:00:00Z",
            now="2026-09-10T00:00:00Z",
        )  # fmt: skip
    billing.json("event", "cancel", "--event-name", "api_tokens", "--identifier", "ev2",
                 now="2026-09-11T00:00:00Z")  # fmt: skip
    billing.json("invoice", "run", now="2026-10-02T00:00:00Z")
    billing.json(
        "event", "send", "--event-name", "api_tokens", "--customer", "cus_alpaca", "--value",
        "99", "--identifier", "late1", "--timestamp", "2026-09-20T00:00:00Z",
        now="2026-10-05T00:00:00Z",
    )  # fmt: skip
    billing("event", "late", "--resolve", "next-invoice", now="2026-10-06T00:00:00Z")
    billing.json("invoice", "run", now="2026-11-02T00:00:00Z")
    billing.json("invoice", "pay", "ALPACA-0001", now="2026-11-03T00:00:00Z")
    billing.json("invoice", "void", "BBB-0001", now="2026-11-03T00:00:00Z")
    billing.json("invoice", "mark-uncollectible", "BBB-0002", now="2026-11-04T00:00:00Z")
    billing.json("invoice", "pay", "BBB-0002", now="2026-11-05T00:00:00Z")


def _everything(billing: Billing, db: Any) -> dict[str, Any]:
    seen = {" ".join(args): billing.json(*args, db=db) for args in LISTS}
    check = billing.json("ledger", "check", db=db)
    seen["check"] = {k: check[k] for k in ("ok", "invoices_checked", "lines_checked", "problems")}
    return seen


def test_copy_to_postgres_and_back(billing: Billing, postgres_db: str, tmp_path: Path) -> None:
    _story(billing)
    original = _everything(billing, billing.db)
    invoices = original["invoice list"]["data"]
    assert original["check"]["ok"] and len(invoices) >= 6
    statuses = {i["status"] for i in invoices}
    assert statuses >= {"paid", "void", "open"}, statuses

    to_pg = json_of(billing("ledger", "copy", str(billing.db), postgres_db, "--json"))
    assert to_pg["ledger_check"] == "ok" and to_pg["invoices_identical"] == len(invoices)
    assert to_pg["counts"]["meter_events"] == 4
    assert to_pg["counts"]["meter_event_adjustments"] == 2  # a cancel and a resolve
    assert _everything(billing, postgres_db) == original

    back = tmp_path / "back.db"
    json_of(billing("ledger", "copy", postgres_db, str(back), "--json"))
    assert _everything(billing, back) == original
    heads = [billing.json("ledger", "check", db=d)["chains"] for d in (billing.db, back)]
    assert heads[0] == heads[1]
    # the copies go on as ledgers: a new event and a run on each give the same answers
    for db in (billing.db, postgres_db, back):
        billing.json(
            "event", "send", "--event-name", "api_tokens", "--customer", "cus_b", "--value", "5",
            "--identifier", "after", "--timestamp", "2026-11-10T00:00:00Z",
            now="2026-11-10T00:00:00Z", db=db,
        )  # fmt: skip
        billing.json("invoice", "run", now="2026-12-02T00:00:00Z", db=db)
    finals = [_without_new_ids(_everything(billing, db)) for db in (billing.db, postgres_db, back)]
    for final in finals:  # same-second invoices are listed by their (random) id
        final["invoice list"]["data"].sort(key=lambda i: (i["number"] or "", i["customer"]))
    assert finals[0] == finals[1] == finals[2]


def _without_new_ids(value: Any) -> Any:
    """Ids are random: those of invoices and lines made after the copy differ by ledger."""
    if isinstance(value, dict):
        return {k: _without_new_ids(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_new_ids(v) for v in value]
    if isinstance(value, str):
        return re.sub(r"\b(in|il)_[A-Za-z0-9]{24}\b", "id", value)
    return value


def test_copy_refuses_a_target_with_rows(billing: Billing, postgres_db: str) -> None:
    build_alpaca(billing)
    assert_error(billing("meter", "list", db=postgres_db), 3, "no ledger")  # creates nothing
    billing.json(
        "meter", "create", "--display-name", "x", "--event-name", "x", "--aggregation", "count",
        db=postgres_db,
    )  # fmt: skip
    before = snapshot(postgres_db)
    assert_error(billing("ledger", "copy", str(billing.db), postgres_db), 5, "not empty")
    assert snapshot(postgres_db) == before
    assert_error(billing("ledger", "copy", str(billing.db), str(billing.db)), 5, "same ledger")
    missing = str(Path(billing.db).parent / "missing.db")
    assert_error(billing("ledger", "copy", missing, postgres_db), 3, "no ledger")
