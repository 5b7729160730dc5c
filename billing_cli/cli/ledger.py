"""`billing ledger …`: integrity check, backups, SQL reports and copies of the ledger."""

from __future__ import annotations

from operator import itemgetter
from pathlib import Path
from typing import Annotated

import typer

from billing_cli.cli import context
from billing_cli.cli.output import (
    ID,
    TEXT,
    Column,
    CsvOption,
    JsonOption,
    note,
    print_json,
    print_table,
)

ledger_app = typer.Typer(
    no_args_is_help=True,
    help="The ledger: check it, back it up, query it with SQL, copy it between backends.",
)

NlOption = Annotated[bool, typer.Option("--nl", help="Newline-delimited JSON, one row a line.")]


def _emit(report, *, as_json: bool, as_csv: bool, nl: bool) -> None:  # noqa: ANN001 - api.Report
    """Rows as sqlite-utils' JSON (or NDJSON), CSV, or a table for people."""
    import sys

    if sum((as_json, as_csv, nl)) > 1:
        from billing_cli.errors import UsageError

        raise UsageError("--json, --csv and --nl cannot be combined")
    if as_json or nl:
        from billing_cli.api.reports import json_lines

        for line in json_lines(report, nl=nl):
            sys.stdout.write(line + "\n")
    elif as_csv:
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(report.headers)
        writer.writerows(report.rows)
    else:
        columns = [Column(h, itemgetter(i)) for i, h in enumerate(report.headers)]
        print_table(columns, [dict(enumerate(row)) for row in report.rows])


@ledger_app.command("query")
def ledger_query(
    ctx: typer.Context,
    sql: Annotated[
        str, typer.Argument(help='A SELECT, e.g. "SELECT number, total FROM invoices".')
    ],
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    nl: NlOption = False,
) -> None:
    """Run a read-only SQL query on the ledger (docs/ledger.md describes the tables).

    The file is opened read-only: statements that would write are refused (exit 4).
    SQLite ledgers only: query a PostgreSQL ledger with psql (a read-only role), or
    `ledger copy` it into an SQLite file and query that.
    """
    from billing_cli.api import reports

    with reports.query(context(ctx), sql) as report:
        _emit(report, as_json=as_json, as_csv=as_csv, nl=nl)


@ledger_app.command("export")
def ledger_export(
    ctx: typer.Context,
    table: Annotated[str, typer.Argument(help="A table, e.g. invoices, invoice_lines, events.")],
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    nl: NlOption = False,
) -> None:
    """Every row of one ledger table, in the order it was written (read-only; SQLite only:
    `ledger copy` a PostgreSQL ledger into an SQLite file first)."""
    from billing_cli.api import reports

    with reports.export(context(ctx), table) as report:
        _emit(report, as_json=as_json, as_csv=as_csv, nl=nl)


def _say_removed(removed: list[tuple[Path, int]]) -> None:
    """Temporary files of killed `ledger backup`s removed on the way (on stderr)."""
    if removed:
        total = sum(size for _, size in removed)
        folders = sorted({str(path.parent) for path, _ in removed})
        note(
            f"removed {len(removed)} temporary file(s), {total} bytes, left by interrupted"
            f" `ledger backup`s in {', '.join(folders)}"
        )


def _removed_json(removed: list[tuple[Path, int]]) -> list[dict[str, object]]:
    return [{"path": str(path), "bytes": size} for path, size in removed]


