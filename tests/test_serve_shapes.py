"""Objects as Stripe's API version 2026-10-28 has them, checked against the official SDK's own
type annotations (stripe-python 16 is generated from that version's OpenAPI spec): every field
the SDK declares is sent (null where the ledger has no value), no field it does not declare is
sent except under `billing_cli`, and CLI `--json` prints the very objects the server answers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import stripe
from stripe.billing import Meter, MeterEvent, MeterEventAdjustment, MeterEventSummary

from tests.serve_harness import billing_env, running_server

# Fields the SDK declares that Stripe itself only sends when asked (`expand`/`include`), only
# on a deleted object, or only for legacy integrations; the ledger has none of them.
NOT_SENT = {
    "deleted",  # only on the answer to a DELETE
    "payments",  # an invoice's payments: includable
    "currency_options",  # a price's: includable
    "cash_balance", "invoice_credit_balance", "sources", "subscriptions", "tax", "tax_ids",
    "plan",  # the legacy twin of `price` on subscription items
}  # fmt: skip

NOW = "2026-11-16T00:00:00Z"
T = 1793523600


def declared(cls: type) -> set[str]:
    return {k for k in cls.__annotations__ if k != "OBJECT_NAME" and not k.startswith("_")}


def assert_shape(data: dict, cls: type) -> None:
    fields = declared(cls)
    sent = set(data) - {"billing_cli"}
    assert sent <= fields, f"{cls.__name__}: not Stripe's: {sorted(sent - fields)}"
    assert fields - NOT_SENT <= sent, f"{cls.__name__}: missing {sorted(fields - NOT_SENT - sent)}"


def cli_json(db: Path, *args: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "billing_cli", "--db", str(db), "--now", NOW, *args, "--json"],
        capture_output=True,
        text=True,
        env=billing_env(),
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    db = tmp_path_factory.mktemp("shapes") / "b.db"
    with running_server(db, now="2026-11-01T09:00:00Z") as server:
        client = server.client()
        meter = client.v1.billing.meters.create(
            {"display_name": "T", "event_name": "tok", "default_aggregation": {"formula": "sum"}}
        )
        price = client.v1.prices.create(
            {
                "product_data": {"name": "Tokens"},
                "currency": "usd",
                "unit_amount_decimal": "0.04",
                "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id},
            }
        )
        seats = client.v1.prices.create(
            {
                "product": price.product,
                "currency": "usd",
                "billing_scheme": "tiered",
                "tiers_mode": "graduated",
                "tiers": [{"up_to": 5, "unit_amount": 700}, {"up_to": "inf", "unit_amount": 500}],
                "recurring": {"interval": "month"},
            }
        )
        customer = client.v1.customers.create({"name": "Max", "metadata": {"crm": "42"}})
        sub = client.v1.subscriptions.create(
            {
                "customer": customer.id,
                "items": [{"price": price.id}, {"price": seats.id, "quantity": 7}],
            }
        )
    with running_server(db, now=NOW) as server:
        client = server.client()
        event = client.v1.billing.meter_events.create(
            {
                "event_name": "tok",
                "payload": {"stripe_customer_id": customer.id, "value": "1250.5"},
                "timestamp": T + 86400,
            }
        )
        yield {
            "db": db,
            "server": server,
            "client": client,
            "meter": meter,
            "price": price,
            "seats": seats,
            "customer": customer,
            "subscription": sub,
            "event": event,
        }


def test_catalog_objects_have_stripes_fields(world) -> None:
    client = world["client"]
    assert_shape(client.v1.billing.meters.retrieve(world["meter"].id).to_dict(), Meter)
    assert_shape(client.v1.products.retrieve(world["price"].product).to_dict(), stripe.Product)
    for price in (world["price"], world["seats"]):
        assert_shape(client.v1.prices.retrieve(price.id).to_dict(), stripe.Price)
    assert_shape(client.v1.customers.retrieve(world["customer"].id).to_dict(), stripe.Customer)
    sub = client.v1.subscriptions.retrieve(world["subscription"].id).to_dict()
    assert_shape(sub, stripe.Subscription)
    for item in sub["items"]["data"]:
        assert_shape(item, stripe.SubscriptionItem)
    tiers = client.v1.prices.retrieve(world["seats"].id).tiers
    assert [(t.up_to, t.unit_amount) for t in tiers] == [(5, 700), (None, 500)]


def test_usage_objects_have_stripes_fields(world) -> None:
    client = world["client"]
    assert_shape(world["event"].to_dict(), MeterEvent)
    summaries = client.v1.billing.meters.event_summaries.list(
        world["meter"].id,
        {"customer": world["customer"].id, "start_time": T, "end_time": T + 2 * 86400},
    )
    assert_shape(summaries.data[0].to_dict(), MeterEventSummary)
    assert isinstance(summaries.data[0].aggregated_value, float)  # a JSON number, as in Stripe
    adjustment = client.v1.billing.meter_event_adjustments.create(
        {"event_name": "tok", "type": "cancel", "cancel": {"identifier": world["event"].identifier}}
    )
    assert_shape(adjustment.to_dict(), MeterEventAdjustment)


def test_invoice_and_lines_have_stripes_fields(world) -> None:
    preview = world["client"].v1.invoices.create_preview({"customer": world["customer"].id})
    data = preview.last_response.data
    assert_shape(data, stripe.Invoice)
    assert data["parent"] == {
        "quote_details": None,
        "subscription_details": {
            "metadata": None,
            "subscription": world["subscription"].id,
            "subscription_proration_date": None,
        },
        "type": "subscription_details",
    }
    for line in data["lines"]["data"]:
        assert_shape(line, stripe.InvoiceLineItem)
        details = line["parent"]["subscription_item_details"]
        assert details["subscription"] == world["subscription"].id
        assert line["pricing"]["price_details"]["product"] == world["price"].product
        assert "explain" not in line["billing_cli"]  # only when asked for
    assert set(data["lines"]) == {"object", "data", "has_more", "url"}
    explained = world["client"].v1.invoices.create_preview(
        {"customer": world["customer"].id, "expand": ["lines.data.explain"]}
    )
    line = explained.last_response.data["lines"]["data"][0]
    assert line["billing_cli"]["explain"]["meter"] == world["meter"].id


def test_cli_json_prints_the_objects_the_server_answers(world) -> None:
    client, db = world["client"], world["db"]
    pairs = [
        (client.v1.billing.meters.retrieve(world["meter"].id),
         ("meter", "show", world["meter"].id)),
        (client.v1.prices.retrieve(world["price"].id), ("price", "show", world["price"].id)),
        (client.v1.customers.retrieve(world["customer"].id),
         ("customer", "show", world["customer"].id)),
        (client.v1.subscriptions.retrieve(world["subscription"].id),
         ("subscription", "show", world["subscription"].id)),
        (client.v1.invoices.create_preview({"customer": world["customer"].id}),
         ("invoice", "upcoming", "--customer", world["customer"].id)),
    ]  # fmt: skip
    for answered, argv in pairs:
        assert answered.last_response.data == cli_json(db, *argv), argv


def test_delete_answers_id_object_deleted(world, tmp_path: Path) -> None:
    """A draft deleted through the API answers `{id, object, deleted: true}`, as Stripe does,
    and so does `billing invoice delete --json`."""
    db = tmp_path / "b.db"
    with running_server(db, now="2026-11-01T09:00:00Z") as server:
        client = server.client()
        meter = client.v1.billing.meters.create(
            {"display_name": "T", "event_name": "tok", "default_aggregation": {"formula": "sum"}}
        )
        price = client.v1.prices.create(
            {
                "product_data": {"name": "Tokens"},
                "currency": "usd",
                "unit_amount": 4,
                "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id},
            }
        )
        customer = client.v1.customers.create({"name": "Max"})
        client.v1.subscriptions.create({"customer": customer.id, "items": [{"price": price.id}]})
    close = [sys.executable, "-m", "billing_cli", "--db", str(db), "--now", "2026-12-01T09:05:00Z"]
    subprocess.run([*close, "invoice", "run"], check=True, capture_output=True, env=billing_env())
    with running_server(db, now="2026-12-01T09:10:00Z") as server:
        client = server.client()
        (draft,) = client.v1.invoices.list({"status": "draft"}).data
        deleted = client.v1.invoices.delete(draft.id)
        assert deleted.last_response.data == {"id": draft.id, "object": "invoice", "deleted": True}
        with pytest.raises(stripe.InvalidRequestError) as raised:
            client.v1.invoices.retrieve(draft.id)
        assert raised.value.code == "resource_missing"
    subprocess.run([*close, "invoice", "run"], check=True, capture_output=True, env=billing_env())
    (again,) = json.loads(
        subprocess.run(
            [*close, "invoice", "list", "--status", "draft", "--json"],
            check=True, capture_output=True, text=True, env=billing_env(),
        ).stdout
    )["data"]  # fmt: skip
    result = subprocess.run(
        [*close, "invoice", "delete", again["id"], "--json"],
        capture_output=True, text=True, env=billing_env(),
    )  # fmt: skip
    assert json.loads(result.stdout) == {"id": again["id"], "object": "invoice", "deleted": True}


def test_customer_address_and_update(world) -> None:
    client = world["client"]
    customer = client.v1.customers.create(
        {
            "name": "Erika",
            "address": {"line1": "Hauptstraße 1", "postal_code": "10115", "city": "Berlin",
                        "country": "DE"},
            "tax_id_data": [{"type": "eu_vat", "value": "DE123456789"}],
        }
    )  # fmt: skip
    assert customer.address.city == "Berlin"
    assert [t.value for t in customer.tax_ids.data] == ["DE123456789"]
    updated = client.v1.customers.update(
        customer.id, {"email": "erika@example.com", "address": {"city": "Potsdam"}}
    )
    assert (updated.email, updated.address.city, updated.address.line1) == (
        "erika@example.com",
        "Potsdam",
        "Hauptstraße 1",
    )
    assert_shape(updated.to_dict(), stripe.Customer)
