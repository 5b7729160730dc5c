"""Migrations of the documents issue (seller, buyer, taxes), kept apart from schema.py so that
file stays readable; schema.MIGRATIONS lists them in order. Never edited once released.
"""

from __future__ import annotations

# The append-only trigger of migration 2 names every frozen column of a finalized invoice; a
# migration that adds one re-creates it with the new column.
_FROZEN_TRIGGER = """
    DROP TRIGGER invoices_finalized_frozen;
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
        AND NEW.hash IS OLD.hash {extra}
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
"""

# The seller profile (one row), the customer's address and tax ids, and the snapshot of seller
# and buyer that an invoice freezes at finalization (`parties`, canonical JSON in Stripe's
# field names; NULL for drafts and for invoices finalized before this migration).
SELLER_AND_BUYER = """
    CREATE TABLE account (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        updated INTEGER NOT NULL,
        business_name TEXT,
        address TEXT,
        tax_id TEXT,
        email TEXT,
        invoice_footer TEXT
    ) STRICT;
    ALTER TABLE customers ADD COLUMN address TEXT;
    ALTER TABLE customers ADD COLUMN tax_ids TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE invoices ADD COLUMN parties TEXT;
    """ + _FROZEN_TRIGGER.format(extra="AND NEW.parties IS OLD.parties")

# Tax rates (Stripe's `tax_rates`; never deleted; percentage and inclusive frozen once an issued
# invoice used the rate), a subscription's `default_tax_rates` in order, and the taxes of each
# invoice line and invoice (canonical JSON; '[]' without tax, and for older invoices).
TAXES = """
    CREATE TABLE tax_rates (
        id TEXT PRIMARY KEY,
        created INTEGER NOT NULL,
        display_name TEXT NOT NULL,
        description TEXT,
        percentage TEXT NOT NULL,
        inclusive INTEGER NOT NULL,
        active INTEGER NOT NULL,
        country TEXT,
        jurisdiction TEXT,
        metadata TEXT NOT NULL DEFAULT '{}'
    ) STRICT;
    CREATE TRIGGER tax_rates_no_delete BEFORE DELETE ON tax_rates
    BEGIN
        SELECT RAISE(ABORT, 'billing ledger is append-only: tax rates are never deleted');
    END;
    CREATE TRIGGER tax_rates_used_frozen BEFORE UPDATE ON tax_rates
    WHEN (NEW.percentage IS NOT OLD.percentage OR NEW.inclusive IS NOT OLD.inclusive
          OR NEW.id IS NOT OLD.id)
        AND EXISTS (
            SELECT 1 FROM invoices i, json_each(i.total_taxes) t
            WHERE i.status <> 'draft' AND json_extract(t.value, '$.tax_rate') = OLD.id
        )
    BEGIN
        SELECT RAISE(
            ABORT,
            'billing ledger is append-only: a tax rate an invoice used keeps its percentage'
        );
    END;
    CREATE TABLE subscription_tax_rates (
        subscription TEXT NOT NULL REFERENCES subscriptions(id),
        position INTEGER NOT NULL,
        tax_rate TEXT NOT NULL REFERENCES tax_rates(id),
        PRIMARY KEY (subscription, position),
        UNIQUE (subscription, tax_rate)
    ) STRICT;
    ALTER TABLE invoice_lines ADD COLUMN taxes TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE invoices ADD COLUMN total_taxes TEXT NOT NULL DEFAULT '[]';
    """ + _FROZEN_TRIGGER.format(
    extra="AND NEW.parties IS OLD.parties AND NEW.total_taxes IS OLD.total_taxes"
)

# What EN 16931 e-invoices need beyond a printed invoice: the seller's bank account (BG-17)
# and the buyer reference (BT-10, the Leitweg-ID of German public buyers). And `events`, a
# read-only view of `meter_events` under the name an accountant's report asks for.
EINVOICE = """
    ALTER TABLE account ADD COLUMN iban TEXT;
    ALTER TABLE account ADD COLUMN bic TEXT;
    ALTER TABLE customers ADD COLUMN buyer_reference TEXT;
    CREATE VIEW events AS SELECT * FROM meter_events;
"""
