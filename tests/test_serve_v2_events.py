"""The v2 one-event endpoints through the official SDK: `client.v2.billing.meter_events` and
`client.v2.billing.meter_event_adjustments`, the calls Stripe's usage guide now shows.

Before, both were 404 "Unrecognized request URL": code written for Stripe's v2 guide did not
run against `billing serve` with only the base addresses changed.
"""

from __future__ import annotations

import pytest
import stripe

from tests.serve_harness import running_server

NOW = "2026-11-01T09:00:00Z"
NOW_TS = 1793523600


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory):
    db = tmp_path_factory.mktemp("v2events") / "billing.db"
    with running_server(db, now=NOW) as server:
        client = server.client()
        meter = client.v1.billing.meters.create(
            {
                "display_name": "Tokens",
                "event_name": "tokens",
                "default_aggregation": {"formula": "sum"},
            }
        )
        customer = client.v1.customers.create({"name": "Max"})
        yield client, meter, customer
    assert server.returncode == 0, server.stderr


def _total(client: stripe.StripeClient, meter, customer) -> float:
    summaries = client.v1.billing.meters.event_summaries.list(
        meter.id,
        {"customer": customer.id, "start_time": NOW_TS - 86400, "end_time": NOW_TS + 3600},
    )
    return sum(s.aggregated_value for s in summaries.data)


def test_v2_meter_event_is_stored_once_and_counted(shop) -> None:
    client, meter, customer = shop
    params = {
        "event_name": "tokens",
        "identifier": "v2-ev-1",
        "timestamp": "2026-11-01T08:30:00.000Z",
        "payload": {"stripe_customer_id": customer.id, "value": "1500"},
    }
    event = client.v2.billing.meter_events.create(params)  # type: ignore[arg-type]
    assert isinstance(event, stripe.v2.billing.MeterEvent)
    assert event.object == "v2.billing.meter_event"
    assert (event.identifier, event.timestamp) == ("v2-ev-1", "2026-11-01T08:30:00.000Z")
    assert event.created == "2026-11-01T09:00:00.000Z"
    again = client.v2.billing.meter_events.create(params)  # type: ignore[arg-type]
    assert again.to_dict() == event.to_dict()  # a resend is a no-op
    assert _total(client, meter, customer) == 1500


def test_v2_meter_event_validation_names_the_field(shop) -> None:
    client, _, customer = shop
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v2.billing.meter_events.create(
            {"event_name": "tokens", "payload": {"stripe_customer_id": customer.id, "value": "x"}}
        )
    assert raised.value.http_status == 400
    assert raised.value.error.param == "payload[value]"


def test_v2_adjustment_cancels_the_event(shop) -> None:
    client, meter, customer = shop
    client.v2.billing.meter_events.create(
        {
            "event_name": "tokens",
            "identifier": "v2-ev-2",
            "payload": {"stripe_customer_id": customer.id, "value": "40"},
        }
    )
    before = _total(client, meter, customer)
    params = {"event_name": "tokens", "type": "cancel", "cancel": {"identifier": "v2-ev-2"}}
    adjustment = client.v2.billing.meter_event_adjustments.create(params)  # type: ignore[arg-type]
    assert isinstance(adjustment, stripe.v2.billing.MeterEventAdjustment)
    assert adjustment.object == "v2.billing.meter_event_adjustment"
    assert adjustment.id and adjustment.cancel.identifier == "v2-ev-2"
    assert (adjustment.status, adjustment.type) == ("complete", "cancel")
    assert _total(client, meter, customer) == before - 40
    again = client.v2.billing.meter_event_adjustments.create(params)  # type: ignore[arg-type]
    assert again.id == adjustment.id
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v2.billing.meter_event_adjustments.create(
            {"event_name": "tokens", "type": "cancel", "cancel": {"identifier": "nope"}}
        )
    assert raised.value.http_status == 404
