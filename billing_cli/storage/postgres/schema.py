"""The PostgreSQL ledger's DDL: ordered migrations recorded in the `billing_schema` table.

The tables, columns, keys and append-only rules are the SQLite ledger's (storage/sqlite/
schema.py), spelled for PostgreSQL: BIGINT for Unix seconds and minor units, NUMERIC for the
decimals (unit prices, quantities, roll-up sums; exact, like the `Decimal`s they hold), and
PL/pgSQL triggers that refuse the same edits with the same messages. Text whose bytes are hashed
(event payloads, `explain`, metadata, tiers) stays TEXT, so a row reads back byte for byte and
a ledger copied between the backends keeps its hash chains. Catalog tables carry a `rowid`
identity column: the SQLite ledger lists objects created in the same second in insertion
order (its implicit rowid), and so must this one.

Migration 1 is the state of SQLite schema 4, 2 of SQLite 7, 3 of 8, 4 of 9, 5 of 10, 6 of 11; later
ones follow SQLite's as features land.
A migration is never edited once released. The DDL of migrations 2 (documents) and 5 (credits)
is in schema_documents.py and schema_credits.py, as SQLite keeps its own.
"""

from __future__ import annotations

from billing_cli.storage.postgres.schema_credits import CREDITS
from billing_cli.storage.postgres.schema_documents import DOCUMENTS

APPLICATION = "billing_cli"

_INVOICE_GUARD = """
CREATE OR REPLACE FUNCTION billing_invoice_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'draft' THEN
            RAISE EXCEPTION USING ERRCODE = 'BL001',
                MESSAGE = 'billing ledger is append-only: a finalized invoice is never deleted';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status = 'draft' THEN
        IF NEW.status NOT IN ('draft', 'open') THEN
            RAISE EXCEPTION USING ERRCODE = 'BL001',
                MESSAGE = 'billing ledger is append-only: a draft invoice only becomes open';
        END IF;
        RETURN NEW;
    END IF;
    IF NOT ((OLD.status = 'open' AND NEW.status IN ('paid', 'void', 'uncollectible'))
            OR (OLD.status = 'uncollectible' AND NEW.status IN ('paid', 'void'))) THEN
        RAISE EXCEPTION USING ERRCODE = 'BL001', MESSAGE =
            'billing ledger is append-only: invoice status may only go to paid, void, '
            'uncollectible';
    END IF;
    IF NOT (NEW.id IS NOT DISTINCT FROM OLD.id
        AND NEW.created IS NOT DISTINCT FROM OLD.created
        AND NEW.customer IS NOT DISTINCT FROM OLD.customer
        AND NEW.subscription IS NOT DISTINCT FROM OLD.subscription
        AND NEW.billing_reason IS NOT DISTINCT FROM OLD.billing_reason
        AND NEW.number IS NOT DISTINCT FROM OLD.number
        AND NEW.currency IS NOT DISTINCT FROM OLD.currency
        AND NEW.period_start IS NOT DISTINCT FROM OLD.period_start
        AND NEW.period_end IS NOT DISTINCT FROM OLD.period_end
        AND NEW.subtotal IS NOT DISTINCT FROM OLD.subtotal
        AND NEW.total IS NOT DISTINCT FROM OLD.total
        AND NEW.starting_balance IS NOT DISTINCT FROM OLD.starting_balance
        AND NEW.ending_balance IS NOT DISTINCT FROM OLD.ending_balance
        AND NEW.amount_due IS NOT DISTINCT FROM OLD.amount_due
        AND NEW.computed_at IS NOT DISTINCT FROM OLD.computed_at
        AND NEW.finalized_at IS NOT DISTINCT FROM OLD.finalized_at
        AND NEW.hash IS NOT DISTINCT FROM OLD.hash{extra}
        AND (NEW.paid_at IS NOT DISTINCT FROM OLD.paid_at
             OR (NEW.status = 'paid' AND OLD.paid_at IS NULL))
        AND (NEW.amount_paid IS NOT DISTINCT FROM OLD.amount_paid OR NEW.status = 'paid')
        AND (NEW.voided_at IS NOT DISTINCT FROM OLD.voided_at
             OR (NEW.status = 'void' AND OLD.voided_at IS NULL))
        AND (NEW.marked_uncollectible_at IS NOT DISTINCT FROM OLD.marked_uncollectible_at
             OR (NEW.status = 'uncollectible' AND OLD.marked_uncollectible_at IS NULL))) THEN
        RAISE EXCEPTION USING ERRCODE = 'BL001', MESSAGE =
            'billing ledger is append-only: a finalized invoice changes only status and its date';
    END IF;
    RETURN NEW;
END $$;
"""

