"""Lists and single objects in the format a command was asked for: Stripe's list object
streamed (`--json`), CSV, NDJSON or a table; one object as JSON or field/value tables. Lists
are streamed: the first row is out before the last is read (a list may hold millions)."""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from billing_cli.cli.output import (
    DEFAULT_LIMIT,
    ID,
    Column,
    cell_text,
    check_formats,
    iso_time,
    note,
    print_json,
    print_table,
)
from billing_cli.errors import NotFound, UsageError


@dataclass(frozen=True)
class Page:
    """What a list command asked for: a page size (None: all) and where to start."""

    limit: int | None
    starting_after: str | None

    @classmethod
    def of(cls, limit: int | None, all_: bool, starting_after: str | None) -> Page:
        if all_ and limit is not None:
            raise UsageError("--all and --limit cannot be used together", hint="choose one")
        return cls(None if all_ else (limit or DEFAULT_LIMIT), starting_after)


def after(items: list[dict], starting_after: str | None, what: str, key: str = "id") -> list[dict]:
    """The objects after `starting_after` in list order (Stripe's cursor); an id that is not
    in the list is not found (exit 3) rather than an empty page."""
    if starting_after is None:
        return items
    for index, item in enumerate(items):
        if item[key] == starting_after:
            return items[index + 1 :]
    raise NotFound(
        f"--starting-after {starting_after!r}: no {what} with that id in this list",
        hint="give the id of the last object of the previous page",
    )


class _Paged:
    """The first `limit` items of a stream, remembering whether one more existed."""

    def __init__(self, items: Iterable[dict], limit: int | None) -> None:
        self.items = iter(items)
        self.limit = limit
        self.has_more = False
        self.last: dict | None = None

    def __iter__(self) -> Iterator[dict]:
        for count, item in enumerate(self.items):
            if self.limit is not None and count == self.limit:
                self.has_more = True
                return
            self.last = item
            yield item


def render_list(
    data: Iterable[dict],
    columns: Sequence[Column],
    *,
    as_json: bool = False,
    as_csv: bool = False,
    as_nl: bool = False,
    title: str,
    page: Page | None = None,
    url: str | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """A list in the chosen format, streamed: the first row is out before the last is read.
    `extra` adds fields to the JSON list object after Stripe's own."""
    check_formats(("--json", as_json), ("--csv", as_csv), ("--nl", as_nl))
    paged = _Paged(data, page.limit if page else None)
    if as_json:
        _stream_json(paged, url, extra or {})
    elif as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        shown = [c for c in columns if c.where != "table"]
        writer.writerow([c.header for c in shown])
        for count, row in enumerate(paged):
            writer.writerow([cell_text((c.csv or c.get)(row)) for c in shown])
            if count == 0:
                sys.stdout.flush()
    elif as_nl:
        from billing_cli.present.json_text import dumps

        for count, row in enumerate(paged):
            sys.stdout.write(dumps(row) + "\n")
            if count == 0:
                sys.stdout.flush()
    else:
        print_table(columns, paged, title=title)
    if paged.has_more and not as_json and paged.last is not None:
        key = paged.last.get("id") or paged.last.get("identifier")
        note(
            f"showing the first {paged.limit}; more follow: add --starting-after {key} "
            "for the next page, or --all"
        )


def _stream_json(paged: _Paged, url: str | None, extra: dict[str, Any]) -> None:
    """Stripe's list object, written one element at a time (a list may hold millions)."""
    from billing_cli.present.json_text import dumps

    write = sys.stdout.write
    write('{\n  "object": "list",\n  "data": [')
    for count, item in enumerate(paged):
        body = dumps(item, indent=2).replace("\n", "\n    ")
        write(("," if count else "") + "\n    " + body)
        if count == 0:
            sys.stdout.flush()
    tail = {"has_more": paged.has_more, "url": url, **extra}
    write("\n  ]" if paged.last is not None else "]")
    for key, value in tail.items():
        write(f',\n  "{key}": ' + dumps(value, indent=2))
    write("\n}\n")


# Unix-seconds fields that a table shows as ISO 8601 (JSON and CSV keep the integers).
TIME_FIELDS = frozenset(
    {
        "created", "updated", "start_date", "billing_cycle_anchor", "trial_start", "trial_end",
        "canceled_at", "ended_at", "current_period_start", "current_period_end",
        "period_start", "period_end", "finalized_at", "paid_at", "voided_at",
        "marked_uncollectible_at", "timestamp", "cancel_at",
    }
)  # fmt: skip


def _shown(key: str, value: Any) -> str:
    if key in TIME_FIELDS and isinstance(value, int) and not isinstance(value, bool):
        return iso_time(value)
    return cell_text(value)


def render_one(data: dict, *, as_json: bool, title: str) -> None:
    """One object: JSON, or a field/value table followed by a table per embedded list."""
    if as_json:
        print_json(data)
        return
    columns = [Column("field", lambda r: r["field"]), Column("value", lambda r: r["value"])]
    lists = {k: v["data"] for k, v in data.items() if isinstance(v, dict) and "data" in v}
    rows = [{"field": k, "value": _shown(k, v)} for k, v in data.items() if k not in lists]
    for row in [r for r in rows if r["field"] == "billing_cli"]:  # our own fields, one a row
        rows.remove(row)
        rows += [{"field": f"billing_cli.{k}", "value": _shown(k, v)}
                 for k, v in data["billing_cli"].items()]  # fmt: skip
    print_table(columns, rows, title=title)
    for key, items in lists.items():
        if items:
            print_table(_flat_columns(items[0]), items, title=key)


def _flat_columns(sample: dict) -> list[Column]:
    """Scalar fields as they are; an embedded object by its id (a price inside an item)."""
    columns: list[Column] = []
    for key, value in sample.items():
        if isinstance(value, dict) and "id" in value:
            columns.append(Column(key, _embedded_id(key), ID))
        elif not isinstance(value, dict | list) and key != "object":
            columns.append(Column(key, _scalar(key)))
    return columns


def _embedded_id(key: str) -> Callable[[dict[str, Any]], Any]:
    return lambda row: row[key]["id"]


def _scalar(key: str) -> Callable[[dict[str, Any]], Any]:
    return lambda row: _shown(key, row[key])
