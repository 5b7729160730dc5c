"""Rendering for people (Rich tables) and for pipes (JSON, CSV, plain untruncated tables).

Off a terminal a table must never cut an id or an amount: a script that greps the output or a
person who pastes it into a ticket needs the whole value, so the console is made wide enough and
cells never wrap or ellipsize.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from billing_cli.errors import UsageError

JsonOption = Annotated[bool, typer.Option("--json", help="Print Stripe-shaped JSON on stdout.")]
CsvOption = Annotated[bool, typer.Option("--csv", help="Print CSV (header + one row per object).")]


@dataclass(frozen=True)
class Column:
    header: str
    get: Callable[[dict], Any]
    right: bool = False


def check_formats(as_json: bool, as_csv: bool) -> None:
    if as_json and as_csv:
        raise UsageError("--json and --csv cannot be used together", hint="choose one format")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


def console(stderr: bool = False):  # noqa: ANN201 - rich is imported lazily (start-up time)
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(file=stream, stderr=stderr)
    return Console(
        file=stream, width=100_000, no_color=True, highlight=False, emoji=False, soft_wrap=True
    )


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def print_csv(columns: Sequence[Column], rows: Iterable[dict]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow([c.header for c in columns])
    for row in rows:
        writer.writerow([_cell(c.get(row)) for c in columns])


def print_table(columns: Sequence[Column], rows: Iterable[dict], title: str | None = None) -> None:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    out = console()
    tty = sys.stdout.isatty()
    # Text, not str: a name like "[/x]" or ":smile:" is data, never Rich markup or an emoji code.
    table = Table(
        title=None if title is None else Text(title),
        box=box.SIMPLE_HEAD if tty else box.ASCII2,
        show_edge=tty,
    )
    for c in columns:
        table.add_column(
            Text(c.header),
            justify="right" if c.right else "left",
            no_wrap=True,
            overflow="fold" if tty else "ignore",
        )
    for row in rows:
        table.add_row(*(Text(_cell(c.get(row))) for c in columns), end_section=False)
    out.print(table)


def render_list(
    data: list[dict], columns: Sequence[Column], *, as_json: bool, as_csv: bool, title: str
) -> None:
    check_formats(as_json, as_csv)
    if as_json:
        print_json({"object": "list", "data": data, "has_more": False, "url": None})
    elif as_csv:
        print_csv(columns, data)
    else:
        print_table(columns, data, title=title)


# Unix-seconds fields that a table shows as ISO 8601 (JSON and CSV keep the integers).
TIME_FIELDS = frozenset(
    {
        "created", "updated", "start_date", "billing_cycle_anchor", "trial_start", "trial_end",
        "canceled_at", "ended_at", "current_period_start", "current_period_end",
        "period_start", "period_end", "finalized_at", "paid_at", "voided_at",
        "marked_uncollectible_at", "timestamp",
    }
)  # fmt: skip


def _shown(key: str, value: Any) -> str:
    if key in TIME_FIELDS and isinstance(value, int) and not isinstance(value, bool):
        from billing_cli.clock import format_time

        return format_time(value)
    return _cell(value)


def render_one(data: dict, *, as_json: bool, title: str) -> None:
    """One object: JSON, or a field/value table followed by a table per embedded list."""
    if as_json:
        print_json(data)
        return
    columns = [Column("field", lambda r: r["field"]), Column("value", lambda r: r["value"])]
    lists = {k: v["data"] for k, v in data.items() if isinstance(v, dict) and "data" in v}
    rows = [{"field": k, "value": _shown(k, v)} for k, v in data.items() if k not in lists]
    print_table(columns, rows, title=title)
    for key, items in lists.items():
        if items:
            print_table(_flat_columns(items[0]), items, title=key)


def _flat_columns(sample: dict) -> list[Column]:
    """Scalar fields as they are; an embedded object by its id (a price inside an item)."""
    columns = []
    for key, value in sample.items():
        if isinstance(value, dict) and "id" in value:
            columns.append(Column(key, _embedded_id(key)))
        elif not isinstance(value, dict | list) and key != "object":
            columns.append(Column(key, _scalar(key)))
    return columns


def _embedded_id(key: str) -> Callable[[dict[str, Any]], Any]:
    return lambda row: row[key]["id"]


def _scalar(key: str) -> Callable[[dict[str, Any]], Any]:
    return lambda row: _shown(key, row[key])


def note(message: str) -> None:
    """A human remark (duplicate accepted, usage discarded…): stderr, so stdout stays data."""
    sys.stderr.write(message + "\n")
