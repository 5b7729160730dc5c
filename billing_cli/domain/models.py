"""Frozen domain records, named as Stripe names them so `--json` reads like Stripe's objects.

Amounts are `int` minor units, unit prices and quantities `Decimal`, times `int` Unix seconds
(converted to aware UTC datetimes at the edges by `clock`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class Meter:
    id: str
    created: int
    display_name: str
    event_name: str
    formula: str  # sum | count | last
    customer_key: str  # customer_mapping.event_payload_key
    value_key: str  # value_settings.event_payload_key
    event_time_window: str | None  # None | "hour" | "day"
    status: str  # active | inactive
    updated: int


@dataclass(frozen=True)
class Product:
    id: str
    created: int
    name: str
    description: str | None
    unit_label: str | None
    active: bool
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Tier:
    up_to: int | None  # None means "inf"
    unit_amount_decimal: Decimal | None
    flat_amount_decimal: Decimal | None


@dataclass(frozen=True)
class Price:
    id: str
    created: int
    product: str
    currency: str
    nickname: str | None
    lookup_key: str | None
    active: bool
    interval: str  # day | week | month | year
    interval_count: int
    usage_type: str  # metered | licensed
    meter: str | None
    billing_scheme: str  # per_unit | tiered
    unit_amount_decimal: Decimal | None
    tiers_mode: str | None  # graduated | volume
    tiers: tuple[Tier, ...] = ()
    transform_divide_by: int | None = None
    transform_round: str | None = None  # up | down
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Address:
    """Stripe's `address`; `country` is an ISO 3166-1 alpha-2 code."""

    line1: str | None = None
    line2: str | None = None
    postal_code: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None


@dataclass(frozen=True)
class TaxId:
    """Stripe's `tax_id` as an invoice shows it (`customer_tax_ids[]`): `type` and `value`."""

    type: str  # eu_vat | gb_vat | ch_vat | no_vat | unknown
    value: str


@dataclass(frozen=True)
class Customer:
    id: str
    created: int
    name: str | None
    email: str | None
    invoice_prefix: str
    next_invoice_sequence: int
    currency: str | None
    balance: int
    metadata: dict[str, str] = field(default_factory=dict)
    address: Address | None = None
    tax_ids: tuple[TaxId, ...] = ()
    buyer_reference: str | None = None  # BT-10, the Leitweg-ID German public buyers require


@dataclass(frozen=True)
class Account:
    """The seller: Stripe's account `business_profile` and invoice settings, one per ledger."""

    business_name: str | None = None
    address: Address | None = None
    tax_id: str | None = None  # the seller's VAT id, printed on every invoice
    email: str | None = None
    invoice_footer: str | None = None
    updated: int | None = None
    iban: str | None = None  # where customers pay (e-invoices carry it)
    bic: str | None = None


@dataclass(frozen=True)
class Parties:
    """Seller and buyer as an invoice names them. Frozen into the invoice when it is finalized
    (and covered by its hash), so a later change of address never alters an issued invoice."""

    account_name: str | None
    account_address: Address | None
    account_tax_id: str | None
    account_email: str | None
    footer: str | None
    customer_name: str | None
    customer_email: str | None
    customer_address: Address | None
    customer_tax_ids: tuple[TaxId, ...] = ()
    account_iban: str | None = None
    account_bic: str | None = None
    customer_buyer_reference: str | None = None


@dataclass(frozen=True)
class SubscriptionItem:
    id: str
    created: int
    subscription: str
    price: str
    quantity: int | None  # licensed only


@dataclass(frozen=True)
class Subscription:
    id: str
    created: int
    customer: str
    status: str  # trialing | active | canceled
    currency: str
    interval: str
    interval_count: int
    start_date: int
    billing_cycle_anchor: int
    trial_end: int | None
    cancel_at_period_end: bool
    canceled_at: int | None
    ended_at: int | None
    items: tuple[SubscriptionItem, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)
    default_tax_rates: tuple[str, ...] = ()  # tax rate ids, applied to every line in order


@dataclass(frozen=True)
class TaxRate:
    """Stripe's `tax_rate`. `percentage` and `inclusive` never change once an invoice used the
    rate (a new rate replaces it, as in Stripe)."""

    id: str
    created: int
    display_name: str
    percentage: Decimal
    inclusive: bool
    active: bool = True
    description: str | None = None
    country: str | None = None
    jurisdiction: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
