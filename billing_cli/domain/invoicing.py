"""Invoice composition (SPEC 4.1, 4.2, 1.4, 1.5, 2.6): subscription + prices + usage → invoice.

Pure: the usage of a meter arrives through a callable the caller binds to a customer and a
"received by" time, so the same `compose` serves the preview (`invoice upcoming`), every draft
recomputation, the finalization by `invoice run` and `ledger check`. Preview and final invoice
therefore cannot disagree by construction (SPEC 4.3).

Which invoice bills what:
- `subscription_create` (period_start = period_end = start_date, as Stripe): licensed items for
  period 0, prorated when it is short (SPEC 1.4), zero for the part inside a trial.
- `subscription_cycle` for an ended period [s, e): metered items in arrears over [s, e) and
  licensed items in advance for the next period, unless the subscription ends at e.
- `subscription_cancel` for [s, ended_at) after an immediate cancellation with --invoice-now:
  metered usage only (Stripe's cancel does not prorate licensed items unless asked).
Events with timestamp < trial_end count nowhere. Late-usage lines (SPEC 2.6) are built by
`late_usage_line` and appended by the caller to the customer's next invoice.

Billing credits (issue 19) are a step of their own after pricing, before anything computed on
the amount after credits (tax): `credits.allocate` sets each line's `pretax_credit_amounts`;
`subtotal` stays the sum of the lines, `total` and `amount_due` come after credits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from billing_cli.domain import credits, schedule, tax
from billing_cli.domain.credits import GrantState
from billing_cli.domain.invoice_lines import (
    CANCEL,
    CREATE,
    CYCLE,
    Catalog,
    Line,
    PretaxCredit,
    UsageFn,
    late_usage_line,
    licensed_line,
    metered_line,
    out_of_range,
    usage_window,
)
from billing_cli.domain.models import Parties, Subscription, TaxRate
from billing_cli.domain.money import decimal_str, fits_int64
from billing_cli.domain.tax import TaxTotal

__all__ = [
    "CANCEL",
    "CREATE",
    "CYCLE",
    "Catalog",
    "Invoice",
    "Line",
    "PretaxCredit",
    "Target",
    "UsageFn",
    "apply_credits",
    "cancel_target",
    "compose",
    "create_target",
    "current_target",
    "cycle_targets",
    "first_unbilled",
    "differences",
    "finalized",
    "late_usage_line",
    "line_differences",
    "settle",
    "usage_window",
]


@dataclass(frozen=True)
class Target:
    """Which invoice: the UNIQUE key (subscription, period_start, period_end, billing_reason)."""

    billing_reason: str
    period_start: int
    period_end: int


@dataclass(frozen=True)
class Invoice:
    """A composed (preview or draft) or stored invoice; amounts in int minor units."""

    id: str | None
    created: int
    customer: str
    subscription: str | None
    status: str
    billing_reason: str
    number: str | None
    currency: str
    period_start: int
    period_end: int
    lines: tuple[Line, ...]
    subtotal: int
    total: int
    starting_balance: int
    ending_balance: int | None
    amount_due: int
    computed_at: int
    amount_paid: int = 0
    finalized_at: int | None = None
    paid_at: int | None = None
    voided_at: int | None = None
    marked_uncollectible_at: int | None = None
    hash: str | None = None
    parties: Parties | None = None  # seller and buyer, frozen at finalization
    total_taxes: tuple[TaxTotal, ...] = ()

    @property
    def total_excluding_tax(self) -> int:
        return self.total - sum(t.amount for t in self.total_taxes)

    @property
    def subtotal_excluding_tax(self) -> int:
        return self.subtotal - sum(t.amount for t in self.total_taxes if t.inclusive)

    @property
    def target(self) -> Target:
        return Target(self.billing_reason, self.period_start, self.period_end)

    @property
    def total_pretax_credit_amounts(self) -> tuple[PretaxCredit, ...]:
        """Stripe's invoice-level list: every line's pretax credits, in line order."""
        return tuple(c for line in self.lines for c in line.pretax_credit_amounts)


# -- which periods get which invoice -----------------------------------------------------------


def _cut_by_immediate_cancel(sub: Subscription, bounds: tuple[int, int]) -> bool:
    """True for the partial last period of an immediate cancellation (no cycle invoice)."""
    if sub.ended_at is None or sub.cancel_at_period_end or bounds[1] != sub.ended_at:
        return False
    k = schedule.period_index(sub, bounds[0])
    return schedule.period(sub, k)[1] != sub.ended_at


def cycle_targets(sub: Subscription, now: int, first: int = 0) -> list[Target]:
    """Every ended period from index `first` on that a cycle invoice bills, oldest first
    (catch-up, SPEC 4.4)."""
    return [
        Target(CYCLE, s, e)
        for s, e in schedule.ended_periods(sub, now, first)
        if not _cut_by_immediate_cancel(sub, (s, e))
    ]


def first_unbilled(sub: Subscription, count: int, last_end: int | None) -> int:
    """The period index to start `cycle_targets` at, given how many cycle invoices exist and
    the latest period end among them: just after it when no period before it lacks one (the
    usual case, so a close or a preview costs the same in a subscription's third year as in
    its first), else 0 (a deleted draft left a gap that the next run must fill)."""
    if not count or last_end is None:
        return 0
    k = schedule.period_index(sub, last_end)
    return k if k == count else 0


def cancel_target(sub: Subscription) -> Target | None:
    """The partial period an immediate cancellation ends (billed only with --invoice-now)."""
    if sub.ended_at is None or sub.cancel_at_period_end:
        return None
    s, e = schedule.period(sub, schedule.period_index(sub, max(sub.start_date, sub.ended_at - 1)))
    if sub.ended_at <= s or sub.ended_at >= e:
        return None
    return Target(CANCEL, s, sub.ended_at)


def create_target(sub: Subscription, catalog: Catalog) -> Target | None:
    """The first invoice exists only when some item is licensed (SPEC 4.2)."""
    if any(catalog.prices[i.price].usage_type == "licensed" for i in sub.items):
        return Target(CREATE, sub.start_date, sub.start_date)
    return None


def current_target(sub: Subscription, now: int) -> Target | None:
    """The cycle invoice that will close the period holding `now`; None once ended."""
    if sub.ended_at is not None and sub.ended_at <= now:
        return None
    s, e = schedule.current_period(sub, now)
    return Target(CYCLE, s, e)


def _subscription_lines(
    sub: Subscription, target: Target, catalog: Catalog, usage: UsageFn
) -> list[Line]:
    lines: list[Line] = []
    reason = target.billing_reason
    next_period: tuple[int, int] | None = None
    if reason == CYCLE and (sub.ended_at is None or sub.ended_at > target.period_end):
        next_period = schedule.period(sub, schedule.period_index(sub, target.period_start) + 1)
    for item in sub.items:
        price = catalog.prices[item.price]
        name = catalog.products[price.product].name
        if price.usage_type == "licensed":
            if reason == CREATE:
                bounds = schedule.period(sub, 0)
                lines.append(licensed_line(sub, item, price, name, bounds))
            elif next_period is not None:
                lines.append(licensed_line(sub, item, price, name, next_period))
        elif reason in (CYCLE, CANCEL):
            assert price.meter is not None
            bounds = (target.period_start, target.period_end)
            meter = catalog.meters[price.meter]
            lines.append(metered_line(sub, item, price, name, meter, bounds, usage))
    return lines


# -- the invoice --------------------------------------------------------------------------------


def _check_sum(
    what: str, value: int, currency: str, customer: str, lines: tuple[Line, ...]
) -> None:
    """A subtotal or balance past the signed 64-bit range: refused, naming the biggest line
    (its price and quantity are what a user can correct)."""
    if not fits_int64(value):
        biggest = max(lines, key=lambda line: abs(line.amount))
        raise out_of_range(what, value, currency, customer, biggest)


def settle(total: int, starting_balance: int) -> tuple[int, int]:
    """Stripe's customer balance: (amount_due, ending_balance); leftover credit carries over."""
    net = total + starting_balance
    return max(net, 0), min(net, 0)


