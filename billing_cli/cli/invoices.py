"""`billing invoice …`: preview, month-end close, lifecycle, listing (SPEC 4.3–4.6)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from billing_cli.api import invoices as api
from billing_cli.cli import context, one_line
from billing_cli.cli.catalog import IdArg
from billing_cli.cli.output import (
    ID,
    AllOption,
    Column,
    CsvOption,
    JsonOption,
    LimitOption,
    NlOption,
    StartingAfterOption,
    money_column,
    note,
    period_column,
    print_json,
    time_column,
)
from billing_cli.cli.render import Page, after, render_list
from billing_cli.errors import InvalidInput, UsageError

invoice_app = typer.Typer(
    no_args_is_help=True, help="Invoices: preview, month-end close, lifecycle, PDF."
)

ExplainOption = Annotated[bool, typer.Option("--explain", help="Show how each line was computed.")]

# A table shows what is due now (0 once paid or void), beside what was billed and paid; CSV
# keeps Stripe's fields as integer minor units with the currency in its own column.
INVOICE_COLUMNS = [
    Column("id", lambda r: r["id"], ID),
    Column("number", lambda r: r["number"], ID, stack=True),
    Column("customer", lambda r: r["customer"], ID),
    Column("status", lambda r: r["status"], stack=True),
    period_column("period", "period_start", "period_end"),
    Column("billing_reason", lambda r: r["billing_reason"], stack=True),
    time_column("period_start", "period_start", where="csv"),
    time_column("period_end", "period_end", where="csv"),
    Column("currency", lambda r: r["currency"], where="csv"),
    money_column("total", "total"),
    money_column("amount_due", "amount_due", where="csv"),
    money_column("paid", "amount_paid", stack=True, where="table"),
    money_column("amount_paid", "amount_paid", where="csv"),
    money_column("due now", "amount_remaining", stack=True, where="table"),
    money_column("amount_remaining", "amount_remaining", where="csv"),
]


def _parties(c) -> tuple[dict, Any, dict]:  # noqa: ANN001 - Context (imported lazily)
    """Every customer, the seller's account and each price's product, read once for a list."""
    from billing_cli.api.account import get_account
    from billing_cli.api.catalog import list_customers
    from billing_cli.api.prices import products_by_price

    return {cus.id: cus for cus in list_customers(c)}, get_account(c), products_by_price(c)


def _invoice_data(  # noqa: ANN001 - Context, Invoice (imported lazily)
    c, inv, parties: tuple[dict, Any, dict] | None = None, *, explain: bool = False
) -> dict:
    """The one invoice object: `show`, `list`, `run` and the lifecycle commands print the same
    dict for the same invoice (customer name, email and seller account included), as the HTTP
    API does; each line's computation only when asked for."""
    from billing_cli.present.invoice_json import invoice_dict

    if parties is None:
        from billing_cli.api.account import get_account
        from billing_cli.api.catalog import get_customer
        from billing_cli.api.prices import products_by_price

        customer = get_customer(c, inv.customer)
        parties = ({customer.id: customer}, get_account(c), products_by_price(c))
    customers, account, products = parties
    return invoice_dict(
        inv, customers.get(inv.customer), account, products=products, explain=explain
    )


def _grants_of(c, data: dict) -> dict[str, dict]:  # noqa: ANN001 - Context
    """The credit grants an invoice's lines name, so the document can show their names."""
    wanted = {
        credit["credit_grant"]
        for line in data["lines"]["data"]
        for credit in line["billing_cli"]["explain"].get("credits") or []
    }
    if not wanted:
        return {}
    from billing_cli.api.credits import list_grants
    from billing_cli.present.credits_json import credit_grant_dict

    states = list_grants(c, customer=data["customer"])
    return {s.grant.id: credit_grant_dict(s) for s in states if s.grant.id in wanted}


