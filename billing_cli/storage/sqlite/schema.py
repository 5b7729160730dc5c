"""The ledger's DDL, as an ordered list of migrations keyed by `PRAGMA user_version`.

A migration is never edited once released; later issues append new ones. Every table is STRICT
so that a value of the wrong type is refused by SQLite as well as by the code.
"""

from __future__ import annotations

from billing_cli.storage.sqlite.catalog_chain import MIGRATION as CATALOG_CHAIN
from billing_cli.storage.sqlite.schema_credits import CREDITS
from billing_cli.storage.sqlite.schema_documents import EINVOICE, SELLER_AND_BUYER, TAXES

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
    # 2: append-only, enforced by SQLite as well as by the code (SPEC 6, 4.5). The triggers catch
    # a well-meant "fix" made with the sqlite3 shell; a determined editor can drop them, which
    # the hash chain then reveals. Events get BEFORE UPDATE/DELETE triggers only, so bulk
    # inserts pay nothing. Drafts stay free: they are recomputed and may be deleted.
    """
    CREATE TRIGGER meter_events_no_update BEFORE UPDATE ON meter_events
    BEGIN
        SELECT RAISE(
            ABORT,
            'billing ledger is append-only: meter events are never updated'
        );
    END;
    CREATE TRIGGER meter_events_no_delete BEFORE DELETE ON meter_events
    BEGIN
        SELECT RAISE(
            ABORT,
            'billing ledger is append-only: meter events are never deleted'
        );
    END;

    CREATE TRIGGER meter_event_adjustments_no_update BEFORE UPDATE ON meter_event_adjustments
    BEGIN
        SELECT RAISE(
            ABORT,
            'billing ledger is append-only: meter event adjustments are never updated'
        );
    END;
    CREATE TRIGGER meter_event_adjustments_no_delete BEFORE DELETE ON meter_event_adjustments
    BEGIN
        SELECT RAISE(
            ABORT,
            'billing ledger is append-only: meter event adjustments are never deleted'
        );
    END;

    CREATE TRIGGER invoices_finalized_no_delete BEFORE DELETE ON invoices
    WHEN OLD.status <> 'draft'
    BEGIN
        SELECT RAISE(
            ABORT,
            'billing ledger is append-only: a finalized invoice is never deleted'
        );
    END;
    CREATE TRIGGER invoices_draft_transition BEFORE UPDATE ON invoices
    WHEN OLD.status = 'draft' AND NEW.status NOT IN ('draft', 'open')
    BEGIN
        SELECT RAISE(
            ABORT,
            'billing ledger is append-only: a draft invoice only becomes open'
        );
    END;
    CREATE TRIGGER invoices_finalized_transition BEFORE UPDATE ON invoices
    WHEN OLD.status <> 'draft' AND NOT (
        (OLD.status = 'open' AND NEW.status IN ('paid', 'void', 'uncollectible'))
        OR (OLD.status = 'uncollectible' AND NEW.status IN ('paid', 'void'))
    )
    BEGIN
        SELECT RAISE(
            ABORT,
            'billing ledger is append-only: invoice status may only go to paid, void, uncollectible'
        );
    END;
    CREATE TRIGGER invoices_finalized_frozen BEFORE UPDATE ON invoices
    WHEN OLD.status <> 'draft' AND NOT (
        NEW.rowid IS OLD.rowid AND NEW.id IS OLD.id AND NEW.created IS OLD.created
        AND NEW.customer IS OLD.customer AND NEW.subscription IS OLD.subscription
        AND NEW.billing_reason IS OLD.billing_reason AND NEW.number IS OLD.number
        AND NEW.currency IS OLD.currency AND NEW.period_start IS OLD.period_start
        AND NEW.period_end IS OLD.period_end AND NEW.subtotal IS OLD.subtotal
        AND NEW.total IS OLD.total AND NEW.starting_balance IS OLD.starting_balance
        AND NEW.ending_balance IS OLD.ending_balance AND NEW.amount_due IS OLD.amount_due
        AND NEW.computed_at IS OLD.computed_at AND NEW.finalized_at IS OLD.finalized_at
        AND NEW.hash IS OLD.hash
        AND (NEW.paid_at IS OLD.paid_at
             OR (NEW.status = 'paid' AND OLD.paid_at IS NULL))
        AND (NEW.amount_paid IS OLD.amount_paid OR NEW.status = 'paid')
        AND (NEW.voided_at IS OLD.voided_at
             OR (NEW.status = 'void' AND OLD.voided_at IS NULL))
        AND (NEW.marked_uncollectible_at IS OLD.marked_uncollectible_at
             OR (NEW.status = 'uncollectible' AND OLD.marked_uncollectible_at IS NULL))
    )
    BEGIN
        SELECT RAISE(
            ABORT,
            'billing ledger is append-only: a finalized invoice changes only status and its date'
        );
    END;

    CREATE TRIGGER invoice_lines_frozen_insert BEFORE INSERT ON invoice_lines
    WHEN (SELECT status FROM invoices WHERE id = NEW.invoice) <> 'draft'
    BEGIN
        SELECT RAISE(
            ABORT,
            'billing ledger is append-only: the lines of a finalized invoice are frozen'
        );
    END;
    CREATE TRIGGER invoice_lines_frozen_update BEFORE UPDATE ON invoice_lines
    WHEN (SELECT status FROM invoices WHERE id = OLD.invoice) <> 'draft'
        OR (SELECT status FROM invoices WHERE id = NEW.invoice) <> 'draft'
    BEGIN
        SELECT RAISE(
            ABORT,
            'billing ledger is append-only: the lines of a finalized invoice are frozen'
        );
    END;
    CREATE TRIGGER invoice_lines_frozen_delete BEFORE DELETE ON invoice_lines
    WHEN (SELECT status FROM invoices WHERE id = OLD.invoice) <> 'draft'
    BEGIN
        SELECT RAISE(
            ABORT,
            'billing ledger is append-only: the lines of a finalized invoice are frozen'
        );
    END;
    """,
    # 3: the latest receipt time of any event. An invoice counts the events received by its
    # finalization; usage queries read it in O(1) to know whether the hourly roll-ups (which hold
    # every event received so far) can answer, or a later-received event (a back-dated --now)
    # forces an exact scan of the raw events. An index on `received` would cost every insert.
    """
    CREATE TABLE event_watermark (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        max_received INTEGER NOT NULL
    ) STRICT;
    INSERT INTO event_watermark (id, max_received)
        SELECT 1, max(received) FROM meter_events HAVING count(*) > 0;
    """,
    # 4: the invoice chain (tamper evidence for invoices, SPEC 6). Append-only: one row per
    # status an invoice enters after its draft (`open` at finalization, then `paid`, `void`,
    # `uncollectible`), each keeping sha256(previous row's hash + canonical row); the `open` row
    # holds the content hashes of the invoice's header and of each of its lines. An edit of an
    # invoice, a line or a status behind the program's back then disagrees with the chain,
    # which `ledger check` walks. Finalized invoices of an older ledger are entered by
    # `backfill_invoice_chain` (ledger/invoices.py; connection.BACKFILLS runs it) in the same
    # upgrade transaction.
    """
    CREATE TABLE invoice_chain (
        seq INTEGER PRIMARY KEY,
        invoice TEXT NOT NULL REFERENCES invoices(id),
        status TEXT NOT NULL CHECK (status IN ('open', 'paid', 'void', 'uncollectible')),
        at INTEGER NOT NULL,
        amount_paid INTEGER,
        header_hash TEXT,
        line_hashes TEXT,
        hash TEXT NOT NULL,
        UNIQUE (invoice, status)
    ) STRICT;
    CREATE TRIGGER invoice_chain_no_update BEFORE UPDATE ON invoice_chain
    BEGIN
        SELECT RAISE(
            ABORT,
            'billing ledger is append-only: the invoice chain is never updated'
        );
    END;
    CREATE TRIGGER invoice_chain_no_delete BEFORE DELETE ON invoice_chain
    BEGIN
        SELECT RAISE(
            ABORT,
            'billing ledger is append-only: the invoice chain is never deleted from'
        );
    END;
    """,
    # 5: every decimal column as canonical text (`7.5`, `0.0000001`; never `+007.50`, `1E-7`).
    # Rows are rewritten by `canonical.canonicalize_decimals` (connection.BACKFILLS) in the
    # same upgrade transaction; no table changes shape, and every hash chain still verifies.
    """
    -- data only: see storage/sqlite/canonical.py
    """,
    # 6: seller profile, customer address and tax ids, invoice snapshot of seller and buyer
    SELLER_AND_BUYER,
    # 7: tax rates, subscriptions' default tax rates, taxes of invoices and their lines
    TAXES,
    # 8: the seller's IBAN and BIC, a customer's buyer reference (e-invoices); `events` view
    EINVOICE,
    # 9: the catalog chain (tamper evidence for meters, prices, customers, subscriptions, …;
    # domain/catalog_seal.py); `catalog_chain.seal_all` seals the rows of an older ledger
    CATALOG_CHAIN,
    # 10: billing credits (issue 19): grants, the credit chain, lines' and invoices' credits
    CREDITS,
    # 11: idempotency keys of `billing serve` (api/idempotency.py): the status and body of the
    # first request made with a key, replayed for 24 hours, then pruned. Not money, so no
    # trigger: rows are deleted when old.
    """
    CREATE TABLE idempotency_keys (
        key TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        status INTEGER NOT NULL,
        body TEXT NOT NULL,
        created INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX idempotency_keys_created ON idempotency_keys(created);
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
