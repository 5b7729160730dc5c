"""Rendering for people (Rich tables) and for pipes (JSON, NDJSON, CSV, plain untruncated tables).

Three promises hold at every terminal width (issue 16):
- No id, amount, number or time is ever cut, folded or dropped. Free text (names, descriptions)
  wraps. When the table cannot fit, secondary columns stack into one cell, and when even that
  does not fit, each row becomes a block of `field  value` lines (the record layout) that the
  terminal wraps instead of Rich, so every value stays whole in the output.
- Stored text is data, never markup (Rich `Text`, never a markup string) and never a terminal
  control sequence: unprintable characters (ESC of an ANSI escape, a newline in a name) are
  shown escaped.
- Off a terminal a table never wraps or cuts anything, so a script that greps it gets whole
  values; lists stream row by row in `--json`, `--csv` and `--nl` (`cli.render`).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from billing_cli.errors import UsageError

JsonOption = Annotated[bool, typer.Option("--json", help="Print Stripe-shaped JSON on stdout.")]
CsvOption = Annotated[
    bool, typer.Option("--csv", help="Print CSV: a header, then one row per object.")
]
NlOption = Annotated[
    bool, typer.Option("--nl", help="Print one JSON object per line (NDJSON), streamed.")
]
LimitOption = Annotated[
    int | None,
    typer.Option(
        "--limit",
        min=1,
        help="At most this many objects (a page, like Stripe's lists) [default: 100].",
    ),
]
AllOption = Annotated[bool, typer.Option("--all", help="Every object, streamed (no page limit).")]
StartingAfterOption = Annotated[
    str | None,
    typer.Option(
        "--starting-after",
        metavar="ID",
        help="Start after this object (the last one of the previous page).",
    ),
]

DEFAULT_LIMIT = 100

# Column kinds. Every kind but "text" is shown whole or not at all (never folded or cut).
TEXT = "text"  # free text a person typed: names, descriptions, payloads (wraps)
ID = "id"
AMOUNT = "amount"  # money, right-aligned
NUMBER = "number"  # counts, quantities, right-aligned
TIME = "time"
CODE = "code"  # short enumerations: status, currency, interval
_RIGHT = frozenset({AMOUNT, NUMBER})
_MIN_TEXT_WIDTH = 10


@dataclass(frozen=True)
class Column:
    """One column: how a table shows it (`get`), and how CSV writes it (`csv`, default the
    same). A getter may return a tuple of lines (a period's start and end, one under the
    other). `where` restricts a column to tables or to CSV (a money column's currency).
    `stack`: when the table is too wide, this column goes under the previous one."""

    header: str
    get: Callable[[dict], Any]
    kind: str = CODE
    csv: Callable[[dict], Any] | None = None
    where: str = "both"  # "both" | "table" | "csv"
    stack: bool = False


def money_column(header: str, key: str, *, stack: bool = False, where: str = "both") -> Column:
    """An amount: `2.12 USD` in a table; in CSV the integer minor units (212), which a
    spreadsheet can sum, with the currency in its own `currency` column (Stripe's JSON)."""
    from billing_cli.present.amounts import format_amount

    return Column(
        header,
        lambda r: format_amount(r[key], r["currency"]),
        AMOUNT,
        csv=lambda r: r[key],
        where=where,
        stack=stack,
    )


def time_column(header: str, key: str, *, stack: bool = False, where: str = "both") -> Column:
    """A Unix-seconds field shown as ISO 8601 (the same in CSV: spreadsheets parse it)."""
    return Column(header, lambda r: iso_time(r.get(key)), TIME, stack=stack, where=where)


def period_column(header: str, start: str, end: str) -> Column:
    """A period as two stacked lines in a table; two ISO columns in CSV."""
    return Column(header, lambda r: (iso_time(r[start]), iso_time(r[end])), TIME, where="table")


def iso_time(value: Any) -> str:
    """Unix seconds as a table shows them (ISO 8601, UTC); JSON and CSV keep the integer."""
    if value is None:
        return ""
    from billing_cli.clock import format_time

    return format_time(value)


def check_formats(*flags: tuple[str, bool]) -> None:
    """At most one machine format: `--json` with `--csv` is a usage error (exit 2)."""
    chosen = [name for name, on in flags if on]
    if len(chosen) > 1:
        raise UsageError(f"{' and '.join(chosen)} cannot be used together", hint="choose one")


def cell_text(value: Any) -> str:
    """A value as one cell of a table or a CSV row: JSON's spelling of booleans and lists."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def literal(text: str) -> str:
    """Stored text as the characters it holds: an ANSI escape, a carriage return or a newline
    inside a name is shown escaped (`\\x1b[31m`), never sent to the terminal."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def _lines(value: Any) -> list[str]:
    if isinstance(value, tuple):
        return [literal(cell_text(v)) for v in value]
    return [literal(cell_text(value))]


def console(stderr: bool = False):  # noqa: ANN201 - rich is imported lazily (start-up time)
    """A terminal console when Rich sees a terminal (a tty, or TTY_COMPATIBLE=1 / FORCE_COLOR,
    with COLUMNS for the width); otherwise a console that never wraps, cuts or colours."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    out = Console(file=stream, stderr=stderr, highlight=False, emoji=False, markup=False)
    if out.is_terminal:
        return out
    return Console(
        file=stream,
        width=100_000,
        no_color=True,
        highlight=False,
        emoji=False,
        markup=False,
        soft_wrap=True,
    )


def print_json(data: Any) -> None:
    from billing_cli.present.json_text import dumps

    sys.stdout.write(dumps(data, indent=2) + "\n")


# -- tables ---------------------------------------------------------------------------------------


def _groups(columns: Sequence[Column], stacked: bool) -> list[list[Column]]:
    groups: list[list[Column]] = []
    for c in columns:
        if stacked and c.stack and groups:
            groups[-1].append(c)
        else:
            groups.append([c])
    return groups


def _group_cells(group: list[Column], row: dict) -> list[str]:
    return [line for c in group for line in _lines(c.get(row))]


def _widths(groups: list[list[Column]], rows: list[dict], width: int) -> list[int | None] | None:
    """Column widths that fit `width` with every whole cell whole, or None when none do."""
    from rich.cells import cell_len

    natural, minimum = [], []
    for group in groups:
        lines = [c.header for c in group]
        lines += [line for row in rows for line in _group_cells(group, row)]
        longest = max((cell_len(line) for line in lines), default=0)
        natural.append(longest)
        text = any(c.kind == TEXT for c in group)
        minimum.append(min(longest, _MIN_TEXT_WIDTH) if text else longest)
    overhead = 3 * len(groups) - 1  # one space of padding each side, one between columns
    if sum(minimum) + overhead > width:
        return None
    if sum(natural) + overhead <= width:
        return [None] * len(groups)
    spare = width - overhead - sum(minimum)
    want = [n - m for n, m in zip(natural, minimum, strict=True)]
    total_want = sum(want)
    return [m + (spare * w // total_want) for m, w in zip(minimum, want, strict=True)]


def is_terminal(stream: Any) -> bool:
    """Rich's `Console.is_terminal` for `stream` (TTY_COMPATIBLE, FORCE_COLOR, else isatty),
    without importing Rich: off a terminal, tables are written by `plain_table`."""
    tty = os.environ.get("TTY_COMPATIBLE", "")
    if tty in ("0", "1"):
        return tty == "1"
    force = os.environ.get("FORCE_COLOR")
    if force is not None:
        return force != ""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def print_table(columns: Sequence[Column], rows: Iterable[dict], title: str | None = None) -> None:
    """A table that fits the terminal, stacked if needed, else one block per row; off a
    terminal, the whole table in plain ASCII (`plain_table`)."""
    columns = [c for c in columns if c.where != "csv"]
    rows = list(rows)
    if not is_terminal(sys.stdout):
        sys.stdout.write(plain_table(columns, rows, title))
        return
    from rich import box
    from rich.table import Table
    from rich.text import Text

    out = console()
    groups = _groups(columns, stacked=False)
    widths = _widths(groups, rows, out.width)
    if widths is None and any(c.stack for c in columns):
        groups = _groups(columns, stacked=True)
        widths = _widths(groups, rows, out.width)
    if widths is None:
        print_records(columns, rows, title=title)
        return
    table = Table(
        title=None if title is None else Text(literal(title)),
        box=box.SIMPLE_HEAD,
        show_edge=False,
    )
    for group, width in zip(groups, widths, strict=True):
        text = any(c.kind == TEXT for c in group)
        table.add_column(
            Text("\n".join(c.header for c in group)),
            justify="right" if group[0].kind in _RIGHT else "left",
            no_wrap=not text,
            overflow="fold" if text else "ignore",
            width=width,
        )
    for row in rows:
        table.add_row(*(Text("\n".join(_group_cells(g, row))) for g in groups))
    out.print(table)


def plain_table(columns: Sequence[Column], rows: list[dict], title: str | None = None) -> str:
    """The table as Rich printed it off a terminal before (box ASCII2, every column as wide as
    its widest line and flush left, nothing wrapped or cut; tests/test_plain_tables.py compares
    the two), without importing Rich: a listing piped into grep starts sooner (issue 10.8)."""
    heads = [c.header.split("\n") for c in columns]
    cells = [[_lines(c.get(row)) or [""] for c in columns] for row in rows]
    widths = [
        max(_cell_len(line) for lines in [head, *(r[i] for r in cells)] for line in lines)
        for i, head in enumerate(heads)
    ]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def block(row: list[list[str]]) -> list[str]:
        return [
            "|" + "|".join(
                f" {line}{' ' * (width - _cell_len(line))} "
                for line, width in zip(
                    (lines[n] if n < len(lines) else "" for lines in row), widths, strict=True
                )
            ) + "|"
            for n in range(max(len(lines) for lines in row))
        ]  # fmt: skip

    lines = [literal(title)] if title else []
    lines += [rule, *block(heads), rule]
    for row in cells:
        lines += block(row)
    lines.append(rule)
    return "\n".join(lines) + "\n"


def _cell_len(text: str) -> int:
    """Terminal columns `text` takes, as Rich counts them (Rich is needed only for non-ASCII)."""
    if text.isascii():
        return len(text)
    from rich.cells import cell_len

    return cell_len(text)


def print_records(columns: Sequence[Column], rows: Iterable[dict], title: str | None) -> None:
    """Each row as `field  value` lines. Rich does not wrap them (soft wrap): the terminal
    does, so a value longer than the screen is still one whole string in the output."""
    from rich.text import Text

    out = console()
    columns = [c for c in columns if c.where != "csv"]
    label = max((len(c.header) for c in columns), default=0)
    if title is not None:
        out.print(Text(literal(title), style="bold"), soft_wrap=True)
    for index, row in enumerate(rows):
        if index or title is not None:
            out.print(soft_wrap=True)
        for c in columns:
            value = " – ".join(line for line in _lines(c.get(row)) if line)
            out.print(Text(f"{c.header:<{label}}  {value}".rstrip()), soft_wrap=True)


def note(message: str) -> None:
    """A human remark (duplicate accepted, usage discarded…): stderr, so stdout stays data."""
    sys.stderr.write(literal(message) + "\n")
