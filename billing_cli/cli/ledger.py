"""`billing ledger …`: integrity check and consistent backups of the ledger file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from billing_cli.cli import context
from billing_cli.cli.output import Column, JsonOption, print_json, print_table

ledger_app = typer.Typer(no_args_is_help=True, help="The ledger file: check it, back it up.")


@ledger_app.command("check")
def ledger_check(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Walk the hash chains (events, adjustments, invoices), recompute every finalized invoice
    from events and prices; check numbering, balances and references. Exit 0 when everything
    holds, 6 otherwise (the first row that does not match is named)."""
    from billing_cli.api.ledger_check import check_ledger
    from billing_cli.errors import LedgerError

    report = check_ledger(context(ctx))
    problems = [{"subject": p.subject, "problem": p.message} for p in report.problems]
    if as_json:
        print_json(
            {
                "object": "ledger_check",
                "ok": report.ok,
                "invoices_checked": report.invoices,
                "lines_checked": report.lines,
                "chains": report.chains,
                "problems": problems,
            }
        )
    elif problems:
        columns = [
            Column("subject", lambda r: r["subject"]),
            Column("problem", lambda r: r["problem"]),
        ]
        print_table(columns, problems, title="ledger check: problems")
    else:
        typer.echo(
            f"ledger check: ok ({report.invoices} finalized invoice(s), {report.lines} line(s) "
            "recomputed from events and prices; event, adjustment and invoice chains and "
            "roll-ups verified)"
        )
    if problems:
        first = report.problems[0]
        raise LedgerError(
            f"ledger check found {len(problems)} problem(s); the first: {first.subject}: "
            f"{first.message}",
            hint="restore from a backup, or investigate the rows named above",
        )


@ledger_app.command("backup")
def ledger_backup(
    ctx: typer.Context,
    path: Annotated[
        Path, typer.Argument(metavar="PATH", help="Where to write the copy (must not exist).")
    ],
    as_json: JsonOption = False,
) -> None:
    """Write a consistent copy of the ledger (SQLite online backup), safe while other billing
    commands write. An existing non-empty PATH is never overwritten (exit 5)."""
    from billing_cli.api.ledger import backup_ledger

    c = context(ctx)
    copy = backup_ledger(c, path)
    if as_json:
        print_json(
            {
                "object": "ledger_backup",
                "source": str(c.db),
                "path": str(copy.path),
                "bytes": copy.bytes,
                "schema_version": copy.schema_version,
                "counts": copy.counts,
            }
        )
        return
    rows = ", ".join(f"{table}: {n}" for table, n in copy.counts.items() if n)
    typer.echo(f"backed up {c.db} to {copy.path} ({copy.bytes} bytes; {rows or 'empty'})")
