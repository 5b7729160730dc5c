"""Reads and writes of the catalog: meters, products, prices, customers, subscriptions."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal

from billing_cli.domain import parties
from billing_cli.domain.models import (
    Address,
    Customer,
    Meter,
    Price,
    Product,
    Subscription,
    SubscriptionItem,
    TaxId,
    Tier,
)
from billing_cli.domain.money import decimal_str
from billing_cli.storage.sqlite.catalog_chain import seal


def _dumps(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _text(value: Decimal | None) -> str | None:
    """Canonical decimal text (`0.0000001`, never `1E-7`): what every decimal column holds."""
    return None if value is None else decimal_str(value)


def tiers_to_json(tiers: tuple[Tier, ...]) -> str:
    return _dumps(
        [
            {
                "up_to": t.up_to,
                "unit_amount_decimal": _text(t.unit_amount_decimal),
                "flat_amount_decimal": _text(t.flat_amount_decimal),
            }
            for t in tiers
        ]
    )


def tiers_from_json(text: str | None) -> tuple[Tier, ...]:
    if not text:
        return ()
    return tuple(
        Tier(
            up_to=t["up_to"],
            unit_amount_decimal=_dec(t["unit_amount_decimal"]),
            flat_amount_decimal=_dec(t["flat_amount_decimal"]),
        )
        for t in json.loads(text)
    )


def _meter(row: sqlite3.Row) -> Meter:
    return Meter(**{k: row[k] for k in row.keys()})


def _product(row: sqlite3.Row) -> Product:
    data = dict(row)
    data["active"] = bool(data["active"])
    data["metadata"] = json.loads(data["metadata"])
    return Product(**data)


def _price(row: sqlite3.Row) -> Price:
    data = dict(row)
    data["active"] = bool(data["active"])
    data["metadata"] = json.loads(data["metadata"])
    data["unit_amount_decimal"] = _dec(data["unit_amount_decimal"])
    data["tiers"] = tiers_from_json(data["tiers"])
    return Price(**data)


def _customer(row: sqlite3.Row) -> Customer:
    data = dict(row)
    data["metadata"] = json.loads(data["metadata"])
    data["address"] = parties.address_from_data(json.loads(data["address"] or "null"))
    data["tax_ids"] = tuple(TaxId(t["type"], t["value"]) for t in json.loads(data["tax_ids"]))
    return Customer(**data)


def address_json(address: Address | None) -> str | None:
    return None if address is None else _dumps(parties.address_data(address))


def tax_ids_json(tax_ids: tuple[TaxId, ...]) -> str:
    return _dumps([{"type": t.type, "value": t.value} for t in tax_ids])


class CatalogStore:
    conn: sqlite3.Connection

    # -- meters ---------------------------------------------------------------------------
    def insert_meter(self, m: Meter) -> None:
        self.conn.execute(
            "INSERT INTO meters (id, created, updated, display_name, event_name, formula,"
            " customer_key, value_key, event_time_window, status) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                m.id,
                m.created,
                m.updated,
                m.display_name,
                m.event_name,
                m.formula,
                m.customer_key,
                m.value_key,
                m.event_time_window,
                m.status,
            ),
        )
        seal(self.conn, "meters", m.id)

    def get_meter(self, meter_id: str) -> Meter | None:
        row = self.conn.execute("SELECT * FROM meters WHERE id = ?", (meter_id,)).fetchone()
        return _meter(row) if row else None

    def get_meter_by_event_name(self, event_name: str) -> Meter | None:
        row = self.conn.execute(
            "SELECT * FROM meters WHERE event_name = ?", (event_name,)
        ).fetchone()
        return _meter(row) if row else None

    def list_meters(self) -> list[Meter]:
        return [
            _meter(r) for r in self.conn.execute("SELECT * FROM meters ORDER BY created, rowid")
        ]

    def update_meter(self, meter_id: str, *, updated: int, **fields: object) -> None:
        sets = ", ".join(f"{name} = ?" for name in fields)
        self.conn.execute(
            f"UPDATE meters SET {sets}, updated = ? WHERE id = ?",
            (*fields.values(), updated, meter_id),
        )
        seal(self.conn, "meters", meter_id)

    # -- products -------------------------------------------------------------------------
    def insert_product(self, p: Product) -> None:
        self.conn.execute(
            "INSERT INTO products (id, created, name, description, unit_label, active, metadata)"
            " VALUES (?,?,?,?,?,?,?)",
            (
                p.id,
                p.created,
                p.name,
                p.description,
                p.unit_label,
                int(p.active),
                _dumps(p.metadata),
            ),
        )
        seal(self.conn, "products", p.id)

    def get_product(self, product_id: str) -> Product | None:
        row = self.conn.execute("SELECT * FROM products WHERE id = ?", (product_id,)).fetchone()
        return _product(row) if row else None

    def list_products(self) -> list[Product]:
        return [
            _product(r) for r in self.conn.execute("SELECT * FROM products ORDER BY created, rowid")
        ]

    # -- prices ---------------------------------------------------------------------------
    def insert_price(self, p: Price) -> None:
        self.conn.execute(
            "INSERT INTO prices (id, created, product, currency, nickname, lookup_key, active,"
            " interval, interval_count, usage_type, meter, billing_scheme, unit_amount_decimal,"
            " tiers_mode, tiers, transform_divide_by, transform_round, metadata)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                p.id,
                p.created,
                p.product,
                p.currency,
                p.nickname,
                p.lookup_key,
                int(p.active),
                p.interval,
                p.interval_count,
                p.usage_type,
                p.meter,
                p.billing_scheme,
                _text(p.unit_amount_decimal),
                p.tiers_mode,
                tiers_to_json(p.tiers) if p.tiers else None,
                p.transform_divide_by,
                p.transform_round,
                _dumps(p.metadata),
            ),
        )
        seal(self.conn, "prices", p.id)

    def get_price(self, price_id: str) -> Price | None:
        row = self.conn.execute("SELECT * FROM prices WHERE id = ?", (price_id,)).fetchone()
        return _price(row) if row else None

    def get_price_by_lookup_key(self, lookup_key: str) -> Price | None:
        row = self.conn.execute(
            "SELECT * FROM prices WHERE lookup_key = ? AND active = 1", (lookup_key,)
        ).fetchone()
        return _price(row) if row else None

    def list_prices(self) -> list[Price]:
        return [
            _price(r) for r in self.conn.execute("SELECT * FROM prices ORDER BY created, rowid")
        ]

    # -- customers ------------------------------------------------------------------------
    def insert_customer(self, c: Customer) -> None:
        self.conn.execute(
            "INSERT INTO customers (id, created, name, email, invoice_prefix,"
            " next_invoice_sequence, currency, balance, metadata, address, tax_ids,"
            " buyer_reference) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                c.id,
                c.created,
                c.name,
                c.email,
                c.invoice_prefix,
                c.next_invoice_sequence,
                c.currency,
                c.balance,
                _dumps(c.metadata),
                address_json(c.address),
                tax_ids_json(c.tax_ids),
                c.buyer_reference,
            ),
        )
        seal(self.conn, "customers", c.id)

    def update_customer(self, c: Customer) -> None:
        """Write the fields `customer update` may change (Stripe's mutable customer fields)."""
        self.conn.execute(
            "UPDATE customers SET name = ?, email = ?, metadata = ?, address = ?, tax_ids = ?,"
            " buyer_reference = ? WHERE id = ?",
            (
                c.name,
                c.email,
                _dumps(c.metadata),
                address_json(c.address),
                tax_ids_json(c.tax_ids),
                c.buyer_reference,
                c.id,
            ),
        )
        seal(self.conn, "customers", c.id)

    def get_customer(self, customer_id: str) -> Customer | None:
        row = self.conn.execute("SELECT * FROM customers WHERE id = ?", (customer_id,)).fetchone()
        return _customer(row) if row else None

    def invoice_prefix_taken(self, prefix: str) -> bool:
        row = self.conn.execute("SELECT 1 FROM customers WHERE invoice_prefix = ?", (prefix,))
        return row.fetchone() is not None

    def list_customers(self) -> list[Customer]:
        return [
            _customer(r)
            for r in self.conn.execute("SELECT * FROM customers ORDER BY created, rowid")
        ]

    def customer_ids(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT id FROM customers")}

    def set_customer_currency(self, customer_id: str, currency: str) -> None:
        self.conn.execute("UPDATE customers SET currency = ? WHERE id = ?", (currency, customer_id))
        seal(self.conn, "customers", customer_id)

    def id_exists(self, table: str, object_id: str) -> bool:
        assert table in {
            "meters",
            "products",
            "prices",
            "customers",
            "subscriptions",
            "tax_rates",
            "credit_grants",
        }
        row = self.conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (object_id,)).fetchone()
        return row is not None

    # -- subscriptions --------------------------------------------------------------------
    def insert_subscription(self, s: Subscription) -> None:
        self.conn.execute(
            "INSERT INTO subscriptions (id, created, customer, status, currency, interval,"
            " interval_count, start_date, billing_cycle_anchor, trial_end, cancel_at_period_end,"
            " canceled_at, ended_at, metadata) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                s.id,
                s.created,
                s.customer,
                s.status,
                s.currency,
                s.interval,
                s.interval_count,
                s.start_date,
                s.billing_cycle_anchor,
                s.trial_end,
                int(s.cancel_at_period_end),
                s.canceled_at,
                s.ended_at,
                _dumps(s.metadata),
            ),
        )
        self.conn.executemany(
            "INSERT INTO subscription_items (id, created, subscription, price, quantity)"
            " VALUES (?,?,?,?,?)",
            [(i.id, i.created, i.subscription, i.price, i.quantity) for i in s.items],
        )
        self.conn.executemany(
            "INSERT INTO subscription_tax_rates (subscription, position, tax_rate) VALUES (?,?,?)",
            [(s.id, position, rate) for position, rate in enumerate(s.default_tax_rates)],
        )
        seal(self.conn, "subscriptions", s.id)
        for item in s.items:
            seal(self.conn, "subscription_items", item.id)
        for position in range(len(s.default_tax_rates)):
            seal(self.conn, "subscription_tax_rates", s.id, position)

    def _subscriptions(self, where: str, params: tuple) -> list[Subscription]:
        rows = self.conn.execute(
            f"SELECT * FROM subscriptions {where} ORDER BY created, rowid", params
        ).fetchall()
        result = []
        for row in rows:
            items = tuple(
                SubscriptionItem(**dict(r))
                for r in self.conn.execute(
                    "SELECT * FROM subscription_items WHERE subscription = ?"
                    " ORDER BY created, rowid",
                    (row["id"],),
                )
            )
            rates = tuple(
                r[0]
                for r in self.conn.execute(
                    "SELECT tax_rate FROM subscription_tax_rates WHERE subscription = ?"
                    " ORDER BY position",
                    (row["id"],),
                )
            )
            data = dict(row)
            data["cancel_at_period_end"] = bool(data["cancel_at_period_end"])
            data["metadata"] = json.loads(data["metadata"])
            result.append(Subscription(**data, items=items, default_tax_rates=rates))
        return result

    def get_subscription(self, subscription_id: str) -> Subscription | None:
        found = self._subscriptions("WHERE id = ?", (subscription_id,))
        return found[0] if found else None

    def list_subscriptions(self, customer: str | None = None) -> list[Subscription]:
        if customer is None:
            return self._subscriptions("", ())
        return self._subscriptions("WHERE customer = ?", (customer,))

    def items_on_meter(self, customer: str, meter: str) -> list[tuple[str, str, int | None]]:
        """(item id, subscription id, subscription ended_at) of the customer's items on a meter."""
        rows = self.conn.execute(
            "SELECT si.id, s.id, s.ended_at FROM subscription_items si"
            " JOIN subscriptions s ON s.id = si.subscription"
            " JOIN prices p ON p.id = si.price"
            " WHERE s.customer = ? AND p.meter = ?",
            (customer, meter),
        )
        return [tuple(r) for r in rows]

    def update_subscription(self, subscription_id: str, **fields: object) -> None:
        sets = ", ".join(f"{name} = ?" for name in fields)
        self.conn.execute(
            f"UPDATE subscriptions SET {sets} WHERE id = ?", (*fields.values(), subscription_id)
        )
        seal(self.conn, "subscriptions", subscription_id)
