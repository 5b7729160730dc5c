"""`/v1/billing/credit_grants`, `/v1/billing/credit_balance_summary`,
`/v1/billing/credit_balance_transactions`: Stripe's billing credits (issue 19), the SDK's shapes.

Stripe's create takes `amount[type]=monetary`, `amount[monetary][value]` (minor units) and
`amount[monetary][currency]`, `applicability_config[scope][price_type]=metered` or
`applicability_config[scope][prices][i][id]`; the balance summary takes `customer` and
`filter[type]` = `applicability_scope` (with `filter[applicability_scope][price_type]` or
`…[prices][i][id]`) or `credit_grant` (with `filter[credit_grant]`).
"""

from __future__ import annotations

from datetime import datetime

from billing_cli.api import credits
from billing_cli.api.context import Context
from billing_cli.clock import from_unix
from billing_cli.http.endpoint import Action, Call, Reply, Spec
from billing_cli.http.forms import Params, param_error
from billing_cli.http.lists import listing, page_request
from billing_cli.present.credits_json import (
    credit_balance_summary_dict,
    credit_balance_transaction_dict,
    credit_grant_dict,
)

GRANT, SUMMARY = "billing.credit_grant", "billing.credit_balance_summary"
TXN = "billing.credit_balance_transaction"


def _time(p: Params, key: str) -> datetime | None:
    value = p.integer(key, minimum=0)
    return None if value is None else from_unix(value)


def _scope_prices(scope: Params | None, name: str) -> list[str]:
    """`scope[price_type]=metered` (every metered price) or `scope[prices][i][id]`, not both."""
    if scope is None:
        return []
    price_type = scope.choice("price_type", ("metered",))
    prices = [item.required("id") for item in scope.hashes("prices")]
    if price_type is not None and prices:
        raise param_error(f"{name}[scope]", "price_type and prices cannot be used together")
    if price_type is None and not prices:
        raise param_error(
            f"{name}[scope]",
            f"Missing required param: {name}[scope][price_type] or [prices].",
            code="parameter_missing",
        )
    return prices


def create(call: Call) -> Action:
    p = call.params
    customer = p.required("customer")
    amount = p.sub("amount", required=True)
    assert amount is not None
    amount.choice("type", ("monetary",), required=True)
    monetary = amount.sub("monetary", required=True)
    assert monetary is not None
    value = monetary.int_text("value")
    if value is None:
        raise param_error(
            "amount[monetary][value]",
            "Missing required param: amount[monetary][value].",
            code="parameter_missing",
        )
    currency = monetary.required("currency")
    config = p.sub("applicability_config", required=True)
    assert config is not None
    prices = _scope_prices(config.sub("scope", required=True), "applicability_config")
    category = p.choice("category", ("paid", "promotional")) or "paid"
    priority = p.integer("priority")
    effective_at = _time(p, "effective_at")
    expires_at = _time(p, "expires_at")
    name = p.text("name")
    metadata = p.metadata()
    grant_id = p.text("id")

    def act(ctx: Context) -> Reply:
        state = credits.create_grant(
            ctx,
            customer=customer,
            amount=value,
            currency=currency,
            category=category,
            priority=50 if priority is None else priority,
            effective_at=effective_at,
            expires_at=expires_at,
            prices=prices,
            name=name,
            metadata=metadata,
            grant_id=grant_id,
        )
        return 200, credit_grant_dict(state)

    return act


def list_all(call: Call) -> Action:
    p = call.params
    customer = p.text("customer")
    page = page_request(p)

    def act(ctx: Context) -> Reply:
        states = credits.list_grants(ctx, customer=customer)
        return 200, listing(call.path, states, page, credit_grant_dict, key=lambda s: s.grant.id)

    return act


def retrieve(call: Call) -> Action:
    grant_id = call.path_param("id")
    return lambda ctx: (200, credit_grant_dict(credits.get_grant(ctx, grant_id)))


def expire(call: Call) -> Action:
    grant_id = call.path_param("id")
    return lambda ctx: (200, credit_grant_dict(credits.expire_grant(ctx, grant_id)))


def void(call: Call) -> Action:
    grant_id = call.path_param("id")
    return lambda ctx: (200, credit_grant_dict(credits.void_grant(ctx, grant_id)))


def balance_summary(call: Call) -> Action:
    p = call.params
    customer = p.required("customer")
    flt = p.sub("filter", required=True)
    assert flt is not None
    kind = flt.choice("type", ("applicability_scope", "credit_grant"), required=True)
    grant = flt.required("credit_grant") if kind == "credit_grant" else None
    prices = (
        _scope_prices(flt.sub("applicability_scope", required=True), "filter")
        if kind == "applicability_scope"
        else []
    )

    def act(ctx: Context) -> Reply:
        summary = credits.balance_summary(ctx, customer=customer, credit_grant=grant, prices=prices)
        return 200, credit_balance_summary_dict(summary.customer, summary.balances)

    return act


def transactions(call: Call) -> Action:
    p = call.params
    customer = p.required("customer")
    grant = p.text("credit_grant")
    page = page_request(p)

    def act(ctx: Context) -> Reply:
        found = credits.list_transactions(ctx, customer=customer, credit_grant=grant)
        return 200, listing(call.path, found, page, credit_balance_transaction_dict)

    return act


def transaction(call: Call) -> Action:
    txn_id = call.path_param("id")
    return lambda ctx: (
        200,
        credit_balance_transaction_dict(credits.get_transaction(ctx, txn_id)),
    )


ROUTES: tuple[tuple[str, str, Spec], ...] = (
    ("POST", "/v1/billing/credit_grants", Spec(create, kind=GRANT)),
    ("GET", "/v1/billing/credit_grants", Spec(list_all, kind=GRANT, listed=True)),
    ("GET", "/v1/billing/credit_grants/{id}", Spec(retrieve, kind=GRANT)),
    ("POST", "/v1/billing/credit_grants/{id}/expire", Spec(expire, kind=GRANT)),
    ("POST", "/v1/billing/credit_grants/{id}/void", Spec(void, kind=GRANT)),
    ("GET", "/v1/billing/credit_balance_summary", Spec(balance_summary, kind=SUMMARY)),
    ("GET", "/v1/billing/credit_balance_transactions", Spec(transactions, kind=TXN, listed=True)),
    ("GET", "/v1/billing/credit_balance_transactions/{id}", Spec(transaction, kind=TXN)),
)
