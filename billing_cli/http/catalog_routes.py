"""`/v1/products`, `/v1/prices`, `/v1/customers`: create, retrieve, list."""

from __future__ import annotations

import re
from typing import Any

from billing_cli.api import catalog, prices
from billing_cli.api.account import AddressInput
from billing_cli.api.context import Context
from billing_cli.http.endpoint import Action, Call, Reply, Spec
from billing_cli.http.forms import Params
from billing_cli.http.lists import listing, page_request
from billing_cli.present.stripe_json import customer_dict, price_dict, product_dict

PRICE_ALIASES = {
    "product-name": "product_data[name]",
    "unit-amount": "unit_amount",
    "unit-amount-decimal": "unit_amount_decimal",
    "billing-scheme": "billing_scheme",
    "tiers-mode": "tiers_mode",
    "tier": "tiers",
    "tiers-json": "tiers",
    "transform-divide-by": "transform_quantity[divide_by]",
    "transform-round": "transform_quantity[round]",
    "interval": "recurring[interval]",
    "interval-count": "recurring[interval_count]",
    "usage-type": "recurring[usage_type]",
    "meter": "recurring[meter]",
    "lookup-key": "lookup_key",
    "product": "product",
}
_WHOLE = re.compile(r"[0-9]{1,18}", re.ASCII)


# -- products ------------------------------------------------------------------------------


def create_product(call: Call) -> Action:
    p = call.params
    name = p.required("name")
    description = p.text("description")
    unit_label = p.text("unit_label")
    product_id = p.text("id")
    metadata = p.metadata()

    def act(ctx: Context) -> Reply:
        product = catalog.create_product(
            ctx,
            name=name,
            description=description,
            unit_label=unit_label,
            metadata=metadata,
            product_id=product_id,
        )
        return 200, product_dict(product)

    return act


def list_products(call: Call) -> Action:
    active = call.params.flag("active")
    page = page_request(call.params)

    def act(ctx: Context) -> Reply:
        found = [x for x in catalog.list_products(ctx) if active in (None, x.active)]
        return 200, listing(call.path, found, page, product_dict)

    return act


def retrieve_product(call: Call) -> Action:
    product_id = call.path_param("id")
    return lambda ctx: (200, product_dict(catalog.get_product(ctx, product_id)))


# -- prices --------------------------------------------------------------------------------


def _tiers(p: Params) -> list[dict[str, Any]] | None:
    """Form-encoded tiers as Stripe's JSON `tiers` array: whole numbers become integers (the
    form has only text), so the api layer's tier rules see what a JSON client would send."""
    if "tiers" not in p:
        return None
    tiers = []
    for tier in p.hashes("tiers"):
        entry: dict[str, Any] = {}
        for key in ("up_to", "unit_amount", "unit_amount_decimal", "flat_amount",
                    "flat_amount_decimal"):  # fmt: skip
            value = tier.text(key)
            if value is None:
                continue
            integer = key in ("up_to", "unit_amount", "flat_amount") and _WHOLE.fullmatch(value)
            entry[key] = int(value) if integer else value
        tiers.append(entry)
    return tiers


def create_price(call: Call) -> Action:
    p = call.params
    currency = p.required("currency")
    product = p.text("product")
    product_name = None
    if (data := p.sub("product_data")) is not None:
        product_name = data.required("name")
    recurring = p.sub("recurring", required=True)
    assert recurring is not None
    interval = recurring.required("interval")
    interval_count = recurring.int_text("interval_count")
    usage_type = recurring.text("usage_type") or "licensed"  # Stripe's default
    meter = recurring.text("meter")
    transform = p.sub("transform_quantity")
    divide_by = transform.int_text("divide_by") if transform else None
    round_mode = transform.text("round") if transform else None
    tiers = _tiers(p)
    fields = {
        "unit_amount": p.int_text("unit_amount"),
        "unit_amount_decimal": p.text("unit_amount_decimal"),
        "billing_scheme": p.text("billing_scheme"),
        "tiers_mode": p.text("tiers_mode"),
        "nickname": p.text("nickname"),
        "lookup_key": p.text("lookup_key"),
        "metadata": p.metadata(),
        "price_id": p.text("id"),
    }

    def act(ctx: Context) -> Reply:
        price = prices.create_price(
            ctx,
            currency=currency,
            interval=interval,
            usage_type=usage_type,
            product=product,
            product_name=product_name,
            tiers=prices.parse_tiers(None, tiers) if tiers is not None else (),
            transform_divide_by=divide_by,
            transform_round=round_mode,
            interval_count=interval_count or 1,
            meter=meter,
            **fields,  # type: ignore[arg-type]
        )
        return 200, price_dict(price)

    return act