@ledger_app.command("check")
def ledger_check(
    ctx: typer.Context,
    print_head: Annotated[
        bool,
        typer.Option(
            "--print-head",
            help="When the check passes, print the ledger's head (one line) to keep elsewhere.",
        ),
    ] = False,
    expect_head: Annotated[
        str | None,
        typer.Option(
            "--expect-head",
            metavar="HEAD",
            help="A head printed earlier: the ledger must still be exactly there.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Walk the hash chains (events, adjustments, invoices, catalog, credits) and compare the
    schema with billing's own; recompute every finalized invoice from events and prices and its
    billing credits from the grants; check numbering, balances and references. Exit 0 when
    everything holds, 6 otherwise (the first row that does not match is named). --print-head /
    --expect-head HEAD anchor the ledger outside itself, which reveals rows cut off the end or
    appended behind billing's back."""
    from billing_cli.api.ledger_check import check_ledger
    from billing_cli.errors import LedgerError

    report = check_ledger(context(ctx), expect_head=expect_head)
    _say_removed(report.removed_stale)
    problems = [{"subject": p.subject, "problem": p.message} for p in report.problems]
    if as_json:
        print_json(
            {
                "object": "ledger_check",
                "ok": report.ok,
                "invoices_checked": report.invoices,
                "lines_checked": report.lines,
                "chains": report.chains,
                "head": report.head if report.ok else None,
                "problems": problems,
                "removed_stale_files": _removed_json(report.removed_stale),
            }
        )
    elif problems:
        columns = [
            Column("subject", lambda r: r["subject"], ID),
            Column("problem", lambda r: r["problem"], TEXT),
        ]
        print_table(columns, problems, title="ledger check: problems")
    else:
        summary = (
            f"ledger check: ok ({report.invoices} finalized invoice(s), {report.lines} line(s) "
            "recomputed from events and prices; event, adjustment, invoice, catalog and credit "
            "chains, billing credits, schema and roll-ups verified"
            + ("; the ledger is at the expected head" if expect_head else "")
            + ")"
        )
        if print_head:  # stdout holds the head alone, for `head=$(billing ledger check …)`
            note(summary)
            typer.echo(report.head)
        else:
            typer.echo(summary)
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
    commands write. An existing non-empty PATH is never overwritten (exit 5). A PostgreSQL
    ledger is backed up with pg_dump (this command says how), or `ledger copy` to a file."""
    from billing_cli.api.ledger import backup_ledger

    c = context(ctx)
    copy = backup_ledger(c, path)
    _say_removed(list(copy.removed_stale))
    if as_json:
        print_json(
            {
                "object": "ledger_backup",
                "source": str(c.db),
                "path": str(copy.path),
                "bytes": copy.bytes,
                "schema_version": copy.schema_version,
                "counts": copy.counts,
                "removed_stale_files": _removed_json(list(copy.removed_stale)),
            }
        )
        return
    rows = ", ".join(f"{table}: {n}" for table, n in copy.counts.items() if n)
    typer.echo(f"backed up {c.db} to {copy.path} ({copy.bytes} bytes; {rows or 'empty'})")


@ledger_app.command("copy")
def ledger_copy(
    ctx: typer.Context,
    source: Annotated[
        str, typer.Argument(metavar="SRC", help="An SQLite path or postgresql:// URI.")
    ],
    target: Annotated[
        str,
        typer.Argument(metavar="DST", help="A new SQLite path or an empty PostgreSQL database."),
    ],
    as_json: JsonOption = False,
) -> None:
    """Copy a whole ledger between backends (SQLite to PostgreSQL and back): every row with its
    ids and hashes, in one transaction; then `ledger check` on the copy and every invoice
    compared with the source's. A target that holds rows is refused (exit 5)."""
    from billing_cli.api.ledger import copy_ledger

    done = copy_ledger(context(ctx), source, target)
    if as_json:
        print_json(
            {
                "object": "ledger_copy",
                "source": done.source,
                "target": done.target,
                "counts": done.counts,
                "ledger_check": "ok",
                "invoices_identical": done.invoices_compared,
            }
        )
        return
    rows = ", ".join(f"{table}: {n}" for table, n in done.counts.items() if n)
    typer.echo(
        f"copied {done.source} to {done.target} ({rows or 'empty'}); ledger check on the copy: "
        f"ok; {done.invoices_compared} invoice(s) identical"
    )
