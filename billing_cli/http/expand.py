"""Stripe's `expand[]`: an id in an answer replaced by the object it names.

`expand[]=customer` on a subscription answers `customer` as a customer object, not its id;
on a list the path starts at each item (`expand[]=data.customer`), and it reaches through
embedded lists and objects (`items.data.price.product`) and through objects it expanded
itself (`latest_invoice.customer`), at most four levels deep, as Stripe allows. Only the fields
Stripe declares expandable (and billing_cli has) are: any other path is refused with Stripe's
400 "This property cannot be expanded", before the endpoint runs, so a typo never goes unseen
and never follows a change that was made. What is there already is accepted as it is: an
embedded object (`items.data.price`) and the fields Stripe sends only when asked for and
billing_cli always sends (`data.tiers` on a price list, which Stripe's clients must ask for).
`explain` is billing_cli's own: the computation of an invoice's lines, asked for the way
Stripe's clients ask for more of an object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from billing_cli.api import catalog, credits, invoices, prices, subscriptions
from billing_cli.api.context import Context
from billing_cli.http.forms import Params, param_error
from billing_cli.present.credits_json import credit_grant_dict
from billing_cli.present.invoice_json import invoice_dict
from billing_cli.present.stripe_json import (
    customer_dict,
    price_dict,
    product_dict,
    subscription_dict,
)

MAX_DEPTH = 4  # Stripe: "You can expand recursively … up to a maximum of four levels"

ID, OBJECT, LIST, FLAG, INCLUDED = "id", "object", "list", "flag", "included"

# object kind → field → (kind of what it holds, how: an expandable id, an embedded object, an
# embedded list object, a flag the endpoint reads itself, or a field Stripe sends only when it
# is expanded and billing_cli always sends: a price's `tiers`, a customer's `tax_ids`)
SCHEMA: dict[str, dict[str, tuple[str, str]]] = {
    "billing.meter": {},
    "product": {"default_price": ("price", ID)},
    "price": {"product": ("product", ID), "tiers": ("", INCLUDED)},
    "customer": {"tax_ids": ("", INCLUDED)},
    "subscription": {
        "customer": ("customer", ID),
        "latest_invoice": ("invoice", ID),
        "items": ("subscription_item", LIST),
    },
    "subscription_item": {"price": ("price", OBJECT)},
    "invoice": {
        "customer": ("customer", ID),
        "parent": ("invoice.parent", OBJECT),
        "lines": ("line_item", LIST),
        "explain": ("", FLAG),
    },
    "invoice.parent": {"subscription_details": ("invoice.subscription_details", OBJECT)},
    "invoice.subscription_details": {"subscription": ("subscription", ID)},
    "line_item": {"explain": ("", FLAG)},
    "billing.credit_grant": {"customer": ("customer", ID)},
    "billing.credit_balance_summary": {"customer": ("customer", ID)},
    "billing.credit_balance_transaction": {"credit_grant": ("billing.credit_grant", ID)},
}


@dataclass(frozen=True)
class Step:
    field: str
    kind: str
    how: str


Path = tuple[Step, ...]


def _cannot(path: str) -> Exception:
    return param_error("expand", f"This property cannot be expanded ({path}).")


def _resolve(kind: str, text: str, listed: bool) -> Path:
    parts = text.split(".")
    if listed:
        if parts[0] != "data" or len(parts) < 2:
            raise _cannot(text)  # a list's own fields hold no ids
        parts = parts[1:]
    steps: list[Step] = []
    i = 0
    while i < len(parts):
        field = SCHEMA.get(kind, {}).get(parts[i])
        if field is None:
            raise _cannot(text)
        kind, how = field
        steps.append(Step(parts[i], kind, how))
        i += 1
        if how == LIST:  # a list object: the path goes on through its `data`
            if i >= len(parts) or parts[i] != "data":
                raise _cannot(text)
            i += 1
    if steps[-1].how == LIST:  # a list is no object: Stripe refuses to expand it
        raise _cannot(text)
    if sum(step.how == ID for step in steps) > MAX_DEPTH:
        raise param_error("expand", f"{text} expands more than {MAX_DEPTH} levels.")
    return tuple(steps)


@dataclass(frozen=True)
class Expansion:
    """The `expand[]` of one request, checked against the kind of object it answers."""

    texts: tuple[str, ...]
    paths: tuple[Path, ...]
    listed: bool

    def wants(self, text: str) -> bool:
        return text in self.texts

    def apply(self, ctx: Context, data: Any) -> Any:
        """`data` with every id on an expanded path replaced by its object (in place)."""
        fetched: dict[tuple[str, str], Any] = {}
        for path in sorted(self.paths, key=len):  # `a` before `a.b`: b is found inside a
            targets = data["data"] if self.listed else [data]
            for target in targets:
                _walk(ctx, target, path, fetched)
        return data


def read_expansion(params: Params, kind: str | None, *, listed: bool = False) -> Expansion:
    texts: list[str] = []
    for index, item in enumerate(params.array("expand")):
        if not isinstance(item, str) or not item:
            raise param_error(f"expand[{index}]", f"Invalid string: expand[{index}]")
        texts.append(item)
    paths = tuple(_resolve(kind or "", text, listed) for text in texts)
    return Expansion(tuple(texts), paths, listed)


def _walk(ctx: Context, node: Any, path: Path, fetched: dict[tuple[str, str], Any]) -> None:
    if not isinstance(node, dict) or not path:
        return
    step, rest = path[0], path[1:]
    value = node.get(step.field)
    if step.how == ID and isinstance(value, str):
        key = (step.kind, value)
        if key not in fetched:
            fetched[key] = FETCH[step.kind](ctx, value)
        node[step.field] = value = fetched[key]
    if step.how == LIST and isinstance(value, dict):
        for item in value.get("data", []):
            _walk(ctx, item, rest, fetched)
    else:
        _walk(ctx, value, rest, fetched)


def _subscription(ctx: Context, subscription_id: str) -> dict[str, Any]:
    sub = subscriptions.get_subscription(ctx, subscription_id)
    return subscription_dict(sub, subscriptions.prices_of(ctx, [sub]), ctx.now_ts)


def _invoice(ctx: Context, invoice_id: str) -> dict[str, Any]:
    inv = invoices.get_invoice(ctx, invoice_id)
    customer = catalog.get_customer(ctx, inv.customer)
    return invoice_dict(inv, customer, products=prices.products_by_price(ctx))


FETCH: dict[str, Callable[[Context, str], Any]] = {
    "customer": lambda ctx, i: customer_dict(catalog.get_customer(ctx, i)),
    "product": lambda ctx, i: product_dict(catalog.get_product(ctx, i)),
    "price": lambda ctx, i: price_dict(prices.get_price(ctx, i)),
    "subscription": _subscription,
    "invoice": _invoice,
    "billing.credit_grant": lambda ctx, i: credit_grant_dict(credits.get_grant(ctx, i)),
}
