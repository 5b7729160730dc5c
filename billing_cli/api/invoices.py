"""Invoices: the preview, the month-end close, the lifecycle, listing (SPEC 4.3–4.6, 1.5)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta

from billing_cli import ids
from billing_cli.api.catalog import require_customer
from billing_cli.api.compose import compose_for, finalize_draft
from billing_cli.api.context import Context
from billing_cli.api.credits import commit_expiries, reinstate_credits
from billing_cli.api.subscriptions import require_subscription
from billing_cli.clock import parse_duration
from billing_cli.domain import invoicing, schedule
from billing_cli.domain.invoicing import Invoice, Target
from billing_cli.domain.models import Subscription
from billing_cli.errors import Conflict, InvalidInput, NotFound, UsageError
from billing_cli.storage.port import LedgerStore

DEFAULT_GRACE = timedelta(hours=1)
MAX_GRACE = timedelta(hours=72)  # Stripe lets drafts wait at most 72 h before finalizing
STATUSES = ("draft", "open", "paid", "void", "uncollectible")


def parse_grace(text: str | None) -> timedelta:
    """`--grace` (`90m`, `2h`; default 1 h, at most 72 h, SPEC 4.4)."""
    if text is None:
        return DEFAULT_GRACE
    return parse_duration(text, field="--grace", maximum=MAX_GRACE)


def require_invoice(led: LedgerStore, invoice_id: str) -> Invoice:
    """By id (`in_…`) or by number (`ALPACA-0001`), as people quote invoices by number."""
    inv = led.get_invoice(invoice_id)
    if inv is None:
        raise NotFound(
            f"no invoice {invoice_id!r}", hint="`billing invoice list` shows ids and numbers"
        )
    return inv


# -- preview ------------------------------------------------------------------------------------


def _invoiced(led: LedgerStore, sub: Subscription) -> tuple[int, dict[Target, tuple[str, str]]]:
    """Where the cycle periods still to invoice begin, and the invoices from there on (plus
    every draft): no read or walk over the subscription's older history."""
    count, last_end = led.cycle_summary(sub.id)
    first = invoicing.first_unbilled(sub, count, last_end)
    return first, led.invoice_targets(sub.id, after=last_end if first else None)


def next_target(led: LedgerStore, sub: Subscription, now: int) -> Target | None:
    """SPEC 4.3: the oldest ended period whose invoice is not finalized, else the current one."""
    first, existing = _invoiced(led, sub)
    drafts = [
        t
        for t, (_, status) in existing.items()
        if status == "draft" and t.billing_reason == invoicing.CYCLE
    ]
    if first and drafts:  # every period before `first` has its invoice: the oldest draft
        return min(drafts, key=lambda t: t.period_start)
    for target in invoicing.cycle_targets(sub, now, first):
        found = existing.get(target)
        if found is None or found[1] == "draft":
            return target
    cancel = invoicing.cancel_target(sub)
    if cancel is not None and existing.get(cancel, ("", ""))[1] == "draft":
        return cancel
    return invoicing.current_target(sub, now)


def upcoming(ctx: Context, *, customer: str, subscription: str | None = None) -> Invoice:
    """The next invoice the customer will receive, as it stands now; writes nothing."""
    now = ctx.now_ts
    with ctx.ledger(write=False) as led, led.read():
        cust = require_customer(led, customer)
        if subscription is not None:
            sub = require_subscription(led, subscription)
            if sub.customer != cust.id:
                raise InvalidInput(
                    f"subscription {sub.id} belongs to {sub.customer}, not {cust.id}",
                    hint="give one of the customer's subscriptions, or omit --subscription",
                )
            subs = [sub]
        else:
            subs = led.list_subscriptions(cust.id)
        candidates = []
        for sub in subs:
            target = next_target(led, sub, now)
            if target is not None:
                candidates.append(
                    (target.period_end, target.period_start, sub.created, sub, target)
                )
        if not candidates:
            raise NotFound(
                f"customer {cust.id} has no upcoming invoice",
                hint="it has no live subscription and nothing left to invoice",
            )
        *_, sub, target = min(candidates, key=lambda c: c[:3])
        inv = compose_for(led, sub, target, as_of=now)
    return replace(inv, billing_reason="upcoming")


# -- the month-end close ------------------------------------------------------------------------


@dataclass
class RunResult:
    created: list[str] = field(default_factory=list)
    recomputed: list[str] = field(default_factory=list)
    finalized: list[str] = field(default_factory=list)
    invoices: dict[str, Invoice] = field(default_factory=dict)
    # subscription id -> why its invoices were refused (an amount past 64 bits, a bad price):
    # the subscription is skipped, every other one is closed, the command exits 4 at the end.
    refused: dict[str, InvalidInput] = field(default_factory=dict)
    dry_run: bool = False


class _Rollback(Exception):
    def __init__(self, result: RunResult) -> None:
        self.result = result