_APPEND_ONLY = """
CREATE FUNCTION billing_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'BL001', MESSAGE = TG_ARGV[0];
END $$;

CREATE TRIGGER meter_events_no_update BEFORE UPDATE ON meter_events FOR EACH ROW
    EXECUTE FUNCTION billing_refuse(
        'billing ledger is append-only: meter events are never updated');
CREATE TRIGGER meter_events_no_delete BEFORE DELETE ON meter_events FOR EACH ROW
    EXECUTE FUNCTION billing_refuse(
        'billing ledger is append-only: meter events are never deleted');
CREATE TRIGGER meter_events_no_truncate BEFORE TRUNCATE ON meter_events
    EXECUTE FUNCTION billing_refuse(
        'billing ledger is append-only: meter events are never deleted');
CREATE TRIGGER meter_event_adjustments_no_update BEFORE UPDATE ON meter_event_adjustments
    FOR EACH ROW EXECUTE FUNCTION billing_refuse(
        'billing ledger is append-only: meter event adjustments are never updated');
CREATE TRIGGER meter_event_adjustments_no_delete BEFORE DELETE ON meter_event_adjustments
    FOR EACH ROW EXECUTE FUNCTION billing_refuse(
        'billing ledger is append-only: meter event adjustments are never deleted');
CREATE TRIGGER meter_event_adjustments_no_truncate BEFORE TRUNCATE ON meter_event_adjustments
    EXECUTE FUNCTION billing_refuse(
        'billing ledger is append-only: meter event adjustments are never deleted');
CREATE TRIGGER invoice_chain_no_update BEFORE UPDATE ON invoice_chain FOR EACH ROW
    EXECUTE FUNCTION billing_refuse(
        'billing ledger is append-only: the invoice chain is never updated');
CREATE TRIGGER invoice_chain_no_delete BEFORE DELETE ON invoice_chain FOR EACH ROW
    EXECUTE FUNCTION billing_refuse(
        'billing ledger is append-only: the invoice chain is never deleted from');
CREATE TRIGGER invoice_chain_no_truncate BEFORE TRUNCATE ON invoice_chain
    EXECUTE FUNCTION billing_refuse(
        'billing ledger is append-only: the invoice chain is never deleted from');

{invoice_guard}CREATE TRIGGER invoices_guard BEFORE UPDATE OR DELETE ON invoices FOR EACH ROW
    EXECUTE FUNCTION billing_invoice_guard();
CREATE TRIGGER invoices_no_truncate BEFORE TRUNCATE ON invoices
    EXECUTE FUNCTION billing_refuse(
        'billing ledger is append-only: a finalized invoice is never deleted');

CREATE FUNCTION billing_invoice_lines_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (TG_OP <> 'INSERT'
        AND (SELECT status FROM invoices WHERE id = OLD.invoice) <> 'draft')
       OR (TG_OP <> 'DELETE'
        AND (SELECT status FROM invoices WHERE id = NEW.invoice) <> 'draft') THEN
        RAISE EXCEPTION USING ERRCODE = 'BL001', MESSAGE =
            'billing ledger is append-only: the lines of a finalized invoice are frozen';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER invoice_lines_guard BEFORE INSERT OR UPDATE OR DELETE ON invoice_lines
    FOR EACH ROW EXECUTE FUNCTION billing_invoice_lines_guard();
CREATE TRIGGER invoice_lines_no_truncate BEFORE TRUNCATE ON invoice_lines
    EXECUTE FUNCTION billing_refuse(
        'billing ledger is append-only: the lines of a finalized invoice are frozen');
"""