def list_prices(call: Call) -> Action:
    p = call.params
    active = p.flag("active")
    product = p.text("product")
    currency = p.text("currency")
    lookup_keys = p.array("lookup_keys")
    page = page_request(p)

    def act(ctx: Context) -> Reply:
        found = [
            x
            for x in prices.list_prices(ctx)
            if active in (None, x.active)
            and product in (None, x.product)
            and currency in (None, x.currency)
            and (not lookup_keys or x.lookup_key in lookup_keys)
        ]
        return 200, listing(call.path, found, page, price_dict)

    return act


def retrieve_price(call: Call) -> Action:
    price_id = call.path_param("id")
    return lambda ctx: (200, price_dict(prices.get_price(ctx, price_id)))


# -- customers -----------------------------------------------------------------------------


def _address(p: Params) -> AddressInput | None:
    """Stripe's `address[line1]`, `address[postal_code]`, …; "" clears a field."""
    address = p.sub("address")
    if address is None:
        return None
    fields = ("line1", "line2", "postal_code", "city", "state", "country")
    return AddressInput(*(address.text(f) for f in fields))


def create_customer(call: Call) -> Action:
    p = call.params
    name = p.text("name")
    email = p.text("email")
    invoice_prefix = p.text("invoice_prefix")
    metadata = p.metadata()
    address = _address(p)
    tax_ids = []
    for tax_id in p.hashes("tax_id_data"):
        tax_id.text("type")  # Stripe's; the ledger tells the type from the value (DE… is eu_vat)
        tax_ids.append(tax_id.required("value"))

    def act(ctx: Context) -> Reply:
        customer = catalog.create_customer(
            ctx,
            name=name,
            email=email,
            invoice_prefix=invoice_prefix,
            metadata=metadata,
            address=address,
            tax_ids=tax_ids or None,
        )
        return 200, customer_dict(customer)

    return act


def update_customer(call: Call) -> Action:
    """What the CLI's `customer update` changes: name, email, metadata, address."""
    p = call.params
    customer_id = call.path_param("id")
    name = p.text("name")
    email = p.text("email")
    metadata = p.metadata()
    address = _address(p)

    def act(ctx: Context) -> Reply:
        customer = catalog.update_customer(
            ctx, customer_id, name=name, email=email, metadata=metadata, address=address
        )
        return 200, customer_dict(customer)

    return act


def list_customers(call: Call) -> Action:
    email = call.params.text("email")
    page = page_request(call.params)

    def act(ctx: Context) -> Reply:
        found = [c for c in catalog.list_customers(ctx) if email in (None, c.email)]
        return 200, listing(call.path, found, page, customer_dict)

    return act


def retrieve_customer(call: Call) -> Action:
    customer_id = call.path_param("id")
    return lambda ctx: (200, customer_dict(catalog.get_customer(ctx, customer_id)))


ROUTES: tuple[tuple[str, str, Spec], ...] = (
    ("POST", "/v1/products", Spec(create_product, kind="product")),
    ("GET", "/v1/products", Spec(list_products, kind="product", listed=True)),
    ("GET", "/v1/products/{id}", Spec(retrieve_product, kind="product")),
    ("POST", "/v1/prices", Spec(create_price, aliases=PRICE_ALIASES, kind="price")),
    ("GET", "/v1/prices", Spec(list_prices, kind="price", listed=True)),
    ("GET", "/v1/prices/{id}", Spec(retrieve_price, kind="price")),
    (
        "POST",
        "/v1/customers",
        Spec(create_customer, aliases={"invoice-prefix": "invoice_prefix"}, kind="customer"),
    ),
    ("GET", "/v1/customers", Spec(list_customers, kind="customer", listed=True)),
    ("GET", "/v1/customers/{id}", Spec(retrieve_customer, kind="customer")),
    ("POST", "/v1/customers/{id}", Spec(update_customer, kind="customer")),
)
