"""Migration 2 of the PostgreSQL ledger (SQLite 6 and 7), invoices a business can send: the
seller profile, a customer's address and tax ids, the invoice's frozen snapshot of seller and
buyer, tax rates (never deleted, frozen once an issued invoice used them), subscriptions'
default tax rates, the taxes of invoices and lines; spelled for PostgreSQL as
storage/sqlite/schema_documents.py spells them for SQLite. The invoice guard that freezes the
snapshot and the taxes is appended in schema.py, where the guard is defined.
"""

DOCUMENTS = """
    CREATE TABLE account (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        updated BIGINT NOT NULL,
        business_name TEXT,
        address TEXT,
        tax_id TEXT,
        email TEXT,
        invoice_footer TEXT
    );
    ALTER TABLE customers ADD COLUMN address TEXT;
    ALTER TABLE customers ADD COLUMN tax_ids TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE invoices ADD COLUMN parties TEXT;

    CREATE TABLE tax_rates (
        id TEXT PRIMARY KEY,
        created BIGINT NOT NULL,
        display_name TEXT NOT NULL,
        description TEXT,
        percentage NUMERIC NOT NULL,
        inclusive INTEGER NOT NULL,
        active INTEGER NOT NULL,
        country TEXT,
        jurisdiction TEXT,
        metadata TEXT NOT NULL DEFAULT '{}',
        rowid BIGINT GENERATED ALWAYS AS IDENTITY
    );
    CREATE TRIGGER tax_rates_no_delete BEFORE DELETE ON tax_rates FOR EACH ROW
        EXECUTE FUNCTION billing_refuse(
            'billing ledger is append-only: tax rates are never deleted');
    CREATE FUNCTION billing_tax_rate_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF (NEW.percentage IS DISTINCT FROM OLD.percentage
            OR NEW.inclusive IS DISTINCT FROM OLD.inclusive OR NEW.id IS DISTINCT FROM OLD.id)
           AND EXISTS (
               SELECT 1 FROM invoices i,
                   jsonb_array_elements(i.total_taxes::jsonb) t(value)
               WHERE i.status <> 'draft' AND t.value ->> 'tax_rate' = OLD.id) THEN
            RAISE EXCEPTION USING ERRCODE = 'BL001', MESSAGE =
                'billing ledger is append-only: a tax rate an invoice used keeps its percentage';
        END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER tax_rates_used_frozen BEFORE UPDATE ON tax_rates FOR EACH ROW
        EXECUTE FUNCTION billing_tax_rate_guard();
    CREATE TABLE subscription_tax_rates (
        subscription TEXT NOT NULL REFERENCES subscriptions(id),
        position BIGINT NOT NULL,
        tax_rate TEXT NOT NULL REFERENCES tax_rates(id),
        PRIMARY KEY (subscription, position),
        UNIQUE (subscription, tax_rate)
    );
    ALTER TABLE invoice_lines ADD COLUMN taxes TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE invoices ADD COLUMN total_taxes TEXT NOT NULL DEFAULT '[]';
    """
