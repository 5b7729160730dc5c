"""Billing credits over HTTP (issue 19, item 4): the official Stripe SDK against a real
`billing serve` process creates, lists, retrieves, expires and voids credit grants, reads the
credit balance summary (with both of Stripe's filters) and the credit balance transactions;
the month-end close runs from the CLI as cron would, and the invoice the API returns carries
the credits. Objects come back as the SDK's typed classes; errors in Stripe's envelope."""

from __future__ import annotations

from pathlib import Path

import pytest
import stripe

from tests.serve_harness import running_server
from tests.test_serve_alpaca import cli, cli_json

START = "2026-11-01T00:00:00Z"
T0 = 1793491200  # START as Unix seconds
RUN = "2026-12-01T01:00:00Z"

pytestmark = pytest.mark.both_backends


def setup(db: Path) -> None:
    for args in (
        ("meter", "create", "--id", "mtr_t", "--display-name", "Alpaca AI tokens",
         "--event-name", "alpaca_ai_tokens", "--aggregation", "sum"),
        ("price", "create", "--id", "price_t", "--product-name", "Alpaca AI",
         "--currency", "usd", "--unit-amount", "4", "--transform-divide-by", "100",
         "--transform-round", "up", "--interval", "month", "--usage-type", "metered",
         "--meter", "mtr_t"),
        ("price", "create", "--id", "price_seat", "--product-name", "Seat", "--currency", "usd",
         "--unit-amount", "1000", "--interval", "month", "--usage-type", "licensed"),
        ("customer", "create", "--id", "cus_max", "--invoice-prefix", "ALPACA"),
        ("subscription", "create", "--customer", "cus_max", "--price", "price_t"),
    ):  # fmt: skip
        cli_json(db, START, *args)


def test_credit_grants_through_the_sdk(db: Path) -> None:
    setup(db)
    with running_server(db, now=START) as server:
        client = server.client()
        grants = client.v1.billing.credit_grants
        paid = grants.create(
            {
                "customer": "cus_max",
                "amount": {"type": "monetary", "monetary": {"value": 3000, "currency": "usd"}},
                "applicability_config": {"scope": {"price_type": "metered"}},
                "category": "paid",
                "priority": 10,
                "name": "Prepaid tokens",
                "metadata": {"order": "A-17"},
            }
        )
        assert isinstance(paid, stripe.billing.CreditGrant)
        assert paid.id.startswith("credgr_") and paid.object == "billing.credit_grant"
        assert paid.amount.monetary is not None and paid.amount.monetary.value == 3000
        assert paid.applicability_config.scope.price_type == "metered"
        assert (paid.priority, paid.category, paid.metadata["order"]) == (10, "paid", "A-17")
        promo = grants.create(
            {
                "customer": "cus_max",
                "amount": {"type": "monetary", "monetary": {"value": 3000, "currency": "usd"}},
                "applicability_config": {"scope": {"prices": [{"id": "price_t"}]}},
                "category": "promotional",
                "expires_at": T0 + 60 * 86400,
            }
        )
        assert promo.applicability_config.scope.prices is not None
        assert [p.id for p in promo.applicability_config.scope.prices] == ["price_t"]
        spare = grants.create(
            {
                "customer": "cus_max",
                "amount": {"type": "monetary", "monetary": {"value": 100, "currency": "usd"}},
                "applicability_config": {"scope": {"price_type": "metered"}},
            }
        )
        listed = grants.list({"customer": "cus_max"})
        assert [g.id for g in listed.data] == [spare.id, promo.id, paid.id]
        assert grants.retrieve(paid.id).name == "Prepaid tokens"
        voided = grants.void_grant(spare.id)
        assert voided.voided_at is not None
        summary = client.v1.billing.credit_balance_summary.retrieve(
            {
                "customer": "cus_max",
                "filter": {
                    "type": "applicability_scope",
                    "applicability_scope": {"price_type": "metered"},
                },
            }
        )
        assert isinstance(summary, stripe.billing.CreditBalanceSummary)
        (usd,) = summary.balances
        assert usd.available_balance.monetary is not None
        assert usd.available_balance.monetary.value == 6000
        one = client.v1.billing.credit_balance_summary.retrieve(
            {"customer": "cus_max", "filter": {"type": "credit_grant", "credit_grant": paid.id}}
        )
        assert one.balances[0].ledger_balance.monetary.value == 3000  # type: ignore[union-attr]
        # Bad input: Stripe's envelope, the parameter named, nothing written.
        with pytest.raises(stripe.InvalidRequestError) as bad:
            grants.create(
                {
                    "customer": "cus_max",
                    "amount": {"type": "monetary", "monetary": {"value": 0, "currency": "usd"}},
                    "applicability_config": {"scope": {"price_type": "metered"}},
                }
            )
        assert bad.value.http_status == 400
        with pytest.raises(stripe.InvalidRequestError) as missing:
            grants.retrieve("credgr_nope")
        assert missing.value.http_status == 404

    tokens = {"event_name": "alpaca_ai_tokens", "customer": "cus_max", "value": "107122"}
    cli_json(db, "2026-11-10T00:00:00Z", "event", "send", "--event-name", tokens["event_name"],
             "--customer", "cus_max", "--value", tokens["value"],
             "--timestamp", "2026-11-10T00:00:00Z")  # fmt: skip
    assert cli(db, RUN, "invoice", "run").returncode == 0

    with running_server(db, now="2026-12-02T00:00:00Z") as server:
        client = server.client()
        (inv,) = client.v1.invoices.list({"customer": "cus_max"}).data
        assert (inv.subtotal, inv.total, inv.amount_due) == (4288, 0, 0)
        credits = inv.total_pretax_credit_amounts or []
        assert [(c.type, c.amount) for c in credits] == [
            ("credit_balance_transaction", 3000),
            ("credit_balance_transaction", 1288),
        ]
        txns = client.v1.billing.credit_balance_transactions.list({"customer": "cus_max"})
        applied = [t for t in txns.data if t.type == "debit" and t.debit is not None]
        assert {t.id for t in applied if t.debit.type == "credits_applied"} == {  # type: ignore[union-attr]
            c.credit_balance_transaction for c in credits
        }
        first = client.v1.billing.credit_balance_transactions.retrieve(txns.data[0].id)
        assert isinstance(first, stripe.billing.CreditBalanceTransaction)
        expired = client.v1.billing.credit_grants.expire(promo.id)
        assert expired.expires_at == T0 + 31 * 86400  # the server's clock: 2 December
        summary = client.v1.billing.credit_balance_summary.retrieve(
            {"customer": "cus_max", "filter": {"type": "credit_grant", "credit_grant": paid.id}}
        )
        assert summary.balances[0].available_balance.monetary.value == 0  # type: ignore[union-attr]
        with pytest.raises(stripe.APIError) as used:  # the SDK's class for a 409
            client.v1.billing.credit_grants.void_grant(paid.id)
        assert used.value.http_status == 409
    assert cli(db, "2026-12-02T00:00:00Z", "ledger", "check").returncode == 0