def compose(
    sub: Subscription,
    target: Target,
    catalog: Catalog,
    usage: UsageFn,
    *,
    computed_at: int,
    starting_balance: int = 0,
    late_lines: Iterable[Line] = (),
    credit_grants: Iterable[GrantState] = (),
    invoice_id: str | None = None,
    created: int | None = None,
    tax_rates: Sequence[TaxRate] = (),
) -> Invoice:
    """The one function behind preview, draft, final invoice and `ledger check` (SPEC 4.3).

    `usage` must already be bound to the customer and to the events received by `computed_at`;
    `tax_rates` are the subscription's `default_tax_rates`, applied to every line.
    The result is a draft; `finalized` turns it into the open invoice.
    """
    lines = tuple(_subscription_lines(sub, target, catalog, usage)) + tuple(late_lines)
    subtotal = sum(line.amount for line in lines)
    _check_sum("subtotal", subtotal, sub.currency, sub.customer, lines)
    lines = credits.allocate(lines, credit_grants, currency=sub.currency, at=computed_at)
    lines = tax.apply_taxes(lines, tax_rates)
    inv = Invoice(
        id=invoice_id,
        created=computed_at if created is None else created,
        customer=sub.customer,
        subscription=sub.id,
        status="draft",
        billing_reason=target.billing_reason,
        number=None,
        currency=sub.currency,
        period_start=target.period_start,
        period_end=target.period_end,
        lines=lines,
        subtotal=subtotal,
        total=subtotal,
        starting_balance=starting_balance,
        ending_balance=None,
        amount_due=0,
        computed_at=computed_at,
    )
    return _totals(inv, lines)


