"""`billing event list|cancel` and `billing meter usage`: parse, call, render (send and import
are in event_ingest.py, which defines the `event` group)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from billing_cli.api import events as api
from billing_cli.cli import context
from billing_cli.cli.catalog import IdArg, meter_app
from billing_cli.cli.event_ingest import event_app
from billing_cli.cli.output import (
    ID,
    NUMBER,
    AllOption,
    Column,
    CsvOption,
    JsonOption,
    LimitOption,
    NlOption,
    check_formats,
    note,
    time_column,
)
from billing_cli.cli.render import Page, render_list, render_one
from billing_cli.present import stripe_json as serialize
from billing_cli.present.amounts import decimal_str


def _payload_lines(row: dict) -> tuple[str, ...]:
    """One `key=value` per line in a table: a customer id or a value is never folded."""
    return tuple(f"{k}={v}" for k, v in row["payload"].items())


EVENT_COLUMNS = [
    Column("identifier", lambda r: r["identifier"], ID),
    Column("event_name", lambda r: r["event_name"], ID),
    Column("payload", _payload_lines, ID, csv=lambda r: r["payload"]),
    time_column("timestamp", "timestamp"),
    time_column("created", "created", stack=True),
    Column("status", lambda r: r["billing_cli"]["status"]),
    Column("cancelled", lambda r: r["billing_cli"]["cancelled"], stack=True),
]


# -- list, cancel --------------------------------------------------------------------------


@event_app.command("list")
def event_list(
    ctx: typer.Context,
    customer: Annotated[str | None, typer.Option(help="Only this customer's events.")] = None,
    meter: Annotated[str | None, typer.Option(help="Only this meter's (id or event name).")] = None,
    start: Annotated[str | None, typer.Option(help="timestamp ≥ START.")] = None,
    end: Annotated[str | None, typer.Option(help="timestamp < END.")] = None,
    invoice: Annotated[str | None, typer.Option(help="The events an invoice billed.")] = None,
    limit: LimitOption = None,
    starting_after: Annotated[
        str | None,
        typer.Option(
            "--starting-after",
            metavar="IDENTIFIER",
            help="Start after this event (the last identifier of the previous page).",
        ),
    ] = None,
    all_: AllOption = False,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    as_nl: NlOption = False,
) -> None:
    """List events, newest received first; streamed, so a million rows start at once."""
    check_formats(("--json", as_json), ("--csv", as_csv), ("--nl", as_nl))
    page = Page.of(limit, all_, starting_after)
    found = api.list_events(
        context(ctx),
        customer=customer,
        meter=meter,
        start=start,
        end=end,
        invoice=invoice,
        starting_after=starting_after,
    )
    render_list(
        (serialize.meter_event_dict(e) for e in found),
        EVENT_COLUMNS,
        as_json=as_json,
        as_csv=as_csv,
        as_nl=as_nl,
        title="meter events",
        page=page,
    )


@event_app.command("cancel")
def event_cancel(
    ctx: typer.Context,
    event_name: Annotated[str, typer.Option(help="The event's event name.")],
    identifier: Annotated[str, typer.Option(help="The event's identifier.")],
    as_json: JsonOption = False,
) -> None:
    """Cancel an event not yet billed by a finalized invoice (SPEC 2.4)."""
    done = api.cancel_event(context(ctx), event_name=event_name, identifier=identifier)
    if done.already:
        note(f"event {identifier} was already cancelled; nothing changed")
    render_one(serialize.meter_event_dict(done.event), as_json=as_json, title="meter event")


# -- meter usage ---------------------------------------------------------------------------

USAGE_COLUMNS = [
    time_column("start_time", "start_time"),
    time_column("end_time", "end_time", stack=True),
    Column("aggregated_value", lambda r: decimal_str(r["aggregated_value"]), NUMBER),
    Column("event_count", lambda r: r["billing_cli"]["event_count"], NUMBER),
]


@meter_app.command("usage")
def meter_usage(
    ctx: typer.Context,
    meter_id: IdArg,
    customer: Annotated[str, typer.Option(help="The customer.")],
    start: Annotated[str, typer.Option(help="Range start (on a minute).")],
    end: Annotated[str, typer.Option(help="Range end, exclusive (on a minute).")],
    window: Annotated[str | None, typer.Option(help="Per UTC hour or day.")] = None,
    chart: Annotated[
        bool,
        typer.Option(
            "--chart",
            help="On a terminal, draw the windows as bars with the total and the peak "
            "(off a terminal, and with --json/--csv, the data is printed as usual).",
        ),
    ] = False,
    limit: LimitOption = None,
    all_: AllOption = False,
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
    as_nl: NlOption = False,
) -> None:
    """Aggregated usage of a customer, oldest window first (Stripe's meter event summaries)."""
    check_formats(("--json", as_json), ("--csv", as_csv), ("--nl", as_nl))
    page = Page.of(limit, all_, None)
    summary = api.meter_usage(
        context(ctx), meter_id, customer=customer, start=start, end=end, window=window
    )
    data = [
        serialize.meter_event_summary_dict(summary.meter.id, customer, w.start, w.end, w.aggregate)
        for w in summary.windows
    ]
    title = f"usage of {summary.meter.id} by {customer}"
    if chart and not (as_json or as_csv or as_nl) and sys.stdout.isatty():
        from billing_cli.cli.usage_chart import draw_usage

        draw_usage(summary, window, title=title)
        return
    render_list(
        data,
        USAGE_COLUMNS,
        as_json=as_json,
        as_csv=as_csv,
        as_nl=as_nl,
        title=title,
        page=page,
    )
