"""Billing credits, the pure part: Stripe's order of use, scopes, limits, balances."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_cli.domain import credits
from billing_cli.domain.credits import CreditGrant, GrantState, Transaction
from billing_cli.domain.invoice_lines import Line

T0 = 1_000_000


def grant(gid: str, value: int, **kw: object) -> CreditGrant:
    base: dict = {
        "id": gid,
        "created": T0,
        "customer": "cus_a",
        "currency": "usd",
        "value": value,
        "category": "paid",
        "priority": 50,
        "effective_at": T0,
        "expires_at": None,
    }
    base.update(kw)
    return CreditGrant(**base)


def state(g: CreditGrant, *extra: Transaction) -> GrantState:
    granted = Transaction(
        id=f"cbtxn_{g.id}",
        created=g.created,
        effective_at=g.effective_at,
        credit_grant=g.id,
        customer=g.customer,
        currency=g.currency,
        reason=credits.GRANTED,
        amount=g.value,
    )
    return credits.grant_state(g, [granted, *extra])


def metered(amount: int, price: str = "price_tokens", lid: str = "il_1") -> Line:
    return Line(
        type="subscription",
        description="tokens",
        period_start=0,
        period_end=1,
        quantity_decimal=Decimal(1),
        amount=amount,
        price=price,
        meter="mtr_tokens",
        id=lid,
    )


def licensed(amount: int) -> Line:
    return Line(
        type="subscription",
        description="seats",
        period_start=0,
        period_end=1,
        quantity_decimal=Decimal(1),
        amount=amount,
        price="price_seats",
        id="il_seat",
    )


def taken(lines: tuple[Line, ...]) -> list[list[tuple[str, int]]]:
    return [[(c.credit_grant, c.amount) for c in line.pretax_credit_amounts] for line in lines]


def test_one_grant_pays_up_to_the_line() -> None:
    out = credits.allocate([metered(4288)], [state(grant("g1", 1000))], currency="usd", at=T0 + 1)
    assert taken(out) == [[("g1", 1000)]]
    out = credits.allocate([metered(4288)], [state(grant("g1", 10000))], currency="usd", at=T0 + 1)
    assert taken(out) == [[("g1", 4288)]]
    assert credits.credited(out) == 4288


def test_promotional_expiring_first_then_paid() -> None:
    promo = grant("promo", 500, category="promotional", expires_at=T0 + 100)
    paid = grant("paid", 5000)
    out = credits.allocate([metered(4288)], [state(paid), state(promo)], currency="usd", at=T0 + 1)
    assert taken(out) == [[("promo", 500), ("paid", 3788)]]


def test_priority_comes_first() -> None:
    paid = grant("paid", 3000, priority=10)
    promo = grant("promo", 3000, category="promotional", priority=50)
    out = credits.allocate([metered(4288)], [state(promo), state(paid)], currency="usd", at=T0 + 1)
    assert taken(out) == [[("paid", 3000), ("promo", 1288)]]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"expires_at": T0 + 50}, {"expires_at": T0 + 60}),
        ({"expires_at": T0 + 50}, {"expires_at": None}),
        ({"category": "promotional"}, {"category": "paid"}),
        ({"effective_at": T0 - 10}, {"effective_at": T0 - 5}),
        ({"created": T0 - 10}, {"created": T0 - 5}),
    ],
)
def test_each_tie_breaker(first: dict, second: dict) -> None:
    a, b = grant("g_b", 100, **second), grant("g_a", 100, **first)
    out = credits.allocate([metered(150)], [state(a), state(b)], currency="usd", at=T0 + 1)
    assert taken(out) == [[("g_a", 100), ("g_b", 50)]]


def test_not_effective_expired_voided_other_currency_pay_nothing() -> None:
    later = grant("later", 100, effective_at=T0 + 10)
    gone = grant("gone", 100, expires_at=T0 + 1)
    eur = grant("eur", 100, currency="eur")
    voided = grant("void", 100)
    void_txn = Transaction("t", T0, T0, "void", "cus_a", "usd", credits.VOIDED, 100)
    states = [state(later), state(gone), state(eur), state(voided, void_txn)]
    out = credits.allocate([metered(400)], states, currency="usd", at=T0 + 1)
    assert taken(out) == [[]]
    # `later` becomes usable at its effective_at; `gone` stops at its expires_at (half-open).
    out = credits.allocate([metered(400)], states, currency="usd", at=T0 + 10)
    assert taken(out) == [[("later", 100)]]
    out = credits.allocate([metered(400)], states[1:2], currency="usd", at=T0)
    assert taken(out) == [[("gone", 100)]]


def test_licensed_lines_and_other_prices_are_not_paid() -> None:
    lines = [licensed(1000), metered(4288)]
    out = credits.allocate(lines, [state(grant("g", 10000))], currency="usd", at=T0 + 1)
    assert taken(out) == [[], [("g", 4288)]]
    scoped = grant("scoped", 10000, prices=("price_other",))
    out = credits.allocate(lines, [state(scoped)], currency="usd", at=T0 + 1)
    assert taken(out) == [[], []]


def test_one_grant_several_lines_and_one_line_several_grants() -> None:
    lines = [metered(300, "price_a", "il_a"), metered(300, "price_b", "il_b")]
    g1, g2 = grant("g1", 400, priority=1), grant("g2", 400, priority=2)
    out = credits.allocate(lines, [state(g1), state(g2)], currency="usd", at=T0 + 1)
    assert taken(out) == [[("g1", 300)], [("g1", 100), ("g2", 200)]]


def test_negative_and_zero_lines_take_nothing() -> None:
    out = credits.allocate(
        [metered(-50), metered(0)], [state(grant("g", 100))], currency="usd", at=T0 + 1
    )
    assert taken(out) == [[], []]


def test_balances_ledger_and_available() -> None:
    g = grant("g", 1000, expires_at=T0 + 10)
    s = state(g)
    txns = [Transaction("t1", T0, T0, "g", "cus_a", "usd", credits.GRANTED, 1000)]
    before = credits.balances([s], txns, at=T0 + 5)
    assert [(b.currency, b.available, b.ledger) for b in before] == [("usd", 1000, 1000)]
    after = credits.balances([s], txns, at=T0 + 10)
    assert [(b.available, b.ledger) for b in after] == [(0, 1000)]
    expiry = credits.due_expiries([s], at=T0 + 10, new_id=lambda: "t2")
    assert [(t.reason, t.amount, t.effective_at) for t in expiry] == [
        ("credits_expired", 1000, T0 + 10)
    ]
    committed = state(g, *expiry)
    done = credits.balances([committed], [*txns, *expiry], at=T0 + 11)
    assert [(b.available, b.ledger) for b in done] == [(0, 0)]
    assert credits.due_expiries([committed], at=T0 + 11, new_id=lambda: "t3") == []


def test_future_grant_is_not_in_the_balance_yet() -> None:
    g = grant("g", 1000, effective_at=T0 + 10)
    txns = [Transaction("t1", T0, T0 + 10, "g", "cus_a", "usd", credits.GRANTED, 1000)]
    assert [(b.available, b.ledger) for b in credits.balances([state(g)], txns, at=T0)] == [(0, 0)]


def test_void_after_expiry_returns_and_expires_at_once() -> None:
    g = grant("g", 1000, expires_at=T0 + 10)
    applied = Transaction(
        "d1", T0 + 1, T0 + 1, "g", "cus_a", "usd", credits.APPLIED, 600, "in_1", "il_1"
    )
    s = state(g, applied)
    ids = iter(["r1", "r2", "r3"])
    back = credits.reinstated([applied], {"g": s}, at=T0 + 5, new_id=lambda: next(ids))
    assert [(t.reason, t.amount) for t in back] == [("credits_application_invoice_voided", 600)]
    back = credits.reinstated([applied], {"g": s}, at=T0 + 20, new_id=lambda: next(ids))
    assert [(t.reason, t.amount) for t in back] == [
        ("credits_application_invoice_voided", 600),
        ("credits_expired", 600),
    ]


amounts = st.integers(min_value=-100, max_value=5000)


@given(
    lines=st.lists(amounts, min_size=1, max_size=5),
    grants=st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=3000),
            st.integers(min_value=0, max_value=100),
            st.sampled_from(["paid", "promotional"]),
        ),
        max_size=5,
    ),
)
def test_never_more_than_a_line_or_a_grant_holds(lines: list[int], grants: list) -> None:
    inv_lines = [metered(a, lid=f"il_{i}") for i, a in enumerate(lines)]
    states = [
        state(grant(f"g{i}", v, priority=p, category=c)) for i, (v, p, c) in enumerate(grants)
    ]
    out = credits.allocate(inv_lines, states, currency="usd", at=T0 + 1)
    for line in out:
        assert 0 <= line.pretax_credit_total <= max(line.amount, 0)
        assert all(c.amount > 0 for c in line.pretax_credit_amounts)
    for s in states:
        used = sum(
            c.amount
            for line in out
            for c in line.pretax_credit_amounts
            if c.credit_grant == s.grant.id
        )
        assert used <= s.remaining
    # Credits are used up or every line is paid in full.
    total_open = sum(max(a, 0) for a in lines)
    total_credit = sum(s.remaining for s in states)
    assert credits.credited(out) == min(total_open, total_credit)