def _show(c, inv, *, as_json: bool, explain: bool = False) -> None:  # noqa: ANN001
    if as_json:
        print_json(_invoice_data(c, inv, explain=explain))
        return
    from billing_cli.cli.invoice_render import render_invoice

    # the document shows packages and tiers, which come from each line's computation
    data = _invoice_data(c, inv, explain=True)
    render_invoice(data, explain=explain, grants=_grants_of(c, data))


@invoice_app.command("upcoming")
def invoice_upcoming(
    ctx: typer.Context,
    customer: Annotated[str, typer.Option(help="Customer id.")],
    subscription: Annotated[
        str | None, typer.Option(help="Only this subscription of the customer.")
    ] = None,
    explain: ExplainOption = False,
    as_json: JsonOption = False,
) -> None:
    """Preview the customer's next invoice from the events received so far (writes nothing)."""
    c = context(ctx)
    inv = api.upcoming(c, customer=customer, subscription=subscription)
    _show(c, inv, as_json=as_json, explain=explain)


@invoice_app.command("run")
def invoice_run(
    ctx: typer.Context,
    grace: Annotated[
        str | None,
        typer.Option(help="Wait this long after period end before finalizing [1h, max 72h]."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would happen; write nothing.")
    ] = False,
    pdf_dir: Annotated[
        Path | None,
        typer.Option("--pdf-dir", help="Write <number>.pdf here for each invoice finalized."),
    ] = None,
    einvoice_dir: Annotated[
        Path | None,
        typer.Option("--einvoice-dir", help="Write an e-invoice here for each one finalized."),
    ] = None,
    einvoice_format: Annotated[
        str | None,
        typer.Option("--einvoice-format", help="zugferd or xrechnung (with --einvoice-dir)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Month-end close (cron): draft ended periods, recompute drafts, finalize after grace."""
    c = context(ctx)
    for option, folder in (("--pdf-dir", pdf_dir), ("--einvoice-dir", einvoice_dir)):
        if folder is not None and not folder.is_dir():
            raise InvalidInput(f"{option} {folder} is not a folder", hint="create it first")
    if (einvoice_dir is None) != (einvoice_format is None):
        raise UsageError("--einvoice-dir and --einvoice-format go together")
    if einvoice_format is not None:
        from billing_cli.api.einvoice import check_format

        check_format(einvoice_format)
    result = api.run(c, grace=api.parse_grace(grace), dry_run=dry_run)
    if pdf_dir is not None and not dry_run and result.finalized:
        from billing_cli.api.documents import write_run_pdfs

        written = write_run_pdfs(c, result.finalized, pdf_dir)
        note(f"wrote {len(written)} PDF(s) to {pdf_dir}")
    if einvoice_dir is not None and einvoice_format and not dry_run and result.finalized:
        from billing_cli.api.einvoice import write_run_einvoices

        written = write_run_einvoices(c, result.finalized, einvoice_dir, einvoice_format)
        note(f"wrote {len(written)} e-invoice(s) to {einvoice_dir}")
    parties = _parties(c) if result.invoices else None
    data = []
    for invoice_id, inv in result.invoices.items():
        actions = [
            name
            for name, ids in (
                ("created", result.created),
                ("recomputed", result.recomputed),
                ("finalized", result.finalized),
            )
            if invoice_id in ids
        ]
        data.append({**_invoice_data(c, inv, parties), "_action": "+".join(actions)})
    if dry_run:
        note(
            "dry run: nothing was written; the invoice ids shown are placeholders "
            "(a real run creates invoices with other ids)"
        )
    if as_json:
        # Stripe's list object of the invoices; which were created, recomputed or finalized
        # is said by the id lists beside it.
        extra: dict = {
            "created": result.created,
            "recomputed": result.recomputed,
            "finalized": result.finalized,
        }
        if result.refused:
            extra["refused"] = [
                {"subscription": sub_id, "error": exc.message}
                for sub_id, exc in result.refused.items()
            ]
        render_list(
            [{k: v for k, v in d.items() if k != "_action"} for d in data],
            RUN_COLUMNS,
            as_json=True,
            title="invoice run",
            extra=extra,
        )
    elif data:
        title = "invoice run (dry run: nothing written)" if dry_run else "invoice run"
        render_list(data, RUN_COLUMNS, title=title)
    else:
        what = (
            "nothing invoiced"
            if result.refused
            else ("nothing to do: every ended period is invoiced and no draft is pending")
        )
        note(f"invoice run: {what}")
    if result.refused:
        _report_refused(result.refused)


def _report_refused(refused: dict) -> None:
    """One `error:` line per refused subscription (its invoices were left out), then exit 4:
    everything else was closed, but cron must notice that something was not."""
    for sub_id, exc in refused.items():
        sys.stderr.write(f"error: subscription {sub_id} not invoiced: {one_line(exc.message)}\n")
    hints = {exc.hint for exc in refused.values() if exc.hint}
    for hint in sorted(hints):
        sys.stderr.write(f"hint: {one_line(hint)}\n")
    raise typer.Exit(min(exc.exit_code for exc in refused.values()))


RUN_COLUMNS = [
    Column("action", lambda r: r["_action"]),
    *INVOICE_COLUMNS[:3],
    Column("status", lambda r: r["status"], stack=True),
    period_column("period", "period_start", "period_end"),
    money_column("total", "total"),
]


@invoice_app.command("list")
def invoice_list(
    ctx: typer.Context,
    customer: Annotated[str | None, typer.Option(help="Only this customer's.")] = None,
    status: Annotated[
        str | None, typer.Option(help="draft, open, paid, void or uncollectible.")
    ] = None,
    limit: LimitOption = None,
    starting_after: StartingAfterOption = None,
    all_: AllOption = False,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    as_nl: NlOption = False,
) -> None:
    """List invoices, newest first (by created; invoices created together: highest number
    first)."""
    page = Page.of(limit, all_, starting_after)
    c = context(ctx)
    invoices = api.list_invoices(c, customer=customer, status=status)
    parties = _parties(c) if invoices else None
    data = [_invoice_data(c, i, parties) for i in invoices]
    render_list(
        after(data, starting_after, "invoice"),
        INVOICE_COLUMNS,
        as_json=as_json,
        as_csv=as_csv,
        as_nl=as_nl,
        title="invoices",
        page=page,
    )


@invoice_app.command("show")
def invoice_show(
    ctx: typer.Context,
    invoice_id: Annotated[str, typer.Argument(help="Invoice id (in_…) or number.")],
    explain: ExplainOption = False,
    as_json: JsonOption = False,
) -> None:
    """Show one invoice as a document."""
    c = context(ctx)
    _show(c, api.get_invoice(c, invoice_id), as_json=as_json, explain=explain)


def _transition(action: Callable, doc: str, name: str) -> None:
    def command(ctx: typer.Context, invoice_id: IdArg, as_json: JsonOption = False) -> None:
        c = context(ctx)
        _show(c, action(c, invoice_id), as_json=as_json)

    command.__doc__ = doc
    invoice_app.command(name)(command)


_transition(api.finalize, "Finalize a draft now: recompute it, number it, status open.", "finalize")
_transition(api.pay, "Record an out-of-band payment: open/uncollectible → paid.", "pay")
_transition(api.void, "Void an open or uncollectible invoice.", "void")
_transition(api.mark_uncollectible, "Mark an open invoice uncollectible.", "mark-uncollectible")


@invoice_app.command("delete")
def invoice_delete(ctx: typer.Context, invoice_id: IdArg, as_json: JsonOption = False) -> None:
    """Delete a draft (the next run recreates it)."""
    from billing_cli.cli.render import render_one
    from billing_cli.present.invoice_json import deleted_dict

    deleted = deleted_dict(api.delete(context(ctx), invoice_id))
    render_one(deleted, as_json=as_json, title="invoice deleted")
