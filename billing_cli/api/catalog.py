"""Meters, products, prices and customers (SPEC 1.1–1.3)."""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import replace

from billing_cli import ids
from billing_cli.api.account import (
    AddressInput,
    check_email,
    merge_address,
    parse_tax_ids,
)
from billing_cli.api.context import (
    METADATA_KEYS_MAX,
    Context,
    check_pattern,
    check_text,
    newest_first,
    parse_metadata,
)
from billing_cli.domain.models import Customer, Meter, Product
from billing_cli.errors import Conflict, InvalidInput, NotFound
from billing_cli.storage.port import LedgerStore

EVENT_NAME_RE = re.compile(r"[A-Za-z0-9_.:-]+")
INVOICE_PREFIX_RE = re.compile(r"[A-Z0-9]{3,12}")
FORMULAS = ("sum", "count", "last")
WINDOWS = ("hour", "day")


def check_choice(value: str, *, field: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise InvalidInput(f"{field} {value!r} is not one of {', '.join(choices)}")
    return value


def new_object_id(led: LedgerStore, table: str, prefix: str, wanted: str | None) -> str:
    if wanted is None:
        return ids.new_id(prefix)
    ids.validate_id(wanted, prefix)
    if led.id_exists(table, wanted):
        raise Conflict(f"{wanted} already exists", hint="choose another --id or omit it")
    return wanted


# -- meters ------------------------------------------------------------------------------
def create_meter(
    ctx: Context,
    *,
    display_name: str,
    event_name: str,
    aggregation: str,
    customer_key: str | None = None,
    value_key: str | None = None,
    event_time_window: str | None = None,
    meter_id: str | None = None,
) -> Meter:
    check_text(display_name, field="--display-name", max_len=250, required=True)
    check_text(event_name, field="--event-name", max_len=100, required=True)
    check_pattern(event_name, field="--event-name", pattern=EVENT_NAME_RE, example="api_tokens")
    check_choice(aggregation, field="--aggregation", choices=FORMULAS)
    customer_key = "stripe_customer_id" if customer_key is None else customer_key
    value_key = "value" if value_key is None else value_key
    check_text(customer_key, field="--customer-key", max_len=100, required=True)
    check_text(value_key, field="--value-key", max_len=100, required=True)
    if customer_key == value_key:
        raise InvalidInput(
            f"--customer-key and --value-key are both {customer_key!r}",
            hint="the customer and the value need two different payload keys",
        )
    if event_time_window is not None:
        check_choice(event_time_window, field="--event-time-window", choices=WINDOWS)
    with ctx.ledger(write=True) as led, led.write():
        new_id = new_object_id(led, "meters", "mtr_", meter_id)
        if led.get_meter_by_event_name(event_name):
            raise Conflict(
                f"a meter with event_name {event_name!r} already exists",
                hint="event names are unique across all meters, active or not",
            )
        meter = Meter(
            id=new_id,
            created=ctx.now_ts,
            display_name=display_name,
            event_name=event_name,
            formula=aggregation,
            customer_key=customer_key,
            value_key=value_key,
            event_time_window=event_time_window,
            status="active",
            updated=ctx.now_ts,
        )
        led.insert_meter(meter)
    return meter


def require_meter(led: LedgerStore, meter_id: str) -> Meter:
    meter = led.get_meter(meter_id) or led.get_meter_by_event_name(meter_id)
    if meter is None:
        raise NotFound(f"no meter {meter_id!r}", hint="`billing meter list` shows the meters")
    return meter


def get_meter(ctx: Context, meter_id: str) -> Meter:
    with ctx.ledger(write=False) as led:
        return require_meter(led, meter_id)


def list_meters(ctx: Context) -> list[Meter]:
    with ctx.ledger(write=False) as led:
        return newest_first(led.list_meters())


def update_meter(ctx: Context, meter_id: str, *, display_name: str) -> Meter:
    check_text(display_name, field="--display-name", max_len=250, required=True)
    with ctx.ledger(write=True) as led, led.write():
        meter = require_meter(led, meter_id)
        led.update_meter(meter.id, updated=ctx.now_ts, display_name=display_name)
        return require_meter(led, meter.id)


def set_meter_status(ctx: Context, meter_id: str, *, active: bool) -> Meter:
    wanted = "active" if active else "inactive"
    with ctx.ledger(write=True) as led, led.write():
        meter = require_meter(led, meter_id)
        if meter.status == wanted:
            raise Conflict(f"meter {meter.id} is already {wanted}")
        led.update_meter(meter.id, updated=ctx.now_ts, status=wanted)
        return require_meter(led, meter.id)


# -- products ----------------------------------------------------------------------------
def build_product(
    led: LedgerStore,
    now: int,
    *,
    name: str,
    description: str | None,
    unit_label: str | None,
    metadata: dict[str, str],
    product_id: str | None,
    name_field: str = "--name",
) -> Product:
    check_text(name, field=name_field, max_len=250, required=True)
    check_text(description, field="--description", max_len=1000)
    check_text(unit_label, field="--unit-label", max_len=12)
    product = Product(
        id=new_object_id(led, "products", "prod_", product_id),
        created=now,
        name=name,
        description=description,
        unit_label=unit_label,
        active=True,
        metadata=metadata,
    )
    led.insert_product(product)
    return product


def create_product(
    ctx: Context,
    *,
    name: str,
    description: str | None = None,
    unit_label: str | None = None,
    metadata: list[str] | None = None,
    product_id: str | None = None,
) -> Product:
    meta = parse_metadata(metadata)
    with ctx.ledger(write=True) as led, led.write():
        return build_product(
            led,
            ctx.now_ts,
            name=name,
            description=description,
            unit_label=unit_label,
            metadata=meta,
            product_id=product_id,
        )


def require_product(led: LedgerStore, product_id: str) -> Product:
    product = led.get_product(product_id)
    if product is None:
        raise NotFound(f"no product {product_id!r}", hint="`billing product list` shows them")
    return product


def get_product(ctx: Context, product_id: str) -> Product:
    with ctx.ledger(write=False) as led:
        return require_product(led, product_id)


def list_products(ctx: Context) -> list[Product]:
    with ctx.ledger(write=False) as led:
        return newest_first(led.list_products())


# -- customers ---------------------------------------------------------------------------
def _generate_prefix(led: LedgerStore) -> str:
    alphabet = string.ascii_uppercase + string.digits
    while True:
        prefix = "".join(secrets.choice(alphabet) for _ in range(8))
        if not led.invoice_prefix_taken(prefix):
            return prefix


def create_customer(
    ctx: Context,
    *,
    name: str | None = None,
    email: str | None = None,
    invoice_prefix: str | None = None,
    metadata: list[str] | None = None,
    customer_id: str | None = None,
    address: AddressInput | None = None,
    tax_ids: list[str] | None = None,
    buyer_reference: str | None = None,
) -> Customer:
    check_text(name, field="--name", max_len=256)
    check_text(buyer_reference, field="--buyer-reference", max_len=200)
    check_email(email)
    if invoice_prefix is not None:
        check_pattern(
            invoice_prefix, field="--invoice-prefix", pattern=INVOICE_PREFIX_RE, example="ALPACA"
        )
    meta = parse_metadata(metadata)
    parsed_address = merge_address(None, address or AddressInput())
    parsed_tax_ids = parse_tax_ids(tax_ids) or ()
    with ctx.ledger(write=True) as led, led.write():
        new_id = new_object_id(led, "customers", "cus_", customer_id)
        if invoice_prefix is None:
            invoice_prefix = _generate_prefix(led)
        elif led.invoice_prefix_taken(invoice_prefix):
            raise Conflict(
                f"invoice prefix {invoice_prefix!r} is already used by another customer",
                hint="invoice prefixes are unique; choose another or omit it",
            )
        customer = Customer(
            id=new_id,
            created=ctx.now_ts,
            name=name,
            email=email,
            invoice_prefix=invoice_prefix,
            next_invoice_sequence=1,
            currency=None,
            balance=0,
            metadata=meta,
            address=parsed_address,
            tax_ids=parsed_tax_ids,
            buyer_reference=buyer_reference or None,
        )
        led.insert_customer(customer)
    return customer


def update_customer(
    ctx: Context,
    customer_id: str,
    *,
    name: str | None = None,
    email: str | None = None,
    metadata: list[str] | None = None,
    address: AddressInput | None = None,
    tax_ids: list[str] | None = None,
    buyer_reference: str | None = None,
) -> Customer:
    """Change the given fields (Stripe's update: what is not given stays, "" clears, metadata
    keys merge). Finalized invoices keep the details they were issued with."""
    check_text(name, field="--name", max_len=256)
    check_email(email)
    check_text(buyer_reference, field="--buyer-reference", max_len=200)
    meta = parse_metadata(metadata)
    parsed_tax_ids = parse_tax_ids(tax_ids)
    with ctx.ledger(write=True) as led, led.write():
        current = require_customer(led, customer_id)
        merged_meta = {**current.metadata, **meta}
        if len(merged_meta) > METADATA_KEYS_MAX:
            raise InvalidInput(
                f"{len(merged_meta)} metadata keys after the update",
                hint=f"at most {METADATA_KEYS_MAX} are allowed",
            )
        customer = replace(
            current,
            name=current.name if name is None else (name or None),
            email=current.email if email is None else (email or None),
            metadata=merged_meta,
            address=merge_address(current.address, address or AddressInput()),
            tax_ids=current.tax_ids if parsed_tax_ids is None else parsed_tax_ids,
            buyer_reference=current.buyer_reference
            if buyer_reference is None
            else (buyer_reference or None),
        )
        led.update_customer(customer)
    return customer


def require_customer(led: LedgerStore, customer_id: str) -> Customer:
    customer = led.get_customer(customer_id)
    if customer is None:
        raise NotFound(f"no customer {customer_id!r}", hint="`billing customer list` shows them")
    return customer


def get_customer(ctx: Context, customer_id: str) -> Customer:
    with ctx.ledger(write=False) as led:
        return require_customer(led, customer_id)


def list_customers(ctx: Context) -> list[Customer]:
    with ctx.ledger(write=False) as led:
        return newest_first(led.list_customers())
