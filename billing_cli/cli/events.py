"""`billing event send|import|list|cancel` and `billing meter usage`: parse, call, render.

Errors and progress go to stderr, data to stdout (SPEC 5.1): an import's reject report and
summary are on stderr, and only its `--json` summary object is on stdout.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from billing_cli.api import events as api
from billing_cli.cli import context
from billing_cli.cli.catalog import IdArg, meter_app
from billing_cli.cli.output import (
    ID,
    NUMBER,
    AllOption,
    Column,
    CsvOption,
    JsonOption,
    LimitOption,
    NlOption,
    Page,
    check_formats,
    note,
    render_list,
    render_one,
    time_column,
)
from billing_cli.clock import format_time
from billing_cli.errors import (
    LateEventsStored,
)
from billing_cli.present import stripe_json as serialize
from billing_cli.present.amounts import decimal_str

event_app = typer.Typer(no_args_is_help=True, help="Meter events: send, import, list, cancel.")


MaxAgeOption = Annotated[
    str | None,
    typer.Option(
        "--max-age",
        help="How old a timestamp may be, e.g. 400d for a back-fill [35d, as Stripe].",
    ),
]
FailOnLateOption = Annotated[
    bool,
    typer.Option(
        "--fail-on-late",
        help="Exit 7 when an event is stored late (in a period already invoiced).",
    ),
]
LATE_HINT = "`billing event late` lists them; `--resolve next-invoice` bills them"


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


@event_app.command("send")
def event_send(
    ctx: typer.Context,
    event_name: Annotated[str, typer.Option(help="The meter's event name.")],
    payload: Annotated[
        list[str] | None, typer.Option("--payload", help="KEY=VALUE, repeatable.")
    ] = None,
    customer: Annotated[
        str | None, typer.Option(help="Short form: the customer (fills the meter's key).")
    ] = None,
    value: Annotated[str | None, typer.Option(help="Short form: the value (decimal).")] = None,
    identifier: Annotated[
        str | None, typer.Option(help="Idempotency key (generated when omitted).")
    ] = None,
    timestamp: Annotated[
        str | None, typer.Option(help="When it happened: Unix seconds or ISO 8601 [now].")
    ] = None,
    max_age: MaxAgeOption = None,
    fail_on_late: FailOnLateOption = False,
    as_json: JsonOption = False,
) -> None:
    """Record one usage event (Stripe's meter event); re-sending it is a no-op. A timestamp
    more than 35 days old is refused (exit 4) unless --max-age allows it."""
    sent = api.send_event(
        context(ctx),
        event_name=event_name,
        payload=payload,
        customer=customer,
        value=value,
        identifier=identifier,
        timestamp=timestamp,
        max_age=max_age,
    )
    event = sent.event
    if sent.duplicate:
        note(f"duplicate: event {event.identifier} was already recorded; nothing changed")
    elif event.status == "late":
        note(
            f"late: {format_time(event.timestamp)} lies in a period a finalized invoice already "
            "billed; it counts in no invoice until `billing event late --resolve next-invoice`"
        )
    if not sent.duplicate and (event.value or "").startswith("-"):
        note(
            f"negative value {event.value}: a correction, it lowers the period's total; a total"
            " below 0 bills quantity 0 (as Stripe), nothing carries over"
        )
    render_one(serialize.meter_event_dict(event), as_json=as_json, title="meter event")
    if fail_on_late and event.status == "late" and not sent.duplicate:
        raise LateEventsStored(
            f"event {event.identifier} was stored late: {format_time(event.timestamp)} lies in a"
            " period a finalized invoice already billed",
            hint=LATE_HINT,
        )


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
