"""Billing credits (Stripe's credit grants): which grant pays how much of which invoice line.

Pure, like `invoicing`: the grants and what is left of each arrive as values, the time the
invoice is computed at is an argument. `invoicing.compose` applies credits as its own step after
the lines are priced and before tax, so the preview (what would apply now), every draft, the
finalized invoice and `ledger check` all take the same path.

Stripe's rules (issue 19):
- only grants in the invoice's currency that are effective at the invoice's time and neither
  expired nor voided by then, with something left;
- only metered lines (`applicability_config.scope.price_type = metered`), or only the grant's own
  prices, each up to its amount before tax and never below zero;
- grants in Stripe's order: lower `priority` first, then the soonest `expires_at` (none last),
  then `promotional` before `paid`, then the earliest `effective_at`, then the earliest
  `created`. Each grant pays the lines it applies to in line order before the next grant pays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from billing_cli.domain.invoice_lines import Line, PretaxCredit

PAID = "paid"
PROMOTIONAL = "promotional"
CATEGORIES = (PAID, PROMOTIONAL)
DEFAULT_PRIORITY = 50
PRIORITY_RANGE = (0, 100)

CREDIT = "credit"
DEBIT = "debit"
# Stripe's `credit.type` / `debit.type` of a credit balance transaction.
GRANTED = "credits_granted"
INVOICE_VOIDED = "credits_application_invoice_voided"
APPLIED = "credits_applied"
EXPIRED = "credits_expired"
VOIDED = "credits_voided"
REASONS = {GRANTED: CREDIT, INVOICE_VOIDED: CREDIT, APPLIED: DEBIT, EXPIRED: DEBIT, VOIDED: DEBIT}


@dataclass(frozen=True)
class CreditGrant:
    """A `billing.credit_grant` as created; never changed afterwards (expiring and voiding are
    transactions, see `GrantState`)."""

    id: str
    created: int
    customer: str
    currency: str
    value: int  # amount.monetary.value, minor units, > 0
    category: str  # paid | promotional
    priority: int  # 0 (first) .. 100
    effective_at: int
    expires_at: int | None  # as created; `credit-grant expire` may bring it forward
    prices: tuple[str, ...] = ()  # applicability_config.scope.prices; () = price_type metered
    name: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Transaction:
    """A `billing.credit_balance_transaction`: a credit or a debit against one grant."""

    id: str
    created: int
    effective_at: int
    credit_grant: str
    customer: str
    currency: str
    reason: str  # one of REASONS
    amount: int  # minor units, ≥ 0 (an expiry of nothing left records 0)
    invoice: str | None = None
    invoice_line_item: str | None = None
    seq: int | None = None

    @property
    def type(self) -> str:
        return REASONS[self.reason]

    @property
    def signed(self) -> int:
        return self.amount if self.type == CREDIT else -self.amount


@dataclass(frozen=True)
class CreditChainEntry:
    """One stored row of the credit chain with its hashes, as `ledger check` walks it."""

    transaction: Transaction
    grant_hash: str | None
    hash: str

    @property
    def values(self) -> tuple[object, ...]:
        """The fields the row's hash covers, in `chain.CREDIT_TRANSACTION_FIELDS` order."""
        t = self.transaction
        return (
            t.seq,
            t.id,
            t.created,
            t.effective_at,
            t.credit_grant,
            t.customer,
            t.currency,
            t.reason,
            t.amount,
            t.invoice,
            t.invoice_line_item,
            self.grant_hash,
        )


@dataclass(frozen=True)
class GrantState:
    """A grant with what its transactions say now: what is left, when it expired or was voided."""

    grant: CreditGrant
    remaining: int
    expires_at: int | None
    voided_at: int | None
    updated: int
    expiry_recorded: bool  # a credits_expired transaction exists (explicit or committed)

    def usable_at(self, at: int) -> bool:
        """Effective, not expired and not voided at `at` (Stripe's check at finalization)."""
        if self.voided_at is not None and self.voided_at <= at:
            return False
        if self.expires_at is not None and self.expires_at <= at:
            return False
        return self.grant.effective_at <= at

    def expired_at(self, at: int) -> bool:
        return self.expires_at is not None and self.expires_at <= at


def grant_state(grant: CreditGrant, transactions: Iterable[Transaction]) -> GrantState:
    """Fold a grant's transactions (in any order) into its state."""
    remaining, expires_at, voided_at, updated, recorded = (
        0,
        grant.expires_at,
        None,
        grant.created,
        False,
    )
    for t in transactions:
        remaining += t.signed
        if t.reason == EXPIRED:
            recorded = True
            if expires_at is None or t.effective_at < expires_at:
                expires_at = t.effective_at
            updated = max(updated, t.created)
        elif t.reason == VOIDED:
            voided_at = t.created if voided_at is None else min(voided_at, t.created)
            updated = max(updated, t.created)
    return GrantState(grant, remaining, expires_at, voided_at, updated, recorded)


def order_key(grant: CreditGrant, expires_at: int | None) -> tuple:
    """Stripe's order of use (see the module docstring); ids break the last tie."""
    return (
        grant.priority,
        expires_at is None,
        expires_at or 0,
        grant.category != PROMOTIONAL,
        grant.effective_at,
        grant.created,
        grant.id,
    )


