"""Invoice use cases (SPEC 4.3–4.6, 1.5, 2.6, 6) through the api layer, on a real ledger of
each backend (issue 13.4)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing_cli.api import (
    Context,
    catalog,
    events,
    late_events,
    ledger_check,
    prices,
    subscriptions,
)
from billing_cli.api import invoices as api
from billing_cli.clock import parse_time, to_unix
from billing_cli.domain import invoicing
from billing_cli.errors import Conflict, InvalidInput, NotFound, UsageError
from billing_cli.storage.port import open_store
from tests.backends import new_location, tamper
from tests.conftest import snapshot

pytestmark = pytest.mark.both_backends

T0 = "2026-11-01T09:00:00Z"


def ts(text: str) -> int:
    return to_unix(parse_time(text))


class Book:
    """A ledger with the Alpaca catalog (mtr_tokens, price_tokens, price_seats, cus_a)."""

    def __init__(self, db: Path | str) -> None:
        self.db = db
        self.seq = 0

    def ctx(self, now: str | int) -> Context:
        when = parse_time(str(now))
        return Context(db=self.db, now=when)

    def setup(self) -> Book:
        c = self.ctx(T0)
        catalog.create_meter(
            c, display_name="Tokens", event_name="tokens", aggregation="sum", meter_id="mtr_tokens"
        )
        prices.create_price(
            c, product_name="Alpaca AI", currency="usd", unit_amount=4, transform_divide_by=100,
            transform_round="up", interval="month", usage_type="metered", meter="mtr_tokens",
            price_id="price_tokens",
        )  # fmt: skip
        prices.create_price(
            c, product_name="Seats", currency="usd", unit_amount=2000, interval="month",
            usage_type="licensed", price_id="price_seats",
        )  # fmt: skip
        self.customer("cus_a", "ALPACA")
        return self

    def customer(self, cid: str, prefix: str) -> None:
        catalog.create_customer(self.ctx(T0), name=cid, invoice_prefix=prefix, customer_id=cid)

    def subscribe(self, *prices: str, customer: str = "cus_a", at: str = T0, **kw) -> str:
        sub = subscriptions.create_subscription(
            self.ctx(at), customer=customer, prices=list(prices or ["price_tokens"]), **kw
        )
        return sub.id

    def event(
        self, when: str, value: str, *, received: str | None = None, customer: str = "cus_a"
    ) -> str:
        """`event send` at its receipt time (late classification and roll-ups included)."""
        self.seq += 1
        ident = f"ev{self.seq}"
        events.send_event(
            self.ctx(received or when), event_name="tokens", customer=customer, value=value,
            identifier=ident, timestamp=str(ts(when)),
        )  # fmt: skip
        return ident


@pytest.fixture
def book(db: Path | str) -> Book:
    return Book(db).setup()


# -- preview and run ----------------------------------------------------------------------------


def test_alpaca_preview_run_grace_and_final(book: Book) -> None:
    book.subscribe()
    for when, value in [
        ("2026-11-01T10:00:00Z", "25"),
        ("2026-11-03T12:30:00Z", "3000"),
        ("2026-11-15T08:00:00Z", "1250"),
    ]:
        book.event(when, value)
    preview = api.upcoming(book.ctx("2026-11-16T00:00:00Z"), customer="cus_a")
    assert preview.id is None and preview.billing_reason == "upcoming"
    assert [(li.quantity, li.amount) for li in preview.lines] == [(4275, 172)]
    book.event("2026-11-30T23:59:59Z", "480")
    book.event("2026-12-01T09:00:00Z", "100", received="2026-12-01T09:00:01Z")
    first = api.run(book.ctx("2026-12-01T09:05:00Z"))
    assert len(first.created) == 1 and first.finalized == []
    [draft] = first.invoices.values()
    assert (draft.status, draft.total, draft.number) == ("draft", 192, None)
    at_nine = api.upcoming(book.ctx("2026-12-01T09:00:00Z"), customer="cus_a")
    assert at_nine.total == 192
    book.event("2026-12-01T08:59:59Z", "300", received="2026-12-01T09:30:00Z")
    preview = api.upcoming(book.ctx("2026-12-01T09:45:00Z"), customer="cus_a")
    second = api.run(book.ctx("2026-12-01T10:00:00Z"))
    assert second.recomputed == second.finalized == first.created
    final = second.invoices[first.created[0]]
    assert (final.status, final.number, final.total) == ("open", "ALPACA-0001", 204)
    assert invoicing.differences(preview, final) == []
    again = api.run(book.ctx("2026-12-01T10:00:00Z"))
    assert (again.created, again.recomputed, again.finalized) == ([], [], [])
    nxt = api.upcoming(book.ctx("2026-12-02T00:00:00Z"), customer="cus_a")
    assert (nxt.period_start, nxt.lines[0].quantity, nxt.total) == (
        ts("2026-12-01T09:00:00Z"),
        100,
        4,
    )
    assert ledger_check.check_ledger(book.ctx("2026-12-02T00:00:00Z")).ok


def test_cron_that_missed_three_months_catches_up_in_order(book: Book) -> None:
    book.subscribe()
    for month in ("11", "12"):
        book.event(f"2026-{month}-10T00:00:00Z", "1000")
    book.event("2027-01-10T00:00:00Z", "200")
    result = api.run(book.ctx("2027-02-03T00:00:00Z"))
    assert len(result.created) == 3 and result.finalized == result.created
    invs = [result.invoices[i] for i in result.finalized]
    assert [i.number for i in invs] == ["ALPACA-0001", "ALPACA-0002", "ALPACA-0003"]
    assert [i.period_start for i in invs] == sorted(i.period_start for i in invs)
    assert [i.total for i in invs] == [40, 40, 8]
    assert api.run(book.ctx("2027-02-03T00:00:00Z")).created == []


@pytest.mark.parametrize(
    ("start", "ends"),
    [
        ("2028-01-31T12:00:00Z", ["2028-02-29", "2028-03-31", "2028-04-30"]),
        ("2027-01-31T12:00:00Z", ["2027-02-28", "2027-03-31", "2027-04-30"]),
        ("2028-01-30T12:00:00Z", ["2028-02-29", "2028-03-30", "2028-04-30"]),
        ("2027-01-29T12:00:00Z", ["2027-02-28", "2027-03-29", "2027-04-29"]),
    ],
)
def test_month_end_anchor_bills_the_right_periods(book: Book, start: str, ends: list[str]) -> None:
    book.subscribe(at=start)
    result = api.run(book.ctx(start[:5] + "05-05T00:00:00Z"))
    invs = [result.invoices[i] for i in result.finalized]
    got = [parse_time(str(i.period_end)).strftime("%Y-%m-%d") for i in invs]
    assert got == ends
    assert invs[0].period_start == ts(start)
    assert all(a.period_end == b.period_start for a, b in zip(invs, invs[1:], strict=False))


def test_grace_option(book: Book) -> None:
    book.subscribe()
    with pytest.raises(InvalidInput, match="72h"):
        api.parse_grace("73h")
    assert api.parse_grace(None) == timedelta(hours=1)
    assert api.run(book.ctx("2026-12-01T10:00:00Z"), grace=api.parse_grace("2h")).finalized == []
    assert api.run(book.ctx("2026-12-01T11:00:00Z"), grace=api.parse_grace("2h")).finalized


def test_dry_run_writes_nothing(book: Book) -> None:
    book.subscribe()
    before = snapshot(book.db)
    result = api.run(book.ctx("2027-03-01T00:00:00Z"), dry_run=True)
    assert len(result.finalized) == 3 and result.dry_run
    assert snapshot(book.db) == before


def test_no_upcoming_invoice_and_wrong_subscription(book: Book) -> None:
    with pytest.raises(NotFound, match="no upcoming invoice"):
        api.upcoming(book.ctx(T0), customer="cus_a")
    with pytest.raises(NotFound):
        api.upcoming(book.ctx(T0), customer="cus_nobody")
    book.customer("cus_b", "BETA")
    sub = book.subscribe(customer="cus_b")
    with pytest.raises(InvalidInput, match="belongs to"):
        api.upcoming(book.ctx(T0), customer="cus_a", subscription=sub)


# -- licensed items, cancellation ---------------------------------------------------------------


def test_licensed_items_are_invoiced_at_creation(book: Book) -> None:
    book.subscribe("price_tokens", "price_seats:3")
    [inv] = api.list_invoices(book.ctx(T0), customer="cus_a")
    assert (inv.billing_reason, inv.status, inv.number, inv.total) == (
        "subscription_create",
        "open",
        "ALPACA-0001",
        6000,
    )
    result = api.run(book.ctx("2026-12-01T10:00:00Z"))
    [cycle] = result.invoices.values()
    assert [li.price for li in cycle.lines] == ["price_tokens", "price_seats"]
    assert cycle.number == "ALPACA-0002"


def test_cancel_now_with_and_without_invoice(book: Book) -> None:
    sub = book.subscribe()
    book.event("2026-11-05T00:00:00Z", "1000")
    res = api.cancel_subscription(book.ctx("2026-11-10T00:00:00Z"), sub, invoice_now=True)
    assert res.invoice is not None and res.invoice.billing_reason == "subscription_cancel"
    assert res.invoice.total == 40 and not res.usage_discarded
    with pytest.raises(Conflict, match="already canceled"):
        api.cancel_subscription(book.ctx("2026-11-11T00:00:00Z"), sub)
    result = api.run(book.ctx("2026-11-10T01:00:00Z"))
    assert result.finalized == [res.invoice.id]
    assert api.run(book.ctx("2027-06-01T00:00:00Z")).created == []  # never more
    book.customer("cus_b", "BETA")
    other = book.subscribe(customer="cus_b", at="2026-11-11T00:00:00Z")
    res = api.cancel_subscription(book.ctx("2026-11-20T00:00:00Z"), other)
    assert res.invoice is None and res.usage_discarded
    assert api.run(book.ctx("2027-06-01T00:00:00Z")).created == []
    with pytest.raises(UsageError):
        api.cancel_subscription(book.ctx(T0), other, at_period_end=True, invoice_now=True)


def test_cancel_at_period_end(book: Book) -> None:
    sub = book.subscribe("price_tokens", "price_seats")
    res = api.cancel_subscription(book.ctx("2026-11-10T00:00:00Z"), sub, at_period_end=True)
    assert res.subscription.ended_at == ts("2026-12-01T09:00:00Z")
    result = api.run(book.ctx("2027-06-01T00:00:00Z"))
    [final] = result.invoices.values()
    assert [li.price for li in final.lines] == ["price_tokens"]  # no seats for a next period


# -- lifecycle ----------------------------------------------------------------------------------

ACTIONS = {
    "finalize": api.finalize,
    "pay": api.pay,
    "void": api.void,
    "mark-uncollectible": api.mark_uncollectible,
    "delete": api.delete,
}
ALLOWED = {
    "draft": {"finalize", "delete"},
    "open": {"pay", "void", "mark-uncollectible"},
    "uncollectible": {"pay", "void"},
    "paid": set(),
    "void": set(),
}
PATHS = {
    "draft": [],
    "open": ["finalize"],
    "paid": ["finalize", "pay"],
    "void": ["finalize", "void"],
    "uncollectible": ["finalize", "mark-uncollectible"],
}


def _invoice_in(book: Book, status: str) -> str:
    book.subscribe()
    book.event("2026-11-05T00:00:00Z", "1000")
    [inv_id] = api.run(book.ctx("2026-12-01T09:10:00Z")).created
    for action in PATHS[status]:
        ACTIONS[action](book.ctx("2026-12-01T09:20:00Z"), inv_id)
    assert api.get_invoice(book.ctx("2026-12-01T09:20:00Z"), inv_id).status == status
    return inv_id


@pytest.mark.parametrize("status", list(ALLOWED))
def test_every_forbidden_transition_is_a_conflict_and_changes_nothing(
    book: Book, status: str
) -> None:
    inv_id = _invoice_in(book, status)
    before = snapshot(book.db)
    for action in set(ACTIONS) - ALLOWED[status]:
        with pytest.raises(Conflict, match=f"is {status}"):
            ACTIONS[action](book.ctx("2026-12-01T09:30:00Z"), inv_id)
        assert snapshot(book.db) == before


def test_allowed_transitions(book: Book) -> None:
    inv_id = _invoice_in(book, "uncollectible")
    paid = api.pay(book.ctx("2026-12-05T00:00:00Z"), inv_id)
    assert (paid.status, paid.amount_paid, paid.paid_at) == ("paid", 40, ts("2026-12-05"))
    assert paid.marked_uncollectible_at is not None
    assert api.get_invoice(book.ctx("2026-12-05"), "ALPACA-0001").id == inv_id


def test_deleted_draft_is_recreated_by_the_next_run(book: Book) -> None:
    inv_id = _invoice_in(book, "draft")
    api.delete(book.ctx("2026-12-01T09:20:00Z"), inv_id)
    with pytest.raises(NotFound):
        api.get_invoice(book.ctx("2026-12-01T09:20:00Z"), inv_id)
    result = api.run(book.ctx("2026-12-01T09:30:00Z"))
    assert len(result.created) == 1 and result.created != [inv_id]


def test_voiding_returns_applied_credit(book: Book) -> None:
    book.subscribe()
    book.event("2026-11-05T00:00:00Z", "1000")
    with open_store(book.db, create=False) as led, led.write():
        led.set_customer_balance("cus_a", -25)
    [inv_id] = api.run(book.ctx("2026-12-02T00:00:00Z")).finalized
    inv = api.get_invoice(book.ctx("2026-12-02"), inv_id)
    assert (inv.starting_balance, inv.amount_due, inv.ending_balance) == (-25, 15, 0)
    assert catalog.get_customer(book.ctx("2026-12-02"), "cus_a").balance == 0
    api.void(book.ctx("2026-12-03"), inv_id)
    assert catalog.get_customer(book.ctx("2026-12-03"), "cus_a").balance == -25


# -- late events, ledger check ------------------------------------------------------------------


def test_late_event_resolved_into_next_invoice(book: Book) -> None:
    book.subscribe()
    book.event("2026-11-05T00:00:00Z", "5055")
    api.run(book.ctx("2026-12-01T10:00:00Z"))
    book.event("2026-11-20T00:00:00Z", "999", received="2026-12-01T10:30:00Z")
    pending = late_events.late_events(book.ctx("2026-12-02"))
    assert [e.value for e in pending] == ["999"]
    assert len(api.upcoming(book.ctx("2026-12-02"), customer="cus_a").lines) == 1
    [res] = late_events.resolve_late_events(book.ctx("2026-12-02"), resolve="next-invoice")
    assert res.original_number == "ALPACA-0001"
    assert late_events.late_events(book.ctx("2026-12-02")) == []
    preview = api.upcoming(book.ctx("2026-12-02"), customer="cus_a")
    late = preview.lines[1]
    assert (late.type, late.amount, late.quantity) == ("late_usage", 40, 999)  # 61×4 − 204
    result = api.run(book.ctx("2027-01-01T10:00:00Z"))
    [jan] = result.invoices.values()
    assert jan.total == 40 and invoicing.differences(preview, jan) == []
    feb = api.upcoming(book.ctx("2027-01-02"), customer="cus_a")
    assert [li.type for li in feb.lines] == ["subscription"]  # billed once
    assert ledger_check.check_ledger(book.ctx("2027-01-02")).ok
    with pytest.raises(InvalidInput):
        late_events.resolve_late_events(book.ctx("2027-01-02"), resolve="drop")


def test_ledger_check_reports_a_tampered_invoice(book: Book) -> None:
    book.subscribe()
    book.event("2026-11-05T00:00:00Z", "1000")
    api.run(book.ctx("2026-12-02"))
    tamper(book.db, "UPDATE invoice_lines SET quantity_decimal = '900'")
    report = ledger_check.check_ledger(book.ctx("2026-12-02"))
    messages = " ".join(p.message for p in report.problems)
    assert "hash" in messages and "recomputed from events" in messages


# -- preview equals final (SPEC 4.3) ------------------------------------------------------------

PERIOD_START, PERIOD_END = ts(T0), ts("2026-12-01T09:00:00Z")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    events=st.lists(
        st.tuples(
            st.integers(PERIOD_START - 86400, PERIOD_END + 86400),
            st.decimals(min_value=-50, max_value=10**6, places=3, allow_nan=False),
        ),
        max_size=12,
    ),
    delay=st.integers(0, 3600),
)
def test_preview_at_period_end_equals_the_finalized_invoice(
    backend: str, request: pytest.FixtureRequest, events: list, delay: int
) -> None:
    book = Book(new_location(request)).setup()
    book.subscribe()
    for when, value in events:
        book.event(str(min(when, PERIOD_END)), str(value))
    preview = api.upcoming(book.ctx(PERIOD_END + delay), customer="cus_a")
    result = api.run(book.ctx(PERIOD_END + 3600 + delay))
    [final] = [result.invoices[i] for i in result.finalized]
    assert final.status == ("paid" if final.amount_due == 0 else "open")  # Stripe: 0 is paid
    assert invoicing.differences(preview, final) == []
