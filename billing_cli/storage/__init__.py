"""Where the ledger lives: the port api/ depends on, and the backends that speak SQL."""
