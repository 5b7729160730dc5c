"""`expand[]` through the official Stripe SDK against a real `billing serve`.

Before, the server accepted any `expand[]` and ignored it: `sub.customer.email` raised
AttributeError on the id string a Stripe client expected to be an object, and a typo in a path
went unseen. Now the fields Stripe declares expandable come back as objects, and any other path
is Stripe's 400 "This property cannot be expanded" before anything is changed.
"""

from __future__ import annotations

import pytest
import stripe

from tests.serve_harness import running_server

NOW = "2026-11-01T09:00:00Z"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory):
    db = tmp_path_factory.mktemp("expand") / "billing.db"
    with running_server(db, now=NOW) as server:
        client = server.client()
        meter = client.v1.billing.meters.create(
            {
                "display_name": "Tokens",
                "event_name": "tokens",
                "default_aggregation": {"formula": "sum"},
            }
        )
        price = client.v1.prices.create(
            {
                "product_data": {"name": "Alpaca AI"},
                "currency": "usd",
                "unit_amount": 4,
                "recurring": {"interval": "month", "usage_type": "metered", "meter": meter.id},
            }
        )
        customer = client.v1.customers.create({"name": "Max", "email": "max@example.com"})
        sub = client.v1.subscriptions.create(
            {"customer": customer.id, "items": [{"price": price.id}], "expand": ["customer"]}
        )
        yield client, customer, price, sub
    assert server.returncode == 0, server.stderr


def test_a_created_subscription_answers_its_customer_expanded(shop) -> None:
    _, customer, _, sub = shop
    assert isinstance(sub.customer, stripe.Customer)
    assert (sub.customer.id, sub.customer.email) == (customer.id, "max@example.com")


def test_retrieve_expands_nested_paths_through_embedded_lists(shop) -> None:
    client, customer, price, sub = shop
    got = client.v1.subscriptions.retrieve(
        sub.id, {"expand": ["customer", "items.data.price.product"]}
    )
    assert isinstance(got.customer, stripe.Customer) and got.customer.id == customer.id
    product = got["items"].data[0].price.product
    assert isinstance(product, stripe.Product)
    assert (product.id, product.name) == (price.product, "Alpaca AI")
    plain = client.v1.subscriptions.retrieve(sub.id)
    assert plain.customer == customer.id  # nothing expands unless asked


def test_lists_expand_each_item_with_data_paths(shop) -> None:
    client, customer, price, sub = shop
    subs = client.v1.subscriptions.list({"expand": ["data.customer"]})
    assert [s.customer.email for s in subs.data] == ["max@example.com"]
    listed = client.v1.prices.list({"expand": ["data.product"]})
    assert [p.product.name for p in listed.data] == ["Alpaca AI"]


def test_what_billing_cli_always_sends_may_be_asked_for(shop) -> None:
    """Stripe lists a price's `tiers` only when asked (`expand[]=data.tiers`), so code written
    for Stripe asks; an embedded object (`items.data.price`) may be named too. Both are there
    already, and neither is refused."""
    client, _, price, sub = shop
    listed = client.v1.prices.list({"expand": ["data.tiers"]})
    assert [p.id for p in listed.data] == [price.id] and "tiers" in listed.data[0]
    got = client.v1.subscriptions.retrieve(sub.id, {"expand": ["items.data.price"]})
    assert got["items"].data[0].price.id == price.id
    customer = client.v1.customers.retrieve(sub.customer.id, {"expand": ["tax_ids"]})
    assert customer.tax_ids.object == "list"


def test_expanded_objects_expand_again(shop) -> None:
    """`parent.subscription_details.subscription.customer`: through an object the path
    expanded itself, as Stripe's recursive expansion does."""
    client, customer, _, sub = shop
    preview = client.v1.invoices.create_preview(
        {
            "customer": customer.id,
            "expand": ["customer", "parent.subscription_details.subscription.customer"],
        }
    )
    assert preview.customer.email == "max@example.com"
    parent_sub = preview.parent.subscription_details.subscription
    assert isinstance(parent_sub, stripe.Subscription) and parent_sub.id == sub.id
    assert parent_sub.customer.id == customer.id


def test_explain_is_still_asked_for_with_expand(shop) -> None:
    client, customer, _, _ = shop
    plain = client.v1.invoices.create_preview({"customer": customer.id})
    assert "explain" not in plain.lines.data[0].billing_cli
    explained = client.v1.invoices.create_preview(
        {"customer": customer.id, "expand": ["lines.data.explain"]}
    )
    assert "explain" in explained.lines.data[0].billing_cli


@pytest.mark.parametrize(
    ("call", "path"),
    [
        ("retrieve", "metadata"),
        ("retrieve", "items"),  # a list that is always there
        ("retrieve", "items.data.price.product.name"),
        ("retrieve", "customr"),
        ("list", "customer"),  # on a list the path starts at each item: data.customer
        ("list", "data.nope"),
    ],
)
def test_what_cannot_be_expanded_is_stripes_400(shop, call: str, path: str) -> None:
    client, _, _, sub = shop
    with pytest.raises(stripe.InvalidRequestError) as raised:
        if call == "retrieve":
            client.v1.subscriptions.retrieve(sub.id, {"expand": [path]})
        else:
            client.v1.subscriptions.list({"expand": [path]})
    assert raised.value.http_status == 400
    assert raised.value.param == "expand"
    assert str(raised.value.user_message) == f"This property cannot be expanded ({path})."


def test_a_bad_expand_on_create_changes_nothing(shop) -> None:
    client, _, _, _ = shop
    before = len(client.v1.customers.list().data)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.create({"name": "Typo", "expand": ["default_source"]})
    assert len(client.v1.customers.list().data) == before


def test_a_credit_grant_expands_its_customer(shop) -> None:
    client, customer, _, _ = shop
    grant = client.v1.billing.credit_grants.create(
        {
            "customer": customer.id,
            "amount": {"type": "monetary", "monetary": {"value": 500, "currency": "usd"}},
            "applicability_config": {"scope": {"price_type": "metered"}},
            "category": "promotional",
            "expand": ["customer"],
        }
    )
    assert isinstance(grant.customer, stripe.Customer) and grant.customer.name == "Max"
    listed = client.v1.billing.credit_grants.list({"expand": ["data.customer"]})
    assert [g.customer.id for g in listed.data] == [customer.id]
    summary = client.v1.billing.credit_balance_summary.retrieve(
        {
            "customer": customer.id,
            "filter": {"type": "credit_grant", "credit_grant": grant.id},
            "expand": ["customer"],
        }
    )
    assert summary.customer.email == "max@example.com"