def creditable(line: Line) -> bool:
    """A line credits can pay: a metered price's line with something to pay."""
    return line.meter is not None and line.price is not None and line.amount > 0


def applies_to(grant: CreditGrant, line: Line) -> bool:
    return creditable(line) and (not grant.prices or line.price in grant.prices)


def usable(states: Iterable[GrantState], currency: str, at: int) -> list[GrantState]:
    """The grants that may pay an invoice in `currency` computed at `at`, in order of use."""
    found = [
        s for s in states if s.grant.currency == currency and s.remaining > 0 and s.usable_at(at)
    ]
    return sorted(found, key=lambda s: order_key(s.grant, s.expires_at))


def allocate(
    lines: Sequence[Line], states: Iterable[GrantState], *, currency: str, at: int
) -> tuple[Line, ...]:
    """The lines with their `pretax_credit_amounts` (transaction ids still unset)."""
    open_amount = [line.amount if creditable(line) else 0 for line in lines]
    taken: list[list[PretaxCredit]] = [[] for _ in lines]
    for state in usable(states, currency, at):
        left = state.remaining
        for index, line in enumerate(lines):
            if left == 0:
                break
            if open_amount[index] == 0 or not applies_to(state.grant, line):
                continue
            amount = min(left, open_amount[index])
            taken[index].append(PretaxCredit(amount=amount, credit_grant=state.grant.id))
            open_amount[index] -= amount
            left -= amount
    return tuple(
        replace(line, pretax_credit_amounts=tuple(credits))
        for line, credits in zip(lines, taken, strict=True)
    )


def credited(lines: Iterable[Line]) -> int:
    """Σ of every line's pretax credits: what credits took off the invoice."""
    return sum(line.pretax_credit_total for line in lines)


def with_transaction_ids(lines: Sequence[Line], new_id: Callable[[], str]) -> tuple[Line, ...]:
    """At finalization each pretax credit becomes a debit transaction with its own id."""
    return tuple(
        replace(
            line,
            pretax_credit_amounts=tuple(
                replace(c, credit_balance_transaction=c.credit_balance_transaction or new_id())
                for c in line.pretax_credit_amounts
            ),
        )
        for line in lines
    )


def applied_debits(
    invoice_id: str,
    lines: Iterable[Line],
    *,
    customer: str,
    currency: str,
    at: int,
) -> list[Transaction]:
    """The `credits_applied` debits a finalized invoice's pretax credits record."""
    out = []
    for line in lines:
        for credit in line.pretax_credit_amounts:
            assert credit.credit_balance_transaction is not None
            out.append(
                Transaction(
                    id=credit.credit_balance_transaction,
                    created=at,
                    effective_at=at,
                    credit_grant=credit.credit_grant,
                    customer=customer,
                    currency=currency,
                    reason=APPLIED,
                    amount=credit.amount,
                    invoice=invoice_id,
                    invoice_line_item=line.id,
                )
            )
    return out


def reinstated(
    applied: Iterable[Transaction],
    states: Mapping[str, GrantState],
    *,
    at: int,
    new_id: Callable[[], str],
) -> list[Transaction]:
    """Voiding an invoice returns what each line took to its grant; a grant that has expired
    since gets the credit and, at once, a `credits_expired` debit of it (Stripe: "the
    reinstated credits expire immediately")."""
    out = []
    for debit in applied:
        back = replace(
            debit,
            id=new_id(),
            created=at,
            effective_at=at,
            reason=INVOICE_VOIDED,
            seq=None,
        )
        out.append(back)
        state = states[debit.credit_grant]
        if state.expired_at(at) or state.voided_at is not None:
            out.append(replace(back, id=new_id(), reason=EXPIRED))
    return out


@dataclass(frozen=True)
class Balance:
    """One currency of a `billing.credit_balance_summary`."""

    currency: str
    available: int
    ledger: int


def balances(
    states: Iterable[GrantState], transactions: Iterable[Transaction], *, at: int
) -> list[Balance]:
    """Stripe's two balances per currency. `ledger_balance`: the transactions committed and
    effective by `at`. `available_balance`: that, less what is left of grants that have expired
    without a committed expiry (Stripe's definition)."""
    ledger: dict[str, int] = {}
    for t in transactions:
        if t.effective_at <= at:
            ledger[t.currency] = ledger.get(t.currency, 0) + t.signed
    available = dict(ledger)
    for s in states:
        currency = s.grant.currency
        ledger.setdefault(currency, 0)
        available.setdefault(currency, 0)
        if s.expired_at(at) and not s.expiry_recorded and s.remaining > 0:
            available[currency] -= s.remaining
    return [Balance(c, available[c], ledger[c]) for c in sorted(ledger)]


def due_expiries(
    states: Iterable[GrantState], *, at: int, new_id: Callable[[], str]
) -> list[Transaction]:
    """`credits_expired` debits for grants past their `expires_at` with credit left and no
    committed expiry (what `invoice run` records, so `ledger_balance` catches up)."""
    return [
        Transaction(
            id=new_id(),
            created=at,
            effective_at=s.expires_at,
            credit_grant=s.grant.id,
            customer=s.grant.customer,
            currency=s.grant.currency,
            reason=EXPIRED,
            amount=s.remaining,
        )
        for s in states
        if s.expires_at is not None and s.expired_at(at) and not s.expiry_recorded
        if s.remaining > 0 and s.voided_at is None
    ]
