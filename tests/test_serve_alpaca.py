"""The Alpaca AI example (tests/data/alpaca.md) through the official Stripe SDK against real
`billing serve` processes, with the month-end close from the CLI as cron would run it.

Each step runs at its own clock: a server is started with `--now` at that moment (the frozen
clock is how a test or a back-fill pins time), and the CLI gets the same `--now`. The preview
the API returns must equal the CLI's `invoice upcoming`, field for field and cent for cent.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import stripe

from tests.serve_harness import billing_env, running_server

T = 1793523600  # 2026-11-01T09:00:00Z


def cli(db: Path, now: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "billing_cli", "--db", str(db), "--now", now, *args],
        capture_output=True,
        text=True,
        env=billing_env(),
        timeout=120,
    )


def cli_json(db: Path, now: str, *args: str) -> dict:
    result = cli(db, now, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def event(customer: str, value: str, identifier: str, timestamp: int) -> dict:
    return {
        "event_name": "alpaca_ai_tokens",
        "payload": {"stripe_customer_id": customer, "value": value},
        "identifier": identifier,
        "timestamp": timestamp,
    }


def test_alpaca_end_to_end_through_the_sdk(tmp_path: Path) -> None:
    db = tmp_path / "alpaca.db"

    # steps 1-4, 2026-11-01T09:00Z: the catalog and the subscription
    with running_server(db, now="2026-11-01T09:00:00Z") as server:
        client = server.client()
        meter = client.v1.billing.meters.create(
            {
                "display_name": "Alpaca AI tokens",
                "event_name": "alpaca_ai_tokens",
                "default_aggregation": {"formula": "sum"},
            }
        )
        assert meter.customer_mapping.event_payload_key == "stripe_customer_id"
        assert meter.value_settings.event_payload_key == "value"
        product = client.v1.products.create({"name": "Alpaca AI"})
        price = client.v1.prices.create(
            {
                "product": product.id,
                "currency": "usd",
                "unit_amount": 4,
                "transform_quantity": {"divide_by": 100, "round": "up"},
                "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id},
            }
        )
        assert price.transform_quantity.divide_by == 100 and price.unit_amount == 4
        customer = client.v1.customers.create(
            {"name": "Max Mustermann", "email": "max@example.com", "invoice_prefix": "ALPACA"}
        ).id
        sub = client.v1.subscriptions.create({"customer": customer, "items": [{"price": price.id}]})
        assert sub.items.data[0].current_period_start == T
        assert sub.items.data[0].current_period_end == T + 30 * 86400
        assert client.v1.invoices.list({"customer": customer}).data == []  # metered: none yet

    # steps 5-10, 2026-11-16T00:00Z: usage by v1 events and the v2 stream, then the preview
    now = "2026-11-16T00:00:00Z"
    with running_server(db, now=now) as server:
        client = server.client()
        client.v1.billing.meter_events.create(event(customer, "25", "ev1", T + 3600))
        ev2 = event(customer, "3000", "ev2", T + 2 * 86400 + 12600)
        client.v1.billing.meter_events.create(ev2)
        client.v1.billing.meter_events.create(ev2)  # step 7: a duplicate, nothing added
        with pytest.raises(stripe.APIError) as raised:  # step 8: an identifier conflict
            client.v1.billing.meter_events.create({**ev2, "payload": {**ev2["payload"],
                                                                     "value": "3001"}})  # fmt: skip
        assert raised.value.http_status == 409
        token = client.v2.billing.meter_event_session.create().authentication_token
        server.client(token).v2.billing.meter_event_stream.create(
            {
                "events": [
                    {**event(customer, "1250", "ev3", 0), "timestamp": "2026-11-15T08:00:00.000Z"},
                    {**event(customer, "999", "oops", 0), "timestamp": "2026-11-15T09:00:00.000Z"},
                ]
            }
        )
        client.v1.billing.meter_event_adjustments.create(
            {"event_name": "alpaca_ai_tokens", "type": "cancel", "cancel": {"identifier": "oops"}}
        )
        summaries = client.v1.billing.meters.event_summaries.list(
            meter.id,
            {"customer": customer, "start_time": T, "end_time": T + 15 * 86400 - 32400},
        )
        assert [s.aggregated_value for s in summaries.data] == [4275]
        daily = client.v1.billing.meters.event_summaries.list(
            meter.id,
            {
                "customer": customer,
                "start_time": T - 32400,
                "end_time": T - 32400 + 16 * 86400,
                "value_grouping_window": "day",
            },
        )
        assert [s.aggregated_value for s in daily.data] == [1250, 3000, 25]
        preview = client.v1.invoices.create_preview({"customer": customer})
        (line,) = preview.lines.data
        assert (line.quantity, line.amount, preview.total) == (4275, 172, 172)
        assert line.pricing.price_details.price == price.id
        assert line.pricing.price_details.product == product.id
        assert line.parent.subscription_item_details.subscription == sub.id
        assert preview.last_response.data == cli_json(
            db, now, "invoice", "upcoming", "--customer", customer
        )

    # steps 11-13: the last November events, then the close from cron
    with running_server(db, now="2026-12-01T09:00:01Z") as server:
        client = server.client()
        client.v1.billing.meter_events.create(event(customer, "480", "ev4", T + 30 * 86400 - 32401))
        client.v1.billing.meter_events.create(event(customer, "100", "ev5", T + 30 * 86400))
    run = cli_json(db, "2026-12-01T09:05:00Z", "invoice", "run")
    assert len(run["created"]) == 1 and run["finalized"] == []
    assert [i["total"] for i in run["data"]] == [192]

    # step 14 and the preview during the grace period: the pending draft, recomputed
    now = "2026-12-01T09:45:00Z"
    with running_server(db, now="2026-12-01T09:30:00Z") as server:
        server.client().v1.billing.meter_events.create(
            event(customer, "300", "ev6", T + 30 * 86400 - 1)
        )
    with running_server(db, now=now) as server:
        preview = server.client().v1.invoices.create_preview({"customer": customer})
        assert [(li.quantity, li.amount) for li in preview.lines.data] == [(5055, 204)]
        assert preview.last_response.data == cli_json(
            db, now, "invoice", "upcoming", "--customer", customer
        )

    # steps 15-16: cron finalizes the invoice; a second run does nothing
    run = cli_json(db, "2026-12-01T10:00:00Z", "invoice", "run")
    assert len(run["finalized"]) == 1
    again = cli_json(db, "2026-12-01T10:00:00Z", "invoice", "run")
    assert (again["data"], again["created"], again["finalized"]) == ([], [], [])

    # the invoice through the API: listed, retrieved, its lines, paid
    with running_server(db, now="2026-12-02T00:00:00Z") as server:
        client = server.client()
        listed = client.v1.invoices.list({"customer": customer})
        (invoice,) = listed.data
        assert (invoice.number, invoice.status, invoice.amount_due) == ("ALPACA-0001", "open", 204)
        assert invoice.parent.subscription_details.subscription == sub.id
        retrieved = client.v1.invoices.retrieve(invoice.id)
        assert retrieved.to_dict() == invoice.to_dict()
        lines = client.v1.invoices.line_items.list(invoice.id)
        assert [(li.quantity, li.amount) for li in lines.data] == [(5055, 204)]
        assert lines.url == f"/v1/invoices/{invoice.id}/lines"
        with pytest.raises(stripe.InvalidRequestError) as raised:
            client.v1.invoices.pay(invoice.id)
        assert raised.value.param == "paid_out_of_band"
        paid = client.v1.invoices.pay(invoice.id, {"paid_out_of_band": True})
        assert (paid.status, paid.amount_paid, paid.amount_remaining) == ("paid", 204, 0)
        assert paid.status_transitions.paid_at == T + 31 * 86400 - 32400
        with pytest.raises(stripe.APIError) as raised:
            client.v1.invoices.pay(invoice.id, {"paid_out_of_band": True})
        assert raised.value.http_status == 409
        # step 18: December so far
        preview = client.v1.invoices.create_preview({"customer": customer})
        assert [(li.quantity, li.amount) for li in preview.lines.data] == [(100, 4)]
    assert cli(db, "2026-12-02T00:00:00Z", "ledger", "check").returncode == 0
    shown = cli_json(db, "2026-12-02T00:00:00Z", "invoice", "show", "ALPACA-0001")
    assert shown["status"] == "paid"
