"""What each dashboard page shows, read through the same use cases the CLI calls.

Every figure comes from `api/` (the CLI's functions) and every object from `present/` (the
CLI's `--json` shapes), so the dashboard cannot disagree with `billing … --json`: a meter's
total is `api.events.meter_usage`'s aggregate, a customer's upcoming invoice is
`api.invoices.upcoming`. Amounts are formatted by `money.format_amount`, as the CLI's tables do.
Functions return plain dicts for the templates; they are read-only (the ledger is opened for
reading only) and run in a worker thread, never on the event loop.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from billing_cli.api import catalog, invoices, late_events, subscriptions
from billing_cli.api import events as usage_api
from billing_cli.api.context import Context
from billing_cli.clock import format_time
from billing_cli.errors import BillingError, NotFound
from billing_cli.http.dashboard.charts import bar_chart, window_label
from billing_cli.http.dashboard.usage import PRESETS, UsageQuery
from billing_cli.present.amounts import decimal_str
from billing_cli.present.invoice_json import invoice_dict
from billing_cli.present.stripe_json import customer_dict, meter_dict, subscription_dict


def meters_page(ctx: Context) -> dict[str, Any]:
    return {"meters": [meter_dict(m) for m in catalog.list_meters(ctx)]}


def _preset_params(key: str, query: UsageQuery | None) -> dict[str, str]:
    """A preset's link keeps the customer chosen; the window is the preset's own."""
    customer = query.customer if query is not None else None
    return {"range": key, **({"customer": customer} if customer else {})}


def meter_page(ctx: Context, meter_id: str, query: UsageQuery | None) -> dict[str, Any]:
    """The meter, the picker's choices and, for a valid query, the chart and its table."""
    meter = catalog.get_meter(ctx, meter_id)
    page: dict[str, Any] = {
        "meter": meter_dict(meter),
        "customers": [customer_dict(c) for c in catalog.list_customers(ctx)],
        "presets": [
            {"key": key, "label": label, "query": urlencode(_preset_params(key, query))}
            for key, label in PRESETS.items()
        ],
        "query": query,
    }
    if query is None:
        return page
    summary = usage_api.meter_usage(
        ctx, meter.id, customer=query.customer, start=format_time(query.start),
        end=format_time(query.end), window=query.window,
    )  # fmt: skip
    windows = [(w.start, w.end, w.aggregate.value) for w in summary.windows]
    page.update(
        unit=summary.unit,
        chart=bar_chart(windows, query.start, query.end, query.window),
        rows=[
            {
                "label": window_label(lo, query.window),
                "start": lo,
                "end": hi,
                "value": decimal_str(value),
                "event_count": w.aggregate.event_count,
            }
            for (lo, hi, value), w in zip(windows, summary.windows, strict=True)
        ],
        total=decimal_str(summary.total.value),
        event_count=summary.total.event_count,
        total_label="Last value" if meter.formula == "last" else "Total",
        cli_command=query.cli_command(meter.id),
    )
    return page


def customers_page(ctx: Context) -> dict[str, Any]:
    return {"customers": [customer_dict(c) for c in catalog.list_customers(ctx)]}


def customer_page(ctx: Context, customer_id: str) -> dict[str, Any]:
    """Subscriptions, the upcoming invoice (or why there is none) and past invoices."""
    customer = catalog.get_customer(ctx, customer_id)
    subs = subscriptions.list_subscriptions(ctx, customer.id)
    prices = subscriptions.prices_of(ctx, subs)
    upcoming: dict[str, Any] | None = None
    upcoming_note = None
    try:
        upcoming = invoice_dict(invoices.upcoming(ctx, customer=customer.id), customer)
    except NotFound as exc:  # no subscription: nothing will be invoiced
        upcoming_note = exc.message
    except BillingError as exc:  # e.g. an amount past the ledger's range: say so, show the rest
        upcoming_note = f"The upcoming invoice cannot be computed: {exc.message}"
    past = [
        invoice_dict(inv, customer) for inv in invoices.list_invoices(ctx, customer=customer.id)
    ]
    return {
        "customer": customer_dict(customer),
        "subscriptions": [subscription_dict(s, prices, ctx.now_ts) for s in subs],
        "products": {p.id: p.name for p in catalog.list_products(ctx)},
        "upcoming": upcoming,
        "upcoming_note": upcoming_note,
        "invoices": past,
    }


def invoices_page(ctx: Context, status: str | None) -> dict[str, Any]:
    customers = {c.id: c for c in catalog.list_customers(ctx)}
    found = invoices.list_invoices(ctx, status=status)
    return {
        "invoices": [invoice_dict(inv, customers.get(inv.customer)) for inv in found],
        "statuses": invoices.STATUSES,
        "status": status,
    }


def invoice_page(ctx: Context, invoice_id: str) -> dict[str, Any]:
    inv = invoices.get_invoice(ctx, invoice_id)
    return {"invoice": invoice_dict(inv, catalog.get_customer(ctx, inv.customer))}


def invoice_pdf(ctx: Context, invoice_id: str) -> tuple[str, bytes]:
    """The invoice's PDF as `billing invoice pdf` writes it, and its file name."""
    from billing_cli.api import documents  # fpdf2 loads only when a PDF is asked for

    data = documents.document_data(ctx, invoices.get_invoice(ctx, invoice_id))
    return documents.default_name(data, ".pdf"), documents.invoice_pdf_bytes(data)


def late_events_page(ctx: Context) -> dict[str, Any]:
    """Each pending late event with the finalized invoice that billed its period: the why."""
    waiting = late_events.pending_late_events(ctx)
    return {
        "events": [
            {
                "identifier": w.event.identifier,
                "event_name": w.event.event_name,
                "customer": w.event.customer,
                "meter": w.event.meter,
                "value": w.event.value,
                "timestamp": w.event.timestamp,
                "received": w.event.received,
                "invoice": w.original_invoice,
                "number": w.original_number,
            }
            for w in waiting
        ]
    }
