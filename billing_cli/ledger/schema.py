"""The ledger's DDL, as an ordered list of migrations keyed by `PRAGMA user_version`.

A migration is never edited once released; later issues append new ones. Every table is STRICT
so that a value of the wrong type is refused by SQLite as well as by the code.
"""

from __future__ import annotations

APPLICATION_ID = 0x42494C4C  # "BILL": marks a file as a billing ledger (PRAGMA application_id)

MIGRATIONS: list[str] = [
    # 1: catalog, events, roll-ups, invoices
    """
    CREATE TABLE meters (
        id TEXT PRIMARY KEY,
        created INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        display_name TEXT NOT NULL,
        event_name TEXT NOT NULL UNIQUE,
        formula TEXT NOT NULL CHECK (formula IN ('sum', 'count', 'last')),
        customer_key TEXT NOT NULL,
        value_key TEXT NOT NULL,
        event_time_window TEXT CHECK (event_time_window IN ('hour', 'day')),
        status TEXT NOT NULL CHECK (status IN ('active', 'inactive'))
    ) STRICT;

    CREATE TABLE products (
        id TEXT PRIMARY KEY,
        created INTEGER NOT NULL,
        name TEXT NOT NULL,
        description TEXT,
        unit_label TEXT,
        active INTEGER NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}'
    ) STRICT;

    CREATE TABLE prices (
        id TEXT PRIMARY KEY,
        created INTEGER NOT NULL,
        product TEXT NOT NULL REFERENCES products(id),
        currency TEXT NOT NULL,
        nickname TEXT,
        lookup_key TEXT,
        active INTEGER NOT NULL,
        interval TEXT NOT NULL,
        interval_count INTEGER NOT NULL,
        usage_type TEXT NOT NULL CHECK (usage_type IN ('metered', 'licensed')),
        meter TEXT REFERENCES meters(id),
        billing_scheme TEXT NOT NULL CHECK (billing_scheme IN ('per_unit', 'tiered')),
        unit_amount_decimal TEXT,
        tiers_mode TEXT,
        tiers TEXT,
        transform_divide_by INTEGER,
        transform_round TEXT,
        metadata TEXT NOT NULL DEFAULT '{}'
    ) STRICT;
    CREATE UNIQUE INDEX prices_active_lookup_key ON prices(lookup_key)
        WHERE active = 1 AND lookup_key IS NOT NULL;

    CREATE TABLE customers (
        id TEXT PRIMARY KEY,
        created INTEGER NOT NULL,
        name TEXT,
        email TEXT,
        invoice_prefix TEXT NOT NULL UNIQUE,
        next_invoice_sequence INTEGER NOT NULL DEFAULT 1,
        currency TEXT,
        balance INTEGER NOT NULL DEFAULT 0,
        metadata TEXT NOT NULL DEFAULT '{}'
    ) STRICT;

    CREATE TABLE subscriptions (
        id TEXT PRIMARY KEY,
        created INTEGER NOT NULL,
        customer TEXT NOT NULL REFERENCES customers(id),
        status TEXT NOT NULL CHECK (status IN ('trialing', 'active', 'canceled')),
        currency TEXT NOT NULL,
        interval TEXT NOT NULL,
        interval_count INTEGER NOT NULL,
        start_date INTEGER NOT NULL,
        billing_cycle_anchor INTEGER NOT NULL,
        trial_end INTEGER,
        cancel_at_period_end INTEGER NOT NULL DEFAULT 0,
        canceled_at INTEGER,
        ended_at INTEGER,
        metadata TEXT NOT NULL DEFAULT '{}'
    ) STRICT;
    CREATE INDEX subscriptions_customer ON subscriptions(customer);

    CREATE TABLE subscription_items (
        id TEXT PRIMARY KEY,
        created INTEGER NOT NULL,
        subscription TEXT NOT NULL REFERENCES subscriptions(id),
        price TEXT NOT NULL REFERENCES prices(id),
        quantity INTEGER,
        UNIQUE (subscription, price)
    ) STRICT;

    CREATE TABLE meter_events (
        seq INTEGER PRIMARY KEY,
        identifier TEXT NOT NULL UNIQUE,
        event_name TEXT NOT NULL,
        meter TEXT NOT NULL,
        customer TEXT NOT NULL,
        timestamp INTEGER NOT NULL,
        value TEXT,
        payload TEXT NOT NULL,
        received INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('accepted', 'late')),
        hash TEXT NOT NULL
    ) STRICT;
    CREATE INDEX meter_events_usage ON meter_events(meter, customer, timestamp);

    CREATE TABLE meter_event_adjustments (
        seq INTEGER PRIMARY KEY,
        type TEXT NOT NULL CHECK (type IN ('cancel', 'resolve')),
        identifier TEXT NOT NULL REFERENCES meter_events(identifier),
        invoice TEXT,
        created INTEGER NOT NULL,
        hash TEXT NOT NULL,
        UNIQUE (identifier, type)
    ) STRICT;

    CREATE TABLE usage_hourly (
        meter TEXT NOT NULL,
        customer TEXT NOT NULL,
        hour INTEGER NOT NULL,
        count INTEGER NOT NULL,
        sum TEXT NOT NULL,
        last_ts INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        last_value TEXT NOT NULL,
        recv_ts INTEGER NOT NULL,
        recv_seq INTEGER NOT NULL,
        recv_value TEXT NOT NULL,
        PRIMARY KEY (meter, customer, hour)
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE invoices (
        id TEXT PRIMARY KEY,
        created INTEGER NOT NULL,
        customer TEXT NOT NULL REFERENCES customers(id),
        subscription TEXT REFERENCES subscriptions(id),
        status TEXT NOT NULL
            CHECK (status IN ('draft', 'open', 'paid', 'void', 'uncollectible')),
        billing_reason TEXT NOT NULL,
        number TEXT UNIQUE,
        currency TEXT NOT NULL,
        period_start INTEGER NOT NULL,
        period_end INTEGER NOT NULL,
        subtotal INTEGER NOT NULL,
        total INTEGER NOT NULL,
        starting_balance INTEGER NOT NULL DEFAULT 0,
        ending_balance INTEGER,
        amount_due INTEGER NOT NULL,
        amount_paid INTEGER NOT NULL DEFAULT 0,
        computed_at INTEGER NOT NULL,
        finalized_at INTEGER,
        paid_at INTEGER,
        voided_at INTEGER,
        marked_uncollectible_at INTEGER,
        hash TEXT,
        UNIQUE (subscription, period_start, period_end, billing_reason)
    ) STRICT;
    CREATE INDEX invoices_customer ON invoices(customer);

    CREATE TABLE invoice_lines (
        id TEXT PRIMARY KEY,
        invoice TEXT NOT NULL REFERENCES invoices(id),
        position INTEGER NOT NULL,
        type TEXT NOT NULL CHECK (type IN ('subscription', 'late_usage')),
        subscription_item TEXT,
        price TEXT,
        meter TEXT,
        description TEXT NOT NULL,
        period_start INTEGER NOT NULL,
        period_end INTEGER NOT NULL,
        quantity_decimal TEXT NOT NULL,
        quantity INTEGER NOT NULL,
        unit_amount_decimal TEXT,
        amount INTEGER NOT NULL,
        proration INTEGER NOT NULL DEFAULT 0,
        explain TEXT NOT NULL
    ) STRICT;
    CREATE INDEX invoice_lines_invoice ON invoice_lines(invoice);
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
