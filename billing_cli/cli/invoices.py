"""`billing invoice …`: preview, month-end close, lifecycle, listing (SPEC 4.3–4.6)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from operator import itemgetter
from pathlib import Path
from typing import Annotated

import typer

from billing_cli.api import invoices as api
from billing_cli.cli import context, one_line
from billing_cli.cli.catalog import IdArg
from billing_cli.cli.output import Column, CsvOption, JsonOption, note, print_json, print_table
from billing_cli.cli.output import render_list as _render_list
from billing_cli.clock import format_time
from billing_cli.errors import InvalidInput, UsageError
from billing_cli.present.amounts import format_amount

invoice_app = typer.Typer(
    no_args_is_help=True, help="Invoices: preview, month-end close, lifecycle, PDF."
)

ExplainOption = Annotated[bool, typer.Option("--explain", help="Show how each line was computed.")]


def _money(key: str) -> Callable[[dict], str]:
    return lambda r: format_amount(r[key], r["currency"])


INVOICE_COLUMNS = [
    Column("id", lambda r: r["id"]),
    Column("number", lambda r: r["number"]),
    Column("customer", lambda r: r["customer"]),
    Column("status", lambda r: r["status"]),
    Column("billing_reason", lambda r: r["billing_reason"]),
    Column("period_start", lambda r: format_time(r["period_start"])),
    Column("period_end", lambda r: format_time(r["period_end"])),
    Column("total", _money("total"), right=True),
    Column("amount_due", _money("amount_due"), right=True),
]


def _invoice_data(c, inv) -> dict:  # noqa: ANN001 - Context, Invoice (imported lazily)
    from billing_cli.api.account import get_account
    from billing_cli.api.catalog import get_customer
    from billing_cli.present.invoice_json import invoice_dict

    return invoice_dict(inv, get_customer(c, inv.customer), get_account(c))


def _show(c, inv, *, as_json: bool, explain: bool = False) -> None:  # noqa: ANN001
    data = _invoice_data(c, inv)
    if as_json:
        print_json(data)
        return
    from billing_cli.cli.invoice_render import render_invoice

    render_invoice(data, explain=explain)


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
    if as_json:
        data: dict = {
            "created": result.created,
            "recomputed": result.recomputed,
            "finalized": result.finalized,
        }
        if result.refused:
            data["refused"] = [
                {"subscription": sub_id, "error": exc.message}
                for sub_id, exc in result.refused.items()
            ]
        print_json(data)
    else:
        _print_run_table(result, dry_run=dry_run)
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


def _print_run_table(result, *, dry_run: bool) -> None:  # noqa: ANN001 - api.RunResult
    rows = []
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
        rows.append(
            {
                "action": "+".join(actions),
                "id": invoice_id,
                "number": inv.number,
                "customer": inv.customer,
                "status": inv.status,
                "period": f"{format_time(inv.period_start)} – {format_time(inv.period_end)}",
                "total": format_amount(inv.total, inv.currency),
            }
        )
    title = "invoice run (dry run: nothing written)" if dry_run else "invoice run"
    if not rows:
        sys_note = "nothing to do: every ended period is invoiced and no draft is pending"
        if result.refused:
            sys_note = "nothing invoiced"
        note(f"{title}: {sys_note}")
        return
    columns = [Column(k, itemgetter(k), right=(k == "total")) for k in rows[0]]
    print_table(columns, rows, title=title)


@invoice_app.command("list")
def invoice_list(
    ctx: typer.Context,
    customer: Annotated[str | None, typer.Option(help="Only this customer's.")] = None,
    status: Annotated[
        str | None, typer.Option(help="draft, open, paid, void or uncollectible.")
    ] = None,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
) -> None:
    """List invoices, newest first."""
    c = context(ctx)
    from billing_cli.present.invoice_json import invoice_dict

    data = [invoice_dict(i) for i in api.list_invoices(c, customer=customer, status=status)]
    _render_list(data, INVOICE_COLUMNS, as_json=as_json, as_csv=as_csv, title="invoices")


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
_transition(api.delete, "Delete a draft (the next run recreates it).", "delete")
