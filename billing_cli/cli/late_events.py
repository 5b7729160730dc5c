"""`billing event late [--resolve next-invoice]` (SPEC 2.6), added to the `event` group."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from billing_cli.cli import context
from billing_cli.cli.event_ingest import event_app
from billing_cli.cli.events import EVENT_COLUMNS
from billing_cli.cli.output import (
    ID,
    AllOption,
    Column,
    CsvOption,
    JsonOption,
    LimitOption,
    NlOption,
)
from billing_cli.cli.render import Page, after, render_list
from billing_cli.present.stripe_json import meter_event_dict


@event_app.command("late")
def event_late(
    ctx: typer.Context,
    resolve: Annotated[
        str | None,
        typer.Option(
            help="next-invoice: bill them on each customer's next invoice as a late-usage line."
        ),
    ] = None,
    customer: Annotated[str | None, typer.Option(help="Only this customer's.")] = None,
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
    """List late events (received after their period was finalized), newest first; or resolve
    them all."""
    from billing_cli.api import late_events as api

    c = context(ctx)
    formats: dict[str, Any] = {"as_json": as_json, "as_csv": as_csv, "as_nl": as_nl}
    if resolve is None:
        page = Page.of(limit, all_, starting_after)
        data = [meter_event_dict(e) for e in reversed(api.late_events(c, customer=customer))]
        render_list(
            after(data, starting_after, "late event", key="identifier"),
            EVENT_COLUMNS,
            title="late events",
            page=page,
            **formats,
        )
        return
    done = api.resolve_late_events(c, resolve=resolve, customer=customer)
    data = [
        {
            **meter_event_dict(r.event),
            "resolution": {
                "type": resolve,
                "original_invoice": r.original_invoice,
                "original_number": r.original_number,
            },
        }
        for r in done
    ]
    columns = [
        *EVENT_COLUMNS[:4],
        Column("period billed by", lambda r: r["resolution"]["original_number"], ID),
    ]
    render_list(data, columns, title="late events resolved (next invoice)", **formats)