MIGRATIONS: list[str] = [
    # 1: SQLite schema 4 (catalog, events, roll-ups, invoices, append-only triggers, event
    # watermark, invoice chain)
    """
    CREATE TABLE meters (
        id TEXT PRIMARY KEY,
        created BIGINT NOT NULL,
        updated BIGINT NOT NULL,
        display_name TEXT NOT NULL,
        event_name TEXT NOT NULL UNIQUE,
        formula TEXT NOT NULL CHECK (formula IN ('sum', 'count', 'last')),
        customer_key TEXT NOT NULL,
        value_key TEXT NOT NULL,
        event_time_window TEXT CHECK (event_time_window IN ('hour', 'day')),
        status TEXT NOT NULL CHECK (status IN ('active', 'inactive')),
        rowid BIGINT GENERATED ALWAYS AS IDENTITY
    );

    CREATE TABLE products (
        id TEXT PRIMARY KEY,
        created BIGINT NOT NULL,
        name TEXT NOT NULL,
        description TEXT,
        unit_label TEXT,
        active INTEGER NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}',
        rowid BIGINT GENERATED ALWAYS AS IDENTITY
    );

    CREATE TABLE prices (
        id TEXT PRIMARY KEY,
        created BIGINT NOT NULL,
        product TEXT NOT NULL REFERENCES products(id),
        currency TEXT NOT NULL,
        nickname TEXT,
        lookup_key TEXT,
        active INTEGER NOT NULL,
        interval TEXT NOT NULL,
        interval_count BIGINT NOT NULL,
        usage_type TEXT NOT NULL CHECK (usage_type IN ('metered', 'licensed')),
        meter TEXT REFERENCES meters(id),
        billing_scheme TEXT NOT NULL CHECK (billing_scheme IN ('per_unit', 'tiered')),
        unit_amount_decimal NUMERIC,
        tiers_mode TEXT,
        tiers TEXT,
        transform_divide_by BIGINT,
        transform_round TEXT,
        metadata TEXT NOT NULL DEFAULT '{}',
        rowid BIGINT GENERATED ALWAYS AS IDENTITY
    );
    CREATE UNIQUE INDEX prices_active_lookup_key ON prices(lookup_key)
        WHERE active = 1 AND lookup_key IS NOT NULL;

    CREATE TABLE customers (
        id TEXT PRIMARY KEY,
        created BIGINT NOT NULL,
        name TEXT,
        email TEXT,
        invoice_prefix TEXT NOT NULL UNIQUE,
        next_invoice_sequence BIGINT NOT NULL DEFAULT 1,
        currency TEXT,
        balance BIGINT NOT NULL DEFAULT 0,
        metadata TEXT NOT NULL DEFAULT '{}',
        rowid BIGINT GENERATED ALWAYS AS IDENTITY
    );

    CREATE TABLE subscriptions (
        id TEXT PRIMARY KEY,
        created BIGINT NOT NULL,
        customer TEXT NOT NULL REFERENCES customers(id),
        status TEXT NOT NULL CHECK (status IN ('trialing', 'active', 'canceled')),
        currency TEXT NOT NULL,
        interval TEXT NOT NULL,
        interval_count BIGINT NOT NULL,
        start_date BIGINT NOT NULL,
        billing_cycle_anchor BIGINT NOT NULL,
        trial_end BIGINT,
        cancel_at_period_end INTEGER NOT NULL DEFAULT 0,
        canceled_at BIGINT,
        ended_at BIGINT,
        metadata TEXT NOT NULL DEFAULT '{}',
        rowid BIGINT GENERATED ALWAYS AS IDENTITY
    );
    CREATE INDEX subscriptions_customer ON subscriptions(customer);

    CREATE TABLE subscription_items (
        id TEXT PRIMARY KEY,
        created BIGINT NOT NULL,
        subscription TEXT NOT NULL REFERENCES subscriptions(id),
        price TEXT NOT NULL REFERENCES prices(id),
        quantity BIGINT,
        rowid BIGINT GENERATED ALWAYS AS IDENTITY,
        UNIQUE (subscription, price)
    );

    CREATE TABLE meter_events (
        seq BIGINT PRIMARY KEY,
        identifier TEXT NOT NULL UNIQUE,
        event_name TEXT NOT NULL,
        meter TEXT NOT NULL,
        customer TEXT NOT NULL,
        timestamp BIGINT NOT NULL,
        value TEXT,
        payload TEXT NOT NULL,
        received BIGINT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('accepted', 'late')),
        hash TEXT NOT NULL
    );
    CREATE INDEX meter_events_usage ON meter_events(meter, customer, timestamp);

    CREATE TABLE meter_event_adjustments (
        seq BIGINT PRIMARY KEY,
        type TEXT NOT NULL CHECK (type IN ('cancel', 'resolve')),
        identifier TEXT NOT NULL REFERENCES meter_events(identifier),
        invoice TEXT,
        created BIGINT NOT NULL,
        hash TEXT NOT NULL,
        UNIQUE (identifier, type)
    );

    CREATE TABLE usage_hourly (
        meter TEXT NOT NULL,
        customer TEXT NOT NULL,
        hour BIGINT NOT NULL,
        count BIGINT NOT NULL,
        sum NUMERIC NOT NULL,
        last_ts BIGINT NOT NULL,
        last_seq BIGINT NOT NULL,
        last_value NUMERIC NOT NULL,
        recv_ts BIGINT NOT NULL,
        recv_seq BIGINT NOT NULL,
        recv_value NUMERIC NOT NULL,
        PRIMARY KEY (meter, customer, hour)
    );

    CREATE TABLE invoices (
        id TEXT PRIMARY KEY,
        created BIGINT NOT NULL,
        customer TEXT NOT NULL REFERENCES customers(id),
        subscription TEXT REFERENCES subscriptions(id),
        status TEXT NOT NULL
            CHECK (status IN ('draft', 'open', 'paid', 'void', 'uncollectible')),
        billing_reason TEXT NOT NULL,
        number TEXT UNIQUE,
        currency TEXT NOT NULL,
        period_start BIGINT NOT NULL,
        period_end BIGINT NOT NULL,
        subtotal BIGINT NOT NULL,
        total BIGINT NOT NULL,
        starting_balance BIGINT NOT NULL DEFAULT 0,
        ending_balance BIGINT,
        amount_due BIGINT NOT NULL,
        amount_paid BIGINT NOT NULL DEFAULT 0,
        computed_at BIGINT NOT NULL,
        finalized_at BIGINT,
        paid_at BIGINT,
        voided_at BIGINT,
        marked_uncollectible_at BIGINT,
        hash TEXT,
        UNIQUE (subscription, period_start, period_end, billing_reason)
    );
    CREATE INDEX invoices_customer ON invoices(customer);

    CREATE TABLE invoice_lines (
        id TEXT PRIMARY KEY,
        invoice TEXT NOT NULL REFERENCES invoices(id),
        position BIGINT NOT NULL,
        type TEXT NOT NULL CHECK (type IN ('subscription', 'late_usage')),
        subscription_item TEXT,
        price TEXT,
        meter TEXT,
        description TEXT NOT NULL,
        period_start BIGINT NOT NULL,
        period_end BIGINT NOT NULL,
        quantity_decimal NUMERIC NOT NULL,
        quantity BIGINT NOT NULL,
        unit_amount_decimal NUMERIC,
        amount BIGINT NOT NULL,
        proration INTEGER NOT NULL DEFAULT 0,
        explain TEXT NOT NULL
    );
    CREATE INDEX invoice_lines_invoice ON invoice_lines(invoice);

    CREATE TABLE event_watermark (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        max_received BIGINT NOT NULL
    );

    CREATE TABLE invoice_chain (
        seq BIGINT PRIMARY KEY,
        invoice TEXT NOT NULL REFERENCES invoices(id),
        status TEXT NOT NULL CHECK (status IN ('open', 'paid', 'void', 'uncollectible')),
        at BIGINT NOT NULL,
        amount_paid BIGINT,
        header_hash TEXT,
        line_hashes TEXT,
        hash TEXT NOT NULL,
        UNIQUE (invoice, status)
    );
    """
    + _APPEND_ONLY.replace("{invoice_guard}", _INVOICE_GUARD.replace("{extra}", "")),
    # 2: SQLite 6 and 7 (SQLite 5 rewrote decimals as canonical text: NUMERIC needs nothing).
    # The seller profile, customer address and tax ids, the invoice's frozen snapshot of seller
    # and buyer; tax rates (never deleted, frozen once an issued invoice used them), the
    # subscriptions' default tax rates, the taxes of invoices and lines.
    DOCUMENTS
    + _INVOICE_GUARD.replace(
        "{extra}",
        "\n        AND NEW.parties IS NOT DISTINCT FROM OLD.parties"
        "\n        AND NEW.total_taxes IS NOT DISTINCT FROM OLD.total_taxes",
    ),
    # 3: SQLite 8: the seller's IBAN and BIC, a customer's buyer reference (e-invoices), and
    # the `events` view for reports
    """
    ALTER TABLE account ADD COLUMN iban TEXT;
    ALTER TABLE account ADD COLUMN bic TEXT;
    ALTER TABLE customers ADD COLUMN buyer_reference TEXT;
    CREATE VIEW events AS SELECT * FROM meter_events;
    """,
    # 4: SQLite 9: the catalog chain (tamper evidence for catalog rows; domain/catalog_seal.py)
    """
    CREATE TABLE catalog_chain (
        seq BIGINT PRIMARY KEY,
        object TEXT NOT NULL,
        key TEXT NOT NULL,
        state TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE INDEX catalog_chain_row ON catalog_chain(object, key, seq);
    -- the chain seals rows in insertion order (SQLite's rowid) on these too
    ALTER TABLE account ADD COLUMN rowid BIGINT GENERATED ALWAYS AS IDENTITY;
    ALTER TABLE subscription_tax_rates ADD COLUMN rowid BIGINT GENERATED ALWAYS AS IDENTITY;
    CREATE TRIGGER catalog_chain_no_update BEFORE UPDATE ON catalog_chain FOR EACH ROW
        EXECUTE FUNCTION billing_refuse(
            'billing ledger is append-only: the catalog chain is never updated');
    CREATE TRIGGER catalog_chain_no_delete BEFORE DELETE ON catalog_chain FOR EACH ROW
        EXECUTE FUNCTION billing_refuse(
            'billing ledger is append-only: the catalog chain is never deleted from');
    CREATE TRIGGER catalog_chain_no_truncate BEFORE TRUNCATE ON catalog_chain
        EXECUTE FUNCTION billing_refuse(
            'billing ledger is append-only: the catalog chain is never deleted from');
    """,
    # 5: SQLite 10: billing credits (credit grants, the credit chain, credits of lines and
    # invoices), append-only like the other chains
    CREDITS
    + _INVOICE_GUARD.replace(
        "{extra}",
        "\n        AND NEW.parties IS NOT DISTINCT FROM OLD.parties"
        "\n        AND NEW.total_taxes IS NOT DISTINCT FROM OLD.total_taxes"
        "\n        AND NEW.credit_seq IS NOT DISTINCT FROM OLD.credit_seq",
    ),
    # 6 (SQLite 11): idempotency keys of `billing serve`, pruned after 24 h; not the books
    """
    CREATE TABLE idempotency_keys (
        key TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        status BIGINT NOT NULL,
        body TEXT NOT NULL,
        created BIGINT NOT NULL
    );
    CREATE INDEX idempotency_keys_created ON idempotency_keys(created);
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