def _close_one(
    led: LedgerStore,
    sub: Subscription,
    target: Target,
    invoice_id: str | None,
    now: int,
    grace: int,
) -> tuple[Invoice, list[str]]:
    """Create or recompute one invoice, finalizing it after grace; returns what was done."""
    actions: list[str] = []
    if invoice_id is None:
        inv = compose_for(led, sub, target, as_of=now, invoice_id=ids.new_id("in_"))
        if not led.insert_invoice(inv):
            return inv, actions  # another run created it first
        actions.append("created")
    else:
        old = led.get_invoice(invoice_id)
        assert old is not None
        inv = compose_for(led, sub, target, as_of=now, invoice_id=old.id, created=old.created)
        led.replace_draft(inv)
        actions.append("recomputed")
    if target.period_end + grace <= now:
        inv = finalize_draft(led, inv, now)
        actions.append("finalized")
    return inv, actions


def _run(led: LedgerStore, now: int, grace: int) -> RunResult:
    result = RunResult()
    work: list[tuple[tuple, Subscription, Target, str | None]] = []
    for sub in led.list_subscriptions():
        first, existing = _invoiced(led, sub)
        for target in invoicing.cycle_targets(sub, now, first):
            if target not in existing:
                work.append(((target.period_end, target.period_start), sub, target, None))
        for target, (draft_id, status) in existing.items():
            if status == "draft":
                work.append(((target.period_end, target.period_start), sub, target, draft_id))
    # Oldest period first, across customers: numbers and balances then follow time.
    work.sort(key=lambda w: (w[0], w[1].created, w[1].id))
    for _, sub, target, invoice_id in work:
        if sub.id in result.refused:
            continue  # its later periods wait until the earlier one can be invoiced
        try:
            with led.savepoint():
                inv, actions = _close_one(led, sub, target, invoice_id, now, grace)
        except InvalidInput as exc:
            result.refused[sub.id] = exc
            continue
        for action in actions:
            getattr(result, action).append(inv.id or "")
        if actions:
            result.invoices[inv.id or ""] = inv
    commit_expiries(led, now)
    return result


def run(ctx: Context, *, grace: timedelta = DEFAULT_GRACE, dry_run: bool = False) -> RunResult:
    """SPEC 4.4: drafts for every ended period (catching up in order), recomputed on each run,
    finalized once `period_end + grace` has passed. One BEGIN IMMEDIATE transaction, so two
    concurrent runs queue and the second finds everything done; `--dry-run` rolls it back.
    A subscription whose invoice cannot be computed (an amount past 64 bits) is refused alone,
    in its own savepoint: `result.refused` names it, the others are closed as usual."""
    if grace > MAX_GRACE or grace < timedelta(0):
        raise InvalidInput(f"--grace {grace} is out of range", hint="use 0s to 72h, e.g. 2h")
    grace_s = grace // timedelta(seconds=1)
    with ctx.ledger(write=False) as led:  # never creates a ledger: nothing to close in one
        try:
            with led.write():
                result = _run(led, ctx.now_ts, grace_s)
                if dry_run:
                    result.dry_run = True
                    raise _Rollback(result)
        except _Rollback as rollback:
            result = rollback.result
    return result


# -- lifecycle (SPEC 4.5) -----------------------------------------------------------------------

# action -> (the statuses it applies to, its participle for "only … invoices can be …")
_ALLOWED: dict[str, tuple[tuple[str, ...], str]] = {
    "finalize": (("draft",), "finalized"),
    "pay": (("open", "uncollectible"), "paid"),
    "void": (("open", "uncollectible"), "voided"),
    "mark-uncollectible": (("open",), "marked uncollectible"),
    "delete": (("draft",), "deleted"),
}


def invoice_name(inv: Invoice, typed: str) -> str:
    """The invoice as the user named it, then its other name: `in_… (ALPACA-0001)` or
    `ALPACA-0001 (in_…)`; a draft has no number yet, so only what was typed."""
    other = inv.number if typed == inv.id else inv.id
    return typed if other in (None, typed) else f"{typed} ({other})"


def _check_transition(inv: Invoice, action: str, typed: str) -> None:
    allowed, done = _ALLOWED[action]
    if inv.status not in allowed:
        raise Conflict(
            f"invoice {invoice_name(inv, typed)} is {inv.status}: only {' or '.join(allowed)} "
            f"invoices can be {done}",
            hint=_TRANSITION_HINTS.get(inv.status),
        )


_TRANSITION_HINTS = {
    "draft": "finalize it first (`billing invoice finalize`), or delete it",
    "open": "an open invoice can be paid, voided or marked uncollectible",
    "uncollectible": "an uncollectible invoice can still be paid or voided",
    "paid": "a paid invoice is final; correct it with a credit on the next invoice",
    "void": "a void invoice is final; nothing more can happen to it",
}