def _totals(inv: Invoice, lines: tuple[Line, ...]) -> Invoice:
    """`total` (subtotal − credits + exclusive tax), `total_taxes` and `amount_due` of lines
    that are priced, credited and taxed."""
    totals = tax.total_taxes(lines)
    total = inv.subtotal - credits.credited(lines) + tax.exclusive_tax(totals)
    _check_sum("total", total, inv.currency, inv.customer, lines)
    _check_sum("balance", total + inv.starting_balance, inv.currency, inv.customer, lines)
    amount_due, _ = settle(total, inv.starting_balance)
    return replace(inv, lines=lines, total=total, amount_due=amount_due, total_taxes=totals)


def apply_credits(inv: Invoice, grants: Iterable[GrantState], *, at: int) -> Invoice:
    """The credit step again (at finalization, from the grants as they stand then): what the
    usable grants pay of each line, before tax, in Stripe's order; each line's tax recomputed
    at its rates on what is left, and the totals after them. `subtotal` is unchanged."""
    lines = credits.allocate(inv.lines, grants, currency=inv.currency, at=at)
    return _totals(inv, tax.retax(lines))


def finalized(
    inv: Invoice,
    *,
    number: str,
    finalized_at: int,
    starting_balance: int,
    parties: Parties | None = None,
) -> Invoice:
    """Draft → open: the number, the balance carried in and out, the seller and buyer as they
    stand now; lines are frozen from here."""
    _check_sum("balance", inv.total + starting_balance, inv.currency, inv.customer, inv.lines)
    amount_due, ending = settle(inv.total, starting_balance)
    return replace(
        inv,
        status="open",
        number=number,
        finalized_at=finalized_at,
        starting_balance=starting_balance,
        ending_balance=ending,
        amount_due=amount_due,
        parties=parties,
    )


def _line_key(line: Line) -> tuple:
    return (
        line.type,
        line.subscription_item,
        line.price,
        line.meter,
        line.description,
        line.period_start,
        line.period_end,
        line.quantity_decimal,
        line.unit_amount_decimal,
        line.amount,
        line.proration,
        _taxes_key(line.taxes),
    )


def _taxes_key(taxes: Iterable[tax.LineTax | TaxTotal]) -> tuple:
    """What a tax decides (the rate's name is presentation: renaming a rate changes no cent)."""
    return tuple((t.tax_rate, t.percentage, t.inclusive, t.amount, t.taxable_amount) for t in taxes)


def line_differences(expected: Iterable[Line], actual: Iterable[Line]) -> list[str]:
    """Line-by-line comparison (ids and explain aside): empty means equal to the cent."""
    exp, act = tuple(expected), tuple(actual)
    out: list[str] = []
    if len(exp) != len(act):
        out.append(f"line count: expected {len(exp)}, found {len(act)}")
    for index, (a, b) in enumerate(zip(exp, act, strict=False), start=1):
        if _line_key(a) != _line_key(b):
            out.append(
                f"line {index} ({b.description}): expected quantity "
                f"{decimal_str(a.quantity_decimal)} amount {a.amount}"
                f"{_tax_note(a)}, found quantity "
                f"{decimal_str(b.quantity_decimal)} amount {b.amount}{_tax_note(b)}"
            )
    return out


def _tax_note(line: Line) -> str:
    return f" tax {sum(t.amount for t in line.taxes)}" if line.taxes else ""


def differences(expected: Invoice, actual: Invoice) -> list[str]:
    """What differs between two computations of one invoice (ids and timestamps aside).

    Used by the preview-equals-final tests; empty means equal line for line and cent for cent,
    billing credits included (which grant paid how much of each line).
    """
    out: list[str] = []
    for name in ("currency", "subtotal", "total", "period_start", "period_end"):
        a, b = getattr(expected, name), getattr(actual, name)
        if a != b:
            out.append(f"{name}: expected {a}, found {b}")
    if _taxes_key(expected.total_taxes) != _taxes_key(actual.total_taxes):
        out.append(f"total_taxes: expected {expected.total_taxes}, found {actual.total_taxes}")
    for index, (a, b) in enumerate(zip(expected.lines, actual.lines, strict=False), start=1):
        paid_a = [(c.credit_grant, c.amount) for c in a.pretax_credit_amounts]
        paid_b = [(c.credit_grant, c.amount) for c in b.pretax_credit_amounts]
        if paid_a != paid_b:
            out.append(f"line {index} ({b.description}): expected credits {paid_a}, found {paid_b}")
    return out + line_differences(expected.lines, actual.lines)


@dataclass(frozen=True)
class StoredLine:
    """A finalized line with the invoice facts late-usage arithmetic needs."""

    invoice: str
    finalized_at: int
    number: str
    line: Line


def number_seq(number: str) -> int:
    """The sequence part of `PREFIX-0007` (for ordering invoices finalized in one second)."""
    return int(number.rpartition("-")[2])
