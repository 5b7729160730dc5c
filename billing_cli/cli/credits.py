"""`billing credit-grant …` and `billing credit …`: Stripe's billing credits (issue 19)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from billing_cli.api import credits as api
from billing_cli.cli import context
from billing_cli.cli.catalog import IdArg, Metadata
from billing_cli.cli.output import (
    AMOUNT,
    ID,
    NUMBER,
    TEXT,
    AllOption,
    Column,
    CsvOption,
    JsonOption,
    LimitOption,
    NlOption,
    StartingAfterOption,
    check_formats,
    money_column,
    print_json,
    print_records,
    time_column,
)
from billing_cli.cli.render import Page, after, render_list
from billing_cli.clock import parse_time
from billing_cli.present import credits_json
from billing_cli.present.amounts import format_amount

credit_grant_app = typer.Typer(
    no_args_is_help=True,
    help="Credit grants: prepaid or promotional credit for metered usage.",
)
credit_app = typer.Typer(
    no_args_is_help=True, help="Billing credit balances and their transactions."
)

CustomerOption = Annotated[str, typer.Option("--customer", help="Customer id.")]


def _row(data: dict, state: Any, now: int) -> dict:
    """A grant's JSON with what a table adds: its currency, what is left, its status."""
    money = data["amount"]["monetary"]
    return {
        **data,
        "currency": money["currency"],
        "value": money["value"],
        "remaining": state.remaining,
        "status": _status(data, now),
    }


def _scope(row: dict) -> str:
    scope = row["applicability_config"]["scope"]
    if scope.get("prices"):
        return " ".join(p["id"] for p in scope["prices"])
    return "metered prices"


def _status(row: dict, now: int) -> str:
    if row["voided_at"] is not None:
        return "voided"
    if row["expires_at"] is not None and row["expires_at"] <= now:
        return "expired"
    if row["effective_at"] > now:
        return "not yet effective"
    return "active"


GRANT_COLUMNS = [
    Column("id", lambda r: r["id"], ID),
    Column("customer", lambda r: r["customer"], ID),
    Column("name", lambda r: r["name"] or "", TEXT),
    Column("category", lambda r: r["category"], stack=True),
    Column("priority", lambda r: r["priority"], NUMBER, stack=True),
    Column("currency", lambda r: r["currency"], where="csv"),
    money_column("amount", "value"),
    money_column("remaining", "remaining", stack=True),
    Column("applies to", _scope, TEXT),
    time_column("effective_at", "effective_at"),
    time_column("expires_at", "expires_at", stack=True),
    Column("status", lambda r: r["status"]),
]


def _show_grant(state: Any, *, as_json: bool, now: int) -> None:
    data = credits_json.credit_grant_dict(state)
    if as_json:
        print_json(data)
        return
    meta = Column("metadata", lambda r: " ".join(f"{k}={v}" for k, v in r["metadata"].items()))
    print_records([*GRANT_COLUMNS, meta], [_row(data, state, now)], title="credit grant")


def _opt_time(value: str | None, field: str):  # noqa: ANN202 - datetime | None
    return None if value is None else parse_time(value, field=field)


