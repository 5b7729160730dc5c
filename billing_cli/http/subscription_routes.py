"""`/v1/subscriptions`: create, retrieve, list, update (cancel at period end), cancel."""

from __future__ import annotations

from datetime import datetime

from billing_cli.api import subscriptions
from billing_cli.api.context import Context
from billing_cli.api.invoices import cancel_subscription
from billing_cli.clock import from_unix
from billing_cli.http.endpoint import Action, Call, Reply, Spec
from billing_cli.http.forms import Params, param_error
from billing_cli.http.lists import listing, page_request
from billing_cli.present.stripe_json import subscription_dict

ALIASES = {
    "price": "items",
    "billing-cycle-anchor": "billing_cycle_anchor",
    "backdate-start-date": "backdate_start_date",
    "trial-end": "trial_end",
    "trial-period-days": "trial_period_days",
    "customer": "customer",
}
SUB = "subscription"
STATUSES = ("trialing", "active", "canceled", "all")


def _render(ctx: Context, subs: list) -> list[dict]:  # type: ignore[type-arg]
    prices = subscriptions.prices_of(ctx, subs)
    return [subscription_dict(s, prices, ctx.now_ts) for s in subs]


def _one(ctx: Context, sub: object) -> Reply:
    return 200, _render(ctx, [sub])[0]


def _time(p: Params, key: str, now_word: bool = False) -> datetime | None:
    if now_word and p.raw(key) == "now":
        return None
    value = p.integer(key, minimum=0)
    return None if value is None else from_unix(value)


def create(call: Call) -> Action:
    p = call.params
    customer = p.required("customer")
    specs = []
    for item in p.hashes("items"):
        price = item.required("price")
        quantity = item.integer("quantity", minimum=0)
        specs.append(price if quantity is None else f"{price}:{quantity}")
    if not specs:
        raise param_error("items", "Missing required param: items.", code="parameter_missing")
    anchor = _time(p, "billing_cycle_anchor")
    backdate = _time(p, "backdate_start_date")
    trial_now = p.raw("trial_end") == "now"
    trial_end = _time(p, "trial_end", now_word=True)
    trial_days = p.int_text("trial_period_days")
    metadata = p.metadata()

    def act(ctx: Context) -> Reply:
        sub = subscriptions.create_subscription(
            ctx,
            customer=customer,
            prices=specs,
            billing_cycle_anchor=anchor,
            backdate_start_date=backdate,
            trial_end=None if trial_now else trial_end,
            trial_period_days=trial_days,
            metadata=metadata,
        )
        return _one(ctx, sub)

    return act


def list_all(call: Call) -> Action:
    p = call.params
    customer = p.text("customer")
    status = p.choice("status", STATUSES)
    price = p.text("price")
    page = page_request(p)

    def act(ctx: Context) -> Reply:
        found = subscriptions.list_subscriptions(ctx, customer)
        rendered = [
            s
            for s in _render(ctx, found)
            if (status in (None, "all") or s["status"] == status)
            and (price is None or any(i["price"]["id"] == price for i in s["items"]["data"]))
        ]
        # Stripe leaves canceled subscriptions out unless asked for them
        if status is None:
            rendered = [s for s in rendered if s["status"] != "canceled"]
        return 200, listing(call.path, rendered, page, lambda s: s, key=lambda s: s["id"])

    return act


def retrieve(call: Call) -> Action:
    sub_id = call.path_param("id")
    return lambda ctx: _one(ctx, subscriptions.get_subscription(ctx, sub_id))


def update(call: Call) -> Action:
    """The CLI's one change to a live subscription: cancel at the end of the period."""
    sub_id = call.path_param("id")
    at_period_end = call.params.flag("cancel_at_period_end")
    if at_period_end is False:
        raise param_error(
            "cancel_at_period_end",
            "cancel_at_period_end=false is not supported: a scheduled cancellation stands",
        )

    def act(ctx: Context) -> Reply:
        if at_period_end is None:
            return _one(ctx, subscriptions.get_subscription(ctx, sub_id))
        done = cancel_subscription(ctx, sub_id, at_period_end=True)
        return _one(ctx, done.subscription)

    return act


def cancel(call: Call) -> Action:
    """`DELETE /v1/subscriptions/{id}`: end now; `invoice_now=true` bills the partial period."""
    p = call.params
    sub_id = call.path_param("id")
    invoice_now = bool(p.flag("invoice_now"))
    if p.flag("prorate"):
        raise param_error("prorate", "prorate=true is not supported: nothing is prorated")

    def act(ctx: Context) -> Reply:
        done = cancel_subscription(ctx, sub_id, invoice_now=invoice_now)
        return _one(ctx, done.subscription)

    return act


def list_items(call: Call) -> Action:
    """`GET /v1/subscription_items?subscription=…`: the `url` of a subscription's items."""
    subscription = call.params.required("subscription")
    page = page_request(call.params)

    def act(ctx: Context) -> Reply:
        (sub,) = _render(ctx, [subscriptions.get_subscription(ctx, subscription)])
        items = sub["items"]["data"]
        return 200, listing(call.path, items, page, lambda i: i, key=lambda i: i["id"])

    return act


ROUTES: tuple[tuple[str, str, Spec], ...] = (
    ("POST", "/v1/subscriptions", Spec(create, aliases=ALIASES, kind=SUB)),
    ("GET", "/v1/subscriptions", Spec(list_all, kind=SUB, listed=True)),
    ("GET", "/v1/subscriptions/{id}", Spec(retrieve, kind=SUB)),
    ("POST", "/v1/subscriptions/{id}", Spec(update, kind=SUB)),
    ("DELETE", "/v1/subscriptions/{id}", Spec(cancel, kind=SUB)),
    ("GET", "/v1/subscription_items", Spec(list_items, kind="subscription_item", listed=True)),
)
