"""billing_cli: local-first usage-based billing in one SQLite ledger."""

__version__ = "0.1.0"
