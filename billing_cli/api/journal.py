"""`billing export journal`: the ledger's issued invoices as an accounting journal."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from billing_cli.api.context import Context
from billing_cli.api.documents import write_file
from billing_cli.clock import to_unix
from billing_cli.errors import InvalidInput
from billing_cli.present.journal import DEFAULT_ACCOUNTS, FORMATS, Booking, journal, valid_account


def parse_accounts(pairs: list[str] | None) -> dict[str, str]:
    """`--account KEY=NAME` pairs (keys: receivable, bank, income, vat, customer_credit,
    bad_debt, paid_credits, promotional_credits) over the defaults."""
    names: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, name = pair.partition("=")
        if not sep or key not in DEFAULT_ACCOUNTS:
            raise InvalidInput(
                f"--account {pair!r} is not KEY=NAME with a known key",
                hint=f"keys: {', '.join(DEFAULT_ACCOUNTS)}; e.g. --account bank=Assets:Bank:GLS",
            )
        if not valid_account(name):
            raise InvalidInput(
                f"--account {pair!r}: {name!r} is not an account name",
                hint="start with Assets, Liabilities, Equity, Income or Expenses; components"
                " start with a capital letter or digit, e.g. Assets:Bank:Main",
            )
        names[key] = name
    return names


def export_journal(
    ctx: Context,
    *,
    fmt: str,
    accounts: list[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    output: Path | None = None,
) -> str:
    """The journal text; written atomically to `output` when given (replacing an older one)."""
    if fmt not in FORMATS:
        raise InvalidInput(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    names = parse_accounts(accounts)
    lo = None if start is None else to_unix(start)
    hi = None if end is None else to_unix(end)
    if lo is not None and hi is not None and hi <= lo:
        raise InvalidInput("--to must be after --from", hint="the range is [--from, --to)")
    with ctx.ledger(write=False) as led, led.read():
        invoices = {inv.id: inv for inv in led.finalized_invoices()}
        bookings = [
            Booking(invoices[e.invoice], e.status, e.at, e.amount_paid)
            for e in led.invoice_chain()
            if e.invoice in invoices
        ]
        products: dict[str, str] = {}
        for inv in invoices.values():
            for line in inv.lines:
                if line.price and line.price not in products:
                    price = led.get_price(line.price)
                    product = led.get_product(price.product) if price else None
                    products[line.price] = product.name if product else line.description
        categories = {g.id: g.category for g in led.list_credit_grants()}
    text = journal(
        bookings,
        products,
        fmt=fmt,
        accounts=names,
        start=lo,
        end=hi,
        grant_categories=categories,
    )
    if output is not None:
        write_file(output, text.encode(), replace=True)
    return text