def finalize(ctx: Context, invoice_id: str) -> Invoice:
    """Recompute a draft one last time (as `invoice run` would) and finalize it now."""
    now = ctx.now_ts
    with ctx.ledger(write=False) as led, led.write():  # an existing ledger only
        inv = require_invoice(led, invoice_id)
        _check_transition(inv, "finalize", invoice_id)
        assert inv.subscription is not None
        sub = require_subscription(led, inv.subscription)
        fresh = compose_for(led, sub, inv.target, as_of=now, invoice_id=inv.id, created=inv.created)
        led.replace_draft(fresh)
        return finalize_draft(led, fresh, now)


def pay(ctx: Context, invoice_id: str) -> Invoice:
    """Record a payment made out of band (the whole amount due)."""
    with ctx.ledger(write=False) as led, led.write():  # an existing ledger only
        inv = require_invoice(led, invoice_id)
        _check_transition(inv, "pay", invoice_id)
        led.set_invoice_status(
            inv.id or "", inv.status, "paid", paid_at=ctx.now_ts, amount_paid=inv.amount_due
        )
        return require_invoice(led, inv.id or "")


def void(ctx: Context, invoice_id: str) -> Invoice:
    """Void; the balance change the invoice made is undone (Stripe returns applied credit) and
    the billing credits it took go back to their grants."""
    with ctx.ledger(write=False) as led, led.write():  # an existing ledger only
        inv = require_invoice(led, invoice_id)
        _check_transition(inv, "void", invoice_id)
        led.set_invoice_status(inv.id or "", inv.status, "void", voided_at=ctx.now_ts)
        applied = (inv.ending_balance or 0) - inv.starting_balance
        if applied:
            customer = require_customer(led, inv.customer)
            led.set_customer_balance(customer.id, customer.balance - applied)
        reinstate_credits(led, inv.id or "", ctx.now_ts)
        return require_invoice(led, inv.id or "")


def mark_uncollectible(ctx: Context, invoice_id: str) -> Invoice:
    with ctx.ledger(write=False) as led, led.write():  # an existing ledger only
        inv = require_invoice(led, invoice_id)
        _check_transition(inv, "mark-uncollectible", invoice_id)
        led.set_invoice_status(
            inv.id or "", inv.status, "uncollectible", marked_uncollectible_at=ctx.now_ts
        )
        return require_invoice(led, inv.id or "")


def delete(ctx: Context, invoice_id: str) -> Invoice:
    """Delete a draft; the next `invoice run` creates a fresh one for its period."""
    with ctx.ledger(write=False) as led, led.write():  # an existing ledger only
        inv = require_invoice(led, invoice_id)
        _check_transition(inv, "delete", invoice_id)
        led.delete_draft(inv.id or "")
        return inv


# -- reading ------------------------------------------------------------------------------------


def get_invoice(ctx: Context, invoice_id: str) -> Invoice:
    with ctx.ledger(write=False) as led, led.read():
        return require_invoice(led, invoice_id)


def list_invoices(
    ctx: Context, *, customer: str | None = None, status: str | None = None
) -> list[Invoice]:
    """Newest first, as Stripe lists them."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"--status {status!r} is not one of {', '.join(STATUSES)}")
    with ctx.ledger(write=False) as led, led.read():
        if customer is not None:
            require_customer(led, customer)
        return led.list_invoices(customer=customer, status=status)


# -- cancellation (SPEC 1.5) --------------------------------------------------------------------


@dataclass(frozen=True)
class Cancellation:
    subscription: Subscription
    invoice: Invoice | None  # the subscription_cancel draft (--invoice-now)
    usage_discarded: bool  # immediate, without --invoice-now, with a partial period unbilled


def cancel_subscription(
    ctx: Context, subscription_id: str, *, at_period_end: bool = False, invoice_now: bool = False
) -> Cancellation:
    """End now (optionally invoicing the partial period) or at the current period's end."""
    if at_period_end and invoice_now:
        raise UsageError("--at-period-end and --invoice-now cannot be used together")
    now = ctx.now_ts
    with ctx.ledger(write=False) as led, led.write():  # an existing ledger only
        sub = require_subscription(led, subscription_id)
        if schedule.effective_status(sub, now) == "canceled":
            raise Conflict(
                f"subscription {sub.id} is already canceled",
                hint="canceled subscriptions are never reactivated; create a new one",
            )
        if at_period_end:
            if not sub.cancel_at_period_end:
                _, end = schedule.current_period(sub, now)
                led.update_subscription(
                    sub.id, cancel_at_period_end=1, canceled_at=now, ended_at=end
                )
            return Cancellation(require_subscription(led, sub.id), None, False)
        led.update_subscription(
            sub.id, status="canceled", cancel_at_period_end=0, canceled_at=now, ended_at=now
        )
        sub = require_subscription(led, sub.id)
        target = invoicing.cancel_target(sub)
        invoice = None
        if target is not None and invoice_now:
            invoice = compose_for(led, sub, target, as_of=now, invoice_id=ids.new_id("in_"))
            led.insert_invoice(invoice)
        prices = [led.get_price(i.price) for i in sub.items]
        metered = any(p is not None and p.usage_type == "metered" for p in prices)
        return Cancellation(sub, invoice, target is not None and metered and not invoice_now)
