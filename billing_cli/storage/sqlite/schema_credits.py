"""Migration 10, billing credits (issue 19): Stripe's credit grants and credit balance
transactions.

Both append-only: a grant is never edited (expiring and voiding it are transactions), and every
transaction is a link of the credit chain (sha256 of the previous row's hash + the canonical
row; a grant's `credits_granted` row holds the grant's content hash). A debit can never take a
grant below zero, whatever process writes it. Invoice lines get the credits that paid them
(JSON `[[grant, amount, transaction], …]`), invoices the place in the credit chain where they
were finalized.
"""

CREDITS = """
    CREATE TABLE credit_grants (
        id TEXT PRIMARY KEY,
        created INTEGER NOT NULL,
        customer TEXT NOT NULL REFERENCES customers(id),
        currency TEXT NOT NULL,
        value INTEGER NOT NULL CHECK (value > 0),
        category TEXT NOT NULL CHECK (category IN ('paid', 'promotional')),
        priority INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 100),
        effective_at INTEGER NOT NULL,
        expires_at INTEGER CHECK (expires_at IS NULL OR expires_at > effective_at),
        prices TEXT NOT NULL DEFAULT '[]',
        name TEXT,
        metadata TEXT NOT NULL DEFAULT '{}'
    ) STRICT;
    CREATE INDEX credit_grants_customer ON credit_grants(customer);

    CREATE TABLE credit_balance_transactions (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        created INTEGER NOT NULL,
        effective_at INTEGER NOT NULL,
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
        amount INTEGER NOT NULL CHECK (amount >= 0),
        invoice TEXT REFERENCES invoices(id),
        invoice_line_item TEXT,
        grant_hash TEXT,
        hash TEXT NOT NULL
    ) STRICT;
    CREATE INDEX credit_balance_transactions_grant
        ON credit_balance_transactions(credit_grant);
    CREATE INDEX credit_balance_transactions_customer
        ON credit_balance_transactions(customer);

    CREATE TRIGGER credit_grants_no_update BEFORE UPDATE ON credit_grants
    BEGIN
        SELECT RAISE(
            ABORT,
            'billing ledger is append-only: credit grants are never updated'
        );
    END;
    CREATE TRIGGER credit_grants_no_delete BEFORE DELETE ON credit_grants
    BEGIN
        SELECT RAISE(
            ABORT,
            'billing ledger is append-only: credit grants are never deleted'
        );
    END;
    CREATE TRIGGER credit_balance_transactions_no_update
    BEFORE UPDATE ON credit_balance_transactions
    BEGIN
        SELECT RAISE(
            ABORT,
            'billing ledger is append-only: credit balance transactions are never updated'
        );
    END;
    CREATE TRIGGER credit_balance_transactions_no_delete
    BEFORE DELETE ON credit_balance_transactions
    BEGIN
        SELECT RAISE(
            ABORT,
            'billing ledger is append-only: credit balance transactions are never deleted'
        );
    END;
    CREATE TRIGGER credit_balance_never_negative
    BEFORE INSERT ON credit_balance_transactions
    WHEN NEW.type = 'debit' AND NEW.amount > (
        SELECT coalesce(sum(CASE type WHEN 'credit' THEN amount ELSE -amount END), 0)
        FROM credit_balance_transactions WHERE credit_grant = NEW.credit_grant
    )
    BEGIN
        SELECT RAISE(
            ABORT,
            'billing ledger: a debit would take a credit grant below zero'
        );
    END;

    ALTER TABLE invoice_lines ADD COLUMN pretax_credit_amounts TEXT NOT NULL DEFAULT '[]';

    -- Where in the credit chain an invoice was finalized (the chain's last seq then): the
    -- grants as they stood for it, which `ledger check` replays. Set once, before finalizing.
    ALTER TABLE invoices ADD COLUMN credit_seq INTEGER;
    CREATE TRIGGER invoices_credit_seq_frozen BEFORE UPDATE OF credit_seq ON invoices
    WHEN OLD.status <> 'draft' AND NEW.credit_seq IS NOT OLD.credit_seq
    BEGIN
        SELECT RAISE(
            ABORT,
            'billing ledger is append-only: a finalized invoice changes only status and its date'
        );
    END;
    """
