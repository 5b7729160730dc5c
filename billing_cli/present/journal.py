"""The accounting journal (`billing export journal`): issued invoices and what became of them,
as double-entry transactions in beancount or hledger syntax.

Each finalized invoice books Receivable (its amount due), the customer credit it used and the
billing credits that paid its lines against Income per product (net of tax) and VAT per rate.
Billing credits are their own accounts: a paid grant's credit is deferred revenue (a liability,
credited where the customer bought it, debited here as the usage it prepaid is billed), a
promotional grant's credit a marketing expense; a payment moves Receivable to Bank;
an uncollectible invoice writes Receivable off to BadDebt (a later payment recovers it); a void
reverses what the invoice (and a write-off) booked. The transactions follow the invoice chain,
the ledger's own record of each status an invoice entered and when, so the output is
deterministic; each balances to zero, and Receivable sums to the open invoices' amount due.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from billing_cli.domain.invoicing import Invoice
from billing_cli.domain.money import format_amount

__all__ = ["DEFAULT_ACCOUNTS", "FORMATS", "Booking", "journal", "valid_account"]

DEFAULT_ACCOUNTS: dict[str, str] = {
    "receivable": "Assets:Receivable",
    "bank": "Assets:Bank",
    "income": "Income:Usage",
    "vat": "Liabilities:VAT",
    "customer_credit": "Liabilities:CustomerCredit",
    "bad_debt": "Expenses:BadDebt",
    "paid_credits": "Liabilities:DeferredRevenue:BillingCredits",
    "promotional_credits": "Expenses:Marketing:PromotionalCredits",
}
FORMATS = ("beancount", "hledger")
# What both tools accept: a root type, then components starting with a capital or a digit.
_ACCOUNT_RE = re.compile(r"(Assets|Liabilities|Equity|Income|Expenses)(:[A-Z0-9][A-Za-z0-9-]*)*")


@dataclass(frozen=True)
class Booking:
    """One status an invoice entered (a row of the invoice chain)."""

    invoice: Invoice
    status: str  # open | paid | void | uncollectible
    at: int
    amount_paid: int | None = None


Postings = dict[str, int]


def valid_account(name: str) -> bool:
    return _ACCOUNT_RE.fullmatch(name) is not None


def _component(text: str) -> str:
    """An account name component from free text: ASCII letters, digits and dashes."""
    words = re.findall(r"[A-Za-z0-9]+", text)
    name = "-".join(w[:1].upper() + w[1:] for w in words)
    return name or "Other"


def _issued(
    inv: Invoice,
    products: Mapping[str, str],
    accounts: Mapping[str, str],
    grant_categories: Mapping[str, str],
) -> Postings:
    """Finalization: Receivable + credit used + billing credits = Income (net) + VAT, in
    minor units."""
    postings: Postings = {accounts["receivable"]: inv.amount_due}
    credit = (inv.ending_balance or 0) - inv.starting_balance
    postings[accounts["customer_credit"]] = credit
    for c in inv.total_pretax_credit_amounts:
        promotional = grant_categories.get(c.credit_grant) == "promotional"
        account = accounts["promotional_credits" if promotional else "paid_credits"]
        postings[account] = postings.get(account, 0) + c.amount
    for line in inv.lines:
        name = products.get(line.price or "", line.description)
        account = f"{accounts['income']}:{_component(name)}"
        net = line.amount - sum(t.amount for t in line.taxes if t.inclusive)
        postings[account] = postings.get(account, 0) - net
    for t in inv.total_taxes:
        rate = format(t.percentage.normalize(), "f").replace(".", "-")
        account = f"{accounts['vat']}:{_component(t.display_name)}-{rate}"
        postings[account] = postings.get(account, 0) - t.amount
    return postings


def _negated(postings: Postings) -> Postings:
    return {account: -amount for account, amount in postings.items()}


def _merge(*parts: Postings) -> Postings:
    out: Postings = {}
    for part in parts:
        for account, amount in part.items():
            out[account] = out.get(account, 0) + amount
    return out


@dataclass(frozen=True)
class _Transaction:
    at: int
    payee: str
    narration: str
    invoice_id: str
    currency: str
    postings: Postings


def _transactions(
    bookings: Iterable[Booking],
    products: Mapping[str, str],
    accounts: Mapping[str, str],
    grant_categories: Mapping[str, str],
) -> list[_Transaction]:
    written_off: set[str] = set()
    out: list[_Transaction] = []
    for b in bookings:
        inv = b.invoice
        assert inv.id is not None
        number = inv.number or inv.id
        receivable, bad_debt = accounts["receivable"], accounts["bad_debt"]
        due = inv.amount_due
        if b.status == "open":
            postings, what = _issued(inv, products, accounts, grant_categories), f"Invoice {number}"
        elif b.status == "uncollectible":
            postings, what = {bad_debt: due, receivable: -due}, f"Invoice {number} uncollectible"
            written_off.add(inv.id)
        elif b.status == "paid":
            paid = b.amount_paid or 0
            source = bad_debt if inv.id in written_off else receivable
            postings, what = {accounts["bank"]: paid, source: -paid}, f"Payment of {number}"
        else:  # void: undo a write-off, then the invoice itself
            undo = {receivable: due, bad_debt: -due} if inv.id in written_off else {}
            postings = _merge(undo, _negated(_issued(inv, products, accounts, grant_categories)))
            what = f"Invoice {number} voided"
        postings = {a: v for a, v in postings.items() if v}
        if postings:
            payee = (inv.parties.customer_name if inv.parties else None) or inv.customer
            out.append(_Transaction(b.at, payee, what, inv.id, inv.currency, postings))
    return out


def _day(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "/").replace('"', "'") + '"'


def journal(
    bookings: Iterable[Booking],
    products: Mapping[str, str],
    *,
    fmt: str,
    accounts: Mapping[str, str] | None = None,
    start: int | None = None,
    end: int | None = None,
    grant_categories: Mapping[str, str] | None = None,
) -> str:
    """The journal text of `bookings` (chain order) dated in [start, end); `grant_categories`
    (credit grant id → paid | promotional) says which account a line's billing credit leaves."""
    names = {**DEFAULT_ACCOUNTS, **(accounts or {})}
    txns = [
        t
        for t in _transactions(bookings, products, names, grant_categories or {})
        if (start is None or t.at >= start) and (end is None or t.at < end)
    ]
    out: list[str] = [f"; billing_cli journal ({fmt}): invoices, payments, write-offs, voids", ""]
    first_use: dict[str, int] = {}
    for t in txns:
        for account in t.postings:
            first_use.setdefault(account, t.at)
    if fmt == "beancount":
        for account, at in sorted(first_use.items(), key=lambda kv: (kv[1], kv[0])):
            out.append(f"{_day(at)} open {account}")
    else:
        out += [f"account {account}" for account in sorted(first_use)]
    if first_use:
        out.append("")
    width = max((len(a) for a in first_use), default=0) + 4
    for t in txns:
        if fmt == "beancount":
            out.append(f"{_day(t.at)} * {_quoted(t.payee)} {_quoted(t.narration)}")
            out.append(f"  invoice: {_quoted(t.invoice_id)}")
        else:
            payee = t.payee.replace("|", "/").replace(";", ",")
            out.append(f"{_day(t.at)} * {payee} | {t.narration}  ; invoice:{t.invoice_id}")
        for account, amount in t.postings.items():
            out.append(f"  {account:<{width}}{format_amount(amount, t.currency):>20}")
        out.append("")
    return "\n".join(out)
