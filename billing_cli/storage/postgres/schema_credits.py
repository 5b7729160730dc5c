"""Migration 5 of the PostgreSQL ledger (SQLite 10), billing credits: Stripe's credit grants
and credit balance transactions, spelled for PostgreSQL as storage/sqlite/schema_credits.py
spells them for SQLite. Both append-only (a grant is never edited; every transaction is a link
of the credit chain), refused by the same triggers with the same messages; invoice lines get
the credits that paid them, invoices their place in the credit chain. The invoice guard that
freezes `credit_seq` is appended in schema.py, where the guard is defined.
"""

CREDITS = """
    CREATE TABLE credit_grants (
        id TEXT PRIMARY KEY,
        created BIGINT NOT NULL,
        customer TEXT NOT NULL REFERENCES customers(id),
        currency TEXT NOT NULL,
        value BIGINT NOT NULL CHECK (value > 0),
        category TEXT NOT NULL CHECK (category IN ('paid', 'promotional')),
        priority BIGINT NOT NULL CHECK (priority BETWEEN 0 AND 100),
        effective_at BIGINT NOT NULL,
        expires_at BIGINT CHECK (expires_at IS NULL OR expires_at > effective_at),
        prices TEXT NOT NULL DEFAULT '[]',
        name TEXT,
        metadata TEXT NOT NULL DEFAULT '{}',
        rowid BIGINT GENERATED ALWAYS AS IDENTITY
    );
    CREATE INDEX credit_grants_customer ON credit_grants(customer);
    CREATE TABLE credit_balance_transactions (
        seq BIGINT PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        created BIGINT NOT NULL,
        effective_at BIGINT NOT NULL,
        credit_grant TEXT NOT NULL REFERENCES credit_grants(id),
        customer TEXT NOT NULL REFERENCES customers(id),
        currency TEXT NOT NULL,
        type TEXT NOT NULL CHECK (type IN ('credit', 'debit')),
        reason TEXT NOT NULL CHECK (
            (type = 'credit'
             AND reason IN ('credits_granted', 'credits_application_invoice_voided'))
            OR (type = 'debit'
                AND reason IN ('credits_applied', 'credits_expired', 'credits_voided'))
        ),
        amount BIGINT NOT NULL CHECK (amount >= 0),
        invoice TEXT REFERENCES invoices(id),
        invoice_line_item TEXT,
        grant_hash TEXT,
        hash TEXT NOT NULL
    );
    CREATE INDEX credit_balance_transactions_grant ON credit_balance_transactions(credit_grant);
    CREATE INDEX credit_balance_transactions_customer ON credit_balance_transactions(customer);
    CREATE TRIGGER credit_grants_no_update BEFORE UPDATE ON credit_grants FOR EACH ROW
        EXECUTE FUNCTION billing_refuse(
            'billing ledger is append-only: credit grants are never updated');
    CREATE TRIGGER credit_grants_no_delete BEFORE DELETE ON credit_grants FOR EACH ROW
        EXECUTE FUNCTION billing_refuse(
            'billing ledger is append-only: credit grants are never deleted');
    CREATE TRIGGER credit_balance_transactions_no_update
        BEFORE UPDATE ON credit_balance_transactions FOR EACH ROW
        EXECUTE FUNCTION billing_refuse(
            'billing ledger is append-only: credit balance transactions are never updated');
    CREATE TRIGGER credit_balance_transactions_no_delete
        BEFORE DELETE ON credit_balance_transactions FOR EACH ROW
        EXECUTE FUNCTION billing_refuse(
            'billing ledger is append-only: credit balance transactions are never deleted');
    CREATE FUNCTION billing_credit_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.type = 'debit' AND NEW.amount > (
            SELECT coalesce(sum(CASE type WHEN 'credit' THEN amount ELSE -amount END), 0)
            FROM credit_balance_transactions WHERE credit_grant = NEW.credit_grant) THEN
            RAISE EXCEPTION USING ERRCODE = 'BL001',
                MESSAGE = 'billing ledger: a debit would take a credit grant below zero';
        END IF;
        RETURN NEW;
    END $$;
    CREATE TRIGGER credit_balance_never_negative BEFORE INSERT ON credit_balance_transactions
        FOR EACH ROW EXECUTE FUNCTION billing_credit_guard();
    ALTER TABLE invoice_lines ADD COLUMN pretax_credit_amounts TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE invoices ADD COLUMN credit_seq BIGINT;
    """