@credit_grant_app.command("create")
def grant_create(
    ctx: typer.Context,
    customer: CustomerOption,
    amount: Annotated[
        str, typer.Option(help="Minor units (cents for usd): 10000 = 100.00 USD; > 0.")
    ],
    currency: Annotated[str, typer.Option(help="ISO 4217 code, e.g. usd.")],
    category: Annotated[str, typer.Option(help="paid or promotional.")] = "paid",
    priority: Annotated[int, typer.Option(help="0 (used first) .. 100 (used last).")] = 50,
    effective_at: Annotated[
        str | None, typer.Option(help="When the credit becomes usable [now].")
    ] = None,
    expires_at: Annotated[
        str | None, typer.Option(help="When what is left expires [never].")
    ] = None,
    price: Annotated[
        list[str] | None,
        typer.Option("--price", help="Only these metered prices (repeatable) [every metered]."),
    ] = None,
    name: Annotated[str | None, typer.Option(help="A name people recognise.")] = None,
    metadata: Metadata = None,
    grant_id: Annotated[
        str | None, typer.Option("--id", help="Choose the id (credgr_… or cg_…).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Grant billing credits (Stripe's billing.credit_grant)."""
    c = context(ctx)
    state = api.create_grant(
        c,
        customer=customer,
        amount=amount,
        currency=currency,
        category=category,
        priority=priority,
        effective_at=_opt_time(effective_at, "--effective-at"),
        expires_at=_opt_time(expires_at, "--expires-at"),
        prices=price or (),
        name=name,
        metadata=metadata,
        grant_id=grant_id,
    )
    _show_grant(state, as_json=as_json, now=c.now_ts)


@credit_grant_app.command("list")
def grant_list(
    ctx: typer.Context,
    customer: Annotated[str | None, typer.Option(help="Only this customer's.")] = None,
    limit: LimitOption = None,
    starting_after: StartingAfterOption = None,
    all_: AllOption = False,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    as_nl: NlOption = False,
) -> None:
    """List credit grants, newest first, with what is left of each."""
    check_formats(("--json", as_json), ("--csv", as_csv), ("--nl", as_nl))
    page = Page.of(limit, all_, starting_after)
    c = context(ctx)
    states = api.list_grants(c, customer=customer)
    pure = [credits_json.credit_grant_dict(s) for s in states]
    # JSON and NDJSON are Stripe's objects; a table and CSV add currency, remaining, status.
    rows = [_row(d, s, c.now_ts) for d, s in zip(pure, states, strict=True)]
    data = pure if as_json or as_nl else rows
    render_list(
        after(data, starting_after, "credit grant"),
        GRANT_COLUMNS,
        as_json=as_json,
        as_csv=as_csv,
        as_nl=as_nl,
        title="credit grants",
        page=page,
    )


@credit_grant_app.command("show")
def grant_show(ctx: typer.Context, grant_id: IdArg, as_json: JsonOption = False) -> None:
    """Show one credit grant."""
    c = context(ctx)
    _show_grant(api.get_grant(c, grant_id), as_json=as_json, now=c.now_ts)


@credit_grant_app.command("expire")
def grant_expire(ctx: typer.Context, grant_id: IdArg, as_json: JsonOption = False) -> None:
    """Expire a grant now: what is left of it can no longer be used."""
    c = context(ctx)
    _show_grant(api.expire_grant(c, grant_id), as_json=as_json, now=c.now_ts)


@credit_grant_app.command("void")
def grant_void(ctx: typer.Context, grant_id: IdArg, as_json: JsonOption = False) -> None:
    """Void a grant nothing was used of (a used grant can only be expired)."""
    c = context(ctx)
    _show_grant(api.void_grant(c, grant_id), as_json=as_json, now=c.now_ts)


BALANCE_COLUMNS = [
    Column("currency", lambda r: r["currency"]),
    money_column("available_balance", "available"),
    money_column("ledger_balance", "ledger"),
]


@credit_app.command("balance")
def credit_balance(
    ctx: typer.Context,
    customer: CustomerOption,
    credit_grant: Annotated[str | None, typer.Option(help="Only this grant.")] = None,
    price: Annotated[
        list[str] | None,
        typer.Option("--price", help="Only grants that can pay this price (repeatable)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The customer's credit balance per currency (Stripe's billing.credit_balance_summary)."""
    summary = api.balance_summary(
        context(ctx), customer=customer, credit_grant=credit_grant, prices=price or ()
    )
    data = credits_json.credit_balance_summary_dict(summary.customer, summary.balances)
    if as_json:
        print_json(data)
        return
    rows = [
        {"currency": b.currency, "available": b.available, "ledger": b.ledger}
        for b in summary.balances
    ]
    render_list(rows, BALANCE_COLUMNS, title=f"credit balance of {summary.customer}")


def _detail(row: dict) -> dict:
    return row["credit"] or row["debit"]


def _invoice_ref(row: dict) -> str:
    detail = _detail(row)
    ref = detail.get("credits_applied") or detail.get("credits_application_invoice_voided")
    return "" if not ref else f"{ref['invoice']} {ref['invoice_line_item']}"


def _signed(row: dict) -> int:
    value = _detail(row)["amount"]["monetary"]["value"]
    return value if row["type"] == "credit" else -value


def _currency(row: dict) -> str:
    return str(_detail(row)["amount"]["monetary"]["currency"])


TRANSACTION_COLUMNS = [
    Column("id", lambda r: r["id"], ID),
    time_column("created", "created"),
    time_column("effective_at", "effective_at", stack=True),
    Column("credit_grant", lambda r: r["credit_grant"], ID),
    Column("type", lambda r: r["type"], stack=True),
    Column("reason", lambda r: _detail(r)["type"]),
    Column("currency", _currency, where="csv"),
    Column(
        "amount",
        lambda r: format_amount(_signed(r), _currency(r)),
        AMOUNT,
        csv=_signed,
    ),
    Column("invoice", _invoice_ref, ID),
]


@credit_app.command("transactions")
def credit_transactions(
    ctx: typer.Context,
    customer: CustomerOption,
    credit_grant: Annotated[str | None, typer.Option(help="Only this grant's.")] = None,
    limit: LimitOption = None,
    starting_after: StartingAfterOption = None,
    all_: AllOption = False,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    as_nl: NlOption = False,
) -> None:
    """Credits and debits of the customer's grants, newest first (Stripe's
    billing.credit_balance_transaction)."""
    page = Page.of(limit, all_, starting_after)
    found = api.list_transactions(context(ctx), customer=customer, credit_grant=credit_grant)
    data = [credits_json.credit_balance_transaction_dict(t) for t in found]
    render_list(
        after(data, starting_after, "credit balance transaction"),
        TRANSACTION_COLUMNS,
        as_json=as_json,
        as_csv=as_csv,
        as_nl=as_nl,
        title="credit transactions",
        page=page,
    )
