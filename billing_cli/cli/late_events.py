"""`billing event late [--resolve next-invoice]` (SPEC 2.6), added to the `event` group."""

from __future__ import annotations

from typing import Annotated

import typer

from billing_cli.cli import context
from billing_cli.cli.events import EVENT_COLUMNS, event_app
from billing_cli.cli.output import Column, CsvOption, JsonOption, render_list
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
    as_json: JsonOption = False,
    as_csv: CsvOption = False,
) -> None:
    """List late events (received after their period was finalized), or resolve them."""
    from billing_cli.api import late_events as api

    c = context(ctx)
    if resolve is None:
        data = [meter_event_dict(e) for e in api.late_events(c, customer=customer)]
        render_list(data, EVENT_COLUMNS, as_json=as_json, as_csv=as_csv, title="late events")
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
        Column("period billed by", lambda r: r["resolution"]["original_number"]),
    ]
    render_list(
        data, columns, as_json=as_json, as_csv=as_csv, title="late events resolved (next invoice)"
    )
