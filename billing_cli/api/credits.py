"""Credit grants, the credit balance summary and credit balance transactions (issue 19).

Amounts are minor units, as Stripe's `amount[monetary][value]`. A grant is never edited: its
expiry and its voiding are transactions (`credits_expired`, `credits_voided`), so grants and
transactions stay append-only and hash-chained like events and invoices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from billing_cli import ids
from billing_cli.api.catalog import check_choice, new_object_id, require_customer
from billing_cli.api.context import Context, check_text, parse_metadata
from billing_cli.api.prices import require_price
from billing_cli.clock import format_time, to_unix
from billing_cli.domain import credits, money
from billing_cli.domain.credits import Balance, CreditGrant, GrantState, Transaction
from billing_cli.errors import Conflict, InvalidInput, NotFound
from billing_cli.storage.port import LedgerStore

GRANT_PREFIX = "credgr_"
# The examples write `cg_…`; both prefixes are accepted for a chosen `--id`.
GRANT_ID_PREFIXES = (GRANT_PREFIX, "cg_")
TRANSACTION_PREFIX = "cbtxn_"
MAX_NAME = 100  # Stripe's limit on a credit grant's name


def new_transaction_id() -> str:
    return ids.new_id(TRANSACTION_PREFIX)


def parse_grant_amount(value: int | str, currency: str) -> int:
    """`--amount` in minor units (Stripe's `amount[monetary][value]`): a whole number > 0."""
    if isinstance(value, int) and not isinstance(value, bool):
        exact = value
    else:
        number = money.parse_decimal(str(value), field="--amount")
        if number != number.to_integral_value():
            places = money.currency_exponent(currency)
            raise InvalidInput(
                f"--amount {value!r} has more decimals than {currency} has: amounts are whole"
                " minor units",
                hint=f"e.g. --amount 10000 for {money.format_amount(10000, currency)}"
                if places
                else f"{currency} has no minor unit: e.g. --amount 5000 for 5000 {currency}",
            )
        exact = int(number)
    if exact <= 0:
        raise InvalidInput(
            f"--amount {value} is not positive",
            hint="a credit grant holds a positive amount, e.g. --amount 10000",
        )
    if exact > 10**15:
        raise InvalidInput(f"--amount {value} is too large", hint="at most 10^15 minor units")
    return exact


def _check_priority(priority: int) -> int:
    low, high = credits.PRIORITY_RANGE
    if not low <= priority <= high:
        raise InvalidInput(
            f"--priority {priority} is outside {low}..{high}",
            hint=f"{low} is used first, {high} last; the default is {credits.DEFAULT_PRIORITY}",
        )
    return priority


def _grant_id(led: LedgerStore, wanted: str | None) -> str:
    if wanted is None or not wanted.startswith("cg_"):
        return new_object_id(led, "credit_grants", GRANT_PREFIX, wanted)
    return new_object_id(led, "credit_grants", "cg_", wanted)


def _scope(led: LedgerStore, prices: Sequence[str], currency: str) -> tuple[str, ...]:
    """`--price` ids or lookup keys → price ids; each must be a metered price in the grant's
    currency (Stripe: credits apply to metered prices only)."""
    out: list[str] = []
    for ref in prices:
        price = require_price(led, ref)
        if price.usage_type != "metered":
            raise InvalidInput(
                f"--price {ref} is a licensed price: credits apply to metered prices only",
                hint="give metered prices, or no --price for every metered price",
            )
        if price.currency != currency:
            raise InvalidInput(
                f"--price {ref} is in {price.currency}, the grant in {currency}",
                hint="a grant pays lines in its own currency only",
            )
        if price.id not in out:
            out.append(price.id)
    return tuple(out)


def require_grant(led: LedgerStore, grant_id: str) -> GrantState:
    found = led.get_credit_grant(grant_id)
    if found is None:
        raise NotFound(
            f"no credit grant {grant_id!r}", hint="`billing credit-grant list` shows the grants"
        )
    return credits.grant_state(found, led.credit_transactions(credit_grant=found.id))


def create_grant(
    ctx: Context,
    *,
    customer: str,
    amount: int | str,
    currency: str,
    category: str = credits.PAID,
    priority: int = credits.DEFAULT_PRIORITY,
    effective_at: datetime | None = None,
    expires_at: datetime | None = None,
    prices: Sequence[str] = (),
    name: str | None = None,
    metadata: list[str] | None = None,
    grant_id: str | None = None,
) -> GrantState:
    """Grant billing credits; the grant's `credits_granted` transaction enters the chain."""
    now = ctx.now_ts
    currency = money.normalize_currency(currency)
    value = parse_grant_amount(amount, currency)
    check_choice(category, field="--category", choices=credits.CATEGORIES)
    _check_priority(priority)
    check_text(name, field="--name", max_len=MAX_NAME)
    meta = parse_metadata(metadata)
    effective = now if effective_at is None else to_unix(effective_at)
    expires = None if expires_at is None else to_unix(expires_at)
    if expires is not None and expires <= effective:
        raise InvalidInput(
            f"--expires-at {format_time(expires)} is not after the grant becomes effective"
            f" ({format_time(effective)})",
            hint="give an --expires-at later than --effective-at (default: now)",
        )
    with ctx.ledger(write=True) as led, led.write():
        cust = require_customer(led, customer)
        scope = _scope(led, prices, currency)
        grant = CreditGrant(
            id=_grant_id(led, grant_id),
            created=now,
            customer=cust.id,
            currency=currency,
            value=value,
            category=category,
            priority=priority,
            effective_at=effective,
            expires_at=expires,
            prices=scope,
            name=name or None,
            metadata=meta,
        )
        granted = Transaction(
            id=new_transaction_id(),
            created=now,
            effective_at=effective,
            credit_grant=grant.id,
            customer=cust.id,
            currency=currency,
            reason=credits.GRANTED,
            amount=value,
        )
        led.insert_credit_grant(grant, granted)
        return require_grant(led, grant.id)


def get_grant(ctx: Context, grant_id: str) -> GrantState:
    with ctx.ledger(write=False) as led, led.read():
        return require_grant(led, grant_id)


def list_grants(ctx: Context, *, customer: str | None = None) -> list[GrantState]:
    """Newest first, as Stripe lists them."""
    with ctx.ledger(write=False) as led, led.read():
        if customer is not None:
            customer = require_customer(led, customer).id
        return grant_states(led, customer)


def grant_states(led: LedgerStore, customer: str | None) -> list[GrantState]:
    by_grant: dict[str, list[Transaction]] = {}
    for t in led.credit_transactions(customer=customer):
        by_grant.setdefault(t.credit_grant, []).append(t)
    return [
        credits.grant_state(g, by_grant.get(g.id, ()))
        for g in led.list_credit_grants(customer=customer)
    ]


def expire_grant(ctx: Context, grant_id: str) -> GrantState:
    """Expire now (Stripe's `expire`): what is left leaves the balance as `credits_expired`."""
    now = ctx.now_ts
    with ctx.ledger(write=False) as led, led.write():
        state = require_grant(led, grant_id)
        if state.voided_at is not None:
            raise Conflict(f"credit grant {state.grant.id} is voided: cannot expire it")
        if state.expired_at(now):
            raise Conflict(
                f"credit grant {state.grant.id} expired at {format_time(state.expires_at or 0)}",
                hint="an expired grant cannot be expired again",
            )
        led.append_credit_transactions([_closing(state, credits.EXPIRED, now)])
        return require_grant(led, state.grant.id)


def void_grant(ctx: Context, grant_id: str) -> GrantState:
    """Void (Stripe's `void_grant`): only while nothing of it was used."""
    now = ctx.now_ts
    with ctx.ledger(write=False) as led, led.write():
        state = require_grant(led, grant_id)
        if state.voided_at is not None:
            raise Conflict(f"credit grant {state.grant.id} is voided already")
        if state.expired_at(now):
            raise Conflict(
                f"credit grant {state.grant.id} expired at {format_time(state.expires_at or 0)}:"
                " cannot void it"
            )
        if state.remaining != state.grant.value:
            used = state.grant.value - state.remaining
            raise Conflict(
                f"credit grant {state.grant.id} has been used"
                f" ({money.format_amount(used, state.grant.currency)} applied to invoices):"
                " cannot void it",
                hint="`billing credit-grant expire` ends it and keeps what was used",
            )
        led.append_credit_transactions([_closing(state, credits.VOIDED, now)])
        return require_grant(led, state.grant.id)


def _closing(state: GrantState, reason: str, now: int) -> Transaction:
    g = state.grant
    return Transaction(
        id=new_transaction_id(),
        created=now,
        effective_at=now,
        credit_grant=g.id,
        customer=g.customer,
        currency=g.currency,
        reason=reason,
        amount=max(state.remaining, 0),
    )


@dataclass(frozen=True)
class BalanceSummary:
    customer: str
    balances: list[Balance]


def balance_summary(
    ctx: Context,
    *,
    customer: str,
    credit_grant: str | None = None,
    prices: Sequence[str] = (),
) -> BalanceSummary:
    """Stripe's `billing.credit_balance_summary`, optionally of one grant (`filter[type] =
    credit_grant`) or of the grants that can pay given prices (`applicability_scope`)."""
    now = ctx.now_ts
    with ctx.ledger(write=False) as led, led.read():
        cust = require_customer(led, customer)
        states = grant_states(led, cust.id)
        if credit_grant is not None:
            state = require_grant(led, credit_grant)
            if state.grant.customer != cust.id:
                raise InvalidInput(
                    f"credit grant {state.grant.id} belongs to {state.grant.customer},"
                    f" not {cust.id}"
                )
            states = [s for s in states if s.grant.id == state.grant.id]
        if prices:
            wanted = {require_price(led, p).id for p in prices}
            states = [s for s in states if not s.grant.prices or wanted & set(s.grant.prices)]
        chosen = {s.grant.id for s in states}
        txns = [t for t in led.credit_transactions(customer=cust.id) if t.credit_grant in chosen]
    return BalanceSummary(cust.id, credits.balances(states, txns, at=now))


def get_transaction(ctx: Context, transaction_id: str) -> Transaction:
    """One `billing.credit_balance_transaction` by id."""
    with ctx.ledger(write=False) as led, led.read():
        found = led.get_credit_transaction(transaction_id)
    if found is None:
        raise NotFound(
            f"no credit balance transaction {transaction_id!r}",
            hint="`billing credit transactions --customer C` lists them",
        )
    return found


def list_transactions(
    ctx: Context, *, customer: str, credit_grant: str | None = None
) -> list[Transaction]:
    """Newest first, as Stripe lists them."""
    with ctx.ledger(write=False) as led, led.read():
        cust = require_customer(led, customer)
        grant = None if credit_grant is None else require_grant(led, credit_grant).grant.id
        found = led.credit_transactions(customer=cust.id, credit_grant=grant)
    return sorted(found, key=lambda t: t.seq or 0, reverse=True)


# -- invoices (called inside their write transactions) -------------------------------------------


def reinstate_credits(led: LedgerStore, invoice_id: str, now: int) -> None:
    """`invoice void`: what the invoice took goes back to each grant (expiring at once where
    the grant has expired since, as Stripe does)."""
    applied = [
        t for t in led.credit_transactions(invoice=invoice_id) if t.reason == credits.APPLIED
    ]
    if not applied:
        return
    states = {s.grant.id: s for s in grant_states(led, applied[0].customer)}
    led.append_credit_transactions(
        credits.reinstated(applied, states, at=now, new_id=new_transaction_id)
    )


def commit_expiries(led: LedgerStore, now: int) -> None:
    """`invoice run`: commit the expiry of grants past their `expires_at` with credit left, so
    `ledger_balance` catches up with `available_balance` (Stripe commits them the same way)."""
    led.append_credit_transactions(
        credits.due_expiries(grant_states(led, None), at=now, new_id=new_transaction_id)
    )
