"""Pure invoice composition (SPEC 4.1, 4.2, 1.4, 1.5, 2.6) against fake usage."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing_cli.clock import parse_time, to_unix
from billing_cli.domain import invoicing
from billing_cli.domain.aggregation import Aggregate, EventPoint, aggregate_events
from billing_cli.domain.chain import invoice_hash
from billing_cli.domain.invoicing import CANCEL, CREATE, CYCLE, Catalog, Target
from billing_cli.domain.models import Meter, Price, Product, Subscription, SubscriptionItem, Tier
from billing_cli.present.invoice_json import invoice_dict


def ts(text: str) -> int:
    return to_unix(parse_time(text))


METER = Meter(
    id="mtr_tokens", created=0, display_name="Tokens", event_name="tokens", formula="sum",
    customer_key="stripe_customer_id", value_key="value", event_time_window=None,
    status="active", updated=0,
)  # fmt: skip
TOKENS = Price(
    id="price_tokens", created=0, product="prod_ai", currency="usd", nickname=None,
    lookup_key=None, active=True, interval="month", interval_count=1, usage_type="metered",
    meter="mtr_tokens", billing_scheme="per_unit", unit_amount_decimal=Decimal(4),
    tiers_mode=None, transform_divide_by=100, transform_round="up",
)  # fmt: skip
SEATS = Price(
    id="price_seats", created=0, product="prod_seats", currency="usd", nickname=None,
    lookup_key=None, active=True, interval="month", interval_count=1, usage_type="licensed",
    meter=None, billing_scheme="per_unit", unit_amount_decimal=Decimal(2000),
    tiers_mode=None,
)  # fmt: skip
CATALOG = Catalog(
    prices={"price_tokens": TOKENS, "price_seats": SEATS},
    products={
        "prod_ai": Product("prod_ai", 0, "Alpaca AI", None, None, True),
        "prod_seats": Product("prod_seats", 0, "Seats", None, None, True),
    },
    meters={"mtr_tokens": METER},
)


def subscription(
    start: str = "2026-11-01T09:00:00Z",
    anchor: str | None = None,
    *,
    prices: tuple[str, ...] = ("price_tokens",),
    trial_end: str | None = None,
    ended_at: str | None = None,
    at_period_end: bool = False,
    seats: int = 3,
) -> Subscription:
    items = tuple(
        SubscriptionItem(f"si_{p}", 0, "sub_x", p, seats if p == "price_seats" else None)
        for p in prices
    )
    return Subscription(
        id="sub_x", created=0, customer="cus_x", status="active", currency="usd",
        interval="month", interval_count=1, start_date=ts(start),
        billing_cycle_anchor=ts(anchor or trial_end or start),
        trial_end=None if trial_end is None else ts(trial_end),
        cancel_at_period_end=at_period_end, canceled_at=None,
        ended_at=None if ended_at is None else ts(ended_at), items=items,
    )  # fmt: skip


def fake_usage(events: list[tuple[str, str]]) -> invoicing.UsageFn:
    points = [EventPoint(ts(t), n, Decimal(v)) for n, (t, v) in enumerate(events)]

    def usage(meter: Meter, start: int, end: int) -> Aggregate:
        inside = [p for p in points if start <= p.timestamp < end]
        return aggregate_events(meter.formula, meter.event_time_window, inside)

    return usage


ALPACA_EVENTS = [
    ("2026-11-01T10:00:00Z", "25"),
    ("2026-11-03T12:30:00Z", "3000"),
    ("2026-11-15T08:00:00Z", "1250"),
    ("2026-11-30T23:59:59Z", "480"),
    ("2026-12-01T09:00:00Z", "100"),  # next period: half-open periods
]


def compose(sub: Subscription, target: Target, events=(), **kwargs) -> invoicing.Invoice:
    return invoicing.compose(
        sub, target, CATALOG, fake_usage(list(events)), computed_at=target.period_end, **kwargs
    )


def test_alpaca_cycle_invoice_bills_usage_in_arrears() -> None:
    sub = subscription()
    [target] = invoicing.cycle_targets(sub, ts("2026-12-01T09:05:00Z"))
    assert target == Target(CYCLE, ts("2026-11-01T09:00:00Z"), ts("2026-12-01T09:00:00Z"))
    inv = compose(sub, target, ALPACA_EVENTS)
    [line] = inv.lines
    assert (line.quantity_decimal, line.quantity, line.amount) == (Decimal(4755), 4755, 192)
    assert line.explain["transformed_quantity"] == "48"
    assert line.explain["event_count"] == 4
    assert (inv.subtotal, inv.total, inv.amount_due, inv.ending_balance) == (192, 192, 192, None)
    assert line.description == "Alpaca AI" and line.meter == "mtr_tokens"


def test_preview_of_the_current_period_counts_usage_so_far() -> None:
    sub = subscription()
    target = invoicing.current_target(sub, ts("2026-11-16T00:00:00Z"))
    assert target is not None
    inv = compose(sub, target, ALPACA_EVENTS[:3])
    assert [(li.quantity, li.amount) for li in inv.lines] == [(4275, 172)]


def test_no_invoice_at_creation_for_metered_only() -> None:
    assert invoicing.create_target(subscription(), CATALOG) is None


def test_licensed_first_invoice_in_advance_and_cycle_bills_next_period() -> None:
    sub = subscription(prices=("price_tokens", "price_seats"))
    create = invoicing.create_target(sub, CATALOG)
    assert create == Target(CREATE, sub.start_date, sub.start_date)
    first = compose(sub, create)
    [seat] = first.lines
    assert (seat.amount, seat.quantity, seat.proration) == (6000, 3, False)
    assert (seat.period_start, seat.period_end) == (sub.start_date, ts("2026-12-01T09:00:00Z"))
    cycle = compose(sub, invoicing.cycle_targets(sub, ts("2026-12-01T10:00Z"))[0], ALPACA_EVENTS)
    tokens, seats = cycle.lines
    assert (tokens.amount, seats.amount) == (192, 6000)
    assert (seats.period_start, seats.period_end) == (
        ts("2026-12-01T09:00:00Z"),
        ts("2027-01-01T09:00:00Z"),
    )


def test_short_first_period_is_prorated_once() -> None:
    # [Nov 15, Dec 1) of the full period [Nov 1, Dec 1): 16 / 30 days × 6000 = 3200
    sub = subscription("2026-11-15T00:00:00Z", "2026-12-01T00:00:00Z", prices=("price_seats",))
    [line] = compose(sub, invoicing.create_target(sub, CATALOG)).lines
    assert line.proration and line.amount == 3200
    assert line.explain["proration"]["seconds"] == 16 * 86400
    assert line.explain["proration"]["period_seconds"] == 30 * 86400
    # 1 seat at 2000 for 10 of 30 days: 666.67 → 667 (half-up, one step)
    sub = subscription(
        "2026-11-21T00:00:00Z", "2026-12-01T00:00:00Z", prices=("price_seats",), seats=1
    )
    assert compose(sub, invoicing.create_target(sub, CATALOG)).lines[0].amount == 667


def test_trial_usage_counts_nowhere_and_trial_seats_are_free() -> None:
    sub = subscription(prices=("price_tokens", "price_seats"), trial_end="2026-11-15T09:00:00Z")
    first = compose(sub, invoicing.create_target(sub, CATALOG))
    [seat] = first.lines
    assert seat.amount == 0 and seat.description == "Trial period for Seats"
    target = invoicing.cycle_targets(sub, ts("2026-11-15T09:00:00Z"))[0]
    assert target.period_end == ts("2026-11-15T09:00:00Z")  # the trial is period 0
    inv = compose(sub, target, ALPACA_EVENTS)
    tokens, seats = inv.lines
    assert tokens.amount == 0 and tokens.explain["trial"] is not None
    assert seats.amount == 6000  # the first paid period, in advance
    later = invoicing.cycle_targets(sub, ts("2026-12-15T09:00:00Z"))[1]
    events = [("2026-11-15T08:59:59Z", "500"), ("2026-11-15T09:00:00Z", "100")]
    assert compose(sub, later, events).lines[0].quantity == 100


def test_whole_trial_period_bills_no_tier_flat_amount() -> None:
    tiered = Price(
        **{**TOKENS.__dict__, "billing_scheme": "tiered", "tiers_mode": "graduated",
           "unit_amount_decimal": None, "transform_divide_by": None, "transform_round": None,
           "tiers": (Tier(None, Decimal(1), Decimal(500)),)},
    )  # fmt: skip
    catalog = Catalog({**CATALOG.prices, "price_tokens": tiered}, CATALOG.products, CATALOG.meters)
    sub = subscription(trial_end="2026-11-15T09:00:00Z")
    target = invoicing.cycle_targets(sub, ts("2026-11-15T10:00:00Z"))[0]
    inv = invoicing.compose(sub, target, catalog, fake_usage([]), computed_at=0)
    assert inv.lines[0].amount == 0
    after = invoicing.cycle_targets(sub, ts("2026-12-15T10:00:00Z"))[1]
    inv = invoicing.compose(sub, after, catalog, fake_usage([]), computed_at=0)
    assert inv.lines[0].amount == 500  # Stripe: quantity 0 still bills the first flat tier


@pytest.mark.parametrize(
    ("anchor", "year", "ends"),
    [
        ("31", 2027, ["02-28", "03-31", "04-30"]),
        ("31", 2028, ["02-29", "03-31", "04-30"]),
        ("30", 2027, ["02-28", "03-30", "04-30"]),
        ("30", 2028, ["02-29", "03-30", "04-30"]),
        ("29", 2027, ["02-28", "03-29", "04-29"]),
        ("29", 2028, ["02-29", "03-29", "04-29"]),
    ],
)
def test_month_end_anchors_through_february(anchor: str, year: int, ends: list[str]) -> None:
    sub = subscription(f"{year}-01-{anchor}T12:00:00Z")
    targets = invoicing.cycle_targets(sub, ts(f"{year}-05-01T00:00:00Z"))
    got = [parse_time(str(t.period_end)).strftime("%m-%d") for t in targets]
    assert got == ends
    # contiguous, half-open, time of day kept
    assert targets[0].period_start == sub.start_date
    for a, b in zip(targets, targets[1:], strict=False):
        assert a.period_end == b.period_start
    assert all(parse_time(str(t.period_end)).hour == 12 for t in targets)


def test_immediate_cancel_gets_a_cancel_target_not_a_cycle() -> None:
    sub = subscription(ended_at="2026-12-10T00:00:00Z")
    now = ts("2027-02-01T00:00:00Z")
    assert [t.period_end for t in invoicing.cycle_targets(sub, now)] == [ts("2026-12-01T09:00:00Z")]
    cancel = invoicing.cancel_target(sub)
    assert cancel == Target(CANCEL, ts("2026-12-01T09:00:00Z"), ts("2026-12-10T00:00:00Z"))
    events = [("2026-12-05T00:00:00Z", "1000"), ("2026-12-11T00:00:00Z", "1000")]
    inv = compose(sub, cancel, events)
    assert [(li.quantity, li.amount) for li in inv.lines] == [(1000, 40)]
    assert invoicing.current_target(sub, now) is None


def test_cancel_at_period_end_bills_last_period_without_next_seats() -> None:
    sub = subscription(
        prices=("price_tokens", "price_seats"), ended_at="2026-12-01T09:00:00Z", at_period_end=True
    )
    assert invoicing.cancel_target(sub) is None
    [target] = invoicing.cycle_targets(sub, ts("2027-03-01T00:00:00Z"))
    inv = compose(sub, target, ALPACA_EVENTS)
    assert [li.price for li in inv.lines] == ["price_tokens"]


@pytest.mark.parametrize(
    ("total", "balance", "due", "ending"),
    [(204, 0, 204, 0), (204, -50, 154, 0), (204, -300, 0, -96), (-40, 0, 0, -40), (0, -5, 0, -5)],
)
def test_settle_carries_credit(total: int, balance: int, due: int, ending: int) -> None:
    assert invoicing.settle(total, balance) == (due, ending)


def test_finalized_and_json_shape() -> None:
    sub = subscription()
    inv = compose(sub, invoicing.cycle_targets(sub, ts("2026-12-02T00:00Z"))[0], ALPACA_EVENTS)
    final = invoicing.finalized(inv, number="ALPACA-0001", finalized_at=5, starting_balance=-100)
    assert (final.status, final.amount_due, final.ending_balance) == ("open", 92, 0)
    data = invoice_dict(final)
    assert data["object"] == "invoice" and data["number"] == "ALPACA-0001"
    assert data["lines"]["object"] == "list" and data["lines"]["data"][0]["object"] == "line_item"
    assert data["lines"]["data"][0]["quantity_decimal"] == "4755"
    assert data["status_transitions"]["finalized_at"] == 5
    assert invoice_hash(final) == invoice_hash(final) != invoice_hash(inv)


def test_late_usage_line_is_the_delta_and_may_be_a_credit() -> None:
    sub = subscription()
    original = compose(sub, invoicing.cycle_targets(sub, ts("2026-12-02T00:00Z"))[0], ALPACA_EVENTS)
    line = original.lines[0]
    late = invoicing.late_usage_line(
        customer="cus_max", original=line, original_invoice="in_1", price=TOKENS,
        product=CATALOG.products["prod_ai"], meter=METER,
        recomputed=Aggregate(Decimal(4755 + 999), 5, None), already_invoiced=192,
        identifiers=["ev7"],
    )  # fmt: skip
    # 5754 tokens → 58 packages → 232; 232 − 192 = 40
    assert (late.type, late.amount, late.quantity_decimal) == ("late_usage", 40, Decimal(999))
    assert late.explain["original_period"] == {"start": line.period_start, "end": line.period_end}
    assert "2026-11-01" in late.description
    credit = invoicing.late_usage_line(
        customer="cus_max", original=line, original_invoice="in_1", price=TOKENS,
        product=CATALOG.products["prod_ai"], meter=METER,
        recomputed=Aggregate(Decimal(4755 - 1000), 5, None), already_invoiced=192,
        identifiers=["ev8"],
    )  # fmt: skip
    assert credit.amount == 152 - 192


def test_differences_are_line_for_line() -> None:
    sub = subscription()
    target = invoicing.cycle_targets(sub, ts("2026-12-02T00:00Z"))[0]
    a = compose(sub, target, ALPACA_EVENTS)
    b = compose(sub, target, ALPACA_EVENTS + [("2026-11-02T00:00:00Z", "1")])
    assert invoicing.differences(a, a) == []
    assert any("amount" in d for d in invoicing.differences(a, b))
