"""`billing serve` on a PostgreSQL ledger (`--db postgresql://…`): the same API, its
idempotency keys kept in the database, the v2 stream and a preview."""

from __future__ import annotations

import httpx
import pytest
import stripe

from tests.serve_harness import KEY, running_server

NOW = "2026-11-16T00:00:00Z"
T = 1793523600  # 2026-11-01T09:00:00Z


def test_the_api_on_postgresql(postgres_db: str) -> None:
    with running_server(postgres_db, now="2026-11-01T09:00:00Z") as server:
        client = server.client()
        meter = client.v1.billing.meters.create(
            {"display_name": "T", "event_name": "tok", "default_aggregation": {"formula": "sum"}}
        )
        price = client.v1.prices.create(
            {
                "product_data": {"name": "Tokens"},
                "currency": "usd",
                "unit_amount": 4,
                "transform_quantity": {"divide_by": 100, "round": "up"},
                "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id},
            }
        )
        customer = client.v1.customers.create({"name": "Max"}).id
        client.v1.subscriptions.create({"customer": customer, "items": [{"price": price.id}]})
        headers = {"Authorization": f"Bearer {KEY}", "Idempotency-Key": "pg-once"}
        first = httpx.post(f"{server.url}/v1/customers", data={"name": "Once"}, headers=headers)
        again = httpx.post(f"{server.url}/v1/customers", data={"name": "Once"}, headers=headers)
        assert again.headers["idempotent-replayed"] == "true" and again.content == first.content
        with pytest.raises(stripe.IdempotencyError):
            client.v1.customers.create({"name": "Other"}, {"idempotency_key": "pg-once"})  # type: ignore[arg-type]
    with running_server(postgres_db, now=NOW) as server:
        client = server.client()
        client.v1.billing.meter_events.create(
            {
                "event_name": "tok",
                "identifier": "ev1",
                "timestamp": T + 3600,
                "payload": {"stripe_customer_id": customer, "value": "4275"},
            }
        )
        token = client.v2.billing.meter_event_session.create().authentication_token
        server.client(token).v2.billing.meter_event_stream.create(
            {
                "events": [
                    {
                        "event_name": "tok",
                        "identifier": "ev2",
                        "timestamp": "2026-11-15T08:00:00.000Z",
                        "payload": {"stripe_customer_id": customer, "value": "25"},
                    }
                ]
            }
        )
        preview = client.v1.invoices.create_preview({"customer": customer})
        assert [(li.quantity, li.amount) for li in preview.lines.data] == [(4300, 172)]
        names = sorted(c.name for c in client.v1.customers.list().auto_paging_iter())
        assert names == ["Max", "Once"]
